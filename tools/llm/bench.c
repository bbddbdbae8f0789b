/* llm bench: the machine's memory read bandwidth, then prompt (pp) and generation (tg)
   tokens/s of a model with repetitions, the weight bytes streamed per second and the share
   of the bandwidth roofline generation reaches. Speed is measured here, never asserted. */
#if defined(__linux__) && !defined(_DEFAULT_SOURCE)
#define _DEFAULT_SOURCE /* madvise, MAP_ANONYMOUS */
#endif
#include "common.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#if defined(__linux__)
#include <sys/mman.h>
#endif

static const char bench_usage[] =
    "usage: llm bench -m MODEL [-p N] [-n N] [-d N] [-t LIST] [-r N] [--kv-type f32|f16|q8_0] [--streams N]\n"
    "                 [--grammar F] [--json] [--cost [cost options]]\n"
    "       llm bench --cost --tg TOKENS_PER_S [cost options]\n"
    "\n"
    "Measures the read bandwidth of the machine (all threads; best of before and after the\n"
    "runs), then for each thread count: prompt processing of N tokens in one batch (pp) and\n"
    "generation of N tokens one at a time (tg), repeated; prints the median and the spread, the\n"
    "weight bytes read per second during generation (every weight once a token, the embedding\n"
    "table one row) and their share of the measured bandwidth (the roofline), as a markdown table.\n"
    "\n"
    "  -m, --model FILE   GGUF model, or a name from llm ls\n"
    "  -p N               prompt tokens (default 128; 0 skips pp)\n"
    "  -n N               generated tokens (default 64; 0 skips tg)\n"
    "  -d N               context depth: N tokens already in the context before each pp and tg\n"
    "                     test (default 0), as a conversation's history; the roofline still\n"
    "                     counts the weights only, not the cache that attention reads\n"
    "  -t LIST            thread counts, e.g. 1,2 (default: llm_default_threads())\n"
    "  -ngl N             layers to run on a GPU through Vulkan (0 = none, 99 = all)\n"
    "  -r N               repetitions (default 5)\n"
    "      --kv-type T    KV cache type (default f16)\n"
    "      --streams N    also batched generation (tgN): N sequences in one context each grow by\n"
    "                     -n tokens, one token of every sequence per llm_decode_batch step, as\n"
    "                     llm serve runs N streams; prints the aggregate tokens/s\n"
    "      --grammar F    also time sampling under this GBNF grammar (or a .json schema): the\n"
    "                     milliseconds per token of the grammar-masked sampler over the whole\n"
    "                     vocabulary, against the same sampler without it\n"
    "      --json         one JSON object instead of the table\n"
    "  -h, --help         print this help\n"
    "\n"
    "--cost turns the generation speed into money with the arithmetic of the article this\n"
    "project answers (a year is 12 months of 30 days; electricity is paid for the hours the\n"
    "machine runs): the API's bill at the volume below, the electricity, the cost of a million\n"
    "tokens generated here, and the time the hardware takes to pay for itself. Any cost option\n"
    "implies --cost; the defaults are the article's (two RTX 4090s running a 70B model):\n"
    "      --tg N             generation tokens/s to use instead of measuring (no -m needed)\n"
    "      --pp N             prompt tokens/s likewise (default: measured, or unknown with --tg)\n"
    "      --hw-price USD     hardware price, paid once (default 4200)\n"
    "      --watts W          power drawn while running (default 700)\n"
    "      --hours H          hours a day it runs (default 8)\n"
    "      --kwh-price USD    electricity per kWh (default 0.15)\n"
    "      --no-electricity   leave electricity out (as --kwh-price 0)\n"
    "      --api-in USD       API price per million input tokens (default 0.50)\n"
    "      --api-out USD      API price per million output tokens (default 1.50)\n"
    "      --tokens-in N      input tokens a day, K/M/G = thousand/million/billion (default 1M)\n"
    "      --tokens-out N     output tokens a day (default 1M)\n"
    "      --years N          years to pay off the hardware in the cost per token (default 3)\n";

