// Body of matvec_q.comp, matvec_q_ubo.comp, matvec_q_one.comp and matvec_q_sb.comp:
// y[t, n] (+)= sum_k W[n, k] x[t, k] for few tokens (decode) with W in a block type
// (wtype.glsl: Q8_0, Q4_0, Q4_K, Q5_K, Q6_K), dequantized in registers, fp32 sums.
//
// The layout of matvec_body.glsl (ROWS rows per subgroup, NT tokens per pass over
// the weights, a subgroupAdd per dot product, no shared memory) with one lane step
// of 32 values (a "unit": a Q8_0 / Q4_0 block or a K-quant sub-block) instead of 8:
// the lane unpacks x for the unit once and every row reads its quants (one or two
// texels) and scale. The block scale multiplies the unit's sum of q * x, and the
// min term (the K types' min, the signed types' offset) is min * sum(x), so a
// value costs a mask, a convert and a multiply-add (unit_quants says how): no
// per-value scaling or shifting.
#include "subgroup.glsl"

layout(local_size_x_id = 0) in;                   // spec 0: invocations per workgroup
layout(constant_id = 1) const uint ROWS = 4u;     // rows per subgroup per pass
layout(constant_id = 2) const uint NT = 1u;       // tokens per pass over the weights
layout(constant_id = 4) const uint WG_ROWS = 32u; // rows per workgroup, a multiple of ROWS
layout(constant_id = 5) const bool EXACT = false; // the device runs the subgroups as planned

#if defined(W_IMAGE)
layout(binding = 0, rgba32ui) uniform readonly uimageBuffer W;
#define WLOAD(i) imageLoad(W, i)
#elif defined(W_SSBO)
layout(binding = 0, std430) readonly buffer Wb { uvec4 w_texels[]; };
#define WLOAD(i) w_texels[i]
#else
layout(binding = 0) uniform utextureBuffer W;     // OpImageFetch, no sampler (matvec_body.glsl)
#define WLOAD(i) texelFetch(W, i)
#endif
#ifdef X_UBO
layout(constant_id = 3) const uint X_TEXELS = 1024u;
layout(binding = 1, std140) uniform XU { uvec4 x[X_TEXELS]; };
#else
layout(binding = 1, std430) readonly buffer X { uvec4 x[]; };
#endif
layout(binding = 2, std430) buffer Y { float y[]; };
layout(push_constant) uniform PC { pc_matmul p; };

#include "wtype.glsl"

// ---- a unit's quants, read in place --------------------------------------
// A field is masked where it lies in its word, not shifted down: the field at
// bit b of a word converts to q 2^b, and the x value it multiplies was scaled
// by 2^-b once per unit (xq, xh below; shared by the ROWS rows), so the product
// is q x exactly (powers of two; x stays far from fp32's subnormals). A value
// then costs a mask, a convert and a multiply-add. A word's top field is
// shifted down instead (an int with bit 31 set converts negative), its factor 1.
// Signed quants (Q8_0, Q4_0) are made unsigned by flipping their sign bits
// (q + 128, q + 8) and the offset joins the min term: value = s q' - s o.

vec4 in_bytes(uint w) { return vec4(ivec4(w & 0xFFu, w & 0xFF00u, w & 0xFF0000u, w >> 24u)); }
vec4 in_nib_lo(uint w) { return vec4(ivec4(w & 0xFu, w & 0xF0u, w & 0xF00u, w & 0xF000u)); }
vec4 in_nib_hi(uint w) { return vec4(ivec4(w & 0xF0000u, w & 0xF00000u, w & 0xF000000u, w >> 28u)); }
// bits b .. b + 3 of w in place (Q5_K's fifth bits), b a multiple of 4
vec4 in_bits4(uint w, uint b) {
    return vec4(ivec4(w & (1u << b), w & (2u << b), w & (4u << b), b == 28u ? w >> 31u : w & (8u << b)));
}
// the 2-bit fields p .. p + 3 of w in place (Q6_K's high bits), p a multiple of 4
vec4 in_pairs4(uint w, uint p) {
    uint b = 2u * p;
    return vec4(ivec4(w & (3u << b), w & (12u << b), w & (48u << b), p == 12u ? w >> 30u : w & (192u << b)));
}

