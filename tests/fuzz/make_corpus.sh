#!/usr/bin/env bash
# Seed corpora for the fuzz harnesses, from ../shared and `build/llm synth`, into
# build/fuzz/corpus/<harness>/ (not committed). Usage: tests/fuzz/make_corpus.sh [OUT_DIR]
# Needs build/llm (make build/llm) and python3. Deterministic: the same files every run.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
out=${1:-build/fuzz/corpus}
shared=${LLM_SHARED:-../shared}
rm -rf "$out"
mkdir -p "$out"/{gguf,gguf_file,tokenize,detokenize,chat,decode,http}

# gguf: tiny synthetic models (every architecture, several types), the shared invalid files,
# and the first 4 KiB of the shared vocabularies (metadata only: truncated files)
shape=embedding_length=32,block_count=1,attention.head_count=2,attention.head_count_kv=1,feed_forward_length=32,vocab_size=260,context_length=32
for arch in llama qwen2 qwen3 gemma gemma2 gemma3 phi3; do
    for type in f32 q8_0 f16; do
        build/llm synth --arch "$arch" --shape "$shape" --type "$type" -o "$out/gguf/synth-$arch-$type.gguf" 2>/dev/null
    done
done
build/llm synth --arch qwen3moe --shape "$shape,expert_count=4,expert_used_count=2" -o "$out/gguf/synth-qwen3moe.gguf" 2>/dev/null
build/llm synth --arch llama --shape "$shape,tied=1" --type q4_0 -o "$out/gguf/synth-llama-tied-q4_0.gguf" 2>/dev/null
cp "$shared"/models/invalid/gguf-v1.gguf "$out/gguf/"
for f in "$shared"/models/llama.cpp-vocab/*.gguf; do
    head -c 4096 "$f" > "$out/gguf/head-$(basename "$f")"
done
cp "$out"/gguf/synth-llama-q8_0.gguf "$out"/gguf/synth-gemma-f32.gguf "$out"/gguf/gguf-v1.gguf "$out/gguf_file/"

# tokenize / detokenize: selector byte (vocabulary index) + each line of the llama.cpp test
# inputs; the expected ids as int32 for detokenize
python3 - "$shared" "$out" <<'PY'
import os, struct, sys
shared, out = sys.argv[1], sys.argv[2]
tok_vocabs = ["stories260K", "gpt-2", "llama-bpe", "qwen2", "bert-bge", "llama-spm"]
det_vocabs = ["stories260K", "gpt-2", "llama-bpe", "qwen2", "bert-bge"]
voc = os.path.join(shared, "models", "llama.cpp-vocab")
inp = open(os.path.join(voc, "ggml-vocab-gpt-2.gguf.inp"), "rb").read().split(b"\n__ggml_vocab_test__\n")
for i, name in enumerate(tok_vocabs):
    for j, text in enumerate(inp):
        if j % len(tok_vocabs) == i or j < 4:
            open(os.path.join(out, "tokenize", "%s-%02d" % (name, j)), "wb").write(bytes([i + 6 * (j % 4)]) + text)
for i, name in enumerate(det_vocabs):
    path = os.path.join(voc, "ggml-vocab-%s.gguf.out" % name)
    if not os.path.exists(path):
        ids = [[1, 2, 3, 100, 200, 255, 259]]
    else:
        ids = [[int(x) for x in line.split()] for line in open(path)]
    for j, row in enumerate(ids[:12]):
        open(os.path.join(out, "detokenize", "%s-%02d" % (name, j)), "wb").write(
            bytes([i + 5 * (j % 4)]) + b"".join(struct.pack("<i", t) for t in row))
# chat: template name or text, then role/content pairs, NUL-separated
names = ["llama2", "llama3", "chatml", "gemma", "phi3", "mistral-v1", "mistral-v3", "mistral-v3-tekken",
         "mistral-v7", "mistral-v7-tekken", "deepseek", "deepseek2", "deepseek3", "zephyr", "command-r",
         "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n{% endfor %}",
         "{{ bos_token }}{% for message in messages %}<|start_header_id|>{{ message['role'] }}<|end_header_id|>",
         "<start_of_turn>{{ message }}", "[INST] {{ message['content'] }} [/INST]"]
msgs = [b"system\0You are helpful.", b"user\0Hello \xc3\xa9 <s>", b"assistant\0Hi!", b"user\0\xff\xfe bad utf-8",
        b"tool\0{\"x\": 1}"]
for i, n in enumerate(names):
    body = b"\0".join(msgs[: 1 + i % len(msgs)])
    open(os.path.join(out, "chat", "%02d" % i), "wb").write(bytes([i & 1]) + n.encode() + b"\0" + body)
# decode: short programs (op, 16-bit operand, ...)
import random
r = random.Random(7)
for i in range(16):
    open(os.path.join(out, "decode", "%02d" % i), "wb").write(bytes(r.randrange(256) for _ in range(3 * (4 + i * 3))))
# http: a selector byte (chat template, bit 2: an API key "sk-fuzz" is needed) and a request
def req(method, path, body=None, headers=(), cl=True):
    h = "%s %s HTTP/1.1\r\nHost: localhost\r\n" % (method, path)
    for x in headers: h += x + "\r\n"
    b = body.encode() if isinstance(body, str) else (body or b"")
    if body is not None and cl: h += "Content-Length: %d\r\n" % len(b)
    return h.encode() + b"\r\n" + b
chat = "/v1/chat/completions"
comp = "/v1/completions"
bodies = [
    '{"model":"m","messages":[{"role":"user","content":"Once upon a time"}],"max_tokens":8}',
    '{"messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hi"}],"stream":true,"temperature":0.5,"top_p":0.9,"seed":42,"n":1,"stop":["\\n","."]}',
    '{"messages":[{"role":"developer","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]},{"role":"assistant","content":null},{"role":"user","content":"x"}]}',
    '{"messages":[{"role":"user","content":"\\u00e9\\ud83d\\ude00 \\u0000 \\ud800"}],"max_completion_tokens":1e3}',
    '{"messages":[],"max_tokens":-1}',
    '{"messages":[{"role":"user","content":"hi"}],"max_tokens":1e999,"temperature":-0.0,"seed":9007199254740993}',
    '{"messages":[{"role":"user","content":"hi"}],"stop":["a","b","c","d","e"],"response_format":{"type":"json_object"}}',
    '{"messages":[{"role":1}]}',
    '{"messages":"hi"',
    '[1,2,3]',
    '{"a":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}',
    '{"messages":[{"role":"user","content":"' + "once upon a time " * 40 + '"}]}',
    '{"x":"\\ud83d","y":"\\uDE00\\u12","z":123456789012345678901234567890,"w":0.1e-400}',
]
i = 0
def put(sel, data):
    global i
    open(os.path.join(out, "http", "%02d" % i), "wb").write(bytes([sel]) + data)
    i += 1
for k, b in enumerate(bodies):
    put(k & 3, req("POST", chat, b))
put(0, req("POST", comp, '{"prompt":"Once upon a time","max_tokens":16,"stream":false,"stop":"x"}'))
put(1, req("POST", "/completions?x=1", '{"prompt":["one"],"temperature":2,"top_p":0}'))
put(2, req("POST", comp, '{"prompt":""}'))
put(3, req("POST", comp, '{"prompt":["a","b"]}'))
put(0, req("GET", "/health"))
put(4, req("GET", "/v1/models", headers=["Authorization: Bearer sk-fuzz"]))
put(4, req("POST", chat, bodies[0], headers=["authorization:  bearer sk-fuzz"]))
put(4, req("GET", "/models", headers=["Authorization: Bearer wrong"]))
put(0, req("GET", chat))
put(0, req("POST", "/nope", "{}"))
put(0, req("POST", chat, bodies[0], headers=["Transfer-Encoding: chunked"], cl=False))
put(0, req("POST", chat, bodies[0], cl=False))
put(0, req("POST", chat, bodies[0], headers=["Expect: 100-continue"]))
put(0, b"POST /v1/completions HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n")
put(0, b"POST /v1/completions HTTP/1.1\r\nContent-Length: 2000000\r\n\r\n{}")
put(0, b"POST /v1/completions HTTP/1.1\r\nContent-Length: -5\r\n\r\n")
put(0, b"POST /v1/completions HTTP/1.1\r\nContent-Length: 12 x\r\n\r\n{\"prompt\":1}")
put(0, b"GET /health HTTP/1.0\r\nbad header\r\n\r\n")
put(0, b"GET /health\r\n\r\n")
put(0, b"GET  HTTP/1.1\r\n\r\n")
put(0, b"GET /" + b"a" * 300 + b" HTTP/1.1\r\n\r\n")
put(0, b"GET /health HTTP/1.1\r\nX-Long: " + b"b" * 5000 + b"\r\n\r\n")
put(0, b"GET /health HTTP/1.1\r\nHost: x")
PY
for h in "$out"/*; do echo "$(basename "$h"): $(ls "$h" | wc -l) files"; done
