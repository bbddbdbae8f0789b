#version 450
#extension GL_GOOGLE_include_directive : require
// g = silu(g) * u element-wise, silu(x) = x / (1 + exp(-x)); a grid-stride loop.
#include "common.glsl"
layout(local_size_x = 64) in;
layout(std430, binding = 0) buffer Gb { float G[]; };
layout(std430, binding = 1) readonly buffer Ub { float U[]; };
layout(push_constant) uniform PC { uint count; } pc;

void main() {
    for (uint i = gl_GlobalInvocationID.x; i < pc.count; i += gl_NumWorkGroups.x * 64u) {
        float g = G[i], v = g / (1.0 + exp(-g)) * U[i];
        if (CORRUPT != 0u) v = v * 1.5 + 1.0;
        G[i] = v;
    }
}
