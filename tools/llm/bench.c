/* llm bench: the machine's memory read bandwidth, then prompt (pp) and generation (tg)
   tokens/s of a model with repetitions, the weight bytes streamed per second and the share
   of the bandwidth roofline generation reaches. Speed is measured here, never asserted. */
#include "common.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static const char bench_usage[] =
    "usage: llm bench -m MODEL [-p N] [-n N] [-t LIST] [-r N] [--kv-type f32|f16|q8_0] [--grammar F]\n"
    "                 [--json]\n"
    "\n"
    "Measures the read bandwidth of the machine (all threads), then for each thread count:\n"
    "prompt processing of N tokens in one batch (pp) and generation of N tokens one at a time\n"
    "(tg), repeated; prints the median and the spread, the weight bytes read per second during\n"
    "generation and their share of the measured bandwidth (the roofline), as a markdown table.\n"
    "\n"
    "  -m, --model FILE   GGUF model\n"
    "  -p N               prompt tokens (default 128; 0 skips pp)\n"
    "  -n N               generated tokens (default 64; 0 skips tg)\n"
    "  -t LIST            thread counts, e.g. 1,2 (default: llm_default_threads())\n"
    "  -ngl N             layers to run on a GPU through Vulkan (0 = none, 99 = all)\n"
    "  -r N               repetitions (default 5)\n"
    "      --kv-type T    KV cache type (default f16)\n"
    "      --grammar F    also time sampling under this GBNF grammar (or a .json schema): the\n"
    "                     milliseconds per token of the grammar-masked sampler over the whole\n"
    "                     vocabulary, against the same sampler without it\n"
    "      --json         one JSON object instead of the table\n"
    "  -h, --help         print this help\n";

/* ---- bandwidth: every thread sums its share of a large buffer, best of several passes ---- */

typedef struct bench_bw {
    const uint64_t *p;
    size_t n;
    uint64_t sum;
} bench_bw;

static void *bench_bw_thread(void *arg) {
    bench_bw *b = (bench_bw *)arg;
    uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    size_t i;
    for (i = 0; i + 4 <= b->n; i += 4) { /* independent sums: the loads, not the adds, limit */
        s0 += b->p[i];
        s1 += b->p[i + 1];
        s2 += b->p[i + 2];
        s3 += b->p[i + 3];
    }
    b->sum = s0 + s1 + s2 + s3;
    return NULL;
}

