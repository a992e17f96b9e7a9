// compressed-tensors "pack-quantized" checkpoints -> QuantizedMatrix.
//
//   weight_packed      int32 [n, ceil(k/8)]  word (j, c), nibble i = (v + 8) for W[8c + i][j]
//   weight_scale       [n, groups]           (transposed relative to our groups x n)
//   weight_zero_point  optional, signed      [n, groups], or packed along n: int32 [ceil(n/8), groups]
//   weight_shape       optional int [2]      {n, k}: the true k when k is not a multiple of 8
//   weight_g_idx       optional int32 [k]
//
// Values v are signed in [-8, 7] and dequantize as (v - zero_point) * scale; our unsigned code is
// q = v + 8 = the stored nibble, and our zero is zero_point + 8 (8 when there is no zero point).
#include "io/io_util.h"
#include "io/tensor_checks.h"
#include "marlin/io/importers.h"

namespace marlin::io {

namespace {

constexpr const char* kContext = "compressed-tensors import";

// Zero points as our unsigned zeros, groups x n.
std::vector<std::uint8_t> read_zero_points(const TensorData& tensor, int n, int groups) {
  std::vector<std::uint8_t> zeros(static_cast<std::size_t>(groups) * n);
  const auto n64 = static_cast<std::uint64_t>(n);
  const auto groups64 = static_cast<std::uint64_t>(groups);
  if (tensor.shape == std::vector<std::uint64_t>{n64, groups64}) {
    const std::vector<std::int64_t> values = tensor_to_ints(tensor);
    for (int j = 0; j < n; ++j) {
      for (int g = 0; g < groups; ++g) {
        const std::int64_t value = values[static_cast<std::size_t>(j) * groups + g];
        if (value < -8 || value > 7) {
          throw_io(std::string(kContext) + ": tensor '" + tensor.name + "' holds zero point " +
                   std::to_string(value) + " (row " + std::to_string(j) +
                   "), outside the signed 4-bit range [-8, 7]");
        }
        zeros[static_cast<std::size_t>(g) * n + j] = static_cast<std::uint8_t>(value + 8);
      }
    }
    return zeros;
  }
  const std::uint64_t packed_rows = (n64 + 7) / 8;
  if (tensor.dtype == StDType::kI32 && tensor.shape == std::vector<std::uint64_t>{packed_rows, groups64}) {
    for (std::uint64_t word_row = 0; word_row < packed_rows; ++word_row) {
      for (int g = 0; g < groups; ++g) {
        const std::uint32_t word = detail::word_at(tensor, word_row * groups64 + g);
        for (int i = 0; i < 8; ++i) {
          const std::uint64_t j = 8 * word_row + i;
          if (j < n64) {
            zeros[static_cast<std::size_t>(g) * n + j] =
                static_cast<std::uint8_t>((word >> (4 * i)) & 0xF);
          }
        }
      }
    }
    return zeros;
  }
  throw_io(std::string(kContext) + ": tensor '" + tensor.name + "' is " + tensor.describe() +
           "; expected [n=" + std::to_string(n) + ", groups=" + std::to_string(groups) +
           "] or int32 [" + std::to_string(packed_rows) + ", " + std::to_string(groups) + "]");
}

}  // namespace

QuantizedMatrix import_compressed_tensors(const CompressedTensors& tensors, int group_size) {
  const TensorData& packed = tensors.weight_packed;
  detail::expect_dtype(packed, {StDType::kI32}, kContext);
  detail::expect_rank(packed, 2, kContext);
  const int n = detail::checked_dim(packed.shape[0], packed, "n");
  int k = detail::checked_dim(packed.shape[1] * 8, packed, "k");
  if (tensors.weight_shape) {
    const std::vector<std::int64_t> shape = tensor_to_ints(*tensors.weight_shape);
    if (shape.size() != 2 || shape[0] != n || shape[1] <= k - 8 || shape[1] > k) {
      throw_io(std::string(kContext) + ": tensor '" + tensors.weight_shape->name +
               "' does not match '" + packed.name + "' (" + packed.describe() +
               "); expected {n, k} with k/8 rounded up = packed columns");
    }
    k = static_cast<int>(shape[1]);
  }
  require(group_size == kPerChannel || group_size > 0,
          "compressed-tensors import: group_size=" + std::to_string(group_size) +
              " must be positive or -1");
  const int rows_per_group = group_size == kPerChannel ? k : group_size;
  const int groups = (k + rows_per_group - 1) / rows_per_group;
  detail::expect_dtype(tensors.weight_scale, {StDType::kF16, StDType::kBF16, StDType::kF32},
                       kContext);
  detail::expect_shape(tensors.weight_scale, {static_cast<std::uint64_t>(n),
                                              static_cast<std::uint64_t>(groups)}, kContext);

  QuantizedMatrix w;
  w.k = k;
  w.n = n;
  w.group_size = group_size;
  w.q.resize(static_cast<std::size_t>(k) * n);
  const std::size_t words_per_row = packed.shape[1];
  for (int j = 0; j < n; ++j) {
    for (int row = 0; row < k; ++row) {
      const std::uint32_t word =
          detail::word_at(packed, static_cast<std::size_t>(j) * words_per_row + row / 8);
      w.q[static_cast<std::size_t>(row) * n + j] =
          static_cast<std::uint8_t>((word >> (4 * (row % 8))) & 0xF);
    }
  }

  const std::vector<float> scales_n_by_groups = tensor_to_floats(tensors.weight_scale);
  w.scales.resize(scales_n_by_groups.size());
  for (int j = 0; j < n; ++j) {
    for (int g = 0; g < groups; ++g) {
      w.scales[static_cast<std::size_t>(g) * n + j] =
          scales_n_by_groups[static_cast<std::size_t>(j) * groups + g];
    }
  }
  w.scale_dtype = detail::scale_dtype_for(tensors.weight_scale, w.scales);

  w.scheme = QuantScheme::kSymmetricInt4;
  if (tensors.weight_zero_point) {
    std::vector<std::uint8_t> zeros = read_zero_points(*tensors.weight_zero_point, n, groups);
    bool all_eight = true;
    for (std::uint8_t zero : zeros) all_eight = all_eight && zero == 8;
    if (!all_eight) {
      w.scheme = QuantScheme::kAsymmetricInt4;
      w.zeros = std::move(zeros);
    }
  }
  if (tensors.weight_g_idx) {
    const std::vector<std::int64_t> g_idx = tensor_to_ints(*tensors.weight_g_idx);
    detail::expect_shape(*tensors.weight_g_idx, {static_cast<std::uint64_t>(k)}, kContext);
    bool trivial = k % rows_per_group == 0;
    for (int row = 0; row < k; ++row) {
      const std::int64_t group = g_idx[static_cast<std::size_t>(row)];
      if (group < 0 || group >= groups) {
        throw_io(std::string(kContext) + ": tensor '" + tensors.weight_g_idx->name + "' entry " +
                 std::to_string(row) + " is " + std::to_string(group) + ", outside [0, " +
                 std::to_string(groups) + ")");
      }
      trivial = trivial && group == row / rows_per_group;
    }
    if (!trivial) w.g_idx.assign(g_idx.begin(), g_idx.end());
  } else if (k % rows_per_group != 0) {
    // A partial last group: express it with an explicit (trivial) g_idx.
    w.g_idx.resize(static_cast<std::size_t>(k));
    for (int row = 0; row < k; ++row) w.g_idx[static_cast<std::size_t>(row)] = row / rows_per_group;
  }
  validate(w);
  return w;
}

}  // namespace marlin::io
