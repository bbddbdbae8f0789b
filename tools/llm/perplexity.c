/* llm perplexity: perplexity of a text, and the KL divergence from a saved base run.

   As llama.cpp's perplexity tool: the text is tokenized once (with BOS where the model adds
   it) and cut into chunks of CTX tokens (the tail that does not fill a chunk is dropped); each
   chunk is decoded alone in one batch, its first token replaced by BOS, and only the second
   half is scored: the logits at position j (CTX/2 <= j < CTX-1) predict token j+1, so each chunk
   scores CTX - CTX/2 - 1 tokens with at least half a context before them.

   --save-base FILE writes, for every scored position, the base model's full log-softmax row:
       "LLMLOGP1"                 8 bytes
       n_vocab n_ctx n_chunk n_scored    4 x u32 LE (n_scored = positions scored per chunk)
       tokens                     n_chunk * n_ctx x i32 LE, each chunk as decoded (BOS first)
       rows                       n_chunk * n_scored * n_vocab x float32 LE log-probabilities
   Exact and simple; n_vocab floats a position (2 KB for a 512-token vocabulary, 500 KB for
   128K) is fine for test and evaluation texts of a few thousand tokens.
   --kl-base FILE decodes the same tokens and prints the mean, median, 99th percentile and
   maximum of KL(base || this model) over the scored positions, and how often both models'
   top-1 tokens agree. */
#include "common.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char perplexity_usage[] =
    "usage: llm perplexity -m MODEL -f TEXT [-c CTX] [--chunks N] [--save-base FILE] [--kl-base FILE]\n"
    "                      [-t N] [--kv-type f32|f16]\n"
    "\n"
    "Perplexity of the text in chunks of CTX tokens (default 512), scoring the second half of\n"
    "each chunk as llama.cpp does. Progress on stderr, results on stdout.\n"
    "  --chunks N        score at most N chunks\n"
    "  --save-base FILE  save every scored position's log-probabilities (a base run, e.g. F32)\n"
    "  --kl-base FILE    compare with a saved base run: KL divergence and top-1 agreement\n"
    "  -t N              threads; --kv-type: KV cache type (default f32)\n";

static void ppl_wu32(FILE *f, uint32_t v) {
    unsigned char b[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16), (unsigned char)(v >> 24)};
    if (fwrite(b, 1, 4, f) != 4) cli_fail("cannot write the base file: %s", strerror(errno));
}

