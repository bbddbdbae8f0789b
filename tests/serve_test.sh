#!/usr/bin/env bash
# End-to-end test of `llm serve` on loopback (run by tests/test_serve.c from the project root):
# curl and the openai npm client against stories260K; errors; 16 concurrent streams; clients
# that drop mid-stream; RSS over 200 requests; SIGTERM. Every wait is bounded.
# Prints "ok NAME", "FAIL NAME: why" or "skip NAME: why" lines. Usage: serve_test.sh MODEL
set -u
MODEL=$1
LLM=${LLM:-build/llm}
NODE_DIR=build/node/node_modules/openai
KEY=sk-test-key
tmp=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
ok() { echo "ok $1"; }
fail() { echo "FAIL $1: $2"; }
check() { if [ "$2" = 0 ]; then ok "$1"; else fail "$1" "${3:-}"; fi; }
for tool in curl python3; do
    command -v $tool >/dev/null || { echo "skip serve: $tool not installed"; exit 0; }
done

"$LLM" serve -m "$MODEL" --host 127.0.0.1 --port 0 -np 4 -c 256 --api-key $KEY --timeout 2 -v 2>"$tmp/log" &
pid=$!
port=
for _ in $(seq 100); do
    port=$(grep -o 'http://127\.0\.0\.1:[0-9]*' "$tmp/log" | head -1 | sed 's/.*://')
    [ -n "$port" ] && break
    kill -0 $pid 2>/dev/null || break
    sleep 0.1
done
[ -n "$port" ] || { fail "serve start" "no port in the log: $(cat "$tmp/log")"; exit 1; }
base=http://127.0.0.1:$port
up=1
for _ in $(seq 50); do
    curl -s --max-time 2 "$base/health" | grep -q '"ok"' && { up=0; break; }
    sleep 0.1
done
check "serve /health" $up "server did not answer /health"
[ $up = 0 ] || exit 1

C=(curl -s --max-time 20 -H "Authorization: Bearer $KEY")
J=(-H 'Content-Type: application/json')
# py FILE EXPR: evaluates a Python expression over d = the JSON in FILE, exits 0 if true.
py() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if ($2) else 1)" "$1" 2>/dev/null; }

"${C[@]}" "$base/v1/models" >"$tmp/models"
py "$tmp/models" "d['object']=='list' and d['data'][0]['id']=='stories260K' and d['data'][0]['object']=='model'"
check "curl /v1/models" $? "$(cat "$tmp/models")"

"${C[@]}" "${J[@]}" "$base/v1/chat/completions" -d '{"model":"stories260K","messages":[{"role":"system","content":"Stories."},{"role":"user","content":"Once upon a time"}],"max_tokens":16,"temperature":0}' >"$tmp/chat"
py "$tmp/chat" "d['object']=='chat.completion' and d['choices'][0]['message']['role']=='assistant' and len(d['choices'][0]['message']['content'])>0 and d['choices'][0]['finish_reason']=='length' and d['usage']['completion_tokens']==16 and d['usage']['total_tokens']==d['usage']['prompt_tokens']+16"
check "curl chat completion" $? "$(cat "$tmp/chat")"

# Structured outputs: a JSON schema holds the text to {"c": "x"} or {"c": "y"}; JSON mode to
# one JSON value (complete unless max_tokens cut it); a schema that cannot compile is a 400.
"${C[@]}" "${J[@]}" "$base/v1/chat/completions" -d '{"messages":[{"role":"user","content":"Once upon a time"}],"max_tokens":64,"temperature":0.8,"seed":3,"response_format":{"type":"json_schema","json_schema":{"name":"pick","strict":true,"schema":{"type":"object","properties":{"c":{"enum":["x","y"]}},"required":["c"],"additionalProperties":false}}}}' >"$tmp/schema"
py "$tmp/schema" "d['choices'][0]['finish_reason']=='stop' and json.loads(d['choices'][0]['message']['content']) in ({'c':'x'},{'c':'y'})"
check "response_format json_schema" $? "$(cat "$tmp/schema")"
"${C[@]}" "${J[@]}" "$base/v1/completions" -d '{"prompt":"Once upon a time","max_tokens":200,"temperature":0,"response_format":{"type":"json_object"}}' >"$tmp/jsonmode"
py "$tmp/jsonmode" "d['choices'][0]['finish_reason']=='length' or json.loads(d['choices'][0]['text']) is not None or d['choices'][0]['text'].strip()=='null'"
check "response_format json_object" $? "$(cat "$tmp/jsonmode")"
got=$(curl -s --max-time 20 -o "$tmp/badschema" -w '%{http_code}' -H "Authorization: Bearer $KEY" "${J[@]}" "$base/v1/chat/completions" -d '{"messages":[{"role":"user","content":"hi"}],"response_format":{"type":"json_schema","json_schema":{"schema":{"type":"object","properties":{"a":{"$ref":"#/x"}}}}}}')
[ "$got" = 400 ] && grep -q 'json_schema' "$tmp/badschema"
check "response_format with an unsupported schema -> 400" $? "$got $(cat "$tmp/badschema")"

