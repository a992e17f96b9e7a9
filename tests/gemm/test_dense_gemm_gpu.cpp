// The dense kernel against the fp64 reference on the dequantized weights: fresh random data,
// outputs poisoned with NaN first, every element checked.
#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "core/cuda_check.h"
#include "gemm/dense_dispatch.h"
#include "gpu_reference.h"
#include "gpu_test.h"
#include "marlin/gemm.h"
#include "marlin/half.h"
#include "marlin/pack.h"

namespace marlin {
namespace {

template <class T>
class DeviceBuffer {
 public:
  explicit DeviceBuffer(std::size_t count) : count_(count) {
    CUDA_CHECK(cudaMalloc(reinterpret_cast<void**>(&data_), count * sizeof(T)));
  }
  ~DeviceBuffer() { cudaFree(data_); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  T* get() const { return data_; }
  void upload(const std::vector<T>& host) {
    CUDA_CHECK(cudaMemcpy(data_, host.data(), count_ * sizeof(T), cudaMemcpyHostToDevice));
  }
  std::vector<T> download() const {
    std::vector<T> host(count_);
    CUDA_CHECK(cudaMemcpy(host.data(), data_, count_ * sizeof(T), cudaMemcpyDeviceToHost));
    return host;
  }
  void poison() { CUDA_CHECK(cudaMemset(data_, 0xff, count_ * sizeof(T))); }  // fp16 NaN

 private:
  T* data_ = nullptr;
  std::size_t count_;
};

// Random codes and fp16 scales: every code value occurs, dequantized weights are exact.
QuantizedMatrix random_weights(int k, int n, int group_size, std::mt19937& rng) {
  QuantizedMatrix w;
  w.k = k;
  w.n = n;
  w.group_size = group_size;
  w.q.resize(static_cast<std::size_t>(k) * n);
  std::uniform_int_distribution<int> code(0, 15);
  for (auto& q : w.q) q = static_cast<std::uint8_t>(code(rng));
  std::uniform_real_distribution<float> scale(0.002f, 0.02f);
  w.scales.resize(static_cast<std::size_t>(w.groups()) * n);
  for (auto& s : w.scales) s = half_to_float(float_to_half(scale(rng)));
  return w;
}

struct Problem {
  int m;
  int k;
  int n;
  int group_size;
};

std::string describe(const Problem& p) {
  return "m=" + std::to_string(p.m) + " k=" + std::to_string(p.k) + " n=" + std::to_string(p.n) +
         " group=" + std::to_string(p.group_size);
}

// Everything a problem needs on the device, plus its fp64 reference result.
struct Fixture {
  Problem problem;
  DeviceMatrix weights;
  DeviceBuffer<std::uint16_t> a;
  std::vector<double> reference;

  Fixture(const Problem& p, unsigned seed)
      : problem(p), a(static_cast<std::size_t>(p.m) * p.k) {
    std::mt19937 rng(seed);
    const QuantizedMatrix quantized = random_weights(p.k, p.n, p.group_size, rng);
    weights = upload(pack(quantized));
    std::vector<std::uint16_t> a_host(static_cast<std::size_t>(p.m) * p.k);
    std::uniform_real_distribution<float> value(-1.0f, 1.0f);
    for (auto& x : a_host) x = float_to_half(value(rng)).bits;
    a.upload(a_host);

    const std::vector<float> dequantized = dequantize(quantized);
    DeviceBuffer<float> w(dequantized.size());
    w.upload(dequantized);
    DeviceBuffer<double> c(static_cast<std::size_t>(p.m) * p.n);
    testing::reference_gemm_fp64_gpu(a.get(), w.get(), c.get(), p.m, p.n, p.k, nullptr);
    CUDA_CHECK(cudaDeviceSynchronize());
    reference = c.download();
  }

