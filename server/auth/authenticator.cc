#include "server/auth/authenticator.h"

#include <grpc/grpc_security_constants.h>
#include <grpcpp/security/auth_context.h>
#include <grpcpp/server_context.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

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
#include "nlohmann/json.hpp"

namespace approval {
namespace {

using Json = nlohmann::json;

constexpr absl::string_view kMissingCredentials =
    "missing credentials: send 'authorization: Bearer <token>' or a client "
    "certificate";
constexpr absl::string_view kMalformedHeader =
    "malformed authorization header: expected 'Bearer <token>'";

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct GeneralNamesFree {
  void operator()(GENERAL_NAMES* g) const { GENERAL_NAMES_free(g); }
};

std::string Sha256Hex(absl::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  if (EVP_Digest(data.data(), data.size(), digest, &size, EVP_sha256(),
                 nullptr) != 1) {
    // Only fails when OpenSSL itself is broken; an empty hash matches no
    // entry, so the caller is refused rather than let in.
    return "";
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(2 * size);
  for (unsigned int i = 0; i < size; ++i) {
    hex.push_back(kHex[digest[i] >> 4]);
    hex.push_back(kHex[digest[i] & 0xf]);
  }
  return hex;
}

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

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    const int err = errno;
    return absl::ErrnoToStatus(err, absl::StrCat(path, ": cannot open"));
  }
  std::string text;
  char buf[8192];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0) text.append(buf, n);
  const bool failed = std::ferror(f) != 0;
  const int err = errno;
  std::fclose(f);
  if (failed) {
    return absl::ErrnoToStatus(err, absl::StrCat(path, ": cannot read"));
  }
  return text;
}

std::string Show(const Json& v) {
  std::string s = v.dump(-1, ' ', false, Json::error_handler_t::replace);
  constexpr size_t kMax = 80;
  if (s.size() > kMax) s = absl::StrCat(s.substr(0, kMax), "...");
  return s;
}

