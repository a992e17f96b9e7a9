#include "marlin/status.h"

#include <string>

#include "core/cuda_check.h"

namespace marlin {

const char* error_code_name(ErrorCode code) {
  switch (code) {
    case ErrorCode::kOk: return "ok";
    case ErrorCode::kInvalidArgument: return "invalid argument";
    case ErrorCode::kUnsupported: return "unsupported";
    case ErrorCode::kCuda: return "CUDA error";
    case ErrorCode::kIo: return "I/O error";
    case ErrorCode::kInternal: return "internal error";
  }
  return "unknown error";
}

namespace detail {

void throw_cuda_error(cudaError_t status, const char* what, const char* file, int line) {
  throw Error(ErrorCode::kCuda, std::string(what) + " failed at " + file + ":" +
                                    std::to_string(line) + ": " + cudaGetErrorName(status) + " (" +
                                    cudaGetErrorString(status) + ")");
}

}  // namespace detail
}  // namespace marlin
