/* The model end to end against llama.cpp's references (../shared/refs), DESIGN.md §6:
   teacher-forced logits at every position, greedy ids, and our own invariants (bit-identical
   across thread counts and between one batch and token-by-token decoding). */

typedef struct t_ref {
    char name[128], model[256], prompt[512];
    int has_prompt;
    int tokens[512], n_tokens, greedy[256], n_greedy, n_vocab, rows;
    int seq[768], n_seq; /* tokens ++ greedy */
    float *logits;       /* rows x n_vocab */
} t_ref;

/* Loads refs/<dir>/<name>.json and its logits; 0 (skipped or failed) when missing. */
static int t_ref_load(const char *dir, const char *name, t_ref *r) {
    char rel[256], *json;
    const char *path;
    size_t size, lsize;
    memset(r, 0, sizeof *r);
    snprintf(r->name, sizeof r->name, "%s", name);
    snprintf(rel, sizeof rel, "refs/%s/%s.json", dir, name);
    if (!(path = t_shared(rel))) return 0;
    json = (char *)t_read_file(path, &size);
    if (!json) return 0;
    json = (char *)realloc(json, size + 1);
    json[size] = 0;
    tj_str(tj_get(json, "model"), r->model, sizeof r->model);
    r->has_prompt = tj_str(tj_get(json, "prompt"), r->prompt, sizeof r->prompt);
    r->n_tokens = tj_ints(tj_get(json, "tokens"), r->tokens, 512);
    r->n_greedy = tj_ints(tj_get(json, "greedy"), r->greedy, 256);
    r->n_vocab = (int)tj_num(tj_get(json, "n_vocab"));
    r->rows = (int)tj_num(tj_get(json, "rows"));
    free(json);
    memcpy(r->seq, r->tokens, sizeof(int) * (size_t)r->n_tokens);
    memcpy(r->seq + r->n_tokens, r->greedy, sizeof(int) * (size_t)r->n_greedy);
    r->n_seq = r->n_tokens + r->n_greedy;
    snprintf(rel, sizeof rel, "refs/%s/%s.logits.f32", dir, name);
    if (!(path = t_shared(rel))) return 0;
    r->logits = (float *)t_read_file(path, &lsize);
    if (!r->logits || lsize != (size_t)r->rows * r->n_vocab * 4 || r->rows != r->n_seq) {
        T_CHECK(0, "%s: reference files inconsistent", name);
        free(r->logits);
        r->logits = NULL;
        return 0;
    }
    return 1;
}

/* Decodes ids in one batch (tbt = 0) or one token at a time, returning every row's logits
   (caller frees) or NULL. */
static float *t_decode_all(llm_model *m, const int *ids, int n, int n_threads, llm_kv_type kv, unsigned cpu, int tbt) {
    llm_context_params cp = llm_context_default_params();
    llm_context *c;
    char err[256];
    int nv = llm_model_n_vocab(m), i, r;
    float *out = (float *)malloc((size_t)n * nv * sizeof(float));
    cp.n_ctx = n;
    cp.n_batch = tbt ? 1 : n;
    cp.n_outputs = tbt ? 1 : n;
    cp.n_threads = n_threads;
    cp.kv_type = kv;
    cp.cpu_features = cpu;
    c = llm_context_new(m, &cp, err, sizeof err);
    T_CHECK(c != NULL, "context: %s", err);
    if (!c) {
        free(out);
        return NULL;
    }
    if (!tbt) {
        r = llm_decode(c, (const llm_token *)ids, n, LLM_DECODE_ALL_LOGITS);
        T_CHECK(r == LLM_OK, "decode: %s", llm_context_error(c));
        for (i = 0; r == LLM_OK && i < n; i++) memcpy(out + (size_t)i * nv, llm_logits(c, i), (size_t)nv * 4);
    } else {
        for (i = 0, r = LLM_OK; r == LLM_OK && i < n; i++) {
            r = llm_decode(c, (const llm_token *)ids + i, 1, 0);
            T_CHECK(r == LLM_OK, "decode %d: %s", i, llm_context_error(c));
            if (r == LLM_OK) memcpy(out + (size_t)i * nv, llm_logits(c, -1), (size_t)nv * 4);
        }
    }
    llm_context_free(c);
    if (r != LLM_OK) {
        free(out);
        return NULL;
    }
    return out;
}

