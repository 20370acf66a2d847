#include "server/auth/identity_map.h"

#include "absl/strings/str_cat.h"
#include "server/auth/principal.h"

namespace approval {

absl::StatusOr<IdentityMap> IdentityMap::Create(
    const std::vector<PrincipalMapping>& principals,
    const std::vector<OnBehalfOf>& on_behalf_of,
    const std::vector<Relay>& relays) {
  IdentityMap map;
  for (const PrincipalMapping& m : principals) {
    if (m.principal.empty()) {
      return absl::InvalidArgumentError("principals: an empty principal");
    }
    for (const std::string& identity : m.identities) {
      if (!IsQualifiedIdentity(identity) && !IsPlatformIdentity(identity)) {
        return absl::InvalidArgumentError(absl::StrCat(
            "principals: ", identity, " is not a qualified identity"));
      }
      if (!map.principal_of_.emplace(identity, m.principal).second) {
        return absl::InvalidArgumentError(absl::StrCat(
            "principals: ", identity, " is linked to two principals"));
      }
    }
  }
  for (const OnBehalfOf& o : on_behalf_of) {
    if (!IsQualifiedIdentity(o.agent) || o.human.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "on_behalf_of: agent ", o.agent, " or its human is malformed"));
    }
    if (!map.human_of_.emplace(o.agent, o.human).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("on_behalf_of: agent ", o.agent, " is listed twice"));
    }
  }
  for (const Relay& r : relays) {
    if (!IsQualifiedIdentity(r.identity) ||
        !IsPlatformNamespace(r.platform_namespace)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "relays: relay ", r.identity, " or its namespace is malformed"));
    }
    if (!map.relay_namespace_.emplace(r.identity, r.platform_namespace)
             .second) {
      return absl::InvalidArgumentError(
          absl::StrCat("relays: ", r.identity, " is listed twice"));
    }
  }
  return map;
}

std::string IdentityMap::RelayNamespace(absl::string_view qualified) const {
  const auto it = relay_namespace_.find(qualified);
  return it == relay_namespace_.end() ? std::string() : it->second;
}

std::optional<std::string> IdentityMap::PrincipalOfPlatformUser(
    absl::string_view platform_user) const {
  if (!IsPlatformIdentity(platform_user)) return std::nullopt;
  const auto it = principal_of_.find(platform_user);
  if (it == principal_of_.end()) return std::nullopt;
  return it->second;
}

std::string IdentityMap::PrincipalOf(absl::string_view method,
                                     absl::string_view identity) const {
  const std::string qualified = QualifiedIdentity(method, identity);
  const auto it = principal_of_.find(qualified);
  if (it != principal_of_.end()) return it->second;
  if (method == kMethodOidc) return qualified;
  return std::string(identity);
}

std::optional<std::string> IdentityMap::HumanFor(
    absl::string_view qualified) const {
  const auto it = human_of_.find(qualified);
  if (it == human_of_.end()) return std::nullopt;
  return it->second;
}

bool IdentityMap::IsConfiguredPrincipal(absl::string_view name) const {
  for (const auto& [identity, principal] : principal_of_) {
    if (principal == name) return true;
  }
  return false;
}

std::vector<std::string> IdentityMap::IdentitiesOf(
    absl::string_view name) const {
  std::vector<std::string> out;
  for (const auto& [identity, principal] : principal_of_) {
    if (principal == name) out.push_back(identity);
  }
  return out;
}

}  // namespace approval
