// translation of notebooks/javascript/settings.js, source hash 7f1f8ec40d30
/**
 * Waar de voorbeelden hun verzoeken heen sturen, gelezen uit de omgeving.
 *
 * connect() in een notebook exporteert CHAT_ENDPOINT_URL, CHAT_API_KEY en CHAT_MODEL_ID, en
 * Node-processen die vanuit dat notebook starten, erven ze. Stel ze in een terminal zelf in. De
 * sleutel wordt nooit in een bestand geschreven.
 */

const VARIABLES = ["CHAT_ENDPOINT_URL", "CHAT_API_KEY", "CHAT_MODEL_ID"];

// Hosts die deze machine zijn: verzoeken ernaartoe gaan nooit over een netwerk.
const LOOPBACK_HOSTS = new Set(["127.0.0.1", "localhost", "[::1]"]);

function stop(message) {
  console.error(message);
  process.exit(2);
}

/** Het endpoint, de sleutel en de modelnaam, of een duidelijke melding en stoppen als er een ontbreekt. */
export function readSettings() {
  const missing = VARIABLES.filter((name) => !process.env[name]?.trim());
  if (missing.length > 0) {
    stop(`${missing.join(", ")} niet ingesteld: voer eerst connect() uit in het notebook, ` +
         `of stel ${VARIABLES.join(", ")} in je shell in.`);
  }
  const endpoint = process.env["CHAT_ENDPOINT_URL"].trim().replace(/\/+$/, "");
  let url;
  try {
    url = new URL(endpoint);
  } catch {
    stop(`CHAT_ENDPOINT_URL is geen URL (${endpoint}); hij moet eruitzien als https://host/pad.`);
  }
  if (url.protocol === "http:" && !LOOPBACK_HOSTS.has(url.hostname)) {
    stop(`CHAT_ENDPOINT_URL is ${endpoint}: gewone http:// naar een andere machine zou je sleutel ` +
         `onversleuteld over het netwerk sturen. Gebruik het https://-adres, of bereik de server via ` +
         `localhost (bijvoorbeeld met een SSH-tunnel).`);
  }
  return {
    endpoint,
    token: process.env["CHAT_API_KEY"].trim(),
    modelName: process.env["CHAT_MODEL_ID"].trim(),
  };
}

/**
 * Opties voor new ModelClient(...). De client weigert gewone http://, tenzij hij
 * allowInsecureConnection: true krijgt, want over http gaat de sleutel onversleuteld. Dat is alleen
 * veilig als de server op deze machine staat (het offline endpoint, Ollama, Foundry Local,
 * llama-server), dus de optie wordt gezet voor loopback-endpoints met http:// en verder nergens.
 */
export function clientOptions(endpoint) {
  const url = new URL(endpoint);
  const loopback = url.protocol === "http:" && LOOPBACK_HOSTS.has(url.hostname);
  return loopback ? { allowInsecureConnection: true } : {};
}
