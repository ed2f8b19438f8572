// translation of notebooks/javascript/multi_turn.js, source hash dc4474e42fe9
import ModelClient from "@azure-rest/ai-inference";
import { AzureKeyCredential } from "@azure/core-auth";
import { clientOptions, readSettings } from "./settings.js";

// Endpoint, sleutel en model komen uit de omgeving (connect() in het notebook exporteert ze).
const { endpoint, token, modelName } = readSettings();

export async function main() {

  const client = new ModelClient(endpoint, new AzureKeyCredential(token), clientOptions(endpoint));

  const response = await client.path("/chat/completions").post({
    body: {
      messages: [
        { role: "system", content: "Je bent een behulpzame assistent." },
        { role: "user", content: "Wat is de hoofdstad van Frankrijk?" },
        { role: "assistant", content: "De hoofdstad van Frankrijk is Parijs." },
        { role: "user", content: "En Spanje?" },
      ],
      model: modelName,
    }
  });

  // Deze client geeft de HTTP-status als string, dus "200", niet 200.
  if (response.status !== "200") {
    throw response.body.error;
  }

  for (const choice of response.body.choices) {
    console.log(choice.message.content);
  }
}

main().catch((err) => {
  console.error("Het voorbeeld liep tegen een fout aan:", err);
  process.exitCode = 1;
});