/* DESIGN.md §6 bounds: every row, then all but max(1, rows/100) rows; tau for the argmax rule. */
typedef struct t_bounds {
    const char *cls;
    double nrmse, maxdiff, nrmse99, maxdiff99, tau;
} t_bounds;
static const t_bounds t_bounds_f32 = {"F32", 2e-5, 2e-5, 6e-6, 7e-6, 2e-5};
static const t_bounds t_bounds_f16 = {"F16", 2e-3, 3e-3, 2e-3, 2e-3, 3e-3};
static const t_bounds t_bounds_bf16 = {"BF16", 2e-2, 2e-2, 1e-2, 2e-2, 2e-2};
static const t_bounds t_bounds_q8_0 = {"Q8_0", 2e-1, 2e-1, 6e-2, 7e-2, 5e-3};

/* Compares every row; prints the worst figures so a run shows how close we are. */
static void t_check_logits(const t_ref *r, const float *o, const t_bounds *b) {
    int row, over = 0, allowed = r->rows / 100 > 1 ? r->rows / 100 : 1, argmax_checked = 0;
    double worst_n = 0, worst_m = 0;
    for (row = 0; row < r->rows; row++) {
        const float *ref = r->logits + (size_t)row * r->n_vocab, *ours = o + (size_t)row * r->n_vocab;
        double se = 0, sr = 0, md = 0, mr = 0, nrmse, maxdiff, top1 = -1e30, top2 = -1e30;
        int i, a_ref = 0, a_ours = 0;
        for (i = 0; i < r->n_vocab; i++) {
            double d = (double)ours[i] - ref[i];
            se += d * d;
            sr += (double)ref[i] * ref[i];
            if (fabs(d) > md) md = fabs(d);
            if (fabs(ref[i]) > mr) mr = fabs(ref[i]);
            if (ref[i] > top1) { top2 = top1; top1 = ref[i]; a_ref = i; }
            else if (ref[i] > top2) top2 = ref[i];
            if (ours[i] > ours[a_ours]) a_ours = i;
        }
        nrmse = sqrt(se / sr);
        maxdiff = md / mr;
        if (nrmse > worst_n) worst_n = nrmse;
        if (maxdiff > worst_m) worst_m = maxdiff;
        T_CHECK(nrmse <= b->nrmse && maxdiff <= b->maxdiff, "%s row %d: nrmse %.3g (bound %.0e), maxdiff %.3g (bound %.0e)", r->name,
                row, nrmse, b->nrmse, maxdiff, b->maxdiff);
        if (nrmse > b->nrmse99 || maxdiff > b->maxdiff99) over++;
        if (top1 - top2 > 2 * b->tau * mr) {
            argmax_checked++;
            T_CHECK(a_ours == a_ref, "%s row %d: argmax %d, reference %d (gap %.4g)", r->name, row, a_ours, a_ref, top1 - top2);
        }
    }
    T_CHECK(over <= allowed, "%s: %d rows above the 99%% bounds (%.0e / %.0e), %d allowed", r->name, over, b->nrmse99, b->maxdiff99,
            allowed);
    printf("       %-28s %-4s rows %3d  max nrmse %.2e  max maxdiff %.2e  argmax rows checked %d\n", r->name, b->cls, r->rows, worst_n,
           worst_m, argmax_checked);
}

/* One reference: teacher-forced logits in one batch with an F32 KV cache, one thread; the
   model is the reference's own, or model_path (a file of ours, e.g. written by llm quantize). */
