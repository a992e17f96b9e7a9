#include "marlin/device.h"

#include <cuda_runtime_api.h>

#include "core/cuda_check.h"

namespace marlin {

int cuda_device_count() {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky "no device" status; it is an answer, not a failure
    return 0;
  }
  return count;
}

std::string cuda_unavailable_reason() {
  int count = 0;
  const cudaError_t status = cudaGetDeviceCount(&count);
  if (status != cudaSuccess) {
    cudaGetLastError();
    return cudaGetErrorString(status);
  }
  return count == 0 ? "no CUDA device found" : "";
}

DeviceInfo query_device(int device) {
  cudaDeviceProp props{};
  CUDA_CHECK(cudaGetDeviceProperties(&props, device));
  DeviceInfo info;
  info.index = device;
  info.name = props.name;
  info.sm_count = props.multiProcessorCount;
  info.cc_major = props.major;
  info.cc_minor = props.minor;
  info.max_shared_memory_per_block = static_cast<int>(props.sharedMemPerBlockOptin);
  info.l2_bytes = props.l2CacheSize;
  info.global_memory_bytes = static_cast<long long>(props.totalGlobalMem);
  // (cudaDeviceProp has no memory clock from CUDA 13 on; the attribute stays)
  int memory_khz = 0;
  CUDA_CHECK(cudaDeviceGetAttribute(&memory_khz, cudaDevAttrMemoryClockRate, device));
  info.peak_memory_bytes_per_second = 2.0 * memory_khz * 1e3 * props.memoryBusWidth / 8;
  return info;
}

DeviceInfo current_device() {
  int device = 0;
  CUDA_CHECK(cudaGetDevice(&device));
  return query_device(device);
}

int current_sm_count() {
  int device = 0;
  int sm_count = 0;
  CUDA_CHECK(cudaGetDevice(&device));
  CUDA_CHECK(cudaDeviceGetAttribute(&sm_count, cudaDevAttrMultiProcessorCount, device));
  return sm_count;
}

}  // namespace marlin
