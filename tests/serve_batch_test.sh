#!/usr/bin/env bash
# Continuous batching in `llm serve` (run by tests/test_serve.c from the project root): 16
# concurrent greedy streams give, byte for byte, the text each gives alone, with and without
# the prompt cache (finished requests' blocks reused by later prompts); a pool for 4
# contexts serves 32 requests and empties; preempted streams give the same text; a prompt
# longer than the pool is a 400 naming the limit; 200 requests at once queue and finish with
# RSS within 5 % of that after the first 16. Every wait is bounded.
# Prints "ok NAME", "FAIL NAME: why" or "skip NAME: why" lines. Usage: serve_batch_test.sh MODEL
set -u
MODEL=$1
LLM=${LLM:-build/llm}
tmp=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
ok() { echo "ok $1"; }
fail() { echo "FAIL $1: $2"; }
check() { if [ "$2" = 0 ]; then ok "$1"; else fail "$1" "${3:-}"; fi; }
for tool in curl python3; do
    command -v $tool >/dev/null || { echo "skip serve batch: $tool not installed"; exit 0; }
done

# start NAME ARGS...: starts a server, sets pid and base
start() {
    local name=$1
    shift
    "$LLM" serve -m "$MODEL" --host 127.0.0.1 --port 0 -v "$@" 2>"$tmp/log_$name" &
    pid=$!
    port=
    for _ in $(seq 100); do
        port=$(grep -o 'http://127\.0\.0\.1:[0-9]*' "$tmp/log_$name" 2>/dev/null | head -1 | sed 's/.*://')
        [ -n "$port" ] && break
        kill -0 $pid 2>/dev/null || break
        sleep 0.1
    done
    [ -n "$port" ] || { fail "serve start $name" "no port in the log: $(cat "$tmp/log_$name")"; exit 1; }
    base=http://127.0.0.1:$port
}
stop() {
    kill -TERM $pid
    for _ in $(seq 50); do kill -0 $pid 2>/dev/null || break; sleep 0.1; done
    wait $pid 2>/dev/null
    pid=
}

# The client: N requests from a JSON list, all at once (threads) or one after another; each
# result is the concatenated content of its stream (or the error), written as JSON. With a
# server PID it also records the server's RSS (kB) once 16 requests have finished and at the end
# (every request is sent before any answer is read, so all of them are in the server by then).
cat >"$tmp/client.py" <<'PY'
import http.client, json, sys, threading
port, reqfile, mode, outfile = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
pid = sys.argv[5] if len(sys.argv) > 5 else None
reqs = json.load(open(reqfile))
res = [None] * len(reqs)
lock, done, rss = threading.Lock(), [0], {}
sent = threading.Barrier(len(reqs)) if pid else None
def read_rss():
    for line in open('/proc/%s/status' % pid):
        if line.startswith('VmRSS:'): return int(line.split()[1])
def one(i):
    one_(i)
    with lock:
        done[0] += 1
        if pid and done[0] == 16: rss['after16'] = read_rss()
def one_(i):
    r = reqs[i]
    try:
        c = http.client.HTTPConnection('127.0.0.1', port, timeout=120)
        path = '/v1/chat/completions' if 'messages' in r else '/v1/completions'
        c.request('POST', path, json.dumps(r), {'Content-Type': 'application/json'})
        if sent: sent.wait(120)
        resp = c.getresponse()
        body = resp.read().decode()
        if resp.status != 200:
            res[i] = {'status': resp.status, 'body': body}
            return
        if not r.get('stream'):
            d = json.loads(body)
            ch = d['choices'][0]
            res[i] = {'status': 200, 'text': ch['message']['content'] if 'message' in ch else ch['text'], 'finish': ch['finish_reason']}
            return
        ev = body.split('\n\n')
        assert ev[-1] == '' and ev[-2] == 'data: [DONE]', body[-200:]
        text, finish = '', None
        for e in ev[:-2]:
            d = json.loads(e[6:])
            ch = d['choices'][0]
            text += ch['delta'].get('content', '') if 'delta' in ch else ch['text']
            finish = ch['finish_reason'] or finish
        res[i] = {'status': 200, 'text': text, 'finish': finish}
    except Exception as e:
        res[i] = {'status': -1, 'body': repr(e)}
