// Argument checks of marlin::gemm: every refusal happens on the host before any CUDA call, so
// these run without a GPU.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <optional>
#include <string>

#include "gemm/dense_dispatch.h"
#include "marlin/gemm.h"
#include "marlin/status.h"

namespace marlin {
namespace {

alignas(16) unsigned char fake_device_memory[1 << 12];

GemmArgs valid_args() {
  GemmArgs args;
  args.a = fake_device_memory;
  args.c = fake_device_memory;
  args.m = 16;
  args.weights.k = 4096;
  args.weights.n = 4096;
  args.weights.group_size = 128;
  args.weights.qweight = reinterpret_cast<const std::uint32_t*>(fake_device_memory);
  args.weights.scales = fake_device_memory;
  args.workspace.data = fake_device_memory;
  args.workspace.bytes = gemm_workspace_bytes(args.m, args.weights.n, 132);
  args.workspace.max_m = args.m;
  args.workspace.n = args.weights.n;
  return args;
}

void expect_rejected(const GemmArgs& args, const std::string& phrase) {
  try {
    gemm(args, nullptr);
    FAIL() << "expected a refusal mentioning '" << phrase << "'";
  } catch (const Error& e) {
    EXPECT_NE(e.code(), ErrorCode::kCuda) << "refused too late, by CUDA: " << e.what();
    EXPECT_NE(std::string(e.what()).find(phrase), std::string::npos) << e.what();
  }
}

TEST(GemmArgs, RejectsEachBadArgumentWithItsRule) {
  auto args = valid_args();
  args.weights.k = 4100;
  expect_rejected(args, "k=4100 must be a positive multiple of 128");
  args = valid_args();
  args.weights.n = 4150;
  expect_rejected(args, "n=4150 must be a positive multiple of 64");
  args = valid_args();
  args.m = 0;
  expect_rejected(args, "m=0 must be at least 1");
  args = valid_args();
  args.weights.group_size = 256;
  expect_rejected(args, "group_size=256 must be 32, 64, 128 or -1");
  args = valid_args();
  args.weights.k = 384;
  args.weights.group_size = 256;
  expect_rejected(args, "group_size=256");
  args = valid_args();
  args.a = nullptr;
  expect_rejected(args, "null");
  args = valid_args();
  args.c = fake_device_memory + 2;
  expect_rejected(args, "16-byte aligned");
  args = valid_args();
  args.workspace.data = fake_device_memory + 4;
  expect_rejected(args, "workspace must be 16-byte aligned");
  args = valid_args();
  args.activation_dtype = DType::kFloat32;
  expect_rejected(args, "activation dtype fp32");
  args = valid_args();
  args.weights.scale_dtype = DType::kBFloat16;
  expect_rejected(args, "weights.scale_dtype (bf16) must equal the activation dtype (fp16)");
  args = valid_args();
  args.weights.perm = reinterpret_cast<const std::int32_t*>(fake_device_memory);
  args.weights.group_size = kPerChannel;
  expect_rejected(args, "per-channel weights have no groups to reorder");
  args = valid_args();
  args.bias = fake_device_memory + 2;
  expect_rejected(args, "bias must be 4-byte aligned");
}

// Issue #6, the other sides of the format rules: activations that do not match their scales, and
// the smallest shapes and groups just past the limits.
TEST(GemmArgs, RejectsMismatchedFormatsAndShapesPastTheLimits) {
  auto args = valid_args();
  args.activation_dtype = DType::kBFloat16;  // the scales stay fp16
  expect_rejected(args, "weights.scale_dtype (fp16) must equal the activation dtype (bf16)");
  args = valid_args();
  args.activation_dtype = DType::kFloat32;
  args.weights.scale_dtype = DType::kFloat32;  // consistent, but there is no fp32 kernel
  expect_rejected(args, "activation dtype fp32");
  args = valid_args();
  args.weights.k = 192;  // a multiple of the group size, not of 128
  args.weights.group_size = 64;
  expect_rejected(args, "k=192 must be a positive multiple of 128");
  args = valid_args();
  args.weights.n = 32;
  expect_rejected(args, "n=32 must be a positive multiple of 64");
  args = valid_args();
  args.weights.group_size = 16;
  expect_rejected(args, "group_size=16 must be 32, 64, 128 or -1");
}

// A workspace serves the problems it was sized for, and nothing larger: a call past its max_m, n
// or act-order k could put its fp32 scratch on the counters another call needs zeroed.
TEST(GemmArgs, RejectsCallsBeyondTheWorkspaceCapacity) {
  auto args = valid_args();
  args.m = 17;
  expect_rejected(args, "m=17 exceeds the workspace's max_m=16");
  args = valid_args();
  args.workspace.n = 2048;
  expect_rejected(args, "n=4096 exceeds the workspace's n=2048");
  args = valid_args();
  args.weights.perm = reinterpret_cast<const std::int32_t*>(fake_device_memory);
  args.workspace.max_act_order_k = 1024;
  expect_rejected(args, "act-order weights with k=4096 need a workspace with max_act_order_k >= k");
  args = valid_args();
  args.m = (1 << 30) + 1;
  expect_rejected(args, "must be at most 2^30");
}

// upload() checks a packed matrix before copying it: the kernels trust its sizes, and
// act-order's gather trusts perm.
TEST(GemmArgs, UploadRefusesInconsistentPackedMatrices) {
  PackedMatrix packed;
  packed.k = 128;
  packed.n = 64;
  packed.group_size = 128;
  packed.qweight.assign(128 * 64 / 8 - 1, 0u);  // one word short
  packed.scales.assign(64, 0);
  try {
    upload(packed);
    FAIL() << "a short qweight was uploaded";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("upload: qweight has 1023 words"), std::string::npos)
        << e.what();
  }
  packed.qweight.push_back(0u);
  packed.perm.assign(128, 0);  // not a permutation
  try {
    upload(packed);
    FAIL() << "a perm with repeated rows was uploaded";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("upload: perm (128 entries) must hold each row"),
              std::string::npos)
        << e.what();
  }
}

