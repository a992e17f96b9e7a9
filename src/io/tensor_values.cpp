// Converting checkpoint tensors to plain values, and the checks the importers share.
#include <cmath>

#include "io/io_util.h"
#include "io/tensor_checks.h"
#include "marlin/half.h"
#include "marlin/io/importers.h"

namespace marlin::io {

namespace detail {

namespace {

std::string shape_text(const std::vector<std::uint64_t>& shape) {
  std::string text = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) text += (i ? ", " : "") + std::to_string(shape[i]);
  return text + "]";
}

}  // namespace

void expect_dtype(const TensorData& tensor, std::initializer_list<StDType> allowed,
                  const std::string& context) {
  std::string names;
  for (StDType dtype : allowed) {
    if (dtype == tensor.dtype) return;
    names += (names.empty() ? "" : " or ") + std::string(st_dtype_name(dtype));
  }
  throw_io(context + ": tensor '" + tensor.name + "' is " + tensor.describe() + "; expected " +
           names);
}

void expect_shape(const TensorData& tensor, const std::vector<std::uint64_t>& shape,
                  const std::string& context) {
  if (tensor.shape != shape) {
    throw_io(context + ": tensor '" + tensor.name + "' has shape " + shape_text(tensor.shape) +
             "; expected " + shape_text(shape));
  }
}

void expect_rank(const TensorData& tensor, std::size_t rank, const std::string& context) {
  if (tensor.shape.size() != rank) {
    throw_io(context + ": tensor '" + tensor.name + "' has shape " + shape_text(tensor.shape) +
             "; expected " + std::to_string(rank) + " dimensions");
  }
}

int checked_dim(std::uint64_t value, const TensorData& tensor, const char* what) {
  if (value == 0 || value > (1u << 30)) {
    throw_io("tensor '" + tensor.name + "' (" + tensor.describe() + ") gives " + what + "=" +
             std::to_string(value) + ", outside [1, 2^30]");
  }
  return static_cast<int>(value);
}

DType scale_dtype_for(const TensorData& scales, const std::vector<float>& values) {
  if (scales.dtype == StDType::kF16) return DType::kFloat16;
  if (scales.dtype == StDType::kBF16) return DType::kBFloat16;
  bool fits_half = true;
  bool fits_bf16 = true;
  for (float value : values) {
    fits_half = fits_half && half_to_float(float_to_half(value)) == value;
    fits_bf16 = fits_bf16 && bf16_to_float(float_to_bf16(value)) == value;
  }
  if (fits_half) return DType::kFloat16;
  if (fits_bf16) return DType::kBFloat16;
  throw_io("tensor '" + scales.name + "' (" + scales.describe() +
           ") holds scales that are not exactly representable in fp16 or bf16");
}

}  // namespace detail

std::vector<float> tensor_to_floats(const TensorData& tensor) {
  detail::expect_dtype(tensor, {StDType::kF16, StDType::kBF16, StDType::kF32}, "float values");
  const std::size_t count = static_cast<std::size_t>(tensor.numel());
  std::vector<float> values(count);
  for (std::size_t i = 0; i < count; ++i) {
    if (tensor.dtype == StDType::kF32) {
      std::memcpy(&values[i], tensor.data + 4 * i, 4);
      continue;
    }
    std::uint16_t bits;
    std::memcpy(&bits, tensor.data + 2 * i, 2);
    values[i] = tensor.dtype == StDType::kF16 ? half_to_float(Half{bits})
                                              : bf16_to_float(BFloat16{bits});
  }
  return values;
}

std::vector<std::int64_t> tensor_to_ints(const TensorData& tensor) {
  detail::expect_dtype(tensor, {StDType::kI8, StDType::kU8, StDType::kI32, StDType::kI64},
                       "integer values");
  const std::size_t count = static_cast<std::size_t>(tensor.numel());
  std::vector<std::int64_t> values(count);
  for (std::size_t i = 0; i < count; ++i) {
    switch (tensor.dtype) {
      case StDType::kI8: values[i] = static_cast<std::int8_t>(tensor.data[i]); break;
      case StDType::kU8: values[i] = tensor.data[i]; break;
      case StDType::kI32: {
        std::int32_t value;
        std::memcpy(&value, tensor.data + 4 * i, 4);
        values[i] = value;
        break;
      }
      default: std::memcpy(&values[i], tensor.data + 8 * i, 8); break;
    }
  }
  return values;
}

}  // namespace marlin::io
