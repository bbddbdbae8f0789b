#version 450
#extension GL_GOOGLE_include_directive : require
// Activations x (floats) into a weight type's dot-product form, exactly as the CPU converts
// them (refs/README.md 2.2): FORM_F16 and FORM_BF16 round each value to that type (kept as a
// float); FORM_Q8_0 per 32 values d = f16(amax/127) and q = round_half_even(x * (127/amax))
// ({d, 8 words}); FORM_Q8_1 the same with s = f16(d * sum q), d before its rounding ({d, s, 8
// words});
// FORM_Q8_K per 256 values iscale = -127/max (max: the first value of largest magnitude),
// q = min(127, round_half_even(iscale * x)), d = 1/iscale, and the sums of each 16 q
// ({d, 64 words, 8 words}). One thread per block (per value for F16).
#include "common.glsl"
layout(local_size_x = 64) in;
layout(std430, binding = 0) readonly buffer Xb { float X[]; };
layout(std430, binding = 1) writeonly buffer Qb { uint Q[]; };
layout(push_constant) uniform PC {
    uint n;        // values per column
    uint x_off;    // floats
    uint x_stride; // floats per column
    uint q_stride; // words per column
    uint q_off;    // words (a row of the Q8_0 KV cache)
} pc;

float xv(uint i) { return X[pc.x_off + gl_WorkGroupID.y * pc.x_stride + i]; }
void put(uint i, uint v) { Q[pc.q_off + gl_WorkGroupID.y * pc.q_stride + i] = v; }

void main() {
    uint b = gl_GlobalInvocationID.x;
#if defined(FORM_F16)
    if (b >= pc.n) return;
    float v = h2f(f2h(xv(b)));
    if (CORRUPT != 0u) v = v * 1.5 + 1.0;
    put(b, floatBitsToUint(v));
#elif defined(FORM_BF16)
    if (b >= pc.n) return;
    uint u = floatBitsToUint(xv(b));
    uint h = (u & 0x7fffffffu) > 0x7f800000u ? (u >> 16) | 64u : (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
    float v = uintBitsToFloat(h << 16);
    if (CORRUPT != 0u) v = v * 1.5 + 1.0;
    put(b, floatBitsToUint(v));
#elif defined(FORM_Q8_0) || defined(FORM_Q8_1)
#if defined(FORM_Q8_1)
#define XW 10u
#else
#define XW 9u
#endif
    if (b >= pc.n / 32u) return;
    float amax = 0.0;
    for (uint j = 0u; j < 32u; j++) amax = max(amax, abs(xv(32u * b + j)));
    float id = amax != 0.0 ? div_rn(127.0, amax) : 0.0;
    int sum = 0;
    for (uint w = 0u; w < 8u; w++) {
        uint packed = 0u;
        for (uint k = 0u; k < 4u; k++) {
            precise float v = xv(32u * b + 4u * w + k) * id;
            int q = clamp(int(roundEven(v)), -128, 127);
            if (CORRUPT != 0u) q = q / 2;
            sum += q;
            packed |= (uint(q) & 0xffu) << (8u * k);
        }
        put(XW * b + XW - 8u + w, packed);
    }
    float d = div_rn(amax, 127.0);
    put(XW * b, floatBitsToUint(h2f(f2h(d))));
#if defined(FORM_Q8_1)
    precise float s = d * float(sum);
    put(XW * b + 1u, floatBitsToUint(h2f(f2h(s))));
#endif
#elif defined(FORM_Q8_K)
    if (b >= pc.n / 256u) return;
    float amax = 0.0, mx = 0.0;
    for (uint j = 0u; j < 256u; j++) {
        float v = xv(256u * b + j);
        if (abs(v) > amax) {
            amax = abs(v);
            mx = v;
        }
    }
    float iscale = amax != 0.0 ? div_rn(-127.0, mx) : 0.0;
    for (uint g = 0u; g < 8u; g++) {
        int s2[2] = int[2](0, 0);
        for (uint w = 0u; w < 8u; w++) {
            uint packed = 0u;
            for (uint k = 0u; k < 4u; k++) {
                precise float v = iscale * xv(256u * b + 32u * g + 4u * w + k);
                int q = min(127, int(roundEven(v)));
                if (CORRUPT != 0u) q = q / 2;
                s2[w >> 2] += q;
                packed |= (uint(q) & 0xffu) << (8u * k);
            }
            put(73u * b + 1u + 8u * g + w, packed);
        }
        put(73u * b + 65u + g, (uint(s2[0]) & 0xffffu) | (uint(s2[1]) << 16));
    }
    put(73u * b, floatBitsToUint(amax != 0.0 ? div_rn(1.0, iscale) : 0.0));
#endif
}
