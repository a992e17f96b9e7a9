// Act-order (GPTQ desc_act) as the packed format holds it (packed_format.h, section 6): the rows
// of W sorted by group, so that every group is again a contiguous range of group_size rows, and
// perm, with packed row i = original row perm[i].
#pragma once

#include <cstdint>
#include <vector>

#include "marlin/quant.h"

namespace marlin::layout {

// The packed row order of w: empty when the rows already come in groups (no g_idx, a g_idx equal
// to row / group_size, or per-channel weights), so such weights pay nothing for act-order; else
// the stable sort of the rows by g_idx (rows of one group keep their ascending order, so pack()
// always writes the same perm for the same g_idx). Throws marlin::Error kUnsupported when a group
// does not hold exactly group_size rows, and kInvalidArgument for per-channel weights whose g_idx
// names more than one group. Expects validate(w) to have passed.
std::vector<std::int32_t> act_order_permutation(const QuantizedMatrix& w);

// True when perm holds each of 0..k-1 exactly once.
bool is_permutation(const std::vector<std::int32_t>& perm, int k);

// The g_idx of the original rows that perm sorts into consecutive groups of group_size rows:
// g_idx[perm[i]] = i / group_size. Expects is_permutation(perm, k) and group_size > 0.
std::vector<std::int32_t> g_idx_of_permutation(const std::vector<std::int32_t>& perm,
                                               int group_size);

}  // namespace marlin::layout
