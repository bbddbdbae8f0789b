#version 450
#extension GL_GOOGLE_include_directive : require
// y = x / rms(x) * w for each row (one workgroup per row): scale = 1 / sqrt(mean(x^2) + eps),
// then (x * scale) * w, as the CPU does, to the bit: the squares (rounded floats) are summed
// as float pairs (hi + lo, exact additions: the CPU sums them in double), the mean, the root
// and the reciprocal rounded to nearest.
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
shared float red_hi[64], red_lo[64];

// (hi, lo) += v, with the rounding error of hi + v kept in lo (Knuth's two-sum)
void add2(inout float hi, inout float lo, float v) {
    precise float s = hi + v;
    precise float bv = s - hi;
    precise float err = (hi - (s - bv)) + (v - bv);
    hi = s;
    lo += err;
}

void main() {
    uint tid = gl_LocalInvocationID.x, xo = pc.x_off + gl_WorkGroupID.x * pc.n, yo = pc.y_off + gl_WorkGroupID.x * pc.n;
    float hi = 0.0, lo = 0.0;
    for (uint i = tid; i < pc.n; i += 64u) {
        precise float sq = X[xo + i] * X[xo + i];
        add2(hi, lo, sq);
    }
    red_hi[tid] = hi;
    red_lo[tid] = lo;
    barrier();
    for (uint s = 32u; s > 0u; s >>= 1) {
        if (tid < s) {
            float h = red_hi[tid], l = red_lo[tid];
            add2(h, l, red_hi[tid + s]);
            precise float l2 = l + red_lo[tid + s];
            red_hi[tid] = h;
            red_lo[tid] = l2;
        }
        barrier();
    }
    // the mean (hi + lo) / n rounded to nearest: hi / n corrected with the exact remainder
    float n = float(pc.n), p, e;
    precise float q = red_hi[0] / n;
    two_prod(q, n, p, e);
    precise float r = ((red_hi[0] - p) - e) + red_lo[0];
    precise float mean = q + r / n;
    precise float m = mean + pc.eps;
    float scale = div_rn(1.0, sqrt_rn(m));
    for (uint i = tid; i < pc.n; i += 64u) {
        precise float v = (X[xo + i] * scale) * Wn[pc.w_off + i];
        if (CORRUPT != 0u) v = v * 1.5 + 1.0;
        Y[yo + i] = v;
    }
}
