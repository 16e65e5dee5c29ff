// Body of attention.comp and attention_sb.comp.
// Causal attention over the fp16 KV cache, fp32 softmax (online, flash style).
//
// Rows: for one kv head, the (query t, head g of its group) pairs in the order
// r = t * G + g (G = n_heads / n_kv_heads), so the heads that share a kv head
// also share every K/V load. A workgroup takes QB consecutive rows of one kv
// head and one key range (split):
//   gl_WorkGroupID = (row block, kv head, split).
// Inside a subgroup, lanes are [row][key slot ks][lane-in-key L]: the L lanes
// of a key slot hold 8-half chunks c = li, li + L, ... of q and of the output
// accumulator, compute a partial q.k and add it up with shuffles; the KS slots
// walk keys base + ks, base + KSe + ks, ... each with its own online softmax
// (max m, sum l, acc), and are merged by shuffles at the end. No barrier and
// no shared memory anywhere: K/V rows are read once per key slot, and rows
// of the same workgroup re-read them from cache. The cache comes through
// read-only storage texel buffers (lavapipe inlines imageLoad; attention.comp)
// or storage buffers (GPUs; attention_sb.comp).
// The host plans KS key slots for the subgroup size it expects; the kernel
// uses KSe = min(KS, lanes / L) slots with the lanes the subgroup really has
// (subgroup.glsl), so rows are laid out right at any subgroup size >= L.
//   GPUs: L = 4, KS = 8 -> a warp load reads 8 rows x 64 contiguous bytes.
//   lavapipe: L = 1 (no shuffles in the key loop), KS = 8 (decode) or KS = 1
//   and KB = 8 (prefill: the 8 lanes are 8 query rows, each loading the same
//   keys; that measured faster there than one load per lane shared by
//   shuffles).
// Query t (row row0 + t of q and out) sits at position pos = n_past + t of its
// sequence (step_params[seq]) and sees keys lo..pos with lo = pos - window + 1
// (window > 0) or 0, stored at cache rows kv_base + key.
// n_split > 1: the visible keys of the workgroup's rows are cut into n_split
// ranges sized from the current key count (a re-submitted decode step at a
// later position re-balances by itself); each writes a partial
// (o / l in fp16, m, l) per row to scratch and attn_merge combines them.
// Otherwise the normalised output goes to out as fp16.
#include "subgroup.glsl"

layout(local_size_x_id = 0) in;            // spec 0: QB * KS * L
layout(constant_id = 1) const uint HD = 96; // head_dim, a multiple of 8
layout(constant_id = 2) const uint L = 1;   // lanes per key, a power of two
layout(constant_id = 3) const uint KS = 8;  // key slots per row planned; L * KS a power of two
layout(constant_id = 4) const uint KB = 1;  // keys per slot per step (a block: one softmax rescale each)
layout(constant_id = 5) const uint QB = 1;  // rows (query, head) per workgroup

const uint C = HD / 8u;                     // 8-half chunks per head row
const uint CPL = (C + L - 1u) / L;          // chunks per lane
const float NEG = -3.0e38;                  // "no key yet": finite, so NEG - NEG = 0, never NaN
const uint MIN_CHUNK = 64u;                 // keys per split at least (few keys: fewer active splits)

layout(binding = 0, std430) readonly buffer Qb { vec4 q[]; };        // fp32 [T, n_heads * HD]
#ifdef KV_SSBO
layout(binding = 1, std430) readonly buffer Kb { uvec4 k_texels[]; };
layout(binding = 2, std430) readonly buffer Vb { uvec4 v_texels[]; };
#define KLOAD(i) k_texels[i]
#define VLOAD(i) v_texels[i]
#define KV_TEXELS uint(k_texels.length())
#else
layout(binding = 1, rgba32ui) uniform readonly uimageBuffer KT;
layout(binding = 2, rgba32ui) uniform readonly uimageBuffer VT;
#define KLOAD(i) imageLoad(KT, int(i))
#define VLOAD(i) imageLoad(VT, int(i))
#define KV_TEXELS uint(imageSize(KT))
#endif
layout(binding = 3, std430) readonly buffer Pb { step_params sps[]; };
// n_split == 1: fp16 out [T, ld_out], 8 halves per uvec4;
// else partials [T, n_heads, n_split] of (o / l as HD fp16, then one uvec4 of
// fp32 bits (m, l, 0, 0)): HD / 8 + 1 uvec4 each.
layout(binding = 4, std430) writeonly buffer Ob { uvec4 dst[]; };
layout(push_constant) uniform PC { pc_attention p; };

vec4 lo4(uvec4 w) { return vec4(unpackHalf2x16(w.x), unpackHalf2x16(w.y)); }
vec4 hi4(uvec4 w) { return vec4(unpackHalf2x16(w.z), unpackHalf2x16(w.w)); }

// First visible key of the query at position pos.
uint first_key(uint pos) { return p.window > 0u && pos + 1u > p.window ? pos + 1u - p.window : 0u; }

