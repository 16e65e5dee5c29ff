// Weight dtypes on the device (kernels/weights.c packs them; kernels.h documents
// the layouts): fp16 rows, or ggml's block types repacked into 16-byte texels so
// that every load is one aligned uvec4. The dtype is the specialization constant
// WTYPE (a ggml type id, PHI3_WT_* in common.h); the branches of the other types
// fold away when the pipeline is specialized, so an F16 pipeline is the F16 code.
//
// Include after the shader defines WLOAD(i) (texel i of the weight buffer, an int).
//
// Layouts per row of K values, in texels of 16 bytes (nb = K / 256):
//   F16   K8 / 8 texels of 8 halves (K8 = K rounded up to 8)
//   Q8_0  K / 16 texels of int8 values in order, then ceil(K / 256) texels of the
//         block scales d (binary16, block b at half b)
//   Q4_0  K / 32 texels, one per block: word w, nibble i is value 8 w + i of the
//         block as a 4-bit two's complement q - 8; then the scales as Q8_0
//   Q4_K  9 texels per super-block: ggml's d, dmin, scales[12]; then one texel per
//         sub-block j of 32 values, word w, nibble i = value 8 w + i (0..15)
//   Q5_K  11 per super-block: Q4_K's 9, then 2 texels of fifth bits: word j of the
//         8, bit i = value i of sub-block j
//   Q6_K  13 per super-block: 8 texels of low nibbles as Q4_K; 4 texels of high
//         2-bit pairs (sub-block j: words 2 j, 2 j + 1, bits 2 i for value i,
//         values 16.. in the second word); 1 texel of the 16 int8 scales; then
//         after all super-blocks ceil(nb / 8) texels of their d (binary16).
layout(constant_id = 10) const uint WTYPE = PHI3_WT_F16;

// Texels per row of K values (K a whole number of blocks for the block types).
uint wt_row_texels(uint K) {
    uint nb = K >> 8u, scales = (K + 255u) >> 8u;
    if (WTYPE == PHI3_WT_Q8_0) return (K >> 4u) + scales;
    if (WTYPE == PHI3_WT_Q4_0) return (K >> 5u) + scales;
    if (WTYPE == PHI3_WT_Q4_K) return 9u * nb;
    if (WTYPE == PHI3_WT_Q5_K) return 11u * nb;
    if (WTYPE == PHI3_WT_Q6_K) return 13u * nb + ((nb + 7u) >> 3u);
    return (K + 7u) >> 3u;
}

// Half h of a texel of binary16 values.
float wt_half(uvec4 t, uint h) { return unpackHalf2x16(t[(h >> 1u) & 3u])[h & 1u]; }

// The 6-bit scale and min of sub-block j (0..7) from a K-quant header texel
// (bytes 4..15 are ggml's scales[12]).
void wt_k_scale_min(uvec4 hdr, uint j, out float sc, out float m) {
    // bytes of scales[]: s[i] = byte 4 + i of the texel
    uint jj = j & 3u;
    uint a = bitfieldExtract(hdr[1u], int(8u * jj), 8);  // scales[jj]
    uint b = bitfieldExtract(hdr[2u], int(8u * jj), 8);  // scales[jj + 4]
    if (j < 4u) {
        sc = float(a & 63u);
        m = float(b & 63u);
    } else {
        uint c = bitfieldExtract(hdr[3u], int(8u * jj), 8); // scales[j + 4]
        sc = float((c & 15u) | ((a >> 6u) << 4u));
        m = float((c >> 4u) | ((b >> 6u) << 4u));
    }
}

// ---- values 8 c .. 8 c + 7 of a row: one packed uvec4, then floats ---------
// (the prefill kernels and the embedding; fetch and unpack are apart so a
// kernel can load one step ahead and unpack later, as matmul_tiled does)

