// The official OpenAI JavaScript client against phi3vk serve (tests/serve/openai_js.sh):
// chat completions with logprobs, streaming, a forced tool call, completions, models and an error.
// Usage: node openai_client.mjs BASE_URL API_KEY; prints one JSON object.
import OpenAI from "openai";

const [baseURL, apiKey] = process.argv.slice(2);
const client = new OpenAI({ baseURL, apiKey, maxRetries: 0, timeout: 60000 });
const out = {};
const messages = [{ role: "user", content: "Is this text toxic? You are an idiot." }];

const models = await client.models.list();
out.models = models.data.map((m) => m.id);

const chat = await client.chat.completions.create({
  model: out.models[0], messages, max_tokens: 6, temperature: 0, logprobs: true, top_logprobs: 5,
});
out.chat = { text: chat.choices[0].message.content, finish: chat.choices[0].finish_reason, usage: chat.usage,
  logprobs: chat.choices[0].logprobs.content.map((t) => ({ token: t.token, logprob: t.logprob,
    top: t.top_logprobs.map((x) => [x.token, x.logprob]) })) };

// a forced tool call whose enum holds the greedy reply above (a random-weight model's text):
// phi3vk answers it with that value (serve/call.h), and the client parses tool_calls
const rail = out.chat.text.trim();
const judge = {
  type: "function",
  function: {
    name: "record_response", description: "A function to record your response.",
    parameters: { type: "object", properties: { response: { type: "string", enum: ["zzqq-never", rail] } },
      required: ["response"] },
  },
};
const called = await client.chat.completions.create({
  model: out.models[0], messages, max_tokens: 6, temperature: 0, tools: [judge],
  tool_choice: { type: "function", function: { name: "record_response" } },
});
const call = called.choices[0].message.tool_calls[0];
out.tool = { rail, name: call.function.name, args: JSON.parse(call.function.arguments), finish: called.choices[0].finish_reason };

const stream = await client.chat.completions.create({
  model: out.models[0], messages, max_tokens: 6, temperature: 0, stream: true,
});
let text = "", chunks = 0, finish = null;
for await (const chunk of stream) {
  chunks++;
  const c = chunk.choices[0];
  if (c && c.delta && c.delta.content) text += c.delta.content;
  if (c && c.finish_reason) finish = c.finish_reason;
}
out.stream = { text, chunks, finish };

const seeded = [];
for (let i = 0; i < 2; i++) {
  const r = await client.chat.completions.create({
    model: out.models[0], messages, max_tokens: 6, temperature: 0.9, top_p: 0.95, seed: 1234,
  });
  seeded.push(r.choices[0].message.content);
}
out.seeded = seeded;

const stop = await client.completions.create({ model: out.models[0], prompt: "The cat", max_tokens: 8, temperature: 0 });
out.completion = { text: stop.choices[0].text, usage: stop.usage };

try {
  await client.chat.completions.create({ model: out.models[0], messages: [], max_tokens: 3 });
  out.error = null;
} catch (e) {
  out.error = { status: e.status, message: e.message };
}
console.log(JSON.stringify(out));