if mode == 'seq':
    for i in range(len(reqs)): one(i)
else:
    th = [threading.Thread(target=one, args=(i,)) for i in range(len(reqs))]
    for t in th: t.start()
    for t in th: t.join(150)
if pid: rss['after_all'] = read_rss()
json.dump({'results': res, 'rss': rss} if pid else res, open(outfile, 'w'))
PY
# 16 requests: different prompts and lengths, chat and completions, some with the same
# long system prompt (shared prefix), all greedy and streamed.
python3 - "$tmp/reqs16" <<'PY'
import json, sys
sysmsg = 'You are a storyteller. Tell short, happy stories about animals, children and the sea, with simple words. ' * 2
starts = ['Once upon a time', 'The little dog', 'Lily went to the park', 'Tom had a red ball', 'One day, a cat',
          'The sun was shining', 'Sam and his mom', 'There was a big tree', 'A bird sang', 'The boy ran fast',
          'Anna liked to draw', 'In a small house', 'The fish swam', 'Ben found a box', 'It was a rainy day', 'The girl smiled']
reqs = []
for i, s in enumerate(starts):
    n = 8 + (i * 37) % 90
    if i % 3 == 0:
        reqs.append({'messages': [{'role': 'system', 'content': sysmsg}, {'role': 'user', 'content': s}], 'max_tokens': n, 'temperature': 0, 'stream': True})
    elif i % 3 == 1:
        reqs.append({'prompt': s, 'max_tokens': n, 'temperature': 0, 'stream': True})
    else:
        reqs.append({'prompt': sysmsg + s, 'max_tokens': n, 'temperature': 0, 'stream': True, 'stop': ['zz']})
json.dump(reqs, open(sys.argv[1], 'w'))
PY
cmp_results() { # A B: every result 200, the same texts
    python3 - "$1" "$2" <<'PY'
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:3])
bad = [i for i in range(len(a)) if a[i]['status'] != 200 or b[i]['status'] != 200 or a[i]['text'] != b[i]['text'] or a[i]['finish'] != b[i]['finish']]
for i in bad[:3]: print('  request %d: alone %r / together %r' % (i, a[i], b[i]), file=sys.stderr)
sys.exit(1 if bad or not any(r['text'] for r in a) else 0)
PY
}
health() { curl -s --max-time 5 "$base/health"; }
hpy() { health >"$tmp/h"; python3 -c "import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if ($1) else 1)" "$tmp/h" 2>/dev/null; }

# 1. 16 streams at once vs each alone (no prompt cache: the sharing is between running streams)
start p16 --parallel 16 -c 256 --batch 32 --prompt-cache 0  # prompts (up to ~70 tokens) read in chunks beside the decoding streams
python3 "$tmp/client.py" $port "$tmp/reqs16" seq "$tmp/alone"
python3 "$tmp/client.py" $port "$tmp/reqs16" par "$tmp/together"
cmp_results "$tmp/alone" "$tmp/together" 2>"$tmp/why"
check "16 concurrent greedy streams equal each alone, byte for byte" $? "$(cat "$tmp/why")"
hpy "d['prefix_shared_tokens'] > 0 and d['steps'] > 0 and d['generated_tokens'] > 0"
check "a shared system prompt is computed once (/health: prefix_shared_tokens)" $? "$(cat "$tmp/h")"
hpy "d['max_running'] >= 8"
check "the 16 streams ran together (/health: max_running)" $? "$(cat "$tmp/h")"
hpy "d['running'] == 0 and d['waiting'] == 0 and d['kv_blocks_used'] == 0 and d['parallel'] == 16"
check "/health: nothing running, the pool empty" $? "$(cat "$tmp/h")"
stop

