/* llm info: what a model file holds and what running it needs: metadata, hyper-parameters,
   tensor types, parameter count, memory for weights, KV cache and scratch. */
#include "common.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char info_usage[] =
    "usage: llm info MODEL [-c CTX] [--mem SIZE] [--tensors] [--json]\n"
    "\n"
    "Prints a model's metadata, hyper-parameters, tensor types, parameter count and the\n"
    "memory it needs for weights, KV cache (F16 and F32) and scratch. MODEL is a GGUF file\n"
    "or a name from llm ls.\n"
    "\n"
    "  -c, --ctx-size N  context for the KV cache estimate, K suffix allowed (default: the\n"
    "                    training context)\n"
    "      --mem SIZE    which quantizations of this model fit in SIZE bytes (K, M, G\n"
    "                    suffixes) with the KV cache (F16) and scratch at -c\n"
    "      --tensors     list every tensor: name, type, shape, bytes\n"
    "      --json        print one JSON object instead of text\n"
    "  -h, --help        print this help\n";

/* Metadata values longer than this are cut in the text output (--json has them whole). */
#define INFO_TEXT_VALUE_MAX 120

typedef struct info_memory {
    int n_ctx, n_batch;
    llm_memory_estimate f16, f32;
} info_memory;

/* Metadata value i as text, in a new buffer; *len gets its length. */
static char *info_meta_value(const llm_model *m, int i, size_t *len) {
    char small[256], *buf;
    int n = llm_model_meta_value(m, i, small, sizeof small);
    if (n < 0) cli_fail("cannot read metadata value %d", i);
    buf = (char *)cli_alloc((size_t)n + 1);
    if ((size_t)n < sizeof small) memcpy(buf, small, (size_t)n + 1);
    else llm_model_meta_value(m, i, buf, (size_t)n + 1);
    *len = (size_t)n;
    return buf;
}

static void info_tensor(const llm_model *m, int i, llm_tensor_info *t) {
    if (llm_model_tensor_info(m, i, t) != LLM_OK) cli_fail("cannot read tensor %d", i);
}

static const char *info_type_name(int type, char *buf, size_t size) {
    const char *name = llm_type_name(type);
    if (name) return name;
    snprintf(buf, size, "type%d", type);
    return buf;
}

/* Counts tensors per type into counts[LLM_TYPE_COUNT + 1] (the last: unknown ids). */
static void info_count_types(const llm_model *m, int *counts) {
    int i, n = llm_model_tensor_count(m);
    llm_tensor_info t;
    memset(counts, 0, (LLM_TYPE_COUNT + 1) * sizeof *counts);
    for (i = 0; i < n; i++) {
        info_tensor(m, i, &t);
        counts[t.type >= 0 && t.type < LLM_TYPE_COUNT ? t.type : LLM_TYPE_COUNT]++;
    }
}

static void info_estimate(llm_model *m, int n_ctx, info_memory *mem) {
    llm_context_params p = llm_context_default_params();
    int rc;
    mem->n_ctx = n_ctx > 0 ? n_ctx : 4096;
    mem->n_batch = mem->n_ctx < 512 ? mem->n_ctx : 512;
    p.n_ctx = mem->n_ctx;
    p.n_batch = mem->n_batch;
    p.kv_type = LLM_KV_F16;
    if ((rc = llm_context_estimate(m, &p, &mem->f16)) != LLM_OK)
        cli_fail("cannot estimate memory at n_ctx %d: %s", mem->n_ctx, llm_result_string(rc));
    p.kv_type = LLM_KV_F32;
    if ((rc = llm_context_estimate(m, &p, &mem->f32)) != LLM_OK)
        cli_fail("cannot estimate memory at n_ctx %d: %s", mem->n_ctx, llm_result_string(rc));
}

