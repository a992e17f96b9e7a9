#include "kernels/common/tensor_map.h"

#include <cudaTypedefs.h>  // PFN_cuTensorMapEncodeTiled
#include <cuda_runtime_api.h>

#include <string>

#include "core/cuda_check.h"
#include "marlin/status.h"

namespace marlin::kernels {
namespace {

PFN_cuTensorMapEncodeTiled_v12000 encode_tiled() {
  // (a function-local static: looked up once, thread-safe)
  static const PFN_cuTensorMapEncodeTiled_v12000 function = [] {
    void* address = nullptr;
    cudaDriverEntryPointQueryResult found{};
    CUDA_CHECK(cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", &address, 12000,
                                                cudaEnableDefault, &found));
    if (found != cudaDriverEntryPointSuccess || address == nullptr) {
      throw Error(ErrorCode::kUnsupported,
                  "the CUDA driver has no cuTensorMapEncodeTiled (driver 12.0 or newer needed)");
    }
    return reinterpret_cast<PFN_cuTensorMapEncodeTiled_v12000>(address);
  }();
  return function;
}

// Throws marlin::Error naming `what` (the tensor) when the driver refused to encode its map.
void check_encoded(CUresult result, const std::string& what) {
  if (result != CUDA_SUCCESS) {
    throw Error(ErrorCode::kCuda, "cuTensorMapEncodeTiled refused " + what + " (CUresult " +
                                      std::to_string(static_cast<int>(result)) + ")");
  }
}

}  // namespace

CUtensorMap k_major_swizzle128_map(const void* base, std::int64_t rows, std::int64_t columns,
                                   int box_rows) {
  CUtensorMap map{};
  // Dimension 0 is the contiguous one.
  const cuuint64_t extent[2] = {static_cast<cuuint64_t>(columns), static_cast<cuuint64_t>(rows)};
  const cuuint64_t row_bytes[1] = {static_cast<cuuint64_t>(columns) * 2};
  const cuuint32_t box[2] = {64, static_cast<cuuint32_t>(box_rows)};
  const cuuint32_t step[2] = {1, 1};
  const CUresult result = encode_tiled()(
      &map, CU_TENSOR_MAP_DATA_TYPE_UINT16, 2, const_cast<void*>(base), extent, row_bytes, box,
      step, CU_TENSOR_MAP_INTERLEAVE_NONE, CU_TENSOR_MAP_SWIZZLE_128B,
      CU_TENSOR_MAP_L2_PROMOTION_L2_128B, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
  check_encoded(result, "a " + std::to_string(rows) + " x " + std::to_string(columns) +
                            " matrix");
  return map;
}

CUtensorMap row_chunks_map(const void* base, std::int64_t rows, std::int64_t row_bytes,
                           int box_rows, int box_chunks) {
  if (row_bytes % kChunkBytes != 0) {
    throw Error(ErrorCode::kInternal,
                "row_chunks_map: rows of " + std::to_string(row_bytes) +
                    " bytes are not whole chunks of " + std::to_string(kChunkBytes));
  }
  CUtensorMap map{};
  constexpr int kElementBytes = 8;
  const cuuint64_t extent[3] = {kChunkBytes / kElementBytes,
                                static_cast<cuuint64_t>(row_bytes / kChunkBytes),
                                static_cast<cuuint64_t>(rows)};
  const cuuint64_t strides[2] = {kChunkBytes, static_cast<cuuint64_t>(row_bytes)};
  const cuuint32_t box[3] = {kChunkBytes / kElementBytes, static_cast<cuuint32_t>(box_chunks),
                             static_cast<cuuint32_t>(box_rows)};
  const cuuint32_t step[3] = {1, 1, 1};
  const CUresult result = encode_tiled()(
      &map, CU_TENSOR_MAP_DATA_TYPE_UINT64, 3, const_cast<void*>(base), extent, strides, box,
      step, CU_TENSOR_MAP_INTERLEAVE_NONE, CU_TENSOR_MAP_SWIZZLE_NONE,
      CU_TENSOR_MAP_L2_PROMOTION_L2_256B, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
  check_encoded(result, std::to_string(rows) + " rows of " + std::to_string(row_bytes) +
                            " bytes");
  return map;
}

}  // namespace marlin::kernels
