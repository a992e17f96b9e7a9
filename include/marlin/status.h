// Errors at the API boundary. C++ callers get exceptions of type marlin::Error; the C API turns
// them into status codes plus a thread-local message (see marlin.h).
#pragma once

#include <stdexcept>
#include <string>

namespace marlin {

enum class ErrorCode : int {
  kOk = 0,
  kInvalidArgument = 1,  // a shape, dtype, pointer or option the call does not support
  kUnsupported = 2,      // valid input, but no kernel for it on this device / build
  kCuda = 3,             // the CUDA runtime or a CUDA library reported an error
  kIo = 4,               // files: missing, unreadable, corrupt
  kInternal = 5,         // a bug in marlin
};

const char* error_code_name(ErrorCode code);

class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, const std::string& message)
      : std::runtime_error(message), code_(code) {}
  ErrorCode code() const { return code_; }

 private:
  ErrorCode code_;
};

// Throws kInvalidArgument with `message` unless `condition` holds. Messages name the argument,
// its value and the rule, e.g. "k=4100 must be a multiple of 128 (group size 128)".
inline void require(bool condition, const std::string& message) {
  if (!condition) throw Error(ErrorCode::kInvalidArgument, message);
}

}  // namespace marlin
