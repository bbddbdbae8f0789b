#version 450
#extension GL_GOOGLE_include_directive : require
// x += y element-wise (the residual connections), or with y a row repeated every ymod values
// (a bias added to each token's row); a grid-stride loop.
#include "common.glsl"
layout(local_size_x = 64) in;
layout(std430, binding = 0) buffer Xb { float X[]; };
layout(std430, binding = 1) readonly buffer Yb { float Y[]; };
layout(push_constant) uniform PC {
    uint count;
    uint ymod; // 0: y as long as x
} pc;

void main() {
    for (uint i = gl_GlobalInvocationID.x; i < pc.count; i += gl_NumWorkGroups.x * 64u) {
        float v = X[i] + Y[pc.ymod != 0u ? i % pc.ymod : i];
        if (CORRUPT != 0u) v = v * 1.5 + 1.0;
        X[i] = v;
    }
}