TEST(GemmArgs, WorkspaceCoversEveryConfiguration) {
  for (int sm_count : {1, 108, 132}) {
    for (int m : {1, 16, 17, 33, 64, 65, 1000, 4096}) {
      for (int n : {64, 128, 384, 4096, 22016}) {
        for (const bool wgmma : {false, true}) {
        const auto& config = gemm_detail::choose_dense_config(m, n, 8192, wgmma);
        const auto layout = gemm_detail::dense_workspace_layout(m, n, sm_count);
        const std::size_t n_tiles = static_cast<std::size_t>((n + config.tile_n - 1) / config.tile_n);
        const std::size_t slices =
            static_cast<std::size_t>((m + config.rows - 1) / config.rows) * n_tiles;
        EXPECT_GE(layout.counters_bytes, slices * sizeof(int)) << config.name;
        EXPECT_EQ(layout.counters_bytes % 256, 0u);
        const std::size_t slots = 2 * static_cast<std::size_t>(sm_count) * config.blocks_per_sm;
        EXPECT_GE(layout.partials_bytes,
                  slots * std::min(m, config.rows) * config.tile_n * sizeof(float))
            << config.name;
        EXPECT_EQ(gemm_workspace_bytes(m, n, sm_count), layout.total());
        EXPECT_EQ(layout.permuted_a_bytes, 0u);
        // Act-order: room for A with permuted columns, m x k 16-bit values.
        const auto act_order = gemm_detail::dense_workspace_layout(m, n, sm_count, 8192);
        EXPECT_GE(act_order.permuted_a_bytes, static_cast<std::size_t>(m) * 8192 * 2);
        EXPECT_EQ(gemm_workspace_bytes(m, n, sm_count, 8192), act_order.total());
        }
      }
    }
  }
}

