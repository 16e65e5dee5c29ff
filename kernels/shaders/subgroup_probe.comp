#version 450
// What the device's subgroups really are, for `phi3vk devices --check` and the
// runtime tests: out[0] = gl_SubgroupSize, out[1] = lanes that run in
// subgroup 0 (subgroupAdd(1)), out[2] = gl_NumSubgroups, out[3] = the largest
// gl_SubgroupInvocationID + 1 seen. A conformant driver gives out[0] = out[1]
// = out[3] when the workgroup holds whole subgroups; lavapipe at
// LP_NATIVE_VECTOR_WIDTH=1024 gives 32, 16, 8, 16 for 128 invocations.
#extension GL_KHR_shader_subgroup_arithmetic : require
#extension GL_KHR_shader_subgroup_basic : require

layout(local_size_x_id = 0) in;
layout(binding = 0, std430) buffer Ob { uint outv[4]; };

void main() {
    uint lanes = subgroupAdd(1u);
    uint top = subgroupMax(gl_SubgroupInvocationID) + 1u;
    if (gl_LocalInvocationIndex == 0u) {
        outv[0] = gl_SubgroupSize;
        outv[1] = lanes;
        outv[2] = gl_NumSubgroups;
    }
    barrier();
    if (gl_SubgroupInvocationID == 0u) atomicMax(outv[3], top);
}
