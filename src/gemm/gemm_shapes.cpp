#include "marlin/gemm_shapes.h"

#include "marlin/quant.h"

namespace marlin {

std::string gemm_shape_violation(int k, int n, int group_size) {
  const auto str = [](int value) { return std::to_string(value); };
  // k tiles are 128 rows (the small-m configurations); n is masked per 64-column slice.
  if (k < 128 || k % 128 != 0) return "k=" + str(k) + " must be a positive multiple of 128";
  if (n < 64 || n % 64 != 0) return "n=" + str(n) + " must be a positive multiple of 64";
  if (group_size != kPerChannel && group_size != 32 && group_size != 64 && group_size != 128) {
    return "group_size=" + str(group_size) + " must be 32, 64, 128 or -1 (per-channel)";
  }
  const int group = group_size == kPerChannel ? k : group_size;
  if (k % group != 0) return "k=" + str(k) + " must be a multiple of group_size=" + str(group_size);
  return "";
}

}  // namespace marlin
