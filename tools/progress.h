// A one-line progress bar on stderr for long tool runs ("tensors + bytes" style):
//
//   convert [##########..........]  145/291 tensors  2.10/4.20 GiB
//
// Drawn only when stderr is a terminal (or when forced), at most ~10 times a second.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

class ProgressBar {
 public:
  ProgressBar(std::string label, std::size_t total_items, std::uint64_t total_bytes,
              bool force = false);
  ~ProgressBar();  // finishes the line if finish() was not called
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;

  void advance(std::size_t items, std::uint64_t bytes);
  void finish();
  bool enabled() const { return enabled_; }

 private:
  void draw();

  std::string label_;
  std::size_t total_items_;
  std::uint64_t total_bytes_;
  std::size_t items_ = 0;
  std::uint64_t bytes_ = 0;
  bool enabled_;
  bool finished_ = false;
  std::chrono::steady_clock::time_point last_draw_{};
};
