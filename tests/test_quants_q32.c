/* The 32-element block types Q4_0, Q4_1, Q5_0, Q5_1, IQ4_NL and the Q8_1 activation form:
   dequantization bit-exact with ggml, mat-vec against llama.cpp per instruction set, logits
   (DESIGN.md §6, the 32-block row), SIMD against scalar on random and edge blocks, and the
   weight quantizers' error against llama.cpp's files. */

static const t_bounds t_bounds_q32 = {"Q32", 7e-2, 7e-2, 5e-2, 5e-2, 5e-3};
static const char *const t_q32_names[5] = {"Q4_0", "Q4_1", "Q5_0", "Q5_1", "IQ4_NL"};
static const int t_q32_types[5] = {LLM_TYPE_Q4_0, LLM_TYPE_Q4_1, LLM_TYPE_Q5_0, LLM_TYPE_Q5_1, LLM_TYPE_IQ4_NL};

static void test_q32_dequant(void) {
    char stem[64];
    int t;
    for (t = 0; t < 5; t++) {
        snprintf(stem, sizeof stem, "synth-q-%s", t_q32_names[t]);
        t_check_dequant(stem);
    }
}

static void test_q32_matvec(void) {
    char stem[64];
    int t;
    for (t = 0; t < 5; t++) {
        snprintf(stem, sizeof stem, "synth-q-%s", t_q32_names[t]);
        t_check_matvec("quants", stem);
    }
    t_check_matvec("real", "TinyStories-656K-Q2_K"); /* IQ4_NL and Q8_0 tensors (rows of 64) */
}

/* llama-quantize kept output.weight at Q6_K in these files: they run once Q6_K is here. */
static void test_q32_refs_quants(void) {
    char name[64];
    int t, k;
    if (!llm_type_supported(LLM_TYPE_Q6_K)) T_SKIP("synth-q-<T>.gguf has a Q6_K output.weight, which this build cannot compute");
    for (t = 0; t < 5; t++)
        for (k = 0; k <= 1; k++) {
            snprintf(name, sizeof name, "synth-q-%s.%d", t_q32_names[t], k);
            t_check_ref("quants", name, &t_bounds_q32);
        }
}

static void test_q32_refs_real(void) {
    char name[64];
    int k;
    for (k = 0; k <= 4; k++) {
        snprintf(name, sizeof name, "TinyStories-656K-Q2_K.%d", k);
        t_check_ref("real", name, &t_bounds_q32);
    }
}

/* ---- the Q8_1 activation form ---- */

