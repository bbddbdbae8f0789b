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

/* The value of a hyper-parameter by name, "" when the model does not list it. */
static const char *t_hparam(const llm_model *m, const char *want) {
    static char value[256];
    const char *name;
    int i;
    for (i = 0; llm_model_hparam(m, i, &name, value, sizeof value); i++)
        if (strcmp(name, want) == 0) return value;
    return "";
}

/* llm info's hyper-parameter list names each architecture's particulars. */
static void test_arch_hparams(void) {
    static const struct {
        const char *file, *name, *value;
    } cases[] = {
        {"models/synth/gemma2-F32.gguf", "swa_layers", "0,2"},
        {"models/synth/gemma2-F32.gguf", "attn_softcap", "5"},
        {"models/synth/gemma2-F32.gguf", "ffn", "geglu"},
        {"models/synth/gemma3-F32.gguf", "swa_layers", "0,1"},
        {"models/synth/gemma3-F32.gguf", "rope_freq_base_swa", "10000"},
        {"models/synth/qwen2-F32.gguf", "attention", "q k v, qkv bias"},
        {"models/synth/qwen3-F32.gguf", "attention", "q k v, qk-norm"},
        {"models/synth/phi3-longrope-F32.gguf", "rope_factors", "long/short (LongRoPE)"},
        {"models/synth/phi3-F32.gguf", "attention", "fused qkv"},
        {"models/synth/llama-rope3-F32.gguf", "rope_factors", "rope_freqs (llama3)"},
        {"models/synth/qwen3moe-F32.gguf", "n_expert_used", "2"},
        {"models/synth/llama-moe-F32.gguf", "n_expert", "4"},
        {"models/synth/llama-tied-F32.gguf", "output", "tied to token_embd"},
        {"models/synth/llama-F32.gguf", "rope_type", "norm"},
    };
    size_t i;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        llm_model *m = t_load_model(cases[i].file);
        if (!m) continue;
        T_CHECK(strcmp(t_hparam(m, cases[i].name), cases[i].value) == 0, "%s: %s = '%s', want '%s'", cases[i].file, cases[i].name,
                t_hparam(m, cases[i].name), cases[i].value);
        llm_model_free(m);
    }
}

/* llm synth makes every architecture: the file loads, decodes to finite logits with the
   same bits in one batch and token by token, and the same seed gives the same bytes. */
static void test_arch_synth(void) {
    static const char *const archs[] = {"llama", "qwen2", "qwen3", "qwen3moe", "gemma", "gemma2", "gemma3", "phi3"};
    char cmd[512], path[128], err[256];
    int a, i, ids[16];
    if (!fopen("build/llm", "rb")) T_SKIP("build/llm not built");
    for (i = 0; i < 16; i++) ids[i] = 3 + (i * 97) % 500;
    for (a = 0; a < 8; a++) {
        llm_model *m;
        snprintf(path, sizeof path, "build/test-synth-%s.gguf", archs[a]);
        snprintf(cmd, sizeof cmd, "build/llm synth --arch %s --type q8_0 --seed 7 -o %s 2>/dev/null", archs[a], path);
        T_CHECK(system(cmd) == 0, "%s", cmd);
        m = llm_model_load(path, NULL, err, sizeof err);
        T_CHECK(m != NULL, "%s: %s", path, err);
        if (!m) continue;
        T_CHECK(strcmp(llm_model_arch(m), archs[a]) == 0 && strcmp(t_hparam(m, "arch"), archs[a]) == 0, "%s: arch", path);
        {
            size_t bytes = (size_t)16 * llm_model_n_vocab(m) * sizeof(float), k;
            float *x = t_decode_all(m, ids, 16, 2, LLM_KV_F32, 0, 0), *y = t_decode_all(m, ids, 16, 1, LLM_KV_F32, 0, 1);
            int finite = x != NULL;
            for (k = 0; x && k < bytes / 4; k++) finite &= x[k] == x[k] && fabsf(x[k]) < 1e6f;
            T_CHECK(finite, "%s: logits not finite", path);
            T_CHECK(x && y && memcmp(x, y, bytes) == 0, "%s: batch vs token-by-token differ", path);
            free(x);
            free(y);
        }
        llm_model_free(m);
    }
    /* determinism: the same command twice gives the same file */
    T_CHECK(system("build/llm synth --arch llama --type f16 --seed 3 -o build/test-synth-a.gguf 2>/dev/null && "
                   "build/llm synth --arch llama --type f16 --seed 3 -o build/test-synth-b.gguf 2>/dev/null && "
                   "cmp -s build/test-synth-a.gguf build/test-synth-b.gguf") == 0,
            "synth is not deterministic");
    for (a = 0; a < 8; a++) {
        snprintf(path, sizeof path, "build/test-synth-%s.gguf", archs[a]);
        remove(path);
    }
    remove("build/test-synth-a.gguf");
    remove("build/test-synth-b.gguf");
}

/* YaRN's angles: with no scaling it is plain rope; with factor 4 the fastest-rotating pairs
   keep their angle, the slowest are interpolated (angle / 4), and cos/sin grow by
   1 + 0.1 ln 4. */
static void test_rope_yarn(void) {
    llm__rope plain, yarn;
    float a[128], b[128];
    int i, same = 1;
    memset(&plain, 0, sizeof plain);
    plain.base = 10000.0f;
    plain.freq_scale = 1.0f;
    plain.mscale = 1.0f;
    plain.n_rot = 128;
    plain.n_ctx_orig = 4096;
    yarn = plain;
    yarn.ext_factor = 1.0f;
    llm__rope_table(a, 1000, &plain);
    llm__rope_table(b, 1000, &yarn);
    for (i = 0; i < 128; i++) same &= fabsf(a[i] - b[i]) <= 1e-5f; /* the mix of equal angles rounds */
    T_CHECK(same, "YaRN without scaling differs from plain rope");
    yarn.freq_scale = 0.25f;
    llm__rope_table(b, 1000, &yarn);
    {
        float m = 1.0f + 0.1f * logf(4.0f);
        float th0 = 1000.0f, thl = 1000.0f * powf(10000.0f, -2.0f * 63 / 128.0f);
        T_CHECK(fabsf(b[0] - cosf(th0) * m) < 1e-4f && fabsf(b[1] - sinf(th0) * m) < 1e-4f, "pair 0 is not extrapolated");
        T_CHECK(fabsf(b[126] - cosf(thl * 0.25f) * m) < 1e-4f, "the last pair is not interpolated: %g vs %g", b[126], cosf(thl * 0.25f) * m);
    }
}

static void tests_arch(void) {
    T_RUN(test_rope_yarn);
    T_RUN(test_arch_hparams);
    T_RUN(test_arch_synth);
    T_RUN(test_arch_refs);
    T_RUN(test_arch_greedy_f32);
    T_RUN(test_arch_bit_identity);
}
