// translation of notebooks/javascript/basic.js, source hash 82916f2a411b
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
        { role:"system", content: "你是一个乐于助人的助手。" },
        { role:"user", content: "法国的首都是哪里？" }
      ],
      model: modelName,
      temperature: 1.,
      max_tokens: 1000,
      top_p: 1.
    }
  });

  // 这个客户端把 HTTP 状态码作为字符串给出，所以是 "200"，而不是 200。
  if (response.status !== "200") {
    throw response.body.error;
  }
  console.log(response.body.choices[0].message.content);
}

main().catch((err) => {
  console.error("示例运行出错：", err);
  process.exitCode = 1;
});
