/* K-quants Q2_K Q3_K Q4_K Q5_K: dequantization bit-exact with ggml, mat-vec against llama.cpp
   per instruction set, logits of the single-type files, every SIMD kernel against the scalar
   one on random and edge super-blocks, and our quantizer's error against llama.cpp's files. */

static const char *t_kq_types[4] = {"Q2_K", "Q3_K", "Q4_K", "Q5_K"};
static const t_bounds t_bounds_kquant = {"K", 7e-2, 2e-1, 5e-2, 7e-2, 5e-3};

/* The mixes (Q2_K, Q3_K_S, ...) hold other types too (Q6_K); a mix is checked once every
   tensor type it holds is supported (refs/quants/TENSOR_TYPES.tsv lists them). */
static int t_kq_all_supported(const char *stem) {
    char line[512], file[128], tensor[128], type[32];
    const char *path = t_shared("refs/quants/TENSOR_TYPES.tsv");
    FILE *f = path ? fopen(path, "r") : NULL;
    int ok = 1, seen = 0;
    size_t len = strlen(stem);
    while (f && fgets(line, sizeof line, f)) {
        if (sscanf(line, "%127s %127s %31s", file, tensor, type) != 3 || strncmp(file, stem, len) != 0 || strcmp(file + len, ".gguf") != 0)
            continue;
        seen++;
        if (ok && !llm_type_supported(llm_type_from_name(type))) {
            printf("       %s: skipped, its tensor %s has type %s, not supported yet\n", stem, tensor, type);
            ok = 0;
        }
    }
    if (f) fclose(f);
    return ok && seen > 0;
}

static const char *const t_kq_mixes[7] = {"synth-q-Q2_K", "synth-q-Q3_K_S", "synth-q-Q3_K_M", "synth-q-Q4_K_S",
                                          "synth-q-Q4_K_M", "synth-q-Q5_K_S", "synth-q-Q5_K_M"};

static void test_kquant_dequant(void) {
    const char *const *mixes = t_kq_mixes;
    char stem[64];
    int t;
    for (t = 0; t < 4; t++) {
        snprintf(stem, sizeof stem, "synth-q-%s-pure", t_kq_types[t]);
        t_check_dequant(stem);
    }
    for (t = 0; t < 7; t++)
        if (t_kq_all_supported(mixes[t])) t_check_dequant(mixes[t]);
}

static void test_kquant_matvec(void) {
    char stem[64];
    int t;
    for (t = 0; t < 4; t++) {
        snprintf(stem, sizeof stem, "synth-q-%s-pure", t_kq_types[t]);
        t_check_matvec("quants", stem);
    }
}

static void test_kquant_refs(void) {
    char name[64];
    int t, k;
    for (t = 0; t < 4; t++)
        for (k = 0; k <= 1; k++) {
            snprintf(name, sizeof name, "synth-q-%s-pure.%d", t_kq_types[t], k);
            t_check_ref("quants", name, &t_bounds_kquant);
        }
    /* the mixes llama-quantize makes (Q6_K output, bigger attn_v and ffn_down) */
    for (t = 0; t < 7; t++) {
        T_CHECK(t_kq_all_supported(t_kq_mixes[t]), "%s has a tensor type this build cannot compute", t_kq_mixes[t]);
        t_check_matvec("quants", t_kq_mixes[t]);
        for (k = 0; k <= 1; k++) {
            snprintf(name, sizeof name, "%s.%d", t_kq_mixes[t], k);
            t_check_ref("quants", name, &t_bounds_kquant);
        }
    }
}

/* Every SIMD kernel against the scalar one: random bytes (every level, scale and min pattern)
   and edge super-blocks (zero factors, largest scales and mins, all-max and all-min levels,
   negative factors), with random activations and activations all at +-127. The kernels form
   the same exact integer sums and end in the same float steps, so the results must be
   bit-identical. */
static uint64_t t_kq_rng = 0x9e3779b97f4a7c15ull;
static uint32_t t_kq_rand(void) {
    t_kq_rng ^= t_kq_rng << 13;
    t_kq_rng ^= t_kq_rng >> 7;
    t_kq_rng ^= t_kq_rng << 17;
    return (uint32_t)(t_kq_rng >> 32);
}

/* A finite fp16 value: random sign and mantissa, exponent 1..29 (|v| below 2^15). */
static uint16_t t_kq_half(void) {
    uint32_t r = t_kq_rand();
    return (uint16_t)((r & 0x83ff) | ((1 + (r >> 16) % 29) << 10));
}

/* Fills one weight super-block of type t; kind 0 random, 1 zero factors, 2 every byte 0xff,
   3 every level byte 0 with the largest scales, 4 random bytes with negative factors. */
