// AWQ (GEMM packing) checkpoints -> QuantizedMatrix.
//
//   qweight int32 [k, n/8]      word (r, c), nibble i = code of W[r][8c + kAwqOrder[i]]
//   qzeros  int32 [groups, n/8] word (g, c), nibble i = zero of group g, column 8c + kAwqOrder[i]
//   scales  fp16  [groups, n]
//
// kAwqOrder = 0, 2, 4, 6, 1, 3, 5, 7: AWQ's own kernels dequantize two nibbles at a time with one
// shift, which wants even and odd columns in separate halves of the word. Zeros are stored as is.
#include "io/io_util.h"
#include "io/tensor_checks.h"
#include "marlin/io/importers.h"

namespace marlin::io {

namespace {

constexpr const char* kContext = "AWQ import";

// The 8 values of one word, in column order.
void unpack_awq_word(std::uint32_t word, std::uint8_t* columns) {
  for (int i = 0; i < 8; ++i) {
    columns[kAwqOrder[i]] = static_cast<std::uint8_t>((word >> (4 * i)) & 0xF);
  }
}

}  // namespace

QuantizedMatrix import_awq(const AwqTensors& tensors, int group_size) {
  const TensorData& qweight = tensors.qweight;
  detail::expect_dtype(qweight, {StDType::kI32}, kContext);
  detail::expect_rank(qweight, 2, kContext);
  const int k = detail::checked_dim(qweight.shape[0], qweight, "k");
  const int n = detail::checked_dim(qweight.shape[1] * 8, qweight, "n");
  require(group_size == kPerChannel || group_size > 0,
          "AWQ import: group_size=" + std::to_string(group_size) + " must be positive or -1");
  const int rows_per_group = group_size == kPerChannel ? k : group_size;
  if (k % rows_per_group != 0) {
    throw_io(std::string(kContext) + ": tensor '" + qweight.name + "' gives k=" +
             std::to_string(k) + ", not a multiple of group_size=" + std::to_string(group_size));
  }
  const auto groups = static_cast<std::uint64_t>(k / rows_per_group);
  detail::expect_dtype(tensors.scales, {StDType::kF16, StDType::kBF16}, kContext);
  detail::expect_shape(tensors.scales, {groups, static_cast<std::uint64_t>(n)}, kContext);
  detail::expect_dtype(tensors.qzeros, {StDType::kI32}, kContext);
  detail::expect_shape(tensors.qzeros, {groups, static_cast<std::uint64_t>(n / 8)}, kContext);

  QuantizedMatrix w;
  w.scheme = QuantScheme::kAsymmetricInt4;
  w.k = k;
  w.n = n;
  w.group_size = group_size;
  w.q.resize(static_cast<std::size_t>(k) * n);
  for (std::size_t word = 0; word < w.q.size() / 8; ++word) {
    unpack_awq_word(detail::word_at(qweight, word), &w.q[8 * word]);
  }
  w.zeros.resize(static_cast<std::size_t>(groups) * n);
  for (std::size_t word = 0; word < w.zeros.size() / 8; ++word) {
    unpack_awq_word(detail::word_at(tensors.qzeros, word), &w.zeros[8 * word]);
  }
  w.scales = tensor_to_floats(tensors.scales);
  w.scale_dtype = detail::scale_dtype_for(tensors.scales, w.scales);
  validate(w);
  return w;
}

}  // namespace marlin::io
