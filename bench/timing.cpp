#include "timing.h"

#include <algorithm>
#include <exception>
#include <vector>

#include "core/cuda_check.h"
#include "cuda_resources.h"
#include "marlin/status.h"

namespace marlin::bench {
namespace {

// An instantiated graph of R launches; owns both the graph and its executable.
class LaunchGraph {
 public:
  LaunchGraph(const LaunchFn& launch, int count, cudaStream_t stream) {
    CUDA_CHECK(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal));
    try {
      for (int i = 0; i < count; ++i) launch(i, stream);
    } catch (...) {
      // Leave the stream usable: end the (invalidated) capture and drop what it built.
      cudaGraph_t broken = nullptr;
      cudaStreamEndCapture(stream, &broken);
      if (broken != nullptr) cudaGraphDestroy(broken);
      cudaGetLastError();
      throw;
    }
    CUDA_CHECK(cudaStreamEndCapture(stream, &graph_));
    try {
      CUDA_CHECK(cudaGraphInstantiate(&exec_, graph_, 0));
    } catch (...) {
      cudaGraphDestroy(graph_);
      throw;
    }
  }
  ~LaunchGraph() {
    cudaGraphExecDestroy(exec_);
    cudaGraphDestroy(graph_);
  }
  LaunchGraph(const LaunchGraph&) = delete;
  LaunchGraph& operator=(const LaunchGraph&) = delete;

  void launch(cudaStream_t stream) const { CUDA_CHECK(cudaGraphLaunch(exec_, stream)); }

 private:
  cudaGraph_t graph_ = nullptr;
  cudaGraphExec_t exec_ = nullptr;
};

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const std::size_t mid = values.size() / 2;
  return values.size() % 2 == 1 ? values[mid] : 0.5 * (values[mid - 1] + values[mid]);
}

// Median over `samples` of the milliseconds between two events around enqueue(), after one
// untimed call of enqueue().
template <typename Enqueue>
double median_sample_ms(const Enqueue& enqueue, int samples, cudaStream_t stream) {
  CudaEvent start;
  CudaEvent stop;
  enqueue();  // warm-up: clocks, caches of the driver and of the libraries, lazy module loading
  CUDA_CHECK(cudaStreamSynchronize(stream));
  std::vector<double> times_ms;
  for (int sample = 0; sample < samples; ++sample) {
    CUDA_CHECK(cudaEventRecord(start.get(), stream));
    enqueue();
    CUDA_CHECK(cudaEventRecord(stop.get(), stream));
    CUDA_CHECK(cudaEventSynchronize(stop.get()));
    float elapsed_ms = 0.0f;
    CUDA_CHECK(cudaEventElapsedTime(&elapsed_ms, start.get(), stop.get()));
    times_ms.push_back(static_cast<double>(elapsed_ms));
  }
  return median(times_ms);
}

}  // namespace

std::string timing_method_name(TimingMethod method) {
  return method == TimingMethod::kGraph ? "cuda-graph" : "loop";
}

double median_launch_us(const LaunchFn& launch, const TimingPlan& plan, cudaStream_t stream) {
  require(plan.launches_per_sample > 0 && plan.samples > 0,
          "timing: launches per sample (" + std::to_string(plan.launches_per_sample) +
              ") and samples (" + std::to_string(plan.samples) + ") must be positive");
  const int count = plan.launches_per_sample;
  double sample_ms = 0.0;
  if (plan.method == TimingMethod::kGraph) {
    const LaunchGraph graph(launch, count, stream);
    sample_ms = median_sample_ms([&] { graph.launch(stream); }, plan.samples, stream);
  } else {
    sample_ms = median_sample_ms(
        [&] {
          for (int i = 0; i < count; ++i) launch(i, stream);
        },
        plan.samples, stream);
  }
  return sample_ms * 1000.0 / count;
}

bool can_capture(const LaunchFn& launch, cudaStream_t stream, std::string* why) {
  try {
    const LaunchGraph graph(launch, 2, stream);
    graph.launch(stream);
    CUDA_CHECK(cudaStreamSynchronize(stream));
    return true;
  } catch (const std::exception& error) {
    if (why != nullptr) *why = error.what();
    return false;
  }
}

int rotation_copies(std::size_t bytes, std::size_t l2_bytes, std::size_t max_total_bytes) {
  require(bytes > 0, "rotation_copies: buffer size must be positive");
  const std::size_t to_cover = 2 * l2_bytes;
  const std::size_t needed = std::max<std::size_t>(2, (to_cover + bytes - 1) / bytes) + 1;
  const std::size_t affordable = std::max<std::size_t>(2, max_total_bytes / bytes);
  return static_cast<int>(std::min(needed, affordable));
}

double device_copy_tb_s(std::size_t bytes, int samples, cudaStream_t stream) {
  DeviceBuffer source(bytes);
  DeviceBuffer destination(bytes);
  CUDA_CHECK(cudaMemsetAsync(source.data(), 0x3c, bytes, stream));
  CUDA_CHECK(cudaMemsetAsync(destination.data(), 0, bytes, stream));
  const double ms = median_sample_ms(
      [&] {
        CUDA_CHECK(cudaMemcpyAsync(destination.data(), source.data(), bytes,
                                   cudaMemcpyDeviceToDevice, stream));
      },
      samples, stream);
  return 2.0 * static_cast<double>(bytes) / (ms * 1e-3) / 1e12;
}

}  // namespace marlin::bench
