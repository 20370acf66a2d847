// Who is calling: an authenticated identity and its roles.
#ifndef APPROVAL_SERVER_AUTH_PRINCIPAL_H_
#define APPROVAL_SERVER_AUTH_PRINCIPAL_H_

#include <optional>
#include <set>
#include <string>
#include <string_view>

namespace approval {

enum class Role { kAgent, kReviewer, kAdmin };

std::string_view RoleName(Role r);  // "agent", "reviewer", "admin"
std::optional<Role> ParseRole(std::string_view name);

struct Principal {
  std::string id;  // the identity compared for self-approval
  std::set<Role> roles;
  std::string method;  // "token" or "mtls"

  bool Has(Role r) const { return roles.count(r) > 0; }
};

}  // namespace approval

#endif  // APPROVAL_SERVER_AUTH_PRINCIPAL_H_