static void t_check_ref_model(const char *dir, const char *name, const t_bounds *b, const char *model_path) {
    t_ref r;
    llm_model *m;
    float *o;
    char err[256];
    if (!t_ref_load(dir, name, &r)) return;
    if (model_path) {
        m = llm_model_load(model_path, NULL, err, sizeof err);
        T_CHECK(m != NULL, "load %s: %s", model_path, err);
    } else {
        m = t_load_model(r.model);
    }
    if (m) {
        T_CHECK(llm_model_n_vocab(m) == r.n_vocab, "%s: n_vocab %d, reference %d", name, llm_model_n_vocab(m), r.n_vocab);
        if (r.has_prompt) { /* the prompt's tokens, with BOS as the reference asked */
            llm_token toks[512];
            int n = llm_tokenize(m, r.prompt, strlen(r.prompt), toks, 512, LLM_TOKENIZE_ADD_SPECIAL), i, same = n == r.n_tokens;
            for (i = 0; same && i < n; i++) same = toks[i] == r.tokens[i];
            T_CHECK(same, "%s: tokenization of the prompt differs (%d tokens, reference %d)", name, n, r.n_tokens);
        }
        o = t_decode_all(m, r.seq, r.n_seq, 1, LLM_KV_F32, 0, 0);
        if (o) t_check_logits(&r, o, b);
        free(o);
        llm_model_free(m);
    }
    free(r.logits);
}

static void t_check_ref(const char *dir, const char *name, const t_bounds *b) { t_check_ref_model(dir, name, b, NULL); }

static void test_refs_real(void) {
    static const char *stems[] = {"TinyStories-656K-F16", "TinyStories-656K-Q8_0", "TinyStories-656K-Q8_0-alt"};
    char name[128];
    int k, s;
    for (k = 0; k <= 5; k++) {
        snprintf(name, sizeof name, "stories260K.%d", k);
        t_check_ref("real", name, &t_bounds_f32);
    }
    for (s = 0; s < 3; s++)
        for (k = 0; k <= 4; k++) {
            snprintf(name, sizeof name, "%s.%d", stems[s], k);
            t_check_ref("real", name, s == 0 ? &t_bounds_f16 : &t_bounds_q8_0);
        }
}

static void test_refs_quants(void) {
    static const char *types[] = {"F32", "F16", "BF16", "Q8_0"};
    const t_bounds *bounds[] = {&t_bounds_f32, &t_bounds_f16, &t_bounds_bf16, &t_bounds_q8_0};
    char name[128];
    int k, t;
    for (t = 0; t < 4; t++)
        for (k = 0; k <= 1; k++) {
            snprintf(name, sizeof name, "synth-q-%s.%d", types[t], k);
            t_check_ref("quants", name, bounds[t]);
        }
}

/* Free-running greedy decoding (prompt as one batch, then token by token) gives exactly the
   reference ids for the F32 files. */
static void t_check_free_running(const char *dir, const char *name) {
    t_ref r;
    llm_model *m;
    llm_context_params cp = llm_context_default_params();
    llm_context *c;
    char err[256];
    int i, j, nv;
    llm_token t;
    if (!t_ref_load(dir, name, &r)) return;
    m = t_load_model(r.model);
    if (!m) {
        free(r.logits);
        return;
    }
    nv = llm_model_n_vocab(m);
    cp.n_ctx = r.rows + 8;
    cp.n_threads = 2;
    cp.kv_type = LLM_KV_F32;
    c = llm_context_new(m, &cp, err, sizeof err);
    T_CHECK(c != NULL, "%s: %s", name, err);
    if (c && llm_decode(c, (const llm_token *)r.tokens, r.n_tokens, 0) == LLM_OK) {
        for (i = 0; i < r.n_greedy; i++) {
            const float *l = llm_logits(c, -1);
            for (t = 0, j = 1; j < nv; j++)
                if (l[j] > l[t]) t = j;
            if (t != r.greedy[i]) {
                T_CHECK(0, "%s: greedy id %d is %d, reference %d", name, i, (int)t, r.greedy[i]);
                break;
            }
            if (llm_decode(c, &t, 1, 0) != LLM_OK) break;
        }
    }
    llm_context_free(c);
    llm_model_free(m);
    free(r.logits);
}

