#include "server/common/read_file.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "server/common/strict_json.h"

namespace approval {

absl::StatusOr<std::string> ReadFile(const std::string& path,
                                     size_t max_bytes) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    const int err = errno;
    return absl::ErrnoToStatus(err, absl::StrCat(path, ": cannot open"));
  }
  std::string text;
  char buf[8192];
  size_t n;
  while (text.size() <= max_bytes &&
         (n = std::fread(buf, 1, sizeof(buf), f)) > 0) {
    text.append(buf, n);
  }
  const bool failed = std::ferror(f) != 0;
  const int err = errno;
  std::fclose(f);
  if (failed) {
    return absl::ErrnoToStatus(err, absl::StrCat(path, ": cannot read"));
  }
  if (text.size() > max_bytes) {
    return absl::OutOfRangeError(
        absl::StrCat(path, ": larger than ", max_bytes, " bytes"));
  }
  return text;
}

absl::Status CheckReadable(absl::string_view key, const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    return absl::InvalidArgumentError(absl::StrCat(
        key, ": ", QuoteJson(path), " is a directory, not a file"));
  }
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    const int err = errno;
    return absl::InvalidArgumentError(absl::StrCat(
        key, ": ", QuoteJson(path), " is not readable: ", std::strerror(err)));
  }
  std::fclose(f);
  return absl::OkStatus();
}

}  // namespace approval
