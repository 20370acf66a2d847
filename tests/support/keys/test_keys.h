// One Ed25519 signing key per test process, made at test time, shared by
// every store and broker a test builds (as replicas on one database share
// signing_key_file). Never a committed key.
#ifndef APPROVAL_TESTS_SUPPORT_KEYS_TEST_KEYS_H_
#define APPROVAL_TESTS_SUPPORT_KEYS_TEST_KEYS_H_

#include <memory>
#include <string>

#include "server/domain/audit_chain.h"
#include "server/domain/token_signer.h"

namespace approval::testing {

// A fresh PKCS#8 PEM Ed25519 private key.
std::string NewSigningKeyPem();
// Writes NewSigningKeyPem() to a new file under the temp directory; returns
// its path.
std::string NewSigningKeyFile();

// The process's shared key, its PEM file, and a keyring trusting it.
std::shared_ptr<const TokenSigner> TestSigner();
const std::string& TestSigningKeyFile();
const AuditKeyring& TestKeyring();

}  // namespace approval::testing

#endif  // APPROVAL_TESTS_SUPPORT_KEYS_TEST_KEYS_H_
