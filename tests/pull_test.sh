#!/usr/bin/env bash
# End-to-end test of `llm pull`, `llm ls`, `llm rm` and store names in -m (run by
# tests/test_pull.c from the project root). Every download comes from
# tests/http_range_server.py on 127.0.0.1; nothing here contacts another address (proxies are
# switched off, and hf: sources go to the local server through HF_ENDPOINT).
# Prints "ok NAME", "FAIL NAME: why" or "skip NAME: why" lines. Usage: pull_test.sh MODEL
set -u
MODEL=$1
LLM=${LLM:-build/llm}
LLM_ABS=$(cd "$(dirname "$LLM")" && pwd)/$(basename "$LLM")
tmp=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
ok() { echo "ok $1"; }
fail() { echo "FAIL $1: $2"; }
check() { if [ "$2" = 0 ]; then ok "$1"; else fail "$1" "${3:-}"; fi; }
for tool in curl python3 cmp; do
    command -v $tool >/dev/null || { echo "skip pull: $tool not installed"; exit 0; }
done
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY ALL_PROXY all_proxy
export no_proxy='*' NO_PROXY='*'
export LLM_MODELS=$tmp/store/models # not there yet: the first pull makes it
www=$tmp/www
mkdir -p "$www"
cp "$MODEL" "$www/tiny.gguf"
head -c 4096 /dev/urandom >"$www/junk.gguf"
printf 'GGUF\003\000\000\000garbage that is no header' >"$www/bad-header.gguf"

python3 tests/http_range_server.py "$www" "$tmp/requests" >"$tmp/port" 2>"$tmp/server.err" &
pid=$!
port=
for _ in $(seq 50); do
    port=$(head -1 "$tmp/port" 2>/dev/null)
    [ -n "$port" ] && break
    sleep 0.1
done
[ -n "$port" ] || { fail "server start" "no port: $(cat "$tmp/server.err")"; exit 1; }
base=http://127.0.0.1:$port
store=$LLM_MODELS

# pull SOURCE [ARGS...]: runs llm pull; $out, $err and $rc hold what it did.
pull() {
    "$LLM" pull "$@" >"$tmp/out" 2>"$tmp/err"
    rc=$?
    out=$(cat "$tmp/out")
    err=$(cat "$tmp/err")
}
# one_error: stderr ends with exactly one "llm: error: " line
one_error() { [ "$(grep -c '^llm: error: ' "$tmp/err")" = 1 ] && tail -1 "$tmp/err" | grep -q '^llm: error: '; }
no_leftovers() { ! ls "$store" 2>/dev/null | grep -q "^$1\.gguf"; }

pull "$base/tiny.gguf"
[ $rc = 0 ] && [ "$out" = "$store/tiny.gguf" ] && cmp -s "$store/tiny.gguf" "$MODEL" && [ -z "$(ls "$store" | grep part)" ]
check "full pull into a new store" $? "rc $rc, out '$out', err: $err"
echo "$err" | grep -q 'tiny 1.13 MiB / 1.13 MiB (100 %), .*/s' && echo "$err" | grep -q 'stored tiny'
check "progress: bytes, total, speed" $? "$err"

pull "$base/tiny.gguf"
[ $rc = 0 ] && echo "$err" | grep -q 'already in the store' && [ "$(grep -c 'GET /tiny.gguf' "$tmp/requests")" = 1 ]
check "a second pull does not download again" $? "rc $rc: $err"

touch "$www/.cut" # the server sends half of the next file, then hangs up
pull "$base/tiny.gguf" --name resumed
half=$(stat -c %s "$store/resumed.gguf.part" 2>/dev/null || echo 0)
[ $rc = 1 ] && one_error && echo "$err" | grep -q 'run the same llm pull again to resume' && [ ! -e "$store/resumed.gguf" ] &&
    [ "$half" -gt 0 ] && [ "$half" -lt "$(stat -c %s "$MODEL")" ]
check "an interrupted pull exits 1 and keeps the .part" $? "rc $rc, .part $half bytes: $err"
"$LLM" ls >"$tmp/ls" 2>"$tmp/ls.err"
grep -q 'resumed: partial download' "$tmp/ls.err" && ! grep -q '^resumed ' "$tmp/ls"
check "llm ls reports the partial download on stderr only" $? "$(cat "$tmp/ls" "$tmp/ls.err")"
pull "$base/tiny.gguf" --name resumed
[ $rc = 0 ] && cmp -s "$store/resumed.gguf" "$MODEL" && echo "$err" | grep -q 'resuming resumed at' &&
    grep -q "GET /tiny.gguf range=bytes=$half-" "$tmp/requests" && ! ls "$store" | grep -q '^resumed\.gguf\.'
check "the resumed pull is byte-identical (a range request from the .part's end)" $? "rc $rc: $err"

