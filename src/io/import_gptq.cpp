// GPTQ checkpoints -> QuantizedMatrix. With c = 32 / bits codes per int32 (8 for 4-bit, 4 for
// 8-bit), each code in `bits` bits, the first in the lowest:
//
//   qweight int32 [k/c, n]      word (r, j), code i = W[c*r + i][j]
//   qzeros  int32 [groups, n/c] word (g, m), code i = zero of group g, column c*m + i
//   scales  fp16  [groups, n]
//   g_idx   int32 [k]           group of each row (act-order); often stored even when trivial
//
// "v1" checkpoints store zero - 1 in qzeros (so symmetric 4-bit stores 7 for the zero 8, 8-bit
// 127 for 128); gptq_v2 stores the zero itself.
#include "io/io_util.h"
#include "io/tensor_checks.h"
#include "marlin/io/importers.h"

namespace marlin::io {

namespace {

constexpr const char* kContext = "GPTQ import";

// g_idx as stored, checked to lie in [0, groups).
std::vector<std::int32_t> read_g_idx(const TensorData& tensor, int k, int groups) {
  detail::expect_dtype(tensor, {StDType::kI32}, kContext);
  detail::expect_shape(tensor, {static_cast<std::uint64_t>(k)}, kContext);
  std::vector<std::int32_t> g_idx(static_cast<std::size_t>(k));
  for (int row = 0; row < k; ++row) {
    const auto group = static_cast<std::int32_t>(detail::word_at(tensor, row));
    if (group < 0 || group >= groups) {
      throw_io(std::string(kContext) + ": tensor '" + tensor.name + "' entry " +
               std::to_string(row) + " is " + std::to_string(group) + ", outside [0, " +
               std::to_string(groups) + ")");
    }
    g_idx[static_cast<std::size_t>(row)] = group;
  }
  return g_idx;
}

}  // namespace

QuantizedMatrix import_gptq(const GptqTensors& tensors, int bits, int group_size,
                            GptqZeros zeros, bool symmetric_expected) {
  if (bits != 4 && bits != 8) {
    throw Error(ErrorCode::kUnsupported,
                "GPTQ import: bits=" + std::to_string(bits) + " is not supported (4 or 8)");
  }
  const int per_word = 32 / bits;
  const std::uint32_t mask = (1u << bits) - 1u;
  const TensorData& qweight = tensors.qweight;
  detail::expect_dtype(qweight, {StDType::kI32}, kContext);
  detail::expect_rank(qweight, 2, kContext);
  const int k = detail::checked_dim(qweight.shape[0] * per_word, qweight, "k");
  const int n = detail::checked_dim(qweight.shape[1], qweight, "n");
  if (n % per_word != 0) {
    throw_io(std::string(kContext) + ": tensor '" + qweight.name + "' gives n=" +
             std::to_string(n) + ", which must be a multiple of " + std::to_string(per_word) +
             " (qzeros packs " + std::to_string(per_word) + " per word)");
  }
  detail::expect_dtype(tensors.scales, {StDType::kF16, StDType::kBF16}, kContext);
  detail::expect_rank(tensors.scales, 2, kContext);
  const int groups = detail::checked_dim(tensors.scales.shape[0], tensors.scales, "groups");
  detail::expect_shape(tensors.scales, {static_cast<std::uint64_t>(groups),
                                        static_cast<std::uint64_t>(n)}, kContext);
  detail::expect_dtype(tensors.qzeros, {StDType::kI32}, kContext);
  detail::expect_shape(tensors.qzeros, {static_cast<std::uint64_t>(groups),
                                        static_cast<std::uint64_t>(n / per_word)}, kContext);

  QuantizedMatrix w;
  w.k = k;
  w.n = n;
  w.group_size = group_size;
  const int rows_per_group = group_size == kPerChannel ? k : group_size;
  if (group_size != kPerChannel && group_size <= 0) {
    throw Error(ErrorCode::kInvalidArgument,
                "GPTQ import: group_size=" + std::to_string(group_size) + " must be positive or -1");
  }
  const int expected_groups = (k + rows_per_group - 1) / rows_per_group;
  if (tensors.g_idx) {
    w.g_idx = read_g_idx(*tensors.g_idx, k, groups);
    bool trivial = groups == expected_groups && k % rows_per_group == 0;
    for (int row = 0; row < k && trivial; ++row) {
      trivial = w.g_idx[static_cast<std::size_t>(row)] == row / rows_per_group;
    }
    if (trivial) w.g_idx.clear();
  } else if (groups != expected_groups || k % rows_per_group != 0) {
    throw_io(std::string(kContext) + ": tensor '" + tensors.scales.name + "' has " +
             std::to_string(groups) + " groups; k=" + std::to_string(k) + " with group_size=" +
             std::to_string(group_size) + " needs " + std::to_string(expected_groups) +
             " (and k a multiple of the group size)");
  }

  w.q.resize(static_cast<std::size_t>(k) * n);
  for (int packed_row = 0; packed_row < k / per_word; ++packed_row) {
    for (int col = 0; col < n; ++col) {
      const std::uint32_t word =
          detail::word_at(qweight, static_cast<std::size_t>(packed_row) * n + col);
      for (int i = 0; i < per_word; ++i) {
        w.q[static_cast<std::size_t>(per_word * packed_row + i) * n + col] =
            static_cast<std::uint8_t>((word >> (bits * i)) & mask);
      }
    }
  }

  w.scales = tensor_to_floats(tensors.scales);
  w.scale_dtype = detail::scale_dtype_for(tensors.scales, w.scales);

  const int zero_offset = zeros == GptqZeros::kMinusOne ? 1 : 0;
  const int implicit_zero = 1 << (bits - 1);  // 8 or 128: the zero of the symmetric schemes
  std::vector<std::uint8_t> zero_points(static_cast<std::size_t>(groups) * n);
  bool all_implicit = true;
  for (int g = 0; g < groups; ++g) {
    for (int col = 0; col < n; ++col) {
      const std::uint32_t word = detail::word_at(
          tensors.qzeros, static_cast<std::size_t>(g) * (n / per_word) + col / per_word);
      const int zero = static_cast<int>((word >> (bits * (col % per_word))) & mask) + zero_offset;
      if (zero > static_cast<int>(mask)) {
        throw_io(std::string(kContext) + ": tensor '" + tensors.qzeros.name + "' stores " +
                 std::to_string(mask) + " at group " + std::to_string(g) + ", column " +
                 std::to_string(col) + ": zero " + std::to_string(zero) + " is outside " +
                 std::to_string(bits) + " bits (zero - 1 convention; is this a gptq_v2 file?)");
      }
      all_implicit = all_implicit && zero == implicit_zero;
      zero_points[static_cast<std::size_t>(g) * n + col] = static_cast<std::uint8_t>(zero);
      if (symmetric_expected && zero != implicit_zero) {
        throw_io(std::string(kContext) + ": tensor '" + tensors.qzeros.name + "' gives zero " +
                 std::to_string(zero) + " at group " + std::to_string(g) + ", column " +
                 std::to_string(col) + "; a symmetric " + std::to_string(bits) +
                 "-bit checkpoint needs " + std::to_string(implicit_zero) + " (stored as " +
                 (zeros == GptqZeros::kMinusOne
                      ? std::to_string(implicit_zero - 1) + " in the zero - 1 convention"
                      : std::to_string(implicit_zero) + " in gptq_v2") +
                 "): wrong checkpoint_format?");
      }
      if (bits == 8 && zero != implicit_zero) {
        // Valid GPTQ, but marlin's INT8 has only the implicit zero 128 (packed_format.h, 5).
        throw Error(ErrorCode::kUnsupported,
                    "GPTQ import: tensor '" + tensors.qzeros.name + "' gives zero " +
                        std::to_string(zero) + " at group " + std::to_string(g) + ", column " +
                        std::to_string(col) + "; 8-bit weights need the zero 128 (INT8 is "
                        "symmetric only, asymmetric INT8 is not supported)");
      }
    }
  }
  if (all_implicit) {
    w.scheme = bits == 8 ? QuantScheme::kSymmetricInt8 : QuantScheme::kSymmetricInt4;
  } else {
    w.scheme = QuantScheme::kAsymmetricInt4;
    w.zeros = std::move(zero_points);
  }
  validate(w);
  return w;
}

}  // namespace marlin::io
