#!/usr/bin/env bash
# The standard benchmark matrix: TinyLlama-1.1B-shaped synth models in several types, 1 and 2
# threads, pp128 and tg64, with llm bench and (when LLAMA_BENCH names its binary) llama.cpp's
# llama-bench on the same files, alternating so that both see the same machine state.
# Prints markdown to stdout; bench/RESULTS.md records runs of it.
#
#   bench/run.sh [TYPES...]          (default: q4_K_M q8_0 q6_K q4_0 q2_K f16)
#   LLAMA_BENCH=/path/to/llama-bench bench/run.sh q8_0
#   REPS=5 THREADS=1,2 MODELS=build/bench bench/run.sh
#   DEPTH=1536 bench/run.sh q4_K_M   (each test on top of 1536 tokens of context: -d)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

types=("$@")
[ ${#types[@]} -gt 0 ] || types=(q4_K_M q8_0 q6_K q4_0 q2_K f16)
reps=${REPS:-5}
threads=${THREADS:-1,2}
dir=${MODELS:-build/bench}
depth=${DEPTH:-0}
mkdir -p "$dir"
make -s build/llm

echo "## $(date -u '+%Y-%m-%d %H:%M UTC') on $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')," \
     "$(nproc) CPUs, flags: $(grep -m1 flags /proc/cpuinfo | tr ' ' '\n' | grep -E '^(avx2|avx512f|avx512_vnni|avx512_bf16|fma|f16c)$' | tr '\n' ' ')"
echo
for t in "${types[@]}"; do
    f="$dir/tinyllama-1.1b-$t.gguf"
    if [ ! -f "$f" ]; then
        case $t in
        *_[SML]) # a mix: llm quantize of the F16 model (several minutes on 2 cores)
            base="$dir/tinyllama-1.1b-f16.gguf"
            [ -f "$base" ] || build/llm synth --preset tinyllama-1.1b --type f16 --seed 1 -o "$base" 2>/dev/null
            build/llm quantize "$base" "$f" "${t^^}" 2>/dev/null ;;
        *) build/llm synth --preset tinyllama-1.1b --type "$t" --seed 1 -o "$f" 2>/dev/null ;;
        esac
    fi
    echo "### $t ($(du -hL "$f" | cut -f1))"
    echo
    echo '```'
    echo "build/llm bench -m $f -p 128 -n 64 -d $depth -t $threads -r $reps"
    echo '```'
    build/llm bench -m "$f" -p 128 -n 64 -d "$depth" -t "$threads" -r "$reps" 2>/dev/null
    if [ -n "${LLAMA_BENCH:-}" ]; then
        echo
        echo '```'
        echo "llama-bench -m $f -p 128 -n 64 -d $depth -t $threads -r $reps"
        echo '```'
        "$LLAMA_BENCH" -m "$f" -p 128 -n 64 -d "$depth" -t "$threads" -r "$reps" 2>/dev/null || echo "(llama-bench failed on this file)"
    fi
    echo
done
