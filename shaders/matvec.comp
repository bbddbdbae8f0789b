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
#define WORD(i) W[i]
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
#include "blockdot.glsl"

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