"${C[@]}" -N "${J[@]}" "$base/v1/chat/completions" -d '{"messages":[{"role":"system","content":"Stories."},{"role":"user","content":"Once upon a time"}],"max_tokens":16,"temperature":0,"stream":true}' >"$tmp/chat_sse"
python3 - "$tmp/chat_sse" "$tmp/chat" <<'PY'
import json, sys
raw = open(sys.argv[1]).read()
want = json.load(open(sys.argv[2]))['choices'][0]['message']['content']
events = raw.split('\n\n')
assert events[-1] == '' and events[-2] == 'data: [DONE]', 'no [DONE] at the end'
text, finish = '', None
for e in events[:-2]:
    assert e.startswith('data: ') and '\n' not in e, repr(e)
    d = json.loads(e[6:])
    assert d['object'] == 'chat.completion.chunk'
    text += d['choices'][0]['delta'].get('content', '')
    finish = d['choices'][0]['finish_reason'] or finish
assert text == want, (text, want)
assert finish == 'length'
PY
check "curl streamed chat (SSE, [DONE])" $? "$(head -c 600 "$tmp/chat_sse")"

"${C[@]}" "${J[@]}" "$base/v1/completions" -d '{"prompt":"Once upon a time","max_tokens":40,"temperature":0,"stop":"."}' >"$tmp/cmpl"
py "$tmp/cmpl" "d['object']=='text_completion' and len(d['choices'][0]['text'])>0 and '.' not in d['choices'][0]['text'] and d['choices'][0]['finish_reason']=='stop'"
check "curl completion with a stop string" $? "$(cat "$tmp/cmpl")"

"${C[@]}" -N "${J[@]}" "$base/v1/completions" -d '{"prompt":["Once upon a time"],"max_tokens":8,"temperature":0.8,"top_p":0.9,"seed":42,"stop":["zzz"],"stream":true}' >"$tmp/cmpl_sse"
grep -q '"object":"text_completion"' "$tmp/cmpl_sse" && tail -c 14 "$tmp/cmpl_sse" | grep -q '^data: \[DONE\]$'
check "curl streamed completion" $? "$(head -c 600 "$tmp/cmpl_sse")"

# \uXXXX escapes and surrogate pairs decode to the same UTF-8 as the raw text.
"${C[@]}" "${J[@]}" "$base/v1/completions" -d '{"prompt":"caf\u00e9 \ud83d\ude00 \"q\"\\","max_tokens":1}' >"$tmp/u1"
"${C[@]}" "${J[@]}" "$base/v1/completions" -d '{"prompt":"café 😀 \"q\"\\","max_tokens":1}' >"$tmp/u2"
python3 -c "import json,sys; a,b=(json.load(open(f))['usage']['prompt_tokens'] for f in sys.argv[1:]); sys.exit(0 if a==b and a>3 else 1)" "$tmp/u1" "$tmp/u2"
check "JSON escapes and surrogate pairs" $? "$(cat "$tmp/u1" "$tmp/u2")"

