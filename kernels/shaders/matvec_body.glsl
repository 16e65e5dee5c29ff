// Body of matvec.comp, matvec_ubo.comp, matvec_one.comp and matvec_sb.comp (see there).
#include "subgroup.glsl"

layout(local_size_x_id = 0) in;                   // spec 0: invocations per workgroup
layout(constant_id = 1) const uint ROWS = 4u;     // rows per subgroup per pass
layout(constant_id = 2) const uint NT = 1u;       // tokens per pass over the weights
layout(constant_id = 4) const uint WG_ROWS = 32u; // rows per workgroup, a multiple of ROWS
layout(constant_id = 5) const bool EXACT = false; // the device runs the subgroups as planned (see main)

#if defined(W_IMAGE)
layout(binding = 0, rgba32ui) uniform readonly uimageBuffer W;
#define WLOAD(i) imageLoad(W, i)
#elif defined(W_SSBO)
layout(binding = 0, std430) readonly buffer Wb { uvec4 w_texels[]; };
#define WLOAD(i) w_texels[i]
#else
// A uniform texel buffer read without a sampler: OpImageFetch on the image
// itself (an OpTypeSampledImage of Dim Buffer is invalid SPIR-V from 1.6 on,
// and Mesa 25 warns about it whatever the module's version).
layout(binding = 0) uniform utextureBuffer W;
#define WLOAD(i) texelFetch(W, i)
#endif
#ifdef X_UBO
layout(constant_id = 3) const uint X_TEXELS = 1024u;  // uniform array length (texels of x)
layout(binding = 1, std140) uniform XU { uvec4 x[X_TEXELS]; };
#else
layout(binding = 1, std430) readonly buffer X { uvec4 x[]; };
#endif
layout(binding = 2, std430) buffer Y { float y[]; };
layout(push_constant) uniform PC { pc_matmul p; };

void unpack8(uvec4 v, out vec4 lo, out vec4 hi) {
    lo = vec4(unpackHalf2x16(v.x), unpackHalf2x16(v.y));
    hi = vec4(unpackHalf2x16(v.z), unpackHalf2x16(v.w));
}

// Rows row0 .. row0 + ROWS - 1 for every token, by one subgroup of `lanes`
// lanes striding over the row's texels.
void rows(uint row0, uint kt, uint lanes) {
    for (uint t0 = 0u; t0 < p.n_tokens; t0 += NT) {
        float acc[ROWS * NT];
        for (uint i = 0u; i < ROWS * NT; i++) acc[i] = 0.0;
        for (uint j = gl_SubgroupInvocationID; j < kt; j += lanes) {
            vec4 xl[NT], xh[NT];
            for (uint t = 0u; t < NT; t++) {
                uint tt = min(t0 + t, p.n_tokens - 1u);
                unpack8(x[tt * kt + j], xl[t], xh[t]);
            }
            for (uint r = 0u; r < ROWS; r++) {
                uint row = min(row0 + r, p.n_out - 1u);
                vec4 wl, wh;
                unpack8(WLOAD(int(row * kt + j)), wl, wh);
                for (uint t = 0u; t < NT; t++) acc[r * NT + t] += dot(wl, xl[t]) + dot(wh, xh[t]);
            }
        }
        for (uint r = 0u; r < ROWS; r++) {
            for (uint t = 0u; t < NT; t++) {
                float s = subgroupAdd(acc[r * NT + t]);
                uint row = row0 + r, tt = t0 + t;
                if (gl_SubgroupInvocationID == 0u && row < p.n_out && tt < p.n_tokens) {
                    uint o = tt * p.ld_y + row;
                    y[o] = p.accumulate != 0u ? y[o] + s : s;
                }
            }
        }
    }
}

// The workgroup owns rows [WG_ROWS * id, + WG_ROWS), planned as ROWS per
// subgroup. A device may run wider subgroups than planned (no size control,
// or lavapipe's emulated widths): they are fewer, and each takes several
// shares of ROWS rows (the loop). EXACT (the host knows the size is pinned
// and the driver truthful) compiles the loop out: its mere presence costs
// matvec speed on lavapipe (bench/RESULTS.md, session 4).
void main() {
    uint kt = p.ld >> 3;
    uint lanes = sg_lanes();
    uint blk = gl_WorkGroupID.x * WG_ROWS, step = gl_NumSubgroups * ROWS;
    uint rb = gl_SubgroupID * ROWS;
    if (rb >= WG_ROWS || blk + rb >= p.n_out) return;
    rows(blk + rb, kt, lanes);
    if (!EXACT)
        for (rb += step; rb < WG_ROWS && blk + rb < p.n_out; rb += step) rows(blk + rb, kt, lanes);
}
