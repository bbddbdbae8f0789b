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

static void test_kquant_dequant(void) {
    static const char *mixes[] = {"synth-q-Q2_K", "synth-q-Q3_K_S", "synth-q-Q3_K_M", "synth-q-Q4_K_S",
                                  "synth-q-Q4_K_M", "synth-q-Q5_K_S", "synth-q-Q5_K_M"};
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
    T_RUN(test_kquant_quantizer);
}
