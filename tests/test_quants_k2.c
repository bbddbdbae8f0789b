/* Q6_K, IQ4_XS, TQ1_0 and TQ2_0 (super-blocks of 256, dotted with Q8_K activations) against
   llama.cpp's references: dequantization bit-exact, mat-vec within 2e-6 of max|y| on every
   instruction set, logits within the K-quant bounds of DESIGN §6; SIMD bit-exact with scalar;
   our quantizers no worse than 1.02x the RMSE of llama.cpp's files. */

static const t_bounds t_bounds_k2 = {"K/TQ", 7e-2, 2e-1, 5e-2, 7e-2, 5e-3};
static const char *const t_k2_types[4] = {"Q6_K", "IQ4_XS", "TQ1_0", "TQ2_0"};
static const int t_k2_ids[4] = {LLM_TYPE_Q6_K, LLM_TYPE_IQ4_XS, LLM_TYPE_TQ1_0, LLM_TYPE_TQ2_0};

/* A GGUF file parsed without building a model, so files that mix in a type this build cannot
   compute yet can still be checked tensor by tensor. */
typedef struct t_k2_file {
    uint8_t *bytes;
    llm__gguf g;
} t_k2_file;

static int t_k2_open(const char *rel, t_k2_file *f) {
    const char *path = t_shared(rel);
    char err[256];
    size_t size;
    memset(f, 0, sizeof *f);
    if (!path) return 0;
    f->bytes = t_read_file(path, &size);
    T_CHECK(f->bytes != NULL, "read %s", rel);
    if (!f->bytes) return 0;
    if (llm__gguf_parse(&f->g, f->bytes, size, NULL, LLM_MAX_TENSORS, err, sizeof err) != LLM_OK) {
        T_CHECK(0, "%s: %s", rel, err);
        free(f->bytes);
        return 0;
    }
    return 1;
}

static void t_k2_close(t_k2_file *f) {
    llm__gguf_free(&f->g, NULL);
    free(f->bytes);
}

static const llm__tensor *t_k2_tensor(const t_k2_file *f, const char *name) {
    uint64_t i;
    for (i = 0; i < f->g.n_tensors; i++)
        if (strcmp(f->g.tensors[i].name, name) == 0) return &f->g.tensors[i];
    return NULL;
}

/* Every row of a tensor as float32 (caller frees); NULL when its type has no to_float. */
static float *t_k2_dequant_tensor(const t_k2_file *f, const llm__tensor *t) {
    int64_t rows = t->ne[1] * t->ne[2] * t->ne[3];
    float *out;
    if (!llm__types[t->type].to_float) return NULL;
    out = (float *)malloc((size_t)(rows * t->ne[0]) * sizeof(float));
    llm__types[t->type].to_float(f->g.data + t->offset, out, rows * t->ne[0]);
    return out;
}

/* 1. dequantization: sha256 of every tensor's float32s as in refs/quants/<stem>.dequant.tsv;
   tensors of a type this build cannot dequantize are counted and named, not failed. */
static void t_k2_check_dequant(const char *stem) {
    char rel[256], line[512], skipped[256] = "";
    const char *path;
    FILE *fp;
    t_k2_file f;
    int checked = 0, n_skipped = 0;
    snprintf(rel, sizeof rel, "refs/quants/%s.dequant.tsv", stem);
    if (!(path = t_shared(rel))) return;
    snprintf(rel, sizeof rel, "models/synth/%s.gguf", stem);
    if (!t_k2_open(rel, &f)) return;
    fp = fopen(path, "r");
    while (fp && fgets(line, sizeof line, fp)) {
        char name[128], type[16], shape[64], sha[80], hex[65];
        double max_abs;
        const llm__tensor *t;
        float *buf;
        t_sha256 s;
        if (line[0] == '#' || sscanf(line, "%127s %15s %63s %79s %lf", name, type, shape, sha, &max_abs) != 5) continue;
        t = t_k2_tensor(&f, name);
        T_CHECK(t != NULL, "%s: tensor %s missing", stem, name);
        if (!t) continue;
        T_CHECK(strcmp(llm_type_name(t->type), type) == 0, "%s: %s type %s, reference %s", stem, name, llm_type_name(t->type), type);
        if (!(buf = t_k2_dequant_tensor(&f, t))) {
            if (!strstr(skipped, type) && strlen(skipped) + strlen(type) + 2 < sizeof skipped) strcat(strcat(skipped, " "), type);
            n_skipped++;
            continue;
        }
        t_sha256_init(&s);
        t_sha256_update(&s, buf, (size_t)(t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3]) * sizeof(float));
        t_sha256_hex(&s, hex);
        T_CHECK(strcmp(hex, sha) == 0, "%s: %s (%s) dequantizes differently", stem, name, type);
        free(buf);
        checked++;
    }
    if (fp) fclose(fp);
    T_CHECK(checked > 0, "%s: no tensors checked", stem);
    printf("       %-20s %2d tensors bit-exact", stem, checked);
    if (n_skipped) printf(", %d skipped (type not in this build:%s)", n_skipped, skipped);
    printf("\n");
    t_k2_close(&f);
}

