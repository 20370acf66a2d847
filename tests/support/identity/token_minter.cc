#include "tests/support/identity/token_minter.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include <cstdio>
#include <cstdlib>
#include <utility>

#include "absl/strings/str_cat.h"
#include "server/auth/jwk.h"

namespace approval::testing {
namespace {

using Json = nlohmann::json;

void Check(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "token_minter: %s failed\n", what);
  ERR_print_errors_fp(stderr);
  std::abort();
}

std::shared_ptr<EVP_PKEY> Share(EVP_PKEY* key) {
  Check(key != nullptr, "key generation");
  return std::shared_ptr<EVP_PKEY>(key, EVP_PKEY_free);
}

std::string BnBytes(const EVP_PKEY* key, const char* name, int pad) {
  BIGNUM* bn = nullptr;
  Check(EVP_PKEY_get_bn_param(key, name, &bn) == 1, name);
  std::string out(pad > 0 ? static_cast<size_t>(pad)
                          : static_cast<size_t>(BN_num_bytes(bn)),
                  '\0');
  const int n =
      pad > 0
          ? BN_bn2binpad(bn, reinterpret_cast<unsigned char*>(out.data()), pad)
          : BN_bn2bin(bn, reinterpret_cast<unsigned char*>(out.data()));
  BN_free(bn);
  Check(n >= 0, "BN_bn2bin");
  return out;
}

std::string Encode(const Json& j) { return Base64UrlEncode(j.dump()); }

}  // namespace

TestKey::TestKey(std::string kid, std::string alg,
                 std::shared_ptr<EVP_PKEY> key)
    : kid_(std::move(kid)), alg_(std::move(alg)), key_(std::move(key)) {}

TestKey TestKey::Rsa(std::string kid) {
  return TestKey(std::move(kid), "RS256", Share(EVP_RSA_gen(2048)));
}

TestKey TestKey::Ec(std::string kid) {
  return TestKey(std::move(kid), "ES256", Share(EVP_EC_gen("P-256")));
}

Json TestKey::PublicJwk() const {
  Json jwk = {{"kid", kid_}, {"use", "sig"}, {"alg", alg_}};
  if (alg_ == "RS256") {
    jwk["kty"] = "RSA";
    jwk["n"] = Base64UrlEncode(BnBytes(key_.get(), OSSL_PKEY_PARAM_RSA_N, 0));
    jwk["e"] = Base64UrlEncode(BnBytes(key_.get(), OSSL_PKEY_PARAM_RSA_E, 0));
  } else {
    jwk["kty"] = "EC";
    jwk["crv"] = "P-256";
    jwk["x"] =
        Base64UrlEncode(BnBytes(key_.get(), OSSL_PKEY_PARAM_EC_PUB_X, 32));
    jwk["y"] =
        Base64UrlEncode(BnBytes(key_.get(), OSSL_PKEY_PARAM_EC_PUB_Y, 32));
  }
  return jwk;
}

std::string TestKey::PublicPem() const {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()),
                                                &BIO_free);
  Check(bio && PEM_write_bio_PUBKEY(bio.get(), key_.get()) == 1,
        "PEM_write_bio_PUBKEY");
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(size));
}

std::string TestKey::Sign(absl::string_view signing_input) const {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(),
                                                              &EVP_MD_CTX_free);
  Check(ctx && EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr,
                                  key_.get()) == 1,
        "EVP_DigestSignInit");
  size_t size = 0;
  const auto* in = reinterpret_cast<const unsigned char*>(signing_input.data());
  Check(
      EVP_DigestSign(ctx.get(), nullptr, &size, in, signing_input.size()) == 1,
      "EVP_DigestSign size");
  std::string sig(size, '\0');
  Check(EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()),
                       &size, in, signing_input.size()) == 1,
        "EVP_DigestSign");
  sig.resize(size);
  if (alg_ == "RS256") return sig;
  // DER ECDSA-Sig-Value -> r||s, 32 bytes each.
  const auto* der = reinterpret_cast<const unsigned char*>(sig.data());
  ECDSA_SIG* ecdsa = d2i_ECDSA_SIG(nullptr, &der, static_cast<long>(size));
  Check(ecdsa != nullptr, "d2i_ECDSA_SIG");
  std::string raw(64, '\0');
  auto* out = reinterpret_cast<unsigned char*>(raw.data());
  Check(BN_bn2binpad(ECDSA_SIG_get0_r(ecdsa), out, 32) == 32 &&
            BN_bn2binpad(ECDSA_SIG_get0_s(ecdsa), out + 32, 32) == 32,
        "r||s");
  ECDSA_SIG_free(ecdsa);
  return raw;
}

std::string JwksJson(const std::vector<TestKey>& keys) {
  Json out = {{"keys", Json::array()}};
  for (const TestKey& k : keys) out["keys"].push_back(k.PublicJwk());
  return out.dump();
}

Json HeaderFor(const TestKey& key) {
  return {{"alg", key.alg()}, {"kid", key.kid()}, {"typ", "JWT"}};
}

Json Claims(const std::string& issuer, const std::string& audience,
            const std::string& subject, absl::Time now) {
  return {{"iss", issuer},
          {"aud", audience},
          {"sub", subject},
          {"iat", absl::ToUnixSeconds(now)},
          {"exp", absl::ToUnixSeconds(now + absl::Minutes(10))}};
}

std::string Mint(const Json& header, const Json& claims, const TestKey& key) {
  const std::string input = absl::StrCat(Encode(header), ".", Encode(claims));
  return absl::StrCat(input, ".", Base64UrlEncode(key.Sign(input)));
}

std::string MintText(absl::string_view header_text,
                     absl::string_view claims_text, const TestKey& key) {
  const std::string input = absl::StrCat(Base64UrlEncode(header_text), ".",
                                         Base64UrlEncode(claims_text));
  return absl::StrCat(input, ".", Base64UrlEncode(key.Sign(input)));
}

std::string RepeatKey(const Json& object, const std::string& key,
                      const Json& first_value) {
  const std::string text = object.dump();
  // dump() writes {"a":1,...}: put the extra member first.
  return absl::StrCat("{\"", key, "\":", first_value.dump(),
                      object.empty() ? "" : ",", text.substr(1));
}

std::string Mint(const Json& claims, const TestKey& key) {
  return Mint(HeaderFor(key), claims, key);
}

std::string MintUnsigned(const Json& header, const Json& claims) {
  return absl::StrCat(Encode(header), ".", Encode(claims), ".");
}

std::string MintHs256(const Json& header, const Json& claims,
                      absl::string_view secret) {
  const std::string input = absl::StrCat(Encode(header), ".", Encode(claims));
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  Check(HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
             reinterpret_cast<const unsigned char*>(input.data()), input.size(),
             mac, &size) != nullptr,
        "HMAC");
  return absl::StrCat(
      input, ".",
      Base64UrlEncode(absl::string_view(reinterpret_cast<char*>(mac), size)));
}

}  // namespace approval::testing
