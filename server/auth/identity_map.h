// IdentityMap: from an authenticated identity to its canonical principal and
// to the human it acts for, as configured in auth.principals and
// auth.on_behalf_of. Immutable after Create; pure lookups, thread-safe.
#ifndef APPROVAL_SERVER_AUTH_IDENTITY_MAP_H_
#define APPROVAL_SERVER_AUTH_IDENTITY_MAP_H_

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/auth/auth_config.h"

namespace approval {

class IdentityMap final {
 public:
  // INVALID_ARGUMENT when an identity is not qualified or is linked to two
  // principals, or an agent is listed twice (ValidateConfig reports the same
  // with config keys).
  // Platform identities (principal.h) are accepted in `principals`; a relay
  // identity must be qualified and listed once.
  static absl::StatusOr<IdentityMap> Create(
      const std::vector<PrincipalMapping>& principals,
      const std::vector<OnBehalfOf>& on_behalf_of,
      const std::vector<Relay>& relays = {});

  IdentityMap() = default;

  // The canonical principal of `identity` authenticated by `method`
  // (kMethod* in principal.h): the configured principal when its qualified
  // form is listed; otherwise the identity itself for tokens and
  // certificates, and the qualified "oidc:<value>" for OIDC, so that no IdP
  // subject can pass for a token or certificate identity.
  std::string PrincipalOf(absl::string_view method,
                          absl::string_view identity) const;

  // The configured human (canonical principal) that the qualified identity
  // `qualified` acts for; nullopt when none.
  std::optional<std::string> HumanFor(absl::string_view qualified) const;

  // The platform namespace the qualified identity `qualified` relays for
  // (auth.relays); "" when it is no relay.
  std::string RelayNamespace(absl::string_view qualified) const;

  // The principal a platform identity is linked to; nullopt when none.
  std::optional<std::string> PrincipalOfPlatformUser(
      absl::string_view platform_user) const;

  // True when some identity is linked to the principal `name`.
  bool IsConfiguredPrincipal(absl::string_view name) const;

  // The qualified identities linked to principal `name` (sorted).
  std::vector<std::string> IdentitiesOf(absl::string_view name) const;

 private:
  std::map<std::string, std::string, std::less<>> principal_of_;
  std::map<std::string, std::string, std::less<>> human_of_;
  std::map<std::string, std::string, std::less<>> relay_namespace_;
};

}  // namespace approval

#endif  // APPROVAL_SERVER_AUTH_IDENTITY_MAP_H_
