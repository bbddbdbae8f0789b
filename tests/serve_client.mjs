// The official openai npm client against `llm serve`: a chat, a streamed chat, a model list.
//   node tests/serve_client.mjs BASE_URL API_KEY MODULE_DIR
// Prints one "ok NAME" or "FAIL NAME: why" line per check; exits 0 when all passed.
import { createRequire } from 'node:module';
import path from 'node:path';

const [base, key, moduleDir] = process.argv.slice(2);
const require = createRequire(path.resolve(moduleDir, 'package.json'));
const { OpenAI } = require('openai');
const client = new OpenAI({ baseURL: base, apiKey: key, maxRetries: 0, timeout: 20000 });
let failed = 0;
const check = (name, cond, why) => {
  if (cond) console.log(`ok ${name}`);
  else { failed++; console.log(`FAIL ${name}: ${why}`); }
};

try {
  const models = await client.models.list();
  const ids = [];
  for await (const m of models) ids.push(m.id);
  check('openai models.list', ids.length === 1 && ids[0] === 'stories260K', JSON.stringify(ids));

  const msgs = [{ role: 'system', content: 'You tell stories.' }, { role: 'user', content: 'Once upon a time' }];
  const chat = await client.chat.completions.create({ model: ids[0], messages: msgs, max_tokens: 24, temperature: 0, seed: 1 });
  const text = chat.choices[0].message.content;
  check('openai chat', chat.object === 'chat.completion' && typeof text === 'string' && text.length > 0 &&
        chat.usage.completion_tokens > 0 && chat.usage.total_tokens === chat.usage.prompt_tokens + chat.usage.completion_tokens &&
        ['stop', 'length'].includes(chat.choices[0].finish_reason), JSON.stringify(chat));

  const stream = await client.chat.completions.create({ model: ids[0], messages: msgs, max_tokens: 24, temperature: 0, seed: 1, stream: true });
  let streamed = '', chunks = 0, finish = null;
  for await (const c of stream) {
    chunks++;
    streamed += c.choices[0]?.delta?.content ?? '';
    if (c.choices[0]?.finish_reason) finish = c.choices[0].finish_reason;
  }
  check('openai streamed chat', chunks > 2 && streamed === text && finish === chat.choices[0].finish_reason,
        `${chunks} chunks, ${JSON.stringify(streamed)} vs ${JSON.stringify(text)}, finish ${finish}`);

  let status = 0;
  try {
    await new OpenAI({ baseURL: base, apiKey: 'wrong', maxRetries: 0 }).models.list();
  } catch (e) { status = e.status; }
  check('openai wrong key is 401', status === 401, `status ${status}`);
} catch (e) {
  failed++;
  console.log(`FAIL openai client: ${e}`);
}
process.exit(failed ? 1 : 0);