/* ---- bandwidth: every thread sums its share of a large buffer, best of several passes ---- */

typedef struct bench_bw {
    const uint64_t *p;
    size_t n;
    uint64_t sum;
} bench_bw;

/* Sums of 64-bit words, the widest loads the machine has (AVX2 on x86-64 when the CPU has it,
   NEON on AArch64): four independent sums, so the loads, not the adds, set the pace. */
static uint64_t bench_sum_scalar(const uint64_t *p, size_t n) {
    uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    size_t i;
    for (i = 0; i + 4 <= n; i += 4) {
        s0 += p[i];
        s1 += p[i + 1];
        s2 += p[i + 2];
        s3 += p[i + 3];
    }
    return s0 + s1 + s2 + s3;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
__attribute__((target("avx2"))) static uint64_t bench_sum_avx2(const uint64_t *p, size_t n) {
    __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
    uint64_t out[4];
    size_t i;
    for (i = 0; i + 16 <= n; i += 16) {
        a0 = _mm256_add_epi64(a0, _mm256_loadu_si256((const __m256i *)(p + i)));
        a1 = _mm256_add_epi64(a1, _mm256_loadu_si256((const __m256i *)(p + i + 4)));
        a2 = _mm256_add_epi64(a2, _mm256_loadu_si256((const __m256i *)(p + i + 8)));
        a3 = _mm256_add_epi64(a3, _mm256_loadu_si256((const __m256i *)(p + i + 12)));
    }
    _mm256_storeu_si256((__m256i *)out, _mm256_add_epi64(_mm256_add_epi64(a0, a1), _mm256_add_epi64(a2, a3)));
    return out[0] + out[1] + out[2] + out[3] + bench_sum_scalar(p + i, n - i);
}
#elif defined(__aarch64__)
#include <arm_neon.h>
static uint64_t bench_sum_neon(const uint64_t *p, size_t n) {
    uint64x2_t a0 = vdupq_n_u64(0), a1 = a0, a2 = a0, a3 = a0;
    size_t i;
    for (i = 0; i + 8 <= n; i += 8) {
        a0 = vaddq_u64(a0, vld1q_u64(p + i));
        a1 = vaddq_u64(a1, vld1q_u64(p + i + 2));
        a2 = vaddq_u64(a2, vld1q_u64(p + i + 4));
        a3 = vaddq_u64(a3, vld1q_u64(p + i + 6));
    }
    a0 = vaddq_u64(vaddq_u64(a0, a1), vaddq_u64(a2, a3));
    return vgetq_lane_u64(a0, 0) + vgetq_lane_u64(a0, 1) + bench_sum_scalar(p + i, n - i);
}
#endif

static void *bench_bw_thread(void *arg) {
    bench_bw *b = (bench_bw *)arg;
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    if (llm_cpu_features() & LLM_CPU_AVX2) {
        b->sum = bench_sum_avx2(b->p, b->n);
        return NULL;
    }
#elif defined(__aarch64__)
    b->sum = bench_sum_neon(b->p, b->n);
    return NULL;
#endif
    b->sum = bench_sum_scalar(b->p, b->n);
    return NULL;
}

/* The bandwidth buffer: on Linux advised as huge pages, as llm.h's packed weights are, so
   the stream is not slowed by TLB misses the model does not have. */
static void *bench_bw_alloc(size_t bytes) {
#if defined(__linux__)
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) cli_fail("out of memory (%zu bytes)", bytes);
    madvise(p, bytes, MADV_HUGEPAGE); /* advice only: 4 KiB pages if refused */
    return p;
#else
    return cli_alloc(bytes);
#endif
}

static void bench_bw_free(void *p, size_t bytes) {
#if defined(__linux__)
    munmap(p, bytes);
#else
    (void)bytes;
    free(p);
#endif
}

