#include "marlin/dtype.h"

namespace marlin {

std::string_view dtype_name(DType t) {
  switch (t) {
    case DType::kFloat16: return "fp16";
    case DType::kBFloat16: return "bf16";
    case DType::kFloat32: return "fp32";
    case DType::kInt32: return "int32";
    case DType::kUInt8: return "uint8";
    case DType::kInt4Packed: return "int4";
    case DType::kInt8Packed: return "int8";
  }
  return "unknown";
}

}  // namespace marlin