// The x factor of xq[i] (values 4 i .. 4 i + 3 of the unit) for the main field.
vec4 xq_factor(uint i) {
    if (WTYPE == PHI3_WT_Q8_0) return vec4(1.0, 1.0 / 256.0, 1.0 / 65536.0, 1.0);
    if ((i & 1u) == 0u) return vec4(1.0, 1.0 / 16.0, 1.0 / 256.0, 1.0 / 4096.0);
    return vec4(1.0 / 65536.0, 1.0 / 1048576.0, 1.0 / 16777216.0, 1.0);
}
// The x factor of xh[i] for the high field (Q5_K: 16 x bit v; Q6_K: 16 x the
// 2-bit field at 2 (v mod 16)), the 16 folded in.
vec4 xh_factor(uint i) {
    if (WTYPE == PHI3_WT_Q5_K) {
        vec4 f = 16.0 * vec4(1.0, 0.5, 0.25, 0.125) / float(1u << (4u * i));
        return i == 7u ? vec4(f.xyz, 16.0) : f;
    }
    vec4 f = 16.0 * vec4(1.0, 0.25, 1.0 / 16.0, 1.0 / 64.0) / float(1u << (8u * (i & 3u)));
    return (i & 3u) == 3u ? vec4(f.xyz, 16.0) : f;
}
const bool HIGH = WTYPE == PHI3_WT_Q5_K || WTYPE == PHI3_WT_Q6_K; // a second field per value

// The unit's fields of one row in place: q (with xq) and for Q5_K / Q6_K qh
// (with xh); the unit's dot product with x is
//   s.x (sum over values 0..15 of q xq + qh xh) + s.y (values 16..31) - m.x xs0 - m.y xs1
// with xs0, xs1 the sums of x over each half (Q6_K has a scale per 16 values).
void unit_quants(uint row, uint u, uint K, uint rt, out vec4 q[8], out vec4 qh[8], out vec2 s, out vec2 m) {
    uint base = row * rt;
    for (uint i = 0u; i < 8u; i++) qh[i] = vec4(0.0);
    if (WTYPE == PHI3_WT_Q8_0) {
        uvec4 a = WLOAD(int(base + 2u * u)) ^ 0x80808080u, b = WLOAD(int(base + 2u * u + 1u)) ^ 0x80808080u;
        q[0] = in_bytes(a.x), q[1] = in_bytes(a.y), q[2] = in_bytes(a.z), q[3] = in_bytes(a.w);
        q[4] = in_bytes(b.x), q[5] = in_bytes(b.y), q[6] = in_bytes(b.z), q[7] = in_bytes(b.w);
        float d = wt_half(WLOAD(int(base + (K >> 4u) + (u >> 3u))), u & 7u);
        s = vec2(d), m = vec2(128.0 * d);
    } else if (WTYPE == PHI3_WT_Q4_0) {
        uvec4 a = WLOAD(int(base + u)) ^ 0x88888888u;
        for (uint i = 0u; i < 4u; i++) q[2u * i] = in_nib_lo(a[i]), q[2u * i + 1u] = in_nib_hi(a[i]);
        float d = wt_half(WLOAD(int(base + (K >> 5u) + (u >> 3u))), u & 7u);
        s = vec2(d), m = vec2(8.0 * d);
    } else if (WTYPE == PHI3_WT_Q4_K || WTYPE == PHI3_WT_Q5_K) {
        uint hb = base + (WTYPE == PHI3_WT_Q4_K ? 9u : 11u) * (u >> 3u), j = u & 7u;
        uvec4 hdr = WLOAD(int(hb)), a = WLOAD(int(hb + 1u + j));
        for (uint i = 0u; i < 4u; i++) q[2u * i] = in_nib_lo(a[i]), q[2u * i + 1u] = in_nib_hi(a[i]);
        if (WTYPE == PHI3_WT_Q5_K) {
            uint h = WLOAD(int(hb + 9u + (j >> 2u)))[j & 3u];
            for (uint i = 0u; i < 8u; i++) qh[i] = in_bits4(h, 4u * i);
        }
        float sc, mn;
        wt_k_scale_min(hdr, j, sc, mn);
        vec2 dd = unpackHalf2x16(hdr.x);
        s = vec2(dd.x * sc), m = vec2(dd.y * mn);
    } else { // Q6_K: value = d sc (lo + 16 hi - 32), a scale sc per 16 values
        uint sb = u >> 3u, j = u & 7u, hb = base + 13u * sb;
        uvec4 a = WLOAD(int(hb + j)), ht = WLOAD(int(hb + 8u + (j >> 1u)));
        uint h0 = ht[(j & 1u) << 1u], h1 = ht[((j & 1u) << 1u) | 1u];
        uint sw = WLOAD(int(hb + 12u))[j >> 1u];
        for (uint i = 0u; i < 4u; i++) {
            q[2u * i] = in_nib_lo(a[i]), q[2u * i + 1u] = in_nib_hi(a[i]);
            uint h = i < 2u ? h0 : h1, p = 8u * (i & 1u);
            qh[2u * i] = in_pairs4(h, p), qh[2u * i + 1u] = in_pairs4(h, p + 4u);
        }
        float d = wt_half(WLOAD(int(base + 13u * (K >> 8u) + (sb >> 3u))), sb & 7u);
        s = d * vec2(bitfieldExtract(int(sw), int(16u * (j & 1u)), 8), bitfieldExtract(int(sw), int(16u * (j & 1u) + 8u), 8));
        m = 32.0 * s;
    }
}

