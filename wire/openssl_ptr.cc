#include "wire/openssl_ptr.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/params.h>
#include <openssl/x509.h>

#include <climits>
#include <string>

namespace approval {

void OpenSslFree::operator()(BIGNUM* p) const { BN_free(p); }
void OpenSslFree::operator()(BIO* p) const { BIO_free(p); }
void OpenSslFree::operator()(ECDSA_SIG* p) const { ECDSA_SIG_free(p); }
void OpenSslFree::operator()(EVP_MD_CTX* p) const { EVP_MD_CTX_free(p); }
void OpenSslFree::operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
void OpenSslFree::operator()(EVP_PKEY_CTX* p) const { EVP_PKEY_CTX_free(p); }
void OpenSslFree::operator()(GENERAL_NAMES* p) const { GENERAL_NAMES_free(p); }
void OpenSslFree::operator()(OSSL_PARAM* p) const { OSSL_PARAM_free(p); }
void OpenSslFree::operator()(OSSL_PARAM_BLD* p) const {
  OSSL_PARAM_BLD_free(p);
}
void OpenSslFree::operator()(X509* p) const { X509_free(p); }

OpenSslPtr<BIO> MemoryBio(absl::string_view bytes) {
  if (bytes.size() > INT_MAX) return nullptr;
  return OpenSslPtr<BIO>(
      BIO_new_mem_buf(bytes.data(), static_cast<int>(bytes.size())));
}

std::string MemoryBioContents(BIO* bio) {
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio, &data);
  if (data == nullptr || len <= 0) return "";
  return std::string(data, static_cast<size_t>(len));
}

}  // namespace approval
