#include "io/io_util.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

namespace marlin::io {

namespace {

std::string errno_text() { return std::strerror(errno); }

}  // namespace

MappedFile::MappedFile(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw_io("cannot open " + path + ": " + errno_text());
  struct stat info {};
  if (::fstat(fd, &info) != 0) {
    const std::string reason = errno_text();
    ::close(fd);
    throw_io("cannot stat " + path + ": " + reason);
  }
  if (!S_ISREG(info.st_mode)) {
    ::close(fd);
    throw_io(path + " is not a regular file");
  }
  size_ = static_cast<std::size_t>(info.st_size);
  if (size_ > 0) {
    void* mapped = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (mapped == MAP_FAILED) {
      const std::string reason = errno_text();
      ::close(fd);
      throw_io("cannot mmap " + path + ": " + reason);
    }
    data_ = static_cast<const std::uint8_t*>(mapped);
  }
  ::close(fd);  // the mapping keeps the file alive
}

MappedFile::~MappedFile() {
  if (data_ != nullptr) ::munmap(const_cast<std::uint8_t*>(data_), size_);
}

AtomicFile::AtomicFile(std::string path) : path_(std::move(path)) {
  const std::filesystem::path target(path_);
  const std::filesystem::path folder =
      target.has_parent_path() ? target.parent_path() : std::filesystem::path(".");
  std::string pattern = (folder / ("." + target.filename().string() + ".tmp-XXXXXX")).string();
  std::vector<char> buffer(pattern.begin(), pattern.end());
  buffer.push_back('\0');
  fd_ = ::mkstemp(buffer.data());
  if (fd_ < 0) throw_io("cannot create a temporary file next to " + path_ + ": " + errno_text());
  temp_path_ = buffer.data();
}

AtomicFile::~AtomicFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_ && !temp_path_.empty()) ::unlink(temp_path_.c_str());
}

void AtomicFile::write(const void* data, std::size_t size) {
  const auto* bytes = static_cast<const std::uint8_t*>(data);
  while (size > 0) {
    const ssize_t written = ::write(fd_, bytes, size);
    if (written < 0) {
      if (errno == EINTR) continue;
      throw_io("cannot write " + temp_path_ + " (for " + path_ + "): " + errno_text());
    }
    bytes += written;
    size -= static_cast<std::size_t>(written);
  }
}

void AtomicFile::commit() {
  if (::fchmod(fd_, 0644) != 0 || ::fsync(fd_) != 0) {
    throw_io("cannot fsync " + temp_path_ + ": " + errno_text());
  }
  if (::close(fd_) != 0) {
    fd_ = -1;
    throw_io("cannot close " + temp_path_ + ": " + errno_text());
  }
  fd_ = -1;
  if (::rename(temp_path_.c_str(), path_.c_str()) != 0) {
    throw_io("cannot rename " + temp_path_ + " to " + path_ + ": " + errno_text());
  }
  committed_ = true;
  // Make the rename itself durable.
  const std::filesystem::path target(path_);
  const std::string folder = target.has_parent_path() ? target.parent_path().string() : ".";
  const int folder_fd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (folder_fd >= 0) {
    ::fsync(folder_fd);
    ::close(folder_fd);
  }
}

std::string read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw_io("cannot open " + path);
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw_io("cannot read " + path);
  return text.str();
}

void write_text_file_atomic(const std::string& path, const std::string& text) {
  AtomicFile file(path);
  file.write(text.data(), text.size());
  file.commit();
}

}  // namespace marlin::io
