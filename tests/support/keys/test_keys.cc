#include "tests/support/keys/test_keys.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>

namespace approval::testing {

std::string NewSigningKeyPem() { return GenerateSigningKeyPem(); }

std::string NewSigningKeyFile() {
  std::string path =
      (std::filesystem::temp_directory_path() / "approval-test-key-XXXXXX")
          .string();
  const int fd = mkstemp(path.data());
  if (fd < 0) throw std::runtime_error("mkstemp failed");
  close(fd);
  std::ofstream(path) << NewSigningKeyPem();
  return path;
}

const std::string& TestSigningKeyFile() {
  static const std::string* const kFile = [] {
    auto* file = new std::string(NewSigningKeyFile());
    // Removed when the test process ends.
    std::atexit([] { std::filesystem::remove(TestSigningKeyFile()); });
    return file;
  }();
  return *kFile;
}

std::shared_ptr<const TokenSigner> TestSigner() {
  static const std::shared_ptr<const TokenSigner>* const kSigner = [] {
    std::ifstream in(TestSigningKeyFile());
    std::string pem((std::istreambuf_iterator<char>(in)),
                    std::istreambuf_iterator<char>());
    absl::StatusOr<std::unique_ptr<TokenSigner>> signer =
        TokenSigner::FromPrivateKeyPem(pem);
    if (!signer.ok()) throw std::runtime_error("test key did not load");
    return new std::shared_ptr<const TokenSigner>(*std::move(signer));
  }();
  return *kSigner;
}

const AuditKeyring& TestKeyring() {
  static const AuditKeyring* const kKeys = [] {
    auto* keys = new AuditKeyring;
    if (!keys->AddPublicKeyPem(TestSigner()->public_key_pem()).ok()) {
      throw std::runtime_error("test key has no public key");
    }
    return keys;
  }();
  return *kKeys;
}

}  // namespace approval::testing
