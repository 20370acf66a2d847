#include "server/domain/approval_token.h"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <algorithm>
#include <cstdint>
#include <deque>
#include <unordered_map>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "nlohmann/json.hpp"
#include "server/domain/canonical.h"

namespace approval {
namespace {

// std::map-backed: keys come out sorted, which makes dump() canonical for
// the flat, ASCII-keyed object a token carries.
using Json = nlohmann::json;

constexpr size_t kEd25519PublicKeyBytes = 32;
constexpr size_t kEd25519SignatureBytes = 64;
constexpr size_t kKeyIdHexChars = 16;
// A token is small (a few hundred bytes); refuse to parse megabytes.
constexpr size_t kMaxTokenBytes = 64 * 1024;

constexpr char kTimeFormat[] = "%Y-%m-%dT%H:%M:%E6SZ";
// Parsing takes any precision; the canonical re-encoding then insists on six.
constexpr char kTimeParseFormat[] = "%Y-%m-%dT%H:%M:%E*SZ";

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
struct PkeyCtxFree {
  void operator()(EVP_PKEY_CTX* c) const { EVP_PKEY_CTX_free(c); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;
using BioPtr = std::unique_ptr<BIO, BioFree>;

BioPtr MemoryBio(absl::string_view bytes) {
  return BioPtr(BIO_new_mem_buf(bytes.data(), static_cast<int>(bytes.size())));
}

std::string RawPublicKey(EVP_PKEY* key) {
  std::string raw(kEd25519PublicKeyBytes, '\0');
  size_t len = raw.size();
  if (EVP_PKEY_get_raw_public_key(
          key, reinterpret_cast<unsigned char*>(raw.data()), &len) != 1 ||
      len != kEd25519PublicKeyBytes) {
    return "";
  }
  return raw;
}

std::string KeyIdOfRaw(absl::string_view raw_public_key) {
  return Sha256Hex(raw_public_key).substr(0, kKeyIdHexChars);
}

std::string PublicKeyPem(EVP_PKEY* key) {
  BioPtr out(BIO_new(BIO_s_mem()));
  if (out == nullptr || PEM_write_bio_PUBKEY(out.get(), key) != 1) return "";
  char* data = nullptr;
  const long len = BIO_get_mem_data(out.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

absl::StatusOr<PkeyPtr> ParsePublicKeyPem(absl::string_view pem) {
  BioPtr in = MemoryBio(pem);
  PkeyPtr key(in == nullptr
                  ? nullptr
                  : PEM_read_bio_PUBKEY(in.get(), nullptr, nullptr, nullptr));
  if (key == nullptr) {
    return absl::InvalidArgumentError(
        "not a PEM public key (expected -----BEGIN PUBLIC KEY-----)");
  }
  if (EVP_PKEY_id(key.get()) != EVP_PKEY_ED25519) {
    return absl::InvalidArgumentError(
        "the public key is not an Ed25519 key; approval tokens are Ed25519");
  }
  return key;
}

std::string TokenTime(absl::Time t) {
  return absl::FormatTime(kTimeFormat, t, absl::UTCTimeZone());
}

// The payload: canonical JSON, byte for byte what the signature covers.
std::string PayloadOf(const ApprovalClaims& c) {
  Json approvers = Json::array();
  for (const std::string& a : c.approvers) approvers.push_back(a);
  const Json payload = {{"action", c.action},
                        {"action_digest", c.action_digest},
                        {"approval_id", c.approval_id},
                        {"approved_at", TokenTime(c.approved_at)},
                        {"approvers", std::move(approvers)},
                        {"key_id", c.key_id},
                        {"not_after", TokenTime(c.not_after)},
                        {"not_before", TokenTime(c.not_before)},
                        {"rule", c.rule},
                        {"v", c.version}};
  return payload.dump(-1, ' ', /*ensure_ascii=*/false,
                      Json::error_handler_t::replace);
}

absl::Status Unauthenticated(absl::string_view what) {
  return absl::UnauthenticatedError(
      absl::StrCat("approval token rejected: ", what));
}

// base64url without padding, and only its canonical spelling: a token that
// decodes but re-encodes differently was not made by Sign.
bool DecodeBase64Url(absl::string_view in, std::string* out) {
  if (in.empty() || in.find('=') != absl::string_view::npos) return false;
  if (!absl::WebSafeBase64Unescape(in, out)) return false;
  return absl::WebSafeBase64Escape(*out) == in;
}

absl::StatusOr<absl::Time> ParseTokenTime(const Json& v, const char* field) {
  absl::Time t;
  std::string err;
  if (!v.is_string() || !absl::ParseTime(kTimeParseFormat, v.get<std::string>(),
                                         absl::UTCTimeZone(), &t, &err)) {
    return Unauthenticated(absl::StrCat(field, " is not an RFC 3339 time"));
  }
  return t;
}

absl::StatusOr<ApprovalClaims> ClaimsFromPayload(absl::string_view payload) {
  Json j = Json::parse(payload.begin(), payload.end(), nullptr,
                       /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return Unauthenticated("payload is not a JSON object");
  }
  auto v = j.find("v");
  if (v == j.end() || !v->is_number_integer()) {
    return Unauthenticated("payload has no version");
  }
  if (v->get<int64_t>() != kApprovalTokenVersion) {
    return Unauthenticated(absl::StrCat("unknown token version ",
                                        v->get<int64_t>(), " (this code reads ",
                                        kApprovalTokenVersion, ")"));
  }
  ApprovalClaims c;
  const std::pair<const char*, std::string*> strings[] = {
      {"action", &c.action},
      {"action_digest", &c.action_digest},
      {"approval_id", &c.approval_id},
      {"key_id", &c.key_id},
      {"rule", &c.rule}};
  for (const auto& [field, out] : strings) {
    auto it = j.find(field);
    if (it == j.end() || !it->is_string()) {
      return Unauthenticated(
          absl::StrCat("payload field ", field, " is missing or not a string"));
    }
    *out = it->get<std::string>();
  }
  auto approvers = j.find("approvers");
  if (approvers == j.end() || !approvers->is_array()) {
    return Unauthenticated("payload field approvers is not a list");
  }
  for (const Json& a : *approvers) {
    if (!a.is_string()) return Unauthenticated("an approver is not a string");
    c.approvers.push_back(a.get<std::string>());
  }
  const std::pair<const char*, absl::Time*> times[] = {
      {"approved_at", &c.approved_at},
      {"not_before", &c.not_before},
      {"not_after", &c.not_after}};
  for (const auto& [field, out] : times) {
    auto it = j.find(field);
    if (it == j.end()) {
      return Unauthenticated(
          absl::StrCat("payload field ", field, " is missing"));
    }
    absl::StatusOr<absl::Time> t = ParseTokenTime(*it, field);
    if (!t.ok()) return t.status();
    *out = *t;
  }
  // Unknown keys, reordered keys, other spacing or escapes, unsorted
  // approvers: none of it can come from Sign.
  if (!std::is_sorted(c.approvers.begin(), c.approvers.end()) ||
      PayloadOf(c) != payload) {
    return Unauthenticated("payload is not in canonical form");
  }
  return c;
}

}  // namespace

// The key, and the tokens it signed most recently. Every stream that
// carries an approved approval needs its token: with 1,000 agents on one
// approval that is 1,000 identical signatures at ~40 us each, where a
// lookup is far cheaper. Keyed by the exact payload, so a hit is the token
// Sign would compute (Ed25519 is deterministic).
struct TokenSigner::Key {
  static constexpr size_t kRecentTokens = 1024;

  PkeyPtr pkey;
  absl::Mutex mu;
  std::unordered_map<std::string, std::string> recent ABSL_GUARDED_BY(mu);
  std::deque<std::string> order ABSL_GUARDED_BY(mu);  // oldest first
};

TokenSigner::TokenSigner(std::unique_ptr<Key> key, std::string public_key_pem,
                         std::string key_id)
    : key_(std::move(key)),
      public_key_pem_(std::move(public_key_pem)),
      key_id_(std::move(key_id)) {}

TokenSigner::~TokenSigner() = default;

absl::StatusOr<std::unique_ptr<TokenSigner>> TokenSigner::FromPrivateKeyPem(
    absl::string_view pem) {
  BioPtr in = MemoryBio(pem);
  PkeyPtr key(in == nullptr ? nullptr
                            : PEM_read_bio_PrivateKey(in.get(), nullptr,
                                                      nullptr, nullptr));
  if (key == nullptr) {
    return absl::InvalidArgumentError(
        "not a PEM private key (expected -----BEGIN PRIVATE KEY-----, as "
        "written by `openssl genpkey -algorithm ed25519`)");
  }
  if (EVP_PKEY_id(key.get()) != EVP_PKEY_ED25519) {
    return absl::InvalidArgumentError(
        "the signing key is not an Ed25519 key; create one with `openssl "
        "genpkey -algorithm ed25519`");
  }
  const std::string raw = RawPublicKey(key.get());
  std::string public_pem = PublicKeyPem(key.get());
  if (raw.empty() || public_pem.empty()) {
    return absl::InternalError("could not derive the signing key's public key");
  }
  auto k = std::make_unique<Key>();
  k->pkey = std::move(key);
  return std::unique_ptr<TokenSigner>(
      new TokenSigner(std::move(k), std::move(public_pem), KeyIdOfRaw(raw)));
}

std::unique_ptr<TokenSigner> TokenSigner::Generate() {
  std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree> ctx(
      EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, nullptr));
  EVP_PKEY* raw_key = nullptr;
  if (ctx == nullptr || EVP_PKEY_keygen_init(ctx.get()) != 1 ||
      EVP_PKEY_keygen(ctx.get(), &raw_key) != 1) {
    // Only when OpenSSL itself is broken; nothing sensible to continue with.
    abort();
  }
  PkeyPtr key(raw_key);
  const std::string raw = RawPublicKey(key.get());
  std::string public_pem = PublicKeyPem(key.get());
  if (raw.empty() || public_pem.empty()) abort();
  auto k = std::make_unique<Key>();
  k->pkey = std::move(key);
  return std::unique_ptr<TokenSigner>(
      new TokenSigner(std::move(k), std::move(public_pem), KeyIdOfRaw(raw)));
}

std::string TokenSigner::Sign(ApprovalClaims claims) const {
  claims.key_id = key_id_;
  std::sort(claims.approvers.begin(), claims.approvers.end());
  const std::string payload = PayloadOf(claims);
  {
    absl::MutexLock lock(&key_->mu);
    if (auto it = key_->recent.find(payload); it != key_->recent.end()) {
      return it->second;
    }
  }
  const std::string sig = SignDetached(payload);
  std::string token = absl::StrCat(absl::WebSafeBase64Escape(payload), ".",
                                   absl::WebSafeBase64Escape(sig));
  absl::MutexLock lock(&key_->mu);
  if (key_->recent.emplace(payload, token).second) {
    key_->order.push_back(payload);
    if (key_->order.size() > Key::kRecentTokens) {
      key_->recent.erase(key_->order.front());
      key_->order.pop_front();
    }
  }
  return token;
}

std::string TokenSigner::SignDetached(absl::string_view message) const {
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  std::string sig(kEd25519SignatureBytes, '\0');
  size_t sig_len = sig.size();
  if (ctx == nullptr ||
      EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr,
                         key_->pkey.get()) != 1 ||
      EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()),
                     &sig_len,
                     reinterpret_cast<const unsigned char*>(message.data()),
                     message.size()) != 1 ||
      sig_len != kEd25519SignatureBytes) {
    // As in Sign: nothing may go out unsigned.
    abort();
  }
  return sig;
}

struct Ed25519PublicKey::Key {
  PkeyPtr pkey;
};

absl::StatusOr<Ed25519PublicKey> Ed25519PublicKey::FromPem(
    absl::string_view pem) {
  absl::StatusOr<PkeyPtr> parsed = ParsePublicKeyPem(pem);
  if (!parsed.ok()) return parsed.status();
  const std::string raw = RawPublicKey(parsed->get());
  std::string canonical_pem = PublicKeyPem(parsed->get());
  if (raw.empty() || canonical_pem.empty()) {
    return absl::InvalidArgumentError("could not read the raw Ed25519 key");
  }
  auto key = std::make_shared<Key>();
  key->pkey = *std::move(parsed);
  return Ed25519PublicKey(std::move(key), std::move(canonical_pem),
                          KeyIdOfRaw(raw));
}

bool Ed25519PublicKey::Verify(absl::string_view message,
                              absl::string_view signature) const {
  if (signature.size() != kEd25519SignatureBytes) return false;
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  return ctx != nullptr &&
         EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr,
                              key_->pkey.get()) == 1 &&
         EVP_DigestVerify(
             ctx.get(),
             reinterpret_cast<const unsigned char*>(signature.data()),
             signature.size(),
             reinterpret_cast<const unsigned char*>(message.data()),
             message.size()) == 1;
}

