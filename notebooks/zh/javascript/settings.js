// translation of notebooks/javascript/settings.js, source hash 7f1f8ec40d30
/**
 * 示例把请求发往哪里：从环境变量中读取。
 *
 * 笔记本中的 connect() 会导出 CHAT_ENDPOINT_URL、CHAT_API_KEY 和 CHAT_MODEL_ID，
 * 从这个笔记本启动的 Node 进程会继承它们。在终端里，请自己设置这些变量。
 * 密钥从不写入任何文件。
 */

const VARIABLES = ["CHAT_ENDPOINT_URL", "CHAT_API_KEY", "CHAT_MODEL_ID"];

// 指向本机的主机名：发往它们的请求从不经过网络。
const LOOPBACK_HOSTS = new Set(["127.0.0.1", "localhost", "[::1]"]);

function stop(message) {
  console.error(message);
  process.exit(2);
}

/** 返回端点、密钥和模型名称；缺少其中任何一个时，给出清楚的提示并退出。 */
export function readSettings() {
  const missing = VARIABLES.filter((name) => !process.env[name]?.trim());
  if (missing.length > 0) {
    stop(`${missing.join(", ")} 未设置：请先在笔记本中运行 connect()，` +
         `或者在 shell 中设置 ${VARIABLES.join(", ")}。`);
  }
  const endpoint = process.env["CHAT_ENDPOINT_URL"].trim().replace(/\/+$/, "");
  let url;
  try {
    url = new URL(endpoint);
  } catch {
    stop(`CHAT_ENDPOINT_URL 不是一个 URL（${endpoint}）；它应该形如 https://host/path。`);
  }
  if (url.protocol === "http:" && !LOOPBACK_HOSTS.has(url.hostname)) {
    stop(`CHAT_ENDPOINT_URL 是 ${endpoint}：用纯 http:// 连接另一台机器，会让你的密钥` +
         `未经加密就在网络上传输。请使用它的 https:// 地址，或者通过 localhost 访问它` +
         `（例如借助 SSH 隧道）。`);
  }
  return {
    endpoint,
    token: process.env["CHAT_API_KEY"].trim(),
    modelName: process.env["CHAT_MODEL_ID"].trim(),
  };
}

/**
 * new ModelClient(...) 的选项。除非设置了 allowInsecureConnection: true，客户端会拒绝纯 http://，
 * 因为经由 http 传输的密钥没有加密。只有当服务器就在本机上时（离线端点、Ollama、Foundry Local、
 * llama-server），这样做才是安全的，所以这个选项只为回环地址上的 http:// 端点设置，
 * 别的一概不设。
 */
export function clientOptions(endpoint) {
  const url = new URL(endpoint);
  const loopback = url.protocol === "http:" && LOOPBACK_HOSTS.has(url.hostname);
  return loopback ? { allowInsecureConnection: true } : {};
}