# 1b. the prompt cache: finished requests' blocks serve later prompts that start alike, with
#     the same text as without it; then a conversation's second turn (the first turn's prompt
#     and reply come from the cache)
start cache --parallel 4 -c 256 --batch 32 --prompt-cache 4
python3 "$tmp/client.py" $port "$tmp/reqs16" seq "$tmp/cache_seq"
python3 "$tmp/client.py" $port "$tmp/reqs16" par "$tmp/cache_par"
cmp_results "$tmp/alone" "$tmp/cache_seq" 2>"$tmp/why" && cmp_results "$tmp/alone" "$tmp/cache_par" 2>>"$tmp/why"
check "with the prompt cache, one after another and 16 at once: the same text as without it" $? "$(cat "$tmp/why")"
hpy "d['prompt_cache_hits'] > 0 and d['prompt_cache_tokens'] >= 32 and 0 < d['prompt_cache_entries'] <= 4 and d['kv_blocks_used'] == 0 and d['kv_blocks_cached'] > 0"
check "/health: prompts taken from the cache; no request holds blocks, the cache does" $? "$(cat "$tmp/h")"
python3 - "$tmp/turn1" <<'PY'
import json, sys
sysmsg = 'You are a storyteller. Tell short, happy stories about animals, children and the sea, with simple words.'
json.dump([{'messages': [{'role': 'system', 'content': sysmsg}, {'role': 'user', 'content': 'Tell me about a frog'}], 'max_tokens': 24, 'temperature': 0}], open(sys.argv[1], 'w'))
PY
python3 "$tmp/client.py" $port "$tmp/turn1" seq "$tmp/turn1_out"
health >"$tmp/h_before"
python3 - "$tmp/turn1" "$tmp/turn1_out" "$tmp/turn2" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))[0]
r['messages'] += [{'role': 'assistant', 'content': json.load(open(sys.argv[2]))[0]['text']}, {'role': 'user', 'content': 'And then?'}]
json.dump([r], open(sys.argv[3], 'w'))
PY
python3 "$tmp/client.py" $port "$tmp/turn2" seq "$tmp/turn2_cached"
health >"$tmp/h_after"
python3 -c "
import json, sys
a, b = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
sys.exit(0 if b['prompt_cache_tokens'] - a['prompt_cache_tokens'] >= 64 else 1)" "$tmp/h_before" "$tmp/h_after" 2>/dev/null
check "a conversation's second turn starts from the first turn's cached blocks (/health)" $? "$(cat "$tmp/h_before" "$tmp/h_after")"
stop
start nocache --parallel 4 -c 256 --batch 32 --prompt-cache 0
python3 "$tmp/client.py" $port "$tmp/turn2" seq "$tmp/turn2_fresh"
cmp_results "$tmp/turn2_fresh" "$tmp/turn2_cached" 2>"$tmp/why"
check "a conversation's second turn: the same text with the first turn cached" $? "$(cat "$tmp/why")"
stop

