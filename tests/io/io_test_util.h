// Helpers for the io tests: a scratch folder per test, raw file writers, and safetensors files
// assembled by hand (so tests control every byte a parser sees).
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "marlin/status.h"

namespace marlin::io::testing {

class ScratchDir {
 public:
  ScratchDir() {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "marlin-io-test-XXXXXX").string();
    std::vector<char> buffer(pattern.begin(), pattern.end());
    buffer.push_back('\0');
    if (::mkdtemp(buffer.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = buffer.data();
  }
  ~ScratchDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  std::string path() const { return path_.string(); }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

inline void write_file(const std::string& path, const std::vector<std::uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
}

inline void write_text(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

inline std::vector<std::uint8_t> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<std::uint8_t>((std::istreambuf_iterator<char>(in)),
                                   std::istreambuf_iterator<char>());
}

// An 8-byte little-endian length, the header text, then `data`.
inline std::vector<std::uint8_t> raw_safetensors(const std::string& header,
                                                 const std::vector<std::uint8_t>& data,
                                                 std::uint64_t declared_length = ~0ull) {
  const std::uint64_t length = declared_length == ~0ull ? header.size() : declared_length;
  std::vector<std::uint8_t> bytes;
  for (int i = 0; i < 8; ++i) bytes.push_back(static_cast<std::uint8_t>(length >> (8 * i)));
  bytes.insert(bytes.end(), header.begin(), header.end());
  bytes.insert(bytes.end(), data.begin(), data.end());
  return bytes;
}

// Runs `body`, expects marlin::Error with `code` whose message contains every one of `parts`.
template <typename Body>
void expect_error(Body&& body, ErrorCode code, const std::vector<std::string>& parts) {
  try {
    body();
    ADD_FAILURE() << "expected an error containing '" << (parts.empty() ? "" : parts[0]) << "'";
  } catch (const Error& error) {
    EXPECT_EQ(static_cast<int>(error.code()), static_cast<int>(code)) << error.what();
    const std::string message = error.what();
    for (const auto& part : parts) {
      EXPECT_NE(message.find(part), std::string::npos)
          << "message '" << message << "' lacks '" << part << "'";
    }
  }
}

}  // namespace marlin::io::testing

#include "marlin/io/safetensors.h"

namespace marlin::io::testing {

inline std::uint32_t read_word(const TensorData& tensor, std::size_t index) {
  std::uint32_t word = 0;
  std::memcpy(&word, tensor.data + 4 * index, 4);
  return word;
}

}  // namespace marlin::io::testing

namespace marlin::io::testing {

inline std::string read_file_text(const std::string& path) {
  const auto bytes = read_file(path);
  return std::string(bytes.begin(), bytes.end());
}

}  // namespace marlin::io::testing