/* GB/s (1e9 bytes) reading 512 MiB with n threads: the best of several passes. */
static double bench_bandwidth(int n_threads) {
    size_t bytes = (size_t)512 << 20, n = bytes / 8, i;
    uint64_t *buf = (uint64_t *)bench_bw_alloc(bytes), sink = 0;
    double best = 0;
    int pass, t;
    bench_bw parts[64];
    pthread_t th[64];
    if (n_threads > 64) n_threads = 64;
    for (i = 0; i < n; i++) buf[i] = i; /* touch every page */
    for (pass = 0; pass < 8; pass++) {
        double t0 = cli_now_ms(), ms;
        for (t = 0; t < n_threads; t++) {
            parts[t].p = buf + n / n_threads * t;
            parts[t].n = n / n_threads;
        }
        for (t = 1; t < n_threads; t++) pthread_create(&th[t], NULL, bench_bw_thread, &parts[t]);
        bench_bw_thread(&parts[0]);
        for (t = 1; t < n_threads; t++) pthread_join(th[t], NULL);
        ms = cli_now_ms() - t0;
        for (t = 0; t < n_threads; t++) sink += parts[t].sum;
        if (ms > 0 && bytes / ms / 1e6 > best) best = (double)bytes / ms / 1e6;
    }
    bench_bw_free(buf, bytes);
    if (sink == 42) fprintf(stderr, " "); /* keeps the sums alive */
    return best;
}

/* A hyper-parameter of llm_model_hparam as an integer, or 0 when the model has none. */
static long bench_hparam(const llm_model *m, const char *want) {
    const char *name;
    char value[64];
    int i;
    for (i = 0; llm_model_hparam(m, i, &name, value, sizeof value); i++)
        if (strcmp(name, want) == 0) return strtol(value, NULL, 10);
    return 0;
}

/* Bytes of weights one generated token reads: every tensor, except that an embedding table
   looked up by token or position gives one row (token_embd counts whole when it is also the
   output matrix, as when output.weight is absent) and a mixture of experts reads only the
   experts it routes to (n_expert_used of n_expert). The KV cache is left out: at llama-bench's
   short contexts it is under 1 % of this. */
static uint64_t bench_decode_bytes(const llm_model *m) {
    uint64_t bytes = 0;
    long n_expert = bench_hparam(m, "n_expert"), n_used = bench_hparam(m, "n_expert_used");
    int i, n = llm_model_tensor_count(m), tied = llm_model_tensor_find(m, "output.weight") < 0;
    for (i = 0; i < n; i++) {
        llm_tensor_info t;
        if (llm_model_tensor_info(m, i, &t) != LLM_OK) continue;
        if ((strcmp(t.name, "token_embd.weight") == 0 && !tied) || strcmp(t.name, "position_embd.weight") == 0 ||
            strcmp(t.name, "token_types.weight") == 0)
            bytes += llm_type_row_size(t.type, t.ne[0]);
        else if (strstr(t.name, "_exps.") && n_expert > 0 && n_used > 0 && n_used <= n_expert)
            bytes += t.size_bytes / (uint64_t)n_expert * (uint64_t)n_used;
        else
            bytes += t.size_bytes;
    }
    return bytes;
}

/* ---- tokens/s ---- */

static int bench_cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

typedef struct bench_result {
    int threads;
    double pp_med, pp_min, pp_max, tg_med, tg_min, tg_max, st_med, st_min, st_max;
} bench_result;

static void bench_stats(double *v, int n, double *med, double *lo, double *hi) {
    qsort(v, (size_t)n, sizeof *v, bench_cmp);
    *med = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
    *lo = v[0];
    *hi = v[n - 1];
}

/* A context of n_ctx positions per sequence for n_seq sequences, batches of n_batch tokens
   with a logits row for each token of a batch of n_seq. Exits on failure. */
static llm_context *bench_context(llm_model *m, int threads, llm_kv_type kv, int n_ctx, int n_batch, int n_seq) {
    llm_context_params cp = llm_context_default_params();
    llm_context *c;
    char err[256];
    cp.n_ctx = n_ctx;
    cp.n_batch = n_batch;
    cp.n_seq_max = cp.n_outputs = n_seq;
    cp.n_threads = threads;
    cp.kv_type = kv;
    c = llm_context_new(m, &cp, err, sizeof err);
    if (!c) cli_fail("%s", err);
    return c;
}

