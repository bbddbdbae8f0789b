#version 450
#extension GL_GOOGLE_include_directive : require
// Causal attention over the F32 or (f16) F16 KV cache, one workgroup per (head, token): scores q.k (soft-
// capped, gemma2: tanh(s / cap) * cap), times scale, for positions p0..pos (p0 = pos - swa + 1
// on sliding-window layers), softmax (max subtracted, sum of exponentials), then sum_p w_p v_p.
// The scores are computed twice (for max and sum, then in chunks of 256 kept in shared
// memory for the weighted sum), so no scratch grows with the context. Grouped-query heads
// share a KV head. Queries [n][n_head * head_dim]; K, V rows [n_ctx][n_kv]. With an F16 cache q
// and the softmax weights are rounded to F16 as the CPU does (ggml's F16 dot and mat-vec).
#include "common.glsl"
layout(local_size_x = 64) in;
layout(std430, binding = 0) readonly buffer Qb { float Q[]; };
layout(std430, binding = 1) readonly buffer Kb { uint K[]; };
layout(std430, binding = 2) readonly buffer Vb { uint V[]; };
layout(std430, binding = 3) writeonly buffer Ob { float O[]; };
layout(push_constant) uniform PC {
    uint n_head;
    uint group;    // query heads per KV head
    uint head_dim;
    uint n_kv;     // floats per cache row
    uint pos0;
    float scale;
    float cap; // 0: off
    uint swa;  // 0: off, else the window in positions
    uint f16;
} pc;
shared float red[64];
shared float sc[256];

// Element e of the K or V cache, widened.
#define KV(A, e) (pc.f16 != 0u ? h2f((A[(e) >> 1] >> (((e) & 1u) * 16u)) & 0xffffu) : uintBitsToFloat(A[e]))

float as_kv(float f) { return pc.f16 != 0u ? h2f(f2h(f)) : f; }

float score(uint qo, uint ko, uint p) {
    float s = 0.0;
    for (uint i = 0u; i < pc.head_dim; i++) s += as_kv(Q[qo + i]) * KV(K, p * pc.n_kv + ko + i);
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
                for (uint p = c0; p < c1; p++) acc[k] += sc[p - c0] * KV(V, p * pc.n_kv + ko + i);
        }
    }
    for (uint k = 0u; k < 4u; k++) {
        uint i = tid + 64u * k;
        float v = acc[k];
        if (CORRUPT != 0u) v = v * 1.5 + 1.0;
        if (i < pc.head_dim) O[qo + i] = v;
    }
}
