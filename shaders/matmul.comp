#version 450
#extension GL_GOOGLE_include_directive : require
// y[col][row] = W[row] . x[col] for prompt batches, in tiles of TR rows x TC columns: one workgroup
// per tile, each of its 64 threads 4 rows x 4 columns (rows tr + 8i, columns tc + 8j). K is walked
// in steps of KB blocks: the tile's weight segment (KB blocks of each of its rows) and activation
// segment (KB blocks of each of its columns) are copied to shared memory, then every thread adds
// the block dot products of its 16 outputs. So a weight block is read once per TC columns
// (matvec.comp reads it once per 4). The bindings, the push constants (and a K range) and the
// per-block math (blockdot.glsl) are matvec.comp's; each output is summed over its blocks in order
// by one thread (add_blocks), so it does not depend on scheduling and differs from the mat-vec's
// only by the order of that float sum. 32-bit words only: any Vulkan 1.2 device. A dispatch adds
// blocks k0..k1-1 of K and carries the sums on in y: llm_vulkan.h splits long rows over several,
// since lavapipe ends an invocation's loops after 65535 iterations in all (its loop limiter), which
// a thread's 16 outputs of a long row would pass.
#include "common.glsl"
layout(local_size_x = 64) in;
layout(std430, binding = 0) readonly buffer Wb { uint W[]; };
layout(std430, binding = 1) readonly buffer Xb { uint X[]; };
layout(std430, binding = 2) buffer Yb { float Y[]; };
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
    uint k0, k1;   // the blocks of K this dispatch adds; k0 > 0: y holds the sums of those before
} pc;

// blockdot.glsl reads the shared copies below, whose sizes come from its per-type numbers:
// these accessors are defined after them
uint wbyte(uint o);
uint whalf(uint o);
uint wword(uint i);
uint xw(uint i);
#define W8(o) wbyte(o)
#define W16(o) whalf(o)
#define WORD(i) wword(i)
int xq8(uint base, uint j) { return SEXT8((xw(base + (j >> 2)) >> ((j & 3u) * 8u)) & 0xffu); }
int bsum(uint xb, uint j) { return int(xw(xb + 65u + (j >> 1)) << (16u - 16u * (j & 1u))) >> 16; }
#include "blockdot.glsl"

#define TR 32u
#define TC 32u
// blocks per step: 32 values of the float types, 128 of the 32-blocks, one 256-block
const uint KB = BLOCK == 1u ? 32u : BLOCK == 32u ? 4u : 1u;
const uint WSLOT = (KB * WBYTES + 3u) / 4u; // words per row of the weight segment
const uint XSLOT = KB * XWORDS;             // words per column of the activation segment
shared uint Ws[TR * WSLOT];
shared uint Xs[TC * XSLOT];
// Vulkan guarantees 16384 bytes of shared memory (llm_vulkan.h checks the device's limit): a
// type needing more fails to compile here (Q6_K, the largest, takes 16128)
const uint SHARED_BYTES = 4u * (TR * WSLOT + TC * XSLOT);
void shared_fits() { int fits[int(SHARED_BYTES <= 16384u) * 2 - 1]; }

uint xbase; // the column being read: its word in Xs
uint wbyte(uint o) { return RD8(Ws, o); }
uint whalf(uint o) { return RD16(Ws, o); }
uint wword(uint i) { return Ws[i]; }
uint xw(uint i) { return Xs[xbase + i]; }

// The weight segment of rows r0.. (kb blocks from block b0 on) into Ws, row r's bytes 4j..4j+3
// in word r * WSLOT + j. A row starts at any even byte of W, so a shared word may take halves
// of two words of W; the second is read only when its low half belongs to the segment (the
// binding ends with the tensor's last word). Rows past pc.rows are zero.
void load_weights(uint r0, uint b0, uint kb) {
    uint len = kb * WBYTES; // bytes, even
    for (uint k = gl_LocalInvocationID.x; k < TR * WSLOT; k += 64u) {
        uint r = k / WSLOT, j = k - r * WSLOT, v = 0u;
        if (r0 + r < pc.rows && 4u * j < len) {
            uint s = (pc.row0 + r0 + r) * pc.row_bytes + b0 * WBYTES + 4u * j, q = s >> 2;
            if ((s & 2u) == 0u) {
                v = W[q];
            } else {
                v = W[q] >> 16;
                if (4u * j + 2u < len) v |= W[q + 1u] << 16;
            }
        }
        Ws[k] = v;
    }
}