/* GB/s (1e9 bytes) reading 512 MiB with n threads. */
static double bench_bandwidth(int n_threads) {
    size_t bytes = (size_t)512 << 20, n = bytes / 8, i;
    uint64_t *buf = (uint64_t *)cli_alloc(bytes), sink = 0;
    double best = 0;
    int pass, t;
    bench_bw parts[64];
    pthread_t th[64];
    if (n_threads > 64) n_threads = 64;
    for (i = 0; i < n; i++) buf[i] = i; /* touch every page */
    for (pass = 0; pass < 5; pass++) {
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
    free(buf);
    if (sink == 42) fprintf(stderr, " "); /* keeps the sums alive */
    return best;
}

/* ---- tokens/s ---- */

static int bench_cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

typedef struct bench_result {
    int threads;
    double pp_med, pp_min, pp_max, tg_med, tg_min, tg_max;
} bench_result;

static void bench_stats(double *v, int n, double *med, double *lo, double *hi) {
    qsort(v, (size_t)n, sizeof *v, bench_cmp);
    *med = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
    *lo = v[0];
    *hi = v[n - 1];
}

static void bench_run(llm_model *m, int threads, int pp, int tg, int reps, llm_kv_type kv, bench_result *out) {
    llm_context_params cp = llm_context_default_params();
    llm_context *c;
    llm_token *ids;
    double pps[64], tgs[64];
    char err[256];
    int r, i, nv = llm_model_n_vocab(m), n = pp > 1 ? pp : 1;
    cp.n_ctx = pp + tg + 8;
    cp.n_batch = n;
    cp.n_threads = threads;
    cp.kv_type = kv;
    c = llm_context_new(m, &cp, err, sizeof err);
    if (!c) cli_fail("%s", err);
    ids = (llm_token *)cli_alloc(sizeof(llm_token) * (size_t)(n + tg));
    for (i = 0; i < n + tg; i++) ids[i] = (llm_token)((i * 7919 + 13) % nv);
    memset(out, 0, sizeof *out);
    out->threads = threads;
    llm_decode(c, ids, 1, 0); /* warm up: page in the weights */
    for (r = 0; r < reps; r++) {
        double t0;
        if (pp > 0) {
            llm_context_truncate(c, 0);
            t0 = cli_now_ms();
            if (llm_decode(c, ids, pp, 0) != LLM_OK) cli_fail("%s", llm_context_error(c));
            pps[r] = pp / ((cli_now_ms() - t0) / 1000.0);
        }
        if (tg > 0) { /* generation from an empty context, as llama-bench's tg test */
            llm_context_truncate(c, 0);
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

int cmd_bench(int argc, char **argv) {
    cli_args a = cli_begin(argc, argv, bench_usage);
    int gpu_layers = 0;
    const char *s, *path = NULL, *tlist = NULL, *grammar_path = NULL;
    int pp = 128, tg = 64, reps = 5, json = 0, threads[16], n_threads = 0, i;
    llm_kv_type kv = LLM_KV_F16;
    llm_model *m;
    double bw;
    bench_result res[16];
    double grammar_ms = -1, plain_ms = -1;
    char b1[32];

    while (cli_next(&a)) {
        if (cli_value(&a, "-m", "--model", &s)) path = s;
        else if (cli_value(&a, "-p", "--n-prompt", &s)) pp = (int)cli_int(&a, s, 0, 1 << 16);
        else if (cli_value(&a, "-n", "--n-gen", &s)) tg = (int)cli_int(&a, s, 0, 1 << 16);
        else if (cli_value(&a, "-t", "--threads", &s)) tlist = s;
        else if (cli_value(&a, "-ngl", "--gpu-layers", &s)) gpu_layers = (int)cli_int(&a, s, 0, 100000);
        else if (cli_value(&a, "-r", "--repetitions", &s)) reps = (int)cli_int(&a, s, 1, 64);
        else if (cli_value(&a, NULL, "--kv-type", &s)) kv = cli_kv_type(&a, s);
        else if (cli_value(&a, NULL, "--grammar", &s)) grammar_path = s;
        else if (cli_flag(&a, NULL, "--json")) json = 1;
        else cli_unknown(&a);
    }
    if (!path) cli_usage_error(&a, "a model is needed (-m FILE)");
    if (tlist) {
        const char *p = tlist;
        while (*p && n_threads < 16) {
            char num[16];
            size_t k = 0;
            while (*p && *p != ',' && k < sizeof num - 1) num[k++] = *p++;
            num[k] = 0;
            threads[n_threads++] = (int)cli_int(&a, num, 1, 64);
            if (*p == ',') p++;
        }
    } else {
        threads[n_threads++] = llm_default_threads();
    }
    m = cli_load_model_gpu(path, gpu_layers);
    fprintf(stderr, "llm bench: measuring read bandwidth ...\n");
    bw = bench_bandwidth(threads[n_threads - 1] > 1 ? threads[n_threads - 1] : llm_default_threads());
    for (i = 0; i < n_threads; i++) bench_run(m, threads[i], pp, tg, reps, kv, &res[i]);
    if (grammar_path) {
        char err[256], *text = cli_read_file(grammar_path, NULL);
        size_t len = strlen(grammar_path);
        int schema = len > 5 && strcmp(grammar_path + len - 5, ".json") == 0;
        llm_grammar *g = schema ? llm_grammar_from_json_schema(text, err, sizeof err) : llm_grammar_new(text, "root", err, sizeof err);
        if (!g) cli_fail("%s: %s", grammar_path, err);
        grammar_ms = bench_sampler_ms(m, g, 200);
        plain_ms = bench_sampler_ms(m, NULL, 200);
        llm_grammar_free(g);
        free(text);
    }
    if (json) {
        printf("{\"model\": ");
        cli_json_string(stdout, path, strlen(path));
        printf(", \"size_bytes\": %llu, \"bandwidth_gbs\": %.2f, \"runs\": [", (unsigned long long)llm_model_size_bytes(m), bw);
        for (i = 0; i < n_threads; i++) {
            double gbs = res[i].tg_med * (double)llm_model_size_bytes(m) / 1e9;
            printf("%s{\"threads\": %d, \"pp\": %d, \"pp_tps\": %.2f, \"pp_min\": %.2f, \"pp_max\": %.2f, \"tg\": %d, "
                   "\"tg_tps\": %.2f, \"tg_min\": %.2f, \"tg_max\": %.2f, \"tg_gbs\": %.2f, \"roofline\": %.3f}",
                   i ? ", " : "", res[i].threads, pp, res[i].pp_med, res[i].pp_min, res[i].pp_max, tg, res[i].tg_med,
                   res[i].tg_min, res[i].tg_max, gbs, bw > 0 ? gbs / bw : 0.0);
        }
        printf("]");
        if (grammar_ms >= 0) printf(", \"sampler_ms\": %.4f, \"sampler_grammar_ms\": %.4f", plain_ms, grammar_ms);
        printf("}\n");
    } else {
        printf("model %s, %s of weights; read bandwidth %.1f GB/s\n\n", path, cli_fmt_bytes(llm_model_size_bytes(m), b1, sizeof b1),
               bw);
        printf("| threads | pp%d tokens/s (min-max) | tg%d tokens/s (min-max) | tg GB/s | roofline |\n", pp, tg);
        printf("| --- | --- | --- | --- | --- |\n");
        for (i = 0; i < n_threads; i++) {
            double gbs = res[i].tg_med * (double)llm_model_size_bytes(m) / 1e9;
            printf("| %d | %.2f (%.2f-%.2f) | %.2f (%.2f-%.2f) | %.2f | %.0f %% |\n", res[i].threads, res[i].pp_med, res[i].pp_min,
                   res[i].pp_max, res[i].tg_med, res[i].tg_min, res[i].tg_max, gbs, bw > 0 ? 100.0 * gbs / bw : 0.0);
        }
        if (grammar_ms >= 0)
            printf("\nsampling over %d tokens: %.3f ms/token without a grammar, %.3f ms/token with %s\n", llm_model_n_vocab(m),
                   plain_ms, grammar_ms, grammar_path);
    }
    llm_model_free(m);
    return 0;
}
