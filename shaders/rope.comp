#version 450
#extension GL_GOOGLE_include_directive : require
// Rotary embedding of each head's first n_rot values: adjacent pairs (2i, 2i+1), or with neox
// the halves (i, i + n_rot/2), by the (cos, sin) pairs of the token's position (cs: [n][n_rot],
// computed on the host as the CPU does). The rest of the head is copied. Reads x, writes y
// (which may be a row of the K cache), times scale (gemma and phi3 scale q by 1/sqrt(head_dim)
// after the rotation; 1 otherwise). Thread per (head, output pair 2i, 2i+1), y dimension = token.
// f16: y is an F16 K cache, the pair packed in one word (offsets and strides in halves).
#include "common.glsl"
layout(local_size_x = 64) in;
layout(std430, binding = 0) readonly buffer Xb { float X[]; };
layout(std430, binding = 1) readonly buffer Cb { float CS[]; };
layout(std430, binding = 2) buffer Yb { uint Y[]; };
layout(push_constant) uniform PC {
    uint n_heads;
    uint head_dim;
    uint n_rot;
    uint neox;
    uint x_off;    // floats
    uint x_stride; // floats per token
    uint y_off;
    uint y_stride;
    float scale;
    uint cs_off; // floats: the table of this layer's base (gemma3's local layers have their own)
    uint f16;
} pc;

// Output d of the head at xo: rotated with its partner (pairs (2i, 2i+1), or neox (i, i + n_rot/2)).
float rotated(uint xo, uint t, uint d) {
    uint half_rot = pc.n_rot / 2u;
    if (d >= pc.n_rot) return X[xo + d] * pc.scale;
    uint i = pc.neox != 0u ? (d < half_rot ? d : d - half_rot) : d / 2u;
    uint a = pc.neox != 0u ? i : 2u * i, b = pc.neox != 0u ? i + half_rot : 2u * i + 1u;
    float x0 = X[xo + a], x1 = X[xo + b];
    float co = CS[pc.cs_off + t * pc.n_rot + 2u * i], si = CS[pc.cs_off + t * pc.n_rot + 2u * i + 1u];
    precise float r0 = x0 * co - x1 * si, r1 = x0 * si + x1 * co;
    return (d == a ? r0 : r1) * pc.scale;
}

void main() {
    uint t = gl_WorkGroupID.y, half_hd = pc.head_dim / 2u, g = gl_GlobalInvocationID.x;
    if (g >= pc.n_heads * half_hd) return;
    uint h = g / half_hd, i = g % half_hd;
    uint xo = pc.x_off + t * pc.x_stride + h * pc.head_dim, yo = pc.y_off + t * pc.y_stride + h * pc.head_dim + 2u * i;
    float y0 = rotated(xo, t, 2u * i), y1 = rotated(xo, t, 2u * i + 1u);
    if (CORRUPT != 0u) y0 = y0 * 1.5 + 1.0;
    if (pc.f16 != 0u) {
        Y[yo / 2u] = f2h(y0) | (f2h(y1) << 16); // yo is even: one whole word per thread
    } else {
        Y[yo] = floatBitsToUint(y0);
        Y[yo + 1u] = floatBitsToUint(y1);
    }
}