HF_ENDPOINT=$base pull hf:owner/repo/tiny.gguf --name hf-tiny
[ $rc = 0 ] && cmp -s "$store/hf-tiny.gguf" "$MODEL" && echo "$err" | grep -q 'checking the sha256' &&
    grep -q 'GET /owner/repo/resolve/main/tiny.gguf' "$tmp/requests"
check "hf: source through HF_ENDPOINT, sha256 from X-Linked-Etag checked" $? "rc $rc: $err"

HF_ENDPOINT=$base pull hf:owner/badsha/tiny.gguf --name badsha
[ $rc = 1 ] && one_error && echo "$err" | grep -q 'sha256 mismatch' && no_leftovers badsha
check "a wrong sha256 from the server is refused, nothing left" $? "rc $rc: $err; store: $(ls "$store")"

pull "$base/tiny.gguf" --name badsha2 --sha256 "$(printf 'ab%.0s' $(seq 32))"
[ $rc = 1 ] && one_error && echo "$err" | grep -q 'sha256 mismatch.*(--sha256)' && no_leftovers badsha2
check "a wrong --sha256 is refused, nothing left" $? "rc $rc: $err"

sha=$(python3 -c "import hashlib,sys; print(hashlib.sha256(open(sys.argv[1],'rb').read()).hexdigest())" "$MODEL")
pull "$base/tiny.gguf" --name goodsha.gguf --sha256 "${sha^^}"
[ $rc = 0 ] && cmp -s "$store/goodsha.gguf" "$MODEL"
check "the right --sha256 (upper case) is accepted; --name x.gguf means x" $? "rc $rc: $err"

pull "$base/junk.gguf"
[ $rc = 1 ] && one_error && echo "$err" | grep -q 'is not a GGUF model' && no_leftovers junk
check "a file that is not GGUF is refused, nothing left" $? "rc $rc: $err; store: $(ls "$store")"

pull "$base/bad-header.gguf"
[ $rc = 1 ] && one_error && echo "$err" | grep -q 'is not a GGUF model' && no_leftovers bad-header
check "a GGUF magic with a broken header is refused, nothing left" $? "rc $rc: $err"

pull "$base/missing.gguf"
[ $rc = 1 ] && one_error && echo "$err" | grep -q 'HTTP 404' && no_leftovers missing
check "a 404 is a clear error, exit 1" $? "rc $rc: $err"

closed=$(python3 -c "import socket; s=socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1]); s.close()")
pull "http://127.0.0.1:$closed/tiny.gguf" --name closed
[ $rc = 1 ] && one_error && echo "$err" | grep -q "cannot connect to 127.0.0.1:$closed" && no_leftovers closed
check "a closed port is a clear error, exit 1" $? "rc $rc: $err"

LLM_CURL=$tmp/no-such-curl pull "$base/tiny.gguf" --name nocurl
[ $rc = 1 ] && one_error && echo "$err" | grep -q 'not found. llm pull downloads through the curl program' && no_leftovers nocurl
check "a missing curl is named as the problem" $? "rc $rc: $err"

# A stand-in for curl records any call: a bad source must be refused before anything runs
# (and if one were not, nothing would leave this machine).
printf '#!/bin/sh\necho "$@" >>"%s"\nexit 7\n' "$tmp/curl-calls" >"$tmp/fake-curl"
chmod +x "$tmp/fake-curl"
bad=0
for args in "ftp://127.0.0.1/x.gguf" "http://example.com/x.gguf" "$base/x.gguf --name ../evil" "$base/x.gguf --name .hidden" \
    "$base/x.gguf --name a/b" "$base/ --sha256 1234" "$base/" "hf:owner/../x.gguf" "hf:owner/repo" "hf:o/r/x.bin" \
    "$base/a%20b.gguf" "https://user@127.0.0.1/x.gguf"; do
    # shellcheck disable=SC2086
    LLM_CURL=$tmp/fake-curl pull $args
    if [ $rc != 2 ] || ! grep -q '^usage: llm pull' "$tmp/err"; then bad=1; echo "# pull $args: rc $rc: $err"; fi
done
[ $bad = 0 ] && ! ls "$tmp" | grep -q evil && [ ! -e "$tmp/curl-calls" ]
check "bad sources and names are usage errors (exit 2), curl never run" $? "$(cat "$tmp/curl-calls" 2>/dev/null)"

touch "$www/.cut"
pull "$base/tiny.gguf" --name switched
HF_ENDPOINT=$base pull hf:owner/repo/tiny.gguf --name switched
[ $rc = 0 ] && cmp -s "$store/switched.gguf" "$MODEL" && ! echo "$err" | grep -q resuming
check "a .part from another source is started over, not resumed" $? "rc $rc: $err"
"$LLM" rm switched 2>/dev/null

