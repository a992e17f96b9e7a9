// Issue #6, kernel generality, on the GPU: every combination of activation dtype (fp16, bf16),
// weight scheme (symmetric INT4, asymmetric INT4 with zero points, INT8), group size (32, 64,
// 128, per-channel), act-order and bias against the fp64 reference on the dequantized weights,
// into poisoned C and accumulating into C; many m; the layer shapes of real models and their
// tensor-parallel shards; bitwise determinism; one workspace for every m; the act-order
// workspace rule. Refusals that need no GPU are in test_gemm_args.cpp.
#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <iterator>
#include <ostream>
#include <random>
#include <string>
#include <vector>

#include "core/cuda_check.h"
#include "gemm_problem.h"
#include "gemm_test_util.h"
#include "gpu_test.h"
#include "marlin/gemm.h"
#include "marlin/status.h"

namespace marlin::testing {
namespace {

// A kind of layer, without its shape.
struct Kind {
  DType dtype;
  QuantScheme scheme;
  int group_size;
  bool act_order;
  bool bias;
};

LayerSpec shaped(const Kind& kind, int k, int n) {
  LayerSpec spec;
  spec.dtype = kind.dtype;
  spec.scheme = kind.scheme;
  spec.k = k;
  spec.n = n;
  spec.group_size = kind.group_size;
  spec.act_order = kind.act_order;
  spec.bias = kind.bias;
  return spec;
}

// "bf16_asym4_g64_act_bias": a test-name fragment.
std::string name_of(const Kind& kind) {
  std::string name = std::string(dtype_name(kind.dtype)) + "_" + scheme_name(kind.scheme) + "_g" +
                     (kind.group_size == kPerChannel ? std::string("pc")
                                                     : std::to_string(kind.group_size));
  if (kind.act_order) name += "_act";
  if (kind.bias) name += "_bias";
  return name;
}

// Test parameters print as their names in failure messages (not as raw bytes).
void PrintTo(const Kind& kind, std::ostream* os) { *os << name_of(kind); }

// One GEMM into C (poisoned, or C_in when accumulating), checked against the reference; the
// arrival counters must come back zeroed for the next call on the workspace.
void run_and_check(GemmBatch& batch, const Workspace& workspace) {
  batch.reset_output();
  batch.run(workspace, nullptr);
  CUDA_CHECK(cudaDeviceSynchronize());
  batch.expect_output_matches_reference();
  expect_arrival_counters_zero(workspace, batch.m(), batch.spec().n, batch.describe());
}

// max_act_order_k of a Workspace for the layer: room for A permuted when it has act-order.
int act_order_k(const LayerSpec& spec) { return spec.act_order ? spec.k : 0; }

// run_and_check on m fresh rows with a workspace of exactly the size the call needs.
void check_batch(const QuantizedLayer& layer, int m, bool accumulate, unsigned seed) {
  GemmBatch batch(layer, m, accumulate, seed);
  const Workspace workspace(m, layer.spec().n, act_order_k(layer.spec()));
  run_and_check(batch, workspace);
}

// ---------------------------------------------------------------------------------------------
// Every combination on small layers, CPU reference.

std::vector<Kind> every_kind() {
  std::vector<Kind> kinds;
  for (DType dtype : {DType::kFloat16, DType::kBFloat16}) {
    for (QuantScheme scheme : {QuantScheme::kSymmetricInt4, QuantScheme::kAsymmetricInt4,
                               QuantScheme::kSymmetricInt8}) {
      for (int group_size : {32, 64, 128, kPerChannel}) {
        for (bool act_order : {false, true}) {
          // Per-channel weights have one group: no order of the rows to restore (gemm refuses a
          // perm with them; test_gemm_args.cpp).
          if (act_order && group_size == kPerChannel) continue;
          for (bool bias : {false, true}) {
            kinds.push_back({dtype, scheme, group_size, act_order, bias});
          }
        }
      }
    }
  }
  return kinds;  // 2 x 3 x 7 x 2 = 84
}

// Three layers per kind, each at two m, each m once into poisoned C and once accumulating into
// random C. Between them the m cover every configuration of gemm/dense_dispatch.cpp (today:
// m <= 8, m <= 16, larger in 32-row chunks) with the last n tile both full and partly outside C:
//   k = 1024, n = 320 = 5 x 64, not a multiple of 128 or 256, so the last n tile of every
//     configuration is partly outside C; m = 1 and 12.
//   k = 1024, n = 768 = 3 x 256, filled by 128- and 256-wide tiles; m = 16, and m = 100 in
//     several m chunks, the last one partial.
//   k = 128, n = 64: the smallest legal layer (a 4-way shard can come close), one k tile, so
//     each block owns whole slices and writes C directly instead of through the fp32 fixup;
//     m = 5 and 37.
// k = 1024 holds 32 groups of 32 rows; there every slice is shared by several blocks.
struct SweepLayer {
  int k;
  int n;
  std::vector<int> m_values;
};
const SweepLayer kSweepLayers[] = {
    {1024, 320, {1, 12}}, {1024, 768, {16, 100}}, {128, 64, {5, 37}}};

class EveryKind : public ::testing::TestWithParam<Kind> {};

TEST_P(EveryKind, MatchesReferenceIntoPoisonedAndAccumulatedC) {
  MARLIN_REQUIRE_GPU();
  unsigned seed = 1000;
  for (const SweepLayer& sweep : kSweepLayers) {
    const QuantizedLayer layer(shaped(GetParam(), sweep.k, sweep.n), ReferenceOn::kCpu, ++seed);
    for (int m : sweep.m_values) {
      for (bool accumulate : {false, true}) check_batch(layer, m, accumulate, ++seed);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Generality, EveryKind, ::testing::ValuesIn(every_kind()),
                         [](const ::testing::TestParamInfo<Kind>& param_info) {
                           return name_of(param_info.param);
                         });

// ---------------------------------------------------------------------------------------------
// Many m on one layer per representative kind: every m from 1 to 16 (the small-m
// configurations, their one 16-row m block partly filled), and m chunks full and partial above.

struct MSweep {
  Kind kind;
  int n;
};

const MSweep kMSweeps[] = {
    // AWQ-style zero points with act-order and bias; n = 2 x 256.
    {{DType::kFloat16, QuantScheme::kAsymmetricInt4, 128, true, true}, 512},
    // INT8, bf16; n = 5 x 64: the last n tile partly outside C.
    {{DType::kBFloat16, QuantScheme::kSymmetricInt8, 64, false, true}, 320},
    // bf16 per-channel INT4; n = 3 x 256.
    {{DType::kBFloat16, QuantScheme::kSymmetricInt4, kPerChannel, false, false}, 768},
};

void PrintTo(const MSweep& sweep, std::ostream* os) {
  *os << name_of(sweep.kind) << " n=" << sweep.n;
}

class ManyM : public ::testing::TestWithParam<MSweep> {};

TEST_P(ManyM, MatchesReference) {
  MARLIN_REQUIRE_GPU();
  std::vector<int> m_values;
  for (int m = 1; m <= 16; ++m) m_values.push_back(m);
  for (int m : {17, 33, 64, 100, 128, 256}) m_values.push_back(m);
  const QuantizedLayer layer(shaped(GetParam().kind, 1024, GetParam().n), ReferenceOn::kCpu,
                             2000u);
  for (int m : m_values) {
    check_batch(layer, m, /*accumulate=*/false, 2000u + static_cast<unsigned>(m));
  }
}

INSTANTIATE_TEST_SUITE_P(Generality, ManyM, ::testing::ValuesIn(kMSweeps),
                         [](const ::testing::TestParamInfo<MSweep>& param_info) {
                           const MSweep& sweep = param_info.param;
                           return name_of(sweep.kind) + "_n" + std::to_string(sweep.n);
                         });

// ---------------------------------------------------------------------------------------------
// The linear layers of real models (k, n of C = A * W; qkv and gate_up fused as the checkpoints
// store them), whole and as the shards of 2- and 4-way tensor parallelism: column-parallel
// layers (qkv, gate_up) split n, row-parallel layers (o, down) split k.

struct ModelLayer {
  const char* model;
  const char* layer;
  int k;
  int n;
  bool row_parallel;
};

const ModelLayer kModelLayers[] = {
    {"Llama2_13B", "qkv", 5120, 15360, false},
    {"Llama2_13B", "o", 5120, 5120, true},
    {"Llama2_13B", "gate_up", 5120, 27648, false},
    {"Llama2_13B", "down", 13824, 5120, true},
    {"Qwen2_7B", "qkv", 3584, 4608, false},
    {"Qwen2_7B", "o", 3584, 3584, true},
    {"Qwen2_7B", "gate_up", 3584, 37888, false},
    {"Qwen2_7B", "down", 18944, 3584, true},
    {"Mistral_7B", "qkv", 4096, 6144, false},
    {"Mistral_7B", "o", 4096, 4096, true},
    {"Mistral_7B", "gate_up", 4096, 28672, false},
    {"Mistral_7B", "down", 14336, 4096, true},
};

// The kinds real checkpoints come in; the shapes take them in turn (7 kinds against 12 layers
// x 3 shardings, so each model sees each kind on different layers).
struct RealKind {
  Kind kind;
  bool accumulate;
};

const RealKind kRealKinds[] = {
    // GPTQ
    {{DType::kFloat16, QuantScheme::kSymmetricInt4, 128, false, false}, false},
    // GPTQ desc_act, with a bias (as Qwen2's qkv has)
    {{DType::kBFloat16, QuantScheme::kSymmetricInt4, 128, true, true}, false},
    // AWQ
    {{DType::kFloat16, QuantScheme::kAsymmetricInt4, 128, false, false}, false},
    // AWQ, accumulating into C (a fused residual add)
    {{DType::kBFloat16, QuantScheme::kAsymmetricInt4, 128, false, false}, true},
    // INT8 weights, per-channel scales (W8A16), with a bias
    {{DType::kFloat16, QuantScheme::kSymmetricInt8, kPerChannel, false, true}, false},
    // INT8 weights, grouped scales
    {{DType::kBFloat16, QuantScheme::kSymmetricInt8, 128, false, false}, false},
    // everything at once: zero points, the smallest groups, act-order, bias, accumulate
    {{DType::kFloat16, QuantScheme::kAsymmetricInt4, 32, true, true}, true},
};

struct RealShape {
  ModelLayer layer;
  int tensor_parallel;  // 1, 2 or 4
  RealKind kind;

  int k() const { return layer.row_parallel ? layer.k / tensor_parallel : layer.k; }
  int n() const { return layer.row_parallel ? layer.n : layer.n / tensor_parallel; }
};

std::vector<RealShape> real_shapes() {
  std::vector<RealShape> shapes;
  std::size_t index = 0;
  for (const ModelLayer& layer : kModelLayers) {
    for (int tensor_parallel : {1, 2, 4}) {
      shapes.push_back({layer, tensor_parallel, kRealKinds[index++ % std::size(kRealKinds)]});
    }
  }
  return shapes;  // 36
}

void PrintTo(const RealShape& shape, std::ostream* os) {
  *os << shape.layer.model << " " << shape.layer.layer << " tp=" << shape.tensor_parallel
      << " k=" << shape.k() << " n=" << shape.n() << " " << name_of(shape.kind.kind)
      << (shape.kind.accumulate ? " accumulate" : "");
}

class RealShapes : public ::testing::TestWithParam<RealShape> {};

// m = 1 (decode), 16 (a small batch) and 128 (a prefill chunk).
TEST_P(RealShapes, MatchesFp64Reference) {
  MARLIN_REQUIRE_GPU();
  const RealShape& shape = GetParam();
  const LayerSpec spec = shaped(shape.kind.kind, shape.k(), shape.n());
  const QuantizedLayer layer(spec, ReferenceOn::kGpu, 3000u);
  for (int m : {1, 16, 128}) {
    check_batch(layer, m, shape.kind.accumulate, 3000u + static_cast<unsigned>(m));
  }
}

INSTANTIATE_TEST_SUITE_P(Generality, RealShapes, ::testing::ValuesIn(real_shapes()),
                         [](const ::testing::TestParamInfo<RealShape>& param_info) {
                           const RealShape& shape = param_info.param;
                           return std::string(shape.layer.model) + "_" + shape.layer.layer +
                                  "_tp" + std::to_string(shape.tensor_parallel) + "_k" +
                                  std::to_string(shape.k()) + "_n" + std::to_string(shape.n()) +
                                  "_" + name_of(shape.kind.kind) +
                                  (shape.kind.accumulate ? "_acc" : "");
                         });

// ---------------------------------------------------------------------------------------------
// The largest layers at m = 9..16, where a bandwidth-rich card (the H200) takes the swapped
// 16-row tiling (gemm_detail::choose_dense_config; test_dense_gemm_gpu.cpp checks which cards
// are rich): k = 8192, n = 24640 = 192 Mi weights and one 64-column tile more, so the last
// 256-column tile is a quarter inside C. Elsewhere they run the 128 x 128 tiling. Every INT4 kind
// with the group sizes that change inside a warp's k steps (32), at its end (128) or never
// (per-channel), zero points and act-order among them.
const Kind kLargestLayerKinds[] = {
    {DType::kFloat16, QuantScheme::kSymmetricInt4, 128, false, false},
    {DType::kFloat16, QuantScheme::kAsymmetricInt4, 32, true, true},
    {DType::kBFloat16, QuantScheme::kSymmetricInt4, kPerChannel, false, true},
    {DType::kBFloat16, QuantScheme::kAsymmetricInt4, 128, false, false},
};

class LargestLayers : public ::testing::TestWithParam<Kind> {};

TEST_P(LargestLayers, MatchFp64ReferenceAtNineToSixteenRows) {
  MARLIN_REQUIRE_GPU();
  const QuantizedLayer layer(shaped(GetParam(), 8192, 24640), ReferenceOn::kGpu, 5000u);
  for (int m : {9, 16}) {
    check_batch(layer, m, /*accumulate=*/m == 16, 5000u + static_cast<unsigned>(m));
  }
}

INSTANTIATE_TEST_SUITE_P(Generality, LargestLayers, ::testing::ValuesIn(kLargestLayerKinds),
                         [](const ::testing::TestParamInfo<Kind>& param_info) {
                           return name_of(param_info.param);
                         });

// ---------------------------------------------------------------------------------------------
// Single cases.

// With many more slices than blocks, each of few k tiles, every block owns whole slices and
// writes C straight from its registers, not through the fp32 fixup: bias and accumulate on that
// path. m = 1024, k = 256, n = 4096 on today's 32-row configuration (128 x 256 tiles): 32 x 16
// slices of 2 k tiles, 8 tiles per block on 132 SMs (H100 SXM, H200), four whole slices each.
TEST(GemmGenerality, BiasAndAccumulateWhereBlocksOwnWholeSlices) {
  MARLIN_REQUIRE_GPU();
  const Kind kinds[] = {{DType::kBFloat16, QuantScheme::kAsymmetricInt4, 128, true, true},
                        {DType::kFloat16, QuantScheme::kSymmetricInt8, 64, false, true}};
  for (const Kind& kind : kinds) {
    const QuantizedLayer layer(shaped(kind, 256, 4096), ReferenceOn::kGpu, 4000u);
    const Workspace workspace(1024, 4096, act_order_k(layer.spec()));
    for (bool accumulate : {false, true}) {
      GemmBatch batch(layer, 1024, accumulate, accumulate ? 4001u : 4002u);
      run_and_check(batch, workspace);
    }
  }
}

// Hopper's large-batch kernel (m >= 40, its blocks filling their waves of SMs to 60% or more)
// in every format it has: fp16 and bf16, zero points, INT8, groups of 32 (two scale rows a
// stage), bias, accumulate and act-order (A gathered before it). On 132 SMs: k = 512, n = 8192 at
// m = 1024 is 8 x 32 tiles, two waves 97% full, k whole; k = 8192, n = 4096 at m = 200 is 2 x 16
// tiles, k in 4 shares (bias and accumulate applied once, by the last share); k = 4096,
// n = 12288 at m = 48 is 48 tiles of 64 rows, k in 2 shares.
TEST(GemmGenerality, LargeBatchKernelWithBiasAccumulateAndActOrder) {
  MARLIN_REQUIRE_GPU();
  const Kind kinds[] = {{DType::kFloat16, QuantScheme::kSymmetricInt4, 128, false, true},
                        {DType::kFloat16, QuantScheme::kSymmetricInt4, 128, true, true},
                        {DType::kBFloat16, QuantScheme::kSymmetricInt4, kPerChannel, false, true},
                        {DType::kFloat16, QuantScheme::kAsymmetricInt4, 32, true, true},
                        {DType::kBFloat16, QuantScheme::kAsymmetricInt4, 64, false, true},
                        {DType::kFloat16, QuantScheme::kSymmetricInt8, 128, true, true},
                        {DType::kBFloat16, QuantScheme::kSymmetricInt8, kPerChannel, false, false}};
  struct Shape {
    int m, k, n;
  };
  for (const Shape shape :
       {Shape{1024, 512, 8192}, Shape{200, 8192, 4096}, Shape{48, 4096, 12288}}) {
    for (const Kind& kind : kinds) {
      const QuantizedLayer layer(shaped(kind, shape.k, shape.n), ReferenceOn::kGpu, 4100u);
      const Workspace workspace(shape.m, shape.n, act_order_k(layer.spec()));
      for (bool accumulate : {false, true}) {
        GemmBatch batch(layer, shape.m, accumulate, accumulate ? 4101u : 4102u);
        run_and_check(batch, workspace);
      }
    }
  }
}

// Shared slices are summed in block order, so repeated calls agree bit for bit. m = 37,
// k = 4096, n = 1024 on today's 32-row configuration: 2 x 4 slices of 32 k tiles, each shared by
// about 16 blocks.
TEST(GemmGenerality, AsymmetricBf16ActOrderIsBitwiseDeterministic) {
  MARLIN_REQUIRE_GPU();
  const QuantizedLayer layer(
      shaped({DType::kBFloat16, QuantScheme::kAsymmetricInt4, 128, true, true}, 4096, 1024),
      ReferenceOn::kGpu, 5000u);
  GemmBatch batch(layer, 37, /*accumulate=*/false, 5001u);
  const Workspace workspace(37, 1024, 4096);
  run_and_check(batch, workspace);
  const std::vector<std::uint16_t> first = batch.output();
  for (int repeat = 0; repeat < 3; ++repeat) {
    batch.reset_output();
    batch.run(workspace, nullptr);
    CUDA_CHECK(cudaDeviceSynchronize());
    ASSERT_EQ(batch.output(), first) << batch.describe() << ", repeat " << repeat;
  }
}

// One workspace serves every m up to the max_m it was built for (gemm.h: "problems up to max_m
// rows"), in any order, as in an engine that runs decode and prefill steps on one stream. The m
// below switch between configurations; at n = 4096 a call with m = 512 counts arrivals for 256
// slices, where calls with m <= 16 use a counter block of 256 bytes (64 counters): a workspace
// layout that followed the call's m would put the fp32 partial sums of the small calls where the
// large call expects zeroed counters, and the large call would lose slices of C.
TEST(GemmGenerality, OneWorkspaceServesEveryMUpToItsMax) {
  MARLIN_REQUIRE_GPU();
  const QuantizedLayer layer(
      shaped({DType::kFloat16, QuantScheme::kAsymmetricInt4, 128, true, true}, 1024, 4096),
      ReferenceOn::kGpu, 5500u);
  const Workspace workspace(512, 4096, 1024);
  unsigned seed = 5500u;
  for (int m : {1, 16, 512, 33, 1, 512}) {
    GemmBatch batch(layer, m, /*accumulate=*/false, ++seed);
    run_and_check(batch, workspace);
  }
}

// Act-order permutes A into the workspace: a workspace built without max_act_order_k is refused
// before any launch (C keeps its poison), and the same call succeeds with one built with it.
TEST(GemmGenerality, ActOrderNeedsWorkspaceForThePermutedActivations) {
  MARLIN_REQUIRE_GPU();
  const QuantizedLayer layer(
      shaped({DType::kFloat16, QuantScheme::kSymmetricInt4, 128, true, false}, 1024, 256),
      ReferenceOn::kCpu, 6000u);
  GemmBatch batch(layer, 16, /*accumulate=*/false, 6001u);
  const Workspace too_small(16, 256);
  try {
    batch.run(too_small, nullptr);
    FAIL() << "an act-order GEMM ran with a workspace built without max_act_order_k";
  } catch (const Error& e) {
    EXPECT_NE(e.code(), ErrorCode::kCuda) << "refused too late, by CUDA: " << e.what();
    EXPECT_NE(std::string(e.what()).find("max_act_order_k"), std::string::npos) << e.what();
  }
  CUDA_CHECK(cudaDeviceSynchronize());
  for (std::uint16_t bits : batch.output()) ASSERT_EQ(bits, 0xffff) << "C was written";

  const Workspace enough(16, 256, 1024);
  run_and_check(batch, enough);
}

// The fp64 GPU reference (used for the large shapes) and the CPU reference_gemm agree, for both
// activation dtypes, with bias.
TEST(GemmGenerality, GpuReferenceAgreesWithCpuReference) {
  MARLIN_REQUIRE_GPU();
  for (DType dtype : {DType::kFloat16, DType::kBFloat16}) {
    const LayerSpec spec =
        shaped({dtype, QuantScheme::kAsymmetricInt4, 64, true, true}, 1024, 320);
    // The same seed gives the same weights and bias.
    const QuantizedLayer on_cpu(spec, ReferenceOn::kCpu, 7000u);
    const QuantizedLayer on_gpu(spec, ReferenceOn::kGpu, 7000u);
    const int m = 37;
    std::mt19937 rng(7001u);
    const Values16 a = random_values16(static_cast<std::size_t>(m) * spec.k, dtype, rng);
    DeviceBuffer<std::uint16_t> a_device(a.bits.size());
    a_device.upload(a.bits);
    const std::vector<double> cpu = on_cpu.reference_product(a, a_device, m);
    const std::vector<double> gpu = on_gpu.reference_product(a, a_device, m);
    ASSERT_EQ(cpu.size(), gpu.size());
    double cpu_sq = 0.0;
    for (std::size_t i = 0; i < cpu.size(); ++i) {
      ASSERT_NEAR(gpu[i], cpu[i], 1e-9 * (1.0 + std::fabs(cpu[i]))) << describe(spec) << " " << i;
      cpu_sq += cpu[i] * cpu[i];
    }
    EXPECT_GT(cpu_sq, static_cast<double>(cpu.size()) * 0.1) << "reference nearly zero";
  }
}

}  // namespace
}  // namespace marlin::testing