static void t_kq_block(int t, uint8_t *b, int kind) {
    int size = llm__types[t].size, i, fd = t == LLM_TYPE_Q2_K ? 80 : t == LLM_TYPE_Q3_K ? 108 : 0;
    for (i = 0; i < size; i++) b[i] = kind == 2 ? 0xff : kind == 3 ? 0 : (uint8_t)t_kq_rand();
    if (kind == 3) { /* largest scales (and mins), lowest levels */
        if (t == LLM_TYPE_Q2_K) memset(b, 0xff, 16);
        if (t == LLM_TYPE_Q3_K) memset(b + 96, 0xff, 12);
        if (t == LLM_TYPE_Q4_K || t == LLM_TYPE_Q5_K) memset(b + 4, 0xff, 12);
    }
    llm__put16(b + fd, kind == 1 ? 0 : kind == 4 ? (uint16_t)(t_kq_half() | 0x8000) : t_kq_half());
    if (t != LLM_TYPE_Q3_K) llm__put16(b + fd + 2, kind == 1 ? 0 : kind == 4 ? (uint16_t)(t_kq_half() | 0x8000) : t_kq_half());
}

static void test_kquant_simd_vs_scalar(void) {
    static const int types[4] = {LLM_TYPE_Q2_K, LLM_TYPE_Q3_K, LLM_TYPE_Q4_K, LLM_TYPE_Q5_K};
    static const int nblocks[4] = {1, 2, 5, 16};
    unsigned masks[4];
    const char *names[4];
    int n_isa = t_isas(masks, names), isa, ti, ni, rep, i, xk, checked = 0, bad = 0;
    llm__kernels ref;
    llm__kernels_init(&ref, LLM_CPU_SCALAR);
    for (isa = 1; isa < n_isa; isa++) {
        llm__kernels k;
        llm__kernels_init(&k, masks[isa]);
        for (ti = 0; ti < 4; ti++) {
            int t = types[ti];
            T_CHECK(k.vec_dot[t] != ref.vec_dot[t], "%s %s: no kernel registered", names[isa], llm_type_name(t));
            for (ni = 0; ni < 4; ni++)
                for (rep = 0; rep < 24; rep++)
                    for (xk = 0; xk < 3; xk++) {
                        int n = 256 * nblocks[ni], size = llm__types[t].size;
                        uint8_t *wq = (uint8_t *)malloc((size_t)(size * nblocks[ni]));
                        uint8_t *xq = (uint8_t *)malloc((size_t)(LLM__Q8_K_BYTES * nblocks[ni]));
                        float *x = (float *)malloc(sizeof(float) * (size_t)n), a, b;
                        for (i = 0; i < nblocks[ni]; i++) t_kq_block(t, wq + i * size, rep < 8 ? 0 : (rep + i) % 5);
                        /* activations: random; all one value (every q = -127); alternating +-1 (q = +-127) */
                        for (i = 0; i < n; i++) x[i] = xk == 0 ? t_randn() * (float)(rep + 1) : xk == 1 ? 3.0f : (i & 1 ? -1.0f : 1.0f);
                        llm__q8_K_from_float(x, xq, n);
                        ref.vec_dot[t](n, &a, wq, xq);
                        k.vec_dot[t](n, &b, wq, xq);
                        if (memcmp(&a, &b, sizeof a) != 0) {
                            bad++;
                            T_CHECK(0, "%s %s n=%d rep %d x %d: %.9g, scalar %.9g", names[isa], llm_type_name(t), n, rep, xk, b, a);
                        }
                        checked++;
                        free(wq);
                        free(xq);
                        free(x);
                    }
        }
    }
    if (n_isa == 1) printf("       only the scalar path exists on this machine\n");
    else printf("       %d dot products, %d differ from the scalar kernel's bits\n", checked, bad);
}

/* The quantizers on edge input: zeros stay zero, a constant block and a block of one sign
   come back close, and nothing is NaN; NaN and infinite input must not crash (UBSan build). */
static void test_kquant_quantizer_edges(void) {
    static const int types[4] = {LLM_TYPE_Q2_K, LLM_TYPE_Q3_K, LLM_TYPE_Q4_K, LLM_TYPE_Q5_K};
    float x[256], y[256];
    uint8_t q[256];
    int ti, kind, i;
    for (ti = 0; ti < 4; ti++) {
        for (kind = 0; kind < 3; kind++) { /* NaN here and there, infinities, both */
            for (i = 0; i < 256; i++) x[i] = t_randn();
            if (kind != 1) x[3] = x[100] = NAN;
            if (kind != 0) x[7] = INFINITY, x[200] = -INFINITY;
            llm__types[types[ti]].quantize(x, q, 256);
            llm__types[types[ti]].to_float(q, y, 256);
        }
        for (kind = 0; kind < 4; kind++) {
            double se = 0, sx = 0;
            for (i = 0; i < 256; i++)
                x[i] = kind == 0 ? 0.0f : kind == 1 ? 0.75f : kind == 2 ? fabsf(t_randn()) + 1.0f : (i == 7 ? 100.0f : t_randn() * 0.01f);
            llm__types[types[ti]].quantize(x, q, 256);
            llm__types[types[ti]].to_float(q, y, 256);
            for (i = 0; i < 256; i++) {
                T_CHECK(y[i] == y[i], "%s kind %d: NaN at %d", t_kq_types[ti], kind, i);
                se += ((double)y[i] - x[i]) * ((double)y[i] - x[i]);
                sx += (double)x[i] * x[i];
            }
            if (kind == 0) T_CHECK(se == 0, "%s: zeros do not come back as zeros", t_kq_types[ti]);
            else /* 2-bit levels over [1, 3] with the min held at or below 0 (as ggml's): about 0.11 */
                T_CHECK(sqrt(se / sx) < (kind == 3 || ti == 0 ? 0.2 : 0.1), "%s kind %d: relative RMSE %.3g", t_kq_types[ti], kind,
                        sqrt(se / sx));
        }
    }
}