  void run(DeviceBuffer<std::uint16_t>& c, const Workspace& workspace, cudaStream_t stream) {
    GemmArgs args;
    args.a = a.get();
    args.m = problem.m;
    args.weights = weights.view();
    args.c = c.get();
    args.workspace = workspace.data();
    args.workspace_bytes = workspace.bytes();
    gemm(args, stream);
  }
};

// Every element written, finite, and close: relative Frobenius error < 1e-3 and each element
// within 4e-3 (|ref| + rms(ref)) (fp16 output rounding and fp16 partial sums stay far below).
void expect_matches_reference(const std::vector<std::uint16_t>& c, const std::vector<double>& ref,
                              const std::string& what) {
  ASSERT_EQ(c.size(), ref.size());
  double error_sq = 0.0;
  double ref_sq = 0.0;
  for (double r : ref) ref_sq += r * r;
  const double rms = std::sqrt(ref_sq / static_cast<double>(ref.size()));
  ASSERT_GT(rms, 1e-3) << what << ": reference is (nearly) zero, the test would prove nothing";
  std::size_t bad = 0;
  std::size_t first_bad = 0;
  for (std::size_t i = 0; i < c.size(); ++i) {
    const double value = half_to_float(Half{c[i]});
    const double diff = value - ref[i];
    if (!std::isfinite(value) || std::fabs(diff) > 4e-3 * (std::fabs(ref[i]) + rms)) {
      if (bad++ == 0) first_bad = i;
    }
    error_sq += std::isfinite(diff) ? diff * diff : 1e30;
  }
  const double relative = std::sqrt(error_sq / ref_sq);
  EXPECT_EQ(bad, 0u) << what << ": " << bad << " bad elements, first at " << first_bad
                     << " (got " << half_to_float(Half{c[first_bad]}) << ", want "
                     << ref[first_bad] << ")";
  EXPECT_LT(relative, 1e-3) << what << ": relative Frobenius error " << relative;
}

void check_problem(const Problem& p, unsigned seed) {
  Fixture fixture(p, seed);
  DeviceBuffer<std::uint16_t> c(static_cast<std::size_t>(p.m) * p.n);
  c.poison();
  Workspace workspace(p.m, p.n);
  fixture.run(c, workspace, nullptr);
  CUDA_CHECK(cudaDeviceSynchronize());
  expect_matches_reference(c.download(), fixture.reference, describe(p));
  // The kernel must hand the arrival counters back zeroed for the next call.
  int device = 0;
  int sm_count = 0;
  CUDA_CHECK(cudaGetDevice(&device));
  CUDA_CHECK(cudaDeviceGetAttribute(&sm_count, cudaDevAttrMultiProcessorCount, device));
  const auto layout = gemm_detail::dense_workspace_layout(p.m, p.n, sm_count);
  ASSERT_LE(layout.total(), workspace.bytes());
  std::vector<int> counters(layout.counters_bytes / sizeof(int));
  CUDA_CHECK(cudaMemcpy(counters.data(), workspace.data(), layout.counters_bytes,
                        cudaMemcpyDeviceToHost));
  for (std::size_t i = 0; i < counters.size(); ++i)
    ASSERT_EQ(counters[i], 0) << describe(p) << " arrival counter " << i;
}

class DenseGemmShapes : public ::testing::TestWithParam<Problem> {};

TEST_P(DenseGemmShapes, MatchesFp64Reference) {
  MARLIN_REQUIRE_GPU();
  check_problem(GetParam(), 1234u + static_cast<unsigned>(GetParam().m));
}

std::vector<Problem> shape_sweep() {
  std::vector<Problem> problems;
  // Every batch size 1..16 and the awkward ones around tile edges, on a real layer shape.
  for (int m = 1; m <= 16; ++m) problems.push_back({m, 4096, 4096, 128});
  for (int m : {17, 31, 32, 33, 47, 48, 49, 63, 64, 65, 100, 128, 256, 1000, 4096})
    problems.push_back({m, 4096, 4096, 128});
  // Llama-2-7B layers (and per-channel scales), a few m each.
  for (int m : {1, 16, 64, 200}) {
    problems.push_back({m, 4096, 12288, 128});
    problems.push_back({m, 4096, 22016, 128});
    problems.push_back({m, 11008, 4096, 128});
    problems.push_back({m, 4096, 4096, kPerChannel});
  }
  // Small and odd shapes: fractions of an SM wave, n not a multiple of 256, one k tile.
  for (int m : {1, 7, 33, 77}) {
    problems.push_back({m, 128, 128, 128});
    problems.push_back({m, 256, 384, 128});
    problems.push_back({m, 1152, 640, 128});
    problems.push_back({m, 384, 1280, kPerChannel});
    problems.push_back({m, 512, 256, 32});
    problems.push_back({m, 768, 512, 64});
  }
  return problems;
}

INSTANTIATE_TEST_SUITE_P(Sweep, DenseGemmShapes, ::testing::ValuesIn(shape_sweep()),
                         [](const ::testing::TestParamInfo<Problem>& param_info) {
                           const Problem& p = param_info.param;
                           return "m" + std::to_string(p.m) + "_k" + std::to_string(p.k) + "_n" +
                                  std::to_string(p.n) + "_g" +
                                  (p.group_size < 0 ? std::string("pc")
                                                    : std::to_string(p.group_size));
                         });

TEST(DenseGemm, DeterministicBitwise) {
  MARLIN_REQUIRE_GPU();
  for (const Problem& p : {Problem{7, 4096, 4096, 128}, Problem{100, 11008, 4096, 128}}) {
    Fixture fixture(p, 99u);
    Workspace workspace(p.m, p.n);
    DeviceBuffer<std::uint16_t> first(static_cast<std::size_t>(p.m) * p.n);
    DeviceBuffer<std::uint16_t> second(static_cast<std::size_t>(p.m) * p.n);
    first.poison();
    second.poison();
    fixture.run(first, workspace, nullptr);
    fixture.run(second, workspace, nullptr);
    CUDA_CHECK(cudaDeviceSynchronize());
    EXPECT_EQ(first.download(), second.download()) << describe(p);
    expect_matches_reference(first.download(), fixture.reference, describe(p));
  }
}

TEST(DenseGemm, TwoStreamsTwoWorkspacesAtOnce) {
  MARLIN_REQUIRE_GPU();
  const Problem p1{16, 4096, 4096, 128};
  const Problem p2{64, 4096, 12288, 128};
  Fixture f1(p1, 5u);
  Fixture f2(p2, 6u);
  Workspace w1(p1.m, p1.n);
  Workspace w2(p2.m, p2.n);
  DeviceBuffer<std::uint16_t> c1(static_cast<std::size_t>(p1.m) * p1.n);
  DeviceBuffer<std::uint16_t> c2(static_cast<std::size_t>(p2.m) * p2.n);
  c1.poison();
  c2.poison();
  cudaStream_t s1;
  cudaStream_t s2;
  CUDA_CHECK(cudaStreamCreateWithFlags(&s1, cudaStreamNonBlocking));
  CUDA_CHECK(cudaStreamCreateWithFlags(&s2, cudaStreamNonBlocking));
  for (int repeat = 0; repeat < 20; ++repeat) {
    f1.run(c1, w1, s1);
    f2.run(c2, w2, s2);
  }
  CUDA_CHECK(cudaStreamSynchronize(s1));
  CUDA_CHECK(cudaStreamSynchronize(s2));
  expect_matches_reference(c1.download(), f1.reference, describe(p1));
  expect_matches_reference(c2.download(), f2.reference, describe(p2));
  CUDA_CHECK(cudaStreamDestroy(s1));
  CUDA_CHECK(cudaStreamDestroy(s2));
}

TEST(DenseGemm, CudaGraphCaptureReplays) {
  MARLIN_REQUIRE_GPU();
  const Problem p{8, 4096, 4096, 128};
  Fixture fixture(p, 7u);
  Workspace workspace(p.m, p.n);
  DeviceBuffer<std::uint16_t> c(static_cast<std::size_t>(p.m) * p.n);
  c.poison();
  cudaStream_t stream;
  CUDA_CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  cudaGraph_t graph;
  CUDA_CHECK(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal));
  fixture.run(c, workspace, stream);
  CUDA_CHECK(cudaStreamEndCapture(stream, &graph));
  cudaGraphExec_t exec;
  CUDA_CHECK(cudaGraphInstantiate(&exec, graph, 0));
  for (int i = 0; i < 3; ++i) CUDA_CHECK(cudaGraphLaunch(exec, stream));
  CUDA_CHECK(cudaStreamSynchronize(stream));
  expect_matches_reference(c.download(), fixture.reference, describe(p));
  CUDA_CHECK(cudaGraphExecDestroy(exec));
  CUDA_CHECK(cudaGraphDestroy(graph));
  CUDA_CHECK(cudaStreamDestroy(stream));
}

}  // namespace
}  // namespace marlin
