// translation of notebooks/javascript/streaming.js, source hash 7193d70a0479
import ModelClient from "@azure-rest/ai-inference";
import { AzureKeyCredential } from "@azure/core-auth";
import { createSseStream } from "@azure/core-sse";
import { clientOptions, readSettings } from "./settings.js";

// 端点、密钥和模型来自环境变量（由笔记本中的 connect() 导出）。
const { endpoint, token, modelName } = readSettings();

export async function main() {

  const client = new ModelClient(endpoint, new AzureKeyCredential(token), clientOptions(endpoint));

  const response = await client.path("/chat/completions").post({
    body: {
      messages: [
        { role: "system", content: "你是一个乐于助人的助手。" },
        { role: "user", content: "给我5个每天锻炼的好理由。" },
      ],
      model: modelName,
      stream: true
    }
  }).asNodeStream();

  const stream = response.body;
  if (!stream) {
    throw new Error("响应流未定义");
  }

  // 这个客户端把 HTTP 状态码作为字符串给出，所以是 "200"，而不是 200。
  if (response.status !== "200") {
    stream.destroy();
    throw new Error(`获取聊天补全失败，HTTP 操作返回了状态码 ${response.status}`);
  }

  const sseStream = createSseStream(stream);

  for await (const event of sseStream) {
    if (event.data === "[DONE]") {
      process.stdout.write("\n");  // 结束回答的最后一行，让 shell 提示符从新的一行开始
      return;
    }
    for (const choice of (JSON.parse(event.data)).choices) {
        process.stdout.write(choice.delta?.content ?? ``);
    }
  }
}

main().catch((err) => {
  console.error("示例运行出错：", err);
  process.exitCode = 1;
});
