#include "server/auth/principal.h"

namespace approval {
namespace {

constexpr std::string_view kSpiffePrefix = "spiffe://";

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

bool HasControlChars(std::string_view s) {
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f) return true;
  }
  return false;
}

}  // namespace

std::string_view RoleName(Role r) {
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

std::optional<Role> ParseRole(std::string_view name) {
  for (Role r :
       {Role::kAgent, Role::kReviewer, Role::kAdmin, Role::kObserver}) {
    if (name == RoleName(r)) return r;
  }
  return std::nullopt;
}

std::string QualifiedIdentity(std::string_view method,
                              std::string_view identity) {
  if (method == kMethodMtls && StartsWith(identity, kSpiffePrefix)) {
    return std::string(identity);
  }
  std::string out(method);
  out.push_back(':');
  out.append(identity);
  return out;
}

bool IsQualifiedIdentity(std::string_view s) {
  if (HasControlChars(s)) return false;
  if (StartsWith(s, kSpiffePrefix)) return s.size() > kSpiffePrefix.size();
  for (std::string_view method : {kMethodToken, kMethodOidc, kMethodMtls}) {
    if (StartsWith(s, method) && s.size() > method.size() + 1 &&
        s[method.size()] == ':') {
      return true;
    }
  }
  return false;
}

}  // namespace approval
