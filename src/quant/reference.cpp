// CPU reference quantization math. Written for clarity, not speed: the kernels are checked
// against it.
#include <algorithm>
#include <cmath>
#include <string>

#include "marlin/half.h"
#include "marlin/quant.h"
#include "marlin/status.h"

namespace marlin {

int scheme_bits(QuantScheme scheme) { return scheme == QuantScheme::kSymmetricInt8 ? 8 : 4; }

bool scheme_has_zeros(QuantScheme scheme) { return scheme == QuantScheme::kAsymmetricInt4; }

int scheme_implicit_zero(QuantScheme scheme) {
  switch (scheme) {
    case QuantScheme::kSymmetricInt4: return 8;
    case QuantScheme::kSymmetricInt8: return 128;
    case QuantScheme::kAsymmetricInt4: return -1;
  }
  return -1;
}

int QuantizedMatrix::effective_group_size() const {
  return group_size == kPerChannel ? k : group_size;
}

int QuantizedMatrix::groups() const {
  if (!g_idx.empty()) return static_cast<int>(scales.size() / static_cast<std::size_t>(n));
  return k / effective_group_size();
}

int QuantizedMatrix::group_of_row(int row) const {
  return g_idx.empty() ? row / effective_group_size() : g_idx[static_cast<std::size_t>(row)];
}

void validate(const QuantizedMatrix& w) {
  const std::string shape = "k=" + std::to_string(w.k) + ", n=" + std::to_string(w.n);
  require(w.k > 0 && w.n > 0, "weight shape " + shape + " must be positive");
  require(w.group_size == kPerChannel || w.group_size > 0,
          "group_size=" + std::to_string(w.group_size) + " must be positive or -1 (per-channel)");
  require(w.scale_dtype == DType::kFloat16 || w.scale_dtype == DType::kBFloat16,
          "scale dtype must be fp16 or bf16");
  if (w.g_idx.empty()) {
    require(w.k % w.effective_group_size() == 0,
            "k=" + std::to_string(w.k) + " must be a multiple of group_size=" +
                std::to_string(w.group_size));
  } else {
    require(w.g_idx.size() == static_cast<std::size_t>(w.k),
            "g_idx has " + std::to_string(w.g_idx.size()) + " entries; expected k=" +
                std::to_string(w.k));
  }
  const std::size_t count = static_cast<std::size_t>(w.k) * static_cast<std::size_t>(w.n);
  require(w.q.size() == count, "q has " + std::to_string(w.q.size()) + " codes; expected k*n=" +
                                   std::to_string(count));
  require(w.scales.size() % static_cast<std::size_t>(w.n) == 0 && !w.scales.empty(),
          "scales has " + std::to_string(w.scales.size()) + " values; expected groups*n");
  const int groups = w.groups();
  require(w.scales.size() == static_cast<std::size_t>(groups) * static_cast<std::size_t>(w.n),
          "scales has " + std::to_string(w.scales.size()) + " values; expected " +
              std::to_string(groups) + " groups x n=" + std::to_string(w.n));
  for (int row = 0; row < w.k && !w.g_idx.empty(); ++row) {
    const int g = w.g_idx[static_cast<std::size_t>(row)];
    if (g >= 0 && g < groups) continue;  // messages are built only on failure: this loop is hot
    require(false, "g_idx[" + std::to_string(row) + "]=" + std::to_string(g) +
                                      " is outside [0, " + std::to_string(groups) + ")");
  }
  const int max_code = (1 << scheme_bits(w.scheme)) - 1;
  for (std::size_t i = 0; i < count; ++i) {
    if (w.q[i] <= max_code) continue;
    require(false, "code q[" + std::to_string(i) + "]=" + std::to_string(w.q[i]) +
                                    " exceeds " + std::to_string(max_code));
  }
  if (scheme_has_zeros(w.scheme)) {
    require(w.zeros.size() == w.scales.size(),
            "zeros has " + std::to_string(w.zeros.size()) + " values; expected groups*n=" +
                std::to_string(w.scales.size()));
    for (std::size_t i = 0; i < w.zeros.size(); ++i) {
      if (w.zeros[i] <= max_code) continue;
      require(false, "zero point zeros[" + std::to_string(i) + "]=" +
                                          std::to_string(w.zeros[i]) + " exceeds " +
                                          std::to_string(max_code));
    }
  } else {
    require(w.zeros.empty(), "zeros given for a symmetric scheme");
  }
}

namespace {

// The smallest value representable in `dtype` that is >= value (value > 0). For positive finite
// fp16 and bf16 numbers the next representable value up is the bit pattern plus one, which also
// covers values below the smallest subnormal (0 -> smallest subnormal). Infinity when the value
// is beyond the type's range.
float round_up_to_dtype(float value, DType dtype) {
  std::uint16_t bits = float_to_16bit(value, dtype);
  if (float_from_16bit(bits, dtype) < value) ++bits;
  return float_from_16bit(bits, dtype);
}

[[noreturn]] void throw_scale_out_of_range(float needed, int group, int col, DType dtype) {
  throw Error(ErrorCode::kInvalidArgument,
              "quantize_rtn: group " + std::to_string(group) + ", column " + std::to_string(col) +
                  " needs a scale of " + std::to_string(needed) + ", beyond the " +
                  (dtype == DType::kBFloat16 ? "bf16" : "fp16") +
                  " range (fp16 scales stop at 65504; use bf16 scales for such weights)");
}

}  // namespace

QuantizedMatrix quantize_rtn(const std::vector<float>& w, int k, int n, QuantScheme scheme,
                             int group_size, DType scale_dtype) {
  QuantizedMatrix out;
  out.scheme = scheme;
  out.k = k;
  out.n = n;
  out.group_size = group_size;
  out.scale_dtype = scale_dtype;
  require(k > 0 && n > 0, "quantize_rtn: k and n must be positive");
  require(group_size == kPerChannel || (group_size > 0 && k % group_size == 0),
          "quantize_rtn: k=" + std::to_string(k) + " must be a multiple of group_size=" +
              std::to_string(group_size));
  require(scale_dtype == DType::kFloat16 || scale_dtype == DType::kBFloat16,
          "quantize_rtn: scale dtype must be fp16 or bf16");
  require(w.size() == static_cast<std::size_t>(k) * static_cast<std::size_t>(n),
          "quantize_rtn: w has " + std::to_string(w.size()) + " values; expected k*n");
  const int group = out.effective_group_size();
  const int groups = k / group;
  const int max_code = (1 << scheme_bits(scheme)) - 1;
  out.q.resize(w.size());
  out.scales.resize(static_cast<std::size_t>(groups) * n);
  if (scheme_has_zeros(scheme)) out.zeros.resize(out.scales.size());

  for (int g = 0; g < groups; ++g) {
    for (int col = 0; col < n; ++col) {
      // The range always includes 0: asymmetric codes need a zero point inside [0, max_code]
      // (a group of all-positive values would otherwise clip at the top), and 0 itself must be
      // representable exactly.
      float lo = 0.0f;
      float hi = 0.0f;
      for (int row = g * group; row < (g + 1) * group; ++row) {
        const float v = w[static_cast<std::size_t>(row) * n + col];
        if (!std::isfinite(v)) {
          throw Error(ErrorCode::kInvalidArgument,
                      "quantize_rtn: w[" + std::to_string(row) + ", " + std::to_string(col) +
                          "]=" + std::to_string(v) + " must be finite");
        }
        lo = std::min(lo, v);
        hi = std::max(hi, v);
      }
      float scale;
      int zero;
      if (scheme_has_zeros(scheme)) {
        const float range = hi - lo;
        scale = range > 0 ? range / static_cast<float>(max_code) : std::max(std::fabs(hi), 1.0f);
        const float needed = scale;
        scale = round_up_to_dtype(needed, scale_dtype);
        if (!std::isfinite(scale)) throw_scale_out_of_range(needed, g, col, scale_dtype);
        zero = std::clamp(static_cast<int>(std::nearbyint(-lo / scale)), 0, max_code);
        out.zeros[static_cast<std::size_t>(g) * n + col] = static_cast<std::uint8_t>(zero);
      } else {
        // Symmetric: codes span [-zero, zero - 1] around the implicit zero; the scale maps the
        // largest magnitude to +-(zero - 1/2) so rounding never moves a value by more than s/2.
        zero = scheme_implicit_zero(scheme);
        const float magnitude = std::max(std::fabs(lo), std::fabs(hi));
        scale = magnitude > 0 ? magnitude / (static_cast<float>(zero) - 0.5f) : 1.0f;
        const float needed = scale;
        scale = round_up_to_dtype(needed, scale_dtype);
        if (!std::isfinite(scale)) throw_scale_out_of_range(needed, g, col, scale_dtype);
      }
      out.scales[static_cast<std::size_t>(g) * n + col] = scale;
      for (int row = g * group; row < (g + 1) * group; ++row) {
        const std::size_t i = static_cast<std::size_t>(row) * n + col;
        const int code = static_cast<int>(std::nearbyint(w[i] / scale)) + zero;
        out.q[i] = static_cast<std::uint8_t>(std::clamp(code, 0, max_code));
      }
    }
  }
  return out;
}

std::vector<float> dequantize(const QuantizedMatrix& w) {
  validate(w);
  std::vector<float> out(w.q.size());
  const int implicit_zero = scheme_implicit_zero(w.scheme);
  for (int row = 0; row < w.k; ++row) {
    const std::size_t group_row = static_cast<std::size_t>(w.group_of_row(row)) * w.n;
    for (int col = 0; col < w.n; ++col) {
      const std::size_t i = static_cast<std::size_t>(row) * w.n + col;
      const int zero = implicit_zero >= 0 ? implicit_zero : w.zeros[group_row + col];
      out[i] = static_cast<float>(static_cast<int>(w.q[i]) - zero) * w.scales[group_row + col];
    }
  }
  return out;
}

std::vector<double> reference_gemm(const std::vector<float>& a, const std::vector<float>& w,
                                   int m, int n, int k, const std::vector<float>* bias) {
  require(m > 0 && n > 0 && k > 0, "reference_gemm: m, n, k must be positive");
  require(a.size() == static_cast<std::size_t>(m) * k, "reference_gemm: A must hold m*k values");
  require(w.size() == static_cast<std::size_t>(k) * n, "reference_gemm: W must hold k*n values");
  require(bias == nullptr || bias->size() == static_cast<std::size_t>(n),
          "reference_gemm: bias must hold n values");
  std::vector<double> c(static_cast<std::size_t>(m) * n, 0.0);
  for (int i = 0; i < m; ++i) {
    double* c_row = &c[static_cast<std::size_t>(i) * n];
    for (int kk = 0; kk < k; ++kk) {
      const double a_value = a[static_cast<std::size_t>(i) * k + kk];
      const float* w_row = &w[static_cast<std::size_t>(kk) * n];
      for (int j = 0; j < n; ++j) c_row[j] += a_value * static_cast<double>(w_row[j]);
    }
    if (bias) {
      for (int j = 0; j < n; ++j) c_row[j] += (*bias)[static_cast<std::size_t>(j)];
    }
  }
  return c;
}

}  // namespace marlin
