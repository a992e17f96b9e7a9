// GPTQ, the CPU reference: fp64, one plain loop per step of the algorithm described in gptq.h.
// Slow (O(k^3 + k^2 n)) and meant for small layers; the GPU implementation is tested against it.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "marlin/gptq.h"
#include "marlin/status.h"
#include "quant/gptq_common.h"

namespace marlin {
namespace {

// A dense k x k fp64 matrix, row-major.
struct Square {
  int k = 0;
  std::vector<double> values;
  explicit Square(int size) : k(size), values(static_cast<std::size_t>(size) * size, 0.0) {}
  double& operator()(int row, int col) {
    return values[static_cast<std::size_t>(row) * k + col];
  }
  double operator()(int row, int col) const {
    return values[static_cast<std::size_t>(row) * k + col];
  }
};

// In place: A = L L^T, L lower triangular (the upper triangle is left as it was). False when a
// pivot is not positive and finite, i.e. A is not positive definite in fp64.
bool cholesky_lower(Square& a) {
  for (int j = 0; j < a.k; ++j) {
    double pivot = a(j, j);
    for (int p = 0; p < j; ++p) pivot -= a(j, p) * a(j, p);
    if (!(pivot > 0) || !std::isfinite(pivot)) return false;
    const double diagonal = std::sqrt(pivot);
    a(j, j) = diagonal;
    for (int i = j + 1; i < a.k; ++i) {
      double sum = a(i, j);
      for (int p = 0; p < j; ++p) sum -= a(i, p) * a(j, p);
      a(i, j) = sum / diagonal;
    }
  }
  return true;
}

// U upper triangular with H^-1 = U^T U, from H symmetric positive definite. Returns false when
// a factorization fails or a value is not finite.
bool inverse_upper_cholesky(const Square& h, Square& u) {
  const int k = h.k;
  Square l = h;
  if (!cholesky_lower(l)) return false;
  // L^-1 by forward substitution, column by column (lower triangular).
  Square l_inverse(k);
  for (int col = 0; col < k; ++col) {
    l_inverse(col, col) = 1.0 / l(col, col);
    for (int row = col + 1; row < k; ++row) {
      double sum = 0;
      for (int p = col; p < row; ++p) sum -= l(row, p) * l_inverse(p, col);
      l_inverse(row, col) = sum / l(row, row);
    }
  }
  // H^-1 = L^-T L^-1.
  Square h_inverse(k);
  for (int i = 0; i < k; ++i) {
    for (int j = 0; j <= i; ++j) {
      double sum = 0;
      for (int p = i; p < k; ++p) sum += l_inverse(p, i) * l_inverse(p, j);
      h_inverse(i, j) = sum;
      h_inverse(j, i) = sum;
    }
  }
  // H^-1 = L' L'^T = U^T U with U = L'^T.
  if (!cholesky_lower(h_inverse)) return false;
  for (int i = 0; i < k; ++i) {
    for (int j = 0; j < k; ++j) {
      u(i, j) = j >= i ? h_inverse(j, i) : 0.0;
      if (!std::isfinite(u(i, j))) return false;
    }
  }
  return true;
}

}  // namespace

std::vector<double> gptq_hessian_reference(const std::vector<float>& x, int rows, int k) {
  require(rows > 0 && k > 0, "gptq_hessian_reference: rows and k must be positive");
  require(x.size() == static_cast<std::size_t>(rows) * k,
          "gptq_hessian_reference: x has " + std::to_string(x.size()) +
              " values; expected rows*k=" + std::to_string(static_cast<std::size_t>(rows) * k));
  std::vector<double> h(static_cast<std::size_t>(k) * k, 0.0);
  for (int r = 0; r < rows; ++r) {
    const float* row = &x[static_cast<std::size_t>(r) * k];
    for (int i = 0; i < k; ++i) {
      const double xi = row[i];
      if (xi == 0) continue;
      for (int j = 0; j < k; ++j) h[static_cast<std::size_t>(i) * k + j] += xi * row[j];
    }
  }
  for (double& value : h) value *= 2.0 / rows;
  return h;
}

QuantizedMatrix gptq_quantize_reference(const std::vector<float>& weight, int n, int k,
                                        const std::vector<double>& hessian,
                                        const GptqOptions& options, GptqReport* report) {
  validate_gptq_options(options, k);
  require(n > 0, "GPTQ: n=" + std::to_string(n) + " must be positive");
  require(weight.size() == static_cast<std::size_t>(n) * k,
          "GPTQ: weight has " + std::to_string(weight.size()) + " values; expected n*k=" +
              std::to_string(static_cast<std::size_t>(n) * k) + " (n x k, the Linear layout)");
  require(hessian.size() == static_cast<std::size_t>(k) * k,
          "GPTQ: hessian has " + std::to_string(hessian.size()) + " values; expected k*k");
  for (float w : weight) require(std::isfinite(w), "GPTQ: weight holds a non-finite value");
  if (report) *report = GptqReport{};

  const gptq::GridSpec grid = gptq::make_grid_spec(options);
  const int group = options.group_size == kPerChannel ? k : options.group_size;
  const int groups = k / group;
  // The symmetric Hessian, read from its lower triangle (row-major), as the GPU reads it.
  auto h_at = [&](int i, int j) {
    return i >= j ? hessian[static_cast<std::size_t>(i) * k + j]
                  : hessian[static_cast<std::size_t>(j) * k + i];
  };

  // 1. Dead inputs.
  std::vector<double> diagonal(static_cast<std::size_t>(k));
  std::vector<bool> dead(static_cast<std::size_t>(k), false);
  for (int i = 0; i < k; ++i) {
    diagonal[i] = h_at(i, i);
    if (diagonal[i] == 0) {
      dead[i] = true;
      diagonal[i] = 1;
      if (report) ++report->dead_inputs;
    }
  }

  // 2. Processing order; W and H in that order. W is k x n (row p = feature order[p]).
  const std::vector<std::int32_t> order = gptq::processing_order(diagonal, options.act_order);
  std::vector<double> w(static_cast<std::size_t>(k) * n);
  for (int p = 0; p < k; ++p) {
    const int feature = order[p];
    for (int j = 0; j < n; ++j) {
      w[static_cast<std::size_t>(p) * n + j] =
          dead[feature] ? 0.0 : weight[static_cast<std::size_t>(j) * k + feature];
    }
  }
  double mean_diagonal = 0;
  for (double d : diagonal) mean_diagonal += d;
  mean_diagonal /= k;

  // 3 + 4. Dampening and the inverse's upper Cholesky factor, with retries.
  Square u(k);
  bool factored = false;
  for (int attempt = 0; attempt <= options.max_damp_retries && !factored; ++attempt) {
    const double fraction = gptq::damp_fraction_for_attempt(options, attempt);
    Square h(k);
    for (int a = 0; a < k; ++a) {
      for (int b = 0; b < k; ++b) {
        h(a, b) = a == b ? diagonal[order[a]] + fraction * mean_diagonal : h_at(order[a], order[b]);
      }
    }
    factored = inverse_upper_cholesky(h, u);
    if (report) report->damp_fraction_used = fraction;
    if (!factored) {
      if (attempt < options.max_damp_retries) {
        if (report) ++report->damp_retries;
        gptq::warn(options, report,
                   "GPTQ: Hessian not positive definite with dampening " + std::to_string(fraction) +
                       " x mean diagonal; retrying with " + std::to_string(fraction * 10));
      }
    }
  }
  if (!factored) {
    for (int a = 0; a < k; ++a) {
      for (int b = 0; b < k; ++b) u(a, b) = a == b ? 1.0 : 0.0;
    }
    if (report) report->identity_fallback = true;
    gptq::warn(options, report,
               "GPTQ: Hessian not positive definite after " +
                   std::to_string(options.max_damp_retries) +
                   " dampening retries; quantizing without error feedback (RTN)");
  }

  // 5 + 6. Blocks of features; groups chosen at their first feature.
  QuantizedMatrix out;
  out.scheme = options.scheme;
  out.k = k;
  out.n = n;
  out.group_size = options.group_size;
  out.scale_dtype = options.scale_dtype;
  out.scales.resize(static_cast<std::size_t>(groups) * n);
  if (scheme_has_zeros(options.scheme)) out.zeros.resize(out.scales.size());
  std::vector<std::uint8_t> codes(static_cast<std::size_t>(k) * n);
  std::vector<gptq::GroupParams<double>> params(static_cast<std::size_t>(n));
  const int block = options.block_size;
  std::vector<double> errors(static_cast<std::size_t>(block) * n);

  for (int first = 0; first < k; first += block) {
    const int last = std::min(first + block, k);  // exclusive
    for (int c = first; c < last; ++c) {
      if (c % group == 0) {
        for (int j = 0; j < n; ++j) {
          auto load = [&](int i) { return w[static_cast<std::size_t>(c + i) * n + j]; };
          params[j] = gptq::choose_group_params<double>(load, group, grid);
          if (!std::isfinite(params[j].scale)) {
            throw Error(ErrorCode::kInvalidArgument,
                        "GPTQ: group " + std::to_string(c / group) + ", output " +
                            std::to_string(j) + " needs a scale beyond the scale dtype's range " +
                            "(fp16 scales stop at 65504; use bf16 scales for such weights)");
          }
          const std::size_t index = static_cast<std::size_t>(c / group) * n + j;
          out.scales[index] = static_cast<float>(params[j].scale);
          if (!out.zeros.empty()) out.zeros[index] = static_cast<std::uint8_t>(params[j].zero);
        }
      }
      for (int j = 0; j < n; ++j) {
        const double value = w[static_cast<std::size_t>(c) * n + j];
        const int code = gptq::quantize_code(value, params[j], grid.max_code);
        codes[static_cast<std::size_t>(c) * n + j] = static_cast<std::uint8_t>(code);
        const double error = (value - gptq::dequantize_code(code, params[j])) / u(c, c);
        errors[static_cast<std::size_t>(c - first) * n + j] = error;
        for (int l = c + 1; l < last; ++l) w[static_cast<std::size_t>(l) * n + j] -= error * u(c, l);
      }
    }
    // The lazy batch update: every later feature gets the block's errors at once.
    for (int l = last; l < k; ++l) {
      for (int c = first; c < last; ++c) {
        const double factor = u(c, l);
        const double* error_row = &errors[static_cast<std::size_t>(c - first) * n];
        double* w_row = &w[static_cast<std::size_t>(l) * n];
        for (int j = 0; j < n; ++j) w_row[j] -= error_row[j] * factor;
      }
    }
  }

  gptq::finish_output(order, options, std::move(codes), out);
  validate(out);
  return out;
}

}  // namespace marlin
