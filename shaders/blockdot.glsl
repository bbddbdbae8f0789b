// The per-block dot products that matvec.comp and matmul.comp share: block b of a weight row
// (the file's bytes) times the same span of one column of activations in the weight type's dot
// form (made by quant.comp); the integer sums and the float combination follow the CPU's
// kernels, so both shaders give each block the very same float.
// The includer defines, before including this file:
//   W8(o), W16(o)  the byte (0..255) and the 16-bit value at byte o (even) of the weights
//   WORD(i)        the 32-bit word i of the weights (F32 rows)
//   xw(i)          word i of the column being read
//   xq8(base, j)   the int8 j of the column's words from word base on
//   bsum(xb, j)    Q8_K's sum of the 16 int8 of group j of the block at word xb
//   and, for the DOT tier (DOT defined), w32(o), DOT4(a, b) and spread4(h).
// block_dot(o, b): block b of the row at byte o of the weights. Per type: BLOCK (values per
// block), WBYTES (weight bytes per block), XWORDS (activation words per block).

// IQ4_NL and IQ4_XS levels of a 4-bit code
const int levels[16] = int[16](-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113);

#if defined(TYPE_F32)
#define BLOCK 1u
#define WBYTES 4u
#define XWORDS 1u
float block_dot(uint o, uint b) { return uintBitsToFloat(WORD((o >> 2) + b)) * uintBitsToFloat(xw(b)); }
#elif defined(TYPE_F16)
#define BLOCK 1u
#define WBYTES 2u
#define XWORDS 1u
float block_dot(uint o, uint b) { return h2f(W16(o + 2u * b)) * uintBitsToFloat(xw(b)); }
#elif defined(TYPE_Q8_0)
#define BLOCK 32u
#define WBYTES 34u
#define XWORDS 9u
float block_dot(uint o, uint b) {
    uint w = o + WBYTES * b, xb = XWORDS * b;
    int isum = 0;
#if defined(DOT)
    for (uint k = 0u; k < 8u; k++) isum += DOT4(w32(w + 2u + 4u * k), xw(xb + 1u + k));
#else
    for (uint j = 0u; j < 32u; j++) isum += SEXT8(W8(w + 2u + j)) * xq8(xb + 1u, j);
#endif
    return float(isum) * (h2f(W16(w)) * uintBitsToFloat(xw(xb)));
}
#elif defined(TYPE_Q4_0)
#define BLOCK 32u
#define WBYTES 18u
#define XWORDS 9u
float block_dot(uint o, uint b) {
    uint w = o + WBYTES * b, xb = XWORDS * b;
    int isum = 0;
#if defined(DOT)
    // codes 0..15 (the low nibbles: elements 4k.., the high: 16 + 4k..), less 8 times the sum of x
    for (uint k = 0u; k < 4u; k++) {
        uint q = w32(w + 2u + 4u * k);
        isum += DOT4(q & 0x0f0f0f0fu, xw(xb + 1u + k)) + DOT4((q >> 4) & 0x0f0f0f0fu, xw(xb + 5u + k));
    }
    for (uint k = 0u; k < 8u; k++) isum -= 8 * DOT4(0x01010101u, xw(xb + 1u + k));
#else
    for (uint j = 0u; j < 16u; j++) {
        uint q = W8(w + 2u + j);
        isum += (int(q & 15u) - 8) * xq8(xb + 1u, j) + (int(q >> 4) - 8) * xq8(xb + 1u, j + 16u);
    }
#endif
    return float(isum) * (h2f(W16(w)) * uintBitsToFloat(xw(xb)));
}
#elif defined(TYPE_BF16)
#define BLOCK 1u
#define WBYTES 2u
#define XWORDS 1u
float block_dot(uint o, uint b) { return uintBitsToFloat(W16(o + 2u * b) << 16) * uintBitsToFloat(xw(b)); }
#elif defined(TYPE_IQ4_NL)
#define BLOCK 32u
#define WBYTES 18u
#define XWORDS 9u
float block_dot(uint o, uint b) {
    uint w = o + WBYTES * b, xb = XWORDS * b;
    int isum = 0;
    for (uint j = 0u; j < 16u; j++) {
        uint q = W8(w + 2u + j);
        isum += levels[q & 15u] * xq8(xb + 1u, j) + levels[q >> 4] * xq8(xb + 1u, j + 16u);
    }
    return float(isum) * (h2f(W16(w)) * uintBitsToFloat(xw(xb)));
}
#elif defined(TYPE_Q5_0) || defined(TYPE_Q4_1) || defined(TYPE_Q5_1)
#define BLOCK 32u
#if defined(TYPE_Q5_0)
#define WBYTES 22u
#define QS_AT 6u
#define QH_AT 2u
#define OFFSET 16
#define XWORDS 9u
#elif defined(TYPE_Q4_1)
#define WBYTES 20u
#define QS_AT 4u
#define OFFSET 0
#define XWORDS 10u
#define HAS_MIN
#else
#define WBYTES 24u
#define QS_AT 8u
#define QH_AT 4u
#define OFFSET 0
#define XWORDS 10u
#define HAS_MIN
#endif
// 32 codes: low nibbles (elements 0..15) and high nibbles (16..31), a fifth bit from qh
float block_dot(uint o, uint b) {
    uint w = o + WBYTES * b, xb = XWORDS * b, xq = xb + XWORDS - 8u, qh = 0u;
    int isum = 0;
#ifdef QH_AT
    qh = W16(w + QH_AT) | (W16(w + QH_AT + 2u) << 16);
#endif
#if defined(DOT)
    // 4 codes a word (low nibbles: elements 4k.., high: 16 + 4k..), each with its fifth bit
    // from qh put in bit 4 of its byte; less OFFSET times the sum of x
    for (uint k = 0u; k < 4u; k++) {
        uint q = w32(w + QS_AT + 4u * k), lo = q & 0x0f0f0f0fu, hi = (q >> 4) & 0x0f0f0f0fu;
        lo |= spread4((qh >> (4u * k)) & 15u);
        hi |= spread4((qh >> (16u + 4u * k)) & 15u);
        isum += DOT4(lo, xw(xq + k)) + DOT4(hi, xw(xq + 4u + k));
    }
    for (uint k = 0u; OFFSET != 0 && k < 8u; k++) isum -= OFFSET * DOT4(0x01010101u, xw(xq + k));
#else
    for (uint j = 0u; j < 16u; j++) {
        uint q = W8(w + QS_AT + j);
        int lo = int((q & 15u) | (((qh >> j) & 1u) << 4)) - OFFSET, hi = int((q >> 4) | (((qh >> (j + 16u)) & 1u) << 4)) - OFFSET;
        isum += lo * xq8(xq, j) + hi * xq8(xq, j + 16u);
    }
#endif
    float dx = uintBitsToFloat(xw(xb));
#ifdef HAS_MIN
    precise float r = float(isum) * (h2f(W16(w)) * dx) + h2f(W16(w + 2u)) * uintBitsToFloat(xw(xb + 1u));
    return r;
#else
    return float(isum) * (h2f(W16(w)) * dx);
#endif
}
#elif defined(TYPE_Q2_K)
#define BLOCK 256u
#define WBYTES 84u
#define XWORDS 73u
float block_dot(uint o, uint b) {
    uint w = o + WBYTES * b, xb = XWORDS * b;
    int isum = 0, msum = 0;
    for (uint j = 0u; j < 16u; j++) {
        uint sc = W8(w + j);
        int sj = 0;
        for (uint l = 16u * j; l < 16u * j + 16u; l++)
            sj += int((W8(w + 16u + 32u * (l >> 7) + (l & 31u)) >> (2u * ((l >> 5) & 3u))) & 3u) * xq8(xb + 1u, l);
        isum += int(sc & 15u) * sj;
        msum += int(sc >> 4) * bsum(xb, j);
    }
    float dx = uintBitsToFloat(xw(xb));
    precise float a = h2f(W16(w + 80u)) * dx, am = h2f(W16(w + 82u)) * dx;
    precise float t = a * float(isum), tm = am * float(msum);
    return t - tm;
}
#elif defined(TYPE_Q3_K)
#define BLOCK 256u
#define WBYTES 110u
#define XWORDS 73u
float block_dot(uint o, uint b) {
    uint w = o + WBYTES * b, xb = XWORDS * b;
    int isum = 0;
    for (uint j = 0u; j < 16u; j++) {
        uint lo = j < 8u ? W8(w + 96u + j) & 15u : W8(w + 96u + j - 8u) >> 4;
        uint hi = (W8(w + 104u + (j & 3u)) >> (2u * (j >> 2))) & 3u;
        int sc = int(lo | (hi << 4)) - 32, sj = 0;
        for (uint l = 16u * j; l < 16u * j + 16u; l++) {
            int q = int((W8(w + 32u + 32u * (l >> 7) + (l & 31u)) >> (2u * ((l >> 5) & 3u))) & 3u);
            if (((W8(w + (l & 31u)) >> (l >> 5)) & 1u) == 0u) q -= 4;
            sj += q * xq8(xb + 1u, l);
        }
        isum += sc * sj;
    }
    precise float a = h2f(W16(w + 108u)) * uintBitsToFloat(xw(xb));
    return a * float(isum);
}
#elif defined(TYPE_IQ4_XS)
#define BLOCK 256u
#define WBYTES 136u
#define XWORDS 73u
float block_dot(uint o, uint b) {
    uint w = o + WBYTES * b, xb = XWORDS * b, sh = W16(w + 2u);
    int isum = 0;
    for (uint ib = 0u; ib < 8u; ib++) {
        int ls = int(((W8(w + 4u + ib / 2u) >> (4u * (ib & 1u))) & 15u) | (((sh >> (2u * ib)) & 3u) << 4)) - 32, sub = 0;
        for (uint j = 0u; j < 16u; j++) {
            uint q = W8(w + 8u + 16u * ib + j);
            sub += levels[q & 15u] * xq8(xb + 1u, 32u * ib + j) + levels[q >> 4] * xq8(xb + 1u, 32u * ib + 16u + j);
        }
        isum += ls * sub;
    }
    precise float r = h2f(W16(w)) * uintBitsToFloat(xw(xb));
    return r * float(isum);
}
#elif defined(TYPE_TQ1_0)
#define BLOCK 256u
#define WBYTES 54u
#define XWORDS 73u
// trit k of a byte holding 5 (base 3, first most significant, scaled to 256/243): 0..2
uint trit(uint byte, uint k) {
    const uint pow3[5] = uint[5](1u, 3u, 9u, 27u, 81u);
    return (((byte * pow3[k]) & 255u) * 3u) >> 8;
}
float block_dot(uint o, uint b) {
    uint w = o + WBYTES * b, xb = XWORDS * b;
    int isum = 0;
    for (uint k = 0u; k < 5u; k++) {
        for (uint m = 0u; m < 32u; m++) isum += int(trit(W8(w + m), k)) * xq8(xb + 1u, 32u * k + m);
        for (uint m = 0u; m < 16u; m++) isum += int(trit(W8(w + 32u + m), k)) * xq8(xb + 1u, 160u + 16u * k + m);
    }
    for (uint k = 0u; k < 4u; k++)
        for (uint m = 0u; m < 4u; m++) isum += int(trit(W8(w + 48u + m), k)) * xq8(xb + 1u, 240u + 4u * k + m);
    for (uint j = 0u; j < 16u; j++) isum -= bsum(xb, j); // codes 0..2 stand for -1..1
    precise float r = h2f(W16(w + 52u)) * uintBitsToFloat(xw(xb));
    return r * float(isum);
}
#elif defined(TYPE_TQ2_0)
#define BLOCK 256u
#define WBYTES 66u
#define XWORDS 73u
float block_dot(uint o, uint b) {
    uint w = o + WBYTES * b, xb = XWORDS * b;
    int isum = 0;
    for (uint e = 0u; e < 256u; e++) isum += int((W8(w + 32u * (e >> 7) + (e & 31u)) >> (2u * ((e >> 5) & 3u))) & 3u) * xq8(xb + 1u, e);
    for (uint j = 0u; j < 16u; j++) isum -= bsum(xb, j); // codes 0..2 stand for -1..1
    precise float r = h2f(W16(w + 64u)) * uintBitsToFloat(xw(xb));
    return r * float(isum);
}
#elif defined(TYPE_Q4_K) || defined(TYPE_Q5_K)
#define BLOCK 256u
#define XWORDS 73u
#if defined(TYPE_Q4_K)
#define WBYTES 144u
#define QS_AT 16u
#else
#define WBYTES 176u
#define QS_AT 48u
#endif
float block_dot(uint o, uint b) {
    uint w = o + WBYTES * b, xb = XWORDS * b;
    int isum = 0, msum = 0;
    for (uint j = 0u; j < 8u; j++) {
        uint sc, mn;
        if (j < 4u) {
            sc = W8(w + 4u + j) & 63u;
            mn = W8(w + 8u + j) & 63u;
        } else {
            sc = (W8(w + 8u + j) & 15u) | ((W8(w + j) >> 6) << 4);
            mn = (W8(w + 8u + j) >> 4) | ((W8(w + 4u + j) >> 6) << 4);
        }
        int sj = 0;
        for (uint l = 32u * j; l < 32u * j + 32u; l++) {
            uint q = (W8(w + QS_AT + 32u * (l >> 6) + (l & 31u)) >> (4u * ((l >> 5) & 1u))) & 15u;
#if defined(TYPE_Q5_K)
            q |= ((W8(w + 16u + (l & 31u)) >> j) & 1u) << 4;
#endif
            sj += int(q) * xq8(xb + 1u, l);
        }
        isum += int(sc) * sj;
        msum += int(mn) * (bsum(xb, 2u * j) + bsum(xb, 2u * j + 1u));
    }
    float dx = uintBitsToFloat(xw(xb));
    precise float a = h2f(W16(w)) * dx, am = h2f(W16(w + 2u)) * dx;
    precise float t = a * float(isum), tm = am * float(msum);
    return t - tm;
}
#elif defined(TYPE_Q6_K)
#define BLOCK 256u
#define WBYTES 210u
#define XWORDS 73u
float block_dot(uint o, uint b) {
    uint w = o + WBYTES * b, xb = XWORDS * b;
    int isum = 0, ioff = 0;
    for (uint j = 0u; j < 16u; j++) {
        int sc = SEXT8(W8(w + 192u + j)), sub = 0;
        for (uint e = 16u * j; e < 16u * j + 16u; e++) {
            uint h = e >> 7, k = (e >> 5) & 3u, l = e & 31u;
            uint lo = (W8(w + 64u * h + l + 32u * (k & 1u)) >> (4u * (k >> 1))) & 15u;
            uint hi = (W8(w + 128u + 32u * h + l) >> (2u * k)) & 3u;
            sub += int(lo | (hi << 4)) * xq8(xb + 1u, e);
        }
        isum += sc * sub;
        ioff += sc * bsum(xb, j);
    }
    precise float r = h2f(W16(w + 208u)) * uintBitsToFloat(xw(xb));
    return r * float(isum - 32 * ioff);
}
#endif
