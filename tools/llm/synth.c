/* llm synth: a seeded random-weight model with a valid SentencePiece vocabulary, in any
   architecture llm.h runs and any type it can quantize to, for tests and benchmarks that need
   no download. The same options and seed give the same file on every platform. */
#include "common.h"

#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

static const char synth_usage[] =
    "usage: llm synth (--preset NAME | --arch ARCH) [--shape KEY=VALUE,...] [--type TYPE]\n"
    "                 [--seed S] -o OUT\n"
    "\n"
    "Writes a GGUF model with random weights and a synthetic SentencePiece vocabulary.\n"
    "\n"
    "  --preset NAME   tiny, small, tinyllama-1.1b, llama-3.2-1b, qwen2.5-0.5b (real shapes)\n"
    "  --arch ARCH     llama, qwen2, qwen3, qwen3moe, gemma, gemma2, gemma3, phi3\n"
    "                  (with the tiny shape unless --shape says otherwise)\n"
    "  --shape LIST    GGUF hyper-parameter names without the architecture prefix:\n"
    "                  embedding_length, block_count, attention.head_count,\n"
    "                  attention.head_count_kv, feed_forward_length, context_length,\n"
    "                  vocab_size, expert_count, expert_used_count, tied (0/1)\n"
    "  --type TYPE     type of the matrices (f32, f16, bf16, q8_0, ...; default f32);\n"
    "                  norms and biases stay f32, rows that do not fit the block stay f16\n"
    "  --seed S        random seed (default 1)\n"
    "  -o FILE         output file\n"
    "  -h, --help      print this help\n";

typedef struct synth_shape {
    char arch[32];
    int n_embd, n_layer, n_head, n_head_kv, n_ff, n_ctx, n_vocab, n_expert, n_expert_used, tied;
} synth_shape;

/* name, arch, n_embd, n_layer, n_head, n_head_kv, n_ff, n_ctx, n_vocab, tied (DESIGN.md §10) */
static const struct {
    const char *name;
    synth_shape s;
} synth_presets[] = {
    {"tiny", {"llama", 64, 2, 4, 2, 128, 256, 512, 0, 0, 0}},
    {"small", {"llama", 256, 4, 8, 4, 768, 1024, 4096, 0, 0, 0}},
    {"tinyllama-1.1b", {"llama", 2048, 22, 32, 4, 5632, 2048, 32000, 0, 0, 0}},
    {"llama-3.2-1b", {"llama", 2048, 16, 32, 8, 8192, 131072, 128256, 0, 0, 1}},
    {"qwen2.5-0.5b", {"qwen2", 896, 24, 14, 2, 4864, 32768, 151936, 0, 0, 1}},
};

/* ---- deterministic randomness: splitmix64 streams per tensor, Box-Muller normals ---- */

typedef struct synth_rng {
    uint64_t s;
    int has_spare;
    double spare;
} synth_rng;

