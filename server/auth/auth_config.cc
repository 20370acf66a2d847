#include "server/auth/auth_config.h"

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "server/auth/spiffe_id.h"
#include "server/common/read_file.h"
#include "server/common/strict_json.h"

namespace approval {
namespace {

using Json = JsonReader::Json;
using Field = JsonReader::Field;

constexpr absl::Duration kMaxClockSkew = absl::Minutes(5);
constexpr absl::Duration kMaxJwksFetchTimeout = absl::Seconds(60);
constexpr absl::Duration kMaxUnknownKeyWait = absl::Seconds(60);

std::string Quote(absl::string_view s) { return QuoteJson(s); }

absl::Status Invalid(absl::string_view key, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(key, ": ", what));
}

JsonReader::Read ReadOidc(const JsonReader& r, OidcConfig* o) {
  return r.Nested({
      {"issuer", r.String(&o->issuer)},
      {"audience", r.String(&o->audience)},
      {"jwks_file", r.String(&o->jwks_file)},
      {"jwks_url", r.String(&o->jwks_url)},
      {"jwks_ca_file", r.String(&o->jwks_ca_file)},
      {"allowed_algorithms", r.StringArray(&o->allowed_algorithms)},
      {"identity_claim", r.String(&o->identity_claim)},
      {"groups_claim", r.String(&o->groups_claim)},
      {"group_roles",
       [&r, o](const Json& v, const std::string& path) {
         o->group_roles.clear();
         return r.Entries(v, path, "an object {\"group\": [roles]}",
                          [&](const std::string& group, const Json& roles,
                              const std::string& at) {
                            return ReadRoles(r, &o->group_roles[group])(roles,
                                                                        at);
                          });
       }},
      {"clock_skew", r.Duration(&o->clock_skew)},
      {"jwks_refresh_min_interval", r.Duration(&o->jwks_refresh_min_interval)},
      {"jwks_fetch_timeout", r.Duration(&o->jwks_fetch_timeout)},
      {"unknown_key_wait", r.Duration(&o->unknown_key_wait)},
  });
}

// With issuer unset, any other OIDC key is a half-done configuration.
absl::Status ValidateOidcOff(const OidcConfig& o) {
  const std::pair<absl::string_view, bool> set[] = {
      {"audience", !o.audience.empty()},
      {"jwks_file", !o.jwks_file.empty()},
      {"jwks_url", !o.jwks_url.empty()},
      {"jwks_ca_file", !o.jwks_ca_file.empty()},
      {"groups_claim", !o.groups_claim.empty()},
      {"group_roles", !o.group_roles.empty()},
  };
  for (const auto& [key, is_set] : set) {
    if (is_set) {
      return Invalid("auth.oidc.issuer",
                     absl::StrCat("required when auth.oidc.", key,
                                  " is set (OIDC is off without it)"));
    }
  }
  return absl::OkStatus();
}

// Exactly one of jwks_file and jwks_url; an https URL; readable files.
absl::Status ValidateJwksSource(const OidcConfig& o) {
  if (o.jwks_file.empty() == o.jwks_url.empty()) {
    return Invalid("auth.oidc",
                   "set exactly one of jwks_file and jwks_url (where the "
                   "IdP's signing keys come from)");
  }
  if (!o.jwks_url.empty()) {
    const bool has_space =
        std::any_of(o.jwks_url.begin(), o.jwks_url.end(), [](char c) {
          return absl::ascii_isspace(static_cast<unsigned char>(c)) ||
                 absl::ascii_iscntrl(static_cast<unsigned char>(c));
        });
    if (!absl::StartsWith(o.jwks_url, "https://") || o.jwks_url.size() <= 8 ||
        has_space) {
      return Invalid("auth.oidc.jwks_url",
                     absl::StrCat(Quote(o.jwks_url),
                                  " is not an https:// URL (keys are only "
                                  "fetched over verified TLS)"));
    }
  }
  if (!o.jwks_file.empty()) {
    if (absl::Status s = CheckReadable("auth.oidc.jwks_file", o.jwks_file);
        !s.ok()) {
      return s;
    }
  }
  if (o.jwks_ca_file.empty()) return absl::OkStatus();
  if (o.jwks_url.empty()) {
    return Invalid("auth.oidc.jwks_ca_file",
                   "only used with jwks_url, which is not set");
  }
  return CheckReadable("auth.oidc.jwks_ca_file", o.jwks_ca_file);
}

absl::Status ValidateAlgorithms(const std::vector<std::string>& algorithms) {
  if (algorithms.empty()) {
    return Invalid("auth.oidc.allowed_algorithms",
                   "empty: no token could be verified (use RS256 and/or "
                   "ES256)");
  }
  for (size_t i = 0; i < algorithms.size(); ++i) {
    const std::string& alg = algorithms[i];
    const std::string key =
        absl::StrCat("auth.oidc.allowed_algorithms[", i, "]");
    if (alg == "RS256" || alg == "ES256") continue;
    if (absl::AsciiStrToLower(alg) == "none") {
      return Invalid(key, "\"none\" (unsigned tokens) is never accepted");
    }
    if (absl::StartsWith(alg, "HS")) {
      return Invalid(key, absl::StrCat(Quote(alg),
                                       " is refused: HMAC algorithms would "
                                       "turn a public key into a secret"));
    }
    return Invalid(
        key, absl::StrCat(Quote(alg), " is not supported (RS256, ES256)"));
  }
  return absl::OkStatus();
}

absl::Status ValidateOidcClaims(const OidcConfig& o) {
  if (o.identity_claim.empty()) {
    return Invalid("auth.oidc.identity_claim", "must not be empty");
  }
  if (!o.group_roles.empty() && o.groups_claim.empty()) {
    return Invalid("auth.oidc.group_roles",
                   "set auth.oidc.groups_claim too: without it tokens carry "
                   "no groups");
  }
  for (const auto& [group, roles] : o.group_roles) {
    if (group.empty()) {
      return Invalid("auth.oidc.group_roles", "a group name is empty");
    }
    if (roles.empty()) {
      return Invalid(JsonPathKey("auth.oidc.group_roles", group),
                     "no roles (agent, reviewer, admin, observer)");
    }
  }
  return absl::OkStatus();
}

// `d` within [min, max]; "<key>: 90m is outside [0s, 1h]".
absl::Status CheckWithin(absl::string_view key, absl::Duration d,
                         absl::Duration min, absl::Duration max) {
  if (d >= min && d <= max) return absl::OkStatus();
  return Invalid(key, absl::StrCat(absl::FormatDuration(d), " is outside [",
                                   absl::FormatDuration(min), ", ",
                                   absl::FormatDuration(max), "]"));
}

absl::Status ValidateOidcDurations(const OidcConfig& o) {
  if (absl::Status s = CheckWithin("auth.oidc.clock_skew", o.clock_skew,
                                   absl::ZeroDuration(), kMaxClockSkew);
      !s.ok()) {
    return s;
  }
  for (const auto& [key, d] :
       {std::pair<absl::string_view, absl::Duration>{
            "auth.oidc.jwks_refresh_min_interval", o.jwks_refresh_min_interval},
        {"auth.oidc.jwks_fetch_timeout", o.jwks_fetch_timeout}}) {
    if (d <= absl::ZeroDuration() || d == absl::InfiniteDuration()) {
      return Invalid(key, absl::StrCat(absl::FormatDuration(d),
                                       " must be a positive, finite duration"));
    }
  }
  if (o.jwks_fetch_timeout > kMaxJwksFetchTimeout) {
    return Invalid(
        "auth.oidc.jwks_fetch_timeout",
        absl::StrCat(absl::FormatDuration(o.jwks_fetch_timeout), " exceeds ",
                     absl::FormatDuration(kMaxJwksFetchTimeout)));
  }
  return CheckWithin("auth.oidc.unknown_key_wait", o.unknown_key_wait,
                     absl::ZeroDuration(), kMaxUnknownKeyWait);
}

absl::Status ValidateOidc(const OidcConfig& o) {
  if (!o.enabled()) return ValidateOidcOff(o);
  if (o.audience.empty()) {
    return Invalid("auth.oidc.audience",
                   "required: the value tokens for this broker carry in aud");
  }
  if (absl::Status s = ValidateJwksSource(o); !s.ok()) return s;
  if (absl::Status s = ValidateAlgorithms(o.allowed_algorithms); !s.ok()) {
    return s;
  }
  if (absl::Status s = ValidateOidcClaims(o); !s.ok()) return s;
  return ValidateOidcDurations(o);
}

absl::Status CheckQualifiedIdentity(absl::string_view key,
                                    const std::string& identity) {
  if (IsQualifiedIdentity(identity)) return absl::OkStatus();
  return Invalid(key, absl::StrCat(Quote(identity),
                                   " is not a qualified identity (token:<id>, "
                                   "oidc:<claim value>, mtls:<certificate "
                                   "identity> or spiffe://<trust "
                                   "domain>/<path>)"));
}

bool IsPrintableName(const std::string& s) {
  return !s.empty() && std::none_of(s.begin(), s.end(), [](char c) {
    return absl::ascii_iscntrl(static_cast<unsigned char>(c));
  });
}

// auth.principals: well-formed, each principal and identity at most once.
// Fills `principal_of` (identity -> principal) for ValidateOnBehalfOf.
absl::Status ValidatePrincipals(
    const std::vector<PrincipalMapping>& principals,
    std::map<std::string, std::string>& principal_of) {
  std::set<std::string> seen;
  for (size_t i = 0; i < principals.size(); ++i) {
    const PrincipalMapping& m = principals[i];
    const std::string key = absl::StrCat("auth.principals[", i, "]");
    if (!IsPrintableName(m.principal)) {
      return Invalid(absl::StrCat(key, ".principal"),
                     "must be non-empty printable text");
    }
    if (!seen.insert(m.principal).second) {
      return Invalid(absl::StrCat(key, ".principal"),
                     absl::StrCat(Quote(m.principal),
                                  " is listed twice; merge the entries"));
    }
    if (m.identities.empty()) {
      return Invalid(absl::StrCat(key, ".identities"), "no identities to link");
    }
    for (size_t j = 0; j < m.identities.size(); ++j) {
      const std::string& identity = m.identities[j];
      const std::string id_key = absl::StrCat(key, ".identities[", j, "]");
      if (absl::Status s = IsPlatformIdentity(identity)
                               ? absl::OkStatus()
                               : CheckQualifiedIdentity(id_key, identity);
          !s.ok()) {
        return s;
      }
      if (auto [it, inserted] = principal_of.emplace(identity, m.principal);
          !inserted) {
        return Invalid(id_key, absl::StrCat(Quote(identity),
                                            " is already linked to principal ",
                                            Quote(it->second)));
      }
    }
  }
  return absl::OkStatus();
}

// auth.on_behalf_of: qualified agents, each once, never acting for itself.
absl::Status ValidateOnBehalfOf(
    const std::vector<OnBehalfOf>& links,
    const std::map<std::string, std::string>& principal_of) {
  std::set<std::string> agents;
  for (size_t i = 0; i < links.size(); ++i) {
    const OnBehalfOf& o = links[i];
    const std::string key = absl::StrCat("auth.on_behalf_of[", i, "]");
    if (absl::Status s =
            CheckQualifiedIdentity(absl::StrCat(key, ".agent"), o.agent);
        !s.ok()) {
      return s;
    }
    if (!agents.insert(o.agent).second) {
      return Invalid(absl::StrCat(key, ".agent"),
                     absl::StrCat(Quote(o.agent),
                                  " is listed twice; an agent acts for one "
                                  "human"));
    }
    if (o.human.empty()) {
      return Invalid(absl::StrCat(key, ".human"),
                     "must name the human's principal");
    }
    const auto mapped = principal_of.find(o.agent);
    if (mapped != principal_of.end() && mapped->second == o.human) {
      return Invalid(absl::StrCat(key, ".human"),
                     absl::StrCat(Quote(o.human), " is the agent ",
                                  Quote(o.agent), " itself"));
    }
  }
  return absl::OkStatus();
}

// auth.relays: qualified identities, each once, acting for nobody, each
// speaking for a platform namespace.
absl::Status ValidateRelays(const AuthConfig& a) {
  std::set<std::string> relays;
  for (size_t i = 0; i < a.relays.size(); ++i) {
    const Relay& r = a.relays[i];
    const std::string key = absl::StrCat("auth.relays[", i, "]");
    if (absl::Status s =
            CheckQualifiedIdentity(absl::StrCat(key, ".identity"), r.identity);
        !s.ok()) {
      return s;
    }
    if (!relays.insert(r.identity).second) {
      return Invalid(absl::StrCat(key, ".identity"),
                     absl::StrCat(Quote(r.identity),
                                  " is listed twice; a relay speaks for one "
                                  "namespace"));
    }
    for (const OnBehalfOf& o : a.on_behalf_of) {
      if (o.agent == r.identity) {
        return Invalid(absl::StrCat(key, ".identity"),
                       absl::StrCat(Quote(r.identity),
                                    " is also in auth.on_behalf_of; a relay "
                                    "acts for the humans of its namespace"));
      }
    }
    if (!IsPlatformNamespace(r.platform_namespace)) {
      return Invalid(absl::StrCat(key, ".namespace"),
                     absl::StrCat(Quote(r.platform_namespace),
                                  " is not a platform namespace "
                                  "(<platform>:<space>, e.g. slack:T0123)"));
    }
  }
  return absl::OkStatus();
}

// principals, on_behalf_of and relays: well-formed, each identity at most
// once.
absl::Status ValidateIdentityLinks(const AuthConfig& a) {
  std::map<std::string, std::string> principal_of;  // identity -> principal
  if (absl::Status s = ValidatePrincipals(a.principals, principal_of);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = ValidateOnBehalfOf(a.on_behalf_of, principal_of);
      !s.ok()) {
    return s;
  }
  return ValidateRelays(a);
}

// At least one way to authenticate, and what it needs.
absl::Status ValidateSources(const AuthConfig& a, bool tls_enabled) {
  if (a.tokens_file.empty() && a.mtls_identities.empty() && !a.oidc.enabled()) {
    return absl::InvalidArgumentError(
        "auth: set auth.tokens_file, auth.mtls_identities or auth.oidc; with "
        "none of them no caller can authenticate");
  }
  if (!a.tokens_file.empty()) {
    if (absl::Status s = CheckReadable("auth.tokens_file", a.tokens_file);
        !s.ok()) {
      return s;
    }
  }
  if (!a.mtls_identities.empty() && !tls_enabled) {
    return absl::InvalidArgumentError(
        "auth.mtls_identities: configured without tls; client certificates "
        "are only seen over TLS");
  }
  if (!a.spiffe.enabled()) return absl::OkStatus();
  if (!IsTrustDomainName(a.spiffe.trust_domain)) {
    return Invalid("auth.spiffe.trust_domain",
                   absl::StrCat(Quote(a.spiffe.trust_domain),
                                " is not a trust domain name (lower-case "
                                "letters, digits, '.', '-', '_')"));
  }
  if (!tls_enabled) {
    return Invalid("auth.spiffe",
                   "configured without tls; client certificates are only "
                   "seen over TLS");
  }
  return absl::OkStatus();
}

// mtls_identities: non-empty, unique, with roles, SPIFFE IDs of the trust
// domain when auth.spiffe is set.
absl::Status ValidateMtlsIdentities(const AuthConfig& a) {
  std::set<absl::string_view> identities;
  for (size_t i = 0; i < a.mtls_identities.size(); ++i) {
    const MtlsIdentity& id = a.mtls_identities[i];
    const std::string key = absl::StrCat("auth.mtls_identities[", i, "]");
    if (id.identity.empty()) {
      return Invalid(absl::StrCat(key, ".identity"), "must not be empty");
    }
    if (a.spiffe.enabled()) {
      const std::optional<SpiffeId> spiffe = ParseSpiffeId(id.identity);
      if (!spiffe || spiffe->path.empty() ||
          spiffe->trust_domain != a.spiffe.trust_domain) {
        return Invalid(
            absl::StrCat(key, ".identity"),
            absl::StrCat(Quote(id.identity),
                         " is not a SPIFFE ID with a path in trust domain ",
                         Quote(a.spiffe.trust_domain),
                         "; with auth.spiffe set no other certificate is "
                         "accepted"));
      }
    }
    if (!identities.insert(id.identity).second) {
      return Invalid(absl::StrCat(key, ".identity"),
                     absl::StrCat(Quote(id.identity), " is listed twice"));
    }
    if (id.roles.empty()) {
      return Invalid(
          absl::StrCat(key, ".roles"),
          absl::StrCat(Quote(id.identity),
                       " has no roles (agent, reviewer, admin, observer)"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

JsonReader::Read ReadRoles(const JsonReader& r, std::set<Role>* out) {
  return [&r, out](const Json& v, const std::string& path) {
    out->clear();
    return r.Array(
        v, path, "an array of roles",
        [&](size_t, const Json& item, const std::string& at) {
          std::optional<Role> role;
          if (item.is_string()) role = ParseRole(item.get<std::string>());
          if (!role) {
            return r.Error(
                at, absl::StrCat(
                        r.Show(item),
                        " is not a role (agent, reviewer, admin, observer)"));
          }
          out->insert(*role);
          return absl::OkStatus();
        });
  };
}

JsonReader::Read ReadAuthConfig(const JsonReader& r, AuthConfig* a) {
  return r.Nested({
      {"tokens_file", r.String(&a->tokens_file)},
      {"mtls_identities", r.ObjectArray<MtlsIdentity>(
                              &a->mtls_identities,
                              [&r](MtlsIdentity& id) -> std::vector<Field> {
                                return {{"identity", r.String(&id.identity)},
                                        {"roles", ReadRoles(r, &id.roles)}};
                              })},
      {"oidc", ReadOidc(r, &a->oidc)},
      {"spiffe",
       r.Nested({{"trust_domain", r.String(&a->spiffe.trust_domain)}})},
      {"principals", r.ObjectArray<PrincipalMapping>(
                         &a->principals,
                         [&r](PrincipalMapping& m) -> std::vector<Field> {
                           return {
                               {"principal", r.String(&m.principal)},
                               {"identities", r.StringArray(&m.identities)}};
                         })},
      {"on_behalf_of",
       r.ObjectArray<OnBehalfOf>(&a->on_behalf_of,
                                 [&r](OnBehalfOf& o) -> std::vector<Field> {
                                   return {{"agent", r.String(&o.agent)},
                                           {"human", r.String(&o.human)}};
                                 })},
      {"relays",
       r.ObjectArray<Relay>(&a->relays,
                            [&r](Relay& relay) -> std::vector<Field> {
                              return {{"identity", r.String(&relay.identity)},
                                      {"namespace",
                                       r.String(&relay.platform_namespace)}};
                            })},
  });
}

absl::Status ValidateAuthConfig(const AuthConfig& a, bool tls_enabled) {
  if (absl::Status s = ValidateSources(a, tls_enabled); !s.ok()) return s;
  if (absl::Status s = ValidateOidc(a.oidc); !s.ok()) return s;
  if (absl::Status s = ValidateIdentityLinks(a); !s.ok()) return s;
  return ValidateMtlsIdentities(a);
}

}  // namespace approval
