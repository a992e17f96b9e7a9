// CUDA error checking for marlin's own sources. Every runtime call goes through CUDA_CHECK, every
// launch is followed by CUDA_CHECK_LAUNCH: an error is never swallowed, it becomes marlin::Error
// naming the call, the file and line, and CUDA's own message.
#pragma once

#include <cuda_runtime_api.h>

#include <string>

#include "marlin/status.h"

namespace marlin::detail {

[[noreturn]] void throw_cuda_error(cudaError_t status, const char* what, const char* file, int line);

inline void check_cuda(cudaError_t status, const char* what, const char* file, int line) {
  if (status != cudaSuccess) throw_cuda_error(status, what, file, line);
}

}  // namespace marlin::detail

#define CUDA_CHECK(call) ::marlin::detail::check_cuda((call), #call, __FILE__, __LINE__)
#define CUDA_CHECK_LAUNCH(kernel_name) \
  ::marlin::detail::check_cuda(cudaGetLastError(), "launch of " kernel_name, __FILE__, __LINE__)