static void test_q32_q8_1_activation(void) {
    float x[64], y[64];
    uint8_t a[2 * LLM__Q8_1_BYTES], b[2 * LLM__Q8_0_BYTES];
    int i, sum;
    /* amax = 127: scale exactly 1, so k + 1/2 is a tie that goes to the even neighbour */
    x[0] = 127.0f;
    for (i = 1; i < 32; i++) x[i] = (float)(i - 16) + 0.5f;
    /* a block whose f32 d = 1/127 differs from its fp16 rounding: s uses the f32 one */
    for (i = 32; i < 64; i++) x[i] = (float)((i * 37) % 29 - 9) / 19.0f;
    x[40] = 1.0f;
    llm__q8_1_from_float(x, a, 64);
    llm__q8_0_from_float(x, b, 64);
    for (i = 0; i < 2; i++) {
        int j;
        T_CHECK(llm__le16(a + 36 * i) == llm__le16(b + 34 * i) && memcmp(a + 36 * i + 4, b + 34 * i + 2, 32) == 0,
                "block %d: d and q as Q8_0's", i);
        for (j = 0, sum = 0; j < 32; j++) sum += (int8_t)a[36 * i + 4 + j];
        {
            float amax = 0.0f, d;
            for (j = 0; j < 32; j++) amax = fabsf(x[32 * i + j]) > amax ? fabsf(x[32 * i + j]) : amax;
            d = amax / 127.0f;
            T_CHECK(llm__le16(a + 36 * i + 2) == llm__fp32_to_fp16(d * (float)sum), "block %d: s = fp16(d * %d)", i, sum);
        }
    }
    for (i = 1; i < 32; i++) {
        int lo = (int)floorf(x[i]), want = (lo % 2 == 0) ? lo : lo + 1;
        T_CHECK((int8_t)a[4 + i] == want, "%.1f -> %d, want %d (ties to even)", x[i], (int8_t)a[4 + i], want);
    }
    llm__q8_1_quantize(x, a, 64); /* ggml's _ref: roundf, ties away from zero */
    T_CHECK((int8_t)a[4 + 17] == 2 && (int8_t)a[4 + 16] == 1, "_ref ties away: %d %d", (int8_t)a[4 + 17], (int8_t)a[4 + 16]);
    for (i = 0, sum = 0; i < 32; i++) sum += (int8_t)a[4 + i];
    T_CHECK(llm__le16(a + 2) == llm__fp32_to_fp16((float)sum * 1.0f), "_ref s");
    llm__q8_1_to_float(a, y, 64);
    for (i = 0; i < 64; i++)
        if (y[i] != llm__fp16_to_fp32(llm__le16(a + 36 * (i / 32))) * (float)(int8_t)a[36 * (i / 32) + 4 + i % 32]) break;
    T_CHECK(i == 64, "q8_1 to_float at %d", i);
    /* all zero: d = s = 0, q = 0 */
    memset(x, 0, sizeof x);
    llm__q8_1_from_float(x, a, 32);
    for (i = 0; i < 36 && a[i] == 0; i++) {}
    T_CHECK(i == 36, "zero block");
}

/* Hand-made blocks decode as the format says (the dequant fingerprints cover real data). */
static void test_q32_layouts(void) {
    uint8_t blk[24];
    float y[32];
    int j, bad = 0;
    memset(blk, 0, sizeof blk);
    llm__put16(blk, 0x3c00); /* d = 1 */
    for (j = 0; j < 16; j++) blk[2 + j] = (uint8_t)(j | (15 - j) << 4);
    llm__q4_0_to_float(blk, y, 32);
    for (j = 0; j < 16; j++) bad += y[j] != (float)(j - 8) || y[16 + j] != (float)(7 - j);
    T_CHECK(bad == 0, "q4_0 nibble order");
    llm__iq4_nl_to_float(blk, y, 32);
    for (j = 0, bad = 0; j < 16; j++) bad += y[j] != (float)llm__iq4nl_values[j] || y[16 + j] != (float)llm__iq4nl_values[15 - j];
    T_CHECK(bad == 0, "iq4_nl levels");
    /* Q5_0: qh = 0x80000001 sets the fifth bit of elements 0 and 31 */
    memset(blk, 0, sizeof blk);
    llm__put16(blk, 0x3c00);
    blk[2] = 0x01;
    blk[5] = 0x80;
    llm__q5_0_to_float(blk, y, 32);
    for (j = 0, bad = 0; j < 32; j++) bad += y[j] != (j == 0 || j == 31 ? 0.0f : -16.0f);
    T_CHECK(bad == 0, "q5_0 fifth bits");
    /* Q5_1: d = 2, m = -1, all codes 31 */
    memset(blk, 0, sizeof blk);
    llm__put16(blk, 0x4000);
    llm__put16(blk + 2, 0xbc00);
    memset(blk + 4, 0xff, 20);
    llm__q5_1_to_float(blk, y, 32);
    for (j = 0, bad = 0; j < 32; j++) bad += y[j] != 61.0f;
    T_CHECK(bad == 0, "q5_1 codes 31: %g", y[0]);
}

/* ---- SIMD against scalar ---- */

static uint32_t t_q32_u32(void) {
    t_rng ^= t_rng << 13;
    t_rng ^= t_rng >> 7;
    t_rng ^= t_rng << 17;
    return (uint32_t)(t_rng >> 32);
}

/* Fills n/32 raw blocks of type t with a pattern: 0 random, 1 zero scale, 2 all codes 0,
   3 all codes at the top, 4 random codes with large scales. Scales are finite fp16. */
