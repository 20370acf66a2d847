// The broker's keys from its configuration: the Ed25519 signing key (approval
// tokens and audit seals), the retired keys still published for tokens
// (approval_tokens.retired_keys), and the audit keyring that verifies seals.
#ifndef APPROVAL_SERVER_SERVICE_KEYS_H_
#define APPROVAL_SERVER_SERVICE_KEYS_H_

#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "server/config/config.h"
#include "server/domain/audit_chain.h"
#include "server/domain/token_signer.h"
#include "server/service/token_issuer.h"

namespace approval {

// Reads config.signing_key_file. INVALID_ARGUMENT when it is not set (the
// audit chain cannot be sealed without a key the database never holds) or
// is not an Ed25519 private key; the message names the key and the file.
absl::StatusOr<std::shared_ptr<const TokenSigner>> LoadSigningKey(
    const Config& config);

// Every config.approval_tokens.retired_keys entry, read. INVALID_ARGUMENT
// naming a file that is not an Ed25519 public key.
absl::StatusOr<std::vector<PublishedKey>> LoadRetiredKeys(const Config& config);

// `signer`'s public key, every config.audit_trusted_keys file and every
// retired token key (audit events they sealed keep verifying after their
// token overlap ends). INVALID_ARGUMENT naming a file that is not an
// Ed25519 public key.
absl::StatusOr<AuditKeyring> LoadAuditKeyring(const Config& config,
                                              const TokenSigner& signer);

}  // namespace approval

#endif  // APPROVAL_SERVER_SERVICE_KEYS_H_
