/* llm quantize: rewrites an F32/F16/BF16 model in another type or in one of llama.cpp's mixes.

   A mix (llama.cpp's "ftype") gives most 2-D weights its base type and some more bits, by
   llama.cpp's published convention (llama_tensor_get_type), which this file re-states:
   - output.weight (or token_embd.weight when the model ties them): Q6_K, unless the mix is
     Q8_0 (stays Q8_0) or its rows do not fit 256-element blocks (Q8_0);
   - token_embd.weight: Q4_K in the TQ1_0/TQ2_0 mixes;
   - attn_v: Q2_K -> Q3_K (Q4_K when n_head/n_head_kv >= 4); Q3_K_M -> Q5_K in layers 0-1,
     else Q4_K; Q3_K_L -> Q5_K; Q4_K_S -> Q5_K in layers 0-3; Q4_K_M, Q5_K_M -> Q6_K in the
     "more bits" layers (the first and last eighth, and every third between); IQ4_NL/IQ4_XS ->
     Q5_K when n_head/n_head_kv >= 4; 8-expert models -> Q8_0; 80-layer models Q3_K/Q4_K -> Q5_K;
   - attn_k: Q8_0 in 8-expert models;
   - ffn_down: Q2_K -> Q3_K; Q3_K_M -> Q5_K in the first sixteenth of the layers, else Q4_K;
     Q3_K_L -> Q5_K; Q4_K_M, Q5_K_M -> Q6_K in the "more bits" layers; IQ4_NL/IQ4_XS -> Q5_K in
     the first eighth;
   - attn_output: Q2_K -> Q3_K, Q3_K_M -> Q4_K, Q3_K_L -> Q5_K (Q5_K for most mixes in 8-expert
     models); attn_qkv: Q3_K_M/L -> Q4_K, Q4_K_M -> Q5_K, Q5_K_M -> Q6_K;
   - a row length that does not fit the chosen type's block falls back: Q2_K, Q3_K, IQ4_XS ->
     IQ4_NL; Q4_K -> Q5_0; Q5_K -> Q5_1; Q6_K, TQ1_0, TQ2_0 -> Q8_0; then F16.
   Only tensors named *weight with 2 or more dimensions are quantized (not MoE routers); the
   rest (norms, biases: 1-D) keep their type. --pure gives every quantized tensor the base type.
   The F32/F16/BF16 "mixes" never mix. Metadata is copied; general.file_type is set. */
#include "common.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#ifndef _WIN32
#include <pthread.h>
#endif

static const char quantize_usage[] =
    "usage: llm quantize IN OUT TYPE [--pure] [--stats] [-t N]\n"
    "\n"
    "Writes OUT, the model IN (F32, F16 or BF16 weights) quantized to TYPE, one of llama.cpp's\n"
    "mixes (names in any case):\n"
    "  Q4_0 Q4_1 Q5_0 Q5_1 Q8_0 Q2_K Q3_K_S Q3_K_M Q3_K_L Q4_K_S Q4_K_M Q5_K_S Q5_K_M Q6_K\n"
    "  IQ4_NL IQ4_XS TQ1_0 TQ2_0 F16 BF16 F32      (Q3_K, Q4_K, Q5_K mean Q3_K_M, Q4_K_M, Q5_K_M)\n"
    "A mix gives some tensors more bits (output.weight Q6_K, ...), as llama.cpp does.\n"
    "  --pure     every quantized tensor gets the mix's base type (q2_K for Q2_K, q4_K for Q4_K_M)\n"
    "  --stats    print each tensor's RMSE against the source on stderr\n"
    "  -t N       threads (default 4)\n";

typedef struct qz_ftype {
    const char *name;
    int ftype; /* llama.cpp's general.file_type number */
    int base;  /* llm_type */
} qz_ftype;