/* DESIGN §10: free-running ids equal the reference for F32 weights (stories260K here). */
static void test_greedy_free_running_f32(void) {
    char name[64];
    int k;
    for (k = 0; k <= 5; k++) {
        snprintf(name, sizeof name, "stories260K.%d", k);
        t_check_free_running("real", name);
    }
}

/* Same bits with 1, 2 and 4 threads, and batch vs token-by-token, for each weight type and
   cache. (With 4 threads an attention task of one token takes one query head, with 1 or 2 a
   KV head's pair: llm__attn_heads_per_task.) */
static void test_bit_identity(void) {
    static const char *files[] = {"models/stories260K.gguf", "models/reference/TinyStories-656K-F16.gguf",
                                  "models/reference/TinyStories-656K-Q8_0.gguf", "models/synth/synth-q-BF16.gguf"};
    int ids[40], i, f, kv;
    for (i = 0; i < 40; i++) ids[i] = 1 + (i * 37) % 300;
    for (f = 0; f < 4; f++) {
        llm_model *m = t_load_model(files[f]);
        if (!m) continue;
        for (kv = LLM_KV_F32; kv <= LLM_KV_F16; kv++) {
            size_t bytes = (size_t)40 * llm_model_n_vocab(m) * sizeof(float);
            float *a = t_decode_all(m, ids, 40, 1, (llm_kv_type)kv, 0, 0);
            float *b = t_decode_all(m, ids, 40, 2, (llm_kv_type)kv, 0, 0);
            float *c = t_decode_all(m, ids, 40, 2, (llm_kv_type)kv, 0, 1);
            float *d = t_decode_all(m, ids, 40, 4, (llm_kv_type)kv, 0, 1);
            T_CHECK(a && b && memcmp(a, b, bytes) == 0, "%s kv %d: 1 vs 2 threads differ", files[f], kv);
            T_CHECK(a && d && memcmp(a, d, bytes) == 0, "%s kv %d: 1 vs 4 threads differ", files[f], kv);
            T_CHECK(a && c && memcmp(a, c, bytes) == 0, "%s kv %d: batch vs token-by-token differ", files[f], kv);
            free(a);
            free(b);
            free(c);
            free(d);
        }
        llm_model_free(m);
    }
}

/* The load's line on the weights it moved to huge pages: MiB packed and copied. */
typedef struct t_moved {
    int seen;
    double packed, copied;
} t_moved;
static void t_log_moved(int level, const char *msg, void *user) {
    t_moved *mv = (t_moved *)user;
    (void)level;
    if (sscanf(msg, "weights moved to huge pages: %lf MiB packed eight rows at a time, %lf MiB as they are", &mv->packed,
               &mv->copied) == 2)
        mv->seen = 1;
}

/* Weights packed eight rows at a time at load (memory-mapped file, AVX2: Q4_0, Q5_0, Q8_0,
   IQ4_NL, IQ4_XS, Q2_K to Q6_K), or copied as they are onto huge pages (F16, BF16, F32, Q4_1,
   Q5_1 on Linux), give the logits of the same file loaded with no_repack, bit for bit: one
   batch, token by token, 1 and 2 threads, and a context limited to the scalar kernels.
   Includes a tied output (the embedding rows still read from the file), a fused QKV and three
   mixtures of experts (their 3-D expert tensors packed or copied, read through views). A
   copied tensor's bytes are the file's. */