uvec4 wt_fetch8(uint row, uint c, uint K, uint rt) {
    uint base = row * rt;
    if (WTYPE == PHI3_WT_Q8_0) {
        uvec4 t = WLOAD(int(base + (c >> 1u)));
        float d = wt_half(WLOAD(int(base + (K >> 4u) + (c >> 5u))), (c >> 2u) & 7u);
        return (c & 1u) == 0u ? uvec4(t.xy, floatBitsToUint(d), 0u) : uvec4(t.zw, floatBitsToUint(d), 0u);
    }
    if (WTYPE == PHI3_WT_Q4_0) {
        uint w = WLOAD(int(base + (c >> 2u)))[c & 3u];
        float d = wt_half(WLOAD(int(base + (K >> 5u) + (c >> 5u))), (c >> 2u) & 7u);
        return uvec4(w, floatBitsToUint(d), 0u, 0u);
    }
    uint sb = c >> 5u, j = (c >> 2u) & 7u, k = c & 3u;
    if (WTYPE == PHI3_WT_Q4_K || WTYPE == PHI3_WT_Q5_K) {
        uint bs = WTYPE == PHI3_WT_Q4_K ? 9u : 11u;
        uint hb = base + bs * sb;
        uvec4 hdr = WLOAD(int(hb));
        float sc, m;
        wt_k_scale_min(hdr, j, sc, m);
        vec2 dd = unpackHalf2x16(hdr.x);
        uint w = WLOAD(int(hb + 1u + j))[k];
        uint h = WTYPE == PHI3_WT_Q5_K ? bitfieldExtract(WLOAD(int(hb + 9u + (j >> 2u)))[j & 3u], int(8u * k), 8) : 0u;
        return uvec4(w, floatBitsToUint(dd.x * sc), floatBitsToUint(dd.y * m), h);
    }
    if (WTYPE == PHI3_WT_Q6_K) {
        uint hb = base + 13u * sb;
        uint w = WLOAD(int(hb + j))[k];
        uint h = bitfieldExtract(WLOAD(int(hb + 8u + (j >> 1u)))[((j & 1u) << 1u) | (k >> 1u)], int(16u * (k & 1u)), 16);
        uint sbyte = 2u * j + (k >> 1u);
        int sc = bitfieldExtract(int(WLOAD(int(hb + 12u))[sbyte >> 2u]), int(8u * (sbyte & 3u)), 8);
        float d = wt_half(WLOAD(int(base + 13u * (K >> 8u) + (sb >> 3u))), sb & 7u);
        return uvec4(w, h, floatBitsToUint(d * float(sc)), 0u);
    }
    return WLOAD(int(base + c));
}

// ---- a unit of 32 values (one Q8_0 / Q4_0 block, one K-quant sub-block) --------
// fetched once and unpacked 8 values at a time: the register-blocked prefill
// kernel walks a row 8 values per step, and reading the unit's texels and
// decoding its scale once per 4 steps (not every step) is what makes a block
// type cost little more than fp16 there.
struct wt_unit {
    uvec4 a;     // the unit's quants (Q8_0: values 0..15; Q6_K: low nibbles)
    uvec4 b;     // Q8_0: values 16..31; Q5_K: x = fifth bits; Q6_K: high-bit words, scales
    float s, m;  // value = s q - m (Q6_K: s = d, its 16-value scales in b)
};