static const qz_ftype qz_ftypes[] = {
    {"F32", 0, LLM_TYPE_F32},       {"F16", 1, LLM_TYPE_F16},       {"Q4_0", 2, LLM_TYPE_Q4_0},
    {"Q4_1", 3, LLM_TYPE_Q4_1},     {"Q8_0", 7, LLM_TYPE_Q8_0},     {"Q5_0", 8, LLM_TYPE_Q5_0},
    {"Q5_1", 9, LLM_TYPE_Q5_1},     {"Q2_K", 10, LLM_TYPE_Q2_K},    {"Q3_K_S", 11, LLM_TYPE_Q3_K},
    {"Q3_K_M", 12, LLM_TYPE_Q3_K},  {"Q3_K_L", 13, LLM_TYPE_Q3_K},  {"Q4_K_S", 14, LLM_TYPE_Q4_K},
    {"Q4_K_M", 15, LLM_TYPE_Q4_K},  {"Q5_K_S", 16, LLM_TYPE_Q5_K},  {"Q5_K_M", 17, LLM_TYPE_Q5_K},
    {"Q6_K", 18, LLM_TYPE_Q6_K},    {"IQ4_NL", 25, LLM_TYPE_IQ4_NL}, {"IQ4_XS", 30, LLM_TYPE_IQ4_XS},
    {"BF16", 32, LLM_TYPE_BF16},    {"TQ1_0", 36, LLM_TYPE_TQ1_0},  {"TQ2_0", 37, LLM_TYPE_TQ2_0},
};
enum { QZ_F32 = 0, QZ_F16 = 1, QZ_Q8_0 = 7, QZ_Q2_K = 10, QZ_Q3_K_M = 12, QZ_Q3_K_L = 13, QZ_Q4_K_S = 14,
       QZ_Q4_K_M = 15, QZ_Q5_K_M = 17, QZ_IQ4_NL = 25, QZ_IQ4_XS = 30, QZ_BF16 = 32, QZ_TQ1_0 = 36, QZ_TQ2_0 = 37 };

static int qz_ieq(const char *a, const char *b) {
    for (; *a && *b; a++, b++) {
        char x = *a >= 'a' && *a <= 'z' ? (char)(*a - 32) : *a, y = *b >= 'a' && *b <= 'z' ? (char)(*b - 32) : *b;
        if (x != y) return 0;
    }
    return *a == *b;
}

static const qz_ftype *qz_find_ftype(const char *name) {
    size_t i;
    if (qz_ieq(name, "Q3_K")) name = "Q3_K_M";
    else if (qz_ieq(name, "Q4_K")) name = "Q4_K_M";
    else if (qz_ieq(name, "Q5_K")) name = "Q5_K_M";
    for (i = 0; i < sizeof qz_ftypes / sizeof qz_ftypes[0]; i++)
        if (qz_ieq(name, qz_ftypes[i].name)) return &qz_ftypes[i];
    return NULL;
}

/* What the mix decides from the model as a whole. */
typedef struct qz_model {
    int n_layer, n_gqa, n_expert, falcon, has_output;
} qz_model;

/* llama.cpp's "use more bits" layers: the first and last eighth, and every third between. */
static int qz_more_bits(int i, int n) { return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2; }