static uint64_t synth_next(synth_rng *r) {
    uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
static double synth_uniform(synth_rng *r) { return ((double)(synth_next(r) >> 11) + 0.5) * (1.0 / 9007199254740992.0); }
static double synth_normal(synth_rng *r) {
    double u, v;
    if (r->has_spare) {
        r->has_spare = 0;
        return r->spare;
    }
    u = synth_uniform(r);
    v = synth_uniform(r);
    r->spare = sqrt(-2.0 * log(u)) * sin(6.283185307179586 * v);
    r->has_spare = 1;
    return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}
/* A stream for one tensor: the seed mixed with an FNV-1a hash of its name. */
static void synth_seed(synth_rng *r, uint64_t seed, const char *name) {
    uint64_t h = 1469598103934665603ull;
    for (; *name; name++) h = (h ^ (unsigned char)*name) * 1099511628211ull;
    r->s = seed ^ h;
    r->has_spare = 0;
    synth_next(r);
}

/* ---- the vocabulary: <unk> <s> </s>, the 256 byte tokens, then pieces built up by length
   so that every piece can be reached by merging two shorter ones ---- */

static char **synth_vocab(int n, float **scores, int32_t **types) {
    static const char alpha[] = "etaoinshrdlucmfwypvbgkjqxzETAOINSHRDLUCMFWYPVBGKJQXZ0123456789.,!?'-:;\"()";
    char **tok = (char **)cli_alloc(sizeof(char *) * (size_t)n);
    int i = 0, len, na = (int)strlen(alpha);
    *scores = (float *)cli_alloc(sizeof(float) * (size_t)n);
    *types = (int32_t *)cli_alloc(sizeof(int32_t) * (size_t)n);
    for (i = 0; i < n; i++) {
        tok[i] = (char *)cli_alloc(32);
        (*scores)[i] = 0.0f;
        (*types)[i] = 1;
    }
    strcpy(tok[0], "<unk>"), (*types)[0] = 2;
    strcpy(tok[1], "<s>"), (*types)[1] = 3;
    strcpy(tok[2], "</s>"), (*types)[2] = 3;
    for (i = 0; i < 256 && 3 + i < n; i++) {
        snprintf(tok[3 + i], 32, "<0x%02X>", i);
        (*types)[3 + i] = 6;
    }
    i = 259;
    /* length 1, then "▁" + length 1, length 2, "▁" + length 2, ...: strings over alpha
       counted as numbers in base na */
    for (len = 1; i < n && len <= 4; len++) {
        int space, limit = 1, k;
        for (k = 0; k < len; k++) limit = limit > 50000000 / na ? 50000000 : limit * na;
        for (space = 0; space <= 1 && i < n; space++) {
            int v;
            if (len == 1 && space == 1 && i < n) strcpy(tok[i++], "\xe2\x96\x81"); /* "▁" alone */
            for (v = 0; v < limit && i < n; v++, i++) {
                char *p = tok[i];
                int x = v;
                if (space) p += sprintf(p, "\xe2\x96\x81");
                for (k = 0; k < len; k++, x /= na) *p++ = alpha[x % na];
                *p = 0;
                (*scores)[i] = -(float)(i - 259);
            }
        }
    }
    if (i < n) cli_fail("vocabulary of %d tokens is too large for the synthetic generator", n);
    return tok;
}

/* ---- tensors ---- */

typedef struct synth_tensor {
    char name[96];
    int n_dims;
    int64_t ne[3];
    double mean, std; /* values ~ Normal(mean, std) */
    int matrix;       /* quantized to --type when it fits */
} synth_tensor;

typedef struct synth_list {
    synth_tensor t[4096];
    int n;
} synth_list;

static void synth_add(synth_list *l, const char *name, int n_dims, int64_t ne0, int64_t ne1, int64_t ne2, double mean, double std) {
    synth_tensor *t;
    if (l->n == 4096) cli_fail("too many tensors");
    t = &l->t[l->n++];
    snprintf(t->name, sizeof t->name, "%s", name);
    t->n_dims = n_dims;
    t->ne[0] = ne0;
    t->ne[1] = ne1;
    t->ne[2] = ne2;
    t->mean = mean;
    t->std = std;
    t->matrix = n_dims >= 2;
}

/* The tensors llm.h expects for the architecture, with weight scales that keep activations
   in range: Normal(0, 1/sqrt(fan_in)) for matrices, Normal(1, 0.1) for norms. */
static void synth_tensors(const synth_shape *s, synth_list *l) {
    int e = s->n_embd, hd = s->n_embd / s->n_head, nq = s->n_head * hd, kv = s->n_head_kv * hd, ff = s->n_ff, i;
    int gemma = strncmp(s->arch, "gemma", 5) == 0, phi3 = strcmp(s->arch, "phi3") == 0;
    int qk_norm = strcmp(s->arch, "qwen3") == 0 || strcmp(s->arch, "qwen3moe") == 0 || strcmp(s->arch, "gemma3") == 0;
    int post = strcmp(s->arch, "gemma2") == 0 || strcmp(s->arch, "gemma3") == 0;
    double ie = 1.0 / sqrt((double)e);
    char n[96];
    synth_add(l, "token_embd.weight", 2, e, s->n_vocab, 1, 0.0, gemma || s->tied ? 0.5 * ie : 1.0);
    synth_add(l, "output_norm.weight", 1, e, 1, 1, 1.0, 0.1);
    if (!s->tied && !gemma) synth_add(l, "output.weight", 2, e, s->n_vocab, 1, 0.0, 3.0 * ie);
    for (i = 0; i < s->n_layer; i++) {
#define SYNTH_NAME(x) snprintf(n, sizeof n, "blk.%d." x, i)
        SYNTH_NAME("attn_norm.weight"), synth_add(l, n, 1, e, 1, 1, 1.0, 0.1);
        if (phi3) {
            SYNTH_NAME("attn_qkv.weight"), synth_add(l, n, 2, e, nq + 2 * kv, 1, 0.0, 1.5 * ie);
        } else {
            SYNTH_NAME("attn_q.weight"), synth_add(l, n, 2, e, nq, 1, 0.0, 1.5 * ie);
            SYNTH_NAME("attn_k.weight"), synth_add(l, n, 2, e, kv, 1, 0.0, 1.5 * ie);
            SYNTH_NAME("attn_v.weight"), synth_add(l, n, 2, e, kv, 1, 0.0, ie);
        }
        if (strcmp(s->arch, "qwen2") == 0) {
            SYNTH_NAME("attn_q.bias"), synth_add(l, n, 1, nq, 1, 1, 0.0, 0.2);
            SYNTH_NAME("attn_k.bias"), synth_add(l, n, 1, kv, 1, 1, 0.0, 0.2);
            SYNTH_NAME("attn_v.bias"), synth_add(l, n, 1, kv, 1, 1, 0.0, 0.2);
        }
        if (qk_norm) {
            SYNTH_NAME("attn_q_norm.weight"), synth_add(l, n, 1, hd, 1, 1, 1.0, 0.1);
            SYNTH_NAME("attn_k_norm.weight"), synth_add(l, n, 1, hd, 1, 1, 1.0, 0.1);
        }
        SYNTH_NAME("attn_output.weight"), synth_add(l, n, 2, nq, e, 1, 0.0, 1.0 / sqrt((double)nq));
        if (post) SYNTH_NAME("post_attention_norm.weight"), synth_add(l, n, 1, e, 1, 1, 1.0, 0.1);
        SYNTH_NAME("ffn_norm.weight"), synth_add(l, n, 1, e, 1, 1, 1.0, 0.1);
        if (s->n_expert > 0) {
            SYNTH_NAME("ffn_gate_inp.weight"), synth_add(l, n, 2, e, s->n_expert, 1, 0.0, 2.0 * ie);
            SYNTH_NAME("ffn_gate_exps.weight"), synth_add(l, n, 3, e, ff, s->n_expert, 0.0, ie);
            SYNTH_NAME("ffn_up_exps.weight"), synth_add(l, n, 3, e, ff, s->n_expert, 0.0, ie);
            SYNTH_NAME("ffn_down_exps.weight"), synth_add(l, n, 3, ff, e, s->n_expert, 0.0, 1.0 / sqrt((double)ff));
        } else if (phi3) {
            SYNTH_NAME("ffn_up.weight"), synth_add(l, n, 2, e, 2 * ff, 1, 0.0, ie);
            SYNTH_NAME("ffn_down.weight"), synth_add(l, n, 2, ff, e, 1, 0.0, 1.0 / sqrt((double)ff));
        } else {
            SYNTH_NAME("ffn_gate.weight"), synth_add(l, n, 2, e, ff, 1, 0.0, ie);
            SYNTH_NAME("ffn_up.weight"), synth_add(l, n, 2, e, ff, 1, 0.0, ie);
            SYNTH_NAME("ffn_down.weight"), synth_add(l, n, 2, ff, e, 1, 0.0, 1.0 / sqrt((double)ff));
        }
        if (post) SYNTH_NAME("post_ffw_norm.weight"), synth_add(l, n, 1, e, 1, 1, 1.0, 0.1);
#undef SYNTH_NAME
    }
}

static void synth_metadata(cli_gguf *g, const synth_shape *s, const char *name) {
    char k[128];
    const char *a = s->arch;
    int hd = s->n_embd / s->n_head;
#define SYNTH_KEY(x) (snprintf(k, sizeof k, "%s." x, a), k)
    cli_gguf_kv_str(g, "general.architecture", a);
    cli_gguf_kv_str(g, "general.name", name);
    cli_gguf_kv_u32(g, SYNTH_KEY("context_length"), (uint32_t)s->n_ctx);
    cli_gguf_kv_u32(g, SYNTH_KEY("embedding_length"), (uint32_t)s->n_embd);
    cli_gguf_kv_u32(g, SYNTH_KEY("block_count"), (uint32_t)s->n_layer);
    cli_gguf_kv_u32(g, SYNTH_KEY("feed_forward_length"), (uint32_t)s->n_ff);
    cli_gguf_kv_u32(g, SYNTH_KEY("attention.head_count"), (uint32_t)s->n_head);
    cli_gguf_kv_u32(g, SYNTH_KEY("attention.head_count_kv"), (uint32_t)s->n_head_kv);
    cli_gguf_kv_u32(g, SYNTH_KEY("attention.key_length"), (uint32_t)hd);
    cli_gguf_kv_u32(g, SYNTH_KEY("attention.value_length"), (uint32_t)hd);
    cli_gguf_kv_f32(g, SYNTH_KEY("attention.layer_norm_rms_epsilon"), 1e-5f);
    cli_gguf_kv_f32(g, SYNTH_KEY("rope.freq_base"), strncmp(a, "qwen", 4) == 0 ? 1e6f : 10000.0f);
    if (s->n_expert > 0) {
        cli_gguf_kv_u32(g, SYNTH_KEY("expert_count"), (uint32_t)s->n_expert);
        cli_gguf_kv_u32(g, SYNTH_KEY("expert_used_count"), (uint32_t)s->n_expert_used);
        cli_gguf_kv_u32(g, SYNTH_KEY("expert_feed_forward_length"), (uint32_t)s->n_ff);
    }
    if (strcmp(a, "gemma2") == 0) {
        cli_gguf_kv_f32(g, SYNTH_KEY("attn_logit_softcapping"), 50.0f);
        cli_gguf_kv_f32(g, SYNTH_KEY("final_logit_softcapping"), 30.0f);
    }
    if (strcmp(a, "gemma2") == 0 || strcmp(a, "gemma3") == 0)
        cli_gguf_kv_u32(g, SYNTH_KEY("attention.sliding_window"), (uint32_t)(s->n_ctx / 4 > 4 ? s->n_ctx / 4 : 4));
    if (strcmp(a, "gemma3") == 0) cli_gguf_kv_f32(g, SYNTH_KEY("rope.freq_base_swa"), 10000.0f);
#undef SYNTH_KEY
}

/* general.file_type (llama.cpp's llama_ftype numbers) of a file whose matrices are all of
   one type: what other tools show as the file's quantization. */
static uint32_t synth_file_type(int type) {
    static const int map[][2] = {{LLM_TYPE_F32, 0},    {LLM_TYPE_F16, 1},    {LLM_TYPE_Q4_0, 2},   {LLM_TYPE_Q4_1, 3},
                                 {LLM_TYPE_Q8_0, 7},   {LLM_TYPE_Q5_0, 8},   {LLM_TYPE_Q5_1, 9},   {LLM_TYPE_Q2_K, 10},
                                 {LLM_TYPE_Q3_K, 11},  {LLM_TYPE_Q4_K, 14},  {LLM_TYPE_Q5_K, 16},  {LLM_TYPE_Q6_K, 18},
                                 {LLM_TYPE_IQ4_NL, 25}, {LLM_TYPE_IQ4_XS, 30}, {LLM_TYPE_BF16, 32}, {LLM_TYPE_TQ1_0, 36},
                                 {LLM_TYPE_TQ2_0, 37}};
    size_t i;
    for (i = 0; i < sizeof map / sizeof map[0]; i++)
        if (map[i][0] == type) return (uint32_t)map[i][1];
    return 0;
}

static void synth_set(const cli_args *a, synth_shape *s, const char *key, const char *val) {
    static const struct {
        const char *key;
        size_t off;
        long min, max;
    } keys[] = {
        {"embedding_length", offsetof(synth_shape, n_embd), 1, 1 << 16},
        {"block_count", offsetof(synth_shape, n_layer), 1, 1024},
        {"attention.head_count", offsetof(synth_shape, n_head), 1, 1024},
        {"attention.head_count_kv", offsetof(synth_shape, n_head_kv), 1, 1024},
        {"feed_forward_length", offsetof(synth_shape, n_ff), 1, 1 << 18},
        {"context_length", offsetof(synth_shape, n_ctx), 1, 1 << 20},
        {"vocab_size", offsetof(synth_shape, n_vocab), 260, 1 << 20},
        {"expert_count", offsetof(synth_shape, n_expert), 0, 256},
        {"expert_used_count", offsetof(synth_shape, n_expert_used), 0, 256},
        {"tied", offsetof(synth_shape, tied), 0, 1},
    };
    size_t i;
    for (i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (strcmp(key, keys[i].key) == 0) {
            *(int *)((char *)s + keys[i].off) = (int)cli_int(a, val, keys[i].min, keys[i].max);
            return;
        }
    cli_usage_error(a, "unknown shape key '%s'", key);
}

int cmd_synth(int argc, char **argv) {
    cli_args a = cli_begin(argc, argv, synth_usage);
    const char *s, *preset = NULL, *arch = NULL, *shape = NULL, *out_path = NULL, *type_name = "f32";
    uint64_t seed = 1;
    synth_shape sh;
    synth_list *l;
    cli_gguf g;
    char **vocab;
    float *scores, *buf;
    int32_t *types;
    int type, i;
    FILE *f;
    size_t p;

    while (cli_next(&a)) {
        if (cli_value(&a, NULL, "--preset", &s)) preset = s;
        else if (cli_value(&a, NULL, "--arch", &s)) arch = s;
        else if (cli_value(&a, NULL, "--shape", &s)) shape = s;
        else if (cli_value(&a, NULL, "--type", &s)) type_name = s;
        else if (cli_value(&a, NULL, "--seed", &s)) seed = (uint64_t)cli_int(&a, s, 0, 0x7fffffff);
        else if (cli_value(&a, "-o", "--output", &s)) out_path = s;
        else cli_unknown(&a);
    }
    if (!out_path) cli_usage_error(&a, "an output file is needed (-o FILE)");
    if (!preset && !arch) cli_usage_error(&a, "a preset or an architecture is needed");
    sh = synth_presets[0].s;
    if (preset) {
        for (i = 0; i < (int)(sizeof synth_presets / sizeof synth_presets[0]); i++)
            if (strcmp(preset, synth_presets[i].name) == 0) break;
        if (i == (int)(sizeof synth_presets / sizeof synth_presets[0])) cli_usage_error(&a, "unknown preset '%s'", preset);
        sh = synth_presets[i].s;
    }
    if (arch) {
        static const char *const archs[] = {"llama", "qwen2", "qwen3", "qwen3moe", "gemma", "gemma2", "gemma3", "phi3"};
        for (i = 0; i < 8; i++)
            if (strcmp(arch, archs[i]) == 0) break;
        if (i == 8) cli_usage_error(&a, "unknown architecture '%s'", arch);
        snprintf(sh.arch, sizeof sh.arch, "%s", arch);
        if (strcmp(arch, "qwen3moe") == 0) sh.n_expert = 4, sh.n_expert_used = 2, sh.n_ff = 32;
    }
    if (shape) { /* key=value,key=value */
        char *copy = (char *)cli_alloc(strlen(shape) + 1), *item, *next;
        strcpy(copy, shape);
        for (item = copy; item && *item; item = next) {
            char *eq;
            next = strchr(item, ',');
            if (next) *next++ = 0;
            eq = strchr(item, '=');
            if (!eq) cli_usage_error(&a, "shape entry '%s' is not KEY=VALUE", item);
            *eq = 0;
            synth_set(&a, &sh, item, eq + 1);
        }
        free(copy);
    }
    if (sh.n_embd % sh.n_head || sh.n_head % sh.n_head_kv || (sh.n_embd / sh.n_head) % 2)
        cli_usage_error(&a, "embedding_length, head_count and head_count_kv must divide evenly into even head sizes");
    if (sh.n_expert_used > sh.n_expert || (sh.n_expert > 0 && sh.n_expert_used < 1))
        cli_usage_error(&a, "expert_used_count must be 1..expert_count");
    type = llm_type_from_name(type_name);
    if (type < 0 || !llm_type_supported(type)) cli_usage_error(&a, "unknown or unsupported type '%s'", type_name);

    l = (synth_list *)cli_alloc(sizeof *l);
    l->n = 0;
    synth_tensors(&sh, l);
    memset(&g, 0, sizeof g);
    synth_metadata(&g, &sh, preset ? preset : sh.arch);
    vocab = synth_vocab(sh.n_vocab, &scores, &types);
    cli_gguf_kv_str(&g, "tokenizer.ggml.model", "llama");
    cli_gguf_kv_strs(&g, "tokenizer.ggml.tokens", (const char *const *)vocab, (uint64_t)sh.n_vocab);
    cli_gguf_kv_f32s(&g, "tokenizer.ggml.scores", scores, (uint64_t)sh.n_vocab);
    cli_gguf_kv_i32s(&g, "tokenizer.ggml.token_type", types, (uint64_t)sh.n_vocab);
    cli_gguf_kv_u32(&g, "tokenizer.ggml.bos_token_id", 1);
    cli_gguf_kv_u32(&g, "tokenizer.ggml.eos_token_id", 2);
    cli_gguf_kv_u32(&g, "tokenizer.ggml.unknown_token_id", 0);
    cli_gguf_kv_bool(&g, "tokenizer.ggml.add_bos_token", 1);
    cli_gguf_kv_u32(&g, "general.file_type", synth_file_type(type));
    for (i = 0; i < sh.n_vocab; i++) free(vocab[i]);
    free(vocab);
    free(scores);
    free(types);
    /* matrices take --type when their rows fit its blocks and it can be quantized to */
    for (i = 0; i < l->n; i++) {
        synth_tensor *t = &l->t[i];
        int tt = LLM_TYPE_F32;
        if (t->matrix) tt = llm_type_row_size(type, t->ne[0]) ? type : LLM_TYPE_F16;
        cli_gguf_tensor_add(&g, t->name, tt, t->n_dims, t->ne);
    }
    f = fopen(out_path, "wb");
    if (!f) cli_fail("cannot create '%s'", out_path);
    cli_gguf_write_header(&g, f);
    /* each tensor row by row: values, then the type's quantizer */
    p = 0;
    for (i = 0; i < l->n; i++) {
        const cli_gguf_tensor *gt = &g.t[i];
        int64_t rows = gt->ne[1] * gt->ne[2], r, j;
        size_t rb = llm_type_row_size(gt->type, gt->ne[0]);
        unsigned char *q = (unsigned char *)cli_alloc(rb);
        synth_rng rng;
        synth_seed(&rng, seed, gt->name);
        buf = (float *)cli_alloc(sizeof(float) * (size_t)gt->ne[0]);
        for (r = 0; r < rows; r++) {
            for (j = 0; j < gt->ne[0]; j++) buf[j] = (float)(l->t[i].mean + l->t[i].std * synth_normal(&rng));
            if (llm_quantize(gt->type, buf, q, 1, gt->ne[0]) != rb) cli_fail("cannot quantize '%s' to %s", gt->name, llm_type_name(gt->type));
            if (fwrite(q, 1, rb, f) != rb) cli_fail("write error on '%s'", out_path);
        }
        cli_gguf_pad(&g, i, f);
        free(q);
        free(buf);
        p += (size_t)gt->bytes;
        if (i % 16 == 15) fprintf(stderr, "\rllm synth: %d/%d tensors", i + 1, l->n);
    }
    if (fclose(f) != 0) cli_fail("write error on '%s'", out_path);
    fprintf(stderr, "\rllm synth: %d tensors, %.1f MiB of weights, %s written\n", l->n, (double)p / 1048576.0, out_path);
    cli_gguf_free(&g);
    free(l);
    return 0;
}
