// cuBLAS(Lt) status checking for the benchmarks: a failed call becomes marlin::Error(kCuda) naming
// the call, the file and line, and cuBLAS's own status name and message.
#pragma once

#include <cublasLt.h>

#include <string>

#include "marlin/status.h"

namespace marlin::bench {

inline void check_cublas(cublasStatus_t status, const char* what, const char* file, int line) {
  if (status == CUBLAS_STATUS_SUCCESS) return;
  throw Error(ErrorCode::kCuda, std::string(what) + " failed at " + file + ":" +
                                    std::to_string(line) + ": " + cublasLtGetStatusName(status) +
                                    " (" + cublasLtGetStatusString(status) + ")");
}

}  // namespace marlin::bench

#define CUBLAS_CHECK(call) ::marlin::bench::check_cublas((call), #call, __FILE__, __LINE__)