# Errors: status, an OpenAI-style body, and the server still serves.
err_case() { # NAME STATUS CURL-ARGS...
    local name=$1 want=$2
    shift 2
    local got
    got=$(curl -s --max-time 20 -o "$tmp/err" -w '%{http_code}' "$@")
    if [ "$got" = "$want" ] && py "$tmp/err" "isinstance(d['error']['message'],str) and isinstance(d['error']['type'],str) and 'param' in d['error'] and 'code' in d['error']"; then
        ok "$name -> $want"
    else
        fail "$name -> $want" "got $got: $(head -c 300 "$tmp/err")"
    fi
}
A=(-H "Authorization: Bearer $KEY")
err_case "malformed JSON" 400 "${A[@]}" "${J[@]}" "$base/v1/chat/completions" -d '{"messages":[{"role":"user","content":"hi"}'
err_case "trailing comma" 400 "${A[@]}" "${J[@]}" "$base/v1/completions" -d '{"prompt":"hi",}'
err_case "bad surrogate" 400 "${A[@]}" "${J[@]}" "$base/v1/completions" -d '{"prompt":"\udc00"}'
err_case "deep nesting" 400 "${A[@]}" "${J[@]}" "$base/v1/completions" -d "$(printf '[%.0s' $(seq 200))"
err_case "messages not an array" 400 "${A[@]}" "${J[@]}" "$base/v1/chat/completions" -d '{"messages":"hi"}'
err_case "temperature a string" 400 "${A[@]}" "${J[@]}" "$base/v1/chat/completions" -d '{"messages":[{"role":"user","content":"hi"}],"temperature":"hot"}'
err_case "max_tokens a float" 400 "${A[@]}" "${J[@]}" "$base/v1/completions" -d '{"prompt":"hi","max_tokens":1.5}'
err_case "max_tokens over the limit" 400 "${A[@]}" "${J[@]}" "$base/v1/completions" -d '{"prompt":"hi","max_tokens":100000}'
err_case "seed out of range" 400 "${A[@]}" "${J[@]}" "$base/v1/completions" -d '{"prompt":"hi","seed":1e300}'
err_case "stream a number" 400 "${A[@]}" "${J[@]}" "$base/v1/completions" -d '{"prompt":"hi","stream":1}'
err_case "prompt longer than the context" 400 "${A[@]}" "${J[@]}" "$base/v1/completions" -d "{\"prompt\":\"$(printf 'Once upon a time %.0s' $(seq 300))\"}"
head -c 1500000 /dev/zero | tr '\0' ' ' >"$tmp/big"
err_case "oversize body" 413 "${A[@]}" "${J[@]}" "$base/v1/completions" --data-binary @"$tmp/big"
err_case "oversize headers" 431 "${A[@]}" -H "X-Pad: $(head -c 20000 /dev/zero | tr '\0' a)" "$base/v1/models"
err_case "unknown route" 404 "${A[@]}" "$base/v1/nothing"
err_case "wrong method" 405 "${A[@]}" -X DELETE "$base/v1/models"
err_case "missing key" 401 "$base/v1/models"
err_case "wrong key" 401 -H "Authorization: Bearer nope" "${J[@]}" "$base/v1/chat/completions" -d '{"messages":[]}'
"${C[@]}" "$base/v1/models" | grep -q stories260K
check "still serving after the errors" $? ""

# A slow client (half a request head, then nothing) gets 408 after --timeout 2.
python3 - "$port" <<'PY'
import socket, sys, time
s = socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=8)
s.sendall(b'GET /health HTTP/1.1\r\nHost: x\r\n')
t = time.time()
reply = b''
try:
    while True:
        b = s.recv(4096)
        if not b: break
        reply += b
except ConnectionResetError:
    pass
assert reply.startswith(b'HTTP/1.1 408 ') and time.time() - t < 6, reply[:100]
PY
check "a slow client times out -> 408" $? ""

# A full queue: 4 slots + 64 waiting connections (these send half a request head), then 503.
python3 - "$port" <<'PY'
import socket, sys
port = int(sys.argv[1])
held = []
for _ in range(68):
    s = socket.create_connection(('127.0.0.1', port), timeout=10)
    s.sendall(b'GET /health HTTP/1.1\r\n')
    held.append(s)
s = socket.create_connection(('127.0.0.1', port), timeout=10)
s.sendall(b'GET /health HTTP/1.1\r\nHost: x\r\n\r\n')
reply = b''
try:
    while True:
        b = s.recv(4096)
        if not b: break
        reply += b
except ConnectionResetError:
    pass
for h in held: h.close()
assert reply.startswith(b'HTTP/1.1 503 ') and b'"error"' in reply, reply[:200]
PY
check "a full queue -> 503" $? ""
up=1
for _ in $(seq 50); do
    curl -s --max-time 2 "$base/health" | grep -q '"ok"' && { up=0; break; }
    sleep 0.1