// Rows row0 .. row0 + ROWS - 1 for every token, by one subgroup of `lanes` lanes
// striding over the row's units.
void rows(uint row0, uint K, uint rt, uint lanes) {
    uint kt = K >> 3u, units = K >> 5u;
    for (uint t0 = 0u; t0 < p.n_tokens; t0 += NT) {
        float acc[ROWS * NT];
        for (uint i = 0u; i < ROWS * NT; i++) acc[i] = 0.0;
        for (uint u = gl_SubgroupInvocationID; u < units; u += lanes) {
            vec4 xq[8 * NT], xh[8 * NT];
            vec2 xs[NT];
            for (uint t = 0u; t < NT; t++) {
                uint tt = min(t0 + t, p.n_tokens - 1u);
                vec4 s0 = vec4(0.0), s1 = vec4(0.0);
                for (uint i = 0u; i < 4u; i++) {
                    uvec4 v = x[tt * kt + 4u * u + i];
                    vec4 lo = vec4(unpackHalf2x16(v.x), unpackHalf2x16(v.y));
                    vec4 hi = vec4(unpackHalf2x16(v.z), unpackHalf2x16(v.w));
                    if (i < 2u) s0 += lo + hi;
                    else s1 += lo + hi;
                    xq[8u * t + 2u * i] = lo * xq_factor(2u * i);
                    xq[8u * t + 2u * i + 1u] = hi * xq_factor(2u * i + 1u);
                    if (HIGH) {
                        xh[8u * t + 2u * i] = lo * xh_factor(2u * i);
                        xh[8u * t + 2u * i + 1u] = hi * xh_factor(2u * i + 1u);
                    }
                }
                xs[t] = vec2(dot(s0, vec4(1.0)), dot(s1, vec4(1.0)));
            }
            for (uint r = 0u; r < ROWS; r++) {
                vec4 q[8], qh[8];
                vec2 s, m;
                unit_quants(min(row0 + r, p.n_out - 1u), u, K, rt, q, qh, s, m);
                for (uint t = 0u; t < NT; t++) {
                    vec2 d = vec2(0.0);
                    for (uint i = 0u; i < 8u; i++) {
                        float di = dot(q[i], xq[8u * t + i]);
                        if (HIGH) di += dot(qh[i], xh[8u * t + i]);
                        if (i < 4u) d.x += di;
                        else d.y += di;
                    }
                    acc[r * NT + t] += dot(s, d) - dot(m, xs[t]);
                }
            }
        }
        for (uint r = 0u; r < ROWS; r++) {
            for (uint t = 0u; t < NT; t++) {
                float sum = subgroupAdd(acc[r * NT + t]);
                uint row = row0 + r, tt = t0 + t;
                if (gl_SubgroupInvocationID == 0u && row < p.n_out && tt < p.n_tokens) {
                    uint o = tt * p.ld_y + row;
                    y[o] = p.accumulate != 0u ? y[o] + sum : sum;
                }
            }
        }
    }
}

// Rows of the workgroup over its subgroups as in matvec_body.glsl.
void main() {
    uint K = p.ld, rt = wt_row_texels(K);
    uint lanes = sg_lanes();
    uint blk = gl_WorkGroupID.x * WG_ROWS, step = gl_NumSubgroups * ROWS;
    uint rb = gl_SubgroupID * ROWS;
    if (rb >= WG_ROWS || blk + rb >= p.n_out) return;
    rows(blk + rb, K, rt, lanes);
    if (!EXACT)
        for (rb += step; rb < WG_ROWS && blk + rb < p.n_out; rb += step) rows(blk + rb, K, rt, lanes);
}