static void info_text(const char *path, llm_model *m, const char *why_not, const info_memory *mem, int tensors) {
    int i, n_meta = llm_model_meta_count(m), n_tensors = llm_model_tensor_count(m);
    int counts[LLM_TYPE_COUNT + 1], first = 1, width = 4;
    char b1[32], b2[32], b3[32];
    llm_tensor_info t;

    printf("file          %s\n", path);
    printf("architecture  %s\n", llm_model_arch(m));
    if (why_not) printf("not runnable  %s\n", why_not);

    printf("\nmetadata (%d keys)\n", n_meta);
    for (i = 0; i < n_meta; i++) {
        size_t len, shown;
        char *v = info_meta_value(m, i, &len);
        shown = len;
        if (shown > INFO_TEXT_VALUE_MAX) {
            shown = INFO_TEXT_VALUE_MAX;
            while (shown > 0 && ((unsigned char)v[shown] & 0xC0) == 0x80) shown--; /* whole characters */
        }
        printf("  %s = ", llm_model_meta_key(m, i));
        cli_escaped(stdout, v, shown);
        if (shown < len) printf("... (%zu bytes)", len);
        putchar('\n');
        free(v);
    }

    printf("\nhyper-parameters\n");
    if (why_not) printf("  n_vocab         %d\n", llm_model_n_vocab(m));
    for (i = 0;; i++) {
        const char *name;
        char value[256];
        if (!llm_model_hparam(m, i, &name, value, sizeof value)) break;
        printf("  %-19s %s\n", name, value);
    }

    printf("\ntensors       %d", n_tensors);
    info_count_types(m, counts);
    for (i = 0; i <= LLM_TYPE_COUNT; i++) {
        if (!counts[i]) continue;
        printf("%s%s %d", first ? " (" : ", ", i < LLM_TYPE_COUNT ? info_type_name(i, b1, sizeof b1) : "unknown",
               counts[i]);
        first = 0;
    }
    printf("%s\n", first ? "" : ")");
    if (n_tensors > 0)
        printf("parameters    %s (%llu), %s\n", cli_fmt_count(llm_model_n_params(m), b1, sizeof b1),
               (unsigned long long)llm_model_n_params(m), cli_fmt_bytes(llm_model_size_bytes(m), b2, sizeof b2));
    if (!why_not) {
        printf("\nmemory at n_ctx %d, n_batch %d\n", mem->n_ctx, mem->n_batch);
        printf("  weights       %s\n", cli_fmt_bytes(mem->f16.weights_bytes, b1, sizeof b1));
        printf("  KV cache      %s F16, %s F32\n", cli_fmt_bytes(mem->f16.kv_bytes, b1, sizeof b1),
               cli_fmt_bytes(mem->f32.kv_bytes, b2, sizeof b2));
        printf("  scratch       %s\n", cli_fmt_bytes(mem->f16.scratch_bytes, b1, sizeof b1));
        printf("  total         %s with KV F16, %s with KV F32\n", cli_fmt_bytes(mem->f16.total_bytes, b2, sizeof b2),
               cli_fmt_bytes(mem->f32.total_bytes, b3, sizeof b3));
    }

    if (tensors && n_tensors > 0) {
        for (i = 0; i < n_tensors; i++) {
            int len;
            info_tensor(m, i, &t);
            len = (int)strlen(t.name);
            if (len > width) width = len;
        }
        printf("\n  %-*s  %-7s  %-23s  %s\n", width, "name", "type", "shape", "bytes");
        for (i = 0; i < n_tensors; i++) {
            char shape[96];
            int d, at = 0;
            info_tensor(m, i, &t);
            for (d = 0; d < t.n_dims && d < 4; d++)
                at += snprintf(shape + at, sizeof shape - (size_t)at, d ? " x %lld" : "%lld", (long long)t.ne[d]);
            printf("  %-*s  %-7s  %-23s  %zu\n", width, t.name, info_type_name(t.type, b1, sizeof b1), shape,
                   t.size_bytes);
        }
    }
}

/* A float as a JSON number (null when not finite). */
static void info_json_float(double v) {
    if (isfinite(v)) printf("%.7g", v);
    else printf("null");
}

