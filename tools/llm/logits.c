/* llm logits: decodes a whole sequence in one batch and prints the top logits of every
   position, or saves every position's logits as raw little-endian float32 rows (the format
   of ../shared/refs, for comparing with llama.cpp). */
#include "common.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

static const char logits_usage[] =
    "usage: llm logits -m MODEL (-p TEXT | --ids 1,2,3) [-o FILE] [--top K] [options]\n"
    "\n"
    "Decodes the whole sequence in one batch and prints, per position, the K largest\n"
    "logits as \"pos<TAB>id:logit id:logit ...\"; with -o, writes every position's logits\n"
    "to FILE instead, as raw little-endian float32 rows (positions x n_vocab, no header).\n"
    "\n"
    "  -m, --model FILE     GGUF model, or a name from llm ls\n"
    "  -p, --prompt TEXT    the text, tokenized with BOS where the model asks for it\n"
    "      --ids LIST       token ids separated by commas, taken as given\n"
    "  -o, --output FILE    write the logits to FILE (\"-\" = stdout)\n"
    "      --top K          logits printed per position (default 5)\n"
    "  -t, --threads N      threads (default: every CPU this process may use)\n"
    "  -ngl N               layers to run on a GPU through Vulkan (0 = none, 99 = all)\n"
    "      --kv-type T        KV cache type: f32 (default, as the references use), f16, q8_0\n"
    "      --special        parse special tokens (\"<s>\") in the text\n"
    "      --no-bos         do not add BOS to the text\n"
    "  -h, --help           print this help\n";

/* Parses "1,2,3" (spaces allowed around the commas) into a new array; *n gets the count. */
static llm_token *logits_parse_ids(const cli_args *a, const char *s, int *n) {
    size_t cap = 1, i;
    int count = 0;
    llm_token *ids;
    const char *p;
    char *end;
    for (i = 0; s[i]; i++) cap += s[i] == ',';
    ids = (llm_token *)cli_alloc(cap * sizeof *ids);
    for (p = s;;) {
        long v;
        while (*p == ' ') p++;
        errno = 0;
        v = strtol(p, &end, 10);
        if (end == p || errno || v < 0 || v > INT32_MAX) cli_usage_error(a, "--ids: '%s' is not a list of token ids", s);
        ids[count++] = (llm_token)v;
        for (p = end; *p == ' ';) p++;
        if (*p == 0) break;
        if (*p++ != ',') cli_usage_error(a, "--ids: '%s' is not a list of token ids", s);
    }
    *n = count;
    return ids;
}

/* Writes rows of n_vocab floats as little-endian float32, whatever this machine's order. */
static void logits_write(FILE *f, const char *path, const float *row, int n_vocab) {
    const uint32_t one = 1;
    if (*(const unsigned char *)&one == 1) {
        if (fwrite(row, sizeof(float), (size_t)n_vocab, f) != (size_t)n_vocab)
            cli_fail("cannot write '%s': %s", path, strerror(errno));
    } else {
        int i;
        for (i = 0; i < n_vocab; i++) {
            unsigned char b[4];
            uint32_t u;
            memcpy(&u, &row[i], 4);
            b[0] = (unsigned char)u, b[1] = (unsigned char)(u >> 8);
            b[2] = (unsigned char)(u >> 16), b[3] = (unsigned char)(u >> 24);
            if (fwrite(b, 1, 4, f) != 4) cli_fail("cannot write '%s': %s", path, strerror(errno));
        }
    }
}

/* The row being sorted by logits_cmp (qsort has no user pointer). */
static const float *logits_sort_row;

/* Larger logit first, then the lower id. */
static int logits_cmp(const void *pa, const void *pb) {
    int x = *(const int *)pa, y = *(const int *)pb;
    float fx = logits_sort_row[x], fy = logits_sort_row[y];
    if (fx > fy) return -1;
    if (fx < fy) return 1;
    return (x > y) - (x < y);
}

/* Prints the k largest logits of a row, largest first, the lower id first among equals.
   top holds n_vocab ints. */
static void logits_print_top(int pos, const float *row, int n_vocab, int k, int *top) {
    int i, j, n = 0;
    if (k > 64) { /* many: sort everything */
        for (i = 0; i < n_vocab; i++) top[i] = i;
        logits_sort_row = row;
        qsort(top, (size_t)n_vocab, sizeof *top, logits_cmp);
        n = k;
    } else { /* few: insertion into the k best so far */
        for (i = 0; i < n_vocab; i++) {
            if (n == k && !(row[i] > row[top[n - 1]])) continue;
            j = n < k ? n++ : n - 1; /* the smallest drops out when full */
            while (j > 0 && row[i] > row[top[j - 1]]) {
                top[j] = top[j - 1];
                j--;
            }
            top[j] = i;
        }
    }
    printf("%d\t", pos);
    for (i = 0; i < n; i++) printf(i ? " %d:%.4f" : "%d:%.4f", top[i], row[top[i]]);
    putchar('\n');
}

