#version 450
// Rotary position embedding, NeoX / rotate_half style, and the KV cache write.
// qkv fp32 [T, (n_heads + 2 n_kv_heads) * head_dim] holds q heads, then k
// heads, then v heads, at rows row0.. of this sequence. Token t sits at position
// pos = n_past + t and cache row kv_base + pos (from the sequence's step_params). Within a head, element i pairs with i + head_dim/2:
//   out[i]        = x[i] cos(pos, i) - x[i + half] sin(pos, i)
//   out[i + half] = x[i + half] cos(pos, i) + x[i] sin(pos, i)
// q -> q fp32 [T, n_heads * head_dim]; k -> k_cache fp16 row pos; v is
// copied to v_cache row pos. cos/sin come from a host table [max_pos, half, 2]
// (kern_rope_table) with any LongRoPE divisors and magnitude scale folded in.
// One invocation per 4 elements of a head: two adjacent pairs (i, i+1) of
// q/k, or 4 adjacent v values; fp16 values are written two per uint.
// head_dim is a multiple of 4. Positions >= max_pos or >= ctx write nothing:
// the host keeps n_past + n_tokens within both.
#include "common.h"

layout(local_size_x_id = 0) in;

layout(binding = 0, std430) readonly buffer Xb { vec2 qkv[]; };
layout(binding = 1, std430) readonly buffer Cb { vec4 cs[]; };     // (cos i, sin i, cos i+1, sin i+1)
layout(binding = 2, std430) readonly buffer Pb { step_params sps[]; };
layout(binding = 3, std430) writeonly buffer Qb { vec2 qo[]; };
layout(binding = 4, std430) writeonly buffer Kb { uint kc[]; };
layout(binding = 5, std430) writeonly buffer Vb { uint vc[]; };
layout(push_constant) uniform PC { pc_rope p; };

void main() {
    uint quarter = p.head_dim / 4u;
    uint half_ = p.head_dim / 2u;
    uint heads = p.n_heads + 2u * p.n_kv_heads;
    uint x = gl_GlobalInvocationID.x;
    uint t = gl_GlobalInvocationID.y;
    if (x >= heads * quarter || t >= p.n_tokens) return;
    step_params sp = sps[p.seq];
    uint pos = sp.n_past + t;
    if (pos >= p.max_pos || sp.kv_base + pos >= p.ctx) return;
    uint u = x / quarter;                          // head slot in qkv
    uint i = 2u * (x % quarter);                   // even element index
    uint src = ((p.row0 + t) * heads + u) * p.head_dim;   // first element of the head
    uint kv_row = (sp.kv_base + pos) * p.n_kv_heads * p.head_dim;

    if (u >= p.n_heads + p.n_kv_heads) {           // v: plain copy of elements 2i .. 2i+3
        uint dst = (kv_row + (u - p.n_heads - p.n_kv_heads) * p.head_dim + 2u * i) / 2u;
        vc[dst] = packHalf2x16(qkv[(src + 2u * i) / 2u]);
        vc[dst + 1u] = packHalf2x16(qkv[(src + 2u * i) / 2u + 1u]);
        return;
    }
    vec2 a = qkv[(src + i) / 2u];                  // x[i], x[i+1]
    vec2 b = qkv[(src + i + half_) / 2u];          // x[i+half], x[i+half+1]
    vec4 r = cs[(pos * half_ + i) / 2u];
    vec2 c = r.xz, s = r.yw;
    vec2 ra = a * c - b * s;
    vec2 rb = b * c + a * s;
    if (u < p.n_heads) {
        uint dst = ((p.row0 + t) * p.n_heads + u) * p.head_dim;
        qo[(dst + i) / 2u] = ra;
        qo[(dst + i + half_) / 2u] = rb;
    } else {
        uint dst = kv_row + (u - p.n_heads) * p.head_dim;
        kc[(dst + i) / 2u] = packHalf2x16(ra);
        kc[(dst + i + half_) / 2u] = packHalf2x16(rb);
    }
}