static uint32_t ppl_ru32(FILE *f, const char *path) {
    unsigned char b[4];
    if (fread(b, 1, 4, f) != 4) cli_fail("'%s' ends early", path);
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static int ppl_cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* log-softmax of a row, in double, into out */
static void ppl_log_softmax(const float *logits, int n, double *out) {
    double mx = logits[0], sum = 0.0, lse;
    int i;
    for (i = 1; i < n; i++)
        if (logits[i] > mx) mx = logits[i];
    for (i = 0; i < n; i++) sum += exp((double)logits[i] - mx);
    lse = mx + log(sum);
    for (i = 0; i < n; i++) out[i] = (double)logits[i] - lse;
}

int cmd_perplexity(int argc, char **argv) {
    cli_args a = cli_begin(argc, argv, perplexity_usage);
    const char *s, *model_path = NULL, *text_path = NULL, *save_path = NULL, *kl_path = NULL;
    char err[512];
    int n_ctx = 512, max_chunks = INT_MAX, n_tok, n_chunk, n_vocab, first, n_scored, ch, j, v, rc;
    llm_context_params cp = llm_context_default_params();
    llm_model *m;
    llm_context *c;
    llm_token *tokens, *chunk;
    char *text;
    size_t text_len;
    FILE *save = NULL, *base = NULL;
    double nll = 0.0, nll2 = 0.0, base_nll = 0.0, *lp, *kl = NULL, t0;
    float *frow, *brow = NULL;
    long n_scored_all = 0, n_agree = 0, k, base_chunks = 0;

    cp.kv_type = LLM_KV_F32;
    while (cli_next(&a)) {
        if (cli_value(&a, "-m", "--model", &s)) model_path = s;
        else if (cli_value(&a, "-f", "--file", &s)) text_path = s;
        else if (cli_value(&a, "-c", "--ctx-size", &s)) n_ctx = (int)cli_int(&a, s, 4, 1 << 20);
        else if (cli_value(&a, NULL, "--chunks", &s)) max_chunks = (int)cli_int(&a, s, 1, INT_MAX);
        else if (cli_value(&a, NULL, "--save-base", &s)) save_path = s;
        else if (cli_value(&a, NULL, "--kl-base", &s)) kl_path = s;
        else if (cli_value(&a, "-t", "--threads", &s)) cp.n_threads = (int32_t)cli_int(&a, s, 0, 4096);
        else if (cli_value(&a, NULL, "--kv-type", &s)) cp.kv_type = cli_kv_type(&a, s);
        else cli_unknown(&a);
    }
    if (!model_path || !text_path) cli_usage_error(&a, "give a model (-m FILE) and a text (-f FILE)");

    m = cli_load_model(model_path, 0);
    n_vocab = llm_model_n_vocab(m);
    text = cli_read_file(text_path, &text_len);
    n_tok = llm_tokenize(m, text, text_len, NULL, 0, LLM_TOKENIZE_ADD_SPECIAL);
    if (n_tok < 0) cli_fail("cannot tokenize '%s': %s", text_path, llm_result_string(n_tok));
    tokens = (llm_token *)cli_alloc((size_t)n_tok * sizeof *tokens + 1);
    if (llm_tokenize(m, text, text_len, tokens, n_tok, LLM_TOKENIZE_ADD_SPECIAL) != n_tok) cli_fail("the token count changed");
    free(text);
    n_chunk = n_tok / n_ctx;
    if (n_chunk > max_chunks) n_chunk = max_chunks;
    if (n_chunk < 1) cli_fail("the text has %d tokens; a context of %d needs at least that many", n_tok, n_ctx);
    first = n_ctx / 2;
    n_scored = n_ctx - first - 1;

    if (kl_path) {
        char magic[8];
        base = fopen(kl_path, "rb");
        if (!base) cli_fail("cannot open '%s': %s", kl_path, strerror(errno));
        if (fread(magic, 1, 8, base) != 8 || memcmp(magic, "LLMLOGP1", 8) != 0) cli_fail("'%s' is not a saved base run", kl_path);
        if ((int)ppl_ru32(base, kl_path) != n_vocab) cli_fail("'%s' has another vocabulary size", kl_path);
        if ((int)ppl_ru32(base, kl_path) != n_ctx) cli_fail("'%s' was saved with another context size", kl_path);
        base_chunks = (long)ppl_ru32(base, kl_path);
        if (base_chunks < n_chunk) cli_fail("'%s' has %ld chunks, fewer than %d", kl_path, base_chunks, n_chunk);
        if ((int)ppl_ru32(base, kl_path) != n_scored) cli_fail("'%s' is damaged", kl_path);
        /* the tokens must be the same (read below, chunk by chunk) */
        kl = (double *)cli_alloc((size_t)n_chunk * (size_t)n_scored * sizeof *kl);
        brow = (float *)cli_alloc((size_t)n_vocab * sizeof *brow);
    }
    if (save_path) {
        save = fopen(save_path, "wb");
        if (!save) cli_fail("cannot create '%s': %s", save_path, strerror(errno));
        if (fwrite("LLMLOGP1", 1, 8, save) != 8) cli_fail("cannot write '%s'", save_path);
        ppl_wu32(save, (uint32_t)n_vocab);
        ppl_wu32(save, (uint32_t)n_ctx);
        ppl_wu32(save, (uint32_t)n_chunk);
        ppl_wu32(save, (uint32_t)n_scored);
    }

    cp.n_ctx = n_ctx;
    cp.n_batch = n_ctx;
    cp.n_outputs = n_ctx;
    c = llm_context_new(m, &cp, err, sizeof err);
    if (!c) cli_fail("%s", err);
    chunk = (llm_token *)cli_alloc((size_t)n_ctx * sizeof *chunk);
    for (ch = 0; ch < n_chunk; ch++) {
        memcpy(chunk, tokens + (size_t)ch * (size_t)n_ctx, (size_t)n_ctx * sizeof *chunk);
        if (llm_model_add_bos(m) && llm_token_bos(m) != LLM_TOKEN_NULL) chunk[0] = llm_token_bos(m);
        if (save)
            for (j = 0; j < n_ctx; j++) ppl_wu32(save, (uint32_t)chunk[j]);
        if (base)
            for (j = 0; j < n_ctx; j++)
                if ((llm_token)ppl_ru32(base, kl_path) != chunk[j])
                    cli_fail("'%s' was saved from another text or tokenizer (chunk %d, position %d)", kl_path, ch, j);
    }
    /* the base file's rows start after all its chunks' tokens */
    if (base && base_chunks > n_chunk && fseek(base, (base_chunks - n_chunk) * (long)n_ctx * 4, SEEK_CUR) != 0)
        cli_fail("cannot read '%s'", kl_path);
    lp = (double *)cli_alloc((size_t)n_vocab * sizeof *lp);
    frow = (float *)cli_alloc((size_t)n_vocab * sizeof *frow);
    t0 = cli_now_ms();
    for (ch = 0; ch < n_chunk; ch++) {
        double chunk_nll = 0.0;
        memcpy(chunk, tokens + (size_t)ch * (size_t)n_ctx, (size_t)n_ctx * sizeof *chunk);
        if (llm_model_add_bos(m) && llm_token_bos(m) != LLM_TOKEN_NULL) chunk[0] = llm_token_bos(m);
        llm_context_truncate(c, 0);
        rc = llm_decode(c, chunk, n_ctx, LLM_DECODE_ALL_LOGITS);
        if (rc != LLM_OK) cli_fail("%s", llm_context_error(c)[0] ? llm_context_error(c) : llm_result_string(rc));
        for (j = first; j < n_ctx - 1; j++) {
            const float *row = llm_logits(c, j);
            llm_token next = tokens[(size_t)ch * (size_t)n_ctx + (size_t)j + 1];
            double x;
            if (!row) cli_fail("no logits for position %d", j);
            ppl_log_softmax(row, n_vocab, lp);
            x = -lp[next];
            chunk_nll += x;
            nll2 += x * x;
            if (save) {
                for (v = 0; v < n_vocab; v++) frow[v] = (float)lp[v];
                if (fwrite(frow, sizeof(float), (size_t)n_vocab, save) != (size_t)n_vocab)
                    cli_fail("cannot write '%s': %s", save_path, strerror(errno));
            }
            if (base) {
                /* KL(base || this) = sum_v p_base(v) (log p_base(v) - log p(v)) */
                double d = 0.0;
                int top_b = 0, top_o = 0;
                if (fread(brow, sizeof(float), (size_t)n_vocab, base) != (size_t)n_vocab) cli_fail("'%s' ends early", kl_path);
                for (v = 0; v < n_vocab; v++) {
                    d += exp((double)brow[v]) * ((double)brow[v] - lp[v]);
                    if (brow[v] > brow[top_b]) top_b = v;
                    if (lp[v] > lp[top_o]) top_o = v;
                }
                kl[n_scored_all] = d < 0.0 ? 0.0 : d;
                n_agree += top_b == top_o;
                base_nll -= (double)brow[next];
            }
            n_scored_all++;
        }
        nll += chunk_nll;
        fprintf(stderr, "[%d/%d] ppl %.4f (%.1f s)\n", ch + 1, n_chunk, exp(nll / (double)n_scored_all),
                (cli_now_ms() - t0) / 1000.0);
    }
    {
        double mean = nll / (double)n_scored_all, var = nll2 / (double)n_scored_all - mean * mean;
        double ppl = exp(mean), se = var > 0 && n_scored_all > 1 ? ppl * sqrt(var / (double)(n_scored_all - 1)) : 0.0;
        printf("perplexity: %.6f +/- %.6f (%ld tokens scored in %d chunks of %d)\n", ppl, se, n_scored_all, n_chunk, n_ctx);
    }
    if (base) {
        double sum = 0.0;
        for (k = 0; k < n_scored_all; k++) sum += kl[k];
        qsort(kl, (size_t)n_scored_all, sizeof *kl, ppl_cmp_double);
        printf("base perplexity: %.6f\n", exp(base_nll / (double)n_scored_all));
        /* the 99th percentile: the value below which 99 % of the positions lie (nearest rank) */
        printf("kl mean: %.8f\nkl median: %.8f\nkl p99: %.8f\nkl max: %.8f\ntop1 agreement: %.4f\n",
               sum / (double)n_scored_all, kl[(n_scored_all - 1) / 2],
               kl[(long)ceil(0.99 * (double)n_scored_all) - 1], kl[n_scored_all - 1],
               (double)n_agree / (double)n_scored_all);
        fclose(base);
    }
    if (save && fclose(save) != 0) cli_fail("cannot write '%s': %s", save_path, strerror(errno));
    if (fflush(stdout) != 0) cli_fail("cannot write the output");
    free(kl);
    free(brow);
    free(lp);
    free(frow);
    free(chunk);
    free(tokens);
    llm_context_free(c);
    llm_model_free(m);
    return 0;
}