/* pp and tg of one thread count, each test on top of depth tokens already in the context
   (decoded once, in batches, before the repetitions; each test truncates back to them). */
static void bench_run(llm_model *m, int threads, int pp, int tg, int depth, int reps, llm_kv_type kv, bench_result *out) {
    llm_context *c;
    llm_token *ids;
    double pps[64], tgs[64];
    int r, i, nv = llm_model_n_vocab(m), n = pp > 1 ? pp : 1, batch = n > 512 ? n : 512;
    c = bench_context(m, threads, kv, depth + pp + tg + 8, depth > 0 ? batch : n, 1);
    ids = (llm_token *)cli_alloc(sizeof(llm_token) * (size_t)(n + tg + depth));
    for (i = 0; i < n + tg + depth; i++) ids[i] = (llm_token)((i * 7919 + 13) % nv);
    memset(out, 0, sizeof *out);
    out->threads = threads;
    llm_decode(c, ids, 1, 0); /* warm up: page in the weights */
    llm_context_truncate(c, 0);
    for (i = 0; i < depth; i += batch)
        if (llm_decode(c, ids + n + tg + i, depth - i < batch ? depth - i : batch, 0) != LLM_OK) cli_fail("%s", llm_context_error(c));
    for (r = 0; r < reps; r++) {
        double t0;
        if (pp > 0) {
            llm_context_truncate(c, depth);
            t0 = cli_now_ms();
            if (llm_decode(c, ids, pp, 0) != LLM_OK) cli_fail("%s", llm_context_error(c));
            pps[r] = pp / ((cli_now_ms() - t0) / 1000.0);
        }
        if (tg > 0) { /* generation from the depth (an empty context by default), as llama-bench's tg test */
            llm_context_truncate(c, depth);
            t0 = cli_now_ms();
            for (i = 0; i < tg; i++)
                if (llm_decode(c, &ids[n + i], 1, 0) != LLM_OK) cli_fail("%s", llm_context_error(c));
            tgs[r] = tg / ((cli_now_ms() - t0) / 1000.0);
        }
        fprintf(stderr, "\rllm bench: %d threads, repetition %d/%d", threads, r + 1, reps);
    }
    fprintf(stderr, "\n");
    if (pp > 0) bench_stats(pps, reps, &out->pp_med, &out->pp_min, &out->pp_max);
    if (tg > 0) bench_stats(tgs, reps, &out->tg_med, &out->tg_min, &out->tg_max);
    free(ids);
    llm_context_free(c);
}

/* Aggregate tokens/s of n_streams sequences generated together from empty: each step is one
   llm_decode_batch of one token per sequence, every token's logits computed (as a server
   samples every stream). */
static void bench_run_streams(llm_model *m, int threads, int n_streams, int tg, int reps, llm_kv_type kv, bench_result *out) {
    llm_context *c = bench_context(m, threads, kv, tg + 8, n_streams, n_streams);
    llm_token *ids;
    int32_t *seq;
    int8_t *want;
    llm_batch b;
    double v[64];
    int r, i, s, nv = llm_model_n_vocab(m);
    ids = (llm_token *)cli_alloc(sizeof(llm_token) * (size_t)n_streams);
    seq = (int32_t *)cli_alloc(sizeof(int32_t) * (size_t)n_streams);
    want = (int8_t *)cli_alloc((size_t)n_streams);
    for (s = 0; s < n_streams; s++) seq[s] = s, want[s] = 1;
    memset(&b, 0, sizeof b);
    b.n = n_streams, b.tokens = ids, b.seq = seq, b.logits = want;
    for (r = 0; r < reps; r++) {
        double t0;
        for (s = 0; s < n_streams; s++) llm_seq_truncate(c, s, 0);
        t0 = cli_now_ms();
        for (i = 0; i < tg; i++) {
            for (s = 0; s < n_streams; s++) ids[s] = (llm_token)(((i + 64 * s) * 7919 + 13) % nv);
            if (llm_decode_batch(c, &b) != LLM_OK) cli_fail("%s", llm_context_error(c));
        }
        v[r] = (double)tg * n_streams / ((cli_now_ms() - t0) / 1000.0);
        fprintf(stderr, "\rllm bench: %d threads, %d streams, repetition %d/%d", threads, n_streams, r + 1, reps);
    }
    fprintf(stderr, "\n");
    bench_stats(v, reps, &out->st_med, &out->st_min, &out->st_max);
    free(ids);
    free(seq);
    free(want);
    llm_context_free(c);
}

