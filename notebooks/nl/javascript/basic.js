// translation of notebooks/javascript/basic.js, source hash 82916f2a411b
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
        { role:"system", content: "Je bent een behulpzame assistent." },
        { role:"user", content: "Wat is de hoofdstad van Frankrijk?" }
      ],
      model: modelName,
      temperature: 1.,
      max_tokens: 1000,
      top_p: 1.
    }
  });

  // Deze client geeft de HTTP-status als string, dus "200", niet 200.
  if (response.status !== "200") {
    throw response.body.error;
  }
  console.log(response.body.choices[0].message.content);
}

main().catch((err) => {
  console.error("Het voorbeeld liep tegen een fout aan:", err);
  process.exitCode = 1;
});
