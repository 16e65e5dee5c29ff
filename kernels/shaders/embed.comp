#version 450
// Embedding row gather: x fp32 [T, dim] = W[ids[t], :dim], W fp16
// [vocab, ld_w] read as texels of 8 halves. One invocation per texel.
// Token ids are validated by the host before upload (the shader cannot
// report errors); an id whose row lies past the end of W writes NaN instead
// of reading out of bounds, so a missed check shows up loudly downstream.
#extension GL_EXT_samplerless_texture_functions : require
#include "common.h"

layout(local_size_x_id = 0) in;

layout(binding = 0) uniform utextureBuffer W;   // no sampler: OpImageFetch on the image
layout(binding = 1, std430) readonly buffer Ib { uint ids[]; };
layout(binding = 2, std430) writeonly buffer Xb { float x[]; };
layout(push_constant) uniform PC { pc_embed p; };

void main() {
    uint c = gl_GlobalInvocationID.x;              // texel within the row
    uint t = gl_GlobalInvocationID.y;
    if (8u * c >= p.dim || t >= p.n_tokens) return;
    uint texels = p.ld_w / 8u;
    uint id = ids[t];
    bool ok = id < uint(textureSize(W)) / texels;
    uvec4 w = ok ? texelFetch(W, int(id * texels + c)) : uvec4(0u);
    uint n = min(8u, p.dim - 8u * c);
    for (uint e = 0u; e < n; e++)
        x[t * p.dim + 8u * c + e] = ok ? unpackHalf2x16(w[e >> 1])[e & 1u] : uintBitsToFloat(0x7fc00000u);
}