/* Milliseconds per token of sampling (temperature 1, top-k 40) from n_vocab random logits,
   with the grammar (which advances with each accepted token) or without. Restarts the
   sampler when the grammar completes. */
static double bench_sampler_ms(llm_model *m, const llm_grammar *g, int n_tokens) {
    llm_sampler_params sp = llm_sampler_default_params();
    llm_sampler *smp;
    int nv = llm_model_n_vocab(m), i, j;
    float *logits = (float *)cli_alloc(sizeof(float) * (size_t)nv);
    uint64_t x = 88172645463325252ull;
    double t0, total = 0;
    sp.grammar = g;
    sp.seed = 1;
    smp = llm_sampler_new(m, &sp);
    if (!smp) cli_fail("cannot make a sampler");
    for (i = 0; i < n_tokens; i++) {
        llm_token t;
        for (j = 0; j < nv; j++) { /* fresh random logits each step, like a model's */
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            logits[j] = (float)((x >> 40) & 0xffff) / 4096.0f;
        }
        t0 = cli_now_ms();
        t = llm_sampler_sample(smp, logits);
        llm_sampler_accept(smp, t);
        total += cli_now_ms() - t0;
        if (llm_token_is_eog(m, t) || (g && llm_sampler_grammar_complete(smp))) llm_sampler_reset(smp);
    }
    llm_sampler_free(smp);
    free(logits);
    return total / n_tokens;
}

/* "1M", "2.5K", "10000000": a count with K, M, G as thousand, million, billion (tokens are
   counted in decimal, unlike bytes). */
static double bench_count(const cli_args *a, const char *s) {
    char *end;
    double v = strtod(s, &end), mul = 1;
    if (end == s) cli_usage_error(a, "'%s' is not a count", s);
    if (*end == 'K' || *end == 'k') mul = 1e3, end++;
    else if (*end == 'M' || *end == 'm') mul = 1e6, end++;
    else if (*end == 'G' || *end == 'g' || *end == 'B' || *end == 'b') mul = 1e9, end++;
    if (*end || !(v >= 0) || v * mul > 1e15) cli_usage_error(a, "'%s' is not a count of tokens (e.g. 1M)", s);
    return v * mul;
}

/* The options of --cost; returns 1 if the current argument was one. */
static int bench_cost_option(cli_args *a, cli_cost_inputs *in) {
    const char *s;
    if (cli_value(a, NULL, "--tg", &s)) in->tg_tps = cli_float(a, s, 1e-6, 1e9);
    else if (cli_value(a, NULL, "--pp", &s)) in->pp_tps = cli_float(a, s, 1e-6, 1e9);
    else if (cli_value(a, NULL, "--hw-price", &s)) in->hw_price = cli_float(a, s, 0, 1e12);
    else if (cli_value(a, NULL, "--watts", &s)) in->watts = cli_float(a, s, 0, 1e9);
    else if (cli_value(a, NULL, "--hours", &s)) in->hours_per_day = cli_float(a, s, 0, 24);
    else if (cli_value(a, NULL, "--kwh-price", &s)) in->kwh_price = cli_float(a, s, 0, 1e6);
    else if (cli_flag(a, NULL, "--no-electricity")) in->kwh_price = 0;
    else if (cli_value(a, NULL, "--api-in", &s)) in->api_in = cli_float(a, s, 0, 1e6);
    else if (cli_value(a, NULL, "--api-out", &s)) in->api_out = cli_float(a, s, 0, 1e6);
    else if (cli_value(a, NULL, "--tokens-in", &s)) in->tokens_in = bench_count(a, s);
    else if (cli_value(a, NULL, "--tokens-out", &s)) in->tokens_out = bench_count(a, s);
    else if (cli_value(a, NULL, "--years", &s)) in->years = cli_float(a, s, 0.01, 100);
    else return cli_flag(a, NULL, "--cost");
    return 1;
}