TEST(GemmArgs, SmallBatchesUseTheMemoryBoundConfiguration) {
  for (const bool wgmma : {false, true}) {
    EXPECT_EQ(gemm_detail::choose_dense_config(1, 4096, 8192, wgmma).rows, 16);
    EXPECT_EQ(gemm_detail::choose_dense_config(1, 4096, 8192, wgmma).tile_n, 256);
    EXPECT_EQ(gemm_detail::choose_dense_config(16, 4096, 8192, wgmma).rows, 16);
    EXPECT_EQ(gemm_detail::choose_dense_config(16, 4096, 8192, wgmma).tile_n, 128);
    EXPECT_EQ(gemm_detail::choose_dense_config(17, 4096, 8192, wgmma).rows, 32);
    EXPECT_EQ(gemm_detail::choose_dense_config(32, 4096, 8192, wgmma).rows, 32);
  }
  EXPECT_EQ(gemm_detail::choose_dense_config(4096, 4096, 8192, false).rows, 32);
  // m = 17..32: warpgroup MMA on Hopper, mma.sync elsewhere; m <= 16 is mma.sync everywhere.
  for (const int m : {17, 32}) {
    EXPECT_STREQ(gemm_detail::choose_dense_config(m, 4096, 8192, true).name,
                 "m32_k128_n128_s6_b2_wgmma_x2");
  }
  EXPECT_STREQ(gemm_detail::choose_dense_config(32, 4096, 8192, false).name, "m32_k128_n256_s4");
  // ...with stripes of at least 8 tiles for layers under 32 Mi weights (not before Hopper).
  for (const int m : {17, 32}) {
    EXPECT_STREQ(gemm_detail::choose_dense_config(m, 4096, 4096, true).name,
                 "m32_k128_n128_s6_b2_wgmma_x2_min8");
    EXPECT_EQ(gemm_detail::choose_dense_config(m, 6144, 4096, true).min_tiles_per_block, 8);
    EXPECT_EQ(gemm_detail::choose_dense_config(m, 4096, 11008, true).min_tiles_per_block, 1);
    EXPECT_EQ(gemm_detail::choose_dense_config(m, 8192, 4096, true).min_tiles_per_block, 1);
    EXPECT_STREQ(gemm_detail::choose_dense_config(m, 4096, 4096, false).name, "m32_k128_n256_s4");
  }
  EXPECT_EQ(gemm_detail::choose_dense_config(33, 4096, 4096, true).min_tiles_per_block, 1);
  EXPECT_STREQ(gemm_detail::choose_dense_config(16, 4096, 8192, true).name, "m16_k128_n128_s6_b2");
}

TEST(GemmArgs, BandwidthRichCardsAreTheH200Class) {
  // Peak bytes per second over the SMs: H200 4.8 TB/s / 132, H100 SXM 2 x 2.619 GHz x 640 bytes
  // / 132, A100 80GB 2.04 TB/s / 108.
  EXPECT_TRUE(gemm_detail::bandwidth_rich(4.8e12, 132));
  EXPECT_FALSE(gemm_detail::bandwidth_rich(2 * 2.619e9 * 640, 132));
  EXPECT_FALSE(gemm_detail::bandwidth_rich(2.04e12, 108));
  EXPECT_FALSE(gemm_detail::bandwidth_rich(0, 132));  // a device that reports no memory clock
  EXPECT_FALSE(gemm_detail::bandwidth_rich(4.8e12, 0));
}

TEST(GemmArgs, SixteenRowsSwapOnlyTheLargestInt4LayersOfRichCards) {
  const auto name = [](int m, int n, int k, bool int8, bool rich) {
    return std::string(gemm_detail::choose_dense_config(m, n, k, true, int8, rich).name);
  };
  const std::string swapped = "m16_k128_n256_s8_swapped16";
  const std::string medium = "m16_k128_n128_s6_b2";
  // 192 Mi weights and up: 70B down_proj (28672 x 8192), 8192 x 32768, 70B gate_up.
  for (const int m : {9, 12, 16}) {
    EXPECT_EQ(name(m, 8192, 28672, false, true), swapped) << m;
    EXPECT_EQ(name(m, 32768, 8192, false, true), swapped) << m;
    EXPECT_EQ(name(m, 57344, 8192, false, true), swapped) << m;
    EXPECT_EQ(name(m, 57344, 8192, false, false), medium) << "not rich, m=" << m;
    EXPECT_EQ(name(m, 57344, 8192, true, true), medium) << "INT8, m=" << m;
    // 8B gate_up (28672 x 4096: 112 Mi) and 70B q/k/v stay on the finer partition.
    EXPECT_EQ(name(m, 28672, 4096, false, true), medium) << m;
    EXPECT_EQ(name(m, 10240, 8192, false, true), medium) << m;
  }
  EXPECT_EQ(name(16, 24576, 8192, false, true), swapped);  // exactly 192 Mi
  EXPECT_EQ(name(16, 24512, 8192, false, true), medium);   // 64 columns fewer
  EXPECT_EQ(name(8, 57344, 8192, false, true), "m16_k128_n256_s4_b2");
  EXPECT_EQ(name(17, 57344, 8192, false, true), "m32_k128_n128_s6_b2_wgmma_x2");
}

