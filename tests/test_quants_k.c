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

static void tests_quants_k(void) {
    T_RUN(test_kquant_dequant);
    T_RUN(test_kquant_matvec);
    T_RUN(test_kquant_refs);
}