static void t_q32_raw_blocks(int t, uint8_t *dst, int n, int pattern) {
    const llm__type_traits *tt = &llm__types[t];
    int i, j;
    for (i = 0; i < n / 32; i++) {
        uint8_t *b = dst + (size_t)i * tt->size;
        for (j = 0; j < tt->size; j++) b[j] = (uint8_t)t_q32_u32();
        llm__put16(b, llm__fp32_to_fp16(t_randn() * (pattern == 4 ? 3e4f : 0.1f)));
        if (t == LLM_TYPE_Q4_1 || t == LLM_TYPE_Q5_1) llm__put16(b + 2, llm__fp32_to_fp16(t_randn() * (pattern == 4 ? 3e4f : 1.0f)));
        if (pattern == 1) llm__put16(b, 0);
        if (pattern == 2 || pattern == 3) {
            int first = (t == LLM_TYPE_Q4_1 || t == LLM_TYPE_Q5_1) ? 4 : 2;
            memset(b + first, pattern == 2 ? 0x00 : 0xff, (size_t)(tt->size - first));
        }
    }
}

/* n/32 raw activation blocks (Q8_0 or Q8_1): 0 random, 1 all +127, 2 all -127, 3 alternating
   +-127, 4 random with zero scale. Never -128: our activation forms never hold it. */
static void t_q32_raw_acts(int vdt, uint8_t *dst, int n, int pattern) {
    int sz = llm__types[vdt].size, at = vdt == LLM_TYPE_Q8_1 ? 4 : 2, i, j;
    for (i = 0; i < n / 32; i++) {
        uint8_t *b = dst + (size_t)i * sz;
        int sum = 0;
        float d = pattern == 4 ? 0.0f : fabsf(t_randn()) * 0.05f;
        for (j = 0; j < 32; j++) {
            int q = pattern == 1 ? 127 : pattern == 2 ? -127 : pattern == 3 ? (j & 1 ? 127 : -127) : (int)(t_q32_u32() % 255) - 127;
            b[at + j] = (uint8_t)(int8_t)q;
            sum += q;
        }
        llm__put16(b, llm__fp32_to_fp16(d));
        if (vdt == LLM_TYPE_Q8_1) llm__put16(b + 2, llm__fp32_to_fp16(d * (float)sum));
    }
}

/* The size of one block's terms: |d_w d_x| sum |w_j x_j| (+ |m_w s_x| for the _1 types). */
static double t_q32_block_mag(int t, const uint8_t *bw, const uint8_t *bx) {
    int one = t == LLM_TYPE_Q4_1 || t == LLM_TYPE_Q5_1, xat = one ? 4 : 2, j;
    int qs_at = t == LLM_TYPE_Q4_1 ? 4 : t == LLM_TYPE_Q5_0 ? 6 : t == LLM_TYPE_Q5_1 ? 8 : 2;
    int qh_at = t == LLM_TYPE_Q5_0 ? 2 : t == LLM_TYPE_Q5_1 ? 4 : 0;
    uint8_t c[32];
    double s = 0;
    llm__unpack_nibbles(bw + qs_at, qh_at ? bw + qh_at : NULL, c);
    for (j = 0; j < 32; j++) {
        int w = t == LLM_TYPE_IQ4_NL ? llm__iq4nl_values[c[j]] : t == LLM_TYPE_Q4_0 ? c[j] - 8 : t == LLM_TYPE_Q5_0 ? c[j] - 16 : c[j];
        s += fabs((double)w * (int8_t)bx[xat + j]);
    }
    s *= fabs((double)llm__fp16_to_fp32(llm__le16(bw)) * llm__fp16_to_fp32(llm__le16(bx)));
    if (one) s += fabs((double)llm__fp16_to_fp32(llm__le16(bw + 2)) * llm__fp16_to_fp32(llm__le16(bx + 2)));
    return s;
}

