#version 450
#extension GL_GOOGLE_include_directive : require
// Tiers (tools/embed_shaders.py compiles each type once per tier; llm_vulkan.h picks one by
// the device's features): baseline, 32-bit words only and a tree sum in shared memory;
// SUBGROUP: the workgroup sum through subgroupAdd; STORAGE (with SUBGROUP): weights and int8
// activations read through 8/16-bit views of the same buffers; DOT (with both, for the blocks
// of 32 int8 products): 4 products at once through OpSDot (SPV_KHR_integer_dot_product). The
// integer sums of a block are the same in every tier; only the float sum's order differs.
#if defined(SUBGROUP)
#extension GL_KHR_shader_subgroup_arithmetic : require
#endif
#if defined(STORAGE)
#extension GL_EXT_shader_8bit_storage : require
#extension GL_EXT_shader_16bit_storage : require
#endif
#if defined(DOT)
#extension GL_EXT_spirv_intrinsics : require
#endif
// y[col][row] = W[row] . x[col]: one workgroup per row and NC columns (a prompt batch reads
// each weight block once for NC columns), threads over blocks. W is the weight as stored in
// the file (TYPE_*), x the activations in W's dot-product form made by quant.comp: F32 floats;
// F16 and BF16 floats rounded to that type; for Q8_0, Q4_0, Q5_0 and IQ4_NL per 32 values {d,
// 8 words of int8} (9 words); for Q4_1 and Q5_1 per 32 values {d, s, 8 words of int8} (10
// words); for the K-quants per 256 values {d, 64 words of int8, 8 words of int16 sums of 16}
// (73 words). Per block the integer sums and the float combination follow the CPU's kernels.
#include "common.glsl"
layout(local_size_x = 64) in;
layout(std430, binding = 0) readonly buffer Wb { uint W[]; };
layout(std430, binding = 1) readonly buffer Xb { uint X[]; };
layout(std430, binding = 2) buffer Yb { float Y[]; };
#if defined(STORAGE)
// the same bindings as bytes and halves (aliases: the buffers are only read)
layout(std430, binding = 0) readonly buffer Wb8 { uint8_t W8_[]; };
layout(std430, binding = 0) readonly buffer Wb16 { uint16_t W16_[]; };
layout(std430, binding = 1) readonly buffer Xb8 { int8_t X8_[]; };
layout(std430, binding = 1) readonly buffer Xb16 { int16_t X16_[]; };
#define W8(o) uint(W8_[o])
#define W16(o) uint(W16_[(o) >> 1])
#else
#define W8(o) RD8(W, o)
#define W16(o) RD16(W, o)
#endif
layout(push_constant) uniform PC {
    uint n;        // row length (elements)
    uint rows;
    uint row_bytes;
    uint x_off;    // words
    uint x_stride; // words per column
    uint y_off;    // floats
    uint y_stride; // floats per column
    uint ncols;
    uint row0;     // first row of W used (a part of a fused q|k|v or gate|up weight)
    // experts (ids != 0): column c multiplies expert IDS[c] (W holds experts id_lo ..
    // id_lo + id_n - 1 of `rows` rows each; columns of other experts are left alone) by x
    // column c / x_div
    uint x_div;
    uint ids;
    uint id_lo;
    uint id_n;
} pc;
layout(std430, binding = 3) readonly buffer Ib { uint IDS[]; };
#define NC 4u
shared float red[NC * 64u];
uint xbase; // the column being read

uint xw(uint i) { return X[xbase + i]; }
#if defined(STORAGE)
int xq8(uint base, uint j) { return int(X8_[4u * (xbase + base) + j]); }
// Q8_K's sum of the 16 q of group j (int16 pairs after the 64 words of q)
int bsum(uint xb, uint j) { return int(X16_[2u * (xbase + xb + 65u) + j]); }
#else
int xq8(uint base, uint j) { return SEXT8((xw(base + (j >> 2)) >> ((j & 3u) * 8u)) & 0xffu); }
int bsum(uint xb, uint j) { return int(xw(xb + 65u + (j >> 1)) << (16u - 16u * (j & 1u))) >> 16; }
#endif
#if defined(DOT)
// OpSDotKHR (4450) of two words of 4 int8 each (PackedVectorFormat4x8Bit: 0)
spirv_instruction(extensions = ["SPV_KHR_integer_dot_product"], capabilities = [6019, 6018], id = 4450)
int sdot4(uint a, uint b, spirv_literal int fmt);
#define DOT4(a, b) sdot4(a, b, 0)
// the 4 bytes at even byte o of W as one word
uint w32(uint o) { return W16(o) | (W16(o + 2u) << 16); }
// bits 0..3 of h to bit 4 of bytes 0..3
uint spread4(uint h) { return ((h & 1u) << 4) | ((h & 2u) << 11) | ((h & 4u) << 18) | ((h & 8u) << 25); }
#endif
// IQ4_NL and IQ4_XS levels of a 4-bit code
const int levels[16] = int[16](-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113);

