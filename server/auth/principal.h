// Who is calling: an authenticated identity, the canonical principal it maps
// to, its roles and the human it may act for.
//
// Identities are written qualified by how they were authenticated, so that
// one method can never pass for another (the form used by the config keys
// auth.principals and auth.on_behalf_of):
//   token:<identity>     a bearer token from the tokens file
//   oidc:<claim value>   an OIDC token (auth.oidc.identity_claim, e.g. sub)
//   spiffe://td/path     a client certificate whose identity is a SPIFFE ID
//   mtls:<identity>      any other client certificate identity (URI or CN)
#ifndef APPROVAL_SERVER_AUTH_PRINCIPAL_H_
#define APPROVAL_SERVER_AUTH_PRINCIPAL_H_

#include <optional>
#include <set>
#include <string>

#include "absl/strings/string_view.h"

namespace approval {

// agent: requests approvals, sees and follows its own. reviewer: sees and
// follows all, decides. admin: both, and the audit log. observer: sees and
// follows all (list, get, stream, signing key) and nothing more: for bots
// that only notify.
enum class Role { kAgent, kReviewer, kAdmin, kObserver };

absl::string_view RoleName(Role r);  // "agent", "reviewer", "admin", "observer"
std::optional<Role> ParseRole(absl::string_view name);

// How a caller authenticated; the prefix of its qualified identity.
inline constexpr absl::string_view kMethodToken = "token";
inline constexpr absl::string_view kMethodOidc = "oidc";
inline constexpr absl::string_view kMethodMtls = "mtls";

// The qualified identity of `identity` authenticated by `method` (one of the
// kMethod* names): "<method>:<identity>", except that a certificate identity
// that is a SPIFFE ID ("spiffe://...") stands for itself.
std::string QualifiedIdentity(absl::string_view method,
                              absl::string_view identity);

// True when `s` is a qualified identity: one of the four forms above with a
// non-empty identity part and no control characters.
bool IsQualifiedIdentity(absl::string_view s);

struct Principal {
  // The canonical principal: what self-approval, quorum distinctness and
  // "agents see only their own approvals" compare. The name from
  // auth.principals when the identity is listed there; otherwise a token or
  // certificate identity as written, and an OIDC identity as "oidc:<value>".
  std::string id;
  std::set<Role> roles;
  std::string method;  // kMethodToken, kMethodOidc or kMethodMtls
  // The authenticated identity, qualified (see above).
  std::string identity;
  // Canonical principal of the human this caller acts for; "" when none.
  std::string on_behalf_of;
  // The caller's IdP groups (auth.oidc.groups_claim) when it authenticated
  // with an OIDC token for itself; empty otherwise.
  std::set<std::string> groups;

  bool Has(Role r) const { return roles.count(r) > 0; }
};

}  // namespace approval

#endif  // APPROVAL_SERVER_AUTH_PRINCIPAL_H_
