// Small helpers shared by the io layer: errors, read-only memory maps, and files that appear
// atomically (temporary file in the destination folder, fsync, rename).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "marlin/status.h"

namespace marlin::io {

[[noreturn]] inline void throw_io(const std::string& message) {
  throw Error(ErrorCode::kIo, message);
}

// A whole file mapped read-only. Empty files map to no memory (data() == nullptr, size() == 0).
class MappedFile {
 public:
  explicit MappedFile(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const std::uint8_t* data() const { return data_; }
  std::size_t size() const { return size_; }

 private:
  const std::uint8_t* data_ = nullptr;
  std::size_t size_ = 0;
};

// A file written under a temporary name in the destination's folder and renamed into place by
// commit() after an fsync (of the file, then of the folder). Without commit() the temporary file
// is removed: a reader sees the old file or the complete new one, never a partial one.
class AtomicFile {
 public:
  explicit AtomicFile(std::string path);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void write(const void* data, std::size_t size);
  void commit();

 private:
  std::string path_;
  std::string temp_path_;
  int fd_ = -1;
  bool committed_ = false;
};

// Reads a whole (small) text file; throws kIo naming the path.
std::string read_text_file(const std::string& path);
void write_text_file_atomic(const std::string& path, const std::string& text);

}  // namespace marlin::io