/* NEON is bit-exact with the scalar kernels, and so is AVX2 for Q4_0, Q5_0 and IQ4_NL. AVX2's
   Q4_1 and Q5_1 scale each block's 8 partial integer sums and add them in 8 FMA lanes (as
   ggml does), the minimum terms apart: with u = 2^-24 and T = the sum of t_q32_block_mag over
   the blocks, |avx2 - scalar| <= (n/32 + 8) * 2u * T, the error bound of the two summation
   orders with a factor 2 to spare. The worst observed fraction of that bound is printed. */
static void test_q32_simd_vs_scalar(void) {
    static const int lens[] = {32, 64, 96, 256, 1024, 4096};
    unsigned masks[4];
    const char *names[4];
    int n_isa = t_isas(masks, names), isa, ti, li, rep;
    llm__kernels ref;
    llm__kernels_init(&ref, LLM_CPU_SCALAR);
    for (isa = 1; isa < n_isa; isa++) {
        llm__kernels k;
        int cases = 0, equal = 0;
        double worst = 0;
        llm__kernels_init(&k, masks[isa]);
        for (ti = 0; ti < 5; ti++)
            for (li = 0; li < 6; li++)
                for (rep = 0; rep < 12; rep++) {
                    int t = t_q32_types[ti], n = lens[li], vdt = llm__types[t].vec_dot_type, i;
                    int exact = !(masks[isa] & LLM_CPU_AVX2) || (t != LLM_TYPE_Q4_1 && t != LLM_TYPE_Q5_1);
                    size_t wsz = llm__type_row_bytes(t, n), xsz = llm__type_row_bytes(vdt, n);
                    uint8_t *wq = (uint8_t *)malloc(wsz), *xq = (uint8_t *)malloc(xsz);
                    float a, b;
                    double T = 0;
                    if (rep < 4) { /* quantized from random floats */
                        float *w = (float *)malloc(sizeof(float) * n), *x = (float *)malloc(sizeof(float) * n);
                        for (i = 0; i < n; i++) {
                            w[i] = t_randn() + (rep == 3 ? 2.0f : 0.0f); /* rep 3: one-signed, for the mins */
                            x[i] = t_randn() * (float)(rep + 1);
                        }
                        llm__types[t].quantize(w, wq, n);
                        llm__types[vdt].from_float(x, xq, n);
                        free(w);
                        free(x);
                    } else { /* raw edge blocks */
                        t_q32_raw_blocks(t, wq, n, (rep - 4) % 5);
                        t_q32_raw_acts(vdt, xq, n, rep < 9 ? (rep - 4) % 5 : rep - 8);
                    }
                    ref.vec_dot[t](n, &a, wq, xq);
                    k.vec_dot[t](n, &b, wq, xq);
                    for (i = 0; i < n / 32; i++)
                        T += t_q32_block_mag(t, wq + (size_t)i * llm__types[t].size, xq + (size_t)i * llm__types[vdt].size);
                    cases++;
                    equal += memcmp(&a, &b, sizeof a) == 0;
                    if (exact) {
                        T_CHECK(memcmp(&a, &b, sizeof a) == 0, "%s %s n=%d rep %d: %.9g, scalar %.9g", names[isa], llm_type_name(t), n, rep,
                                b, a);
                    } else {
                        double bound = (n / 32 + 8) * 2 * 5.9604644775390625e-8 * T;
                        T_CHECK(fabs((double)a - b) <= bound, "%s %s n=%d rep %d: %.9g, scalar %.9g (bound %.3g)", names[isa],
                                llm_type_name(t), n, rep, b, a, bound);
                        if (bound > 0 && fabs((double)a - b) / bound > worst) worst = fabs((double)a - b) / bound;
                    }
                    free(wq);
                    free(xq);
                }
        printf("       %s: %d of %d cases bit-identical to scalar; worst |diff| of Q4_1 and Q5_1 = %.3f of the bound\n", names[isa], equal,
               cases, worst);
    }
    if (n_isa == 1) printf("       only the scalar path exists on this machine\n");
}

/* ---- the weight quantizers against llama.cpp's files ---- */