static void test_packed_weights(void) {
    static const struct {
        const char *file;
        int packs; /* 1: its weights are packed; 0: copied (its output head may be packed) */
    } files[] = {{"models/synth/synth-q-Q4_0.gguf", 1},    {"models/synth/synth-q-Q8_0.gguf", 1},
                 {"models/synth/synth-q-Q4_K_M.gguf", 1},  {"models/synth/synth-q-Q2_K.gguf", 1},
                 {"models/synth/synth-q-Q6_K.gguf", 1},    {"models/synth/synth-q-Q5_K_M.gguf", 1},
                 {"models/synth/synth-q-Q3_K_M.gguf", 1},  {"models/synth/synth-q-Q5_0.gguf", 1},
                 {"models/synth/synth-q-IQ4_NL.gguf", 1},  {"models/synth/synth-q-IQ4_XS.gguf", 1},
                 {"models/synth/llama-tied-Q8_0.gguf", 1}, {"models/synth/phi3-Q8_0.gguf", 1},
                 {"models/synth/qwen3moe-Q8_0.gguf", 1},   {"models/synth/llama-moe-Q8_0.gguf", 1},
                 {"models/synth/synth-q-F16.gguf", 0},     {"models/synth/synth-q-BF16.gguf", 0},
                 {"models/synth/synth-q-F32.gguf", 0},     {"models/synth/synth-q-Q4_1.gguf", 0},
                 {"models/synth/synth-q-Q5_1.gguf", 0},    {"models/synth/llama-moe-F32.gguf", 0}};
    const int n_files = (int)(sizeof files / sizeof files[0]);
    const int avx2 = (llm_cpu_features() & LLM_CPU_AVX2) != 0;
#if defined(__linux__)
    const int huge = 1; /* llm.h asks for huge pages only on Linux */
#else
    const int huge = 0;
#endif
    int ids[24], i, f, v, n_packed = 0, n_copied = 0;
    for (i = 0; i < 24; i++) ids[i] = 1 + (i * 37) % 300;
    for (f = 0; f < n_files; f++) {
        const char *path = t_shared(files[f].file);
        llm_model_params mp = llm_model_default_params();
        llm_model *m[2];
        char err[256];
        t_moved mv = {0, 0, 0};
        if (!path) continue;
        mp.log = t_log_moved;
        mp.log_user = &mv;
        m[0] = llm_model_load(path, &mp, err, sizeof err);
        mp.no_repack = 1;
        mp.log = NULL;
        m[1] = llm_model_load(path, &mp, err, sizeof err);
        T_CHECK(m[0] && m[1], "load %s: %s", files[f].file, err);
        if (m[0] && m[1]) {
            size_t bytes = (size_t)24 * llm_model_n_vocab(m[0]) * sizeof(float);
            /* {threads, cpu mask, token by token} */
            static const int runs[4][3] = {{1, 0, 0}, {2, 0, 0}, {2, 0, 1}, {1, LLM_CPU_SCALAR, 0}};
            const int want = avx2 && (files[f].packs || huge);
            T_CHECK(mv.seen == want && (!want || (files[f].packs ? mv.packed : mv.copied) > 0),
                    "%s: moved %d (%.1f MiB packed, %.1f MiB copied), AVX2 %d", files[f].file, mv.seen, mv.packed,
                    mv.copied, avx2);
            n_packed += mv.packed > 0;
            n_copied += mv.copied > 0;
            for (i = 0; i < llm_model_tensor_count(m[0]); i++) {
                llm_tensor_info ti;
                T_CHECK(llm_model_tensor_info(m[0], i, &ti) == LLM_OK &&
                            memcmp(llm_model_tensor_data(m[0], i), llm_model_tensor_data(m[1], i), ti.size_bytes) == 0,
                        "%s: tensor %d's bytes are not the file's", files[f].file, i);
            }
            for (v = 0; v < 4; v++) {
                float *a = t_decode_all(m[0], ids, 24, runs[v][0], LLM_KV_F32, (unsigned)runs[v][1], runs[v][2]);
                float *b = t_decode_all(m[1], ids, 24, runs[v][0], LLM_KV_F32, (unsigned)runs[v][1], runs[v][2]);
                T_CHECK(a && b && memcmp(a, b, bytes) == 0, "%s run %d: moved and file-layout weights differ", files[f].file,
                        v);
                free(a);
                free(b);
            }
        }
        llm_model_free(m[0]);
        llm_model_free(m[1]);
    }
    printf("       %d models packed at load, %d copied onto huge pages\n", n_packed, n_copied);
}

