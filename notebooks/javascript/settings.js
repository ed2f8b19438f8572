/**
 * Where the samples send their requests, read from the environment.
 *
 * connect() in a notebook exports CHAT_ENDPOINT_URL, CHAT_API_KEY and CHAT_MODEL_ID, and Node
 * processes started from that notebook inherit them. In a terminal, set them yourself. The key
 * is never written into a file.
 */

const VARIABLES = ["CHAT_ENDPOINT_URL", "CHAT_API_KEY", "CHAT_MODEL_ID"];

// Hosts that are this machine: requests to them never cross a network.
const LOOPBACK_HOSTS = new Set(["127.0.0.1", "localhost", "[::1]"]);

function stop(message) {
  console.error(message);
  process.exit(2);
}

/** The endpoint, key and model name, or a clear message and exit when one is missing. */
export function readSettings() {
  const missing = VARIABLES.filter((name) => !process.env[name]?.trim());
  if (missing.length > 0) {
    stop(`${missing.join(", ")} not set: run connect() in the notebook first, ` +
         `or set ${VARIABLES.join(", ")} in your shell.`);
  }
  const endpoint = process.env["CHAT_ENDPOINT_URL"].trim().replace(/\/+$/, "");
  let url;
  try {
    url = new URL(endpoint);
  } catch {
    stop(`CHAT_ENDPOINT_URL is not a URL (${endpoint}); it should look like https://host/path.`);
  }
  if (url.protocol === "http:" && !LOOPBACK_HOSTS.has(url.hostname)) {
    stop(`CHAT_ENDPOINT_URL is ${endpoint}: plain http:// to another machine would send your key ` +
         `unencrypted across the network. Use its https:// address, or reach it through localhost ` +
         `(for example an SSH tunnel).`);
  }
  return {
    endpoint,
    token: process.env["CHAT_API_KEY"].trim(),
    modelName: process.env["CHAT_MODEL_ID"].trim(),
  };
}

/**
 * Options for new ModelClient(...). The client refuses plain http:// unless told
 * allowInsecureConnection: true, because the key travels unencrypted over http. That is safe
 * only when the server is on this machine (the offline endpoint, Ollama, Foundry Local,
 * llama-server), so the option is set for loopback http:// endpoints and nothing else.
 */
export function clientOptions(endpoint) {
  const url = new URL(endpoint);
  const loopback = url.protocol === "http:" && LOOPBACK_HOSTS.has(url.hostname);
  return loopback ? { allowInsecureConnection: true } : {};
}
