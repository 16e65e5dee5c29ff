// Body of rmsnorm.comp and rmsnorm_sb.comp.
// RMSNorm over rows: x fp32 [rows, n] -> y fp16 [rows, ld_out], y = x * rsqrt(mean(x^2) + eps) * w.
// One workgroup per row: each invocation sums the squares of a strided part of
// the row, subgroupAdd reduces a subgroup, and the subgroups (as many as the
// device runs) meet in shared memory sized for one per invocation.
layout(local_size_x_id = 0) in;          // spec 0: workgroup size

#ifdef W_SSBO
layout(binding = 0, std430) readonly buffer Wb { uvec4 w_texels[]; };  // fp16 weights [n], 8 per texel
#define WLOAD(i) w_texels[i]
#else
layout(binding = 0, rgba32ui) uniform readonly uimageBuffer W;  // fp16 weights [n], 8 per texel
#define WLOAD(i) imageLoad(W, int(i))   // inlined on lavapipe (texelFetch: a call)
#endif
layout(binding = 1, std430) readonly buffer X { float x[]; };
layout(binding = 2, std430) writeonly buffer Y { float16_t y[]; };
layout(push_constant) uniform PC { pc_rmsnorm p; };

shared float partial[gl_WorkGroupSize.x]; // one per subgroup: at most one per invocation

float weight(uint i) {
    uvec4 t = WLOAD(i >> 3);
    uint w2 = t[(i >> 1) & 3u];
    return (i & 1u) == 0u ? unpackHalf2x16(w2).x : unpackHalf2x16(w2).y;
}

void main() {
    uint row = gl_WorkGroupID.x;
    uint base = row * p.n;
    float s = 0.0;
    for (uint i = gl_LocalInvocationID.x; i < p.n; i += gl_WorkGroupSize.x) {
        float v = x[base + i];
        s += v * v;
    }
    s = subgroupAdd(s);
    if (gl_NumSubgroups > 1u) {
        if (gl_SubgroupInvocationID == 0u) partial[gl_SubgroupID] = s;
        barrier();
        s = 0.0;
        for (uint k = 0u; k < gl_NumSubgroups; k++) s += partial[k];
    }
    float scale = inversesqrt(s / float(p.n) + p.eps);
    for (uint i = gl_LocalInvocationID.x; i < p.n; i += gl_WorkGroupSize.x)
        y[row * p.ld_out + i] = float16_t(x[base + i] * scale * weight(i));
}
