// Shared by every shader of llm_vulkan.h (all but matvec.comp's faster tiers read 32-bit
// words only: no 8/16-bit storage, no subgroups). Bindings 0..4 are storage buffers of the one descriptor set layout;
// push constants are at most 64 bytes. CORRUPT is a test-only specialization constant: when
// set, the shader spoils its output so the self-test must refuse the device.
layout(constant_id = 0) const uint CORRUPT = 0;

// Byte o (0..255) and 16-bit value at even byte o of a word array; blocks of the file's
// types are not word-aligned (a Q8_0 block is 34 bytes), rows start at any even byte.
#define RD8(A, o) ((A[(o) >> 2] >> (((o) & 3u) * 8u)) & 0xffu)
#define RD16(A, o) ((A[(o) >> 2] >> (((o) & 2u) * 8u)) & 0xffffu)
#define SEXT8(v) (int((v) << 24) >> 24)

// float16 bits -> float32, exactly, subnormals included (unpackHalf2x16 may flush them to
// zero, which the CPU does not).
float h2f(uint h) {
    uint e = (h >> 10) & 31u, m = h & 1023u;
    if (e == 0u) {
        float f = float(m) * 5.9604644775390625e-8; // m * 2^-24
        return (h & 0x8000u) != 0u ? -f : f;
    }
    return uintBitsToFloat(((h & 0x8000u) << 16) | ((e == 31u ? 255u : e + 112u) << 23) | (m << 13));
}

// float32 -> float16 bits, round to nearest even (the CPU's F16C rounding), done in integers
// so no driver's conversion mode matters.
uint f2h(float f) {
    uint x = floatBitsToUint(f), s = (x >> 16) & 0x8000u, m = x & 0x7fffffu;
    int e = int((x >> 23) & 0xffu) - 112;
    if (e >= 31) return s | 0x7c00u;
    if (e <= 0) {
        if (e < -10) return s;
        m |= 0x800000u;
        uint sh = uint(14 - e), r = m >> sh, rem = m & ((1u << sh) - 1u), half_ = 1u << (sh - 1u);
        if (rem > half_ || (rem == half_ && (r & 1u) != 0u)) r++;
        return s | r;
    }
    uint h = s | (uint(e) << 10) | (m >> 13), rem = m & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (h & 1u) != 0u)) h++;
    return h;
}

// a * b exactly, as hi + lo (Dekker's product; no FMA needed, none allowed to form).
void two_prod(float a, float b, out float hi, out float lo) {
    precise float p = a * b;
    precise float ca = 4097.0 * a, ah = ca - (ca - a), al = a - ah;
    precise float cb = 4097.0 * b, bh = cb - (cb - b), bl = b - bh;
    precise float e = ((ah * bh - p) + ah * bl + al * bh) + al * bl;
    hi = p;
    lo = e;
}

// a / b rounded to nearest, as the CPU's division: Vulkan allows 2.5 ulp for '/', so the
// quotient is corrected once with its exact remainder.
float div_rn(float a, float b) {
    precise float q = a / b;
    float p, e;
    two_prod(q, b, p, e);
    precise float r = (a - p) - e;
    return q + r / b;
}

// sqrt(a) rounded to nearest, as the CPU's sqrtf: Vulkan's sqrt may be off by a few ulp, so
// it is corrected once with its exact residual a - s^2.
float sqrt_rn(float a) {
    precise float s = sqrt(a);
    if (a <= 0.0 || isinf(a)) return s;
    float p, e;
    two_prod(s, s, p, e);
    precise float r = (a - p) - e;
    return s + r / (2.0 * s);
}
