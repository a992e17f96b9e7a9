// The packed weight formats (INT4 and INT8): the contract between the packer (CPU,
// src/layout/pack.cpp and pack_codes.cpp) and the tensor-core kernels (src/kernels/dense/). Both
// include this file; nothing else defines the layout.
//
// W is the k x n weight matrix of C[m,n] = A[m,k] * W[k,n], stored as unsigned 4-bit codes q in
// [0, 15] (symmetric: w = (q - 8) * s, asymmetric: w = (q - z) * s).
//
// 1. Tiles. W is cut into 16 x 64 tiles (16 rows of k, 64 columns of n). Each tile is 512 bytes,
//    stored contiguously; tiles are laid out row-major over the (k/16) x (n/64) tile grid:
//
//        tile (tk, tn) starts at word  (tk * (n / 64) + tn) * 128        (32-bit words)
//
//    so one 16-row band of W is n*8 contiguous bytes, and a block reading a k16 x N_TILE strip
//    reads N_TILE*8 contiguous bytes: coalesced 16-byte accesses, no gather.
//
// 2. Inside a tile. The 32 lanes of a warp each own 4 consecutive words (lane t: words 4t..4t+3),
//    so a warp loads a whole tile with one 16-byte load per lane, and each lane's 16 bytes are
//    exactly its B fragments of the 8 mma.sync m16n8k16 products that cover the tile's 8 column
//    groups j = 0..7 (columns 8j..8j+7). In an m16n8k16 B fragment (PTX ISA, "mma.m16n8k16
//    fragments"), lane t holds column c = t/4 and rows 2r, 2r+1 (register b0) and 2r+8, 2r+9
//    (register b1), r = t%4. Word w of lane t holds column groups j0 = 2w and j1 = 2w + 1:
//
//        nibble:   7        6        5        4        3        2        1        0
//        holds:  b1.hi(j1) b0.hi(j1) b1.hi(j0) b0.hi(j0) b1.lo(j1) b0.lo(j1) b1.lo(j0) b0.lo(j0)
//
//    where b0.lo(j) = W[2r][8j+c], b0.hi(j) = W[2r+1][8j+c], b1.lo(j) = W[2r+8][8j+c] and
//    b1.hi(j) = W[2r+9][8j+c]. The pairs (0,4), (1,5), (2,6), (3,7) are 16 bits apart, so one
//    lop3 with mask 0x000f000f (or 0x00f000f0) puts a pair straight into the mantissas of a half2,
//    low half first: exactly the register order mma.sync wants (see kernels/common/dequant.cuh).
//
// 3. Scales. fp16 (or bf16) scales form a (groups x n) matrix, groups = k / group_size (1 for
//    per-channel). Within every 64-column tile of a scale row the 64 values are transposed as an
//    8 x 8 block, so that the 8 scales a lane needs (columns 8j + c, j = 0..7) are 16 contiguous
//    bytes:
//
//        stored position  8c + j   <->   column  8j + c        (c, j in 0..7)
//
//    Lane t reads the 16-byte chunk c = t/4 of each 128-byte tile row: 8 distinct chunks per warp,
//    broadcast within each group of 4 lanes, no bank conflicts.
//
// 4. Zero points (asymmetric INT4, AWQ convention w = (q - z) * s). One uint8 z in [0, 15] per
//    (group, column), a (groups x n) byte matrix transposed per 64 columns exactly like the
//    scales (stored position 8c + j <-> column 8j + c), so a lane's 8 zeros are 8 contiguous
//    bytes. A byte, not a nibble: one prmt turns it into the subtrahend (magic + z) of the
//    dequantization (kernels/common/dequant.cuh) without any unpacking.
//
// 5. INT8 (symmetric, w = (q - 128) * s). Same 16 x 64 tiles, 1024 bytes = 256 words each,
//    tile (tk, tn) at word (tk * (n / 64) + tn) * 256. A tile is two 512-byte halves; half h
//    holds column groups j = 4h .. 4h+3, and lane t owns words 4t .. 4t+3 of each half (one
//    conflict-free 16-byte load per half). Word 4t + (j % 4) of half j / 4 holds, for column
//    8j + c of lane t = 4c + r, the bytes
//
//        byte:     3          2        1          0
//        holds:  W[2r+9]   W[2r+8]   W[2r+1]   W[2r]
//
//    so one prmt with 0x64 (fp16 exponent of 1024) builds register b0 (bytes 0, 1) or b1
//    (bytes 2, 3) of the B fragment as 1024 + q.
//
// 6. Act-order (GPTQ desc_act). The packer sorts W's rows by group so that every group is a
//    contiguous range of k again, and keeps perm (k entries): packed row i is original row
//    perm[i]. The GEMM multiplies A's columns in the same order (A[:, perm[i]]).
//
// 7. Device scale rows (what the kernels read as `scales`, layout/device_scales.cpp builds it).
//    Symmetric schemes: the scales of 3., as they are. Asymmetric INT4: each group's zero points
//    sit beside its scales, so that one copy brings a block both. A group row is cut into blocks
//    of 256 columns; block b holds that group's 256 scales (512 bytes, stored as in 3.) and then
//    its 256 zero bytes (stored as in 4.); rows are padded to whole blocks (zero bytes):
//
//        row g:  | scales b0 (512 B) | zeros b0 (256 B) | scales b1 | zeros b1 | ... |
//
//        stored column c of row g:  scale at  g * row_bytes + 768 (c / 256) + 2 (c % 256)
//                                   zero at   g * row_bytes + 768 (c / 256) + 512 + c % 256
//
//    Why: with the two arrays apart, zero-point GEMMs took 3.5-4.5% longer at m = 32 (the dense
//    kernel's 4096-wide layers up to 6%). 256 columns is the large-batch kernel's block width: it
//    fetches a group's block with one 768-byte bulk copy. With 64-column blocks instead, that
//    kernel lost 1-6% at m = 64 (H200, docs/dense-kernel-notes.md v19).
#pragma once

