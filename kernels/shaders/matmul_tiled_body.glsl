// Body of matmul_tiled.comp and matmul_tiled_sb.comp.
// y[t, n] (+)= sum_k W[n, k] x[t, k] for many tokens (prefill) on GPUs: the contract of
// matmul.comp (W fp16 [N, ld] and x fp16 [T, ld] read as RGBA32UI texels of 8 halves,
// y fp32 [T, N], fp32 accumulation) computed from shared-memory tiles.
//
// A workgroup owns a BM x BN block of y (BM rows of W, BN tokens) and walks k in steps
// of BK halves. Each step, consecutive invocations load consecutive texels of a row of
// W and of x (coalesced), unpack them to fp32 into shared memory stored k-major
// (ws[k][m], xs[k][t]), and every invocation then multiplies a TM x TN micro-tile out of
// shared memory, so each loaded weight feeds BN tokens and each input BM rows. The next
// step's texels are fetched into registers before the multiply so the loads overlap it.
//
// Shared rows are padded by one float: the k-major stores of one subgroup then fall on
// distinct banks (BK = 32: 4 texels x 8 rows of a 32-lane subgroup hit banks
// 8 * texel + row), and the multiply reads BM / TM consecutive floats (rows of an
// invocation are strided by BM / TM) plus a few broadcast token values.
//
// Edges: rows >= N and tokens >= T load a clamped (valid) row and are never written;
// texels past ld load zeros, so ld needs to be a multiple of 8 only.
//
// A block-type W (wtype.glsl): each step fetches the packed quants and scale of
// 8 values (wt_fetch8) where an fp16 W fetches a texel, and stage() dequantizes
// them into the same fp32 tile.
layout(local_size_x_id = 0) in;               // spec 0: invocations, = (BM / TM) * (BN / TN)
layout(constant_id = 1) const uint BM = 64u;  // rows of W per workgroup
layout(constant_id = 2) const uint BN = 64u;  // tokens per workgroup
layout(constant_id = 3) const uint BK = 32u;  // halves of k per step, a multiple of 8
layout(constant_id = 4) const uint TM = 4u;   // rows per invocation
layout(constant_id = 5) const uint TN = 4u;   // tokens per invocation

#ifdef W_SSBO
layout(binding = 0, std430) readonly buffer Wb { uvec4 w_texels[]; };
layout(binding = 1, std430) readonly buffer Xb { uvec4 x_texels[]; };
#define WLOAD(i) w_texels[i]
#define XLOAD(i) x_texels[i]
#else
// Uniform texel buffers read without a sampler (OpImageFetch): tensors past
// maxStorageBufferRange. Not imageLoad: see README, "Driver quirks".
layout(binding = 0) uniform utextureBuffer W;
layout(binding = 1) uniform utextureBuffer X;
#define WLOAD(i) texelFetch(W, int(i))
#define XLOAD(i) texelFetch(X, int(i))
#endif
layout(binding = 2, std430) buffer Y { float y[]; };
layout(push_constant) uniform PC { pc_matmul p; };

#include "wtype.glsl"

const uint WG = gl_WorkGroupSize.x;
const uint KT = BK / 8u;                      // texels per row per step
const uint SW = BM + 1u, SX = BN + 1u;        // padded shared row lengths (floats)
const uint NW = BM * KT, NX = BN * KT;        // texels per tile
const uint LW = (NW + WG - 1u) / WG;          // texels each invocation loads per step
const uint LX = (NX + WG - 1u) / WG;
const uint RM = BM / TM, RN = BN / TN;        // stride between an invocation's rows / tokens

shared float ws[BK * SW];                     // ws[k * SW + m]: W[m0 + m, k0 + k]
shared float xs[BK * SX];                     // xs[k * SX + t]: x[t0 + t, k0 + k]

uvec4 wr[LW], xr[LX];                         // the next step's texels

