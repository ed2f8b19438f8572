// translation of notebooks/javascript/streaming.js, source hash 7193d70a0479
import ModelClient from "@azure-rest/ai-inference";
import { AzureKeyCredential } from "@azure/core-auth";
import { createSseStream } from "@azure/core-sse";
import { clientOptions, readSettings } from "./settings.js";

// Endpoint, sleutel en model komen uit de omgeving (connect() in het notebook exporteert ze).
const { endpoint, token, modelName } = readSettings();

export async function main() {

  const client = new ModelClient(endpoint, new AzureKeyCredential(token), clientOptions(endpoint));

  const response = await client.path("/chat/completions").post({
    body: {
      messages: [
        { role: "system", content: "Je bent een behulpzame assistent." },
        { role: "user", content: "Geef me 5 goede redenen waarom ik elke dag zou moeten bewegen." },
      ],
      model: modelName,
      stream: true
    }
  }).asNodeStream();

  const stream = response.body;
  if (!stream) {
    throw new Error("De stream van het antwoord is undefined");
  }

  // Deze client geeft de HTTP-status als string, dus "200", niet 200.
  if (response.status !== "200") {
    stream.destroy();
    throw new Error(`Chat completions ophalen mislukt: de HTTP-operatie mislukte met code ${response.status}`);
  }

  const sseStream = createSseStream(stream);

  for await (const event of sseStream) {
    if (event.data === "[DONE]") {
      process.stdout.write("\n");  // sluit de laatste regel van het antwoord af, zodat de shellprompt op een eigen regel begint
      return;
    }
    for (const choice of (JSON.parse(event.data)).choices) {
        process.stdout.write(choice.delta?.content ?? ``);
    }
  }
}

main().catch((err) => {
  console.error("Het voorbeeld liep tegen een fout aan:", err);
  process.exitCode = 1;
});
