// Kernel launches through cudaLaunchKernelEx, optionally as programmatic dependent launches
// (sm_90+; the kernel side is grid_dependency.cuh). Include from .cu files only.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>

#include "core/cuda_check.h"

namespace marlin::kernels {

// kernel<<<grid, block, shared_bytes, stream>>>(args...), with the programmatic stream
// serialization attribute when `programmatic` (the caller checks the device supports it).
template <class... Params, class... Args>
void launch_kernel(void (*kernel)(Params...), dim3 grid, dim3 block, std::size_t shared_bytes,
                   bool programmatic, cudaStream_t stream, Args... args) {
  cudaLaunchConfig_t config{};
  config.gridDim = grid;
  config.blockDim = block;
  config.dynamicSmemBytes = shared_bytes;
  config.stream = stream;
  cudaLaunchAttribute attribute{};
  attribute.id = cudaLaunchAttributeProgrammaticStreamSerialization;
  attribute.val.programmaticStreamSerializationAllowed = 1;
  if (programmatic) {
    config.attrs = &attribute;
    config.numAttrs = 1;
  }
  CUDA_CHECK(cudaLaunchKernelEx(&config, kernel, args...));
}

}  // namespace marlin::kernels
