#version 450
#extension GL_GOOGLE_include_directive : require
// y = x / rms(x) * w for each row (one workgroup per row): scale = 1 / sqrt(mean(x^2) + eps),
// then (x * scale) * w as the CPU does.
#include "common.glsl"
layout(local_size_x = 64) in;
layout(std430, binding = 0) readonly buffer Xb { float X[]; };
layout(std430, binding = 1) readonly buffer Wb { float Wn[]; };
layout(std430, binding = 2) writeonly buffer Yb { float Y[]; };
layout(push_constant) uniform PC {
    uint n;
    uint x_off; // floats, of row 0
    uint y_off;
    uint w_off;
    float eps;
} pc;
shared float red[64];

void main() {
    uint tid = gl_LocalInvocationID.x, xo = pc.x_off + gl_WorkGroupID.x * pc.n, yo = pc.y_off + gl_WorkGroupID.x * pc.n;
    float acc = 0.0;
    for (uint i = tid; i < pc.n; i += 64u) acc += X[xo + i] * X[xo + i];
    red[tid] = acc;
    barrier();
    for (uint s = 32u; s > 0u; s >>= 1) {
        if (tid < s) red[tid] += red[tid + s];
        barrier();
    }
    float scale = 1.0 / sqrt(red[0] / float(pc.n) + pc.eps);
    for (uint i = tid; i < pc.n; i += 64u) {
        precise float v = (X[xo + i] * scale) * Wn[pc.w_off + i];
        if (CORRUPT != 0u) v = v * 1.5 + 1.0;
        Y[yo + i] = v;
    }
}
