// Owning pointers for the OpenSSL objects this code base creates: one
// deleter for every type, so that no file writes its own.
//
//   OpenSslPtr<EVP_MD_CTX> ctx(EVP_MD_CTX_new());
//
// A null pointer is fine (every *_free accepts null). Thread-compatible, as
// the objects are.
#ifndef APPROVAL_WIRE_OPENSSL_PTR_H_
#define APPROVAL_WIRE_OPENSSL_PTR_H_

#include <openssl/ec.h>
#include <openssl/types.h>
#include <openssl/x509v3.h>

#include <memory>
#include <string>

#include "absl/strings/string_view.h"

namespace approval {

struct OpenSslFree {
  void operator()(BIGNUM* p) const;
  void operator()(BIO* p) const;
  void operator()(ECDSA_SIG* p) const;
  void operator()(EVP_MD_CTX* p) const;
  void operator()(EVP_PKEY* p) const;
  void operator()(EVP_PKEY_CTX* p) const;
  void operator()(GENERAL_NAMES* p) const;
  void operator()(OSSL_PARAM* p) const;
  void operator()(OSSL_PARAM_BLD* p) const;
  void operator()(X509* p) const;
};

template <typename T>
using OpenSslPtr = std::unique_ptr<T, OpenSslFree>;

// A read-only memory BIO over `bytes`, which must outlive it; null when
// OpenSSL cannot allocate one.
OpenSslPtr<BIO> MemoryBio(absl::string_view bytes);

// The contents of a memory BIO (BIO_s_mem) as a string.
std::string MemoryBioContents(BIO* bio);

}  // namespace approval

#endif  // APPROVAL_WIRE_OPENSSL_PTR_H_