static void bench_cost_json(const cli_cost_inputs *in, const cli_cost *c) {
    printf("{\"hw_price\": %g, \"watts\": %g, \"hours_per_day\": %g, \"kwh_price\": %g, \"api_in\": %g, \"api_out\": %g, "
           "\"tokens_in_per_day\": %.0f, \"tokens_out_per_day\": %.0f, \"years\": %g, \"days_per_year\": %d, \"tg_tps\": %.3f, "
           "\"pp_tps\": %.3f, \"api_per_day\": %.4f, \"api_per_year\": %.2f, \"electricity_per_day\": %.4f, "
           "\"electricity_per_year\": %.2f",
           in->hw_price, in->watts, in->hours_per_day, in->kwh_price, in->api_in, in->api_out, in->tokens_in, in->tokens_out,
           in->years, CLI_COST_DAYS_PER_YEAR, in->tg_tps, in->pp_tps, c->api_day, c->api_year, c->elec_day, c->elec_year);
    if (in->tg_tps > 0)
        printf(", \"local_per_mtok\": %.6f, \"local_electricity_per_mtok\": %.6f, \"hours_needed_per_day\": %.4f", c->local_per_mtok,
               c->local_elec_per_mtok, c->hours_needed);
    printf(", \"breakeven_years\": ");
    if (isfinite(c->breakeven_years)) printf("%.4f", c->breakeven_years);
    else printf("null");
    printf(", \"breakeven_years_no_electricity\": ");
    if (isfinite(c->breakeven_years_no_elec)) printf("%.4f}", c->breakeven_years_no_elec);
    else printf("null}");
}

static int bench_parse_threads(const cli_args *a, const char *tlist, int *threads) {
    const char *p = tlist;
    int n = 0;
    if (!tlist) {
        threads[0] = llm_default_threads();
        return 1;
    }
    while (*p && n < 16) {
        char num[16];
        size_t k = 0;
        while (*p && *p != ',' && k < sizeof num - 1) num[k++] = *p++;
        num[k] = 0;
        threads[n++] = (int)cli_int(a, num, 1, 64);
        if (*p == ',') p++;
    }
    return n;
}

typedef struct bench_report {
    const char *path;
    llm_model *m;
    double bw;
    int pp, tg, depth, n_threads, streams;
    bench_result res[16];
    const char *grammar_path;
    double grammar_ms, plain_ms;
} bench_report;