typedef struct t_text {
    char buf[4096];
    size_t len;
} t_text;
static int t_collect(llm_token t, const char *piece, int n, void *user) {
    t_text *tx = (t_text *)user;
    (void)t;
    if (tx->len + (size_t)n < sizeof tx->buf) {
        memcpy(tx->buf + tx->len, piece, (size_t)n);
        tx->len += (size_t)n;
        tx->buf[tx->len] = 0;
    }
    return 0;
}

/* llm_generate's text for the README example, and a stop string. */
static void test_generate_text(void) {
    const char *want = ", there was a little girl named Lily. She loved to play outside in the park. One day, she saw";
    llm_model *m = t_load_model("models/stories260K.gguf");
    llm_context *c;
    llm_generate_params g = llm_generate_default_params();
    llm_generate_stats st;
    const char *stops[1] = {"Lily"};
    t_text tx;
    char err[256];
    if (!m) return;
    c = llm_context_new(m, NULL, err, sizeof err);
    T_REQUIRE(c, "%s", err);
    g.n_predict = 32;
    g.sampler.temperature = 0;
    g.stats = &st;
    memset(&tx, 0, sizeof tx);
    T_CHECK(llm_generate(c, "Once upon a time", &g, t_collect, &tx) == LLM_OK, "%s", llm_context_error(c));
    T_CHECK(strcmp(tx.buf, want) == 0, "generated '%s'", tx.buf);
    T_CHECK(st.n_prompt == 5 && st.n_generated == 32, "stats %d %d", st.n_prompt, st.n_generated);
    llm_context_truncate(c, 0);
    memset(&tx, 0, sizeof tx);
    g.stop = stops;
    g.n_stop = 1;
    T_CHECK(llm_generate(c, "Once upon a time", &g, t_collect, &tx) == LLM_OK, "%s", llm_context_error(c));
    T_CHECK(strcmp(tx.buf, ", there was a little girl named ") == 0, "with stop string: '%s'", tx.buf);
    llm_context_free(c);
    llm_model_free(m);
}

/* The command line prints exactly the generated text and one newline. */
static void test_cli_run(void) {
    char out[4096];
    size_t n;
    FILE *p;
    if (!t_shared("models/stories260K.gguf")) return;
    if (!fopen("build/llm", "rb")) T_SKIP("build/llm not built");
    p = popen("build/llm run -m ../shared/models/stories260K.gguf -p \"Once upon a time\" -n 32 --temp 0 2>/dev/null", "r");
    T_REQUIRE(p, "popen");
    n = fread(out, 1, sizeof out - 1, p);
    out[n] = 0;
    T_CHECK(pclose(p) == 0, "exit status");
    T_CHECK(strcmp(out, ", there was a little girl named Lily. She loved to play outside in the park. One day, she saw\n") == 0,
            "stdout '%s'", out);
    /* stderr: the load time, the prompt's time, and the first token's time since the start,
       which takes in both */
    p = popen("build/llm run -m ../shared/models/stories260K.gguf -p \"Once upon a time\" -n 4 --temp 0 2>&1 >/dev/null", "r");
    T_REQUIRE(p, "popen");
    n = fread(out, 1, sizeof out - 1, p);
    out[n] = 0;
    T_CHECK(pclose(p) == 0, "exit status");
    {
        const char *l = strstr(out, "load time:"), *f = strstr(out, "time to first token:"), *a = strstr(out, "first token at:");
        double load, first, at;
        T_REQUIRE(l && f && a, "stderr '%s'", out);
        load = atof(l + strlen("load time:"));
        first = atof(f + strlen("time to first token:"));
        at = atof(a + strlen("first token at:"));
        T_CHECK(at > 0 && at + 0.02 >= load + first, "first token at %.2f ms, load %.2f + prompt %.2f", at, load, first);
    }
}