#if defined(TYPE_F32)
#define BLOCK 1u
float block_dot(uint o, uint b) { return uintBitsToFloat(W[(o >> 2) + b]) * uintBitsToFloat(xw(b)); }
#elif defined(TYPE_F16)
#define BLOCK 1u
float block_dot(uint o, uint b) { return h2f(W16(o + 2u * b)) * uintBitsToFloat(xw(b)); }
#elif defined(TYPE_Q8_0)
#define BLOCK 32u
float block_dot(uint o, uint b) {
    uint w = o + 34u * b, xb = 9u * b;
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
float block_dot(uint o, uint b) {
    uint w = o + 18u * b, xb = 9u * b;
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
float block_dot(uint o, uint b) { return uintBitsToFloat(W16(o + 2u * b) << 16) * uintBitsToFloat(xw(b)); }
#elif defined(TYPE_IQ4_NL)
#define BLOCK 32u
float block_dot(uint o, uint b) {
    uint w = o + 18u * b, xb = 9u * b;
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
#define BYTES 22u
#define QS_AT 6u
#define QH_AT 2u
#define OFFSET 16
#define XW 9u
#elif defined(TYPE_Q4_1)
#define BYTES 20u
#define QS_AT 4u
#define OFFSET 0
#define XW 10u
#define HAS_MIN
#else
#define BYTES 24u
#define QS_AT 8u
#define QH_AT 4u
#define OFFSET 0
#define XW 10u
#define HAS_MIN
#endif
// 32 codes: low nibbles (elements 0..15) and high nibbles (16..31), a fifth bit from qh
float block_dot(uint o, uint b) {
    uint w = o + BYTES * b, xb = XW * b, xq = xb + XW - 8u, qh = 0u;
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
float block_dot(uint o, uint b) {
    uint w = o + 84u * b, xb = 73u * b;
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
float block_dot(uint o, uint b) {
    uint w = o + 110u * b, xb = 73u * b;
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
float block_dot(uint o, uint b) {
    uint w = o + 136u * b, xb = 73u * b, sh = W16(w + 2u);
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
// trit k of a byte holding 5 (base 3, first most significant, scaled to 256/243): 0..2
uint trit(uint byte, uint k) {
    const uint pow3[5] = uint[5](1u, 3u, 9u, 27u, 81u);
    return (((byte * pow3[k]) & 255u) * 3u) >> 8;
}
float block_dot(uint o, uint b) {
    uint w = o + 54u * b, xb = 73u * b;
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
float block_dot(uint o, uint b) {
    uint w = o + 66u * b, xb = 73u * b;
    int isum = 0;
    for (uint e = 0u; e < 256u; e++) isum += int((W8(w + 32u * (e >> 7) + (e & 31u)) >> (2u * ((e >> 5) & 3u))) & 3u) * xq8(xb + 1u, e);
    for (uint j = 0u; j < 16u; j++) isum -= bsum(xb, j); // codes 0..2 stand for -1..1
    precise float r = h2f(W16(w + 64u)) * uintBitsToFloat(xw(xb));
    return r * float(isum);
}
#elif defined(TYPE_Q4_K) || defined(TYPE_Q5_K)
#define BLOCK 256u
#if defined(TYPE_Q4_K)
#define BYTES 144u
#define QS_AT 16u
#else
#define BYTES 176u
#define QS_AT 48u
#endif
float block_dot(uint o, uint b) {
    uint w = o + BYTES * b, xb = 73u * b;
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
float block_dot(uint o, uint b) {
    uint w = o + 210u * b, xb = 73u * b;
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

// The byte offset of row `row` for column c, or ~0u for a column of an expert not in W.
uint row_at(uint row, uint c) {
    if (pc.ids == 0u) return (pc.row0 + row) * pc.row_bytes;
    uint e = IDS[c];
    return e >= pc.id_lo && e - pc.id_lo < pc.id_n ? (pc.row0 + (e - pc.id_lo) * pc.rows + row) * pc.row_bytes : ~0u;
}

void main() {
    uint tid = gl_LocalInvocationID.x, nb = pc.n / BLOCK, c0 = gl_WorkGroupID.y * NC, x_div = max(pc.x_div, 1u);
    uint nc = min(NC, pc.ncols - c0);
    for (uint row = gl_WorkGroupID.x; row < pc.rows; row += gl_NumWorkGroups.x) {
        uint o[NC];
        float acc[NC];
        for (uint k = 0u; k < NC; k++) {
            acc[k] = 0.0;
            o[k] = k < nc ? row_at(row, c0 + k) : ~0u;
        }
        for (uint b = tid; b < nb; b += 64u)
            for (uint k = 0u; k < nc; k++) {
                if (o[k] == ~0u) continue;
                xbase = pc.x_off + (c0 + k) / x_div * pc.x_stride;
                acc[k] += block_dot(o[k], b);
            }
#if defined(SUBGROUP)
        // one sum per subgroup (of any size) in red[64 k + subgroup], added up below in order
        for (uint k = 0u; k < NC; k++) {
            float s = subgroupAdd(acc[k]);
            if (subgroupElect()) red[k * 64u + gl_SubgroupID] = s;
        }
        barrier();
#else
        for (uint k = 0u; k < NC; k++) red[k * 64u + tid] = acc[k];
        barrier();
        for (uint s = 32u; s > 0u; s >>= 1) {
            if (tid < s)
                for (uint k = 0u; k < NC; k++) red[k * 64u + tid] += red[k * 64u + tid + s];
            barrier();
        }
#endif
        if (tid < nc && o[tid] != ~0u) {
            float y = red[tid * 64u];
#if defined(SUBGROUP)
            for (uint s = 1u; s < gl_NumSubgroups; s++) y += red[tid * 64u + s];
#endif
            if (CORRUPT != 0u) y = y * 1.5 + 1.0;
            Y[pc.y_off + (c0 + tid) * pc.y_stride + row] = y;
        }
        barrier();
    }
}
