// How the benchmarks time a kernel, one method for every kernel of a run:
//
//   - the caller's launch(i) enqueues launch number i; the caller makes launch i read weight copy
//     i % copies, with enough copies that the weights come from DRAM, not L2 (see
//     rotation_copies);
//   - a sample is R = launches_per_sample consecutive launches, captured once into a CUDA graph
//     (or, with kLoop, enqueued as a plain loop), bracketed by two CUDA events;
//   - one warm-up sample first, then `samples` timed ones; the result is the MEDIAN over samples
//     of (sample time / R), in microseconds.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <functional>
#include <string>

namespace marlin::bench {

enum class TimingMethod { kGraph, kLoop };

std::string timing_method_name(TimingMethod method);  // "cuda-graph" / "loop"

struct TimingPlan {
  TimingMethod method = TimingMethod::kGraph;
  int launches_per_sample = 50;  // R
  int samples = 10;
};

// Enqueues launch number `index` (0, 1, 2, ...) on `stream`.
using LaunchFn = std::function<void(int index, cudaStream_t stream)>;

// Median time of one launch in microseconds (see above). Throws marlin::Error on any CUDA error,
// including an operation the launch performs that a graph capture does not allow.
double median_launch_us(const LaunchFn& launch, const TimingPlan& plan, cudaStream_t stream);

// Whether `launch` can be captured into a CUDA graph; `why` gets the error when it cannot.
bool can_capture(const LaunchFn& launch, cudaStream_t stream, std::string* why);

// Copies of a buffer of `bytes` to rotate over so that, between two reads of one copy, more than
// twice the L2 size of other copies is read: max(2, ceil(2 * l2 / bytes)) + 1, at most
// max_total_bytes / bytes (but never fewer than 2).
int rotation_copies(std::size_t bytes, std::size_t l2_bytes, std::size_t max_total_bytes);

// Device-to-device copy bandwidth in TB/s (bytes read + bytes written per second, 1 TB = 1e12 B):
// the median of `samples` cudaMemcpyAsync calls of `bytes`.
double device_copy_tb_s(std::size_t bytes, int samples, cudaStream_t stream);

}  // namespace marlin::bench
