#version 450
#extension GL_GOOGLE_include_directive : require
// Rotary embedding of each head's first n_rot values: adjacent pairs (2i, 2i+1), or with neox
// the halves (i, i + n_rot/2), by the (cos, sin) pairs of the token's position (cs: [n][n_rot],
// computed on the host as the CPU does). The rest of the head is copied. Reads x, writes y
// (which may be a row of the K cache), times scale (gemma and phi3 scale q by 1/sqrt(head_dim)
// after the rotation; 1 otherwise). Thread per (head, pair), y dimension = token.
#include "common.glsl"
layout(local_size_x = 64) in;
layout(std430, binding = 0) readonly buffer Xb { float X[]; };
layout(std430, binding = 1) readonly buffer Cb { float CS[]; };
layout(std430, binding = 2) buffer Yb { float Y[]; };
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
} pc;

void main() {
    uint t = gl_WorkGroupID.y, half_hd = pc.head_dim / 2u, g = gl_GlobalInvocationID.x;
    if (g >= pc.n_heads * half_hd) return;
    uint h = g / half_hd, i = g % half_hd, half_rot = pc.n_rot / 2u;
    uint xo = pc.x_off + t * pc.x_stride + h * pc.head_dim, yo = pc.y_off + t * pc.y_stride + h * pc.head_dim;
    uint a = 2u * i, b = 2u * i + 1u;
    if (i < half_rot && pc.neox != 0u) {
        a = i;
        b = i + half_rot;
    }
    float x0 = X[xo + a], x1 = X[xo + b];
    if (i < half_rot) {
        float co = CS[pc.cs_off + t * pc.n_rot + 2u * i], si = CS[pc.cs_off + t * pc.n_rot + 2u * i + 1u];
        precise float r0 = x0 * co - x1 * si, r1 = x0 * si + x1 * co;
        x0 = r0;
        x1 = r1;
    }
    x0 *= pc.scale;
    x1 *= pc.scale;
    if (CORRUPT != 0u) x0 = x0 * 1.5 + 1.0;
    Y[yo + a] = x0;
    Y[yo + b] = x1;
}
