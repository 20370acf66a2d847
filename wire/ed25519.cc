#include "wire/ed25519.h"

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "wire/openssl_ptr.h"
#include "wire/sha256.h"

namespace approval {
namespace {

constexpr size_t kKeyIdHexChars = 16;

using PkeyPtr = OpenSslPtr<EVP_PKEY>;

std::string RawPublicKey(const EVP_PKEY* key) {
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
  OpenSslPtr<BIO> out(BIO_new(BIO_s_mem()));
  if (out == nullptr || PEM_write_bio_PUBKEY(out.get(), key) != 1) return "";
  return MemoryBioContents(out.get());
}

absl::StatusOr<PkeyPtr> ParsePublicKeyPem(absl::string_view pem) {
  OpenSslPtr<BIO> in = MemoryBio(pem);
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

}  // namespace

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
  return Ed25519PublicKey(std::move(key), std::move(canonical_pem), raw,
                          KeyIdOfRaw(raw));
}

absl::StatusOr<Ed25519PublicKey> Ed25519PublicKey::FromRaw(
    absl::string_view raw) {
  if (raw.size() != kEd25519PublicKeyBytes) {
    return absl::InvalidArgumentError(
        "a raw Ed25519 public key is 32 bytes long");
  }
  PkeyPtr pkey(EVP_PKEY_new_raw_public_key(
      EVP_PKEY_ED25519, nullptr,
      reinterpret_cast<const unsigned char*>(raw.data()), raw.size()));
  std::string pem = pkey == nullptr ? "" : PublicKeyPem(pkey.get());
  if (pem.empty()) {
    return absl::InvalidArgumentError("not a usable Ed25519 public key");
  }
  auto key = std::make_shared<Key>();
  key->pkey = std::move(pkey);
  return Ed25519PublicKey(std::move(key), std::move(pem), std::string(raw),
                          KeyIdOfRaw(raw));
}

bool Ed25519PublicKey::Verify(absl::string_view message,
                              absl::string_view signature) const {
  if (signature.size() != kEd25519SignatureBytes) return false;
  OpenSslPtr<EVP_MD_CTX> ctx(EVP_MD_CTX_new());
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

absl::StatusOr<std::string> KeyIdOf(absl::string_view public_key_pem) {
  absl::StatusOr<Ed25519PublicKey> key =
      Ed25519PublicKey::FromPem(public_key_pem);
  if (!key.ok()) return key.status();
  return key->key_id();
}

}  // namespace approval
