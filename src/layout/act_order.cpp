// The act-order row permutation of the packed format (act_order.h).
#include "layout/act_order.h"

#include <string>

#include "marlin/status.h"

namespace marlin::layout {

std::vector<std::int32_t> act_order_permutation(const QuantizedMatrix& w) {
  if (w.g_idx.empty()) return {};
  const int groups = w.groups();
  if (w.group_size == kPerChannel) {
    // One group spans all of k, so every order of the rows is already "sorted by group".
    require(groups == 1, "act-order: per-channel weights (group_size=-1) have one group, but "
                         "g_idx and scales give " + std::to_string(groups));
    return {};
  }
  // Counting sort: stable, and the counts are exactly what the rule below is about.
  std::vector<std::int32_t> first_row(static_cast<std::size_t>(groups) + 1, 0);
  for (const std::int32_t group : w.g_idx) ++first_row[static_cast<std::size_t>(group) + 1];
  for (int g = 0; g < groups; ++g) {
    const std::int32_t rows = first_row[static_cast<std::size_t>(g) + 1];
    if (rows != w.group_size) {
      throw Error(ErrorCode::kUnsupported,
                  "act-order: group " + std::to_string(g) + " has " + std::to_string(rows) +
                      " rows; the packed format needs exactly group_size=" +
                      std::to_string(w.group_size) + " per group (groups are contiguous " +
                      "ranges of k once the rows are sorted)");
    }
    first_row[static_cast<std::size_t>(g) + 1] += first_row[static_cast<std::size_t>(g)];
  }
  std::vector<std::int32_t> perm(static_cast<std::size_t>(w.k));
  bool identity = true;
  for (int row = 0; row < w.k; ++row) {
    const std::int32_t packed_row = first_row[static_cast<std::size_t>(w.g_idx[row])]++;
    perm[static_cast<std::size_t>(packed_row)] = row;
    identity = identity && packed_row == row;
  }
  if (identity) return {};  // g_idx[i] == i / group_size: plain grouping, no permutation cost
  return perm;
}

bool is_permutation(const std::vector<std::int32_t>& perm, int k) {
  if (perm.size() != static_cast<std::size_t>(k)) return false;
  std::vector<bool> seen(perm.size(), false);
  for (const std::int32_t row : perm) {
    if (row < 0 || row >= k || seen[static_cast<std::size_t>(row)]) return false;
    seen[static_cast<std::size_t>(row)] = true;
  }
  return true;
}

std::vector<std::int32_t> g_idx_of_permutation(const std::vector<std::int32_t>& perm,
                                               int group_size) {
  std::vector<std::int32_t> g_idx(perm.size());
  for (std::size_t i = 0; i < perm.size(); ++i) {
    g_idx[static_cast<std::size_t>(perm[i])] = static_cast<std::int32_t>(i) / group_size;
  }
  return g_idx;
}

}  // namespace marlin::layout