/* Each 2-D tensor that synth-q-<T>.gguf stores in T is quantized from synth-q-F32.gguf by our
   quantizer and compared with the F32 values: our RMSE must be at most 1.02 x that of
   llama.cpp's tensor. Q4_0..Q5_1 follow ggml's reference quantizers, so their bytes should
   equal llama.cpp's (llama-quantize without an importance matrix); that count is printed. */
static void test_quantizer_q32_rmse(void) {
    llm_model *f32 = t_load_tensors("models/synth/synth-q-F32.gguf");
    int t;
    if (!f32) return;
    for (t = 0; t < 5; t++) {
        char rel[128];
        llm_model *q;
        int i, n_t = 0, same = 0;
        double se_ours = 0, se_ref = 0, worst = 0;
        snprintf(rel, sizeof rel, "models/synth/synth-q-%s.gguf", t_q32_names[t]);
        if (!(q = t_load_tensors(rel))) break;
        for (i = 0; i < llm_model_tensor_count(q); i++) {
            llm_tensor_info qi, fi;
            int fidx;
            int64_t n, k;
            float *src, *ours, *theirs;
            uint8_t *bytes;
            double a = 0, b = 0, ratio;
            llm_model_tensor_info(q, i, &qi);
            if (qi.type != t_q32_types[t] || qi.n_dims != 2) continue;
            fidx = llm_model_tensor_find(f32, qi.name);
            T_CHECK(fidx >= 0, "%s missing from the F32 file", qi.name);
            if (fidx < 0) continue;
            llm_model_tensor_info(f32, fidx, &fi);
            n = qi.ne[0] * qi.ne[1];
            src = (float *)malloc(sizeof(float) * (size_t)n);
            ours = (float *)malloc(sizeof(float) * (size_t)n);
            theirs = (float *)malloc(sizeof(float) * (size_t)n);
            bytes = (uint8_t *)malloc(qi.size_bytes);
            T_CHECK(fi.type == LLM_TYPE_F32 && fi.ne[0] == qi.ne[0] && fi.ne[1] == qi.ne[1], "%s: shapes", qi.name);
            llm_model_tensor_dequantize(f32, fidx, 0, qi.ne[1], src);
            llm_model_tensor_dequantize(q, i, 0, qi.ne[1], theirs);
            llm__types[t_q32_types[t]].quantize(src, bytes, n);
            llm__types[t_q32_types[t]].to_float(bytes, ours, n);
            same += memcmp(bytes, llm__model_tensor(q, qi.name)->data, qi.size_bytes) == 0;
            for (k = 0; k < n; k++) {
                a += ((double)ours[k] - src[k]) * ((double)ours[k] - src[k]);
                b += ((double)theirs[k] - src[k]) * ((double)theirs[k] - src[k]);
            }
            ratio = b > 0 ? sqrt(a / b) : (a > 0 ? 1e9 : 1.0);
            T_CHECK(ratio <= 1.02, "%s %s: RMSE %.4g, llama.cpp %.4g (ratio %.4f)", t_q32_names[t], qi.name, sqrt(a / (double)n),
                    sqrt(b / (double)n), ratio);
            if (ratio > worst) worst = ratio;
            se_ours += a;
            se_ref += b;
            n_t++;
            free(src);
            free(ours);
            free(theirs);
            free(bytes);
        }
        T_CHECK(n_t > 0, "%s: no tensors compared", t_q32_names[t]);
        printf("       %-7s %2d tensors  RMSE ratio ours/llama.cpp %.4f overall, %.4f worst tensor  bytes identical %d/%d\n",
               t_q32_names[t], n_t, se_ref > 0 ? sqrt(se_ours / se_ref) : 0.0, worst, same, n_t);
        llm_model_free(q);
    }
    llm_model_free(f32);
}

static void tests_quants_q32(void) {
    T_RUN(test_q32_layouts);
    T_RUN(test_q32_q8_1_activation);
    T_RUN(test_q32_dequant);
    T_RUN(test_q32_matvec);
    T_RUN(test_q32_simd_vs_scalar);
    T_RUN(test_q32_refs_real);
    T_RUN(test_q32_refs_quants);
    T_RUN(test_quantizer_q32_rmse);
}