static void bench_print_json(const bench_report *r, const cli_cost_inputs *in, const cli_cost *c) {
    int i;
    printf("{");
    if (r->m) {
        uint64_t size = bench_decode_bytes(r->m);
        printf("\"model\": ");
        cli_json_string(stdout, r->path, strlen(r->path));
        printf(", \"size_bytes\": %llu, \"decode_bytes\": %llu, \"bandwidth_gbs\": %.2f, \"runs\": [",
               (unsigned long long)llm_model_size_bytes(r->m), (unsigned long long)size, r->bw);
        for (i = 0; i < r->n_threads; i++) {
            const bench_result *x = &r->res[i];
            double gbs = x->tg_med * (double)size / 1e9;
            printf("%s{\"threads\": %d, \"depth\": %d, \"pp\": %d, \"pp_tps\": %.2f, \"pp_min\": %.2f, \"pp_max\": %.2f, \"tg\": %d, "
                   "\"tg_tps\": %.2f, \"tg_min\": %.2f, \"tg_max\": %.2f, \"tg_gbs\": %.2f, \"roofline\": %.3f",
                   i ? ", " : "", x->threads, r->depth, r->pp, x->pp_med, x->pp_min, x->pp_max, r->tg, x->tg_med, x->tg_min, x->tg_max,
                   gbs, r->bw > 0 ? gbs / r->bw : 0.0);
            if (r->streams > 0)
                printf(", \"streams\": %d, \"streams_tps\": %.2f, \"streams_min\": %.2f, \"streams_max\": %.2f}", r->streams,
                       x->st_med, x->st_min, x->st_max);
            else
                printf("}");
        }
        printf("]");
        if (r->grammar_ms >= 0) printf(", \"sampler_ms\": %.4f, \"sampler_grammar_ms\": %.4f", r->plain_ms, r->grammar_ms);
    }
    if (in) {
        printf("%s\"cost\": ", r->m ? ", " : "");
        bench_cost_json(in, c);
    }
    printf("}\n");
}

static void bench_print_table(const bench_report *r) {
    uint64_t size = bench_decode_bytes(r->m);
    char b1[32], b2[32], at[32] = "";
    int i;
    printf("model %s, %s of weights, %s read per generated token; read bandwidth %.1f GB/s\n\n", r->path,
           cli_fmt_bytes(llm_model_size_bytes(r->m), b1, sizeof b1), cli_fmt_bytes(size, b2, sizeof b2), r->bw);
    if (r->depth > 0) snprintf(at, sizeof at, " @ d%d", r->depth); /* llama-bench's label for a test at a depth */
    printf("| threads | pp%d%s tokens/s (min-max) | tg%d%s tokens/s (min-max) | tg GB/s | roofline |", r->pp, at, r->tg, at);
    if (r->streams > 0) printf(" tg%d x %d streams, tokens/s (min-max) |", r->tg, r->streams);
    printf("\n| --- | --- | --- | --- | --- |%s\n", r->streams > 0 ? " --- |" : "");
    for (i = 0; i < r->n_threads; i++) {
        const bench_result *x = &r->res[i];
        double gbs = x->tg_med * (double)size / 1e9;
        printf("| %d | %.2f (%.2f-%.2f) | %.2f (%.2f-%.2f) | %.2f | %.0f %% |", x->threads, x->pp_med, x->pp_min, x->pp_max,
               x->tg_med, x->tg_min, x->tg_max, gbs, r->bw > 0 ? 100.0 * gbs / r->bw : 0.0);
        if (r->streams > 0) printf(" %.2f (%.2f-%.2f) |", x->st_med, x->st_min, x->st_max);
        printf("\n");
    }
    if (r->grammar_ms >= 0)
        printf("\nsampling over %d tokens: %.3f ms/token without a grammar, %.3f ms/token with %s\n", llm_model_n_vocab(r->m),
               r->plain_ms, r->grammar_ms, r->grammar_path);
}

static void bench_grammar(bench_report *r) {
    char err[256], *text = cli_read_file(r->grammar_path, NULL);
    size_t len = strlen(r->grammar_path);
    int schema = len > 5 && strcmp(r->grammar_path + len - 5, ".json") == 0;
    llm_grammar *g = schema ? llm_grammar_from_json_schema(text, err, sizeof err) : llm_grammar_new(text, "root", err, sizeof err);
    if (!g) cli_fail("%s: %s", r->grammar_path, err);
    r->grammar_ms = bench_sampler_ms(r->m, g, 200);
    r->plain_ms = bench_sampler_ms(r->m, NULL, 200);
    llm_grammar_free(g);
    free(text);
}

/* The measured speeds --cost uses unless given: the best median over the thread counts. */
static void bench_cost_speeds(const bench_report *r, cli_cost_inputs *in) {
    int i;
    for (i = 0; i < r->n_threads; i++) {
        if (r->res[i].tg_med > in->tg_tps) in->tg_tps = r->res[i].tg_med;
        if (r->res[i].pp_med > in->pp_tps) in->pp_tps = r->res[i].pp_med;
    }
}

