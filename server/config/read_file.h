// Reading small files (config, tokens, keys, certificates) whole.
#ifndef APPROVAL_SERVER_CONFIG_READ_FILE_H_
#define APPROVAL_SERVER_CONFIG_READ_FILE_H_

#include <cstddef>
#include <limits>
#include <string>

#include "absl/status/statusor.h"

namespace approval {

// The contents of `path`. On failure a status from errno (NOT_FOUND,
// PERMISSION_DENIED, ...) whose message starts with the path;
// OUT_OF_RANGE when the file is larger than `max_bytes`. Thread-safe.
absl::StatusOr<std::string> ReadFile(
    const std::string& path,
    size_t max_bytes = std::numeric_limits<size_t>::max());

}  // namespace approval

#endif  // APPROVAL_SERVER_CONFIG_READ_FILE_H_
