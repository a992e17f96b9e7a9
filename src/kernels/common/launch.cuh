// Kernel launches through cudaLaunchKernelEx, optionally as programmatic dependent launches
// (sm_90+; the kernel side is grid_dependency.cuh). Include from .cu files only.
#pragma once

#include <cuda_runtime.h>

#include <atomic>
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

// Blocks of kKernel (kThreads threads, kSharedBytes of dynamic shared memory) resident per SM on
// `device`, after the shared-memory opt-in it needs (above 48 KiB). The queries run once per
// device, not per launch: the answer depends only on the kernel and the device.
template <auto kKernel, int kThreads, int kSharedBytes>
int resident_blocks_per_sm(int device) {
  constexpr int kMaxDevices = 64;
  static std::atomic<int> known[kMaxDevices] = {};  // 0: not queried yet, else blocks + 1
  if (device < kMaxDevices) {
    const int cached = known[device].load(std::memory_order_acquire);
    if (cached != 0) return cached - 1;
  }
  CUDA_CHECK(cudaFuncSetAttribute(kKernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                  kSharedBytes));
  int blocks = 0;
  CUDA_CHECK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&blocks, kKernel, kThreads,
                                                           kSharedBytes));
  if (device < kMaxDevices) known[device].store(blocks + 1, std::memory_order_release);
  return blocks;
}

}  // namespace marlin::kernels