int cmd_bench(int argc, char **argv) {
    cli_args a = cli_begin(argc, argv, bench_usage);
    const char *s, *tlist = NULL;
    int reps = 5, json = 0, threads[16], i, cost = 0, tg_given, gpu_layers = 0, bw_threads;
    llm_kv_type kv = LLM_KV_F16;
    bench_report r;
    cli_cost_inputs in;
    cli_cost c;

    memset(&r, 0, sizeof r);
    r.pp = 128, r.tg = 64, r.grammar_ms = r.plain_ms = -1;
    cli_cost_default_inputs(&in);
    while (cli_next(&a)) {
        if (cli_value(&a, "-m", "--model", &s)) r.path = s;
        else if (cli_value(&a, "-p", "--n-prompt", &s)) r.pp = (int)cli_int(&a, s, 0, 1 << 16);
        else if (cli_value(&a, "-n", "--n-gen", &s)) r.tg = (int)cli_int(&a, s, 0, 1 << 16);
        else if (cli_value(&a, "-d", "--n-depth", &s)) r.depth = (int)cli_int(&a, s, 0, 1 << 20);
        else if (cli_value(&a, "-t", "--threads", &s)) tlist = s;
        else if (cli_value(&a, "-ngl", "--gpu-layers", &s)) gpu_layers = (int)cli_int(&a, s, 0, 100000);
        else if (cli_value(&a, "-r", "--repetitions", &s)) reps = (int)cli_int(&a, s, 1, 64);
        else if (cli_value(&a, NULL, "--kv-type", &s)) kv = cli_kv_type(&a, s);
        else if (cli_value(&a, NULL, "--grammar", &s)) r.grammar_path = s;
        else if (cli_value(&a, NULL, "--streams", &s)) r.streams = (int)cli_int(&a, s, 1, 256);
        else if (cli_flag(&a, NULL, "--json")) json = 1;
        else if (bench_cost_option(&a, &in)) cost = 1;
        else cli_unknown(&a);
    }
    tg_given = in.tg_tps > 0;
    if (!r.path && !(cost && tg_given)) cli_usage_error(&a, "a model is needed (-m FILE), or --cost --tg TOKENS_PER_S");
    if (!tg_given) { /* --tg given: the speed is known, nothing to measure */
        r.n_threads = bench_parse_threads(&a, tlist, threads);
        r.m = cli_load_model_gpu(r.path, gpu_layers);
        fprintf(stderr, "llm bench: measuring read bandwidth ...\n");
        bw_threads = threads[r.n_threads - 1] > 1 ? threads[r.n_threads - 1] : llm_default_threads();
        r.bw = bench_bandwidth(bw_threads);
        for (i = 0; i < r.n_threads; i++) {
            bench_run(r.m, threads[i], r.pp, r.tg, r.depth, reps, kv, &r.res[i]);
            if (r.streams > 0 && r.tg > 0) bench_run_streams(r.m, threads[i], r.streams, r.tg, reps, kv, &r.res[i]);
        }
        if (r.tg > 0) { /* the machine's bandwidth moves with its neighbours: the best of before and after */
            double after = bench_bandwidth(bw_threads);
            if (after > r.bw) r.bw = after;
        }
        if (r.grammar_path) bench_grammar(&r);
        if (cost) bench_cost_speeds(&r, &in);
    }
    if (cost) cli_cost_compute(&in, &c);
    if (json) {
        bench_print_json(&r, cost ? &in : NULL, &c);
    } else {
        if (r.m) bench_print_table(&r);
        if (r.m && cost) printf("\n");
        if (cost) cli_cost_print(stdout, &in, &c);
    }
    if (fflush(stdout) != 0) cli_fail("cannot write the output");
    llm_model_free(r.m);
    return 0;
}