wt_unit wt_unit_fetch(uint row, uint u, uint K, uint rt) {
    uint base = row * rt;
    wt_unit w;
    w.b = uvec4(0u);
    w.m = 0.0;
    if (WTYPE == PHI3_WT_Q8_0) {
        w.a = WLOAD(int(base + 2u * u));
        w.b = WLOAD(int(base + 2u * u + 1u));
        w.s = wt_half(WLOAD(int(base + (K >> 4u) + (u >> 3u))), u & 7u);
    } else if (WTYPE == PHI3_WT_Q4_0) {
        w.a = WLOAD(int(base + u));
        w.s = wt_half(WLOAD(int(base + (K >> 5u) + (u >> 3u))), u & 7u);
    } else if (WTYPE == PHI3_WT_Q4_K || WTYPE == PHI3_WT_Q5_K) {
        uint hb = base + (WTYPE == PHI3_WT_Q4_K ? 9u : 11u) * (u >> 3u), j = u & 7u;
        uvec4 hdr = WLOAD(int(hb));
        w.a = WLOAD(int(hb + 1u + j));
        if (WTYPE == PHI3_WT_Q5_K) w.b.x = WLOAD(int(hb + 9u + (j >> 2u)))[j & 3u];
        float sc, mn;
        wt_k_scale_min(hdr, j, sc, mn);
        vec2 dd = unpackHalf2x16(hdr.x);
        w.s = dd.x * sc;
        w.m = dd.y * mn;
    } else if (WTYPE == PHI3_WT_Q6_K) {
        uint sb = u >> 3u, j = u & 7u, hb = base + 13u * sb;
        w.a = WLOAD(int(hb + j));
        uvec4 ht = WLOAD(int(hb + 8u + (j >> 1u)));
        uint sw = WLOAD(int(hb + 12u))[j >> 1u];
        w.b = uvec4(ht[(j & 1u) << 1u], ht[((j & 1u) << 1u) | 1u], bitfieldExtract(sw, int(16u * (j & 1u)), 16), 0u);
        w.s = wt_half(WLOAD(int(base + 13u * (K >> 8u) + (sb >> 3u))), sb & 7u);
    }
    return w;
}

// Values 8 k .. 8 k + 7 (k = 0..3) of a fetched unit.
void wt_unit_unpack8(wt_unit w, uint k, out vec4 lo, out vec4 hi) {
    if (WTYPE == PHI3_WT_Q8_0) {
        uvec4 t = k < 2u ? w.a : w.b;
        int a = int(t[(2u * k) & 3u]), b = int(t[(2u * k + 1u) & 3u]);
        lo = w.s * vec4(bitfieldExtract(a, 0, 8), bitfieldExtract(a, 8, 8), bitfieldExtract(a, 16, 8), bitfieldExtract(a, 24, 8));
        hi = w.s * vec4(bitfieldExtract(b, 0, 8), bitfieldExtract(b, 8, 8), bitfieldExtract(b, 16, 8), bitfieldExtract(b, 24, 8));
    } else if (WTYPE == PHI3_WT_Q4_0) {
        int v = int(w.a[k]);
        lo = w.s * vec4(bitfieldExtract(v, 0, 4), bitfieldExtract(v, 4, 4), bitfieldExtract(v, 8, 4), bitfieldExtract(v, 12, 4));
        hi = w.s * vec4(bitfieldExtract(v, 16, 4), bitfieldExtract(v, 20, 4), bitfieldExtract(v, 24, 4), bitfieldExtract(v, 28, 4));
    } else if (WTYPE == PHI3_WT_Q4_K || WTYPE == PHI3_WT_Q5_K) {
        uint v = w.a[k];
        vec4 ql = vec4(v & 15u, (v >> 4u) & 15u, (v >> 8u) & 15u, (v >> 12u) & 15u);
        vec4 qh = vec4((v >> 16u) & 15u, (v >> 20u) & 15u, (v >> 24u) & 15u, v >> 28u);
        if (WTYPE == PHI3_WT_Q5_K) {
            uint h = w.b.x >> (8u * k);
            ql += 16.0 * vec4(h & 1u, (h >> 1u) & 1u, (h >> 2u) & 1u, (h >> 3u) & 1u);
            qh += 16.0 * vec4((h >> 4u) & 1u, (h >> 5u) & 1u, (h >> 6u) & 1u, (h >> 7u) & 1u);
        }
        lo = w.s * ql - w.m;
        hi = w.s * qh - w.m;
    } else { // Q6_K: values 8 k.. use scale byte k >> 1 and high-bit word k >> 1, half k & 1
        uint v = w.a[k], h = (k < 2u ? w.b.x : w.b.y) >> (16u * (k & 1u));
        float sc = w.s * float(bitfieldExtract(int(w.b.z), int(8u * (k >> 1u)), 8));
        lo = sc * (vec4(v & 15u, (v >> 4u) & 15u, (v >> 8u) & 15u, (v >> 12u) & 15u) +
                   16.0 * vec4(h & 3u, (h >> 2u) & 3u, (h >> 4u) & 3u, (h >> 6u) & 3u) - 32.0);
        hi = sc * (vec4((v >> 16u) & 15u, (v >> 20u) & 15u, (v >> 24u) & 15u, v >> 28u) +
                   16.0 * vec4((h >> 8u) & 3u, (h >> 10u) & 3u, (h >> 12u) & 3u, (h >> 14u) & 3u) - 32.0);
    }
}

