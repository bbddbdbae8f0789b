#version 450
#extension GL_GOOGLE_include_directive : require
// x += y element-wise (the residual connections); a grid-stride loop.
#include "common.glsl"
layout(local_size_x = 64) in;
layout(std430, binding = 0) buffer Xb { float X[]; };
layout(std430, binding = 1) readonly buffer Yb { float Y[]; };
layout(push_constant) uniform PC { uint count; } pc;

void main() {
    for (uint i = gl_GlobalInvocationID.x; i < pc.count; i += gl_NumWorkGroups.x * 64u) {
        float v = X[i] + Y[i];
        if (CORRUPT != 0u) v = v * 1.5 + 1.0;
        X[i] = v;
    }
}