int cmd_logits(int argc, char **argv) {
    cli_args a = cli_begin(argc, argv, logits_usage);
    int gpu_layers = 0;
    const char *s, *model_path = NULL, *text = NULL, *ids_text = NULL, *out_path = NULL;
    char err[512];
    int special = 0, no_bos = 0, top_k = 5, n = 0, n_vocab, i, rc, *top;
    double t0, ms;
    llm_model *m;
    llm_context *c;
    llm_token *tokens;
    FILE *out = NULL;
    llm_context_params cp = llm_context_default_params();

    cp.kv_type = LLM_KV_F32;
    while (cli_next(&a)) {
        if (cli_value(&a, "-m", "--model", &s)) model_path = s;
        else if (cli_value(&a, "-p", "--prompt", &s)) text = s;
        else if (cli_value(&a, NULL, "--ids", &s)) ids_text = s;
        else if (cli_value(&a, "-o", "--output", &s)) out_path = s;
        else if (cli_value(&a, NULL, "--top", &s)) top_k = (int)cli_int(&a, s, 1, INT_MAX);
        else if (cli_value(&a, "-t", "--threads", &s)) cp.n_threads = (int32_t)cli_int(&a, s, 0, 4096);
        else if (cli_value(&a, "-ngl", "--gpu-layers", &s)) gpu_layers = (int)cli_int(&a, s, 0, 100000);
        else if (cli_value(&a, NULL, "--kv-type", &s)) cp.kv_type = cli_kv_type(&a, s);
        else if (cli_flag(&a, NULL, "--special")) special = 1;
        else if (cli_flag(&a, NULL, "--no-bos")) no_bos = 1;
        else cli_unknown(&a);
    }
    if (!model_path) cli_usage_error(&a, "a model is needed (-m FILE)");
    if (!text == !ids_text) cli_usage_error(&a, "give either -p TEXT or --ids LIST");
    tokens = ids_text ? logits_parse_ids(&a, ids_text, &n) : NULL;
    if (out_path) { /* before the work, so that a bad path fails at once */
        out = strcmp(out_path, "-") == 0 ? stdout : fopen(out_path, "wb");
        if (!out) cli_fail("cannot create '%s': %s", out_path, strerror(errno));
    }

    m = cli_load_model_gpu(model_path, gpu_layers);
    n_vocab = llm_model_n_vocab(m);
    if (text) {
        int flags = (no_bos ? 0 : LLM_TOKENIZE_ADD_SPECIAL) | (special ? LLM_TOKENIZE_PARSE_SPECIAL : 0);
        n = llm_tokenize(m, text, strlen(text), NULL, 0, flags);
        if (n < 0) cli_fail("cannot tokenize: %s", llm_result_string(n));
        tokens = (llm_token *)cli_alloc((size_t)n * sizeof *tokens);
        if (llm_tokenize(m, text, strlen(text), tokens, n, flags) != n) cli_fail("the token count changed");
    }
    if (n == 0) cli_fail("no tokens to decode");
    for (i = 0; i < n; i++)
        if (tokens[i] >= n_vocab) cli_fail("token id %d is out of range (the vocabulary has %d)", tokens[i], n_vocab);

    /* one batch holding the whole sequence, a logits row for each token */
    cp.n_ctx = n;
    cp.n_batch = n;
    cp.n_outputs = n;
    c = llm_context_new(m, &cp, err, sizeof err);
    if (!c) cli_fail("%s", err);
    t0 = cli_now_ms();
    rc = llm_decode(c, tokens, n, LLM_DECODE_ALL_LOGITS);
    ms = cli_now_ms() - t0;
    if (rc != LLM_OK) cli_fail("%s", llm_context_error(c)[0] ? llm_context_error(c) : llm_result_string(rc));
    fprintf(stderr, "llm: decoded %d tokens in %.2f ms (%.2f tokens/s), threads %d, KV %s\n", n, ms,
            ms > 0 ? n * 1000.0 / ms : 0.0, llm_context_n_threads(c), cp.kv_type == LLM_KV_F16 ? "f16" : "f32");

    if (out) {
        for (i = 0; i < n; i++) {
            const float *row = llm_logits(c, i);
            if (!row) cli_fail("no logits for position %d", i);
            logits_write(out, out_path, row, n_vocab);
        }
        if (out == stdout ? fflush(out) != 0 : fclose(out) != 0) cli_fail("cannot write '%s': %s", out_path, strerror(errno));
        fprintf(stderr, "llm: wrote %d rows of %d float32 logits to %s\n", n, n_vocab, out_path);
    } else {
        if (top_k > n_vocab) top_k = n_vocab;
        top = (int *)cli_alloc((size_t)n_vocab * sizeof *top);
        for (i = 0; i < n; i++) {
            const float *row = llm_logits(c, i);
            if (!row) cli_fail("no logits for position %d", i);
            logits_print_top(i, row, n_vocab, top_k, top);
        }
        free(top);
        if (fflush(stdout) != 0) cli_fail("cannot write the output");
    }

    llm_context_free(c);
    llm_model_free(m);
    free(tokens);
    return 0;
}
