#version 450
#extension GL_GOOGLE_include_directive : require
// Causal attention over the KV cache, one workgroup per (head, token): scores q.k (soft-
// capped, gemma2: tanh(s / cap) * cap), times scale, for positions p0..pos (p0 = pos - swa + 1
// on sliding-window layers), softmax (max subtracted, sum of exponentials), then sum_p w_p v_p.
// The scores are computed twice (for max and sum, then in chunks of 256 kept in shared
// memory for the weighted sum), so no scratch grows with the context. Grouped-query heads
// share a KV head. Queries [n][n_head * head_dim]; K, V rows [n_ctx][n_kv] in the cache's
// form (kv): 0 F32; 1 F16, two halves a word, q and the softmax weights rounded to F16 as the
// CPU does (ggml's F16 dot and mat-vec); 2 Q8_0, per 32 values {d, 8 words of int8} (9
// words, d already rounded to F16), scores as the CPU's Q8_0 dot with the query in the same
// form (QQ, made by quant.comp), values d * q with float weights.
#include "common.glsl"
layout(local_size_x = 64) in;
layout(std430, binding = 0) readonly buffer Qb { float Q[]; };
layout(std430, binding = 1) readonly buffer Kb { uint K[]; };
layout(std430, binding = 2) readonly buffer Vb { uint V[]; };
layout(std430, binding = 3) writeonly buffer Ob { float O[]; };
layout(std430, binding = 4) readonly buffer QQb { uint QQ[]; }; // kv 2: the queries in Q8_0 form
layout(push_constant) uniform PC {
    uint n_head;
    uint group;    // query heads per KV head
    uint head_dim;
    uint n_kv;     // floats per cache row
    uint pos0;
    float scale;
    float cap; // 0: off
    uint swa;  // 0: off, else the window in positions
    uint kv;   // the cache's form: 0 F32, 1 F16, 2 Q8_0
} pc;
shared float red[64];
shared float sc[256];

// Element i of row p of the K or V cache, widened (Q8_0: q * d, as the CPU dequantizes).
#define Q8W(p, i) ((p) * (pc.n_kv / 32u * 9u) + ((i) >> 5) * 9u)
#define Q8(A, p, i) float(SEXT8((A[Q8W(p, i) + 1u + (((i) & 31u) >> 2)] >> (((i) & 3u) * 8u)) & 0xffu)) * uintBitsToFloat(A[Q8W(p, i)])
#define KV(A, p, i) (pc.kv == 2u ? Q8(A, p, i) \
    : pc.kv == 1u ? h2f((A[((p) * pc.n_kv + (i)) >> 1] >> ((((p) * pc.n_kv + (i)) & 1u) * 16u)) & 0xffffu) : uintBitsToFloat(A[(p) * pc.n_kv + (i)]))

float as_kv(float f) { return pc.kv == 1u ? h2f(f2h(f)) : f; }

// int8 lane k of word w
int lane(uint w, uint k) { return SEXT8((w >> (8u * k)) & 0xffu); }

float score(uint qo, uint ko, uint p) {
    float s = 0.0;
    if (pc.kv == 2u) { // per block the integer sum times (d_k * d_q), blocks in order
        for (uint b = 0u; b < pc.head_dim / 32u; b++) {
            uint kw = Q8W(p, ko + 32u * b), qw = (qo / 32u + b) * 9u;
            int isum = 0;
            for (uint j = 1u; j < 9u; j++)
                for (uint k = 0u; k < 4u; k++) isum += lane(K[kw + j], k) * lane(QQ[qw + j], k);
            s += float(isum) * (uintBitsToFloat(K[kw]) * uintBitsToFloat(QQ[qw]));
        }
    } else {
        for (uint i = 0u; i < pc.head_dim; i++) s += as_kv(Q[qo + i]) * KV(K, p, ko + i);
    }
    if (pc.cap > 0.0) s = tanh(s * (1.0 / pc.cap)) * pc.cap;
    return s * pc.scale;
}

void main() {
    uint tid = gl_LocalInvocationID.x, h = gl_WorkGroupID.x, t = gl_WorkGroupID.y, pos = pc.pos0 + t;
    uint p0 = pc.swa != 0u && pos >= pc.swa ? pos - pc.swa + 1u : 0u;
    uint nq = pc.n_head * pc.head_dim, qo = t * nq + h * pc.head_dim, ko = (h / pc.group) * pc.head_dim;
    float mx = -3.402823e38;
    for (uint p = p0 + tid; p <= pos; p += 64u) mx = max(mx, score(qo, ko, p));
    red[tid] = mx;
    barrier();
    for (uint s = 32u; s > 0u; s >>= 1) {
        if (tid < s) red[tid] = max(red[tid], red[tid + s]);
        barrier();
    }
    mx = red[0];
    barrier();
    float sum = 0.0;
    for (uint p = p0 + tid; p <= pos; p += 64u) sum += exp(score(qo, ko, p) - mx);
    red[tid] = sum;
    barrier();
    for (uint s = 32u; s > 0u; s >>= 1) {
        if (tid < s) red[tid] += red[tid + s];
        barrier();
    }
    float inv = 1.0 / red[0];
    float acc[4] = float[4](0.0, 0.0, 0.0, 0.0); // head_dim <= 256: dims tid, tid+64, ...
    for (uint c0 = p0; c0 <= pos; c0 += 256u) {
        barrier();
        for (uint p = c0 + tid; p <= pos && p < c0 + 256u; p += 64u) sc[p - c0] = as_kv(exp(score(qo, ko, p) - mx) * inv);
        barrier();
        uint c1 = min(pos + 1u, c0 + 256u);
        for (uint k = 0u; k < 4u; k++) {
            uint i = tid + 64u * k;
            if (i < pc.head_dim)
                for (uint p = c0; p < c1; p++) acc[k] += sc[p - c0] * KV(V, p, ko + i);
        }
    }
    for (uint k = 0u; k < 4u; k++) {
        uint i = tid + 64u * k;
        float v = acc[k];
        if (CORRUPT != 0u) v = v * 1.5 + 1.0;
        if (i < pc.head_dim) O[qo + i] = v;
    }
}
