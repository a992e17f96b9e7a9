// `marlin version`: the version, what this build contains and which GPUs it sees.
#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include "commands.h"
#include "marlin/device.h"

const char* marlin_version_line() { return "marlin " MARLIN_VERSION_STRING; }

void add_version_command(CLI::App& app) {
  CLI::App* command = app.add_subcommand("version", "Print the version, the build and the GPUs");
  command->callback([] {
    fmt::print("{}\n", marlin_version_line());
    fmt::print("GEMM kernels: {}\n", MARLIN_HAVE_GEMM ? "built for CUDA architectures " MARLIN_CUDA_ARCHITECTURES
                                                      : "not built");
    const int count = marlin::cuda_device_count();
    if (count == 0) {
      fmt::print("CUDA devices: none ({})\n", marlin::cuda_unavailable_reason());
      return;
    }
    for (int device = 0; device < count; ++device) {
      const marlin::DeviceInfo info = marlin::query_device(device);
      fmt::print("CUDA device {}: {} (compute capability {}.{}, {} SMs, {:.1f} GiB)\n", device,
                 info.name, info.cc_major, info.cc_minor, info.sm_count,
                 static_cast<double>(info.global_memory_bytes) / (1ull << 30));
    }
  });
}
