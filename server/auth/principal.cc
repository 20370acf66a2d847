#include "server/auth/principal.h"

#include "absl/strings/str_cat.h"

namespace approval {
namespace {

constexpr absl::string_view kSpiffePrefix = "spiffe://";

bool StartsWith(absl::string_view s, absl::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

bool HasControlChars(absl::string_view s) {
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f) return true;
  }
  return false;
}

bool IsPlatformName(absl::string_view s) {
  if (s.empty() || s[0] < 'a' || s[0] > 'z') return false;
  for (char c : s) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) {
      return false;
    }
  }
  return s != kMethodToken && s != kMethodOidc && s != kMethodMtls &&
         s != "spiffe";
}

}  // namespace

bool IsPlatformNamespace(absl::string_view s) {
  if (s.size() > kMaxPlatformIdentityBytes || HasControlChars(s)) return false;
  const size_t colon = s.find(':');
  if (colon == absl::string_view::npos) return false;
  const absl::string_view space = s.substr(colon + 1);
  return IsPlatformName(s.substr(0, colon)) && !space.empty() &&
         space.find('/') == absl::string_view::npos;
}

bool IsPlatformIdentity(absl::string_view s) {
  if (s.size() > kMaxPlatformIdentityBytes) return false;
  const size_t colon = s.find(':');
  if (colon == absl::string_view::npos) return false;
  const size_t slash = s.find('/', colon);
  if (slash == absl::string_view::npos || slash + 1 >= s.size()) return false;
  return IsPlatformNamespace(s.substr(0, slash)) && !HasControlChars(s);
}

std::string PlatformNamespaceOf(absl::string_view s) {
  if (!IsPlatformIdentity(s)) return "";
  return std::string(s.substr(0, s.find('/', s.find(':'))));
}

absl::string_view RoleName(Role r) {
  switch (r) {
    case Role::kAgent:
      return "agent";
    case Role::kReviewer:
      return "reviewer";
    case Role::kAdmin:
      return "admin";
    case Role::kObserver:
      return "observer";
  }
  return "unknown";
}

std::optional<Role> ParseRole(absl::string_view name) {
  for (Role r :
       {Role::kAgent, Role::kReviewer, Role::kAdmin, Role::kObserver}) {
    if (name == RoleName(r)) return r;
  }
  return std::nullopt;
}

std::string QualifiedIdentity(absl::string_view method,
                              absl::string_view identity) {
  if (method == kMethodMtls && StartsWith(identity, kSpiffePrefix)) {
    return std::string(identity);
  }
  return absl::StrCat(method, ":", identity);
}

bool IsQualifiedIdentity(absl::string_view s) {
  if (HasControlChars(s)) return false;
  if (StartsWith(s, kSpiffePrefix)) return s.size() > kSpiffePrefix.size();
  for (absl::string_view method : {kMethodToken, kMethodOidc, kMethodMtls}) {
    if (StartsWith(s, method) && s.size() > method.size() + 1 &&
        s[method.size()] == ':') {
      return true;
    }
  }
  return false;
}

}  // namespace approval
