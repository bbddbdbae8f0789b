/* The type table, half-precision conversions, dequantization against ggml's fingerprints, and
   every dot-product kernel against llama.cpp's mat-vec outputs (refs/README.md §2.2), once per
   instruction set this machine has. */

/* ---- SHA-256 (FIPS 180-4), for the dequantization fingerprints ---- */
typedef struct t_sha256 {
    uint32_t h[8];
    uint8_t buf[64];
    uint64_t len;
} t_sha256;

static const uint32_t t_sha_k[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01,
    0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc,
    0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
    0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08,
    0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
    0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

static uint32_t t_ror(uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }

static void t_sha256_block(t_sha256 *s, const uint8_t *p) {
    uint32_t w[64], a, b, c, d, e, f, g, h, t1, t2;
    int i;
    for (i = 0; i < 16; i++) w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 | (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
    for (i = 16; i < 64; i++)
        w[i] = w[i - 16] + (t_ror(w[i - 15], 7) ^ t_ror(w[i - 15], 18) ^ (w[i - 15] >> 3)) + w[i - 7] +
               (t_ror(w[i - 2], 17) ^ t_ror(w[i - 2], 19) ^ (w[i - 2] >> 10));
    a = s->h[0]; b = s->h[1]; c = s->h[2]; d = s->h[3]; e = s->h[4]; f = s->h[5]; g = s->h[6]; h = s->h[7];
    for (i = 0; i < 64; i++) {
        t1 = h + (t_ror(e, 6) ^ t_ror(e, 11) ^ t_ror(e, 25)) + ((e & f) ^ (~e & g)) + t_sha_k[i] + w[i];
        t2 = (t_ror(a, 2) ^ t_ror(a, 13) ^ t_ror(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
        h = g; g = f; f = e; e = d + t1; d = c; c = b; b = a; a = t1 + t2;
    }
    s->h[0] += a; s->h[1] += b; s->h[2] += c; s->h[3] += d; s->h[4] += e; s->h[5] += f; s->h[6] += g; s->h[7] += h;
}

static void t_sha256_init(t_sha256 *s) {
    static const uint32_t h0[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    memcpy(s->h, h0, sizeof h0);
    s->len = 0;
}
static void t_sha256_update(t_sha256 *s, const void *data, size_t n) {
    const uint8_t *p = (const uint8_t *)data;
    while (n--) {
        s->buf[s->len++ % 64] = *p++;
        if (s->len % 64 == 0) t_sha256_block(s, s->buf);
    }
}
static void t_sha256_hex(t_sha256 *s, char out[65]) {
    uint64_t bits = s->len * 8;
    uint8_t pad = 0x80, z = 0, lenb[8];
    int i;
    t_sha256_update(s, &pad, 1);
    while (s->len % 64 != 56) t_sha256_update(s, &z, 1);
    for (i = 0; i < 8; i++) lenb[i] = (uint8_t)(bits >> (56 - 8 * i));
    t_sha256_update(s, lenb, 8);
    for (i = 0; i < 8; i++) sprintf(out + 8 * i, "%08x", s->h[i]);
}

static void test_sha256_vector(void) {
    t_sha256 s;
    char hex[65];
    t_sha256_init(&s);
    t_sha256_update(&s, "abc", 3);
    t_sha256_hex(&s, hex);
    T_CHECK(strcmp(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad") == 0, "sha256(abc) = %s", hex);
}

/* ---- the type table ---- */

static void test_type_table(void) {
    int i;
    for (i = 0; i < LLM_TYPE_COUNT; i++) {
        const llm__type_traits *t = &llm__types[i];
        T_CHECK(t->id == i, "row %d holds id %d", i, t->id);
        if (t->name) {
            T_CHECK(t->blck > 0 && t->size > 0, "%s: block %d, size %d", t->name, t->blck, t->size);
            T_CHECK(llm_type_from_name(t->name) == i, "%s: name lookup", t->name);
        }
        if (t->vec_dot) {
            T_CHECK(t->to_float && t->quantize && llm__types[t->vec_dot_type].from_float, "%s: incomplete row", t->name);
        }
    }
    T_CHECK(llm_type_from_name("Q8_0") == LLM_TYPE_Q8_0 && llm_type_from_name("nope") == -1, "names");
    T_CHECK(llm_type_row_size(LLM_TYPE_Q8_0, 64) == 68 && llm_type_row_size(LLM_TYPE_Q8_0, 33) == 0, "row sizes");
    T_CHECK(llm_type_supported(LLM_TYPE_F16) && llm_type_supported(LLM_TYPE_Q4_K) && !llm_type_supported(LLM_TYPE_IQ2_XXS), "supported set");
}

/* ---- half precision ---- */

#if defined(LLM__AVX2)
LLM__TARGET_AVX2 static uint16_t t_f16c(float f) { return (uint16_t)_cvtss_sh(f, 0); }
#endif

static void test_fp16_conversion(void) {
    uint32_t h, u, bad = 0;
    for (h = 0; h < 65536; h++) { /* every half survives a round trip (NaNs stay NaN) */
        float f = llm__fp16_to_fp32((uint16_t)h);
        uint16_t back = llm__fp32_to_fp16(f);
        if (f != f ? (back & 0x7fff) <= 0x7c00 : back != h) bad++;
    }
    T_CHECK(bad == 0, "%u halves do not round-trip", bad);
    /* rounding to nearest even at the halfway points, subnormals and overflow */
    T_CHECK(llm__fp32_to_fp16(1.0f + 1.0f / 2048) == 0x3c00, "1 + 2^-11 rounds to even (down)");
    T_CHECK(llm__fp32_to_fp16(1.0f + 3.0f / 2048) == 0x3c02, "1 + 3*2^-11 rounds to even (up)");
    T_CHECK(llm__fp32_to_fp16(65520.0f) == 0x7c00 && llm__fp32_to_fp16(65519.0f) == 0x7bff, "overflow edge");
    T_CHECK(llm__fp32_to_fp16(5.9604644775390625e-8f) == 1 && llm__fp32_to_fp16(2.98023223876953125e-8f) == 0, "smallest subnormal");
    T_CHECK(llm__fp32_to_bf16(1.0f + 1.0f / 256) == 0x3f80 && llm__fp32_to_bf16(1.0f + 3.0f / 256) == 0x3f82, "bf16 ties to even");
#if defined(LLM__AVX2)
    if (llm_cpu_features() & LLM_CPU_AVX2) { /* the F16C instruction agrees on 2^24 patterns */
        for (u = 0, bad = 0; u < (1u << 24); u++) {
            uint32_t bits = u * 257u + (u >> 3);
            float f = llm__f32_from_bits(bits);
            if (f == f && llm__fp32_to_fp16(f) != t_f16c(f)) bad++;
        }
        T_CHECK(bad == 0, "%u floats convert differently from F16C", bad);
    }
#else
    (void)u;
#endif
}

/* ---- dequantization: bit-exact with ggml (sha256 of every tensor's float32s) ---- */

/* Loads a file for reading its tensors one by one: vocab_only skips the checks a runnable
   model needs, so a file holding a type this build cannot compute (e.g. a Q6_K output) still
   loads. NULL (skipped, see t_shared) when missing. */
static llm_model *t_load_tensors(const char *rel) {
    llm_model_params p = llm_model_default_params();
    char err[256];
    const char *path = t_shared(rel);
    llm_model *m;
    if (!path) return NULL;
    p.vocab_only = 1;
    m = llm_model_load(path, &p, err, sizeof err);
    T_CHECK(m != NULL, "load %s: %s", rel, err);
    return m;
}

static void t_check_dequant(const char *stem) {
    char rel[256], line[512];
    const char *path;
    FILE *f;
    llm_model *m;
    int checked = 0, not_here = 0;
    snprintf(rel, sizeof rel, "refs/quants/%s.dequant.tsv", stem);
    if (!(path = t_shared(rel))) return;
    snprintf(rel, sizeof rel, "models/synth/%s.gguf", stem);
    m = t_load_tensors(rel);
    if (!m) return;
    f = fopen(path, "r");
    while (f && fgets(line, sizeof line, f)) {
        char name[128], type[16], shape[64], sha[80], hex[65];
        double max_abs;
        int i;
        llm_tensor_info ti;
        if (line[0] == '#' || sscanf(line, "%127s %15s %63s %79s %lf", name, type, shape, sha, &max_abs) != 5) continue;
        i = llm_model_tensor_find(m, name);
        T_CHECK(i >= 0, "%s: tensor %s missing", stem, name);
        if (i < 0) continue;
        llm_model_tensor_info(m, i, &ti);
        T_CHECK(strcmp(llm_type_name(ti.type), type) == 0, "%s: %s type %s, reference %s", stem, name, llm_type_name(ti.type), type);
        if (!llm__types[ti.type].to_float) { /* a type another part of the library adds */
            not_here++;
            continue;
        }
        {
            int64_t rows = ti.ne[1] * ti.ne[2] * ti.ne[3], k;
            float *buf = (float *)malloc((size_t)(rows * ti.ne[0]) * sizeof(float));
            double mx = 0;
            t_sha256 s;
            T_CHECK(llm_model_tensor_dequantize(m, i, 0, rows, buf) == LLM_OK, "%s: dequantize %s", stem, name);
            for (k = 0; k < rows * ti.ne[0]; k++) mx = fabs(buf[k]) > mx ? fabs(buf[k]) : mx;
            t_sha256_init(&s);
            t_sha256_update(&s, buf, (size_t)(rows * ti.ne[0]) * sizeof(float)); /* little-endian hosts */
            t_sha256_hex(&s, hex);
            T_CHECK(strcmp(hex, sha) == 0, "%s: %s dequantizes differently (max_abs %.9g, reference %.9g)", stem, name, mx, max_abs);
            free(buf);
            checked++;
        }
    }
    if (f) fclose(f);
    T_CHECK(checked > 0, "%s: no tensors checked", stem);
    if (not_here) printf("       %s: %d tensors of types this build cannot dequantize not checked\n", stem, not_here);
    llm_model_free(m);
}

static void test_dequant_bit_exact(void) {
    t_check_dequant("synth-q-F32");
    t_check_dequant("synth-q-F16");
    t_check_dequant("synth-q-BF16");
    t_check_dequant("synth-q-Q8_0");
}

/* ---- mat-vec against the reference, per instruction set ---- */

/* The instruction sets this machine can run, as cpu_features masks, with names. */
static int t_isas(unsigned *masks, const char **names) {
    unsigned f = llm_cpu_features();
    int n = 0;
    masks[n] = LLM_CPU_SCALAR;
    names[n++] = "scalar";
    if (f & LLM_CPU_AVX2) {
        masks[n] = LLM_CPU_AVX2;
        names[n++] = "avx2";
    }
    if (f & LLM_CPU_NEON) {
        masks[n] = LLM_CPU_NEON;
        names[n++] = "neon";
    }
    if ((f & LLM_CPU_NEON) && (f & LLM_CPU_DOTPROD)) {
        masks[n] = LLM_CPU_NEON | LLM_CPU_DOTPROD;
        names[n++] = "neon+dotprod";
    }
    return n;
}

/* y = W x with kernels k, x converted to W's vec_dot type first (as the forward pass does). */
static void t_matvec(const llm__kernels *k, const llm__tensor *w, const float *x, float *y) {
    int vdt = llm__types[w->type].vec_dot_type, r, n = (int)w->ne[0];
    size_t rb = llm__type_row_bytes(w->type, n);
    uint8_t *xq = (uint8_t *)malloc(llm__type_row_bytes(vdt, n));
    llm__types[vdt].from_float(x, xq, n);
    for (r = 0; r < (int)w->ne[1]; r++) k->vec_dot[w->type](n, &y[r], w->data + (size_t)r * rb, xq);
    free(xq);
}

static double t_max_err(const float *a, const float *b, int n, double *max_ref) {
    double e = 0, mr = 0;
    int i;
    for (i = 0; i < n; i++) {
        if (fabs((double)a[i] - b[i]) > e) e = fabs((double)a[i] - b[i]);
        if (fabs(b[i]) > mr) mr = fabs(b[i]);
    }
    *max_ref = mr;
    return e;
}

static void t_check_matvec(const char *dir, const char *stem) {
    char rel[256], *json;
    const char *jpath, *bpath, *tensors, *obj;
    float *bin, *y;
    size_t jsize, bsize;
    llm_model *m;
    unsigned masks[4];
    const char *names[4];
    int n_isa = t_isas(masks, names), isa, i, checked = 0, not_here = 0;
    double worst[4] = {0, 0, 0, 0};
    snprintf(rel, sizeof rel, "refs/%s/%s.matvec.json", dir, stem);
    if (!(jpath = t_shared(rel))) return;
    snprintf(rel, sizeof rel, "refs/%s/%s.matvec.bin", dir, stem);
    if (!(bpath = t_shared(rel))) return;
    json = (char *)t_read_file(jpath, &jsize);
    bin = (float *)t_read_file(bpath, &bsize);
    T_REQUIRE(json && bin, "read %s", stem);
    json = (char *)realloc(json, jsize + 1);
    json[jsize] = 0;
    tj_str(tj_get(json, "model"), rel, sizeof rel);
    m = t_load_tensors(rel);
    if (!m) {
        free(json);
        free(bin);
        return;
    }
    tensors = tj_get(json, "tensors");
    y = (float *)malloc(sizeof(float) * 1000000);
    for (i = 0; (obj = tj_at(tensors, i)) != NULL; i++) {
        char name[128];
        const llm__tensor *w;
        int ne1, col;
        tj_str(tj_get(obj, "name"), name, sizeof name);
        w = llm__model_tensor(m, name);
        T_CHECK(w != NULL, "%s: tensor %s missing", stem, name);
        if (w && !llm_type_supported(w->type)) not_here++;
        if (!w || !llm_type_supported(w->type)) continue;
        ne1 = (int)tj_num(tj_get(obj, "ne1"));
        for (isa = 0; isa < n_isa; isa++) {
            llm__kernels k;
            double e, mr;
            llm__kernels_init(&k, masks[isa]);
            /* y = W x_0 and y_tie = W x_4 (mat-vec) */
            t_matvec(&k, w, bin + (size_t)tj_num(tj_get(obj, "x_offset")), y);
            e = t_max_err(y, bin + (size_t)tj_num(tj_get(obj, "y_offset")), ne1, &mr);
            T_CHECK(e <= 2e-6 * mr, "%s %s %s: y off by %.3g of max|y|", stem, names[isa], name, e / mr);
            if (e / mr > worst[isa]) worst[isa] = e / mr;
            t_matvec(&k, w, bin + (size_t)tj_num(tj_get(obj, "x_tie_offset")), y);
            e = t_max_err(y, bin + (size_t)tj_num(tj_get(obj, "y_tie_offset")), ne1, &mr);
            T_CHECK(e <= 2e-6 * mr, "%s %s %s: y_tie off by %.3g of max|y|", stem, names[isa], name, e / mr);
            if (e / mr > worst[isa]) worst[isa] = e / mr;
            /* y_batch: row j is W x_j */
            for (col = 0; col < 4; col++) {
                t_matvec(&k, w, bin + (size_t)tj_num(tj_get(obj, "x_offset")) + (size_t)col * w->ne[0], y);
                e = t_max_err(y, bin + (size_t)tj_num(tj_get(obj, "y_batch_offset")) + (size_t)col * ne1, ne1, &mr);
                T_CHECK(e <= 2e-6 * mr, "%s %s %s: y_batch row %d off by %.3g of max|y|", stem, names[isa], name, col, e / mr);
                if (e / mr > worst[isa]) worst[isa] = e / mr;
            }
        }
        checked++;
    }
    T_CHECK(checked > 0, "%s: no tensor checked", stem);
    printf("       %-26s %2d tensors", stem, checked);
    for (isa = 0; isa < n_isa; isa++) printf("  %s %.2e", names[isa], worst[isa]);
    printf("  (worst error / max|y|)%s\n", not_here ? "; tensors of types this build cannot compute skipped" : "");
    free(y);
    free(json);
    free(bin);
    llm_model_free(m);
}

static void test_matvec_refs(void) {
    t_check_matvec("real", "stories260K");
    t_check_matvec("real", "TinyStories-656K-F16");
    t_check_matvec("real", "TinyStories-656K-Q8_0");
    t_check_matvec("real", "TinyStories-656K-Q8_0-alt");
    t_check_matvec("quants", "synth-q-F32");
    t_check_matvec("quants", "synth-q-F16");
    t_check_matvec("quants", "synth-q-BF16");
    t_check_matvec("quants", "synth-q-Q8_0");
}

/* ---- every SIMD kernel against the scalar reference on random rows ---- */

static uint64_t t_rng = 88172645463325252ull;
static float t_randn(void) { /* sum of uniforms: roughly normal, deterministic */
    float s = 0;
    int i;
    for (i = 0; i < 4; i++) {
        t_rng ^= t_rng << 13;
        t_rng ^= t_rng >> 7;
        t_rng ^= t_rng << 17;
        s += (float)(t_rng >> 40) / 16777216.0f - 0.5f;
    }
    return s;
}

/* The activation quantizers of each ISA (the Q8 forms the dot products take) write the scalar
   functions' bytes: random rows at several scales, and blocks made to hit the edges (ties at
   .5, zeros, -0, equal magnitudes of both signs, NaN and infinities, subnormal and huge
   maxima whose fp16 scale under- or overflows). */
static void t_act_row(float *x, int n, int kind) {
    int i;
    for (i = 0; i < n; i++) x[i] = t_randn() * (kind == 1 ? 1e-3f : kind == 2 ? 1e4f : 1.0f);
    if (kind == 3) /* exact ties: amax 127, so q = x * 1 */
        for (i = 0; i < n; i++) x[i] = (i % 32 == 0) ? 127.0f : (float)((i * 7) % 254 - 127) + 0.5f * (i & 1);
    if (kind == 4)
        for (i = 0; i < n; i++) x[i] = i % 3 == 0 ? -0.0f : 0.0f;
    if (kind == 5) /* the same magnitude with both signs, the negative first */
        for (i = 0; i < n; i++) x[i] = i % 11 == 3 ? -5.0f : i % 11 == 7 ? 5.0f : (float)(i % 5) * 0.25f;
    if (kind == 6) x[n / 2] = NAN, x[1] = INFINITY, x[n - 1] = -INFINITY, x[40] = NAN;
    if (kind == 7)
        for (i = 0; i < n; i++) x[i] = t_randn() * 1e-41f; /* subnormal: 127 / amax overflows */
    if (kind == 8)
        for (i = 0; i < n; i++) x[i] = t_randn() * 1e8f; /* amax / 127 past fp16's range */
    if (kind == 9) /* halfway between two halves (normal and subnormal), both signs; 65520 rounds to infinity */
        for (i = 0; i < n; i++) x[i] = (i & 1 ? -1.0f : 1.0f) * ldexpf(1.0f + (float)(2 * (i % 5) + 1) / 2048.0f, i % 40 - 26) + (i == 7 ? 65520.0f : 0.0f);
}

static void test_act_quant_simd(void) {
    static const int forms[] = {LLM_TYPE_Q8_0, LLM_TYPE_Q8_1, LLM_TYPE_Q8_K, LLM_TYPE_F16};
    unsigned masks[4];
    const char *names[4];
    int n_isa = t_isas(masks, names), isa, fi, kind, n = 1024, n_checked = 0;
    float *x = (float *)malloc(sizeof(float) * n);
    for (isa = 1; isa < n_isa; isa++) {
        llm__kernels k;
        llm__kernels_init(&k, masks[isa]);
        for (fi = 0; fi < 4; fi++)
            for (kind = 0; kind < 10; kind++) {
                int t = forms[fi];
                size_t bytes = llm__type_row_bytes(t, n);
                uint8_t *a = (uint8_t *)malloc(bytes), *b = (uint8_t *)malloc(bytes);
                t_act_row(x, n, kind);
                memset(a, 0x5a, bytes);
                memset(b, 0xa5, bytes);
                llm__types[t].from_float(x, a, n);
                k.from_float[t](x, b, n);
                T_CHECK(memcmp(a, b, bytes) == 0, "%s %s kind %d: bytes differ from scalar", names[isa], llm_type_name(t), kind);
                n_checked++;
                free(a);
                free(b);
            }
    }
    free(x);
    printf("       %d rows of activations compared byte for byte with scalar\n", n_checked);
    if (n_isa == 1) printf("       only the scalar path exists on this machine\n");
}

static void test_simd_vs_scalar(void) {
    static const int types[] = {LLM_TYPE_F32, LLM_TYPE_F16, LLM_TYPE_BF16, LLM_TYPE_Q8_0};
    static const int lens[] = {32, 64, 96, 160, 256, 1024, 4096};
    unsigned masks[4];
    const char *names[4];
    int n_isa = t_isas(masks, names), isa, ti, li, rep, i;
    llm__kernels ref;
    llm__kernels_init(&ref, LLM_CPU_SCALAR);
    for (isa = 1; isa < n_isa; isa++) {
        llm__kernels k;
        llm__kernels_init(&k, masks[isa]);
        T_CHECK(k.features & masks[isa], "%s not enabled", names[isa]);
        for (ti = 0; ti < 4; ti++)
            for (li = 0; li < 7; li++)
                for (rep = 0; rep < 8; rep++) {
                    int t = types[ti], n = lens[li] + (llm__types[t].blck == 1 ? rep : 0), vdt = llm__types[t].vec_dot_type;
                    float *w = (float *)malloc(sizeof(float) * n), *x = (float *)malloc(sizeof(float) * n), a, b;
                    uint8_t *wq = (uint8_t *)malloc(llm__type_row_bytes(t, n)), *xq = (uint8_t *)malloc(llm__type_row_bytes(vdt, n));
                    double mag = 0;
                    for (i = 0; i < n; i++) {
                        w[i] = t_randn();
                        x[i] = t_randn() * (rep + 1);
                        mag += fabs(w[i] * x[i]);
                    }
                    llm__types[t].quantize(w, wq, n);
                    llm__types[vdt].from_float(x, xq, n);
                    ref.vec_dot[t](n, &a, wq, xq);
                    k.vec_dot[t](n, &b, wq, xq);
                    if (t == LLM_TYPE_Q8_0) /* the same integers and float steps in the same order */
                        T_CHECK(memcmp(&a, &b, sizeof a) == 0, "%s q8_0 n=%d: %.9g, scalar %.9g", names[isa], n, b, a);
                    else
                        T_CHECK(fabs((double)a - b) <= 1e-6 * mag, "%s %s n=%d: %.9g vs scalar %.9g", names[isa], llm_type_name(t), n, b, a);
                    free(w);
                    free(x);
                    free(wq);
                    free(xq);
                }
    }
    if (n_isa == 1) printf("       only the scalar path exists on this machine\n");
}

/* Tile kernels (several rows x several columns per call) give each output the bits of the
   type's own dot kernel, for every tile shape and remainder: a result must not depend on the
   batch it was computed in. A gemm that takes float columns (llm__kernels.gemm_x) gets them
   from the same floats. */
static void test_gemm_tiles(void) {
    static const int rows[] = {1, 2, 3, 8, 9, 17}, cols[] = {1, 2, 3, 4, 5, 9};
    unsigned masks[4];
    const char *names[4];
    int n_isa = t_isas(masks, names), isa, t, ri, ci, i, n_checked = 0;
    for (isa = 0; isa < n_isa; isa++) {
        llm__kernels k;
        llm__kernels_init(&k, masks[isa]);
        for (t = 0; t < LLM_TYPE_COUNT; t++) {
            int vdt = llm__types[t].vec_dot_type, blck = llm__types[t].blck, n = blck == 256 ? 512 : blck == 1 ? 101 : 608, r, c, bad = 0;
            size_t wb, xb, gb;
            float *w, *x, *y;
            uint8_t *wq, *xq, *xg;
            if (!k.gemm[t]) continue;
            wb = llm__type_row_bytes(t, n);
            xb = llm__type_row_bytes(vdt, n);
            gb = k.gemm_x[t] ? sizeof(float) * n : xb;
            w = (float *)malloc(sizeof(float) * n * 17);
            x = (float *)malloc(sizeof(float) * n * 9);
            y = (float *)malloc(sizeof(float) * 17 * 9);
            wq = (uint8_t *)malloc(wb * 17);
            xq = (uint8_t *)malloc(xb * 9);
            xg = (uint8_t *)malloc(gb * 9);
            for (i = 0; i < n * 17; i++) w[i] = t_randn();
            for (i = 0; i < n * 9; i++) x[i] = t_randn() * (1 + i % 7);
            for (r = 0; r < 17; r++) llm__types[t].quantize(w + (size_t)r * n, wq + r * wb, n);
            for (c = 0; c < 9; c++) {
                llm__types[vdt].from_float(x + (size_t)c * n, xq + c * xb, n);
                (k.gemm_x[t] ? k.gemm_x[t] : llm__types[vdt].from_float)(x + (size_t)c * n, xg + c * gb, n);
            }
            for (ri = 0; ri < 6; ri++)
                for (ci = 0; ci < 6; ci++) {
                    int nr = rows[ri], nc = cols[ci];
                    for (i = 0; i < 17 * 9; i++) y[i] = -1.0f;
                    k.gemm[t](n, wq, wb, nr, xg, gb, nc, y, 17);
                    for (c = 0; c < nc; c++)
                        for (r = 0; r < nr; r++) {
                            float want;
                            k.vec_dot[t](n, &want, wq + r * wb, xq + c * xb);
                            if (memcmp(&want, &y[c * 17 + r], sizeof want) != 0 && bad++ < 3)
                                T_CHECK(0, "%s %s tile %dx%d: row %d col %d %.9g, dot %.9g", names[isa], llm_type_name(t), nr, nc, r, c,
                                        y[c * 17 + r], want);
                            n_checked++;
                        }
                }
            free(w);
            free(x);
            free(y);
            free(wq);
            free(xq);
            free(xg);
        }
    }
    printf("       %d outputs of tile kernels checked\n", n_checked);
}

/* Weights packed eight rows at a time (llm__pack_x8) give every output the bits of the same
   kernels on the rows as stored: the packed tile kernels where the ISA has them, and row by
   row (llm__x8_rows) where it does not. Widths with a tail of blocks past a multiple of 8. */
static void test_packed_x8(void) {
    static const int types[] = {LLM_TYPE_Q4_0, LLM_TYPE_Q8_0, LLM_TYPE_Q4_K, LLM_TYPE_Q2_K,   LLM_TYPE_Q6_K,
                                LLM_TYPE_Q5_K, LLM_TYPE_Q3_K, LLM_TYPE_Q5_0, LLM_TYPE_IQ4_NL, LLM_TYPE_IQ4_XS},
                     widths[] = {32, 256, 608, 2048}, cols[] = {1, 3, 4, 5, 9};
    unsigned masks[4];
    const char *names[4];
    int n_isa = t_isas(masks, names), isa, ti, wi, ci, i, n_checked = 0, n_fast = 0;
    for (isa = 0; isa < n_isa; isa++) {
        llm__kernels k;
        llm__kernels_init(&k, masks[isa]);
        for (ti = 0; ti < (int)(sizeof types / sizeof types[0]); ti++)
            for (wi = 0; wi < 4 && (k.gemm_x8[types[ti]] || masks[isa] == LLM_CPU_SCALAR); wi++) { /* packing needs the kernels */
                int t = types[ti], n = llm__types[t].blck == 256 ? 256 * (wi + 1) : widths[wi], nr = 24, r, c, bad = 0;
                int vdt = llm__types[t].vec_dot_type;
                size_t wb = llm__type_row_bytes(t, n), xb = llm__type_row_bytes(vdt, n);
                float *w = (float *)malloc(sizeof(float) * n * nr), *x = (float *)malloc(sizeof(float) * n * 9);
                float *y = (float *)malloc(sizeof(float) * nr * 9);
                uint8_t *wq = (uint8_t *)malloc(wb * nr), *wp = (uint8_t *)malloc(wb * nr), *xq = (uint8_t *)malloc(xb * 9);
                llm__tensor tensor;
                llm__matmul_job j;
                for (i = 0; i < n * nr; i++) w[i] = t_randn() * (1 + i % 5);
                for (i = 0; i < n * 9; i++) x[i] = t_randn() * (1 + i % 7);
                for (r = 0; r < nr; r++) llm__types[t].quantize(w + (size_t)r * n, wq + r * wb, n);
                if (t == LLM_TYPE_Q8_0) wq[2] = 0x80; /* -128, which a file may hold */
                for (c = 0; c < 9; c++) llm__types[vdt].from_float(x + (size_t)c * n, xq + c * xb, n);
                for (r = 0; r < nr; r += 8)
                    llm__pack_x8(t, n / llm__types[t].blck, wq + r * wb, wb, wp + r * wb);
                memset(&tensor, 0, sizeof tensor);
                tensor.type = t;
                tensor.n_dims = 2;
                tensor.ne[0] = n;
                tensor.ne[1] = nr;
                tensor.ne[2] = tensor.ne[3] = 1;
                tensor.data = wq;
                tensor.packed = wp;
                memset(&j, 0, sizeof j);
                j.w = &tensor;
                j.wdata = wp;
                j.xq = xq;
                j.xq_stride = xb;
                j.ld_y = nr;
                j.row_bytes = wb;
                j.dot = k.vec_dot[t];
                j.gemm = k.gemm_x8[t];
                j.rows_per_task = 8;
                if (j.gemm) n_fast++;
                for (ci = 0; ci < 5; ci++) {
                    j.n_cols = cols[ci];
                    j.y = y;
                    for (i = 0; i < nr * 9; i++) y[i] = -1.0f;
                    for (r = 0; r < nr / 8; r++) llm__matmul_task(&j, r, 0);
                    for (c = 0; c < j.n_cols; c++)
                        for (r = 0; r < nr; r++) {
                            float want;
                            k.vec_dot[t](n, &want, wq + r * wb, xq + c * xb);
                            if (memcmp(&want, &y[c * nr + r], sizeof want) != 0 && bad++ < 3)
                                T_CHECK(0, "%s %s n=%d packed, %d columns: row %d col %d %.9g, unpacked %.9g", names[isa],
                                        llm_type_name(t), n, j.n_cols, r, c, y[c * nr + r], want);
                            n_checked++;
                        }
                }
                free(w);
                free(x);
                free(y);
                free(wq);
                free(wp);
                free(xq);
            }
    }
    printf("       %d outputs of packed weights checked (%d cases with a packed kernel)\n", n_checked, n_fast);
}

/* One attention case for test_attn_heads: random K and V for two KV heads in an F16 or Q8_0
   cache (rows in blocks of 32 positions, the blocks in a shuffled table), eight query heads on
   KV head 1. */
typedef struct t_attn_case {
    int hd, n, type;
    size_t row_bytes; /* one position: both KV heads */
    uint8_t *k, *v;
    int32_t tab[32];
    float q[8 * 256];
} t_attn_case;

static void t_attn_setup(t_attn_case *tc, int type, int hd, int n) {
    int i, j, nblk = (n + 31) / 32;
    float row[512];
    tc->hd = hd;
    tc->n = n;
    tc->type = type;
    tc->row_bytes = llm__type_row_bytes(type, 2 * hd);
    tc->k = (uint8_t *)malloc(tc->row_bytes * 32 * (size_t)nblk);
    tc->v = (uint8_t *)malloc(tc->row_bytes * 32 * (size_t)nblk);
    for (i = 0; i < nblk * 32; i++) { /* rows as the cache writes them (the type's from_float) */
        for (j = 0; j < 2 * hd; j++) row[j] = t_randn();
        llm__types[type].from_float(row, tc->k + tc->row_bytes * (size_t)i, 2 * hd);
        for (j = 0; j < 2 * hd; j++) row[j] = t_randn();
        llm__types[type].from_float(row, tc->v + tc->row_bytes * (size_t)i, 2 * hd);
    }
    for (i = 0; i < nblk; i++) tc->tab[i] = (i * 5 + 3) % nblk; /* a permutation: 5 is prime to each nblk here (1, 2, 7, 17) */
    for (i = 0; i < 8 * hd; i++) tc->q[i] = t_randn() * 2.0f;
}

static llm__attn_head t_attn_head(t_attn_case *tc, float *out, float *s, size_t s_stride, float cap) {
    static float qs[LLM__ATTN_GROUP * LLM__ATTN_TOKENS * 256];
    llm__attn_head a;
    size_t head1 = llm__type_row_bytes(tc->type, tc->hd);
    memset(&a, 0, sizeof a);
    a.q = tc->q;
    a.q_stride = 8 * (size_t)tc->hd;
    a.out = out;
    a.s = s;
    a.qs = qs;
    a.s_stride = s_stride;
    a.k = tc->k + head1; /* KV head 1 */
    a.v = tc->v + head1;
    a.tab = tc->tab;
    a.row_bytes = tc->row_bytes;
    a.blk_bytes = 32 * a.row_bytes;
    a.sh = 5;
    a.msk = 31;
    a.hd = tc->hd;
    a.nh = 8;
    a.nt = 1;
    a.p0 = tc->n > 100 ? 5 : 0; /* a sliding window's start, sometimes */
    a.p1 = tc->n;
    a.scale = 1.0f / sqrtf((float)tc->hd);
    a.cap = cap;
    return a;
}

/* Value i of the head row at position p of a cache (k or v of a), as a float. */
static float t_attn_val(const llm__attn_head *a, const uint8_t *base, int type, int p, int i) {
    const uint8_t *r = llm__attn_row(a, base, p);
    if (type == LLM_TYPE_F16) return llm__fp16_to_fp32(llm__le16(r + 2 * i));
    r += (size_t)(i / 32) * LLM__Q8_0_BYTES;
    return llm__fp16_to_fp32(llm__le16(r)) * (float)(int8_t)r[2 + i % 32];
}

/* The fast attention's exp on 8 values (x in, y out), where the build has one. */
#if defined(LLM__AVX2)
LLM__TARGET_AVX2 static void t_exp_neg8(const float *x, float *y) { _mm256_storeu_ps(y, llm__exp_neg_avx2(_mm256_loadu_ps(x))); }
#define T_ATTN_FAST "avx2"
#elif defined(LLM__NEON) && !defined(__AARCH64EB__)
static void t_exp_neg8(const float *x, float *y) {
    vst1q_f32(y, llm__exp_neg_neon(vld1q_f32(x)));
    vst1q_f32(y + 4, llm__exp_neg_neon(vld1q_f32(x + 4)));
}
#define T_ATTN_FAST "neon"
#endif

#if defined(T_ATTN_FAST)
/* The worst relative error of that exp over x in [-87, 0] (against exp in double), and
   whether it gives 0 below. */
static double t_exp_neg_error(int *zero_below) {
    double worst = 0;
    float x[8], y[8];
    int i, j;
    for (i = 0; i < 200000; i += 8) {
        for (j = 0; j < 8; j++) x[j] = -87.0f * (float)(i + j) / 199999.0f;
        t_exp_neg8(x, y);
        for (j = 0; j < 8; j++) {
            double want = exp((double)x[j]), e = fabs(y[j] - want) / want;
            worst = e > worst ? e : worst;
        }
    }
    for (i = 0; i < 8; i++) x[i] = -87.34f - 10.0f * (float)i;
    t_exp_neg8(x, y);
    for (i = 0, *zero_below = 1; i < 8; i++) *zero_below &= y[i] == 0.0f;
    return worst;
}
#define T_ATTN_NAME "(" T_ATTN_FAST ")"
#else
#define T_ATTN_NAME ""
#endif

/* Attention of one token over an F16 or a Q8_0 cache: the generic steps (scalar kernels, one
   vec_dot per position, libm's expf) and the machine's fast kernel (llm__kernels.attn_f16 or
   attn_q8_0: AVX2, or NEON for F16) against the same math in double, with q as both take it
   (rounded to F16; in Q8_0). F16: each output is within 1e-3 of max|V| of it (the F16
   rounding of the weights, half a step, 2^-11, of each, moves an output by at most 2^-11 of
   max|V|), and the fast kernel's weights are within one F16 step of the generic ones (exp
   differs in the last bits). Q8_0 takes the weights as floats: outputs within 1e-5 of max|V|,
   weights within 4 float steps. A head's bits do not depend on how many heads of its group
   one call takes (that number follows the thread count). */
static void test_attn_heads(void) {
    static const int hds[] = {8, 64, 80, 128, 256, 32}, lens[] = {1, 7, 8, 9, 63, 200, 517}, types[] = {LLM_TYPE_F16, LLM_TYPE_Q8_0};
    llm__kernels ks, kf;
    llm_context *c = (llm_context *)calloc(1, sizeof *c);
    float *sg = (float *)malloc(sizeof(float) * 8 * 517), *sf = (float *)malloc(sizeof(float) * 8 * 517);
    float *s1 = (float *)malloc(sizeof(float) * 517), og[8 * 256], of[8 * 256], o1[256];
    float *q4 = (float *)malloc(sizeof(float) * 4 * 8 * 256), *o4 = (float *)malloc(sizeof(float) * 4 * 8 * 256);
    float *s4 = (float *)malloc(sizeof(float) * 4 * 8 * 517);
    uint8_t tmp[2048];
    double worst_g[2] = {0, 0}, worst_f[2] = {0, 0};
    int ti, hi, li, capi, h, p, i, n_cases = 0, n_multi[2] = {0, 0};
    llm__kernels_init(&ks, LLM_CPU_SCALAR);
    llm__kernels_init(&kf, 0);
    c->kern = ks;
    c->head_tmp_stride = 1024;
    for (ti = 0; ti < 2; ti++)
        for (hi = 0; hi < 6; hi++)
            for (li = 0; li < 7; li++)
                for (capi = 0; capi < 2; capi++) {
                    const int type = types[ti], f16 = type == LLM_TYPE_F16;
                    llm__attn_fn fast = f16 ? kf.attn_f16 : kf.attn_q8_0;
                    const double bound = f16 ? 1e-3 : 1e-5;
                    t_attn_case tc;
                    llm__attn_head a;
                    float qv[8 * 256];
                    uint8_t qq[8 * 256 / 32 * LLM__Q8_0_BYTES];
                    double vmax = 0;
                    if (hds[hi] % 32 != 0 && !f16) continue; /* a Q8_0 cache needs whole blocks */
                    c->kv_elt = (llm_type)type;
                    t_attn_setup(&tc, type, hds[hi], lens[li]);
                    a = t_attn_head(&tc, og, sg, 517, capi ? 5.0f : 0.0f);
                    for (i = 0; i < 8 * a.hd; i++) qv[i] = llm__fp16_to_fp32(llm__fp32_to_fp16(tc.q[i]));
                    if (!f16) { /* q in Q8_0, as both paths quantize it for the dot */
                        llm__q8_0_from_float(tc.q, qq, 8 * a.hd);
                        llm__q8_0_to_float(qq, qv, 8 * a.hd);
                    }
                    for (p = a.p0; p < a.p1; p++)
                        for (i = 0; i < a.hd; i++) {
                            double v = fabs(t_attn_val(&a, a.v, type, p, i));
                            vmax = v > vmax ? v : vmax;
                        }
                    llm__attn_heads_generic(c, &a, tmp);
                    if (fast) {
                        llm__attn_head b = t_attn_head(&tc, of, sf, 517, a.cap);
                        fast(&b);
                    }
                    for (h = 0; h < 8; h++) { /* the same math in double */
                        double sc[517], mx = -1e300, sum = 0;
                        for (p = a.p0; p < a.p1; p++) {
                            double d = 0;
                            for (i = 0; i < a.hd; i++) d += (double)qv[h * a.hd + i] * t_attn_val(&a, a.k, type, p, i);
                            if (a.cap > 0) d = a.cap * tanh(d / a.cap);
                            sc[p] = d * a.scale;
                            mx = sc[p] > mx ? sc[p] : mx;
                        }
                        for (p = a.p0; p < a.p1; p++) sum += sc[p] = exp(sc[p] - mx);
                        for (i = 0; i < a.hd; i++) {
                            double want = 0, eg, ef;
                            for (p = a.p0; p < a.p1; p++) want += sc[p] / sum * t_attn_val(&a, a.v, type, p, i);
                            eg = fabs(og[h * a.hd + i] - want) / vmax;
                            worst_g[ti] = eg > worst_g[ti] ? eg : worst_g[ti];
                            T_CHECK(eg <= bound, "generic type %d hd %d n %d cap %g head %d out[%d] %.7g, want %.7g", type, a.hd, a.p1, a.cap,
                                    h, i, og[h * a.hd + i], want);
                            if (!fast) continue;
                            ef = fabs(of[h * a.hd + i] - want) / vmax;
                            worst_f[ti] = ef > worst_f[ti] ? ef : worst_f[ti];
                            T_CHECK(ef <= bound, "fast type %d hd %d n %d cap %g head %d out[%d] %.7g, want %.7g", type, a.hd, a.p1, a.cap, h,
                                    i, of[h * a.hd + i], want);
                        }
                        for (p = a.p0, sum = 0; p < a.p1; p++) sum += (double)sg[h * 517 + p]; /* the generic path keeps e^(s - max) */
                        for (p = a.p0; fast && p < a.p1; p++) {
                            float wg = sg[h * 517 + p] * (float)(1.0 / sum), wf = sf[h * 517 + p];
                            if (f16) wg = llm__fp16_to_fp32(llm__fp32_to_fp16(wg));
                            T_CHECK(fabsf(wf - wg) <= wg * (f16 ? 1.0f / 1024 : 4.0f / 16777216) + 6e-8f,
                                    "type %d hd %d n %d head %d: weight %d %.9g, generic %.9g", type, a.hd, a.p1, h, p, wf, wg);
                        }
                    }
                    if (fast) { /* head 5 alone: the same bits as within its group */
                        llm__attn_head b = t_attn_head(&tc, o1, s1, 517, a.cap);
                        b.q += 5 * (size_t)a.hd;
                        b.nh = 1;
                        fast(&b);
                        T_CHECK(memcmp(o1, of + 5 * a.hd, sizeof(float) * (size_t)a.hd) == 0, "type %d hd %d n %d: head 5 alone differs from its group",
                                type, a.hd, a.p1);
                    }
                    if (fast && (f16 ? kf.attn_f16_nt : kf.attn_q8_0_nt) > 1 && a.p1 - 3 > a.p0) { /* four tokens in one call: each has its own call's bits */
                        llm__attn_head b = t_attn_head(&tc, o4, s4, 517, a.cap);
                        int t;
                        for (i = 0; i < 4 * 8 * a.hd; i++) q4[i] = t_randn() * 2.0f;
                        static const int nhs[3] = {8, 4, 1}; /* 32, 16 or 4 queries in the call */
                        b.nh = nhs[(hi + li) % 3];
                        b.q = q4;
                        b.out = o4;
                        b.nt = 4;
                        b.p1 = a.p1 - 3; /* token t sees positions up to p1 - 3 + t */
                        fast(&b);
                        for (t = 0; t < 4; t++) {
                            llm__attn_head one = t_attn_head(&tc, of, sf, 517, a.cap);
                            one.q = q4 + (size_t)t * 8 * a.hd;
                            one.nh = b.nh;
                            one.p1 = a.p1 - 3 + t;
                            fast(&one);
                            T_CHECK(memcmp(of, o4 + (size_t)t * 8 * a.hd, sizeof(float) * (size_t)b.nh * (size_t)a.hd) == 0,
                                    "type %d hd %d n %d nh %d: token %d of four in one call differs from its own call", type, a.hd, a.p1, b.nh, t);
                        }
                        n_multi[ti]++;
                    }
                    free(tc.k);
                    free(tc.v);
                    n_cases++;
                }
#if defined(T_ATTN_FAST)
    if (kf.attn_f16) { /* its exp: within 2.5 float steps (2^-24 each, relative) of the true value */
        int zero_below;
        double e = t_exp_neg_error(&zero_below);
        T_CHECK(e <= 1.5e-7 && zero_below, "exp: worst relative error %.3g (2.5 steps: 1.5e-7), 0 below -87.34: %d", e, zero_below);
        printf("       exp on [-87, 0]: worst relative error %.2e\n", e);
    }
#endif
    printf("       %d cases, worst error / max|V|: F16 generic %.2e, fast %s %.2e; Q8_0 generic %.2e, fast %s %.2e\n", n_cases, worst_g[0],
           kf.attn_f16 ? T_ATTN_NAME : "(none on this machine)", worst_f[0], worst_g[1], kf.attn_q8_0 ? T_ATTN_NAME : "(none on this machine)",
           worst_f[1]);
    if (kf.attn_f16_nt > 1 || kf.attn_q8_0_nt > 1)
        printf("       four tokens in one call, each token the bits of its own call: F16 %d cases, Q8_0 %d cases\n", n_multi[0], n_multi[1]);
    else printf("       several tokens in one call: the machine's kernels take one token\n");
    free(c);
    free(sg);
    free(sf);
    free(s1);
    free(q4);
    free(o4);
    free(s4);
}

/* SwiGLU (llm__kernels.swiglu, g = silu(g) * u): the generic and the machine's kernel against
   the math in double, over gates from -120 to 120 (both tails: e^-x under FLT_MIN and above
   FLT_MAX) and the special values. Each result is within 4 float steps (relative) of the true
   value and of its sign, or within 2e-36 where it is smaller (e^x under FLT_MIN: both flush to
   0); silu(-inf) is NaN, as the formula takes it. A value's bits do not depend on its place in a run (tail lanes). */
static void test_swiglu(void) {
    enum { N = 4003 }; /* not a multiple of 8 or 4: a tail */
    static const float special[] = {0.0f, -0.0f, INFINITY, -INFINITY, 1e-30f, -1e-30f, 88.0f, -88.0f, 89.0f, -89.0f};
    llm__kernels ks, kf;
    const llm__kernels *k[2];
    float *g = (float *)malloc(sizeof(float) * N), *u = (float *)malloc(sizeof(float) * N), *y = (float *)malloc(sizeof(float) * N);
    double worst[2] = {0, 0};
    int ki, i;
    llm__kernels_init(&ks, LLM_CPU_SCALAR);
    llm__kernels_init(&kf, 0);
    k[0] = &ks;
    k[1] = &kf;
    for (i = 0; i < N; i++) {
        g[i] = i < 10 ? special[i] : -120.0f + 240.0f * (float)i / (float)(N - 1);
        u[i] = 0.5f + (float)(i % 7) * 0.25f;
    }
    for (ki = 0; ki < 2; ki++) {
        memcpy(y, g, sizeof(float) * N);
        k[ki]->swiglu(y, u, N);
        for (i = 0; i < N; i++) {
            double x = g[i], want = x / (1.0 + exp(-x)) * u[i], err;
            if (isinf(x) && x < 0) { /* -inf / (1 + inf) */
                T_CHECK(isnan(y[i]), "kernel %d: silu(-inf) = %g, want nan", ki, y[i]);
                continue;
            }
            err = fabs(y[i] - want);
            if (isinf(want) || fabs(want) < 2e-36) err = isinf(want) ? (y[i] == want ? 0 : 1) : err > 2e-36;
            else err /= fabs(want);
            worst[ki] = err > worst[ki] ? err : worst[ki];
            T_CHECK(err <= 4.0 / 16777216, "kernel %d: silu(%.9g) * %g = %.9g, want %.9g", ki, g[i], u[i], y[i], want);
            T_CHECK(!signbit(y[i]) == !signbit(want), "kernel %d: sign of silu(%g)", ki, g[i]);
        }
        for (i = 0; i < 13; i++) { /* the last 13 alone: the same bits as within the run */
            float t[13];
            memcpy(t, g + N - 13, sizeof t);
            k[ki]->swiglu(t, u + N - 13, 13);
            T_CHECK(memcmp(t, y + N - 13, sizeof t) == 0, "kernel %d: a tail's bits depend on its place", ki);
        }
    }
    printf("       worst relative error: generic %.2e, fast %s %.2e\n", worst[0], kf.swiglu != ks.swiglu ? T_ATTN_NAME : "(none on this machine)", worst[1]);
    free(g);
    free(u);
    free(y);
}

/* The Q8_0 activation form: ggml's CPU rule (127/amax, ties to even), not its _ref quantizer
   (roundf: ties away from zero). With amax = 127 the scale is exactly 1, so x = k + 1/2 is a
   tie and must go to the even neighbour. */
static void test_q8_0_activation_rounding(void) {
    float x[32];
    uint8_t q[LLM__Q8_0_BYTES];
    int i;
    x[0] = 127.0f;
    for (i = 1; i < 32; i++) x[i] = (float)(i - 16) + 0.5f; /* -14.5 .. 15.5 */
    llm__q8_0_from_float(x, q, 32);
    T_CHECK((int8_t)q[2] == 127, "amax element");
    for (i = 1; i < 32; i++) {
        int lo = (int)floorf(x[i]), want = (lo % 2 == 0) ? lo : lo + 1;
        T_CHECK((int8_t)q[2 + i] == want, "%.1f -> %d, want %d (ties to even)", x[i], (int8_t)q[2 + i], want);
    }
    llm__q8_0_quantize(x, q, 32); /* the weight quantizer keeps ggml's roundf rule */
    T_CHECK((int8_t)q[2 + 17] == 2 && (int8_t)q[2 + 16] == 1, "roundf ties away: %d %d", (int8_t)q[2 + 17], (int8_t)q[2 + 16]);
}

/* The AArch64 builds (NEON, and NEON with dotprod) run the kernel and model tests under
   qemu-aarch64-static; the Makefile builds them when the cross compiler exists. */
#if !defined(__aarch64__)
static void t_run_qemu(const char *bin) {
    char cmd[512], line[256], last[256] = "";
    FILE *p;
    int rc;
    if (!fopen(bin, "rb")) T_SKIP("%s not built (needs gcc-aarch64-linux-gnu)", bin);
    if (system("command -v qemu-aarch64-static >/dev/null 2>&1") != 0) T_SKIP("qemu-aarch64-static not installed");
    snprintf(cmd, sizeof cmd,
             "qemu-aarch64-static %s test_sha256 test_type_table test_fp16 test_q8_0 test_dequant test_matvec test_simd "
             "test_refs_real test_bit_identity test_rng test_tok_vectors test_kquant_dequant test_kquant_matvec test_kquant_refs "
             "test_kquant_simd test_q32 test_k2 test_packed test_attn_heads test_swiglu 2>&1",
             bin);
    p = popen(cmd, "r");
    T_REQUIRE(p, "popen");
    while (fgets(line, sizeof line, p)) {
        if (strstr(line, "FAIL") || strstr(line, "neon")) printf("       [%s] %s", bin, line);
        snprintf(last, sizeof last, "%s", line);
    }
    rc = pclose(p);
    printf("       [%s] %s", bin, last);
    T_CHECK(rc == 0 && strstr(last, " 0 failed"), "%s under qemu: %s", bin, last);
}

static void test_neon_qemu(void) { t_run_qemu("build/test-aarch64"); }
static void test_neon_dotprod_qemu(void) { t_run_qemu("build/test-aarch64-dotprod"); }
#endif

static void tests_kernels(void) {
    T_RUN(test_sha256_vector);
    T_RUN(test_type_table);
    T_RUN(test_fp16_conversion);
    T_RUN(test_q8_0_activation_rounding);
    T_RUN(test_dequant_bit_exact);
    T_RUN(test_matvec_refs);
    T_RUN(test_simd_vs_scalar);
    T_RUN(test_act_quant_simd);
    T_RUN(test_gemm_tiles);
    T_RUN(test_packed_x8);
    T_RUN(test_attn_heads);
    T_RUN(test_swiglu);
#if !defined(__aarch64__)
    T_RUN(test_neon_qemu);
    T_RUN(test_neon_dotprod_qemu);
#endif
}