std::string GenerateSigningKeyPem() {
  std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree> ctx(
      EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, nullptr));
  EVP_PKEY* raw_key = nullptr;
  if (ctx == nullptr || EVP_PKEY_keygen_init(ctx.get()) != 1 ||
      EVP_PKEY_keygen(ctx.get(), &raw_key) != 1) {
    abort();  // as in Generate
  }
  PkeyPtr key(raw_key);
  BioPtr out(BIO_new(BIO_s_mem()));
  if (out == nullptr ||
      PEM_write_bio_PrivateKey(out.get(), key.get(), nullptr, nullptr, 0,
                               nullptr, nullptr) != 1) {
    abort();
  }
  char* data = nullptr;
  const long len = BIO_get_mem_data(out.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

absl::StatusOr<std::string> KeyIdOf(absl::string_view public_key_pem) {
  absl::StatusOr<PkeyPtr> key = ParsePublicKeyPem(public_key_pem);
  if (!key.ok()) return key.status();
  const std::string raw = RawPublicKey(key->get());
  if (raw.empty()) {
    return absl::InvalidArgumentError("could not read the raw Ed25519 key");
  }
  return KeyIdOfRaw(raw);
}

absl::StatusOr<ApprovalClaims> VerifyApprovalToken(
    absl::string_view token, absl::string_view public_key_pem) {
  absl::StatusOr<PkeyPtr> key = ParsePublicKeyPem(public_key_pem);
  if (!key.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("broker public key: ", key.status().message()));
  }
  if (token.size() > kMaxTokenBytes) return Unauthenticated("too long");
  const size_t dot = token.find('.');
  if (dot == absl::string_view::npos ||
      token.find('.', dot + 1) != absl::string_view::npos) {
    return Unauthenticated("not of the form <payload>.<signature>");
  }
  std::string payload;
  std::string sig;
  if (!DecodeBase64Url(token.substr(0, dot), &payload)) {
    return Unauthenticated("payload is not base64url without padding");
  }
  if (!DecodeBase64Url(token.substr(dot + 1), &sig) ||
      sig.size() != kEd25519SignatureBytes) {
    return Unauthenticated("signature is not 64 bytes of base64url");
  }
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  if (ctx == nullptr || EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr,
                                             nullptr, key->get()) != 1) {
    return absl::InternalError("could not set up Ed25519 verification");
  }
  const int verified = EVP_DigestVerify(
      ctx.get(), reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
      reinterpret_cast<const unsigned char*>(payload.data()), payload.size());
  if (verified != 1) {
    return Unauthenticated(
        "signature does not verify with this public key (the token was "
        "changed, or another key signed it)");
  }
  absl::StatusOr<ApprovalClaims> claims = ClaimsFromPayload(payload);
  if (!claims.ok()) return claims.status();
  const std::string key_id = KeyIdOfRaw(RawPublicKey(key->get()));
  if (claims->key_id != key_id) {
    return Unauthenticated(absl::StrCat("token names key ", claims->key_id,
                                        " but was verified with key ", key_id));
  }
  return claims;
}

absl::Status CheckClaims(const ApprovalClaims& claims,
                         absl::string_view action_digest,
                         absl::string_view approval_id, absl::Time now) {
  if (claims.action_digest != action_digest) {
    return absl::PermissionDeniedError(
        absl::StrCat("the token approves action digest ", claims.action_digest,
                     ", not this action (digest ", action_digest, ")"));
  }
  if (!approval_id.empty() && claims.approval_id != approval_id) {
    return absl::PermissionDeniedError(
        absl::StrCat("the token is for approval ", claims.approval_id, ", not ",
                     approval_id));
  }
  if (now < claims.not_before) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the token allows execution from ", TokenTime(claims.not_before),
        "; it is now ", TokenTime(now)));
  }
  if (now >= claims.not_after) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the token's execution window closed at ", TokenTime(claims.not_after),
        "; it is now ", TokenTime(now)));
  }
  return absl::OkStatus();
}

}  // namespace approval