done
check "serving again after the queue drained" $up ""

# The official openai npm client.
if ! command -v node >/dev/null; then echo "skip openai client: node not installed"
elif [ ! -d "$NODE_DIR" ] && [ "${CI:-}" = true ]; then fail "openai client" "$NODE_DIR missing under CI=true (.ci/run installs it)"
elif [ ! -d "$NODE_DIR" ]; then echo "skip openai client: $NODE_DIR missing (.ci/run installs it: npm install --prefix build/node openai)"
else timeout 60 node tests/serve_client.mjs "$base/v1" $KEY build/node/node_modules/openai
fi

# 16 concurrent streaming clients (4 slots: the rest queue), each must get the greedy text.
"${C[@]}" "${J[@]}" "$base/v1/completions" -d '{"prompt":"Once upon a time","max_tokens":48,"temperature":0}' >"$tmp/ref"
pids=()
for i in $(seq 16); do
    "${C[@]}" -N "${J[@]}" "$base/v1/completions" -d '{"prompt":"Once upon a time","max_tokens":48,"temperature":0,"stream":true}' >"$tmp/s$i" &
    pids+=($!)
done
wait "${pids[@]}"
python3 - "$tmp" <<'PY'
import json, sys
d = sys.argv[1]
want = json.load(open(d + '/ref'))['choices'][0]['text']
for i in range(1, 17):
    raw = open('%s/s%d' % (d, i)).read()
    ev = raw.split('\n\n')
    assert ev[-2] == 'data: [DONE]', (i, raw[-200:])
    text = ''.join(json.loads(e[6:])['choices'][0]['text'] for e in ev[:-2])
    assert text == want, (i, text, want)
PY
check "16 concurrent streams" $? ""

# Clients that drop mid-stream free their slots: 8 drops, then 4 requests at once (one per slot).
python3 - "$port" <<'PY'
import socket, sys
body = b'{"prompt":"Once upon a time","max_tokens":240,"temperature":1,"stream":true}'
for _ in range(8):
    s = socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=10)
    s.sendall(b'POST /v1/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer sk-test-key\r\n'
              b'Content-Type: application/json\r\nContent-Length: %d\r\n\r\n' % len(body) + body)
    s.recv(200)
    s.close()
PY
pids=()
for i in 1 2 3 4; do
    "${C[@]}" --max-time 10 "${J[@]}" "$base/v1/completions" -d '{"prompt":"Hi","max_tokens":4}' >"$tmp/d$i" &
    pids+=($!)
done
wait "${pids[@]}"
all=0
for i in 1 2 3 4; do py "$tmp/d$i" "d['usage']['completion_tokens']>0" || all=1; done
check "dropped clients free their slots" $all "$(cat "$tmp"/d*)"
grep -q "client gone: cancelled" "$tmp/log"
check "a dropped client cancels its generation" $? "no cancellation in the log: $(tail -12 "$tmp/log")"

# Memory stays bounded: RSS after 200 small requests within 5 % of RSS after the first 16.
rss() { awk '/VmRSS/ {print $2}' /proc/$pid/status; }
if [ -r /proc/$pid/status ]; then
    req() { "${C[@]}" "${J[@]}" "$base/v1/chat/completions" -d "{\"messages\":[{\"role\":\"user\",\"content\":\"Tell me $1\"}],\"max_tokens\":8,\"seed\":$1}" >/dev/null; }
    for i in $(seq 16); do req $i; done
    r16=$(rss)
    for i in $(seq 17 200); do req $i; done
    r200=$(rss)
    awk -v a="$r16" -v b="$r200" 'BEGIN { exit !(b <= a * 1.05 && b >= a * 0.95) }'
    check "RSS after 200 requests within 5% of after 16 ($r16 kB -> $r200 kB)" $? ""
else
    echo "skip RSS: no /proc"
fi

# SIGTERM: exits 0 promptly.
kill -TERM $pid
st=timeout
for _ in $(seq 50); do
    if ! kill -0 $pid 2>/dev/null; then wait $pid; st=$?; break; fi
    sleep 0.1
done
pid_done=$pid
pid=
[ "$st" = 0 ]
check "SIGTERM exits 0" $? "status $st; log: $(tail -5 "$tmp/log")"
: "$pid_done"