absl::StatusOr<std::set<Role>> ParseRoles(const Json& v,
                                          const std::string& path,
                                          absl::string_view file) {
  if (!v.is_array()) {
    return absl::InvalidArgumentError(absl::StrCat(
        file, ": ", path, ": ", Show(v), " is not an array of roles"));
  }
  std::set<Role> roles;
  for (size_t i = 0; i < v.size(); ++i) {
    std::optional<Role> role;
    if (v[i].is_string()) role = ParseRole(v[i].get<std::string>());
    if (!role) {
      return absl::InvalidArgumentError(
          absl::StrCat(file, ": ", path, "[", i, "]: ", Show(v[i]),
                       " is not a role (agent, reviewer, admin)"));
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
  std::unique_ptr<GENERAL_NAMES, GeneralNamesFree> names(
      static_cast<GENERAL_NAMES*>(
          X509_get_ext_d2i(cert, NID_subject_alt_name, &crit, nullptr)));
  std::vector<std::string> uris;
  if (names == nullptr) {
    if (crit == -1) return uris;  // no SAN extension
    return absl::UnauthenticatedError(
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
      return absl::UnauthenticatedError(
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
    return absl::UnauthenticatedError(
        "client certificate has several subject CNs");
  }
  const ASN1_STRING* data =
      X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, index));
  unsigned char* utf8 = nullptr;
  const int length = ASN1_STRING_to_UTF8(&utf8, data);
  if (length < 0) {
    return absl::UnauthenticatedError(
        "client certificate subject CN is not valid text");
  }
  std::string cn(reinterpret_cast<const char*>(utf8),
                 static_cast<size_t>(length));
  OPENSSL_free(utf8);
  if (!IsPrintableIdentity(cn, /*allow_space=*/true)) {
    return absl::UnauthenticatedError(
        "client certificate subject CN is not printable text");
  }
  return cn;
}

}  // namespace

Authenticator::Authenticator(
    std::map<std::string, Entry, std::less<>> tokens_by_sha256,
    std::map<std::string, std::set<Role>, std::less<>> mtls_roles)
    : tokens_by_sha256_(std::move(tokens_by_sha256)),
      mtls_roles_(std::move(mtls_roles)) {}

absl::StatusOr<std::unique_ptr<Authenticator>> Authenticator::Create(
    const AuthConfig& config) {
  std::map<std::string, Entry, std::less<>> tokens;
  if (!config.tokens_file.empty()) {
    const std::string& file = config.tokens_file;
    absl::StatusOr<std::string> text = ReadFile(file);
    if (!text.ok()) return text.status();
    Json root;
    try {
      root = Json::parse(*text, nullptr, /*allow_exceptions=*/true,
                         /*ignore_comments=*/true);
    } catch (const Json::exception& e) {
      return absl::InvalidArgumentError(
          absl::StrCat(file, ": invalid JSON: ", e.what()));
    }
    auto error = [&file](absl::string_view path, absl::string_view what) {
      return absl::InvalidArgumentError(
          absl::StrCat(file, ": ", path, ": ", what));
    };
    if (!root.is_object()) {
      return error("(top level)", "expected an object {\"tokens\": [...]}");
    }
    for (const auto& [key, value] : root.items()) {
      if (key != "tokens") {
        return error(key, "unknown key (expected: tokens)");
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
          return error(absl::StrCat(path, ".", key),
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
  return std::unique_ptr<Authenticator>(
      new Authenticator(std::move(tokens), std::move(mtls)));
}

absl::StatusOr<Principal> Authenticator::Authenticate(
    const grpc::ServerContextBase& ctx) const {
  const auto& metadata = ctx.client_metadata();
  const auto [first, last] = metadata.equal_range("authorization");
  if (first != last) {
    if (std::next(first) != last) {
      return absl::UnauthenticatedError(
          "several authorization headers; send exactly one");
    }
    return AuthenticateBearer(
        std::string_view(first->second.data(), first->second.size()));
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
  return absl::UnauthenticatedError(kMissingCredentials);
}

absl::StatusOr<Principal> Authenticator::AuthenticateBearer(
    std::string_view authorization_view) const {
  // This Abseil build has its own string_view type, distinct from std's.
  const absl::string_view authorization_value(authorization_view.data(),
                                              authorization_view.size());
  constexpr absl::string_view kScheme = "bearer ";
  if (authorization_value.size() <= kScheme.size() ||
      !absl::StartsWithIgnoreCase(authorization_value, kScheme)) {
    return absl::UnauthenticatedError(kMalformedHeader);
  }
  const absl::string_view token = authorization_value.substr(kScheme.size());
  if (!IsB64Token(token)) return absl::UnauthenticatedError(kMalformedHeader);
  const auto it = tokens_by_sha256_.find(Sha256Hex(token));
  if (it == tokens_by_sha256_.end()) {
    return absl::UnauthenticatedError("unknown bearer token");
  }
  return Principal{it->second.identity, it->second.roles, "token"};
}

absl::StatusOr<Principal> Authenticator::AuthenticateCertificate(
    std::string_view peer_cert_pem) const {
  if (peer_cert_pem.empty() ||
      peer_cert_pem.size() > static_cast<size_t>(INT32_MAX)) {
    return absl::UnauthenticatedError("client certificate is missing");
  }
  std::unique_ptr<BIO, BioFree> bio(BIO_new_mem_buf(
      peer_cert_pem.data(), static_cast<int>(peer_cert_pem.size())));
  std::unique_ptr<X509, X509Free> cert(
      bio == nullptr ? nullptr
                     : PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (cert == nullptr) {
    return absl::UnauthenticatedError("client certificate does not parse");
  }
  absl::StatusOr<std::vector<std::string>> uris = UriSans(cert.get());
  if (!uris.ok()) return uris.status();
  std::string identity;
  if (uris->size() > 1) {
    return absl::UnauthenticatedError(
        absl::StrCat("client certificate has ", uris->size(), " URI SANs (",
                     absl::StrJoin(*uris, ", "), "); expected one identity"));
  }
  if (uris->size() == 1) {
    identity = uris->front();
  } else {
    absl::StatusOr<std::string> cn = CommonName(cert.get());
    if (!cn.ok()) return cn.status();
    if (cn->empty()) {
      return absl::UnauthenticatedError(
          "client certificate has neither a URI SAN nor a subject CN");
    }
    identity = *std::move(cn);
  }
  const auto it = mtls_roles_.find(identity);
  if (it == mtls_roles_.end() || it->second.empty()) {
    return absl::PermissionDeniedError(absl::StrCat(
        "certificate identity ", identity, " has no roles configured"));
  }
  return Principal{identity, it->second, "mtls"};
}

}  // namespace approval
