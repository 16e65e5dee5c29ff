// Body of matvec_q.comp, matvec_q_ubo.comp, matvec_q_one.comp and matvec_q_sb.comp:
// y[t, n] (+)= sum_k W[n, k] x[t, k] for few tokens (decode) with W in a block type
// (wtype.glsl: Q8_0, Q4_0, Q4_K, Q5_K, Q6_K), dequantized in registers, fp32 sums.
//
// The layout of matvec_body.glsl (ROWS rows per subgroup, NT tokens per pass over
// the weights, a subgroupAdd per dot product, no shared memory) with one lane step
// of 32 values (a "unit": a Q8_0 / Q4_0 block or a K-quant sub-block) instead of 8:
// the lane unpacks x for the unit once and every row reads its quants (one or two
// texels) and scale. The block scale multiplies the unit's sum of q * x, and the
// K types' min term is min * sum(x), so a value costs an extract, a convert and a
// multiply-add: no per-value scaling.
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

vec4 sbytes(uint w) {
    int v = int(w);
    return vec4(bitfieldExtract(v, 0, 8), bitfieldExtract(v, 8, 8), bitfieldExtract(v, 16, 8), bitfieldExtract(v, 24, 8));
}
vec4 snib_lo(uint w) {
    int v = int(w);
    return vec4(bitfieldExtract(v, 0, 4), bitfieldExtract(v, 4, 4), bitfieldExtract(v, 8, 4), bitfieldExtract(v, 12, 4));
}
vec4 snib_hi(uint w) {
    int v = int(w);
    return vec4(bitfieldExtract(v, 16, 4), bitfieldExtract(v, 20, 4), bitfieldExtract(v, 24, 4), bitfieldExtract(v, 28, 4));
}
vec4 unib_lo(uint w) { return vec4(w & 15u, (w >> 4u) & 15u, (w >> 8u) & 15u, (w >> 12u) & 15u); }
vec4 unib_hi(uint w) { return vec4((w >> 16u) & 15u, (w >> 20u) & 15u, (w >> 24u) & 15u, w >> 28u); }
// bits 4 i .. 4 i + 3 of a byte-wide field h, one per value (Q5_K's fifth bits)
vec4 bits4(uint h) { return vec4(h & 1u, (h >> 1u) & 1u, (h >> 2u) & 1u, (h >> 3u) & 1u); }
// 2-bit fields (Q6_K's high bits) of 4 values
vec4 pairs4(uint h) { return vec4(h & 3u, (h >> 2u) & 3u, (h >> 4u) & 3u, (h >> 6u) & 3u); }

// The unit's quants of one row as 8 vec4 (values 4 i .. 4 i + 3 in q[i]), the
// factor s that scales their dot product and the min m (value = s q - m):
// Q6_K folds its two 16-value scales into q (s = d).
void unit_quants(uint row, uint u, uint K, uint rt, out vec4 q[8], out float s, out float m) {
    uint base = row * rt;
    m = 0.0;
    if (WTYPE == PHI3_WT_Q8_0) {
        uvec4 a = WLOAD(int(base + 2u * u)), b = WLOAD(int(base + 2u * u + 1u));
        q[0] = sbytes(a.x), q[1] = sbytes(a.y), q[2] = sbytes(a.z), q[3] = sbytes(a.w);
        q[4] = sbytes(b.x), q[5] = sbytes(b.y), q[6] = sbytes(b.z), q[7] = sbytes(b.w);
        s = wt_half(WLOAD(int(base + (K >> 4u) + (u >> 3u))), u & 7u);
    } else if (WTYPE == PHI3_WT_Q4_0) {
        uvec4 a = WLOAD(int(base + u));
        for (uint i = 0u; i < 4u; i++) q[2u * i] = snib_lo(a[i]), q[2u * i + 1u] = snib_hi(a[i]);
        s = wt_half(WLOAD(int(base + (K >> 5u) + (u >> 3u))), u & 7u);
    } else if (WTYPE == PHI3_WT_Q4_K || WTYPE == PHI3_WT_Q5_K) {
        uint hb = base + (WTYPE == PHI3_WT_Q4_K ? 9u : 11u) * (u >> 3u), j = u & 7u;
        uvec4 hdr = WLOAD(int(hb)), a = WLOAD(int(hb + 1u + j));
        for (uint i = 0u; i < 4u; i++) q[2u * i] = unib_lo(a[i]), q[2u * i + 1u] = unib_hi(a[i]);
        if (WTYPE == PHI3_WT_Q5_K) {
            uint h = WLOAD(int(hb + 9u + (j >> 2u)))[j & 3u];
            for (uint i = 0u; i < 8u; i++) q[i] += 16.0 * bits4(h >> (4u * i));
        }
        float sc, mn;
        wt_k_scale_min(hdr, j, sc, mn);
        vec2 dd = unpackHalf2x16(hdr.x);
        s = dd.x * sc;
        m = dd.y * mn;
    } else { // Q6_K
        uint sb = u >> 3u, j = u & 7u, hb = base + 13u * sb;
        uvec4 a = WLOAD(int(hb + j)), ht = WLOAD(int(hb + 8u + (j >> 1u)));
        uint h0 = ht[(j & 1u) << 1u], h1 = ht[((j & 1u) << 1u) | 1u];
        uint sw = WLOAD(int(hb + 12u))[j >> 1u];
        float s0 = float(bitfieldExtract(int(sw), int(16u * (j & 1u)), 8));
        float s1 = float(bitfieldExtract(int(sw), int(16u * (j & 1u) + 8u), 8));
        for (uint i = 0u; i < 4u; i++) {
            uint h = i < 2u ? h0 : h1, sh = 16u * (i & 1u);
            float sc = i < 2u ? s0 : s1;
            q[2u * i] = sc * (unib_lo(a[i]) + 16.0 * pairs4(h >> sh) - 32.0);
            q[2u * i + 1u] = sc * (unib_hi(a[i]) + 16.0 * pairs4(h >> (sh + 8u)) - 32.0);
        }
        s = wt_half(WLOAD(int(base + 13u * (K >> 8u) + (sb >> 3u))), sb & 7u);
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
            vec4 xv[8 * NT];
            float xs[NT];
            for (uint t = 0u; t < NT; t++) {
                uint tt = min(t0 + t, p.n_tokens - 1u);
                vec4 sum = vec4(0.0);
                for (uint i = 0u; i < 4u; i++) {
                    uvec4 v = x[tt * kt + 4u * u + i];
                    xv[8u * t + 2u * i] = vec4(unpackHalf2x16(v.x), unpackHalf2x16(v.y));
                    xv[8u * t + 2u * i + 1u] = vec4(unpackHalf2x16(v.z), unpackHalf2x16(v.w));
                    sum += xv[8u * t + 2u * i] + xv[8u * t + 2u * i + 1u];
                }
                xs[t] = dot(sum, vec4(1.0));
            }
            for (uint r = 0u; r < ROWS; r++) {
                vec4 q[8];
                float s, m;
                unit_quants(min(row0 + r, p.n_out - 1u), u, K, rt, q, s, m);
                for (uint t = 0u; t < NT; t++) {
                    float d = 0.0;
                    for (uint i = 0u; i < 8u; i++) d += dot(q[i], xv[8u * t + i]);
                    acc[r * NT + t] += s * d - m * xs[t];
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
