#version 450
#extension GL_GOOGLE_include_directive : require
// Element-wise, a grid-stride loop. SwiGLU (default): g = silu(g) * u, silu(x) = x / (1 + exp(-x)).
// GEGLU: g = gelu(g) * u with ggml's table GELU, as llm.h: x rounded to f16 looks up GELU(x)
// as f16 in T (two per word), 0 below -10, x above 10. SOFTCAP: g = tanh(g / cap) * cap.
#include "common.glsl"
layout(local_size_x = 64) in;
layout(std430, binding = 0) buffer Gb { float G[]; };
layout(std430, binding = 1) readonly buffer Ub { float U[]; };
layout(std430, binding = 2) readonly buffer Tb { uint T[]; };
layout(push_constant) uniform PC {
    uint count;
    float cap;
} pc;

void main() {
    for (uint i = gl_GlobalInvocationID.x; i < pc.count; i += gl_NumWorkGroups.x * 64u) {
        float g = G[i], v;
#if defined(GEGLU)
        if (g <= -10.0) v = 0.0;
        else if (g >= 10.0) v = g;
        else {
            uint h = f2h(g);
            v = h2f((T[h >> 1] >> ((h & 1u) * 16u)) & 0xffffu);
        }
        v = v * U[i];
#elif defined(SOFTCAP)
        v = tanh(g * (1.0 / pc.cap)) * pc.cap;
#else
        v = g / (1.0 + exp(-g)) * U[i];
#endif
        if (CORRUPT != 0u) v = v * 1.5 + 1.0;
        G[i] = v;
    }
}
