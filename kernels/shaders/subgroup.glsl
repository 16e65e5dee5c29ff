// Subgroup helpers shared by the kernels that use subgroup operations.
//
// Kernels never take their layout from gl_SubgroupSize or from the subgroup
// size the host planned for: a device without subgroup-size control may run
// another size than it reports as its default (Intel compiles 8, 16 or 32 lanes
// per shader), and lavapipe at LP_NATIVE_VECTOR_WIDTH 1024 / 2048 reports 32 /
// 64 but runs 16 lanes (README, "Driver quirks"; shaders/subgroup_probe.comp
// shows it). The lanes that actually run, counted with a subgroup reduction,
// are what every stride and row mapping below uses.

// Invocations of this subgroup that run. Call in uniform control flow.
uint sg_lanes() { return subgroupAdd(1u); }