/* Our quantizer against llama.cpp's (no importance matrix): every 2-D tensor of the F32 model
   whose rows are whole super-blocks, quantized, dequantized and compared with the F32 values;
   the RMSE must be at most 1.02 x that of the same tensor in llama.cpp's single-type file. */
static double t_kq_rmse(const float *a, const float *b, int64_t n) {
    double se = 0;
    int64_t i;
    for (i = 0; i < n; i++) se += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
    return sqrt(se / (double)n);
}

static void test_kquant_quantizer(void) {
    static const int types[4] = {LLM_TYPE_Q2_K, LLM_TYPE_Q3_K, LLM_TYPE_Q4_K, LLM_TYPE_Q5_K};
    char rel[128];
    llm_model *f32 = t_load_model("models/synth/synth-q-F32.gguf"), *ref;
    int t, i;
    if (!f32) return;
    for (t = 0; t < 4; t++) {
        double worst = 0, sum_ours = 0, sum_ref = 0;
        int compared = 0;
        snprintf(rel, sizeof rel, "models/synth/synth-q-%s-pure.gguf", t_kq_types[t]);
        if (!(ref = t_load_model(rel))) continue;
        for (i = 0; i < llm_model_tensor_count(f32); i++) {
            llm_tensor_info ti, tr;
            int64_t n;
            int j;
            float *x, *ours, *theirs;
            uint8_t *q;
            double e_ours, e_ref;
            llm_model_tensor_info(f32, i, &ti);
            if (ti.n_dims != 2 || ti.ne[0] % 256 != 0) continue;
            j = llm_model_tensor_find(ref, ti.name);
            if (j < 0) continue;
            llm_model_tensor_info(ref, j, &tr);
            if (tr.type != types[t]) continue;
            n = ti.ne[0] * ti.ne[1];
            x = (float *)malloc(sizeof(float) * (size_t)n);
            ours = (float *)malloc(sizeof(float) * (size_t)n);
            theirs = (float *)malloc(sizeof(float) * (size_t)n);
            q = (uint8_t *)malloc(llm_type_row_size(types[t], ti.ne[0]) * (size_t)ti.ne[1]);
            T_CHECK(llm_model_tensor_dequantize(f32, i, 0, ti.ne[1], x) == LLM_OK, "read %s", ti.name);
            T_CHECK(llm_model_tensor_dequantize(ref, j, 0, ti.ne[1], theirs) == LLM_OK, "read %s", ti.name);
            llm__types[types[t]].quantize(x, q, n);
            llm__types[types[t]].to_float(q, ours, n);
            e_ours = t_kq_rmse(ours, x, n);
            e_ref = t_kq_rmse(theirs, x, n);
            T_CHECK(e_ours <= 1.02 * e_ref, "%s %s: RMSE %.4g, llama.cpp %.4g (ratio %.4f)", t_kq_types[t], ti.name, e_ours, e_ref,
                    e_ours / e_ref);
            if (e_ours / e_ref > worst) worst = e_ours / e_ref;
            sum_ours += e_ours * e_ours * (double)n;
            sum_ref += e_ref * e_ref * (double)n;
            compared++;
            free(x);
            free(ours);
            free(theirs);
            free(q);
        }
        T_CHECK(compared > 0, "%s: no tensor compared", t_kq_types[t]);
        printf("       %s: %2d tensors, RMSE ours / llama.cpp: worst tensor %.4f, whole file %.4f\n", t_kq_types[t], compared, worst,
               sqrt(sum_ours / (sum_ref > 0 ? sum_ref : 1)));
        llm_model_free(ref);
    }
    llm_model_free(f32);
}

static void tests_quants_k(void) {
    T_RUN(test_kquant_dequant);
    T_RUN(test_kquant_matvec);
    T_RUN(test_kquant_refs);
    T_RUN(test_kquant_simd_vs_scalar);
    T_RUN(test_kquant_quantizer);
    T_RUN(test_kquant_quantizer_edges);
}
