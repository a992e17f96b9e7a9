// The `marlin` command line: one subcommand per file (see commands.h).
#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <exception>

#include "commands.h"
#include "marlin/status.h"

int main(int argc, char** argv) {
  CLI::App app{"marlin: fast INT4 weight-quantized LLM inference (MARLIN kernels)", "marlin"};
  app.set_version_flag("--version", marlin_version_line());
  app.require_subcommand(1);
  add_version_command(app);
  add_selftest_command(app);
#if MARLIN_HAVE_CONVERT
  add_convert_command(app);
#endif
#if MARLIN_HAVE_INSPECT
  add_inspect_command(app);
#endif
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);  // also carries the exit code of CLI::RuntimeError from a subcommand
  } catch (const marlin::Error& e) {
    fmt::print(stderr, "marlin: error: {}\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    fmt::print(stderr, "marlin: internal error: {}\n", e.what());
    return 1;
  }
  return 0;
}
