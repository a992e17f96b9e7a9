// What marlin needs to know about a CUDA device to pick and size kernels.
#pragma once

#include <string>

namespace marlin {

struct DeviceInfo {
  int index = -1;
  std::string name;
  int sm_count = 0;
  int cc_major = 0;
  int cc_minor = 0;
  int max_shared_memory_per_block = 0;  // opt-in limit, bytes
  long long l2_bytes = 0;
  long long global_memory_bytes = 0;
  // Peak memory bandwidth, bytes per second: two transfers a memory clock over the bus; 0 where
  // the device reports neither.
  double peak_memory_bytes_per_second = 0;

  int compute_capability() const { return cc_major * 10 + cc_minor; }
};

// Number of CUDA devices; 0 (never an error) when there is no driver or no GPU.
int cuda_device_count();
// Why no device is usable, in one line ("no CUDA driver", "no GPU"), or "" when there is one.
std::string cuda_unavailable_reason();
// Properties of `device`; throws marlin::Error(kCuda) when it cannot be queried.
DeviceInfo query_device(int device);
// Properties of the current device.
DeviceInfo current_device();
// SM count of the current device: one attribute query, cheap enough for every launch.
int current_sm_count();

}  // namespace marlin
