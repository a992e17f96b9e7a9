// The dense kernel against the fp64 reference on the dequantized weights: fresh random data,
// outputs poisoned with NaN first, every element checked.
#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <vector>

#include "core/cuda_check.h"
#include "gemm/dense_dispatch.h"
#include "gemm_problem.h"
#include "gpu_test.h"
#include "kernels/dense/dense_launch.h"
#include "marlin/device.h"
#include "marlin/gemm.h"

namespace marlin {
namespace {

struct Problem {
  int m;
  int k;
  int n;
  int group_size;
};

// fp16 activations, symmetric INT4 weights, no bias: the kernel's first format.
testing::LayerSpec layer_of(const Problem& p) {
  testing::LayerSpec spec;
  spec.k = p.k;
  spec.n = p.n;
  spec.group_size = p.group_size;
  return spec;
}

void check_problem(const Problem& p, unsigned seed) {
  const testing::QuantizedLayer layer(layer_of(p), testing::ReferenceOn::kGpu, seed);
  testing::GemmBatch batch(layer, p.m, /*accumulate=*/false, seed + 1);
  Workspace workspace(p.m, p.n);
  batch.run(workspace, nullptr);
  CUDA_CHECK(cudaDeviceSynchronize());
  batch.expect_output_matches_reference();
  // The kernel must hand the arrival counters back zeroed for the next call.
  testing::expect_arrival_counters_zero(workspace, p.m, p.n, batch.describe());
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
  for (int m : {1, 16, 24, 64, 200}) {
    problems.push_back({m, 4096, 12288, 128});
    problems.push_back({m, 4096, 22016, 128});
    problems.push_back({m, 11008, 4096, 128});
    problems.push_back({m, 4096, 4096, kPerChannel});
  }
  // Small and odd shapes: fractions of an SM wave, n not a multiple of 256, one k tile; an m of
  // each tiling family (on Hopper, these small layers take the 32-row wgmma tiling at m = 20 and
  // 33, the 64-row one at m = 77 and the 128 x 128 one at m = 200).
  for (int m : {1, 7, 20, 33, 77, 200}) {
    problems.push_back({m, 128, 128, 128});
    problems.push_back({m, 256, 384, 128});
    problems.push_back({m, 1152, 640, 128});
    problems.push_back({m, 384, 1280, kPerChannel});
    problems.push_back({m, 512, 256, 32});
    problems.push_back({m, 768, 512, 64});
  }
  // The last block's slot sum with lanes sharing a position (m <= 2) over a slice shared by ~18
  // blocks (86 k tiles in stripes of 5), and a last n tile of half its columns.
  for (int m : {1, 2}) problems.push_back({m, 11008, 640, 128});
  // Hopper's 256-column wgmma tiling (m = 65..128 with n >= 32768, m > 128 with n >= 8192): a
  // last tile of one 64-column slice, whose three missing slices the warpgroups compute and drop;
  // group 32 changes scales mid-stage.
  problems.push_back({65, 256, 32832, 32});
  problems.push_back({130, 256, 8256, 32});
  // Hopper's large-batch kernel (m >= 40 with its blocks filling their waves of 132 SMs to 60%
  // or more). Above, 11008 x 4096 at m = 200 splits k in 4 shares (a last m tile of 72 rows); k
  // whole: 4096 x 4096 at m = 1000 and 4096, 4096 x 12288 and 4096 x 22016 at m = 200; 64-row
  // tiles: 4096 x 12288 (k in 2 shares) and 4096 x 22016 (k whole) at m = 64. Here, k
  // whole: a last m tile of one row, of 44 rows, groups of 32 (two scale rows a stage), 64 and
  // per-channel; then k in 2 and 3 shares; last, 64-row tiles with a last tile of 41 rows, group
  // 32, k whole.
  problems.push_back({129, 256, 33792, 64});
  problems.push_back({257, 512, 21504, 128});
  problems.push_back({300, 1024, 22528, 32});
  problems.push_back({200, 768, 33280, kPerChannel});
  problems.push_back({256, 8192, 8192, 128});
  problems.push_back({128, 8192, 10240, 128});
  problems.push_back({41, 1024, 33792, 32});
  // Small enough for racecheck with the large-batch kernel forced on (scripts/gpu-check.sh): 2 x 2
  // tiles, k in 2 shares, a last m tile of 2 rows. (Under the rule: the dense kernel.)
  problems.push_back({130, 4096, 512, 64});
  // The same for the 64-row tiles: 2 tiles, k in 2 shares of 32 stages (the ring wraps 4 times).
  problems.push_back({40, 4096, 512, 64});
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
  // (the last two: the large-batch kernel with k in 4 shares, 128-row tiles, and in 2 shares,
  // 64-row tiles, summed in share order)
  for (const Problem& p : {Problem{7, 4096, 4096, 128}, Problem{100, 11008, 4096, 128},
                           Problem{200, 11008, 4096, 128}, Problem{48, 4096, 12288, 128}}) {
    const testing::QuantizedLayer layer(layer_of(p), testing::ReferenceOn::kGpu, 99u);
    testing::GemmBatch batch(layer, p.m, /*accumulate=*/false, 100u);
    Workspace workspace(p.m, p.n);
    batch.run(workspace, nullptr);
    CUDA_CHECK(cudaDeviceSynchronize());
    const std::vector<std::uint16_t> first = batch.output();
    batch.reset_output();
    batch.run(workspace, nullptr);
    CUDA_CHECK(cudaDeviceSynchronize());
    EXPECT_EQ(first, batch.output()) << batch.describe();
    batch.expect_output_matches_reference();
  }
}

TEST(DenseGemm, TwoStreamsTwoWorkspacesAtOnce) {
  MARLIN_REQUIRE_GPU();
  const Problem p1{16, 4096, 4096, 128};
  const Problem p2{64, 4096, 12288, 128};
  const testing::QuantizedLayer layer1(layer_of(p1), testing::ReferenceOn::kGpu, 5u);
  const testing::QuantizedLayer layer2(layer_of(p2), testing::ReferenceOn::kGpu, 6u);
  testing::GemmBatch batch1(layer1, p1.m, /*accumulate=*/false, 15u);
  testing::GemmBatch batch2(layer2, p2.m, /*accumulate=*/false, 16u);
  Workspace w1(p1.m, p1.n);
  Workspace w2(p2.m, p2.n);
  cudaStream_t s1;
  cudaStream_t s2;
  CUDA_CHECK(cudaStreamCreateWithFlags(&s1, cudaStreamNonBlocking));
  CUDA_CHECK(cudaStreamCreateWithFlags(&s2, cudaStreamNonBlocking));
  for (int repeat = 0; repeat < 20; ++repeat) {
    batch1.run(w1, s1);
    batch2.run(w2, s2);
  }
  CUDA_CHECK(cudaStreamSynchronize(s1));
  CUDA_CHECK(cudaStreamSynchronize(s2));
  batch1.expect_output_matches_reference();
  batch2.expect_output_matches_reference();
  CUDA_CHECK(cudaStreamDestroy(s1));
  CUDA_CHECK(cudaStreamDestroy(s2));
}

TEST(DenseGemm, CudaGraphCaptureReplays) {
  MARLIN_REQUIRE_GPU();
  const Problem p{8, 4096, 4096, 128};
  const testing::QuantizedLayer layer(layer_of(p), testing::ReferenceOn::kGpu, 7u);
  testing::GemmBatch batch(layer, p.m, /*accumulate=*/false, 17u);
  Workspace workspace(p.m, p.n);
  cudaStream_t stream;
  CUDA_CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  cudaGraph_t graph;
  CUDA_CHECK(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal));
  batch.run(workspace, stream);
  CUDA_CHECK(cudaStreamEndCapture(stream, &graph));
  cudaGraphExec_t exec;
  CUDA_CHECK(cudaGraphInstantiate(&exec, graph, 0));
  for (int i = 0; i < 3; ++i) CUDA_CHECK(cudaGraphLaunch(exec, stream));
  CUDA_CHECK(cudaStreamSynchronize(stream));
  batch.expect_output_matches_reference();
  CUDA_CHECK(cudaGraphExecDestroy(exec));
  CUDA_CHECK(cudaGraphDestroy(graph));
  CUDA_CHECK(cudaStreamDestroy(stream));
}

// Layer 2 reads layer 1's output. With static_weights it is a programmatic launch (sm_90+): it
// may start while layer 1 still runs and stream its weights, and only its wait keeps it from
// reading C1 before layer 1 has written it (or from touching the shared workspace's counters
// before layer 1 has zeroed them). With act-order weights the gather before layer 2's GEMM is
// the one that must wait. C1 and C2 are poisoned with NaN before every round, so an early read
// shows up in C2. Plain stream order and CUDA graph capture; small and large m.
TEST(DenseGemm, StaticWeightsLaunchWaitsForTheKernelBefore) {
  MARLIN_REQUIRE_GPU();
  testing::LayerSpec first;
  first.k = 8192;
  first.n = 4096;
  const testing::QuantizedLayer layer1(first, testing::ReferenceOn::kGpu, 51u);
  cudaStream_t stream;
  CUDA_CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  for (const bool act_order : {false, true}) {
    testing::LayerSpec second;
    second.k = first.n;
    second.n = 2048;
    second.act_order = act_order;
    const testing::QuantizedLayer layer2(second, testing::ReferenceOn::kGpu, 52u);
    for (const int m : {3, 40}) {
      testing::GemmBatch batch1(layer1, m, /*accumulate=*/false, 53u);
      testing::DeviceBuffer<std::uint16_t> c2(static_cast<std::size_t>(m) * second.n);
      // One workspace for both calls, as on one stream.
      Workspace workspace(m, first.n, act_order ? second.k : 0);
      const auto both_layers = [&] {
        batch1.run(workspace, stream, /*static_weights=*/true);
        GemmArgs args;
        args.a = batch1.output_device().get();
        args.m = m;
        args.weights = layer2.weights();
        args.c = c2.get();
        args.workspace = workspace.view();
        args.static_weights = true;
        gemm(args, stream);
      };
      for (const bool graph : {false, true}) {
        const std::string what = "m=" + std::to_string(m) + (act_order ? " act-order" : "") +
                                 (graph ? " graph" : " stream");
        batch1.reset_output();
        c2.poison();
        if (graph) {
          cudaGraph_t captured;
          CUDA_CHECK(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal));
          both_layers();
          CUDA_CHECK(cudaStreamEndCapture(stream, &captured));
          cudaGraphExec_t exec;
          CUDA_CHECK(cudaGraphInstantiate(&exec, captured, 0));
          CUDA_CHECK(cudaGraphLaunch(exec, stream));
          CUDA_CHECK(cudaStreamSynchronize(stream));
          CUDA_CHECK(cudaGraphExecDestroy(exec));
          CUDA_CHECK(cudaGraphDestroy(captured));
        } else {
          both_layers();
          CUDA_CHECK(cudaStreamSynchronize(stream));
        }
        batch1.expect_output_matches_reference();
        const std::vector<double> want =
            layer2.reference_product(testing::Values16{}, batch1.output_device(), m);
        testing::expect_matches_reference(c2.download(), DType::kFloat16, want,
                                          "layer 2 of a static-weights chain, " + what);
        testing::expect_arrival_counters_zero(workspace, m, first.n, what);
      }
    }
  }
  CUDA_CHECK(cudaStreamDestroy(stream));
}


