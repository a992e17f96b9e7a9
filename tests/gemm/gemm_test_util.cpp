#include "gemm_test_util.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "gemm/dense_dispatch.h"
#include "marlin/half.h"

namespace marlin::testing {

Values16 random_values16(std::size_t count, DType dtype, std::mt19937& rng) {
  Values16 out;
  out.bits.resize(count);
  out.values.resize(count);
  std::uniform_real_distribution<float> value(-1.0f, 1.0f);
  for (std::size_t i = 0; i < count; ++i) {
    out.bits[i] = float_to_16bit(value(rng), dtype);
    out.values[i] = float_from_16bit(out.bits[i], dtype);
  }
  return out;
}

QuantizedMatrix random_weights(QuantScheme scheme, int k, int n, int group_size,
                               DType scale_dtype, std::mt19937& rng) {
  QuantizedMatrix w;
  w.scheme = scheme;
  w.k = k;
  w.n = n;
  w.group_size = group_size;
  w.scale_dtype = scale_dtype;
  const int bits = scheme_bits(scheme);
  const std::uint32_t code_mask = (1u << bits) - 1u;
  // Four codes from the four bytes of one draw: the real-model shapes need ~10^8 codes.
  w.q.resize(static_cast<std::size_t>(k) * n);
  for (std::size_t i = 0; i < w.q.size(); i += 4) {
    const auto draw = static_cast<std::uint32_t>(rng());  // mt19937 yields 32 bits
    for (std::size_t byte = 0; byte < 4 && i + byte < w.q.size(); ++byte)
      w.q[i + byte] = static_cast<std::uint8_t>((draw >> (8 * byte)) & code_mask);
  }
  const std::size_t group_values = static_cast<std::size_t>(w.groups()) * n;
  if (scheme_has_zeros(scheme)) {
    std::uniform_int_distribution<int> zero(0, static_cast<int>(code_mask));
    w.zeros.resize(group_values);
    for (auto& z : w.zeros) z = static_cast<std::uint8_t>(zero(rng));
  }
  const float shrink = static_cast<float>(1 << (bits - 4));
  std::uniform_real_distribution<float> scale(0.002f / shrink, 0.02f / shrink);
  w.scales.resize(group_values);
  for (auto& s : w.scales) s = float_from_16bit(float_to_16bit(scale(rng), scale_dtype), scale_dtype);
  return w;
}

std::vector<std::int32_t> random_act_order_g_idx(int k, int group_size, std::mt19937& rng) {
  std::vector<std::int32_t> perm(static_cast<std::size_t>(k));
  std::iota(perm.begin(), perm.end(), 0);
  std::shuffle(perm.begin(), perm.end(), rng);
  std::vector<std::int32_t> g_idx(perm.size());
  for (int i = 0; i < k; ++i) g_idx[static_cast<std::size_t>(perm[i])] = i / group_size;
  return g_idx;
}

// Where the error comes from. The reference is exact (fp64 on the values the kernel reads: A
// rounded to its dtype, W = (q - z) * s exact in fp32); products accumulate in fp32 (error ~1e-7
// relative, negligible). Two roundings remain, each to the output dtype with unit roundoff
// u = 2^-p (fp16: p = 11, u = 4.9e-4; bf16: p = 8, u = 3.9e-3):
//   1. the output element: |error| <= u |c|; relative rms u / sqrt(3) at most (the rounding
//      error is uniform over +-ulp/2 and ulp <= 2u |c|).
//   2. each dequantized weight (q - z) * s as the mma operand: the errors u_k w_k (|u_k| <= u,
//      independent signs) add up over k to a Gaussian-like term with rms <= u / sqrt(3) times
//      sqrt(sum_k (a_k w_k)^2), which is the rms of A*W itself for random data.
// Together: relative Frobenius error <= sqrt(2/3) u (fp16: 4.0e-4, bf16: 3.2e-3); the largest
// element error among ~10^6 elements is below u |ref| + 5 u / sqrt(3) rms (fp16: 4.9e-4 |ref| +
// 1.4e-3 rms, bf16: 3.9e-3 |ref| + 1.1e-2 rms). The limits below keep a margin of about 2 over
// these bounds, and a real bug (a wrong group, zero point, column or dropped bias) is an error of
// several percent or more.
OutputTolerance output_tolerance(DType dtype) {
  if (dtype == DType::kBFloat16) return {3e-2, 6e-3};
  return {4e-3, 1e-3};
}

void expect_matches_reference(const std::vector<std::uint16_t>& c, DType dtype,
                              const std::vector<double>& reference, const std::string& what) {
  ASSERT_EQ(c.size(), reference.size()) << what;
  const OutputTolerance tolerance = output_tolerance(dtype);
  double error_sq = 0.0;
  double reference_sq = 0.0;
  for (double r : reference) reference_sq += r * r;
  const double rms = std::sqrt(reference_sq / static_cast<double>(reference.size()));
  ASSERT_GT(rms, 1e-3) << what << ": reference is (nearly) zero, the test would prove nothing";
  std::size_t bad = 0;
  std::size_t first_bad = 0;
  for (std::size_t i = 0; i < c.size(); ++i) {
    const double value = float_from_16bit(c[i], dtype);
    const double diff = value - reference[i];
    if (!std::isfinite(value) ||
        std::fabs(diff) > tolerance.per_element * (std::fabs(reference[i]) + rms)) {
      if (bad++ == 0) first_bad = i;
    }
    error_sq += std::isfinite(diff) ? diff * diff : 1e30;
  }
  const double relative = std::sqrt(error_sq / reference_sq);
  EXPECT_EQ(bad, 0u) << what << ": " << bad << " bad elements, first at " << first_bad
                     << " (got " << float_from_16bit(c[first_bad], dtype) << ", want "
                     << reference[first_bad] << ")";
  EXPECT_LT(relative, tolerance.relative_frobenius)
      << what << ": relative Frobenius error " << relative;
}

void expect_arrival_counters_zero(const Workspace& workspace, int m, int n,
                                  const std::string& what) {
  int device = 0;
  int sm_count = 0;
  CUDA_CHECK(cudaGetDevice(&device));
  CUDA_CHECK(cudaDeviceGetAttribute(&sm_count, cudaDevAttrMultiProcessorCount, device));
  // The counters open the workspace; those of m rows and n columns are a prefix of the
  // workspace's (sized for its max_m and n).
  const auto layout = gemm_detail::dense_workspace_layout(m, n, sm_count);
  ASSERT_LE(layout.total(), workspace.bytes()) << what;
  std::vector<int> counters(layout.counters_bytes / sizeof(int));
  CUDA_CHECK(cudaMemcpy(counters.data(), workspace.data(), layout.counters_bytes,
                        cudaMemcpyDeviceToHost));
  for (std::size_t i = 0; i < counters.size(); ++i)
    ASSERT_EQ(counters[i], 0) << what << ": arrival counter " << i;
}

}  // namespace marlin::testing
