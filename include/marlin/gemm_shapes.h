// The weight shapes the dense GEMM runs, as a rule anyone can check without a GPU: marlin::gemm
// refuses the rest with exactly these words, and `marlin convert` warns about layers it writes
// that the GEMM could not run.
#pragma once

#include <string>

namespace marlin {

// "" when the GEMM runs weights of k x n with this group size (kPerChannel allowed), else the
// first rule that fails, e.g. "k=2752 must be a positive multiple of 128".
std::string gemm_shape_violation(int k, int n, int group_size);

}  // namespace marlin