static void test_k2_dequant(void) {
    int t;
    char stem[64];
    for (t = 0; t < 4; t++) {
        snprintf(stem, sizeof stem, "synth-q-%s", t_k2_types[t]);
        t_k2_check_dequant(stem);
    }
}

/* Whether this build computes every tensor type of a file (it can then load it as a model). */
static int t_k2_all_supported(const char *rel) {
    t_k2_file f;
    uint64_t i;
    int ok = 1;
    if (!t_k2_open(rel, &f)) return 0;
    for (i = 0; i < f.g.n_tensors; i++) ok &= llm_type_supported(f.g.tensors[i].type) != 0;
    t_k2_close(&f);
    return ok;
}

/* 2. mat-vec: t_check_matvec when the file loads as a model; otherwise the same check on the
   tensors of our types, read straight from the GGUF. */
static void t_k2_matvec_partial(const char *stem) {
    char rel[256], *json;
    const char *jpath, *bpath, *tensors, *obj;
    float *bin, *y;
    size_t jsize, bsize;
    t_k2_file f;
    unsigned masks[4];
    const char *names[4];
    int n_isa = t_isas(masks, names), isa, i, checked = 0, skipped = 0;
    double worst[4] = {0, 0, 0, 0};
    snprintf(rel, sizeof rel, "refs/quants/%s.matvec.json", stem);
    if (!(jpath = t_shared(rel))) return;
    snprintf(rel, sizeof rel, "refs/quants/%s.matvec.bin", stem);
    if (!(bpath = t_shared(rel))) return;
    snprintf(rel, sizeof rel, "models/synth/%s.gguf", stem);
    if (!t_k2_open(rel, &f)) return;
    json = (char *)t_read_file(jpath, &jsize);
    bin = (float *)t_read_file(bpath, &bsize);
    T_REQUIRE(json && bin, "read %s", stem);
    json = (char *)realloc(json, jsize + 1);
    json[jsize] = 0;
    tensors = tj_get(json, "tensors");
    y = (float *)malloc(sizeof(float) * 1000000);
    for (i = 0; (obj = tj_at(tensors, i)) != NULL; i++) {
        char name[128];
        const llm__tensor *w;
        int ne1, v;
        tj_str(tj_get(obj, "name"), name, sizeof name);
        w = t_k2_tensor(&f, name);
        T_CHECK(w != NULL, "%s: tensor %s missing", stem, name);
        if (!w || !llm_type_supported(w->type)) {
            skipped++;
            continue;
        }
        ne1 = (int)tj_num(tj_get(obj, "ne1"));
        for (isa = 0; isa < n_isa; isa++) {
            llm__kernels k;
            llm__tensor wt = *w;
            wt.data = f.g.data + w->offset;
            llm__kernels_init(&k, masks[isa]);
            for (v = 0; v < 6; v++) { /* x_0..x_3 against y_batch rows, x_0 against y, x_4 against y_tie */
                size_t xo = (size_t)tj_num(tj_get(obj, v == 5 ? "x_tie_offset" : "x_offset")) + (size_t)(v < 4 ? v : 0) * w->ne[0];
                size_t yo = v < 4 ? (size_t)tj_num(tj_get(obj, "y_batch_offset")) + (size_t)v * ne1
                                  : (size_t)tj_num(tj_get(obj, v == 4 ? "y_offset" : "y_tie_offset"));
                double e, mr;
                t_matvec(&k, &wt, bin + xo, y);
                e = t_max_err(y, bin + yo, ne1, &mr);
                T_CHECK(e <= 2e-6 * mr, "%s %s %s: vector %d off by %.3g of max|y|", stem, names[isa], name, v, e / mr);
                if (e / mr > worst[isa]) worst[isa] = e / mr;
            }
        }
        checked++;
    }
    T_CHECK(checked > 0, "%s: no tensor checked", stem);
    printf("       %-26s %2d tensors", stem, checked);
    for (isa = 0; isa < n_isa; isa++) printf("  %s %.2e", names[isa], worst[isa]);
    printf("  (worst error / max|y|; %d tensors of types not in this build skipped)\n", skipped);
    free(y);
    free(json);
    free(bin);
    t_k2_close(&f);
}