/* A full context gives LLM_ERR_CONTEXT_FULL with nothing decoded. */
static void test_context_full(void) {
    llm_model *m = t_load_model("models/stories260K.gguf");
    llm_context_params cp = llm_context_default_params();
    llm_context *c;
    llm_token t[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    char err[256];
    if (!m) return;
    cp.n_ctx = 6;
    c = llm_context_new(m, &cp, err, sizeof err);
    T_REQUIRE(c, "%s", err);
    T_CHECK(llm_decode(c, t, 4, 0) == LLM_OK, "decode 4");
    T_CHECK(llm_decode(c, t, 3, 0) == LLM_ERR_CONTEXT_FULL, "3 more into 6");
    T_CHECK(llm_context_n_past(c) == 4, "n_past %d", llm_context_n_past(c));
    T_CHECK(llm_decode(c, t, 0, 0) == LLM_ERR_ARG, "0 tokens");
    t[0] = 512;
    T_CHECK(llm_decode(c, t, 1, 0) == LLM_ERR_ARG, "token outside the vocabulary");
    llm_context_free(c);
    llm_model_free(m);
}

/* The pool runs every task of every job exactly once, and never a task of one job with
   another job's function, under many small jobs of varying sizes (what a forward pass does). */
typedef struct t_pool_job {
    int count[256];
    int job;
    int bad;
} t_pool_job;

static void t_pool_task(void *arg, int t, int ith) {
    t_pool_job *j = (t_pool_job *)arg;
    (void)ith;
    __atomic_fetch_add(&j->count[t], 1, __ATOMIC_RELAXED);
}

static void test_pool_stress(void) {
    int threads, job, t, errors = 0;
    for (threads = 2; threads <= 8; threads += 3) {
        llm__pool pool;
        t_pool_job a, b;
        T_REQUIRE(llm__pool_start(&pool, threads, NULL, NULL), "pool start");
        for (job = 0; job < 20000; job++) {
            t_pool_job *j = (job & 1) ? &a : &b;
            int n = 2 + (job * 7919) % 200;
            memset(j, 0, sizeof *j);
            llm__pool_run(&pool, n, t_pool_task, j);
            for (t = 0; t < 256; t++)
                if (j->count[t] != (t < n)) errors++;
        }
        llm__pool_stop(&pool);
    }
    T_CHECK(errors == 0, "%d tasks ran a wrong number of times", errors);
}

/* llm bench runs and reports its figures as JSON. */
static void test_cli_bench(void) {
    char out[4096];
    if (!t_shared("models/stories260K.gguf")) return;
    if (!fopen("build/llm", "rb")) T_SKIP("build/llm not built");
    T_CHECK(t_sh("build/llm bench -m ../shared/models/stories260K.gguf -p 8 -n 4 -r 1 -t 1,2 --streams 3 --json 2>/dev/null", out,
                 sizeof out) == 0,
            "exit status");
    T_CHECK(strstr(out, "\"bandwidth_gbs\"") && strstr(out, "\"threads\": 2") && strstr(out, "\"tg_tps\""), "output '%s'", out);
    T_CHECK(strstr(out, "\"streams\": 3, \"streams_tps\": ") && !strstr(out, "\"streams_tps\": 0.00"), "batched streams: '%s'", out);
    /* -d: each test runs on top of 200 tokens already in the context */
    T_CHECK(t_sh("build/llm bench -m ../shared/models/stories260K.gguf -p 8 -n 4 -d 200 -r 1 -t 2 --json 2>/dev/null", out, sizeof out) == 0,
            "exit status with -d");
    T_CHECK(strstr(out, "\"depth\": 200, \"pp\": 8") && !strstr(out, "\"pp_tps\": 0.00") && !strstr(out, "\"tg_tps\": 0.00"), "-d 200: '%s'",
            out);
}

/* llm bench's "size_bytes" and "decode_bytes" (what one generated token reads) for a model in
   ../shared; 0 when the bench failed. */
static int t_bench_bytes(const char *rel, unsigned long long *size, unsigned long long *decode) {
    char cmd[512], out[4096];
    const char *s, *d;
    snprintf(cmd, sizeof cmd, "build/llm bench -m %s -p 0 -n 1 -r 1 -t 1 --json 2>/dev/null", t_shared(rel));
    if (t_sh(cmd, out, sizeof out) != 0) return 0;
    s = strstr(out, "\"size_bytes\": ");
    d = strstr(out, "\"decode_bytes\": ");
    if (!s || !d) return 0;
    *size = strtoull(s + 14, NULL, 10);
    *decode = strtoull(d + 16, NULL, 10);
    return 1;
}

/* The roofline's bytes per generated token: the token embedding gives one row unless it is also
   the output matrix; a mixture of experts reads n_expert_used of its n_expert experts. */
static void test_cli_bench_decode_bytes(void) {
    llm_model *m;
    llm_tensor_info e;
    unsigned long long size, decode, experts = 0;
    int i;
    if (!t_shared("models/stories260K.gguf") || !t_shared("models/synth/llama-tied-Q8_0.gguf") ||
        !t_shared("models/synth/llama-moe-Q8_0.gguf"))
        return;
    if (!fopen("build/llm", "rb")) T_SKIP("build/llm not built");
    m = t_load_model("models/stories260K.gguf");
    T_REQUIRE(m, "load");
    T_REQUIRE(llm_model_tensor_find(m, "output.weight") >= 0, "stories260K has its own output matrix");
    llm_model_tensor_info(m, llm_model_tensor_find(m, "token_embd.weight"), &e);
    T_REQUIRE(t_bench_bytes("models/stories260K.gguf", &size, &decode), "bench stories260K");
    T_CHECK(size == llm_model_size_bytes(m) && decode == size - e.size_bytes + e.size_bytes / (size_t)e.ne[1],
            "untied: size %llu decode %llu, token_embd %zu bytes in %lld rows", size, decode, e.size_bytes, (long long)e.ne[1]);
    llm_model_free(m);
    T_REQUIRE(t_bench_bytes("models/synth/llama-tied-Q8_0.gguf", &size, &decode), "bench llama-tied");
    T_CHECK(decode == size, "tied: size %llu decode %llu", size, decode);
    m = t_load_model("models/synth/llama-moe-Q8_0.gguf");
    T_REQUIRE(m, "load");
    for (i = 0; i < llm_model_tensor_count(m); i++)
        if (llm_model_tensor_info(m, i, &e) == LLM_OK && strstr(e.name, "_exps.")) experts += e.size_bytes;
    llm_model_tensor_info(m, llm_model_tensor_find(m, "token_embd.weight"), &e);
    T_REQUIRE(t_bench_bytes("models/synth/llama-moe-Q8_0.gguf", &size, &decode), "bench llama-moe");
    /* 2 of 4 experts: half the expert bytes */
    T_CHECK(experts > 0 && decode == size - experts / 2 - e.size_bytes + e.size_bytes / (size_t)e.ne[1],
            "moe: size %llu decode %llu, experts %llu bytes", size, decode, experts);
    llm_model_free(m);
}

static void tests_model(void) {
    T_RUN(test_cli_bench);
    T_RUN(test_cli_bench_decode_bytes);
    T_RUN(test_pool_stress);
    T_RUN(test_refs_real);
    T_RUN(test_refs_quants);
    T_RUN(test_greedy_free_running_f32);
    T_RUN(test_bit_identity);
    T_RUN(test_packed_weights);
    T_RUN(test_generate_text);
    T_RUN(test_context_full);
    T_RUN(test_cli_run);
}