// Texel c of row r of a tile whose step starts at texel k0; zero past the row end.
uvec4 fetch_w(uint r, uint c, uint k0, uint kts, uint rt) {
    uint kt = k0 + c;
    if (WTYPE != PHI3_WT_F16) return kt < kts ? wt_fetch8(r, kt, p.ld, rt) : uvec4(0u);
    return kt < kts ? WLOAD(r * kts + kt) : uvec4(0u);
}
uvec4 fetch_x(uint r, uint c, uint k0, uint kts) {
    uint kt = k0 + c;
    return kt < kts ? XLOAD(r * kts + kt) : uvec4(0u);
}

void fetch(uint lid, uint m0, uint t0, uint k0, uint kts, uint rt) {
    for (uint l = 0u; l < LW; l++) {
        uint i = lid + l * WG;
        if (i < NW) wr[l] = fetch_w(min(m0 + i / KT, p.n_out - 1u), i % KT, k0, kts, rt);
    }
    for (uint l = 0u; l < LX; l++) {
        uint i = lid + l * WG;
        if (i < NX) xr[l] = fetch_x(min(t0 + i / KT, p.n_tokens - 1u), i % KT, k0, kts);
    }
}

void stage(uint lid) {
    for (uint l = 0u; l < LW; l++) {
        uint i = lid + l * WG;
        if (i >= NW) break;
        uint o = (i % KT) * 8u * SW + i / KT;
        if (WTYPE != PHI3_WT_F16) {
            vec4 lo, hi;
            wt_unpack8(wr[l], lo, hi);
            for (uint q = 0u; q < 4u; q++) ws[o + q * SW] = lo[q], ws[o + (q + 4u) * SW] = hi[q];
            continue;
        }
        for (uint q = 0u; q < 4u; q++) {
            vec2 h = unpackHalf2x16(wr[l][q]);
            ws[o + 2u * q * SW] = h.x;
            ws[o + (2u * q + 1u) * SW] = h.y;
        }
    }
    for (uint l = 0u; l < LX; l++) {
        uint i = lid + l * WG;
        if (i >= NX) break;
        uint o = (i % KT) * 8u * SX + i / KT;
        for (uint q = 0u; q < 4u; q++) {
            vec2 h = unpackHalf2x16(xr[l][q]);
            xs[o + 2u * q * SX] = h.x;
            xs[o + (2u * q + 1u) * SX] = h.y;
        }
    }
}

void main() {
    uint lid = gl_LocalInvocationID.x;
    uint kts = p.ld >> 3, rt = wt_row_texels(p.ld);
    uint m0 = gl_WorkGroupID.x * BM, t0 = gl_WorkGroupID.y * BN;
    uint tr = lid % RM, tc = lid / RM;

    float acc[TM * TN];
    for (uint i = 0u; i < TM * TN; i++) acc[i] = 0.0;

    fetch(lid, m0, t0, 0u, kts, rt);
    for (uint k0 = 0u; k0 < kts; k0 += KT) {   // same trip count in every invocation
        barrier();                              // the previous step's multiply is done
        stage(lid);
        barrier();
        if (k0 + KT < kts) fetch(lid, m0, t0, k0 + KT, kts, rt);
        for (uint k = 0u; k < BK; k++) {
            float a[TM], b[TN];
            for (uint i = 0u; i < TM; i++) a[i] = ws[k * SW + tr + i * RM];
            for (uint j = 0u; j < TN; j++) b[j] = xs[k * SX + tc + j * RN];
            for (uint i = 0u; i < TM; i++)
                for (uint j = 0u; j < TN; j++) acc[i * TN + j] = fma(a[i], b[j], acc[i * TN + j]);
        }
    }

    for (uint j = 0u; j < TN; j++) {
        uint t = t0 + tc + j * RN;
        if (t >= p.n_tokens) break;
        for (uint i = 0u; i < TM; i++) {
            uint m = m0 + tr + i * RM;
            if (m >= p.n_out) break;
            uint o = t * p.ld_y + m;
            y[o] = p.accumulate != 0u ? y[o] + acc[i * TN + j] : acc[i * TN + j];
        }
    }
}