# 2. a pool for 4 full contexts (4 x 256 positions), 16 streams at once
start pool4 --parallel 16 -c 256 --kv-block 16 --kv-blocks 64 --queue 64
python3 - "$tmp/reqs32" <<'PY'
import json, sys
json.dump([{'prompt': 'Story %d: once upon a time' % i, 'max_tokens': 12 + i % 20, 'temperature': 0, 'stream': i % 2 == 0} for i in range(32)], open(sys.argv[1], 'w'))
PY
python3 "$tmp/client.py" $port "$tmp/reqs32" par "$tmp/r32"
python3 -c "import json,sys; r=json.load(open(sys.argv[1])); sys.exit(0 if len(r)==32 and all(x['status']==200 and x['text'] for x in r) else 1)" "$tmp/r32"
check "a pool for 4 contexts: 32 short requests all complete" $? "$(head -c 600 "$tmp/r32")"
hpy "d['kv_blocks_total'] == 64 and d['kv_blocks_used'] == 0 and d['running'] == 0 and d['waiting'] == 0"
check "the pool returns to empty (/health)" $? "$(cat "$tmp/h")"
# long generations overflow the pool: the newest streams are preempted and recomputed
python3 - "$tmp/reqs16" "$tmp/reqs16long" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
for x in r: x['max_tokens'] = 150
json.dump(r, open(sys.argv[2], 'w'))
PY
python3 "$tmp/client.py" $port "$tmp/reqs16long" seq "$tmp/alone_long"
python3 "$tmp/client.py" $port "$tmp/reqs16long" par "$tmp/together_long"
cmp_results "$tmp/alone_long" "$tmp/together_long" 2>"$tmp/why"
check "streams preempted when the pool is full give the same text" $? "$(cat "$tmp/why")"
hpy "d['preempted'] > 0 and d['kv_blocks_used'] == 0"
check "/health: streams were preempted, the pool is empty again" $? "$(cat "$tmp/h")"
stop

# 3. a prompt longer than the pool: 4xx naming the limit
start small --parallel 2 -c 256 --kv-block 16 --kv-blocks 4
code=$(curl -s --max-time 20 -o "$tmp/err" -w '%{http_code}' -H 'Content-Type: application/json' "$base/v1/completions" \
    -d "{\"prompt\":\"$(printf 'Once upon a time %.0s' $(seq 30))\",\"max_tokens\":4}")
[ "$code" = 400 ] && grep -q 'pool holds 64' "$tmp/err"
check "a prompt longer than the pool -> 400 naming the limit" $? "$code $(cat "$tmp/err")"
curl -s --max-time 20 -H 'Content-Type: application/json' "$base/v1/completions" -d '{"prompt":"Once upon a time","max_tokens":100,"temperature":0}' >"$tmp/short"
python3 -c "import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if d['choices'][0]['finish_reason']=='length' and d['usage']['completion_tokens']<100 else 1)" "$tmp/short"
check "a stream that outgrows the whole pool ends with finish_reason length" $? "$(cat "$tmp/short")"
stop

# 4. a flood: 200 requests at once queue and finish; memory stays bounded (RSS once the
#    first 16 have finished, and after all 200)
start flood --parallel 16 -c 256 --queue 256
python3 - "$tmp/reqs200" <<'PY'
import json, sys
json.dump([{'messages': [{'role': 'user', 'content': 'Tell me %d' % i}], 'max_tokens': 8 + i % 24, 'seed': i, 'stream': i % 2 == 0}
           for i in range(200)], open(sys.argv[1], 'w'))
PY
if [ -r /proc/$pid/status ]; then
    python3 "$tmp/client.py" $port "$tmp/reqs200" par "$tmp/r200" $pid
    python3 -c "import json,sys; r=json.load(open(sys.argv[1]))['results']; sys.exit(0 if len(r)==200 and all(x['status']==200 for x in r) else 1)" "$tmp/r200"
    check "a flood of 200 requests queues and finishes" $? "$(head -c 600 "$tmp/r200")"
    read -r r16 r200 <<<"$(python3 -c "import json,sys; d=json.load(open(sys.argv[1]))['rss']; print(d['after16'], d['after_all'])" "$tmp/r200")"
    awk -v a="$r16" -v b="$r200" 'BEGIN { exit !(b <= a * 1.05) }'
    check "RSS after the flood within 5% of after its first 16 ($r16 kB -> $r200 kB)" $? ""
    hpy "d['kv_blocks_used'] == 0 and d['running'] == 0 and d['waiting'] == 0"
    check "/health after the flood: the pool empty" $? "$(cat "$tmp/h")"
else
    echo "skip flood RSS: no /proc"
fi
stop
