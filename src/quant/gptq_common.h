// Pieces of GPTQ that the CPU reference and the GPU implementation share, so that both make the
// same decisions: option checks, the grid description, the act-order permutation, the damping
// schedule and how warnings are delivered.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "marlin/gptq.h"
#include "quant/gptq_grid.h"

namespace marlin::gptq {

// The grid of options.scheme / scale_dtype / clip settings (options already validated).
GridSpec make_grid_spec(const GptqOptions& options);

// Features in processing order: identity, or (act_order) by descending diagonal, ties by index.
std::vector<std::int32_t> processing_order(const std::vector<double>& diagonal, bool act_order);

// The dampening fraction of attempt `attempt` (0 = options.damp_fraction, then x10 each).
double damp_fraction_for_attempt(const GptqOptions& options, int attempt);

// Appends to report->warnings (if report) and calls options.on_warning (if set).
void warn(const GptqOptions& options, GptqReport* report, const std::string& message);

// Fills q's g_idx (when act-order with groups) and moves the codes from processing order back to
// the original feature order. `codes_in_order` is k x n, row p = feature order[p].
void finish_output(const std::vector<std::int32_t>& order, const GptqOptions& options,
                   std::vector<std::uint8_t>&& codes_in_order, QuantizedMatrix& out);

}  // namespace marlin::gptq