# a .part that already holds the whole file (the server answers 416 to the range request)
mkdir -p "$store" && cp "$MODEL" "$store/whole.gguf.part" && echo "$base/tiny.gguf" >"$store/whole.gguf.part.src"
pull "$base/tiny.gguf" --name whole
[ $rc = 0 ] && cmp -s "$store/whole.gguf" "$MODEL" && ! ls "$store" | grep -q '^whole\.gguf\.'
check "a complete .part (416 on resume) is checked and stored" $? "rc $rc: $err"
head -c 2000000 /dev/zero >"$store/long.gguf.part" && echo "$base/tiny.gguf" >"$store/long.gguf.part.src"
pull "$base/tiny.gguf" --name long
[ $rc = 1 ] && one_error && no_leftovers long
check "a .part longer than the file is removed" $? "rc $rc: $err"
"$LLM" rm whole 2>/dev/null

"$LLM" ls >"$tmp/ls" 2>"$tmp/ls.err"
rc=$?
[ $rc = 0 ] && [ "$(head -1 "$tmp/ls" | tr -s ' ')" = "NAME SIZE ARCH PARAMS QUANT CONTEXT" ] &&
    [ "$(grep -c . "$tmp/ls")" = 5 ] &&
    grep -Eq '^tiny +1\.13 MiB +llama +292\.8K +F32 +2048$' "$tmp/ls" && grep -q '^resumed ' "$tmp/ls" &&
    grep -q '^hf-tiny ' "$tmp/ls" && grep -q '^goodsha ' "$tmp/ls"
check "llm ls: name, size, architecture, parameters, quantization, context" $? "rc $rc: $(cat "$tmp/ls" "$tmp/ls.err")"
"$LLM" ls --json >"$tmp/ls.json"
python3 - "$tmp/ls.json" "$store" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
assert [e['name'] for e in d] == ['goodsha', 'hf-tiny', 'resumed', 'tiny'], d
t = d[3]
assert t['path'] == sys.argv[2] + '/tiny.gguf' and t['size_bytes'] == 1185376, t
assert t['architecture'] == 'llama' and t['n_params'] == 292800 and t['quantization'] == 'F32', t
assert t['context_length'] == 2048, t
PY
check "llm ls --json" $? "$(cat "$tmp/ls.json")"

"$LLM" run -m tiny -p "Once upon a time" -n 8 --temp 0 >"$tmp/run_name" 2>"$tmp/run.err"
rc=$?
"$LLM" run -m "$MODEL" -p "Once upon a time" -n 8 --temp 0 >"$tmp/run_path" 2>/dev/null
[ $rc = 0 ] && [ -s "$tmp/run_name" ] && cmp -s "$tmp/run_name" "$tmp/run_path"
check "llm run -m NAME runs the stored model" $? "rc $rc: $(cat "$tmp/run_name" "$tmp/run.err")"
"$LLM" info tiny >"$tmp/info" 2>&1 && grep -q "^file          $store/tiny.gguf" "$tmp/info" &&
    "$LLM" tokenize -m hf-tiny -p "Hello" >/dev/null 2>&1
check "llm info NAME and tokenize -m NAME" $? "$(head -3 "$tmp/info")"
"$LLM" run -m nosuchmodel -p x -n 1 >/dev/null 2>"$tmp/err"
[ $? = 1 ] && grep -q "no model named 'nosuchmodel' in the store" "$tmp/err"
check "-m with an unknown name says where it looked" $? "$(cat "$tmp/err")"
(cd "$tmp" && mkdir -p cwd && cd cwd && echo "not a model" >tiny && "$LLM_ABS" run -m tiny -p x -n 1 >/dev/null 2>"$tmp/err")
[ $? = 1 ] && grep -q "not a GGUF file" "$tmp/err" && ! grep -q "store" "$tmp/err"
check "-m prefers an existing file to a store name" $? "$(cat "$tmp/err")"

"$LLM" rm tiny resumed >/dev/null 2>"$tmp/err"
rc=$?
[ $rc = 0 ] && [ ! -e "$store/tiny.gguf" ] && [ ! -e "$store/resumed.gguf" ] && ! "$LLM" ls 2>/dev/null | grep -q '^tiny '
check "llm rm removes models" $? "rc $rc: $(cat "$tmp/err")"
"$LLM" rm goodsha nosuch >/dev/null 2>"$tmp/err"
rc=$?
[ $rc = 1 ] && [ -e "$store/goodsha.gguf" ] && grep -q "no model named 'nosuch'" "$tmp/err"
check "llm rm of an unknown name exits 1 and removes nothing" $? "rc $rc: $(cat "$tmp/err")"
"$LLM" rm ../x >/dev/null 2>&1
[ $? = 2 ]
check "llm rm of a path is a usage error" $? ""

LLM_MODELS=$tmp/empty "$LLM" ls >"$tmp/ls" 2>"$tmp/ls.err"
[ $? = 0 ] && [ ! -s "$tmp/ls" ] && grep -q 'no models in' "$tmp/ls.err"
check "llm ls of an empty store" $? "$(cat "$tmp/ls.err")"

grep -v '^GET ' "$tmp/requests" | grep -q . && fail "requests" "unexpected: $(grep -v '^GET ' "$tmp/requests")"
exit 0
