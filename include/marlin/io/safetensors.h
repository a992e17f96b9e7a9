// The safetensors file format (https://github.com/huggingface/safetensors, "Format" section):
//
//   +-----------------+---------------------------+-----------------------------------------+
//   | N: u64 little-  | N bytes of UTF-8 JSON:    | byte buffer: every tensor's bytes,      |
//   | endian          | { name: {dtype, shape,    | row-major, little-endian, packed back   |
//   |                 |   data_offsets:[b, e]},   | to back; offsets are relative to the    |
//   |                 |   "__metadata__": {...} } | start of this buffer                    |
//   +-----------------+---------------------------+-----------------------------------------+
//
// The reader treats every file as hostile: the header is fully validated before any tensor byte
// is touched (see parse_safetensors_header), and tensors are read zero-copy from an mmap.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace marlin::io {

// Element types named by the format. Names match the format's strings ("F16", "BF16", ...).
enum class StDType : std::uint8_t {
  kBool, kU8, kI8, kU16, kI16, kF16, kBF16, kU32, kI32, kF32, kU64, kI64, kF64, kF8E4M3, kF8E5M2,
};

std::size_t st_dtype_size(StDType dtype);  // bytes per element
std::string_view st_dtype_name(StDType dtype);
// Returns false for an unknown name.
bool st_dtype_from_name(std::string_view name, StDType* dtype);

// One tensor as the header describes it. Offsets are relative to the start of the byte buffer.
struct TensorInfo {
  std::string name;
  StDType dtype = StDType::kF16;
  std::vector<std::uint64_t> shape;
  std::uint64_t begin = 0;
  std::uint64_t end = 0;

  std::uint64_t numel() const;  // product of shape (validated not to overflow)
  std::uint64_t nbytes() const { return end - begin; }
  std::string describe() const;  // "F16[4096, 11008]"
};

// A read-only view of one tensor's bytes (inside an mmap or a caller's buffer).
struct TensorData {
  StDType dtype = StDType::kF16;
  std::vector<std::uint64_t> shape;
  const std::uint8_t* data = nullptr;
  std::size_t size = 0;  // bytes
  std::string name;      // for error messages

  std::uint64_t numel() const;
  std::string describe() const;
};

struct SafetensorsHeader {
  std::vector<TensorInfo> tensors;  // in data-offset order
  std::map<std::string, std::string> metadata;
  std::uint64_t data_start = 0;  // file offset of the byte buffer (8 + N)
  std::uint64_t data_size = 0;   // bytes in the byte buffer

  const TensorInfo* find(std::string_view name) const;  // nullptr when absent
};

// Limits applied to untrusted headers.
constexpr std::uint64_t kMaxHeaderBytes = 100ull << 20;  // the JSON header: 100 MiB
constexpr std::size_t kMaxTensorRank = 8;

// Parses and validates the first `size` bytes of a safetensors file (the whole file, or at least
// its 8-byte prefix and header; `file_size` is the size of the whole file). Checks, before use:
// the header length against the file and kMaxHeaderBytes; the JSON syntax and nesting; each
// entry's keys, dtype, shape (rank, overflow of shape * dtype size) and data_offsets (begin <= end
// <= buffer, byte range == shape * dtype size); that offsets are contiguous when sorted (no
// overlap, no gap, buffer fully covered); names unique and non-empty; metadata string -> string.
// Throws marlin::Error(kIo) naming `file_label` and the tensor.
SafetensorsHeader parse_safetensors_header(const std::uint8_t* bytes, std::size_t size,
                                           std::uint64_t file_size, const std::string& file_label);

class MappedFile;

// A safetensors file, memory-mapped read-only. Tensor views stay valid while this object lives.
class SafetensorsFile {
 public:
  static SafetensorsFile open(const std::string& path);

  SafetensorsFile(SafetensorsFile&&) noexcept;
  SafetensorsFile& operator=(SafetensorsFile&&) noexcept;
  ~SafetensorsFile();

  const std::string& path() const { return path_; }
  const SafetensorsHeader& header() const { return header_; }
  const std::vector<TensorInfo>& tensors() const { return header_.tensors; }
  const std::map<std::string, std::string>& metadata() const { return header_.metadata; }
  bool contains(std::string_view name) const { return header_.find(name) != nullptr; }
  // Throws kIo naming the file when `name` is absent.
  TensorData tensor(std::string_view name) const;

 private:
  SafetensorsFile() = default;
  std::string path_;
  std::unique_ptr<MappedFile> mapping_;
  SafetensorsHeader header_;
};

// Writes a safetensors file tensor by tensor: all tensors are declared first (so the header can be
// written), then their bytes are produced one at a time, so memory holds one tensor at most.
// The file is written to a temporary file in the destination folder, fsync'ed and renamed into
// place: a reader never sees a half-written file.
class SafetensorsWriter {
 public:
  using Producer = std::function<void(std::vector<std::uint8_t>& bytes)>;

  // `producer` fills `bytes` with exactly shape * dtype-size bytes when the writer reaches it.
  void add(std::string name, StDType dtype, std::vector<std::uint64_t> shape, Producer producer);
  // The caller keeps `data` alive until write() returns.
  void add_borrowed(std::string name, StDType dtype, std::vector<std::uint64_t> shape,
                    const void* data, std::size_t size);
  void add_copy(std::string name, StDType dtype, std::vector<std::uint64_t> shape,
                const void* data, std::size_t size);
  void set_metadata(std::map<std::string, std::string> metadata) { metadata_ = std::move(metadata); }

  std::size_t tensor_count() const { return entries_.size(); }
  std::uint64_t data_bytes() const { return next_offset_; }

  // Called after each tensor is written, with its name and size in bytes.
  using Progress = std::function<void(const std::string& name, std::uint64_t bytes)>;
  void write(const std::string& path, const Progress& progress = nullptr) const;

  // The serialized header (8-byte length + JSON padded with spaces to a multiple of 8).
  std::vector<std::uint8_t> header_bytes() const;

 private:
  struct Entry {
    std::string name;
    StDType dtype;
    std::vector<std::uint64_t> shape;
    std::uint64_t begin;
    std::uint64_t size;
    Producer producer;
  };
  std::vector<Entry> entries_;
  std::map<std::string, std::string> metadata_;
  std::uint64_t next_offset_ = 0;
};

}  // namespace marlin::io
