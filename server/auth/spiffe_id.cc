#include "server/auth/spiffe_id.h"

namespace approval {
namespace {

constexpr absl::string_view kScheme = "spiffe://";
constexpr size_t kMaxTrustDomainBytes = 255;
constexpr size_t kMaxIdBytes = 2048;

bool IsLowerAlnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

bool IsPathChar(char c) {
  return IsLowerAlnum(c) || (c >= 'A' && c <= 'Z') || c == '.' || c == '-' ||
         c == '_';
}

}  // namespace

bool IsTrustDomainName(absl::string_view name) {
  if (name.empty() || name.size() > kMaxTrustDomainBytes) return false;
  for (char c : name) {
    if (!IsLowerAlnum(c) && c != '.' && c != '-' && c != '_') return false;
  }
  return true;
}

std::optional<SpiffeId> ParseSpiffeId(absl::string_view uri) {
  if (uri.size() > kMaxIdBytes || uri.substr(0, kScheme.size()) != kScheme) {
    return std::nullopt;
  }
  absl::string_view rest = uri.substr(kScheme.size());
  const size_t slash = rest.find('/');
  const absl::string_view domain = rest.substr(0, slash);
  if (!IsTrustDomainName(domain)) return std::nullopt;
  SpiffeId id{std::string(domain), ""};
  if (slash == absl::string_view::npos) return id;
  absl::string_view path = rest.substr(slash);
  id.path = std::string(path);
  // Each "/segment": non-empty, allowed characters, not a dot segment.
  while (!path.empty()) {
    path.remove_prefix(1);  // the '/'
    const size_t next = path.find('/');
    const absl::string_view segment = path.substr(0, next);
    if (segment.empty() || segment == "." || segment == "..") {
      return std::nullopt;
    }
    for (char c : segment) {
      if (!IsPathChar(c)) return std::nullopt;
    }
    path = next == absl::string_view::npos ? absl::string_view()
                                           : path.substr(next);
  }
  return id;
}

}  // namespace approval