static int qz_ends(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

static int qz_layer(const char *name) {
    int l = 0;
    if (strncmp(name, "blk.", 4) != 0) return 0;
    for (name += 4; *name >= '0' && *name <= '9'; name++) l = l * 10 + (*name - '0');
    return l;
}

/* The type of a 2-D weight in mix f (not pure, f quantized). */
static int qz_mix_type(const qz_ftype *f, const qz_model *qm, const char *name, int64_t ne0) {
    int ft = f->ftype, t = f->base, il = qz_layer(name), n = qm->n_layer;
    if (strcmp(name, "output.weight") == 0 || (!qm->has_output && strcmp(name, "token_embd.weight") == 0)) {
        if (qm->falcon || ne0 % 256 != 0) t = LLM_TYPE_Q8_0;
        else if (t != LLM_TYPE_Q8_0) t = LLM_TYPE_Q6_K;
    } else if (strcmp(name, "token_embd.weight") == 0) {
        if (ft == QZ_TQ1_0 || ft == QZ_TQ2_0) t = LLM_TYPE_Q4_K;
    } else if (qz_ends(name, "attn_v.weight")) {
        if (ft == QZ_Q2_K) t = qm->n_gqa >= 4 ? LLM_TYPE_Q4_K : LLM_TYPE_Q3_K;
        else if (ft == QZ_Q3_K_M) t = il < 2 ? LLM_TYPE_Q5_K : LLM_TYPE_Q4_K;
        else if (ft == QZ_Q3_K_L) t = LLM_TYPE_Q5_K;
        else if ((ft == QZ_IQ4_NL || ft == QZ_IQ4_XS) && qm->n_gqa >= 4) t = LLM_TYPE_Q5_K;
        else if ((ft == QZ_Q4_K_M || ft == QZ_Q5_K_M) && qz_more_bits(il, n)) t = LLM_TYPE_Q6_K;
        else if (ft == QZ_Q4_K_S && il < 4) t = LLM_TYPE_Q5_K;
        if (n == 80 && (t == LLM_TYPE_Q3_K || t == LLM_TYPE_Q4_K)) t = LLM_TYPE_Q5_K; /* 70B-class */
        if (qm->n_expert == 8) t = LLM_TYPE_Q8_0;
    } else if (qz_ends(name, "attn_k.weight")) {
        if (qm->n_expert == 8) t = LLM_TYPE_Q8_0;
    } else if (qz_ends(name, "ffn_down.weight") || strstr(name, "ffn_down_exps")) {
        if (ft == QZ_Q2_K) t = LLM_TYPE_Q3_K;
        else if (ft == QZ_Q3_K_M)
            t = il < n / 16 ? LLM_TYPE_Q5_K : !qm->falcon || qz_more_bits(il, n) ? LLM_TYPE_Q4_K : LLM_TYPE_Q3_K;
        else if (ft == QZ_Q3_K_L) t = qm->falcon ? LLM_TYPE_Q4_K : LLM_TYPE_Q5_K;
        else if ((ft == QZ_Q4_K_M || ft == QZ_Q5_K_M) && qz_more_bits(il, n)) t = LLM_TYPE_Q6_K;
        else if ((ft == QZ_IQ4_NL || ft == QZ_IQ4_XS) && il < n / 8) t = LLM_TYPE_Q5_K;
    } else if (qz_ends(name, "attn_output.weight")) {
        if (!qm->falcon && qm->n_expert == 8) {
            if (ft == QZ_Q2_K || ft == 11 || ft == QZ_Q3_K_M || ft == QZ_IQ4_NL || ft == QZ_Q4_K_S || ft == QZ_Q4_K_M ||
                ft == QZ_IQ4_XS)
                t = LLM_TYPE_Q5_K;
        } else if (!qm->falcon) {
            if (ft == QZ_Q2_K) t = LLM_TYPE_Q3_K;
            else if (ft == QZ_Q3_K_M) t = LLM_TYPE_Q4_K;
            else if (ft == QZ_Q3_K_L) t = LLM_TYPE_Q5_K;
        } else if (ft == QZ_Q3_K_L) {
            t = LLM_TYPE_Q5_K;
        }
    } else if (qz_ends(name, "attn_qkv.weight")) {
        if (ft == QZ_Q3_K_M || ft == QZ_Q3_K_L) t = LLM_TYPE_Q4_K;
        else if (ft == QZ_Q4_K_M) t = LLM_TYPE_Q5_K;
        else if (ft == QZ_Q5_K_M) t = LLM_TYPE_Q6_K;
    }
    return t;
}

/* A type whose blocks fit rows of ne0, falling back as llama.cpp does. */
static int qz_fit(int t, int64_t ne0) {
    if (llm_type_row_size(t, ne0)) return t;
    switch (t) {
    case LLM_TYPE_Q2_K: case LLM_TYPE_Q3_K: case LLM_TYPE_IQ4_XS: t = LLM_TYPE_IQ4_NL; break;
    case LLM_TYPE_Q4_K: t = LLM_TYPE_Q5_0; break;
    case LLM_TYPE_Q5_K: t = LLM_TYPE_Q5_1; break;
    case LLM_TYPE_Q6_K: case LLM_TYPE_TQ1_0: case LLM_TYPE_TQ2_0: t = LLM_TYPE_Q8_0; break;
    default: break;
    }
    return llm_type_row_size(t, ne0) ? t : LLM_TYPE_F16;
}

/* Whether a tensor is quantized at all (llama.cpp: named *weight, 2-D or more, not a router). */
static int qz_quantizable(const llm_tensor_info *ti) {
    return ti->n_dims >= 2 && qz_ends(ti->name, "weight") && !strstr(ti->name, "ffn_gate_inp") &&
           !strstr(ti->name, "_norm") && !strstr(ti->name, "rope_");
}

/* ---- rows quantized by threads ---- */

typedef struct qz_job {
    int type;
    const float *src;
    unsigned char *dst;
    int64_t row0, n_rows, ne0;
    size_t row_bytes;
} qz_job;

static void *qz_work(void *p) {
    qz_job *j = (qz_job *)p;
    if (j->n_rows > 0 &&
        !llm_quantize(j->type, j->src + (size_t)j->row0 * (size_t)j->ne0, j->dst + (size_t)j->row0 * j->row_bytes, j->n_rows, j->ne0))
        j->n_rows = -1; /* reported by the caller */
    return NULL;
}

/* Quantizes rows x ne0 floats; each row depends on itself only, so any split gives the same bytes. */
static void qz_quantize(int type, const float *src, unsigned char *dst, int64_t rows, int64_t ne0, int n_threads) {
    qz_job jobs[64];
    int n = n_threads < 1 ? 1 : n_threads > 64 ? 64 : n_threads, i;
    size_t rb = llm_type_row_size(type, ne0);
#ifndef _WIN32
    pthread_t th[64];
    int started[64];
#endif
    if (rows < n) n = (int)(rows > 0 ? rows : 1);
    for (i = 0; i < n; i++) {
        jobs[i].type = type;
        jobs[i].src = src;
        jobs[i].dst = dst;
        jobs[i].ne0 = ne0;
        jobs[i].row_bytes = rb;
        jobs[i].row0 = rows * i / n;
        jobs[i].n_rows = rows * (i + 1) / n - jobs[i].row0;
    }
#ifndef _WIN32
    for (i = 1; i < n; i++) started[i] = pthread_create(&th[i], NULL, qz_work, &jobs[i]) == 0;
    qz_work(&jobs[0]);
    for (i = 1; i < n; i++) {
        if (started[i]) pthread_join(th[i], NULL);
        else qz_work(&jobs[i]);
    }
#else
    for (i = 0; i < n; i++) qz_work(&jobs[i]);
#endif
    for (i = 0; i < n; i++)
        if (jobs[i].n_rows < 0) cli_fail("this build cannot quantize to %s", llm_type_name(type));
}

int cmd_quantize(int argc, char **argv) {
    cli_args a = cli_begin(argc, argv, quantize_usage);
    const char *s, *in_path = NULL, *out_path = NULL, *type_name = NULL;
    int pure = 0, stats = 0, n_threads = 4, i, n_t, n_meta, key;
    const qz_ftype *f;
    qz_model qm;
    llm_model *m;
    cli_gguf g;
    FILE *out;
    int *types;
    uint64_t in_bytes = 0, out_bytes = 0;
    char b1[32], b2[32];
    double t0 = cli_now_ms();

    while (cli_next(&a)) {
        if (cli_flag(&a, NULL, "--pure")) pure = 1;
        else if (cli_flag(&a, NULL, "--stats")) stats = 1;
        else if (cli_value(&a, "-t", "--threads", &s)) n_threads = (int)cli_int(&a, s, 1, 64);
        else if (cli_positional(&a, &s)) {
            if (!in_path) in_path = s;
            else if (!out_path) out_path = s;
            else if (!type_name) type_name = s;
            else cli_usage_error(&a, "unexpected argument '%s'", s);
        } else cli_unknown(&a);
    }
    if (!type_name) cli_usage_error(&a, "give IN, OUT and TYPE");
    f = qz_find_ftype(type_name);
    if (!f) cli_usage_error(&a, "unknown type '%s'", type_name);

    m = cli_load_model(in_path, 0);
    n_t = llm_model_tensor_count(m);
    memset(&qm, 0, sizeof qm);
    qm.n_layer = llm_model_n_layer(m);
    qm.n_gqa = llm_model_n_head_kv(m) > 0 ? llm_model_n_head(m) / llm_model_n_head_kv(m) : 1;
    qm.falcon = strcmp(llm_model_arch(m), "falcon") == 0;
    qm.has_output = llm_model_tensor_find(m, "output.weight") >= 0;
    {
        char k[128], v[32];
        snprintf(k, sizeof k, "%s.expert_count", llm_model_arch(m));
        key = llm_model_meta_find(m, k);
        if (key >= 0 && llm_model_meta_value(m, key, v, sizeof v) > 0) qm.n_expert = atoi(v);
    }

    /* metadata: every key of the input but the ones this file sets */
    memset(&g, 0, sizeof g);
    n_meta = llm_model_meta_count(m);
    for (i = 0; i < n_meta; i++) {
        const char *k = llm_model_meta_key(m, i);
        int gt, at;
        uint64_t cnt;
        const void *data;
        size_t bytes;
        if (strcmp(k, "general.file_type") == 0 || strcmp(k, "general.quantization_version") == 0 ||
            strcmp(k, "general.alignment") == 0)
            continue;
        if (llm_model_meta_raw(m, i, &gt, &at, &cnt, &data, &bytes) != LLM_OK) cli_fail("cannot read metadata '%s'", k);
        cli_gguf_kv_raw(&g, k, gt, at, cnt, data, bytes);
    }
    cli_gguf_kv_u32(&g, "general.quantization_version", 2);
    cli_gguf_kv_u32(&g, "general.file_type", (uint32_t)f->ftype);

    /* every tensor's type, decided before anything is written */
    types = (int *)cli_alloc((size_t)n_t * sizeof *types);
    for (i = 0; i < n_t; i++) {
        llm_tensor_info ti;
        int t;
        llm_model_tensor_info(m, i, &ti);
        in_bytes += ti.size_bytes;
        t = ti.type;
        if (qz_quantizable(&ti)) {
            if (ti.type != LLM_TYPE_F32 && ti.type != LLM_TYPE_F16 && ti.type != LLM_TYPE_BF16)
                cli_fail("tensor '%s' is already quantized (%s): quantize from an F32, F16 or BF16 file", ti.name,
                         llm_type_name(ti.type));
            t = f->base;
            if (!pure && f->ftype != QZ_F32 && f->ftype != QZ_F16 && f->ftype != QZ_BF16) t = qz_mix_type(f, &qm, ti.name, ti.ne[0]);
            t = qz_fit(t, ti.ne[0]);
        }
        types[i] = t;
        cli_gguf_tensor_add(&g, ti.name, t, ti.n_dims, ti.ne);
    }

    out = fopen(out_path, "wb");
    if (!out) cli_fail("cannot create '%s': %s", out_path, strerror(errno));
    cli_gguf_write_header(&g, out);
    for (i = 0; i < n_t; i++) {
        llm_tensor_info ti;
        int64_t rows;
        size_t n_el, bytes;
        float *x = NULL;
        unsigned char *q = NULL;
        const void *data;
        int rc;
        llm_model_tensor_info(m, i, &ti);
        rows = ti.ne[1] * ti.ne[2] * ti.ne[3];
        n_el = (size_t)rows * (size_t)ti.ne[0];
        bytes = (size_t)g.t[i].bytes;
        data = llm_model_tensor_data(m, i);
        if (types[i] == ti.type) {
            if (fwrite(data, 1, bytes, out) != bytes) cli_fail("cannot write '%s': %s", out_path, strerror(errno));
        } else {
            x = (float *)cli_alloc(n_el * sizeof *x);
            q = (unsigned char *)cli_alloc(bytes);
            rc = llm_model_tensor_dequantize(m, i, 0, rows, x);
            if (rc != LLM_OK) cli_fail("tensor '%s': %s", ti.name, llm_result_string(rc));
            qz_quantize(types[i], x, q, rows, ti.ne[0], n_threads);
            if (fwrite(q, 1, bytes, out) != bytes) cli_fail("cannot write '%s': %s", out_path, strerror(errno));
        }
        cli_gguf_pad(&g, i, out);
        out_bytes += bytes;
        fprintf(stderr, "[%3d/%3d] %-32s %-6s -> %-6s %10s", i + 1, n_t, ti.name, llm_type_name(ti.type),
                llm_type_name(types[i]), cli_fmt_bytes(bytes, b1, sizeof b1));
        if (stats && x) {
            /* RMSE of the quantized tensor against its source */
            float *y = (float *)cli_alloc(n_el * sizeof *y);
            double se = 0.0;
            size_t k;
            if (llm_dequantize(types[i], q, y, rows, ti.ne[0]) != LLM_OK) cli_fail("cannot dequantize %s", llm_type_name(types[i]));
            for (k = 0; k < n_el; k++) se += ((double)y[k] - x[k]) * ((double)y[k] - x[k]);
            fprintf(stderr, "  rmse %.6g", sqrt(se / (double)n_el));
            free(y);
        }
        fputc('\n', stderr);
        free(x);
        free(q);
    }
    if (fclose(out) != 0) cli_fail("cannot write '%s': %s", out_path, strerror(errno));
    fprintf(stderr, "llm: %s (%s) -> %s (%s, %s%s) in %.2f s\n", in_path, cli_fmt_bytes(in_bytes, b1, sizeof b1), out_path,
            cli_fmt_bytes(out_bytes, b2, sizeof b2), f->name, pure ? ", pure" : "", (cli_now_ms() - t0) / 1000.0);
    free(types);
    cli_gguf_free(&g);
    llm_model_free(m);
    return 0;
}