TEST(GemmArgs, LargeBatchesOnHopperUseTheWgmmaConfigurations) {
  const auto name = [](int m, int n, int k) {
    return std::string(gemm_detail::choose_dense_config(m, n, k, true).name);
  };
  const std::string rows32 = "m32_k128_n128_s6_b2_wgmma_x2";
  const std::string rows64 = "m64_k128_n256_s4_wgmma_x4";
  const std::string rows128 = "m128_k128_n128_s4_wgmma_x2";
  const std::string wide = "m128_k128_n256_s4_wgmma_x4";
  // m = 33..64: 64-row chunks, but 32-row ones for layers under 48 Mi weights
  // (Llama-2-7B's o_proj 4096 x 4096 and down_proj 11008 x 4096).
  for (const int m : {33, 64}) {
    EXPECT_EQ(name(m, 8192, 8192), rows64);
    EXPECT_EQ(name(m, 12288, 4096), rows64);  // exactly 48 Mi: not small
    EXPECT_EQ(name(m, 4096, 4096), rows32);
    EXPECT_EQ(name(m, 4096, 11008), rows32);
  }
  // m = 65..128: 128 x 128 tiles up to n < 32768, 256 columns from there; small layers take two
  // 64-row chunks.
  for (const int m : {65, 128}) {
    EXPECT_EQ(name(m, 12288, 4096), rows128);
    EXPECT_EQ(name(m, 28672, 4096), rows128);
    EXPECT_EQ(name(m, 8192, 28672), rows128);
    EXPECT_EQ(name(m, 32768, 8192), wide);
    EXPECT_EQ(name(m, 57344, 8192), wide);
    EXPECT_EQ(name(m, 4096, 11008), rows64);
    EXPECT_EQ(name(m, 6144, 4096), rows64);
  }
  // m > 128: 256 columns wide from n = 8192 on, whatever the layer's size.
  EXPECT_EQ(name(129, 8192, 4096), wide);
  EXPECT_EQ(name(4096, 8192, 128), wide);
  EXPECT_EQ(name(4096, 4096, 8192), rows128);
  EXPECT_EQ(name(4096, 4096, 128), rows128);
  EXPECT_EQ(gemm_detail::choose_dense_config(4096, 8192, 8192, true).tile_k, 128);
  // Without sm_90a, every m > 16 takes the 32-row mma.sync configuration.
  for (const int m : {17, 64, 128, 4096}) {
    for (const int k : {128, 4096, 28672}) {
      EXPECT_STREQ(gemm_detail::choose_dense_config(m, 8192, k, false).name, "m32_k128_n256_s4");
    }
  }
  EXPECT_EQ(name(32, 8192, 8192), rows32);
}

TEST(GemmArgs, ConfigurationSpecsNameATableEntryAndItsFloor) {
  const auto config = gemm_detail::parse_dense_config("m64_k128_n256_s4_wgmma_x4");
  EXPECT_STREQ(config.name, "m64_k128_n256_s4_wgmma_x4");
  EXPECT_EQ(config.rows, 64);
  EXPECT_EQ(config.min_tiles_per_block, 1);
  const auto floored = gemm_detail::parse_dense_config("m16_k128_n128_s6_b2:16");
  EXPECT_STREQ(floored.name, "m16_k128_n128_s6_b2");
  EXPECT_EQ(floored.tile_n, 128);
  EXPECT_EQ(floored.min_tiles_per_block, 16);
  // Every configuration the rule picks can be named.
  for (const int m : {1, 16, 32, 64, 128, 1024}) {
    for (const bool wgmma : {false, true}) {
      const auto& chosen = gemm_detail::choose_dense_config(m, 4096, 4096, wgmma);
      EXPECT_EQ(gemm_detail::parse_dense_config(chosen.name).tiling, chosen.tiling);
    }
  }
  // A wrong name is refused with the list of names; a floor must be a number of 1 to 4096.
  try {
    gemm_detail::parse_dense_config("m64_wide");
    ADD_FAILURE() << "an unknown configuration was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("m64_wide"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("m128_k128_n256_s4_wgmma_x4"), std::string::npos)
        << e.what();
  }
  for (const char* spec : {"m16_k128_n128_s6_b2:", "m16_k128_n128_s6_b2:0",
                           "m16_k128_n128_s6_b2:4097", "m16_k128_n128_s6_b2:-3",
                           "m16_k128_n128_s6_b2:8x", "m16_k128_n128_s6_b2:99999999999"}) {
    EXPECT_THROW(gemm_detail::parse_dense_config(spec), Error) << spec;
  }
}