static void info_json(const char *path, llm_model *m, const char *why_not, const info_memory *mem, int tensors) {
    int i, n_meta = llm_model_meta_count(m), n_tensors = llm_model_tensor_count(m);
    int counts[LLM_TYPE_COUNT + 1], first = 1;
    char b1[32];
    llm_tensor_info t;

    printf("{\"file\": ");
    cli_json_string(stdout, path, strlen(path));
    printf(", \"architecture\": ");
    cli_json_string(stdout, llm_model_arch(m), strlen(llm_model_arch(m)));
    printf(", \"runnable\": %s", why_not ? "false" : "true");
    if (why_not) {
        printf(", \"not_runnable\": ");
        cli_json_string(stdout, why_not, strlen(why_not));
    }

    printf(",\n \"metadata\": {");
    for (i = 0; i < n_meta; i++) {
        size_t len;
        char *v = info_meta_value(m, i, &len);
        const char *key = llm_model_meta_key(m, i);
        printf(i ? ",\n  " : "\n  ");
        cli_json_string(stdout, key, strlen(key));
        printf(": ");
        cli_json_string(stdout, v, len);
        free(v);
    }
    printf("},\n \"hparams\": {\"n_vocab\": %d", llm_model_n_vocab(m));
    if (!why_not) {
        printf(", \"n_ctx_train\": %d, \"n_embd\": %d, \"n_layer\": %d, \"n_head\": %d, \"n_head_kv\": %d",
               llm_model_n_ctx_train(m), llm_model_n_embd(m), llm_model_n_layer(m), llm_model_n_head(m),
               llm_model_n_head_kv(m));
        printf(", \"n_ff\": %d, \"n_rot\": %d, \"rope_freq_base\": ", llm_model_n_ff(m), llm_model_n_rot(m));
        info_json_float(llm_model_rope_freq_base(m));
        printf(", \"rms_eps\": ");
        info_json_float(llm_model_rms_eps(m));
    }
    printf("},\n \"architecture\": {");
    for (i = 0;; i++) { /* every hyper-parameter that applies, as text */
        const char *name;
        char value[256];
        if (!llm_model_hparam(m, i, &name, value, sizeof value)) break;
        printf("%s", i ? ", " : "");
        cli_json_string(stdout, name, strlen(name));
        printf(": ");
        cli_json_string(stdout, value, strlen(value));
    }
    printf("},\n \"n_tensors\": %d, \"tensor_types\": {", n_tensors);
    info_count_types(m, counts);
    for (i = 0; i <= LLM_TYPE_COUNT; i++) {
        if (!counts[i]) continue;
        printf("%s\"%s\": %d", first ? "" : ", ", i < LLM_TYPE_COUNT ? info_type_name(i, b1, sizeof b1) : "unknown",
               counts[i]);
        first = 0;
    }
    printf("}");
    printf(",\n \"n_params\": %llu, \"size_bytes\": %llu", (unsigned long long)llm_model_n_params(m),
           (unsigned long long)llm_model_size_bytes(m));
    if (!why_not) {
        printf(",\n \"memory\": {\"n_ctx\": %d, \"n_batch\": %d, \"weights_bytes\": %llu, \"kv_f16_bytes\": %llu, "
               "\"kv_f32_bytes\": %llu, \"scratch_bytes\": %llu, \"total_f16_bytes\": %llu, \"total_f32_bytes\": %llu}",
               mem->n_ctx, mem->n_batch, (unsigned long long)mem->f16.weights_bytes,
               (unsigned long long)mem->f16.kv_bytes, (unsigned long long)mem->f32.kv_bytes,
               (unsigned long long)mem->f16.scratch_bytes, (unsigned long long)mem->f16.total_bytes,
               (unsigned long long)mem->f32.total_bytes);
    }
    if (tensors) {
        printf(",\n \"tensors\": [");
        for (i = 0; i < n_tensors; i++) {
            int d;
            info_tensor(m, i, &t);
            printf(i ? ",\n  {\"name\": " : "\n  {\"name\": ");
            cli_json_string(stdout, t.name, strlen(t.name));
            printf(", \"type\": \"%s\", \"shape\": [", info_type_name(t.type, b1, sizeof b1));
            for (d = 0; d < t.n_dims && d < 4; d++) printf(d ? ", %lld" : "%lld", (long long)t.ne[d]);
            printf("], \"size_bytes\": %zu, \"offset\": %llu}", t.size_bytes, (unsigned long long)t.offset);
        }
        printf("]");
    }
    printf("}\n");
}

/* A quantization as llama.cpp's mixes lay it out, roughly: the main type for matrices, Q6_K
   for output.weight, and in the _M mixes a bigger type for attn_v and half the ffn_down. */
typedef struct info_quant {
    const char *name;
    int main_type, output_type, v_down_type;
} info_quant;

static const info_quant info_quants[] = {
    {"F16", LLM_TYPE_F16, LLM_TYPE_F16, LLM_TYPE_F16},
    {"Q8_0", LLM_TYPE_Q8_0, LLM_TYPE_Q8_0, LLM_TYPE_Q8_0},
    {"Q6_K", LLM_TYPE_Q6_K, LLM_TYPE_Q6_K, LLM_TYPE_Q6_K},
    {"Q5_K_M", LLM_TYPE_Q5_K, LLM_TYPE_Q6_K, LLM_TYPE_Q6_K},
    {"Q4_K_M", LLM_TYPE_Q4_K, LLM_TYPE_Q6_K, LLM_TYPE_Q6_K},
    {"IQ4_XS", LLM_TYPE_IQ4_XS, LLM_TYPE_Q6_K, LLM_TYPE_IQ4_XS},
    {"Q3_K_M", LLM_TYPE_Q3_K, LLM_TYPE_Q6_K, LLM_TYPE_Q4_K},
    {"Q2_K", LLM_TYPE_Q2_K, LLM_TYPE_Q6_K, LLM_TYPE_Q3_K},
};

