#include "server/auth/authenticator.h"

#include <grpc/grpc_security_constants.h>
#include <grpcpp/security/auth_context.h>
#include <grpcpp/server_context.h>

#include <algorithm>
#include <iterator>
#include <map>
#include <set>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "nlohmann/json.hpp"
#include "server/auth/jwks_source.h"
#include "server/auth/refusal.h"
#include "server/auth/tokens_file.h"
#include "server/auth/x509_identity.h"
#include "wire/sha256.h"

namespace approval {
namespace {

using Json = nlohmann::ordered_json;

constexpr absl::string_view kMissingCredentials =
    "missing credentials: send 'authorization: Bearer <token>' or a client "
    "certificate";
constexpr absl::string_view kMalformedHeader =
    "malformed authorization header: expected 'Bearer <token>'";
constexpr size_t kMaxClaimIdentityBytes = 256;

// RFC 6750 b64token: 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" )
// *"=".
bool IsB64Token(absl::string_view s) {
  size_t i = 0;
  while (i < s.size() &&
         (absl::ascii_isalnum(s[i]) || s[i] == '-' || s[i] == '.' ||
          s[i] == '_' || s[i] == '~' || s[i] == '+' || s[i] == '/')) {
    ++i;
  }
  if (i == 0) return false;
  while (i < s.size() && s[i] == '=') ++i;
  return i == s.size();
}

// Printable text for an identity claim: no control characters, bounded.
bool IsClaimIdentity(const std::string& s) {
  return !s.empty() && s.size() <= kMaxClaimIdentityBytes &&
         IsPrintableIdentity(s, /*allow_space=*/true);
}

absl::StatusOr<std::unique_ptr<JwtVerifier>> NewJwtVerifier(
    const OidcConfig& oidc, std::function<absl::Time()> clock) {
  JwtVerifierOptions options;
  options.issuer = oidc.issuer;
  options.audience = oidc.audience;
  options.allowed_algorithms.clear();
  for (const std::string& name : oidc.allowed_algorithms) {
    std::optional<JwsAlgorithm> alg = ParseJwsAlgorithm(name);
    // EdDSA is the broker's own approval-token algorithm; IdP keys are
    // RSA or P-256 (jwk.h).
    if (!alg || *alg == JwsAlgorithm::kEdDsa) {
      return absl::InvalidArgumentError(
          absl::StrCat("auth.oidc.allowed_algorithms: ", name,
                       " is not supported (RS256, ES256)"));
    }
    options.allowed_algorithms.insert(*alg);
  }
  options.clock_skew = oidc.clock_skew;
  options.refresh_min_interval = oidc.jwks_refresh_min_interval;
  options.unknown_key_wait = oidc.unknown_key_wait;
  options.initial_load_required = !oidc.jwks_file.empty();
  std::unique_ptr<JwksSource> source =
      oidc.jwks_file.empty()
          ? NewHttpsJwksSource(oidc.jwks_url, oidc.jwks_ca_file,
                               oidc.jwks_fetch_timeout)
          : NewFileJwksSource(oidc.jwks_file);
  absl::StatusOr<std::unique_ptr<JwtVerifier>> verifier = JwtVerifier::Create(
      std::move(options), std::move(source), std::move(clock));
  if (!verifier.ok()) {
    return absl::Status(
        verifier.status().code(),
        absl::StrCat("auth.oidc: ", verifier.status().message()));
  }
  return verifier;
}

}  // namespace

Authenticator::Authenticator(
    TokensBySha256 tokens_by_sha256,
    std::map<std::string, std::set<Role>, std::less<>> mtls_roles,
    const AuthConfig& config, IdentityMap identities,
    std::unique_ptr<JwtVerifier> jwt, std::function<absl::Time()> clock)
    : tokens_by_sha256_(std::move(tokens_by_sha256)),
      mtls_roles_(std::move(mtls_roles)),
      oidc_(config.oidc),
      trust_domain_(config.spiffe.trust_domain),
      identities_(std::move(identities)),
      jwt_(std::move(jwt)),
      clock_(std::move(clock)) {}

namespace {

std::map<std::string, std::set<Role>, std::less<>> MtlsRoles(
    const std::vector<MtlsIdentity>& identities) {
  std::map<std::string, std::set<Role>, std::less<>> mtls;
  for (const MtlsIdentity& id : identities) {
    mtls[id.identity].insert(id.roles.begin(), id.roles.end());
  }
  return mtls;
}

// A principal name that is also an unlinked identity would merge two
// callers without anyone having said so.
absl::Status CheckUnlinked(const IdentityMap& identities,
                           absl::string_view method,
                           const std::string& identity) {
  if (!identities.IsConfiguredPrincipal(identity)) return absl::OkStatus();
  const std::string qualified = QualifiedIdentity(method, identity);
  const std::vector<std::string> linked = identities.IdentitiesOf(identity);
  if (std::find(linked.begin(), linked.end(), qualified) != linked.end() ||
      identities.PrincipalOf(method, identity) != identity) {
    return absl::OkStatus();  // linked, to this principal or another
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "auth.principals: principal \"", identity, "\" is also the ",
      method == kMethodToken ? "tokens file" : "certificate", " identity \"",
      identity, "\", which it does not list; add \"", qualified,
      "\" to its identities or rename one of them"));
}

absl::Status CheckAllUnlinked(
    const IdentityMap& identities, const TokensBySha256& tokens,
    const std::map<std::string, std::set<Role>, std::less<>>& mtls) {
  for (const auto& [hash, entry] : tokens) {
    if (absl::Status s =
            CheckUnlinked(identities, kMethodToken, entry.identity);
        !s.ok()) {
      return s;
    }
  }
  for (const auto& [identity, roles] : mtls) {
    if (absl::Status s = CheckUnlinked(identities, kMethodMtls, identity);
        !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<Authenticator>> Authenticator::Create(
    const AuthConfig& config, AuthenticatorOptions options) {
  TokensBySha256 tokens;
  if (!config.tokens_file.empty()) {
    absl::StatusOr<TokensBySha256> loaded = LoadTokensFile(config.tokens_file);
    if (!loaded.ok()) return loaded.status();
    tokens = *std::move(loaded);
  }
  auto mtls = MtlsRoles(config.mtls_identities);
  absl::StatusOr<IdentityMap> identities = IdentityMap::Create(
      config.principals, config.on_behalf_of, config.relays);
  if (!identities.ok()) return identities.status();
  if (absl::Status s = CheckAllUnlinked(*identities, tokens, mtls); !s.ok()) {
    return s;
  }
  std::function<absl::Time()> clock =
      options.clock ? std::move(options.clock) : [] { return absl::Now(); };
  std::unique_ptr<JwtVerifier> jwt;
  if (config.oidc.enabled()) {
    absl::StatusOr<std::unique_ptr<JwtVerifier>> verifier =
        NewJwtVerifier(config.oidc, clock);
    if (!verifier.ok()) return verifier.status();
    jwt = *std::move(verifier);
  }
  return std::unique_ptr<Authenticator>(new Authenticator(
      std::move(tokens), std::move(mtls), config, *std::move(identities),
      std::move(jwt), std::move(clock)));
}

absl::Status Authenticator::Reload(const AuthConfig& config) {
  absl::StatusOr<std::unique_ptr<Authenticator>> next =
      Create(config, AuthenticatorOptions{clock_});
  if (!next.ok()) return next.status();
  // Snapshots no call holds any more (only the list does); destroyed after
  // the lock is released: stopping an OIDC key set may wait for its fetch.
  std::vector<std::shared_ptr<const Authenticator>> unused;
  {
    absl::MutexLock lock(&reload_mu_);
    if (current_ != nullptr) replaced_.push_back(std::move(current_));
    current_ = *std::move(next);
    auto in_use =
        std::partition(replaced_.begin(), replaced_.end(),
                       [](const std::shared_ptr<const Authenticator>& a) {
                         return a.use_count() > 1;
                       });
    std::move(in_use, replaced_.end(), std::back_inserter(unused));
    replaced_.erase(in_use, replaced_.end());
  }
  return absl::OkStatus();
}

std::shared_ptr<const Authenticator> Authenticator::Current() const {
  absl::MutexLock lock(&reload_mu_);
  return current_;
}

const IdentityMap& Authenticator::identities() const {
  std::shared_ptr<const Authenticator> current = Current();
  return current != nullptr ? current->identities_ : identities_;
}

namespace {

// Waits for a result that may be deferred (AuthenticateOrDefer and kin).
template <typename Start>
Authenticator::Result AwaitResult(Start start) {
  struct Shared {
    absl::Notification done;
    std::optional<Authenticator::Result> result;
  };
  auto shared = std::make_shared<Shared>();
  std::optional<Authenticator::Result> now =
      start([shared](Authenticator::Result r) {
        shared->result = std::move(r);
        shared->done.Notify();
      });
  if (now.has_value()) return *std::move(now);
  // The key set answers within auth.oidc.unknown_key_wait.
  shared->done.WaitForNotification();
  return *std::move(shared->result);
}

}  // namespace

absl::StatusOr<Principal> Authenticator::Authenticate(
    const grpc::ServerContextBase& ctx) const {
  return AwaitResult(
      [&](ResultCallback later) { return AuthenticateOrDefer(ctx, later); });
}

absl::StatusOr<Principal> Authenticator::AuthenticateBearer(
    absl::string_view authorization_value) const {
  return AwaitResult([&](ResultCallback later) {
    return AuthenticateBearerOrDefer(authorization_value, later);
  });
}

std::optional<Authenticator::Result> Authenticator::AuthenticateOrDefer(
    const grpc::ServerContextBase& ctx, ResultCallback later) const {
  const auto& metadata = ctx.client_metadata();
  const auto [first, last] = metadata.equal_range("authorization");
  if (first != last) {
    if (std::next(first) != last) {
      return Result(
          Unauthenticated("malformed_header",
                          "several authorization headers; send exactly one"));
    }
    return AuthenticateBearerOrDefer(
        absl::string_view(first->second.data(), first->second.size()),
        std::move(later));
  }
  const std::shared_ptr<const grpc::AuthContext> auth = ctx.auth_context();
  if (auth != nullptr && auth->IsPeerAuthenticated()) {
    const std::vector<grpc::string_ref> pems =
        auth->FindPropertyValues(GRPC_X509_PEM_CERT_PROPERTY_NAME);
    if (!pems.empty()) {
      return AuthenticateCertificate(
          absl::string_view(pems.front().data(), pems.front().size()));
    }
  }
  return Result(Unauthenticated("missing_credentials", kMissingCredentials));
}

std::optional<Authenticator::Result> Authenticator::AuthenticateBearerOrDefer(
    absl::string_view authorization_value, ResultCallback later) const {
  if (std::shared_ptr<const Authenticator> current = Current()) {
    // The snapshot lives until a deferred answer has been given.
    return current->AuthenticateBearerOrDefer(
        authorization_value,
        [current, later = std::move(later)](Result r) { later(std::move(r)); });
  }
  constexpr absl::string_view kScheme = "bearer ";
  if (authorization_value.size() <= kScheme.size() ||
      !absl::StartsWithIgnoreCase(authorization_value, kScheme)) {
    return Result(Unauthenticated("malformed_header", kMalformedHeader));
  }
  const absl::string_view token = authorization_value.substr(kScheme.size());
  if (!IsB64Token(token)) {
    return Result(Unauthenticated("malformed_header", kMalformedHeader));
  }
  const auto it = tokens_by_sha256_.find(Sha256Hex(token));
  if (it != tokens_by_sha256_.end()) {
    return Finish(kMethodToken, it->second.identity, it->second.roles,
                  std::nullopt);
  }
  if (jwt_ != nullptr && std::count(token.begin(), token.end(), '.') == 2) {
    return AuthenticateJwtOrDefer(token, std::move(later));
  }
  return Result(Unauthenticated("unknown_token", "unknown bearer token"));
}

std::optional<Authenticator::Result> Authenticator::AuthenticateJwtOrDefer(
    absl::string_view token, ResultCallback later) const {
  std::optional<JwtVerifier::Result> jwt = jwt_->VerifyOrDefer(
      token, [this, later = std::move(later)](JwtVerifier::Result v) {
        later(FromJwt(std::move(v)));
      });
  if (!jwt.has_value()) return std::nullopt;
  return FromJwt(*std::move(jwt));
}

namespace {

// The identity claim of a verified token: a printable string.
absl::StatusOr<std::string> ClaimIdentity(const Json& claims,
                                          const std::string& claim) {
  const auto subject = claims.find(claim);
  if (subject == claims.end() || !subject->is_string() ||
      !IsClaimIdentity(subject->get<std::string>())) {
    return Unauthenticated(
        "jwt_bad_identity",
        "bearer token refused: the identity claim is missing or not a "
        "printable string",
        absl::StrCat(
            "claim ", ForLog(claim), ": ",
            subject == claims.end() ? "missing" : ForLog(subject->dump())));
  }
  return subject->get<std::string>();
}

// A token's groups (the groups claim: a string or an array of strings) and
// the roles they map to.
struct TokenGroups {
  std::set<std::string> names;
  std::set<Role> roles;
};

absl::StatusOr<TokenGroups> GroupsOf(const Json& claims,
                                     const OidcConfig& oidc) {
  TokenGroups out;
  if (oidc.groups_claim.empty()) return out;
  const auto groups = claims.find(oidc.groups_claim);
  bool malformed = false;
  if (groups == claims.end()) {
    // No groups: no roles from them.
  } else if (groups->is_string()) {
    out.names.insert(groups->get<std::string>());
  } else if (groups->is_array()) {
    for (const Json& g : *groups) {
      if (!g.is_string()) malformed = true;
      if (g.is_string()) out.names.insert(g.get<std::string>());
    }
  } else {
    malformed = true;
  }
  if (malformed) {
    return Unauthenticated(
        "jwt_bad_groups",
        "bearer token refused: the groups claim is not a string or an "
        "array of strings",
        absl::StrCat("claim ", ForLog(oidc.groups_claim)));
  }
  for (const std::string& name : out.names) {
    const auto mapped = oidc.group_roles.find(name);
    if (mapped != oidc.group_roles.end()) {
      out.roles.insert(mapped->second.begin(), mapped->second.end());
    }
  }
  return out;
}

// The current actor of an RFC 8693 "act" claim: its printable sub, from
// our issuer when it names one.
absl::StatusOr<std::string> ActorOf(const Json& act,
                                    const std::string& issuer) {
  const auto actor = act.is_object() ? act.find("sub") : act.end();
  if (!act.is_object() || actor == act.end() || !actor->is_string() ||
      !IsClaimIdentity(actor->get<std::string>())) {
    return Unauthenticated(
        "jwt_bad_act",
        "bearer token refused: the act claim has no printable sub");
  }
  const auto actor_issuer = act.find("iss");
  if (actor_issuer != act.end() &&
      (!actor_issuer->is_string() ||
       actor_issuer->get<std::string>() != issuer)) {
    return Unauthenticated(
        "jwt_bad_act",
        "bearer token refused: the actor (act) belongs to another issuer",
        absl::StrCat("act.iss ", ForLog(actor_issuer->dump())));
  }
  return actor->get<std::string>();
}

}  // namespace

Authenticator::Result Authenticator::FromJwt(
    absl::StatusOr<VerifiedJwt> jwt) const {
  if (!jwt.ok()) return jwt.status();
  const Json& claims = jwt->claims;
  absl::StatusOr<std::string> identity =
      ClaimIdentity(claims, oidc_.identity_claim);
  if (!identity.ok()) return identity.status();
  absl::StatusOr<TokenGroups> groups = GroupsOf(claims, oidc_);
  if (!groups.ok()) return groups.status();

  // RFC 8693 4.1: "act" names the party acting for the subject; the
  // outermost act is the current actor (nested ones are earlier actors).
  const auto act = claims.find("act");
  if (act == claims.end()) {
    absl::StatusOr<Principal> p =
        Finish(kMethodOidc, *identity, std::move(groups->roles), std::nullopt);
    // Groups describe the subject; a delegated caller (below) is not it.
    if (p.ok() && p->on_behalf_of.empty()) p->groups = std::move(groups->names);
    return p;
  }
  absl::StatusOr<std::string> actor = ActorOf(*act, oidc_.issuer);
  if (!actor.ok()) return actor.status();
  return Finish(kMethodOidc, *actor, std::move(groups->roles),
                identities_.PrincipalOf(kMethodOidc, *identity));
}

absl::StatusOr<Principal> Authenticator::Finish(
    absl::string_view method, absl::string_view identity, std::set<Role> roles,
    std::optional<std::string> token_human) const {
  Principal p;
  p.method = std::string(method);
  p.identity = QualifiedIdentity(method, identity);
  p.id = identities_.PrincipalOf(method, identity);
  p.relay_namespace = identities_.RelayNamespace(p.identity);
  const std::optional<std::string> configured_human =
      identities_.HumanFor(p.identity);
  if (token_human && configured_human && *token_human != *configured_human) {
    return PermissionDenied(
        "delegation_conflict",
        absl::StrCat("identity ", p.identity,
                     " presented a token acting for another human than the "
                     "one configured in auth.on_behalf_of"),
        absl::StrCat("token act for ", ForLog(*token_human), ", configured ",
                     ForLog(*configured_human)));
  }
  const std::optional<std::string> human =
      token_human ? token_human : configured_human;
  // Acting for oneself (an actor linked to the subject's own principal) is
  // no delegation.
  if (human && *human != p.id) {
    p.on_behalf_of = *human;
    // An agent asks for approval; only the humans themselves decide.
    const bool agent = roles.count(Role::kAgent) > 0;
    roles.clear();
    if (agent) roles.insert(Role::kAgent);
    if (roles.empty()) {
      return PermissionDenied(
          "no_roles",
          absl::StrCat("identity ", p.identity, " acts for ", p.on_behalf_of,
                       " and so may only act as an agent, but has no agent "
                       "role"));
    }
  }
  if (roles.empty()) {
    return PermissionDenied(
        "no_roles", absl::StrCat("identity ", p.identity, " has no roles",
                                 method == kMethodOidc
                                     ? ": none of its groups maps to a role"
                                     : ""));
  }
  p.roles = std::move(roles);
  return p;
}

absl::StatusOr<Principal> Authenticator::RelayedHuman(
    const Principal& relay, absl::string_view platform_user) const {
  if (std::shared_ptr<const Authenticator> current = Current()) {
    return current->RelayedHuman(relay, platform_user);
  }
  const std::string space = PlatformNamespaceOf(platform_user);
  std::string platform = space.substr(0, space.find(':'));
  if (!platform.empty()) platform[0] = absl::ascii_toupper(platform[0]);
  if (space.empty() || space != relay.relay_namespace) {
    return PermissionDenied(
        "relay_foreign_namespace",
        absl::StrCat("this account is outside the workspace this bot serves (",
                     relay.relay_namespace, "); it cannot decide here"),
        absl::StrCat("relay ", relay.identity, " named ",
                     ForLog(platform_user)));
  }
  const std::optional<std::string> human =
      identities_.PrincipalOfPlatformUser(platform_user);
  if (!human) {
    return PermissionDenied(
        "relay_unlinked_user",
        absl::StrCat("this ", platform, " account is not linked to a reviewer"),
        absl::StrCat("relay ", relay.identity, " named ",
                     ForLog(platform_user)));
  }
  Principal p;
  p.id = *human;
  p.method = relay.method;
  p.identity = std::string(platform_user);
  for (const auto& [hash, entry] : tokens_by_sha256_) {
    const std::string qualified =
        QualifiedIdentity(kMethodToken, entry.identity);
    if (identities_.PrincipalOf(kMethodToken, entry.identity) == p.id &&
        !identities_.HumanFor(qualified)) {
      p.roles.insert(entry.roles.begin(), entry.roles.end());
    }
  }
  for (const auto& [identity, roles] : mtls_roles_) {
    const std::string qualified = QualifiedIdentity(kMethodMtls, identity);
    if (identities_.PrincipalOf(kMethodMtls, identity) == p.id &&
        !identities_.HumanFor(qualified)) {
      p.roles.insert(roles.begin(), roles.end());
    }
  }
  return p;
}

absl::StatusOr<Principal> Authenticator::AuthenticateCertificate(
    absl::string_view peer_cert_pem) const {
  if (std::shared_ptr<const Authenticator> current = Current()) {
    return current->AuthenticateCertificate(peer_cert_pem);
  }
  absl::StatusOr<std::string> identity =
      CertificateIdentity(peer_cert_pem, clock_(), trust_domain_);
  if (!identity.ok()) return identity.status();
  const auto it = mtls_roles_.find(*identity);
  if (it == mtls_roles_.end() || it->second.empty()) {
    return PermissionDenied("no_roles",
                            absl::StrCat("certificate identity ", *identity,
                                         " has no roles configured"));
  }
  return Finish(kMethodMtls, *identity, it->second, std::nullopt);
}

}  // namespace approval
