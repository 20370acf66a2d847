#include "server/service/keys.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "server/common/read_file.h"

namespace approval {
namespace {
constexpr size_t kMaxKeyFileBytes = 64 * 1024;
}  // namespace

absl::StatusOr<std::shared_ptr<const TokenSigner>> LoadSigningKey(
    const Config& config) {
  if (config.signing_key_file.empty()) {
    return absl::InvalidArgumentError(
        "signing_key_file: required: it signs approval tokens and seals the "
        "audit log, and must be a key the database never holds; create one "
        "with `openssl genpkey -algorithm ed25519 -out signing-key.pem`");
  }
  absl::StatusOr<std::string> pem =
      ReadFile(config.signing_key_file, kMaxKeyFileBytes);
  if (!pem.ok()) return pem.status();
  absl::StatusOr<std::unique_ptr<TokenSigner>> signer =
      TokenSigner::FromPrivateKeyPem(*pem);
  if (!signer.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("signing_key_file: ", config.signing_key_file, ": ",
                     signer.status().message()));
  }
  return std::shared_ptr<const TokenSigner>(*std::move(signer));
}

absl::StatusOr<std::vector<PublishedKey>> LoadRetiredKeys(
    const Config& config) {
  std::vector<PublishedKey> out;
  for (const RetiredSigningKey& retired : config.approval_tokens.retired_keys) {
    absl::StatusOr<std::string> pem =
        ReadFile(retired.public_key_file, kMaxKeyFileBytes);
    if (!pem.ok()) return pem.status();
    absl::StatusOr<Ed25519PublicKey> key = Ed25519PublicKey::FromPem(*pem);
    if (!key.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "approval_tokens.retired_keys: ", retired.public_key_file, ": ",
          key.status().message(),
          " (write it with `openssl pkey -in old-key.pem -pubout`)"));
    }
    out.push_back(PublishedKey{*std::move(key), retired.verify_until});
  }
  return out;
}

absl::StatusOr<AuditKeyring> LoadAuditKeyring(const Config& config,
                                              const TokenSigner& signer) {
  AuditKeyring keys;
  if (absl::Status s = keys.AddPublicKeyPem(signer.public_key_pem()); !s.ok()) {
    return s;
  }
  absl::StatusOr<std::vector<PublishedKey>> retired = LoadRetiredKeys(config);
  if (!retired.ok()) return retired.status();
  for (const PublishedKey& k : *retired) keys.Add(k.key);
  for (const std::string& file : config.audit_trusted_keys) {
    absl::StatusOr<std::string> pem = ReadFile(file, kMaxKeyFileBytes);
    if (!pem.ok()) return pem.status();
    if (absl::Status s = keys.AddPublicKeyPem(*pem); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "audit_trusted_keys: ", file, ": ", s.message(),
          " (write it with `openssl pkey -in old-key.pem -pubout`)"));
    }
  }
  return keys;
}

}  // namespace approval