static void test_k2_matvec(void) {
    int t;
    char stem[64], rel[128];
    for (t = 0; t < 4; t++) {
        snprintf(stem, sizeof stem, "synth-q-%s", t_k2_types[t]);
        snprintf(rel, sizeof rel, "models/synth/%s.gguf", stem);
        if (t_k2_all_supported(rel))
            t_check_matvec("quants", stem);
        else if (!t_skipped_now)
            t_k2_matvec_partial(stem);
    }
}

/* 3. logits, for the files this build can load. */
static void test_k2_refs(void) {
    int t, k;
    char name[64], rel[128];
    for (t = 0; t < 4; t++) {
        snprintf(rel, sizeof rel, "models/synth/synth-q-%s.gguf", t_k2_types[t]);
        if (!t_k2_all_supported(rel)) {
            if (!t_skipped_now) printf("       synth-q-%s.0/.1 skipped: the file has a tensor type this build cannot compute\n", t_k2_types[t]);
            continue;
        }
        for (k = 0; k <= 1; k++) {
            snprintf(name, sizeof name, "synth-q-%s.%d", t_k2_types[t], k);
            t_check_ref("quants", name, &t_bounds_k2);
        }
    }
}

/* 4. SIMD against scalar on random and edge super-blocks: every kernel forms the same integer
   per super-block and the same float steps, so the results must be bit-identical. */
static uint32_t t_k2_rand(void) {
    t_rng ^= t_rng << 13;
    t_rng ^= t_rng >> 7;
    t_rng ^= t_rng << 17;
    return (uint32_t)(t_rng >> 32);
}

/* Weight blocks of type t: kind 0 random bytes with a moderate scale, 1 quantized normal
   values, 2 extremes (every byte 0xff or 0x00, largest scales), 3 zero scale, 4 mixed signs
   from a quantized +-big/-small pattern. */
static void t_k2_make_weights(int t, int kind, uint8_t *wq, int n) {
    const llm__type_traits *tt = &llm__types[t];
    int nb = n / 256, b, j, size = tt->size, dpos = t == LLM_TYPE_Q6_K ? 208 : t == LLM_TYPE_IQ4_XS ? 0 : t == LLM_TYPE_TQ1_0 ? 52 : 64;
    if (kind == 1 || kind == 4) {
        float *w = (float *)malloc(sizeof(float) * n);
        for (j = 0; j < n; j++) w[j] = kind == 1 ? t_randn() : ((j * 7) % 5 == 0 ? 40.0f : -0.01f * (float)(j % 13)) * (j & 1 ? 1.0f : -1.0f);
        tt->quantize(w, wq, n);
        free(w);
        return;
    }
    for (b = 0; b < nb; b++) {
        uint8_t *p = wq + (size_t)b * size;
        for (j = 0; j < size; j++) p[j] = kind == 0 ? (uint8_t)t_k2_rand() : (b & 1) ? 0xff : 0x00;
        if (kind == 2) { /* largest magnitudes: scales -128 or 127, IQ4_XS scale codes 0 or 63 */
            if (t == LLM_TYPE_Q6_K)
                for (j = 0; j < 16; j++) p[192 + j] = (b & 1) ? 0x80 : 0x7f;
            llm__put16(p + dpos, llm__fp32_to_fp16((b & 1) ? -65504.0f : 65504.0f));
        } else {
            llm__put16(p + dpos, kind == 3 ? 0 : llm__fp32_to_fp16(((float)(t_k2_rand() % 2000) - 1000.0f) * 1e-4f));
        }
    }
}