void main() {
    uint G = p.n_heads / p.n_kv_heads;
    uint rows = p.n_tokens * G;
    uint lanes = sg_lanes();
    uint KSe = 1u << findMSB(min(KS, max(lanes / L, 1u))); // key slots the subgroup holds (a power of two)
    uint R = L * KSe;                             // lanes per row
    uint rows_per_sg = max(lanes / R, 1u);
    uint li = gl_SubgroupInvocationID % L;
    uint ks = (gl_SubgroupInvocationID / L) % KSe;
    uint rloc = gl_SubgroupID * rows_per_sg + gl_SubgroupInvocationID / R;
    uint row0 = gl_WorkGroupID.x * QB;
    uint kvh = gl_WorkGroupID.y;
    uint split = gl_WorkGroupID.z;
    bool live = rloc < QB && row0 + rloc < rows;
    uint row = min(row0 + rloc, rows - 1u);       // dead lanes shadow a real row
    uint t = row / G;
    uint h = kvh * G + row % G;

    // Visible keys of this row, and of all rows of the workgroup (the union
    // is what the splits divide). Keys past the cache's end are never read:
    // the host keeps n_past + n_tokens <= ctx.
    uint stride = p.n_kv_heads * C;               // uvec4 per cache row
    step_params sp = sps[p.seq];
    uint last_row = KV_TEXELS / stride - 1u - sp.kv_base;   // relative to the sequence
    uint n_past = sp.n_past;
    uint pos = n_past + t;
    uint lo = first_key(pos);
    uint hi = min(pos, last_row);
    uint ulo = first_key(n_past + row0 / G);
    uint uhi = min(n_past + (min(row0 + QB, rows) - 1u) / G, last_row);
    uint n = uhi >= ulo ? uhi + 1u - ulo : 0u;
    uint chunk = max((n + p.n_split - 1u) / p.n_split, MIN_CHUNK);
    chunk = (chunk + KSe - 1u) / KSe * KSe;
    uint kbeg = ulo + min(split * chunk, n);
    uint kend = ulo + min(split * chunk + chunk, n);

    // q chunks of this lane, pre-scaled by 1/sqrt(head_dim).
    vec4 qa[CPL], qb[CPL], oa[CPL], ob[CPL];
    uint qbase = ((p.row0 + t) * p.n_heads + h) * (HD / 4u);
    for (uint c = 0u; c < CPL; c++) {
        uint cc = min(li + c * L, C - 1u);
        qa[c] = q[qbase + 2u * cc] * p.scale;
        qb[c] = q[qbase + 2u * cc + 1u] * p.scale;
        oa[c] = vec4(0.0);
        ob[c] = vec4(0.0);
    }
    float m = NEG, l = 0.0;

    // Keys base + b * KS + ks, b < KB, per step: the chunk loops are outside
    // the key loops, so q and the output accumulators are read and written
    // once per block (they outgrow the registers of a CPU lane) and the
    // accumulators are rescaled once per block.
    for (uint base = kbeg; base < kend; base += KSe * KB) {
        float s[KB];
        uint kr[KB];
        bool vis[KB];
        for (uint b = 0u; b < KB; b++) {
            uint j = base + b * KSe + ks;
            vis[b] = j >= lo && j <= hi && j < kend;
            kr[b] = (sp.kv_base + min(j, kend - 1u)) * stride + kvh * C;
            s[b] = 0.0;
        }
        for (uint c = 0u; c < CPL; c++) {
            uint cc = li + c * L;
            if (cc < C) {
                vec4 a = qa[c], bq = qb[c];
                for (uint b = 0u; b < KB; b++) {
                    uvec4 w = KLOAD(kr[b] + cc);
                    s[b] += dot(a, lo4(w)) + dot(bq, hi4(w));
                }
            }
        }
        // Online softmax; keys a row does not see weigh 0 (no branch around
        // the loads: the subgroup shares them).
        float mn = m;
        for (uint b = 0u; b < KB; b++) {
            for (uint o = 1u; o < L; o <<= 1) s[b] += subgroupShuffleXor(s[b], o);
            if (vis[b]) mn = max(mn, s[b]);
        }
        float f = exp(m - mn), e[KB];
        l *= f;
        for (uint b = 0u; b < KB; b++) {
            e[b] = vis[b] ? exp(s[b] - mn) : 0.0;
            l += e[b];
        }
        m = mn;
        for (uint c = 0u; c < CPL; c++) {
            uint cc = li + c * L;
            if (cc < C) {
                vec4 a = oa[c] * f, bo = ob[c] * f;
                for (uint b = 0u; b < KB; b++) {
                    uvec4 w = VLOAD(kr[b] + cc);
                    a += e[b] * lo4(w);
                    bo += e[b] * hi4(w);
                }
                oa[c] = a;
                ob[c] = bo;
            }
        }
    }

    // Merge the KSe key slots of the row: lanes li + L * ks.
    float mm = m;
    for (uint o = L; o < R; o <<= 1) mm = max(mm, subgroupShuffleXor(mm, o));
    float f = exp(m - mm);
    l *= f;
    for (uint o = L; o < R; o <<= 1) l += subgroupShuffleXor(l, o);
    for (uint c = 0u; c < CPL; c++) {
        oa[c] *= f;
        ob[c] *= f;
        for (uint o = L; o < R; o <<= 1) {
            oa[c] += subgroupShuffleXor(oa[c], o);
            ob[c] += subgroupShuffleXor(ob[c], o);
        }
    }
    if (!live || ks != 0u) return;

    // Normalised output (or partial, with its m and l) as fp16, one uvec4
    // per chunk: a single store path keeps lavapipe's JIT time down.
    float inv = l > 0.0 ? 1.0 / l : 0.0;
    uint rec = (t * p.n_heads + h) * p.n_split + split;     // partial record (n_split > 1)
    uint obase = p.n_split == 1u ? ((p.row0 + t) * p.ld_out + h * HD) / 8u : rec * (C + 1u);
    for (uint c = 0u; c < CPL; c++) {
        uint cc = li + c * L;
        if (cc < C) {
            vec4 a = oa[c] * inv, b = ob[c] * inv;
            dst[obase + cc] = uvec4(packHalf2x16(a.xy), packHalf2x16(a.zw), packHalf2x16(b.xy), packHalf2x16(b.zw));
        }
    }
    if (p.n_split > 1u && li == 0u) dst[obase + C] = uvec4(floatBitsToUint(mm), floatBitsToUint(l), 0u, 0u);
}