#include <cstdint>

#if defined(__CUDACC__)
#define MARLIN_HOST_DEVICE __host__ __device__ __forceinline__
#else
#define MARLIN_HOST_DEVICE inline
#endif

namespace marlin::layout {

constexpr int kTileK = 16;                        // rows of k in one tile
constexpr int kTileN = 64;                        // columns of n in one tile
constexpr int kInt4TileWords = kTileK * kTileN / 8;  // 128 words = 512 bytes
constexpr int kInt8TileWords = kTileK * kTileN / 4;  // 256 words = 1024 bytes
constexpr int kWordsPerLane = 4;                  // 16 bytes: one cp.async / ld.shared.v4
constexpr int kColumnGroups = kTileN / 8;         // 8 mma n8 column groups per tile

// Word offset of tile (tile_k, tile_n) in a packed matrix with n columns and `bits` (4 or 8) per
// code.
MARLIN_HOST_DEVICE std::int64_t tile_word_offset(std::int64_t tile_k, std::int64_t tile_n,
                                                 std::int64_t n, int bits) {
  return (tile_k * (n / kTileN) + tile_n) * (kInt4TileWords * bits / 4);
}

// Where value (row, col) of a 16 x 64 tile lives: word index in the tile (0..127) and nibble (0..7).
struct NibbleSlot {
  int word;
  int nibble;
};

MARLIN_HOST_DEVICE NibbleSlot int4_slot_in_tile(int row, int col) {
  const int column_group = col / 8;  // j
  const int c = col % 8;             // lane / 4
  const int r = (row % 8) / 2;       // lane % 4
  const int lane = 4 * c + r;
  const bool b1 = row >= 8;          // rows 8..15 go to register b1
  const bool hi = row % 2;           // odd row: the upper half of the half2
  const int word = 4 * lane + column_group / 2;
  const int nibble = (column_group % 2) * 2 + (b1 ? 1 : 0) + (hi ? 4 : 0);
  return {word, nibble};
}

// Where value (row, col) of a 16 x 64 INT8 tile lives: word index in the tile (0..255) and byte.
struct ByteSlot {
  int word;
  int byte;
};

MARLIN_HOST_DEVICE ByteSlot int8_slot_in_tile(int row, int col) {
  const int column_group = col / 8;  // j
  const int c = col % 8;
  const int r = (row % 8) / 2;
  const int lane = 4 * c + r;
  const int word = (column_group / 4) * 128 + 4 * lane + column_group % 4;
  const int byte = (row >= 8 ? 2 : 0) + row % 2;
  return {word, byte};
}

// Position of column `col` (0..63) inside the stored 64-value scale (or zero) tile row.
MARLIN_HOST_DEVICE int scale_position_in_tile(int col) { return 8 * (col % 8) + col / 8; }

// Device scale rows (7.): columns per block, and the bytes of one block and of one group row.
constexpr int kScaleBlockColumns = 256;
constexpr int kScaleBlockBytes = kScaleBlockColumns * 3;  // with zero points
constexpr int kZeroOffsetInBlock = kScaleBlockColumns * 2;

MARLIN_HOST_DEVICE std::int64_t device_scale_row_bytes(std::int64_t n, bool has_zeros) {
  return has_zeros ? (n + kScaleBlockColumns - 1) / kScaleBlockColumns * kScaleBlockBytes : 2 * n;
}

// Byte offsets, within a device scale row with zero points, of stored column `col`'s scale and
// zero point.
MARLIN_HOST_DEVICE int scale_offset_in_row(int col) {
  return col / kScaleBlockColumns * kScaleBlockBytes + 2 * (col % kScaleBlockColumns);
}
MARLIN_HOST_DEVICE int zero_offset_in_row(int col) {
  return col / kScaleBlockColumns * kScaleBlockBytes + kZeroOffsetInBlock +
         col % kScaleBlockColumns;
}

}  // namespace marlin::layout
