// Body of embed.comp and embed_sb.comp: embedding row gather, x fp32 [T, dim] =
// W[ids[t], :dim], W [vocab, dim] in any weight dtype (wtype.glsl: fp16 rows of
// ld_w halves, or a block type dequantized here). One invocation per 8 values.
// Token ids are validated by the host before upload (the shader cannot
// report errors); an id whose row lies past the end of W writes NaN instead
// of reading out of bounds, so a missed check shows up loudly downstream.
// W may be bound a range of rows at a time (a table larger than one storage
// binding): rows p.row0 .. of the table. The part at row0 0 writes every
// token (NaN where the id is past its rows); later parts, ordered after it,
// overwrite the tokens whose rows they hold.
layout(local_size_x_id = 0) in;

layout(binding = 1, std430) readonly buffer Ib { uint ids[]; };
layout(binding = 2, std430) writeonly buffer Xb { float x[]; };
layout(push_constant) uniform PC { pc_embed p; };

#include "wtype.glsl"

void main() {
    uint c = gl_GlobalInvocationID.x;              // 8 values within the row
    uint t = gl_GlobalInvocationID.y;
    if (8u * c >= p.dim || t >= p.n_tokens) return;
    uint texels = WTYPE == PHI3_WT_F16 ? p.ld_w / 8u : wt_row_texels(p.dim);
    uint id = ids[t];
    bool ok = id >= p.row0 && id - p.row0 < W_TEXELS / texels;
    if (!ok && p.row0 != 0u) return;
    vec4 lo = vec4(0.0), hi = vec4(0.0);
    if (ok) wt_unpack8(wt_fetch8(id - p.row0, c, p.dim, texels), lo, hi);
    uint n = min(8u, p.dim - 8u * c);
    for (uint e = 0u; e < n; e++)
        x[t * p.dim + 8u * c + e] = ok ? (e < 4u ? lo[e] : hi[e - 4u]) : uintBitsToFloat(0x7fc00000u);
}
