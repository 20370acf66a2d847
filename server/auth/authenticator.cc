#include "server/auth/authenticator.h"

#include <grpc/grpc_security_constants.h>
#include <grpcpp/security/auth_context.h>
#include <grpcpp/server_context.h>
#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <iterator>
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
#include "server/auth/spiffe_id.h"
#include "server/config/read_file.h"
#include "server/config/strict_json.h"
#include "wire/openssl_ptr.h"
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

bool IsLowerHexSha256(absl::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!absl::ascii_isdigit(c) && !(c >= 'a' && c <= 'f')) return false;
  }
  return true;
}

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

// Certificate text that is safe to use as an identity and to log: printable
// ASCII without spaces (URIs) or printable UTF-8 (CNs), no embedded NUL.
bool IsPrintableIdentity(absl::string_view s, bool allow_space) {
  if (s.empty()) return false;
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f) return false;
    if (c == ' ' && !allow_space) return false;
  }
  return true;
}

// What an error about the tokens file may quote of it: a value or key only
// when it looks like a field or role name; a long or odd one may be a token
// or hash pasted in the wrong place, and never goes into a message.
std::string ShownText(absl::string_view text) {
  const bool name_like =
      !text.empty() && text.size() <= 16 &&
      std::all_of(text.begin(), text.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
      });
  return name_like ? std::string(text)
                   : std::string("(not shown: it may be a secret)");
}
std::string ShownValue(const Json& v) {
  if (v.is_string())
    return absl::StrCat("\"", ShownText(v.get<std::string>()), "\"");
  return absl::StrCat("a JSON ", v.type_name());
}

absl::StatusOr<std::set<Role>> ParseRoles(const Json& v,
                                          const std::string& path,
                                          absl::string_view file) {
  if (!v.is_array()) {
    return absl::InvalidArgumentError(absl::StrCat(
        file, ": ", path, ": ", ShownValue(v), " is not an array of roles"));
  }
  std::set<Role> roles;
  for (size_t i = 0; i < v.size(); ++i) {
    std::optional<Role> role;
    if (v[i].is_string()) role = ParseRole(v[i].get<std::string>());
    if (!role) {
      return absl::InvalidArgumentError(
          absl::StrCat(file, ": ", path, "[", i, "]: ", ShownValue(v[i]),
                       " is not a role (agent, reviewer, admin, observer)"));
    }
    roles.insert(*role);
  }
  if (roles.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(file, ": ", path, ": no roles"));
  }
  return roles;
}

// Collects the URI SANs of `cert`. UNAUTHENTICATED when the extension is
// repeated or unparseable, or a URI is not printable.
absl::StatusOr<std::vector<std::string>> UriSans(X509* cert) {
  int crit = -1;
  OpenSslPtr<GENERAL_NAMES> names(static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(cert, NID_subject_alt_name, &crit, nullptr)));
  std::vector<std::string> uris;
  if (names == nullptr) {
    if (crit == -1) return uris;  // no SAN extension
    return Unauthenticated(
        "cert_malformed",
        "client certificate has a repeated or unparseable subjectAltName");
  }
  for (int i = 0; i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names.get(), i);
    if (name->type != GEN_URI) continue;
    const ASN1_IA5STRING* uri = name->d.uniformResourceIdentifier;
    absl::string_view text(
        reinterpret_cast<const char*>(ASN1_STRING_get0_data(uri)),
        static_cast<size_t>(ASN1_STRING_length(uri)));
    if (!IsPrintableIdentity(text, /*allow_space=*/false)) {
      return Unauthenticated(
          "cert_malformed",
          "client certificate has a URI SAN that is not a printable URI");
    }
    uris.emplace_back(text);
  }
  return uris;
}

