#version 450
#extension GL_GOOGLE_include_directive : require
// Copies rows (V into the cache): y[row][i] = x[row][i], y dimension = row. f16: y is an F16
// V cache, thread i writes the word of halves 2i, 2i+1 (n, y_off, y_stride even, in halves).
#include "common.glsl"
layout(local_size_x = 64) in;
layout(std430, binding = 0) readonly buffer Xb { float X[]; };
layout(std430, binding = 1) writeonly buffer Yb { uint Y[]; };
layout(push_constant) uniform PC {
    uint n;
    uint x_off;
    uint x_stride;
    uint y_off;
    uint y_stride;
    uint f16;
} pc;

void main() {
    uint i = gl_GlobalInvocationID.x, r = gl_WorkGroupID.y, xo = pc.x_off + r * pc.x_stride, yo = pc.y_off + r * pc.y_stride;
    if (pc.f16 != 0u) {
        if (2u * i >= pc.n) return;
        float v0 = X[xo + 2u * i], v1 = X[xo + 2u * i + 1u];
        if (CORRUPT != 0u) v0 = v0 * 1.5 + 1.0;
        Y[yo / 2u + i] = f2h(v0) | (f2h(v1) << 16);
        return;
    }
    if (i >= pc.n) return;
    float v = X[xo + i];
    if (CORRUPT != 0u) v = v * 1.5 + 1.0;
    Y[yo + i] = floatBitsToUint(v);
}
