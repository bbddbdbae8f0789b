/* The architectures of refs/arch (DESIGN.md §10: 12 models, F32 and Q8_0, two id sequences
   each): teacher-forced logits within §6 at every position, argmax where the reference's
   gap allows, free-running greedy ids equal for F32, and our own bit-identity invariants. */

static const char *const t_archs[] = {"llama", "llama-tied", "llama-rope3", "qwen2", "gemma", "gemma2",
                                      "phi3", "phi3-longrope", "qwen3", "gemma3", "qwen3moe", "llama-moe"};
#define T_N_ARCHS (int)(sizeof t_archs / sizeof t_archs[0])

static const t_bounds t_bounds_gemma_f32 = {"F32g", 2e-3, 2e-3, 4e-4, 6e-4, 2e-3};
static const t_bounds t_bounds_moe_q8_0 = {"MoE8", 7e-1, 9e-1, 7e-2, 2e-1, 5e-3};

static const t_bounds *t_arch_bounds(const char *arch, int q8) {
    int gemma = strncmp(arch, "gemma", 5) == 0, moe = strstr(arch, "moe") != NULL;
    if (!q8) return gemma ? &t_bounds_gemma_f32 : &t_bounds_f32;
    return moe ? &t_bounds_moe_q8_0 : &t_bounds_q8_0;
}

static void test_arch_refs(void) {
    char name[128];
    int a, q8, k;
    for (a = 0; a < T_N_ARCHS; a++)
        for (q8 = 0; q8 <= 1; q8++)
            for (k = 0; k <= 1; k++) {
                snprintf(name, sizeof name, "%s-%s.%d", t_archs[a], q8 ? "Q8_0" : "F32", k);
                t_check_ref("arch", name, t_arch_bounds(t_archs[a], q8));
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

static void test_arch_greedy_f32(void) {
    char name[128];
    int a, k;
    for (a = 0; a < T_N_ARCHS; a++)
        for (k = 0; k <= 1; k++) {
            snprintf(name, sizeof name, "%s-F32.%d", t_archs[a], k);
            t_check_free_running("arch", name);
        }
    t_check_free_running("quants", "synth-q-F32.0");
    t_check_free_running("quants", "synth-q-F32.1");
}

/* 1 vs 2 threads and batch vs token-by-token give the same bits for every architecture. */
static void test_arch_bit_identity(void) {
    int ids[24], i, a;
    char rel[128];
    for (i = 0; i < 24; i++) ids[i] = 1 + (i * 53) % 500;
    for (a = 0; a < T_N_ARCHS; a++) {
        llm_model *m;
        snprintf(rel, sizeof rel, "models/synth/%s-Q8_0.gguf", t_archs[a]);
        m = t_load_model(rel);
        if (!m) continue;
        {
            size_t bytes = (size_t)24 * llm_model_n_vocab(m) * sizeof(float);
            float *x = t_decode_all(m, ids, 24, 1, LLM_KV_F16, 0, 0);
            float *y = t_decode_all(m, ids, 24, 2, LLM_KV_F16, 0, 0);
            float *z = t_decode_all(m, ids, 24, 2, LLM_KV_F16, 0, 1);
            T_CHECK(x && y && memcmp(x, y, bytes) == 0, "%s: 1 vs 2 threads differ", t_archs[a]);
            T_CHECK(x && z && memcmp(x, z, bytes) == 0, "%s: batch vs token-by-token differ", t_archs[a]);
            free(x);
            free(y);
            free(z);
        }
        llm_model_free(m);
    }
}

static void tests_arch(void) {
    T_RUN(test_arch_refs);
    T_RUN(test_arch_greedy_f32);
    T_RUN(test_arch_bit_identity);
}