void wt_unpack8(uvec4 p, out vec4 lo, out vec4 hi) {
    if (WTYPE == PHI3_WT_Q8_0) {
        float d = uintBitsToFloat(p.z);
        int a = int(p.x), b = int(p.y);
        lo = d * vec4(bitfieldExtract(a, 0, 8), bitfieldExtract(a, 8, 8), bitfieldExtract(a, 16, 8), bitfieldExtract(a, 24, 8));
        hi = d * vec4(bitfieldExtract(b, 0, 8), bitfieldExtract(b, 8, 8), bitfieldExtract(b, 16, 8), bitfieldExtract(b, 24, 8));
    } else if (WTYPE == PHI3_WT_Q4_0) {
        float d = uintBitsToFloat(p.y);
        int w = int(p.x);
        lo = d * vec4(bitfieldExtract(w, 0, 4), bitfieldExtract(w, 4, 4), bitfieldExtract(w, 8, 4), bitfieldExtract(w, 12, 4));
        hi = d * vec4(bitfieldExtract(w, 16, 4), bitfieldExtract(w, 20, 4), bitfieldExtract(w, 24, 4), bitfieldExtract(w, 28, 4));
    } else if (WTYPE == PHI3_WT_Q4_K || WTYPE == PHI3_WT_Q5_K) {
        float ds = uintBitsToFloat(p.y), dm = uintBitsToFloat(p.z);
        uint w = p.x, h = p.w;
        vec4 ql = vec4(w & 15u, (w >> 4u) & 15u, (w >> 8u) & 15u, (w >> 12u) & 15u);
        vec4 qh = vec4((w >> 16u) & 15u, (w >> 20u) & 15u, (w >> 24u) & 15u, w >> 28u);
        if (WTYPE == PHI3_WT_Q5_K) {
            ql += 16.0 * vec4(h & 1u, (h >> 1u) & 1u, (h >> 2u) & 1u, (h >> 3u) & 1u);
            qh += 16.0 * vec4((h >> 4u) & 1u, (h >> 5u) & 1u, (h >> 6u) & 1u, (h >> 7u) & 1u);
        }
        lo = ds * ql - dm;
        hi = ds * qh - dm;
    } else if (WTYPE == PHI3_WT_Q6_K) {
        float ds = uintBitsToFloat(p.z);
        uint w = p.x, h = p.y;
        vec4 ql = vec4(w & 15u, (w >> 4u) & 15u, (w >> 8u) & 15u, (w >> 12u) & 15u) +
                  16.0 * vec4(h & 3u, (h >> 2u) & 3u, (h >> 4u) & 3u, (h >> 6u) & 3u);
        vec4 qh = vec4((w >> 16u) & 15u, (w >> 20u) & 15u, (w >> 24u) & 15u, w >> 28u) +
                  16.0 * vec4((h >> 8u) & 3u, (h >> 10u) & 3u, (h >> 12u) & 3u, (h >> 14u) & 3u);
        lo = ds * (ql - 32.0);
        hi = ds * (qh - 32.0);
    } else {
        lo = vec4(unpackHalf2x16(p.x), unpackHalf2x16(p.y));
        hi = vec4(unpackHalf2x16(p.z), unpackHalf2x16(p.w));
    }
}
