#version 450
#extension GL_GOOGLE_include_directive : require
// The mixture of experts' routing and combination, as llm.h's CPU code (one thread per token).
// ROUTE: the router logits L [n][n_expert] become probabilities (softmax: max subtracted,
// exponentials summed in order), the k largest chosen (ties to the lower id) into SEL [n][k]
// with their probabilities, renormalised to sum 1, into WTS [n][k].
// COMBINE: Y [n][n_embd] = sum over the token's k slots, in routing order, of WTS times the
// expert's output E [n][k][n_embd]; one thread per (token, value).
#include "common.glsl"
layout(local_size_x = 64) in;
layout(std430, binding = 0) buffer Lb { float L[]; };    // ROUTE: logits, turned into probabilities
layout(std430, binding = 1) buffer Sb { uint SEL[]; };   // chosen experts
layout(std430, binding = 2) buffer Wb { float WTS[]; };  // their weights
layout(std430, binding = 3) readonly buffer Eb { float E[]; }; // COMBINE: the experts' outputs
layout(std430, binding = 4) writeonly buffer Yb { float Y[]; };
layout(push_constant) uniform PC {
    uint n;        // tokens
    uint n_expert;
    uint k;        // experts used per token
    uint n_embd;
} pc;

void main() {
    uint i = gl_GlobalInvocationID.x;
#if defined(ROUTE)
    if (i >= pc.n) return;
    uint o = i * pc.n_expert, so = i * pc.k;
    float mx = -3.402823e38, sum = 0.0, wsum = 0.0;
    for (uint e = 0u; e < pc.n_expert; e++) mx = max(mx, L[o + e]);
    for (uint e = 0u; e < pc.n_expert; e++) {
        float p = exp(L[o + e] - mx);
        L[o + e] = p;
        sum += p;
    }
    float inv = 1.0 / sum;
    for (uint e = 0u; e < pc.n_expert; e++) L[o + e] *= inv;
    for (uint s = 0u; s < pc.k; s++) {
        uint best = 0xffffffffu;
        for (uint e = 0u; e < pc.n_expert; e++) {
            bool used = false;
            for (uint u = 0u; u < s; u++) used = used || SEL[so + u] == e;
            if (!used && (best == 0xffffffffu || L[o + e] > L[o + best])) best = e;
        }
        SEL[so + s] = best;
        WTS[so + s] = L[o + best];
        wsum += L[o + best];
    }
    for (uint s = 0u; s < pc.k; s++) {
        float w = div_rn(WTS[so + s], wsum);
        if (CORRUPT != 0u) w = w * 1.5 + 1.0;
        WTS[so + s] = w;
    }
#else
    if (i >= pc.n * pc.n_embd) return;
    uint t = i / pc.n_embd, d = i % pc.n_embd;
    precise float y = 0.0;
    for (uint s = 0u; s < pc.k; s++) {
        precise float v = WTS[t * pc.k + s] * E[(t * pc.k + s) * pc.n_embd + d];
        y += v;
    }
    if (CORRUPT != 0u) y = y * 1.5 + 1.0;
    Y[i] = y;
#endif
}
