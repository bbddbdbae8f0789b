#version 450
#extension GL_GOOGLE_include_directive : require
// Copies rows (V into the cache): y[row][i] = x[row][i], y dimension = row.
#include "common.glsl"
layout(local_size_x = 64) in;
layout(std430, binding = 0) readonly buffer Xb { float X[]; };
layout(std430, binding = 1) writeonly buffer Yb { float Y[]; };
layout(push_constant) uniform PC {
    uint n;
    uint x_off;
    uint x_stride;
    uint y_off;
    uint y_stride;
} pc;

void main() {
    uint i = gl_GlobalInvocationID.x, r = gl_WorkGroupID.y;
    if (i >= pc.n) return;
    float v = X[pc.x_off + r * pc.x_stride + i];
    if (CORRUPT != 0u) v = v * 1.5 + 1.0;
    Y[pc.y_off + r * pc.y_stride + i] = v;
}
