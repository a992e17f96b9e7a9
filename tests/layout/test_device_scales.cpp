// The device scale rows (packed_format.h, 7.): every scale and zero point of the packed matrix at
// the offset the kernels read it from, padding zeroed, the symmetric schemes' scales untouched.
#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "layout/packed_format.h"
#include "marlin/pack.h"
#include "pack_test_util.h"

namespace marlin {
namespace {

using testing::error_of;
using testing::has_text;
using testing::random_quantized;

// n = 320: one whole 256-column block and one of 64 columns, padded to 256.
TEST(DeviceScales, PutEachZeroPointBesideItsScaleInPaddedBlocksOf256Columns) {
  std::mt19937 rng(7);
  for (const DType dtype : {DType::kFloat16, DType::kBFloat16}) {
    const PackedMatrix p =
        pack(random_quantized(rng, QuantScheme::kAsymmetricInt4, 128, 320, 32, dtype));
    const int groups = 4;
    const std::vector<std::uint8_t> rows = device_scales(p);
    const std::size_t row_bytes = 2 * layout::kScaleBlockBytes;  // 320 columns -> 2 blocks
    ASSERT_EQ(layout::device_scale_row_bytes(p.n, true), static_cast<std::int64_t>(row_bytes));
    ASSERT_EQ(rows.size(), groups * row_bytes);
    std::vector<bool> written(rows.size(), false);
    for (int g = 0; g < groups; ++g) {
      for (int c = 0; c < p.n; ++c) {
        const std::size_t scale_at = g * row_bytes + layout::scale_offset_in_row(c);
        const std::size_t zero_at = g * row_bytes + layout::zero_offset_in_row(c);
        std::uint16_t scale = 0;
        std::memcpy(&scale, rows.data() + scale_at, 2);
        ASSERT_EQ(scale, p.scales[g * p.n + c]) << "group " << g << " column " << c;
        ASSERT_EQ(rows[zero_at], p.zeros[g * p.n + c]) << "group " << g << " column " << c;
        ASSERT_FALSE(written[scale_at] || written[scale_at + 1] || written[zero_at]);
        written[scale_at] = written[scale_at + 1] = written[zero_at] = true;
      }
    }
    for (std::size_t i = 0; i < rows.size(); ++i) {
      if (!written[i]) {
        ASSERT_EQ(rows[i], 0) << "padding byte " << i;
      }
    }
    // Block 1 of row 0: its scales 768 bytes in, its zero points 512 bytes after those.
    EXPECT_EQ(layout::scale_offset_in_row(256), 768);
    EXPECT_EQ(layout::zero_offset_in_row(256), 768 + 512);
  }
}

TEST(DeviceScales, AreTheScalesAsTheyAreForTheSymmetricSchemes) {
  std::mt19937 rng(8);
  for (const QuantScheme scheme : {QuantScheme::kSymmetricInt4, QuantScheme::kSymmetricInt8}) {
    const PackedMatrix p = pack(random_quantized(rng, scheme, 64, 192, 32, DType::kBFloat16));
    const std::vector<std::uint8_t> bytes = device_scales(p);
    ASSERT_EQ(bytes.size(), p.scales.size() * 2);
    EXPECT_EQ(std::memcmp(bytes.data(), p.scales.data(), bytes.size()), 0);
    EXPECT_EQ(layout::device_scale_row_bytes(p.n, false), 2 * p.n);
  }
}

TEST(DeviceScales, RefuseAnInconsistentPackedMatrix) {
  std::mt19937 rng(9);
  PackedMatrix p =
      pack(random_quantized(rng, QuantScheme::kAsymmetricInt4, 64, 128, 64, DType::kFloat16));
  p.zeros.pop_back();
  EXPECT_TRUE(has_text(error_of([&] { device_scales(p); }), "device_scales: zeros has 127"));
}

}  // namespace
}  // namespace marlin