/* Bytes of the model's tensors stored as quantization q: vectors stay F32, rows that do not
   fit a block fall back to F16. */
static uint64_t info_quant_bytes(const llm_model *m, const info_quant *q) {
    int i, n = llm_model_tensor_count(m), down = 0;
    uint64_t total = 0;
    for (i = 0; i < n; i++) {
        llm_tensor_info t;
        int type;
        size_t row;
        info_tensor(m, i, &t);
        if (t.n_dims < 2) type = LLM_TYPE_F32;
        else if (strcmp(t.name, "output.weight") == 0) type = q->output_type;
        else if (strstr(t.name, "attn_v.weight") || (strstr(t.name, "ffn_down") && down++ % 2 == 0)) type = q->v_down_type;
        else type = q->main_type;
        row = llm_type_row_size(type, t.ne[0]);
        if (!row) row = llm_type_row_size(LLM_TYPE_F16, t.ne[0]);
        total += (uint64_t)row * (uint64_t)(t.ne[1] * t.ne[2] * t.ne[3]);
    }
    return total;
}

static void info_fit(const llm_model *m, const info_memory *mem, uint64_t budget) {
    char b1[32], b2[32], b3[32];
    size_t i;
    uint64_t rest = mem->f16.kv_bytes + mem->f16.scratch_bytes;
    printf("\nquantizations in %s at n_ctx %d (KV cache F16 %s, scratch %s)\n", cli_fmt_bytes(budget, b1, sizeof b1), mem->n_ctx,
           cli_fmt_bytes(mem->f16.kv_bytes, b2, sizeof b2), cli_fmt_bytes(mem->f16.scratch_bytes, b3, sizeof b3));
    for (i = 0; i < sizeof info_quants / sizeof info_quants[0]; i++) {
        uint64_t w = info_quant_bytes(m, &info_quants[i]);
        printf("  %-8s weights %10s  total %10s  %s\n", info_quants[i].name, cli_fmt_bytes(w, b1, sizeof b1),
               cli_fmt_bytes(w + rest, b2, sizeof b2), w + rest <= budget ? "fits" : "does not fit");
    }
}

int cmd_info(int argc, char **argv) {
    cli_args a = cli_begin(argc, argv, info_usage);
    const char *s, *path = NULL;
    int n_ctx = 0, tensors = 0, json = 0;
    uint64_t budget = 0;
    char err[512], store_path[1200];
    const char *why_not = NULL;
    llm_model *m;
    llm_model_params mp = llm_model_default_params();
    info_memory mem;

    while (cli_next(&a)) {
        if (cli_value(&a, "-c", "--ctx-size", &s)) n_ctx = (int)cli_size(&a, s, 1, INT32_MAX);
        else if (cli_flag(&a, NULL, "--tensors")) tensors = 1;
        else if (cli_value(&a, NULL, "--mem", &s)) budget = cli_size(&a, s, 1, UINT64_MAX);
        else if (cli_flag(&a, NULL, "--json")) json = 1;
        else if (cli_value(&a, "-m", "--model", &s) || cli_positional(&a, &s)) {
            if (path) cli_usage_error(&a, "one model at a time");
            path = s;
        } else cli_unknown(&a);
    }
    if (!path) cli_usage_error(&a, "a model is needed");

    path = cli_model_path(path, store_path, sizeof store_path);
    err[0] = 0;
    m = llm_model_load(path, &mp, err, sizeof err);
    if (!m) {
        /* A file this build cannot run (a vocabulary-only file, an architecture or tensor
           type not supported yet) still has metadata and tensors to show: the vocabulary-only
           load checks the file but not the model. */
        mp.vocab_only = 1;
        m = llm_model_load(path, &mp, NULL, 0);
        if (!m) cli_fail("%s", err[0] ? err : "cannot load the model");
        why_not = llm_model_tensor_count(m) == 0 ? "vocabulary only: the file has no tensors" : err;
    }
    memset(&mem, 0, sizeof mem);
    if (!why_not) info_estimate(m, n_ctx ? n_ctx : llm_model_n_ctx_train(m), &mem);

    if (json) info_json(path, m, why_not, &mem, tensors);
    else info_text(path, m, why_not, &mem, tensors);
    if (budget && !json) {
        if (why_not) cli_fail("--mem needs a model this build can run");
        info_fit(m, &mem, budget);
    }
    if (fflush(stdout) != 0) cli_fail("cannot write the output");
    llm_model_free(m);
    return 0;
}
