#include "server/domain/token_signer.h"

#include <openssl/evp.h>
#include <openssl/pem.h>

#include <algorithm>
#include <cstdlib>
#include <deque>
#include <unordered_map>
#include <utility>

#include "absl/synchronization/mutex.h"
#include "wire/openssl_ptr.h"

namespace approval {
namespace {

using PkeyPtr = OpenSslPtr<EVP_PKEY>;

// The public half of `key`; INTERNAL when OpenSSL cannot read it.
absl::StatusOr<Ed25519PublicKey> PublicHalf(const EVP_PKEY* key) {
  std::string raw(kEd25519PublicKeyBytes, '\0');
  size_t len = raw.size();
  if (EVP_PKEY_get_raw_public_key(
          key, reinterpret_cast<unsigned char*>(raw.data()), &len) != 1 ||
      len != kEd25519PublicKeyBytes) {
    return absl::InternalError("could not derive the signing key's public key");
  }
  return Ed25519PublicKey::FromRaw(raw);
}

// A fresh Ed25519 key. Aborts only when OpenSSL itself is broken: nothing
// sensible to continue with.
PkeyPtr GenerateKey() {
  OpenSslPtr<EVP_PKEY_CTX> ctx(EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, nullptr));
  EVP_PKEY* raw_key = nullptr;
  if (ctx == nullptr || EVP_PKEY_keygen_init(ctx.get()) != 1 ||
      EVP_PKEY_keygen(ctx.get(), &raw_key) != 1) {
    abort();
  }
  return PkeyPtr(raw_key);
}

}  // namespace

// The key, and the tokens it signed most recently. Every stream that
// carries an approved approval needs its token: with 1,000 agents on one
// approval that is 1,000 identical signatures at ~40 us each, where a
// lookup is far cheaper. Keyed by the exact JWS signing input, so a hit is the
// token Sign would compute (Ed25519 is deterministic).
struct TokenSigner::Key {
  static constexpr size_t kRecentTokens = 1024;

  PkeyPtr pkey;
  absl::Mutex mu;
  std::unordered_map<std::string, std::string> recent ABSL_GUARDED_BY(mu);
  std::deque<std::string> order ABSL_GUARDED_BY(mu);  // oldest first
};

TokenSigner::TokenSigner(std::unique_ptr<Key> key, Ed25519PublicKey public_key)
    : key_(std::move(key)), public_key_(std::move(public_key)) {}

TokenSigner::~TokenSigner() = default;

absl::StatusOr<std::unique_ptr<TokenSigner>> TokenSigner::FromPrivateKeyPem(
    absl::string_view pem) {
  OpenSslPtr<BIO> in = MemoryBio(pem);
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
  absl::StatusOr<Ed25519PublicKey> public_key = PublicHalf(key.get());
  if (!public_key.ok()) {
    return absl::InternalError("could not derive the signing key's public key");
  }
  auto k = std::make_unique<Key>();
  k->pkey = std::move(key);
  return std::unique_ptr<TokenSigner>(
      new TokenSigner(std::move(k), *std::move(public_key)));
}

std::unique_ptr<TokenSigner> TokenSigner::Generate() {
  PkeyPtr key = GenerateKey();
  absl::StatusOr<Ed25519PublicKey> public_key = PublicHalf(key.get());
  if (!public_key.ok()) abort();  // as in GenerateKey
  auto k = std::make_unique<Key>();
  k->pkey = std::move(key);
  return std::unique_ptr<TokenSigner>(
      new TokenSigner(std::move(k), *std::move(public_key)));
}

std::string TokenSigner::Sign(ApprovalClaims claims) const {
  claims.key_id = key_id();
  std::sort(claims.approvers.begin(), claims.approvers.end());
  const std::string signing_input = ApprovalTokenSigningInput(claims, key_id());
  {
    absl::MutexLock lock(&key_->mu);
    if (auto it = key_->recent.find(signing_input); it != key_->recent.end()) {
      return it->second;
    }
  }
  std::string token =
      ApprovalTokenOf(signing_input, SignDetached(signing_input));
  absl::MutexLock lock(&key_->mu);
  if (key_->recent.emplace(signing_input, token).second) {
    key_->order.push_back(signing_input);
    if (key_->order.size() > Key::kRecentTokens) {
      key_->recent.erase(key_->order.front());
      key_->order.pop_front();
    }
  }
  return token;
}

std::string TokenSigner::SignDetached(absl::string_view message) const {
  OpenSslPtr<EVP_MD_CTX> ctx(EVP_MD_CTX_new());
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
    // Nothing may go out unsigned.
    abort();
  }
  return sig;
}

std::string GenerateSigningKeyPem() {
  PkeyPtr key = GenerateKey();
  OpenSslPtr<BIO> out(BIO_new(BIO_s_mem()));
  if (out == nullptr ||
      PEM_write_bio_PrivateKey(out.get(), key.get(), nullptr, nullptr, 0,
                               nullptr, nullptr) != 1) {
    abort();  // as in GenerateKey
  }
  return MemoryBioContents(out.get());
}

}  // namespace approval
