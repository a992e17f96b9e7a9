#include "progress.h"

#include <fmt/core.h>
#include <unistd.h>

#include <cstdio>
#include <utility>

ProgressBar::ProgressBar(std::string label, std::size_t total_items, std::uint64_t total_bytes,
                         bool force)
    : label_(std::move(label)),
      total_items_(total_items),
      total_bytes_(total_bytes),
      enabled_(force || isatty(fileno(stderr)) == 1) {}

ProgressBar::~ProgressBar() { finish(); }

void ProgressBar::advance(std::size_t items, std::uint64_t bytes) {
  items_ += items;
  bytes_ += bytes;
  const auto now = std::chrono::steady_clock::now();
  if (enabled_ && now - last_draw_ >= std::chrono::milliseconds(100)) {
    last_draw_ = now;
    draw();
  }
}

void ProgressBar::finish() {
  if (finished_) return;
  finished_ = true;
  if (!enabled_) return;
  draw();
  std::fputc('\n', stderr);
}

void ProgressBar::draw() {
  constexpr int kWidth = 20;
  const double fraction =
      total_bytes_ > 0 ? static_cast<double>(bytes_) / static_cast<double>(total_bytes_)
      : total_items_ > 0 ? static_cast<double>(items_) / static_cast<double>(total_items_)
                         : 1.0;
  const int filled = static_cast<int>(kWidth * (fraction > 1.0 ? 1.0 : fraction));
  constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;
  fmt::print(stderr, "\r{} [{}{}] {:>5}/{} tensors  {:.2f}/{:.2f} GiB", label_,
             std::string(static_cast<std::size_t>(filled), '#'),
             std::string(static_cast<std::size_t>(kWidth - filled), '.'), items_, total_items_,
             static_cast<double>(bytes_) / kGiB, static_cast<double>(total_bytes_) / kGiB);
  std::fflush(stderr);
}