// The activation segment of columns c0.. (kb blocks from block b0 on, in the dot form) into
// Xs, column c at word c * XSLOT. Columns past pc.ncols are zero.
void load_activations(uint c0, uint b0, uint kb) {
    uint len = kb * XWORDS;
    for (uint k = gl_LocalInvocationID.x; k < TC * XSLOT; k += 64u) {
        uint c = k / XSLOT, i = k - c * XSLOT, v = 0u;
        if (c0 + c < pc.ncols && i < len) v = X[pc.x_off + (c0 + c) * pc.x_stride + b0 * XWORDS + i];
        Xs[k] = v;
    }
}

// Row tr + 8i's outputs (columns tc + 8j in a[j]) plus the step's blocks 0..kb-1, in order;
// rows and columns past the ends are left out. The quantized types add block after block to the
// output's sum, as the CPU's scalar kernels do; the float types (one value a block, summed in
// double by the CPU) add up a step's 32 products first and then that to the output's sum, which
// keeps a long row's rounding near the mat-vec's tree sum. The sums are precise: a compiler may
// neither fuse them with block_dot's last product nor reorder them.
vec4 add_blocks(vec4 a, uint i, uint r0, uint c0, uint kb) {
    uint tr = gl_LocalInvocationID.x & 7u, tc = gl_LocalInvocationID.x >> 3;
    if (r0 + tr + 8u * i >= pc.rows) return a;
    for (uint j = 0u; j < 4u; j++)
        if (c0 + tc + 8u * j < pc.ncols) {
            precise float s = BLOCK == 1u ? 0.0 : a[j];
            xbase = (tc + 8u * j) * XSLOT;
            for (uint b = 0u; b < kb; b++) s += block_dot((tr + 8u * i) * WSLOT * 4u, b);
            precise float sum = BLOCK == 1u ? a[j] + s : s;
            a[j] = sum;
        }
    return a;
}

// Row tr + 8i's outputs as y holds them (the sums of the blocks before k0; 0 past the ends)
vec4 load_row(uint i, uint r0, uint c0) {
    uint row = r0 + (gl_LocalInvocationID.x & 7u) + 8u * i, tc = gl_LocalInvocationID.x >> 3;
    vec4 a = vec4(0.0);
    for (uint j = 0u; j < 4u; j++)
        if (row < pc.rows && c0 + tc + 8u * j < pc.ncols) a[j] = Y[pc.y_off + (c0 + tc + 8u * j) * pc.y_stride + row];
    return a;
}

// ... into y; last: the final values (spoiled under CORRUPT)
void store_row(vec4 a, uint i, uint r0, uint c0, bool last) {
    uint row = r0 + (gl_LocalInvocationID.x & 7u) + 8u * i, tc = gl_LocalInvocationID.x >> 3;
    for (uint j = 0u; j < 4u; j++)
        if (row < pc.rows && c0 + tc + 8u * j < pc.ncols) {
            float y = a[j];
            if (CORRUPT != 0u && last) y = y * 1.5 + 1.0;
            Y[pc.y_off + (c0 + tc + 8u * j) * pc.y_stride + row] = y;
        }
}

void main() {
    uint c0 = gl_WorkGroupID.y * TC;
    // row tiles beyond the dispatch's (maxComputeWorkGroupCount) come round again
    for (uint r0 = gl_WorkGroupID.x * TR; r0 < pc.rows; r0 += gl_NumWorkGroups.x * TR) {
        // acc[i][j]: row tr + 8i, column tc + 8j. One call site of block_dot (a loop over i, not
        // four calls) keeps the pipeline small: lavapipe compiles it in half the time
        vec4 acc[4];
        for (uint i = 0u; i < 4u; i++) acc[i] = pc.k0 == 0u ? vec4(0.0) : load_row(i, r0, c0);
        for (uint b0 = pc.k0; b0 < pc.k1; b0 += KB) {
            uint kb = min(KB, pc.k1 - b0);
            load_weights(r0, b0, kb);
            load_activations(c0, b0, kb);
            barrier();
            for (uint i = 0u; i < 4u; i++) acc[i] = add_blocks(acc[i], i, r0, c0, kb);
            barrier();
        }
        for (uint i = 0u; i < 4u; i++) store_row(acc[i], i, r0, c0, pc.k1 == pc.n / BLOCK);
    }
}
