// The `marlin` subcommands: each lives in its own file and registers itself on the app with one
// function. main.cpp calls the ones that are built (convert and inspect only when their files
// exist; tools/CMakeLists.txt defines MARLIN_HAVE_CONVERT / MARLIN_HAVE_INSPECT then).
//
// A subcommand reports failure by throwing marlin::Error (printed as "marlin: error: ...", exit
// code 1) or CLI::RuntimeError(exit_code) after printing its own message.
#pragma once

namespace CLI {
class App;
}

void add_version_command(CLI::App& app);   // version.cpp
void add_selftest_command(CLI::App& app);  // selftest.cpp
void add_convert_command(CLI::App& app);   // convert.cpp
void add_inspect_command(CLI::App& app);   // inspect.cpp

// "marlin 0.1.0"
const char* marlin_version_line();
