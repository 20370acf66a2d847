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

// Platform identities: who a person is on a chat platform, as a relay (a
// bot, auth.relays) reports it. Never an authenticated identity of the
// broker: only a relay speaking for the namespace may name one.
//   namespace:  "<platform>:<space>"          e.g. "slack:T0123"
//   identity:   "<platform>:<space>/<user>"   e.g. "slack:T0123/U0456"
// <platform> is [a-z][a-z0-9-]* and not token, oidc, mtls or spiffe;
// <space> has no '/'; neither part is empty; no control characters; at most
// kMaxPlatformIdentityBytes bytes.
inline constexpr size_t kMaxPlatformIdentityBytes = 256;
bool IsPlatformNamespace(absl::string_view s);
bool IsPlatformIdentity(absl::string_view s);
// The namespace of a platform identity ("slack:T0123" for
// "slack:T0123/U0456"); "" when `s` is not one.
std::string PlatformNamespaceOf(absl::string_view s);

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
  // The platform namespace this caller relays for (auth.relays), e.g.
  // "slack:T0123"; "" when it is no relay. A relay decides only as a linked
  // human of its namespace and never counts as a reviewer itself.
  std::string relay_namespace;

  bool Has(Role r) const { return roles.count(r) > 0; }
  bool IsRelay() const { return !relay_namespace.empty(); }
};

}  // namespace approval

#endif  // APPROVAL_SERVER_AUTH_PRINCIPAL_H_