static void test_k2_simd_vs_scalar(void) {
    static const int lens[] = {256, 512, 1024, 4096};
    unsigned masks[4];
    const char *names[4];
    int n_isa = t_isas(masks, names), isa, ti, li, kind, xk, i, compared = 0;
    llm__kernels ref;
    llm__kernels_init(&ref, LLM_CPU_SCALAR);
    for (isa = 1; isa < n_isa; isa++) {
        llm__kernels k;
        llm__kernels_init(&k, masks[isa]);
        for (ti = 0; ti < 4; ti++)
            for (li = 0; li < 4; li++)
                for (kind = 0; kind < 5; kind++)
                    for (xk = 0; xk < 4; xk++) {
                        int t = t_k2_ids[ti], n = lens[li];
                        float *x = (float *)malloc(sizeof(float) * n), a, b;
                        uint8_t *wq = (uint8_t *)malloc(llm__type_row_bytes(t, n)), *xq = (uint8_t *)malloc(llm__type_row_bytes(LLM_TYPE_Q8_K, n));
                        t_k2_make_weights(t, kind, wq, n);
                        /* activations: normal, all +-127 after scaling, zero, alternating extremes */
                        for (i = 0; i < n; i++)
                            x[i] = xk == 0 ? t_randn() * 3.0f : xk == 1 ? (i % 3 ? 1.0f : -1.0f) : xk == 2 ? 0.0f : (i & 1 ? 1e4f : -1e-4f);
                        llm__q8_K_from_float(x, xq, n);
                        ref.vec_dot[t](n, &a, wq, xq);
                        k.vec_dot[t](n, &b, wq, xq);
                        T_CHECK(memcmp(&a, &b, sizeof a) == 0, "%s %s n=%d weights %d x %d: %.9g vs scalar %.9g", names[isa], llm_type_name(t),
                                n, kind, xk, b, a);
                        compared++;
                        free(x);
                        free(wq);
                        free(xq);
                    }
    }
    if (n_isa == 1) printf("       only the scalar path exists on this machine\n");
    else printf("       %d SIMD results compared with scalar, %d differ\n", compared, t_failed_now);
}

/* 5. quantizer quality: quantize each 2-D tensor of synth-q-F32 (rows a multiple of 256) with
   our quantizer, and compare the RMSE against the F32 values with that of llama.cpp's
   synth-q-<T> for the tensors that file stores in type T. */
static void test_k2_quantizer_rmse(void) {
    int ti;
    t_k2_file f32;
    if (!t_k2_open("models/synth/synth-q-F32.gguf", &f32)) return;
    for (ti = 0; ti < 4; ti++) {
        char rel[128];
        t_k2_file fq;
        uint64_t i;
        int t = t_k2_ids[ti], n_t = 0;
        double se_ours = 0, se_ref = 0, worst = 0;
        snprintf(rel, sizeof rel, "models/synth/synth-q-%s.gguf", t_k2_types[ti]);
        if (!t_k2_open(rel, &fq)) break;
        for (i = 0; i < f32.g.n_tensors; i++) {
            const llm__tensor *src = &f32.g.tensors[i], *lq = t_k2_tensor(&fq, src->name);
            int64_t cnt = src->ne[0] * src->ne[1], j;
            float *x, *theirs, *ours;
            uint8_t *q;
            double a = 0, b = 0;
            if (src->n_dims != 2 || src->ne[0] % 256 != 0 || !lq || lq->type != t) continue;
            x = t_k2_dequant_tensor(&f32, src);
            theirs = t_k2_dequant_tensor(&fq, lq);
            q = (uint8_t *)malloc(llm__type_row_bytes(t, cnt));
            ours = (float *)malloc(sizeof(float) * (size_t)cnt);
            llm__types[t].quantize(x, q, cnt);
            llm__types[t].to_float(q, ours, cnt);
            for (j = 0; j < cnt; j++) {
                a += ((double)ours[j] - x[j]) * ((double)ours[j] - x[j]);
                b += ((double)theirs[j] - x[j]) * ((double)theirs[j] - x[j]);
            }
            if (sqrt(a / b) > worst) worst = sqrt(a / b);
            se_ours += a;
            se_ref += b;
            n_t++;
            free(x);
            free(theirs);
            free(q);
            free(ours);
        }
        T_CHECK(n_t > 0, "%s: no tensor to compare", t_k2_types[ti]);
        if (n_t > 0) {
            double ratio = sqrt(se_ours / se_ref);
            T_CHECK(ratio <= 1.02 && worst <= 1.02, "%s: RMSE %.4fx llama.cpp's (worst tensor %.4fx)", t_k2_types[ti], ratio, worst);
            printf("       %-7s %2d tensors  RMSE ours / llama.cpp's %.4f overall, worst tensor %.4f\n", t_k2_types[ti], n_t, ratio, worst);
        }
        t_k2_close(&fq);
    }
    t_k2_close(&f32);
}

static void tests_quants_k2(void) {
    T_RUN(test_k2_dequant);
    T_RUN(test_k2_matvec);
    T_RUN(test_k2_refs);
    T_RUN(test_k2_simd_vs_scalar);
    T_RUN(test_k2_quantizer_rmse);
}