// The single subject CN of `cert`, "" when it has none. UNAUTHENTICATED when
// it has several or one that is not printable UTF-8.
absl::StatusOr<std::string> CommonName(X509* cert) {
  const X509_NAME* subject = X509_get_subject_name(cert);
  if (subject == nullptr) return std::string();
  const int index = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
  if (index < 0) return std::string();
  if (X509_NAME_get_index_by_NID(subject, NID_commonName, index) >= 0) {
    return Unauthenticated("cert_malformed",
                           "client certificate has several subject CNs");
  }
  const ASN1_STRING* data =
      X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, index));
  unsigned char* utf8 = nullptr;
  const int length = ASN1_STRING_to_UTF8(&utf8, data);
  if (length < 0) {
    return Unauthenticated("cert_malformed",
                           "client certificate subject CN is not valid text");
  }
  std::string cn(reinterpret_cast<const char*>(utf8),
                 static_cast<size_t>(length));
  OPENSSL_free(utf8);
  if (!IsPrintableIdentity(cn, /*allow_space=*/true)) {
    return Unauthenticated(
        "cert_malformed",
        "client certificate subject CN is not printable text");
  }
  return cn;
}

// The validity period and leaf rules of a client certificate. Every client
// certificate must be a leaf: basicConstraints CA:TRUE makes a CA whatever
// its keyUsage says (X509_check_ca alone would call a CA:TRUE certificate
// without keyCertSign a leaf), and keyCertSign or cRLSign make a CA key
// whatever basicConstraints says. A keyUsage extension must allow
// digitalSignature (the TLS handshake signature), an extendedKeyUsage
// extension clientAuth. With `svid` (X.509-SVID, section 4.3 and 5.2)
// keyUsage must be present and critical.
absl::Status CheckLeaf(X509* cert, absl::Time now, bool svid) {
  time_t now_t = absl::ToTimeT(now);
  if (X509_cmp_time(X509_get0_notAfter(cert), &now_t) < 0) {
    return Unauthenticated("cert_expired", "client certificate has expired");
  }
  if (X509_cmp_time(X509_get0_notBefore(cert), &now_t) > 0) {
    return Unauthenticated("cert_not_yet_valid",
                           "client certificate is not valid yet");
  }
  // Also makes OpenSSL decode the extensions the checks below read.
  const uint32_t flags = X509_get_extension_flags(cert);
  if ((flags & EXFLAG_INVALID) != 0) {
    return Unauthenticated("cert_malformed",
                           "client certificate has a malformed or repeated "
                           "extension");
  }
  const bool has_key_usage = (flags & EXFLAG_KUSAGE) != 0;
  const uint32_t usage = has_key_usage ? X509_get_key_usage(cert) : 0;
  if ((flags & EXFLAG_CA) != 0 || X509_check_ca(cert) != 0 ||
      (usage & (KU_KEY_CERT_SIGN | KU_CRL_SIGN)) != 0) {
    return Unauthenticated(
        "cert_is_ca",
        "client certificate is a CA certificate (basicConstraints CA:TRUE, "
        "or keyUsage keyCertSign or cRLSign); present a leaf certificate");
  }
  if (svid && !has_key_usage) {
    return Unauthenticated(
        "cert_key_usage",
        "client certificate has no keyUsage extension; an X.509-SVID must "
        "have one");
  }
  if (svid) {
    const int index = X509_get_ext_by_NID(cert, NID_key_usage, -1);
    if (index < 0 ||
        X509_EXTENSION_get_critical(X509_get_ext(cert, index)) != 1) {
      return Unauthenticated(
          "cert_key_usage",
          "client certificate's keyUsage is not critical; an X.509-SVID's "
          "must be");
    }
  }
  if (has_key_usage && (usage & KU_DIGITAL_SIGNATURE) == 0) {
    return Unauthenticated(
        "cert_key_usage",
        "client certificate's keyUsage does not allow digitalSignature");
  }
  if ((flags & EXFLAG_XKUSAGE) != 0 && (X509_get_extended_key_usage(cert) &
                                        (XKU_SSL_CLIENT | XKU_ANYEKU)) == 0) {
    return Unauthenticated(
        "cert_ext_key_usage",
        "client certificate's extendedKeyUsage does not allow clientAuth");
  }
  return absl::OkStatus();
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
    if (!alg) {
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
    std::map<std::string, Entry, std::less<>> tokens_by_sha256,
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

absl::StatusOr<std::unique_ptr<Authenticator>> Authenticator::Create(
    const AuthConfig& config, AuthenticatorOptions options) {
  std::map<std::string, Entry, std::less<>> tokens;
  if (!config.tokens_file.empty()) {
    const std::string file = absl::StrCat("tokens file ", config.tokens_file);
    absl::StatusOr<std::string> text = ReadFile(config.tokens_file);
    if (!text.ok()) return text.status();
    // Strict: a repeated key ("roles" twice) is refused, not last-one-wins.
    absl::StatusOr<Json> parsed = ParseStrictJson(*text, file);
    if (!parsed.ok()) {
      // Even a repeated key is named only when it looks like a name.
      if (std::optional<std::string> key = RepeatedJsonKey(parsed.status())) {
        return absl::InvalidArgumentError(absl::StrCat(
            file, ": key \"", ShownText(*key), "\" appears twice"));
      }
      return parsed.status();
    }
    const Json& root = *parsed;
    auto error = [&file](absl::string_view path, absl::string_view what) {
      return absl::InvalidArgumentError(
          absl::StrCat(file, ": ", path, ": ", what));
    };
    if (!root.is_object()) {
      return error("(top level)", "expected an object {\"tokens\": [...]}");
    }
    for (const auto& [key, value] : root.items()) {
      if (key != "tokens") {
        return error(ShownText(key), "unknown key (expected: tokens)");
      }
    }
    const auto list = root.find("tokens");
    if (list == root.end() || !list->is_array()) {
      return error("tokens", "expected an array of token entries");
    }
    std::map<std::string, size_t, std::less<>> index_by_hash;
    for (size_t i = 0; i < list->size(); ++i) {
      const Json& item = (*list)[i];
      const std::string path = absl::StrCat("tokens[", i, "]");
      if (!item.is_object()) return error(path, "expected an object");
      for (const auto& [key, value] : item.items()) {
        if (key != "sha256" && key != "identity" && key != "roles") {
          return error(absl::StrCat(path, ".", ShownText(key)),
                       "unknown key (expected one of: sha256, identity, "
                       "roles)");
        }
      }
      // The hash is never echoed: someone may have pasted the token itself.
      const auto sha = item.find("sha256");
      if (sha == item.end() || !sha->is_string() ||
          !IsLowerHexSha256(sha->get<std::string>())) {
        return error(absl::StrCat(path, ".sha256"),
                     "expected the SHA-256 of the token as 64 lower-case hex "
                     "digits (never the token itself)");
      }
      const auto identity = item.find("identity");
      if (identity == item.end() || !identity->is_string() ||
          identity->get<std::string>().empty()) {
        return error(absl::StrCat(path, ".identity"),
                     "expected a non-empty string");
      }
      const auto roles_json = item.find("roles");
      if (roles_json == item.end()) {
        return error(absl::StrCat(path, ".roles"), "no roles");
      }
      absl::StatusOr<std::set<Role>> roles =
          ParseRoles(*roles_json, absl::StrCat(path, ".roles"), file);
      if (!roles.ok()) return roles.status();
      const std::string hash = sha->get<std::string>();
      if (auto [it, inserted] = index_by_hash.emplace(hash, i); !inserted) {
        return error(absl::StrCat(path, ".sha256"),
                     absl::StrCat("same hash as tokens[", it->second, "]"));
      }
      tokens.emplace(hash, Entry{identity->get<std::string>(), *roles});
    }
  }
  std::map<std::string, std::set<Role>, std::less<>> mtls;
  for (const MtlsIdentity& id : config.mtls_identities) {
    mtls[id.identity].insert(id.roles.begin(), id.roles.end());
  }
  absl::StatusOr<IdentityMap> identities =
      IdentityMap::Create(config.principals, config.on_behalf_of);
  if (!identities.ok()) return identities.status();
  // A principal name that is also an unlinked identity would merge two
  // callers without anyone having said so.
  auto check_unlinked = [&](std::string_view method,
                            const std::string& identity) -> absl::Status {
    if (!identities->IsConfiguredPrincipal(identity)) return absl::OkStatus();
    const std::string qualified = QualifiedIdentity(method, identity);
    const std::vector<std::string> linked = identities->IdentitiesOf(identity);
    if (std::find(linked.begin(), linked.end(), qualified) != linked.end() ||
        identities->PrincipalOf(method, identity) != identity) {
      return absl::OkStatus();  // linked, to this principal or another
    }
    return absl::InvalidArgumentError(absl::StrCat(
        "auth.principals: principal \"", identity, "\" is also the ",
        method == kMethodToken ? "tokens file" : "certificate", " identity \"",
        identity, "\", which it does not list; add \"", qualified,
        "\" to its identities or rename one of them"));
  };
  for (const auto& [hash, entry] : tokens) {
    if (absl::Status s = check_unlinked(kMethodToken, entry.identity);
        !s.ok()) {
      return s;
    }
  }
  for (const auto& [identity, roles] : mtls) {
    if (absl::Status s = check_unlinked(kMethodMtls, identity); !s.ok()) {
      return s;
    }
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
    std::string_view authorization_value) const {
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
        std::string_view(first->second.data(), first->second.size()),
        std::move(later));
  }
  const std::shared_ptr<const grpc::AuthContext> auth = ctx.auth_context();
  if (auth != nullptr && auth->IsPeerAuthenticated()) {
    const std::vector<grpc::string_ref> pems =
        auth->FindPropertyValues(GRPC_X509_PEM_CERT_PROPERTY_NAME);
    if (!pems.empty()) {
      return AuthenticateCertificate(
          std::string_view(pems.front().data(), pems.front().size()));
    }
  }
  return Result(Unauthenticated("missing_credentials", kMissingCredentials));
}

std::optional<Authenticator::Result> Authenticator::AuthenticateBearerOrDefer(
    std::string_view authorization_view, ResultCallback later) const {
  // This Abseil build has its own string_view type, distinct from std's.
  const absl::string_view authorization_value(authorization_view.data(),
                                              authorization_view.size());
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

Authenticator::Result Authenticator::FromJwt(
    absl::StatusOr<VerifiedJwt> jwt) const {
  if (!jwt.ok()) return jwt.status();
  const Json& claims = jwt->claims;

  const auto subject = claims.find(oidc_.identity_claim);
  if (subject == claims.end() || !subject->is_string() ||
      !IsClaimIdentity(subject->get<std::string>())) {
    return Unauthenticated(
        "jwt_bad_identity",
        "bearer token refused: the identity claim is missing or not a "
        "printable string",
        absl::StrCat(
            "claim ", ForLog(oidc_.identity_claim), ": ",
            subject == claims.end() ? "missing" : ForLog(subject->dump())));
  }
  const std::string identity = subject->get<std::string>();

  std::set<Role> roles;
  std::set<std::string> names;
  if (!oidc_.groups_claim.empty()) {
    const auto groups = claims.find(oidc_.groups_claim);
    bool malformed = false;
    if (groups == claims.end()) {
      // No groups: no roles from them.
    } else if (groups->is_string()) {
      names.insert(groups->get<std::string>());
    } else if (groups->is_array()) {
      for (const Json& g : *groups) {
        if (!g.is_string()) malformed = true;
        if (g.is_string()) names.insert(g.get<std::string>());
      }
    } else {
      malformed = true;
    }
    if (malformed) {
      return Unauthenticated(
          "jwt_bad_groups",
          "bearer token refused: the groups claim is not a string or an "
          "array of strings",
          absl::StrCat("claim ", ForLog(oidc_.groups_claim)));
    }
    for (const std::string& name : names) {
      const auto mapped = oidc_.group_roles.find(name);
      if (mapped != oidc_.group_roles.end()) {
        roles.insert(mapped->second.begin(), mapped->second.end());
      }
    }
  }

  // RFC 8693 4.1: "act" names the party acting for the subject; the
  // outermost act is the current actor (nested ones are earlier actors).
  const auto act = claims.find("act");
  if (act == claims.end()) {
    absl::StatusOr<Principal> p =
        Finish(kMethodOidc, identity, std::move(roles), std::nullopt);
    // Groups describe the subject; a delegated caller (below) is not it.
    if (p.ok() && p->on_behalf_of.empty()) p->groups = std::move(names);
    return p;
  }
  const auto actor = act->is_object() ? act->find("sub") : act->end();
  if (!act->is_object() || actor == act->end() || !actor->is_string() ||
      !IsClaimIdentity(actor->get<std::string>())) {
    return Unauthenticated(
        "jwt_bad_act",
        "bearer token refused: the act claim has no printable sub");
  }
  const auto actor_issuer = act->find("iss");
  if (actor_issuer != act->end() &&
      (!actor_issuer->is_string() ||
       actor_issuer->get<std::string>() != oidc_.issuer)) {
    return Unauthenticated(
        "jwt_bad_act",
        "bearer token refused: the actor (act) belongs to another issuer",
        absl::StrCat("act.iss ", ForLog(actor_issuer->dump())));
  }
  return Finish(kMethodOidc, actor->get<std::string>(), std::move(roles),
                identities_.PrincipalOf(kMethodOidc, identity));
}

absl::StatusOr<Principal> Authenticator::Finish(
    std::string_view method, std::string_view identity, std::set<Role> roles,
    std::optional<std::string> token_human) const {
  Principal p;
  p.method = std::string(method);
  p.identity = QualifiedIdentity(method, identity);
  p.id = identities_.PrincipalOf(method, identity);
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

absl::StatusOr<Principal> Authenticator::AuthenticateCertificate(
    std::string_view peer_cert_pem) const {
  if (peer_cert_pem.empty() ||
      peer_cert_pem.size() > static_cast<size_t>(INT32_MAX)) {
    return Unauthenticated("cert_malformed", "client certificate is missing");
  }
  OpenSslPtr<BIO> bio(BIO_new_mem_buf(peer_cert_pem.data(),
                                      static_cast<int>(peer_cert_pem.size())));
  OpenSslPtr<X509> cert(
      bio == nullptr ? nullptr
                     : PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (cert == nullptr) {
    return Unauthenticated("cert_malformed",
                           "client certificate does not parse");
  }
  if (absl::Status s =
          CheckLeaf(cert.get(), clock_(), /*svid=*/!trust_domain_.empty());
      !s.ok()) {
    return s;
  }
  absl::StatusOr<std::vector<std::string>> uris = UriSans(cert.get());
  if (!uris.ok()) return uris.status();
  std::string identity;
  if (uris->size() > 1) {
    return Unauthenticated(
        "cert_uri_san_count",
        absl::StrCat("client certificate has ", uris->size(), " URI SANs (",
                     absl::StrJoin(*uris, ", "), "); expected one identity"));
  }
  if (!trust_domain_.empty()) {
    // X.509-SVID: the single URI SAN is a SPIFFE ID of our trust domain.
    if (uris->empty()) {
      return Unauthenticated(
          "cert_uri_san_count",
          "client certificate has no URI SAN; an X.509-SVID has exactly one");
    }
    const std::optional<SpiffeId> id = ParseSpiffeId(uris->front());
    if (!id || id->path.empty()) {
      return Unauthenticated(
          "cert_not_spiffe",
          "client certificate's URI SAN is not a SPIFFE ID with a path",
          absl::StrCat("URI SAN ", ForLog(uris->front())));
    }
    if (id->trust_domain != trust_domain_) {
      return Unauthenticated(
          "cert_foreign_trust_domain",
          "client certificate belongs to a trust domain this broker does "
          "not accept",
          absl::StrCat("trust domain ", ForLog(id->trust_domain),
                       ", configured ", ForLog(trust_domain_)));
    }
    identity = uris->front();
  } else if (uris->size() == 1) {
    identity = uris->front();
  } else {
    absl::StatusOr<std::string> cn = CommonName(cert.get());
    if (!cn.ok()) return cn.status();
    if (cn->empty()) {
      return Unauthenticated(
          "cert_no_identity",
          "client certificate has neither a URI SAN nor a subject CN");
    }
    identity = *std::move(cn);
  }
  const auto it = mtls_roles_.find(identity);
  if (it == mtls_roles_.end() || it->second.empty()) {
    return PermissionDenied("no_roles",
                            absl::StrCat("certificate identity ", identity,
                                         " has no roles configured"));
  }
  return Finish(kMethodMtls, identity, it->second, std::nullopt);
}

}  // namespace approval