TEST(GemmArgs, ForcedConfigurationsMustRunTheProblem) {
  const auto wgmma = gemm_detail::parse_dense_config("m32_k128_n128_s6_b2_wgmma_x2");
  EXPECT_NO_THROW(gemm_detail::check_dense_config_runs(wgmma, 64, true));
  EXPECT_THROW(gemm_detail::check_dense_config_runs(wgmma, 64, false), Error);
  const auto swapped = gemm_detail::parse_dense_config("m16_k128_n256_s4_b2");
  EXPECT_NO_THROW(gemm_detail::check_dense_config_runs(swapped, 8, false));
  EXPECT_THROW(gemm_detail::check_dense_config_runs(swapped, 9, true), Error);
  const auto swapped16 = gemm_detail::parse_dense_config("m16_k128_n256_s8_swapped16");
  EXPECT_NO_THROW(gemm_detail::check_dense_config_runs(swapped16, 16, false));
  EXPECT_THROW(gemm_detail::check_dense_config_runs(swapped16, 17, true), Error);
  const auto medium = gemm_detail::parse_dense_config("m16_k128_n128_s6_b2");
  EXPECT_NO_THROW(gemm_detail::check_dense_config_runs(medium, 4096, false));
}

TEST(GemmArgs, TheEnvironmentForcesOneConfiguration) {
  // (read once per process: this test's process reads it first, as ctest runs every test alone)
  ASSERT_EQ(setenv("MARLIN_DENSE_CONFIG", "m32_k128_n256_s4:2", 1), 0);
  const auto& config = gemm_detail::dense_config_for(1, 4096, 4096, true, false, false);
  EXPECT_STREQ(config.name, "m32_k128_n256_s4");
  EXPECT_EQ(config.min_tiles_per_block, 2);
  EXPECT_STREQ(gemm_detail::dense_config_for(4096, 57344, 8192, false, false, false).name,
               "m32_k128_n256_s4");
  // ...and keeps large batches off the large-batch kernel.
  EXPECT_EQ(gemm_detail::large_batch_override(), std::optional<bool>(false));
  unsetenv("MARLIN_DENSE_CONFIG");
}

TEST(GemmArgs, FewLargeBatchTilesSplitKToFillTheSMs) {
  // 132 SMs. Whole waves need no split: 128 tiles (one wave, 97%), 264 (two, full).
  EXPECT_EQ(gemm_detail::large_batch_splits(128, 64, 132), 1);
  EXPECT_EQ(gemm_detail::large_batch_splits(264, 64, 132), 1);
  // 7B o_proj (k = 4096: 64 steps of 64) at m = 512: 64 tiles; two shares make one wave of 128.
  EXPECT_EQ(gemm_detail::large_batch_splits(64, 64, 132), 2);
  // Shares of at least 32 steps: k = 4096 splits in two at most, k = 8192 in four.
  EXPECT_EQ(gemm_detail::large_batch_splits(16, 64, 132), 2);
  EXPECT_EQ(gemm_detail::large_batch_splits(32, 128, 132), 4);
  EXPECT_EQ(gemm_detail::large_batch_splits(16, 63, 132), 1);
  // At most 4 shares, all in one wave: 16 tiles of k = 28672 take 4 (64 blocks), not 8; 40 tiles
  // (70B qkv at m = 128) take 3 (120 blocks); 96 tiles (73% of a wave) stay whole.
  EXPECT_EQ(gemm_detail::large_batch_splits(16, 448, 132), 4);
  EXPECT_EQ(gemm_detail::large_batch_splits(40, 128, 132), 3);
  EXPECT_EQ(gemm_detail::large_batch_splits(96, 128, 132), 1);
  for (long long tiles = 1; tiles <= 300; ++tiles) {
    const int splits = gemm_detail::large_batch_splits(tiles, 1000, 132);
    EXPECT_GE(splits, 1);
    EXPECT_LE(splits, gemm_detail::kLargeBatchMaxSplits);
    if (splits > 1) {
      EXPECT_LE(tiles * splits, 132) << tiles;
    }
  }
}

