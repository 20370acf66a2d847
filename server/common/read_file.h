// Reading small files (config, tokens, keys, certificates) whole, and
// checking at start-up that they can be.
#ifndef APPROVAL_SERVER_COMMON_READ_FILE_H_
#define APPROVAL_SERVER_COMMON_READ_FILE_H_

#include <cstddef>
#include <limits>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace approval {

// The contents of `path`. On failure a status from errno (NOT_FOUND,
// PERMISSION_DENIED, ...) whose message starts with the path;
// OUT_OF_RANGE when the file is larger than `max_bytes`. Thread-safe.
absl::StatusOr<std::string> ReadFile(
    const std::string& path,
    size_t max_bytes = std::numeric_limits<size_t>::max());

// OK when `path` names a file that can be opened for reading; else
// INVALID_ARGUMENT for the config key `key`: "<key>: "<path>" is a directory,
// not a file" or "<key>: "<path>" is not readable: <errno text>". For
// start-up checks: the file is read later.
absl::Status CheckReadable(absl::string_view key, const std::string& path);

}  // namespace approval

#endif  // APPROVAL_SERVER_COMMON_READ_FILE_H_
