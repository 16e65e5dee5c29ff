// Body of matmul.comp and matmul_sb.comp.
// y[t, n] (+)= sum_k W[n, k] x[t, k] for many tokens (prefill): W fp16 [N, ld] and
// x fp16 [T, ld] read as RGBA32UI texels (8 halves each), y fp32 [T, N]. A
// block-type W (wtype.glsl) is read a unit of 32 values (a Q8_0 / Q4_0 block, a
// K-quant sub-block) per row at a time and dequantized 8 values at a time in
// registers: a K-quant's packed 6-bit scale and min are decoded once per 32
// values, not per 8 (Q4_K pp512 1.9x on lavapipe; bench/RESULTS.md).
// Register blocking: each invocation computes a TM x TN tile (TM rows, TN tokens), so
// every unpacked weight texel feeds TN tokens and every input texel TM rows.
layout(local_size_x_id = 0) in;                 // spec 0: invocations per workgroup
layout(constant_id = 1) const uint TM = 4u;     // rows per invocation
layout(constant_id = 2) const uint TN = 4u;     // tokens per invocation

// W and x come through read-only storage texel buffers: lavapipe inlines imageLoad
// (texelFetch on a uniform texel buffer is a call that spills every live register,
// a storage-buffer load a per-lane loop); GPUs read both through their texture path.
#ifdef W_SSBO
layout(binding = 0, std430) readonly buffer Wb { uvec4 w_texels[]; };
layout(binding = 1, std430) readonly buffer Xb { uvec4 x_texels[]; };
#define WLOAD(i) w_texels[i]
#define XLOAD(i) x_texels[i]
#else
layout(binding = 0, rgba32ui) uniform readonly uimageBuffer W;
layout(binding = 1, rgba32ui) uniform readonly uimageBuffer X;
#define WLOAD(i) imageLoad(W, int(i))
#define XLOAD(i) imageLoad(X, int(i))
#endif
layout(binding = 2, std430) buffer Y { float y[]; };
layout(push_constant) uniform PC { pc_matmul p; };

#include "wtype.glsl"

void main() {
    uint kt = p.ld >> 3, rt = wt_row_texels(p.ld);
    uint row0 = (gl_WorkGroupID.x * gl_WorkGroupSize.x + gl_LocalInvocationID.x) * TM;
    uint tok0 = gl_WorkGroupID.y * TN;
    if (row0 >= p.n_out) return;
    uint wrow[TM], xrow[TN];
    for (uint r = 0u; r < TM; r++) wrow[r] = min(row0 + r, p.n_out - 1u) * kt;
    for (uint t = 0u; t < TN; t++) xrow[t] = min(tok0 + t, p.n_tokens - 1u) * kt;
    float acc[TM * TN];
    for (uint i = 0u; i < TM * TN; i++) acc[i] = 0.0;
    // A block type steps a whole unit (4 texel steps) at a time, so that the
    // step within the unit is a constant and unpacking indexes no vector by a
    // variable (Q8_0 / Q4_0; the K types measured slower unrolled on lavapipe).
    const uint STEPS = WTYPE == PHI3_WT_Q8_0 || WTYPE == PHI3_WT_Q4_0 ? 4u : 1u;
    wt_unit un[TM];  // block types: each row's current unit of 32 values
    for (uint j0 = 0u; j0 < kt; j0 += STEPS) {
        if (WTYPE != PHI3_WT_F16 && (j0 & 3u) == 0u)
            for (uint r = 0u; r < TM; r++) un[r] = wt_unit_fetch(min(row0 + r, p.n_out - 1u), j0 >> 2u, p.ld, rt);
        for (uint k = 0u; k < STEPS; k++) {
            uint j = j0 + k;
            vec4 xl[TN], xh[TN];
            for (uint t = 0u; t < TN; t++) {
                uvec4 v = XLOAD(xrow[t] + j);
                xl[t] = vec4(unpackHalf2x16(v.x), unpackHalf2x16(v.y));
                xh[t] = vec4(unpackHalf2x16(v.z), unpackHalf2x16(v.w));
            }
            for (uint r = 0u; r < TM; r++) {
                vec4 wl, wh;
                if (WTYPE == PHI3_WT_F16) {
                    uvec4 w = WLOAD(wrow[r] + j);
                    wl = vec4(unpackHalf2x16(w.x), unpackHalf2x16(w.y));
                    wh = vec4(unpackHalf2x16(w.z), unpackHalf2x16(w.w));
                } else {
                    wt_unit_unpack8(un[r], STEPS == 4u ? k : j & 3u, wl, wh);
                }
                for (uint t = 0u; t < TN; t++) acc[r * TN + t] += dot(wl, xl[t]) + dot(wh, xh[t]);
            }
        }
    }
    for (uint t = 0u; t < TN; t++) {
        uint tt = tok0 + t;
        if (tt >= p.n_tokens) break;
        for (uint r = 0u; r < TM; r++) {
            uint row = row0 + r;
            if (row >= p.n_out) break;
            uint o = tt * p.ld_y + row;
            y[o] = p.accumulate != 0u ? y[o] + acc[r * TN + t] : acc[r * TN + t];
        }
    }
}
