#include "server/auth/principal.h"

namespace approval {

std::string_view RoleName(Role r) {
  switch (r) {
    case Role::kAgent:
      return "agent";
    case Role::kReviewer:
      return "reviewer";
    case Role::kAdmin:
      return "admin";
  }
  return "unknown";
}

std::optional<Role> ParseRole(std::string_view name) {
  for (Role r : {Role::kAgent, Role::kReviewer, Role::kAdmin}) {
    if (name == RoleName(r)) return r;
  }
  return std::nullopt;
}

}  // namespace approval
