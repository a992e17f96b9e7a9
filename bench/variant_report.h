// The markdown summary of a --variants run (dense_variants.h says what is measured and why): per
// model and m, times summed over the model's layers, each variant's relative time (against the
// reference kernel's time scaled by the bytes ratio), its speedup over 16-bit cuBLASLt and its
// bytes ratio; cells that miss issue #6's targets are in bold, and one line per variant counts
// the cells that meet its target.
#pragma once

#include <string>
#include <vector>

#include "dense_variants.h"
#include "report.h"

namespace marlin::bench {

// `kernels`: the reference first, then the variants; `models` fixes the order of the rows.
std::string variants_markdown(const RunInfo& info, const std::vector<std::string>& models,
                              const std::vector<KernelVariant>& kernels,
                              const std::vector<DenseRow>& rows);

}  // namespace marlin::bench