// How many blocks of each mma.sync tiling share an SM, per format: what the grid is sized for
// (gemm.cpp takes the smaller of this and the configuration's blocks_per_sm). StageLayout
// (dense_format.h) sizes their stages for blocks_per_sm blocks, but the INT8 m <= 16 tiling's
// exact fit (5 stages) leaves no room for the epilogue's 128 bytes of static shared memory, so
// it runs one block an SM; two blocks (the flag passed through __syncthreads_or instead) took
// 1.5-5.6% longer at m = 16 (H100, docs/dense-kernel-notes.md v18). A change that moves either
// fails here. The wgmma tilings are sized a block at a time and are not checked.
TEST(DenseGemm, MmaSyncTilingsRunTheirMeasuredBlocksPerSm) {
  MARLIN_REQUIRE_GPU();
  int device = 0;
  CUDA_CHECK(cudaGetDevice(&device));
  namespace dk = kernels::dense;
  struct Format {
    const char* name;
    const dk::DenseKernelEntry* kernels;
    bool int8;
  };
  const Format formats[] = {
      {"fp16_int4", dk::dense_kernels_fp16_int4(), false},
      {"fp16_int4_zero_point", dk::dense_kernels_fp16_int4_zero_point(), false},
      {"fp16_int8", dk::dense_kernels_fp16_int8(), true},
      {"bf16_int4", dk::dense_kernels_bf16_int4(), false},
      {"bf16_int4_zero_point", dk::dense_kernels_bf16_int4_zero_point(), false},
      {"bf16_int8", dk::dense_kernels_bf16_int8(), true}};
  int checked = 0;
  for (const std::string& name : gemm_detail::dense_config_names()) {
    if (name.find("wgmma") != std::string::npos) continue;
    const gemm_detail::DenseConfig config = gemm_detail::parse_dense_config(name);
    for (const Format& format : formats) {
      const bool int8_medium = format.int8 && name == "m16_k128_n128_s6_b2";
      EXPECT_EQ(format.kernels[config.tiling].resident_blocks_per_sm(device),
                int8_medium ? 1 : config.blocks_per_sm)
          << format.name << " " << name << ": "
          << format.kernels[config.tiling].shared_bytes << " bytes of dynamic shared memory";
      ++checked;
    }
  }
  EXPECT_EQ(checked, 4 * 6) << "four mma.sync configurations x six formats";
}

// The m = 9..16 rule's card test (gemm_detail::bandwidth_rich) was measured on an H200 (rich)
// and an H100 (not): the device's own numbers must put those two where they were measured.
TEST(DenseGemm, TheCardsOfTheSixteenRowRuleAreClassifiedAsMeasured) {
  MARLIN_REQUIRE_GPU();
  const DeviceInfo info = current_device();
  const bool rich = gemm_detail::bandwidth_rich(info.peak_memory_bytes_per_second, info.sm_count);
  std::printf("%s: peak %.2f TB/s over %d SMs, %.1f GB/s an SM: %s\n", info.name.c_str(),
              info.peak_memory_bytes_per_second / 1e12, info.sm_count,
              info.peak_memory_bytes_per_second / info.sm_count / 1e9,
              rich ? "bandwidth-rich" : "not bandwidth-rich");
  EXPECT_GT(info.peak_memory_bytes_per_second, 0.0);
  if (info.name.find("H200") != std::string::npos) EXPECT_TRUE(rich) << info.name;
  if (info.name.find("H100") != std::string::npos) EXPECT_FALSE(rich) << info.name;
}

}  // namespace
}  // namespace marlin