TEST(GemmArgs, LargeBatchesThatFillTheirWavesTakeTheLargeBatchKernel) {
  const DType fp16 = DType::kFloat16;
  const QuantScheme sym4 = QuantScheme::kSymmetricInt4;
  const auto plan = [&](int m, int n, int k) {
    return gemm_detail::choose_large_batch(m, n, k, fp16, sym4, true, 132, std::nullopt);
  };
  // On 132 SMs: 70B down_proj at m = 1024, 8 x 32 tiles of 128 x 256 (two waves, 97% full); the
  // 4096 x 4096 layer at m = 1000 (one wave of 128: 97%); 70B gate_up at m = 1024 (1792 tiles,
  // 14 waves, 97%): k whole.
  EXPECT_TRUE(plan(1024, 8192, 28672).kernel != nullptr);
  EXPECT_EQ(plan(1024, 8192, 28672).splits, 1);
  EXPECT_TRUE(plan(1000, 4096, 4096).kernel != nullptr);
  EXPECT_TRUE(plan(1024, 57344, 8192).kernel != nullptr);
  // 4096 x 4096 at m = 512: 64 tiles, k in two shares (one wave of 128 blocks); at m = 256, 32
  // tiles in two shares fill 48% of a wave: the dense kernel.
  EXPECT_TRUE(plan(512, 4096, 4096).kernel != nullptr);
  EXPECT_EQ(plan(512, 4096, 4096).splits, 2);
  EXPECT_TRUE(plan(256, 4096, 4096).kernel == nullptr);
  // 70B o_proj at m = 128: 32 tiles, 4 shares.
  EXPECT_EQ(plan(128, 8192, 8192).splits, 4);
  EXPECT_TRUE(plan(128, 8192, 8192).kernel != nullptr);
  // The edge: waves filled to 60%. 80 blocks of 132 (60.6%) take it; 79 (59.8%) do not (k =
  // 1024 is 16 steps: k whole).
  EXPECT_TRUE(plan(128, 80 * 256, 1024).kernel != nullptr);
  EXPECT_TRUE(plan(128, 79 * 256, 1024).kernel == nullptr);
  // m < 40 stays on the dense kernel, however full the waves; m = 40-64 takes 64-row tiles
  // (70B gate_up at m = 64: 224 tiles, two waves 85% full), m = 65 and more 128-row ones.
  EXPECT_TRUE(plan(39, 67584, 8192).kernel == nullptr);
  ASSERT_TRUE(plan(40, 67584, 8192).kernel != nullptr);
  EXPECT_EQ(plan(40, 67584, 8192).kernel->rows, 64);
  ASSERT_TRUE(plan(64, 57344, 8192).kernel != nullptr);
  EXPECT_EQ(plan(64, 57344, 8192).kernel->rows, 64);
  EXPECT_EQ(plan(64, 57344, 8192).splits, 1);
  ASSERT_TRUE(plan(65, 57344, 8192).kernel != nullptr);
  EXPECT_EQ(plan(65, 57344, 8192).kernel->rows, 128);
  // 7B o_proj at m = 64: 16 tiles in 2 shares fill 24% of a wave: the dense kernel.
  EXPECT_TRUE(plan(64, 4096, 4096).kernel == nullptr);
  // Every format of the dense kernel: fp16 and bf16 x INT4 (with or without zero points), INT8.
  for (const QuantScheme scheme : {QuantScheme::kAsymmetricInt4, QuantScheme::kSymmetricInt8}) {
    EXPECT_TRUE(gemm_detail::choose_large_batch(1024, 8192, 8192, DType::kBFloat16, scheme, true,
                                                132, std::nullopt)
                    .kernel != nullptr);
  }
  // Only sm_90a and n a multiple of 256, even when forced on.
  for (const std::optional<bool> forced : {std::optional<bool>(), std::optional<bool>(true)}) {
    EXPECT_TRUE(gemm_detail::choose_large_batch(4096, 57344, 8192, fp16, sym4, false, 132, forced)
                    .kernel == nullptr);
    EXPECT_TRUE(gemm_detail::choose_large_batch(4096, 8256, 8192, fp16, sym4, true, 132, forced)
                    .kernel == nullptr);
  }
  // Forced: on takes every m it can run (k still split to fill the SMs), off none.
  const gemm_detail::LargeBatchPlan on =
      gemm_detail::choose_large_batch(1, 256, 4096, fp16, sym4, true, 132, true);
  EXPECT_TRUE(on.kernel != nullptr);
  EXPECT_EQ(on.splits, 2);
  EXPECT_TRUE(gemm_detail::choose_large_batch(4096, 57344, 8192, fp16, sym4, true, 132, false)
                  .kernel == nullptr);
  // Forced on too, m <= 64 takes the 64-row tiles, m = 65 the 128-row ones.
  EXPECT_EQ(on.kernel->rows, 64);
  EXPECT_EQ(gemm_detail::choose_large_batch(64, 4096, 4096, fp16, sym4, true, 132, true)
                .kernel->rows,
            64);
  EXPECT_EQ(gemm_detail::choose_large_batch(65, 4096, 4096, fp16, sym4, true, 132, true)
                .kernel->rows,
            128);
  EXPECT_EQ(plan(1024, 8192, 28672).kernel->rows, 128);
}

