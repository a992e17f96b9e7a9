// Checks and element access for tensors read from untrusted checkpoints (importers, checkpoint
// reader). Every failure is marlin::Error(kIo) naming the tensor, what it is and what was expected.
#pragma once

#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <string>
#include <vector>

#include "marlin/dtype.h"
#include "marlin/io/safetensors.h"

namespace marlin::io::detail {

void expect_dtype(const TensorData& tensor, std::initializer_list<StDType> allowed,
                  const std::string& context);
void expect_shape(const TensorData& tensor, const std::vector<std::uint64_t>& shape,
                  const std::string& context);
void expect_rank(const TensorData& tensor, std::size_t rank, const std::string& context);

// Element `index` of an int32 tensor as raw bits (little-endian files on little-endian hosts).
inline std::uint32_t word_at(const TensorData& tensor, std::size_t index) {
  std::uint32_t word;
  std::memcpy(&word, tensor.data + 4 * index, 4);
  return word;
}

// fp16/bf16 scale tensors keep their type; fp32 ones become fp16 (or bf16) if every value is
// exactly representable there, else an error.
DType scale_dtype_for(const TensorData& scales, const std::vector<float>& values);

// A k x n dimension from a tensor shape, checked to fit an int.
int checked_dim(std::uint64_t value, const TensorData& tensor, const char* what);

}  // namespace marlin::io::detail
