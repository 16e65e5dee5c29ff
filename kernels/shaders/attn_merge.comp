#version 450
// Combines the n_split partial results of attention.comp, each (o = normalised
// output in fp16, m = max score, l = sum of exp(score - m)):
//   M = max_s m_s, w_s = l_s exp(m_s - M), out = sum_s w_s o_s / sum_s w_s.
// One invocation per (query t, head h, chunk of 8 output halves); an empty
// split has l = 0 and so weighs nothing.
#include "common.h"

layout(local_size_x_id = 0) in;

layout(binding = 0, std430) readonly buffer Sb { uvec4 part[]; };  // [T, n_heads, n_split, head_dim / 8 + 1]
layout(binding = 1, std430) writeonly buffer Ob { uvec4 dst[]; };  // fp16 [T, ld_out]
layout(push_constant) uniform PC { pc_attention p; };

void main() {
    uint C = p.head_dim / 8u;
    uint id = gl_GlobalInvocationID.x;
    if (id >= p.n_tokens * p.n_heads * C) return;
    uint th = id / C;                              // t * n_heads + h
    uint cc = id % C;
    uint base = th * p.n_split * (C + 1u);
    float mm = -3.0e38;
    for (uint s = 0u; s < p.n_split; s++) mm = max(mm, uintBitsToFloat(part[base + s * (C + 1u) + C].x));
    float l = 0.0;
    vec4 a = vec4(0.0), b = vec4(0.0);
    for (uint s = 0u; s < p.n_split; s++) {
        uint r = base + s * (C + 1u);
        uvec2 ml = part[r + C].xy;
        float w = uintBitsToFloat(ml.y) * exp(uintBitsToFloat(ml.x) - mm);
        uvec4 o = part[r + cc];
        l += w;
        a += w * vec4(unpackHalf2x16(o.x), unpackHalf2x16(o.y));
        b += w * vec4(unpackHalf2x16(o.z), unpackHalf2x16(o.w));
    }
    float inv = l > 0.0 ? 1.0 / l : 0.0;
    a *= inv;
    b *= inv;
    uint t = th / p.n_heads, h = th % p.n_heads;
    dst[((p.row0 + t) * p.ld_out + h * p.head_dim) / 8u + cc] =
        uvec4(packHalf2x16(a.xy), packHalf2x16(a.zw), packHalf2x16(b.xy), packHalf2x16(b.zw));
}
