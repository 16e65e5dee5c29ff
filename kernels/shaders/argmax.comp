#version 450
// Greedy sampling: out[t] = argmax_v logits[t, v], the lowest index on ties.
// One workgroup per token: each lane scans v = lane, lane + WG, ... keeping
// its first maximum; a subgroup max/min picks the value, then the lowest
// index holding it; subgroups (if more than one) meet in shared memory.
// NaN logits are never chosen; a row of only NaN gives 0xFFFFFFFF.
#extension GL_KHR_shader_subgroup_arithmetic : require
#include "common.h"

layout(local_size_x_id = 0) in;

layout(binding = 0, std430) readonly buffer Lb { float logits[]; };
layout(binding = 1, std430) writeonly buffer Ob { uint outv[]; };
layout(push_constant) uniform PC { pc_argmax p; };

const uint NONE = 0xFFFFFFFFu;
shared float s_val[gl_WorkGroupSize.x];   // one per subgroup: at most one per invocation
shared uint s_idx[gl_WorkGroupSize.x];

// The lowest index whose value is the subgroup's maximum.
void reduce(inout float best, inout uint idx) {
    float m = subgroupMax(best);
    idx = subgroupMin(best == m ? idx : NONE);
    best = m;
}

void main() {
    uint t = gl_WorkGroupID.x;
    uint base = t * p.n_vocab;
    float best = -1.0 / 0.0;
    uint idx = NONE;
    for (uint v = gl_LocalInvocationID.x; v < p.n_vocab; v += gl_WorkGroupSize.x) {
        float x = logits[base + v];
        if (x > best || (idx == NONE && !isnan(x))) {
            best = x;
            idx = v;
        }
    }
    reduce(best, idx);
    if (gl_NumSubgroups > 1u) {
        if (gl_SubgroupInvocationID == 0u) {
            s_val[gl_SubgroupID] = best;
            s_idx[gl_SubgroupID] = idx;
        }
        barrier();
        best = -1.0 / 0.0;
        idx = NONE;
        uint lanes = subgroupAdd(1u);   // not gl_SubgroupSize: see subgroup.glsl
        for (uint s = gl_SubgroupInvocationID; s < gl_NumSubgroups; s += lanes) {
            if (s_idx[s] != NONE && (s_val[s] > best || idx == NONE || (s_val[s] == best && s_idx[s] < idx))) {
                best = s_val[s];
                idx = s_idx[s];
            }
        }
        reduce(best, idx);
    }
    if (gl_LocalInvocationID.x == 0u) outv[t] = idx;
}