TEST(GemmArgs, TheEnvironmentSwitchesTheLargeBatchKernel) {
  // (read once per process: this test's process reads it first, as ctest runs every test alone)
  ASSERT_EQ(setenv("MARLIN_LARGE_BATCH", "on", 1), 0);
  EXPECT_EQ(gemm_detail::large_batch_override(), std::optional<bool>(true));
  unsetenv("MARLIN_LARGE_BATCH");
}

TEST(GemmArgs, AnUnknownLargeBatchSwitchIsRefused) {
  ASSERT_EQ(setenv("MARLIN_LARGE_BATCH", "yes", 1), 0);
  try {
    gemm_detail::large_batch_override();
    FAIL() << "MARLIN_LARGE_BATCH=yes was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("the values are on and off"), std::string::npos)
        << e.what();
  }
  unsetenv("MARLIN_LARGE_BATCH");
}

TEST(GemmArgs, GridCoversEveryTileWithinTheResidentBlocks) {
  // Every tile in exactly one stripe, never more blocks than are resident (the workspace has
  // partial slots for those only), and no stripe shorter than the configuration's floor unless
  // the whole problem is.
  for (const bool wgmma : {false, true}) {
    for (int m : {1, 9, 17, 64, 128}) {
      const auto& config = gemm_detail::choose_dense_config(m, 4096, 8192, wgmma);
      for (long long total : {1LL, 3LL, 7LL, 64LL, 512LL, 1024LL, 1376LL, 7168LL, 1000003LL}) {
        for (int sm_count : {1, 132}) {
          for (int resident = 1; resident <= config.blocks_per_sm; ++resident) {
            const auto grid = gemm_detail::plan_dense_grid(total, sm_count, resident, config);
            ASSERT_GE(grid.grid, 1);
            EXPECT_LE(grid.grid, sm_count * resident) << config.name;
            EXPECT_GE(static_cast<long long>(grid.grid) * grid.tiles_per_block, total);
            EXPECT_LT(static_cast<long long>(grid.grid - 1) * grid.tiles_per_block, total);
            EXPECT_GE(grid.tiles_per_block,
                      std::min<long long>(total, config.min_tiles_per_block))
                << config.name << " total " << total;
          }
        }
      }
    }
  }
}

TEST(GemmArgs, SmallLayersGetStripesOfSeveralTiles) {
  // Llama-2-7B's 4096 x 4096 layer at m = 1 on 132 SMs: 16 slices x 32 k tiles. Two blocks per
  // SM would get two tiles each (16 blocks per slice); the floor gives 128 blocks of 4.
  const auto& small = gemm_detail::choose_dense_config(1, 4096, 8192, true);
  const auto grid = gemm_detail::plan_dense_grid(512, 132, 2, small);
  EXPECT_EQ(grid.tiles_per_block, 4);
  EXPECT_EQ(grid.grid, 128);
  // A large layer keeps every resident block busy: 70B's 28672 x 8192 at m = 1.
  const auto large = gemm_detail::plan_dense_grid(32 * 224, 132, 2, small);
  EXPECT_EQ(large.grid, 256);
  EXPECT_EQ(large.tiles_per_block, 28);
  // m = 9..16 tiles are half as wide: a floor of 8.
  const auto& medium = gemm_detail::choose_dense_config(16, 4096, 8192, true);
  EXPECT_EQ(gemm_detail::plan_dense_grid(1024, 132, 2, medium).tiles_per_block, 8);
}

}  // namespace
}  // namespace marlin
