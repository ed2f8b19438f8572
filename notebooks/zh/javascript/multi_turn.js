// translation of notebooks/javascript/multi_turn.js, source hash dc4474e42fe9
import ModelClient from "@azure-rest/ai-inference";
import { AzureKeyCredential } from "@azure/core-auth";
import { clientOptions, readSettings } from "./settings.js";

// 端点、密钥和模型来自环境变量（由笔记本中的 connect() 导出）。
const { endpoint, token, modelName } = readSettings();

export async function main() {

  const client = new ModelClient(endpoint, new AzureKeyCredential(token), clientOptions(endpoint));

  const response = await client.path("/chat/completions").post({
    body: {
      messages: [
        { role: "system", content: "你是一个乐于助人的助手。" },
        { role: "user", content: "法国的首都是哪里？" },
        { role: "assistant", content: "法国的首都是巴黎。" },
        { role: "user", content: "西班牙呢？" },
      ],
      model: modelName,
    }
  });

  // 这个客户端把 HTTP 状态码作为字符串给出，所以是 "200"，而不是 200。
  if (response.status !== "200") {
    throw response.body.error;
  }

  for (const choice of response.body.choices) {
    console.log(choice.message.content);
  }
}

main().catch((err) => {
  console.error("示例运行出错：", err);
  process.exitCode = 1;
});
