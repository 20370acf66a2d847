#include "server/auth/jwk.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "server/common/strict_json.h"
#include "wire/openssl_ptr.h"

namespace approval {
namespace {

using Json = nlohmann::ordered_json;

constexpr int kMinRsaBits = 2048;
constexpr int kMaxRsaBits = 16384;
constexpr size_t kP256CoordinateBytes = 32;

template <typename T>
using Owned = OpenSslPtr<T>;

std::shared_ptr<EVP_PKEY> Share(EVP_PKEY* key) {
  return std::shared_ptr<EVP_PKEY>(key, EVP_PKEY_free);
}

// Builds a public key of `type` ("RSA" or "EC") from OSSL_PARAMs.
std::shared_ptr<EVP_PKEY> FromParams(const char* type, OSSL_PARAM_BLD* bld) {
  Owned<OSSL_PARAM> params(OSSL_PARAM_BLD_to_param(bld));
  Owned<EVP_PKEY_CTX> ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  EVP_PKEY* key = nullptr;
  if (params == nullptr || ctx == nullptr ||
      EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &key, EVP_PKEY_PUBLIC_KEY, params.get()) !=
          1) {
    return nullptr;
  }
  return Share(key);
}

// nullopt when the member is missing, not a string or not base64url.
std::optional<std::string> Member(const Json& jwk, const char* name) {
  const auto it = jwk.find(name);
  if (it == jwk.end() || !it->is_string()) return std::nullopt;
  return Base64UrlDecode(it->get<std::string>());
}

absl::StatusOr<std::shared_ptr<EVP_PKEY>> RsaKey(const Json& jwk) {
  const std::optional<std::string> n = Member(jwk, "n");
  const std::optional<std::string> e = Member(jwk, "e");
  if (!n || !e || n->empty() || e->empty()) {
    return absl::InvalidArgumentError("n or e is missing or not base64url");
  }
  Owned<BIGNUM> n_bn(
      BN_bin2bn(reinterpret_cast<const unsigned char*>(n->data()),
                static_cast<int>(n->size()), nullptr));
  Owned<BIGNUM> e_bn(
      BN_bin2bn(reinterpret_cast<const unsigned char*>(e->data()),
                static_cast<int>(e->size()), nullptr));
  Owned<OSSL_PARAM_BLD> bld(OSSL_PARAM_BLD_new());
  if (n_bn == nullptr || e_bn == nullptr || bld == nullptr ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, n_bn.get()) !=
          1 ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, e_bn.get()) !=
          1) {
    return absl::InternalError("OpenSSL could not hold the RSA values");
  }
  if (!BN_is_odd(e_bn.get()) || BN_is_one(e_bn.get())) {
    return absl::InvalidArgumentError("e is not a valid RSA exponent");
  }
  std::shared_ptr<EVP_PKEY> key = FromParams("RSA", bld.get());
  if (key == nullptr) {
    return absl::InvalidArgumentError("OpenSSL refused the RSA key");
  }
  const int bits = EVP_PKEY_get_bits(key.get());
  if (bits < kMinRsaBits || bits > kMaxRsaBits) {
    return absl::InvalidArgumentError(absl::StrCat("RSA key of ", bits,
                                                   " bits; ", kMinRsaBits, "..",
                                                   kMaxRsaBits, " accepted"));
  }
  return key;
}

absl::StatusOr<std::shared_ptr<EVP_PKEY>> P256Key(const Json& jwk) {
  const std::optional<std::string> x = Member(jwk, "x");
  const std::optional<std::string> y = Member(jwk, "y");
  if (!x || !y || x->size() != kP256CoordinateBytes ||
      y->size() != kP256CoordinateBytes) {
    return absl::InvalidArgumentError(
        "x or y is missing, not base64url or not 32 bytes");
  }
  const std::string point = absl::StrCat("\x04", *x, *y);
  Owned<OSSL_PARAM_BLD> bld(OSSL_PARAM_BLD_new());
  if (bld == nullptr ||
      OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME,
                                      "prime256v1", 0) != 1 ||
      OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY,
                                       point.data(), point.size()) != 1) {
    return absl::InternalError("OpenSSL could not hold the EC point");
  }
  std::shared_ptr<EVP_PKEY> key = FromParams("EC", bld.get());
  if (key == nullptr) {
    return absl::InvalidArgumentError("the point is not on P-256");
  }
  Owned<EVP_PKEY_CTX> check(
      EVP_PKEY_CTX_new_from_pkey(nullptr, key.get(), nullptr));
  if (check == nullptr || EVP_PKEY_public_check(check.get()) != 1) {
    return absl::InvalidArgumentError("the point is not a valid P-256 key");
  }
  return key;
}

bool HasPrivateMembers(const Json& jwk) {
  for (const char* name : {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}) {
    if (jwk.contains(name)) return true;
  }
  return false;
}

std::string Str(const Json& jwk, const char* name) {
  const auto it = jwk.find(name);
  return it != jwk.end() && it->is_string() ? it->get<std::string>() : "";
}

}  // namespace

// Grants ParseJwks access to Jwk's private constructor.
struct JwkFactory {
  static Jwk Make(JwsAlgorithm alg, std::shared_ptr<EVP_PKEY> key) {
    return Jwk(alg, std::move(key));
  }
};

Jwk::Jwk(JwsAlgorithm algorithm, std::shared_ptr<EVP_PKEY> key)
    : algorithm_(algorithm), key_(std::move(key)) {}

bool Jwk::Verify(absl::string_view signing_input,
                 absl::string_view signature) const {
  std::string der;
  absl::string_view to_check = signature;
  if (algorithm_ == JwsAlgorithm::kEs256) {
    // JWS carries r||s; OpenSSL wants a DER ECDSA-Sig-Value.
    if (signature.size() != 2 * kP256CoordinateBytes) return false;
    const auto* raw = reinterpret_cast<const unsigned char*>(signature.data());
    Owned<ECDSA_SIG> sig(ECDSA_SIG_new());
    BIGNUM* r = BN_bin2bn(raw, kP256CoordinateBytes, nullptr);
    BIGNUM* s =
        BN_bin2bn(raw + kP256CoordinateBytes, kP256CoordinateBytes, nullptr);
    if (sig == nullptr || r == nullptr || s == nullptr ||
        ECDSA_SIG_set0(sig.get(), r, s) != 1) {
      BN_free(r);
      BN_free(s);
      return false;
    }
    unsigned char* out = nullptr;
    const int length = i2d_ECDSA_SIG(sig.get(), &out);
    if (length <= 0) return false;
    der.assign(reinterpret_cast<const char*>(out), static_cast<size_t>(length));
    OPENSSL_free(out);
    to_check = der;
  } else if (signature.size() !=
             static_cast<size_t>(EVP_PKEY_get_size(key_.get()))) {
    return false;
  }
  Owned<EVP_MD_CTX> ctx(EVP_MD_CTX_new());
  return ctx != nullptr &&
         EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr,
                              key_.get()) == 1 &&
         EVP_DigestVerify(
             ctx.get(), reinterpret_cast<const unsigned char*>(to_check.data()),
             to_check.size(),
             reinterpret_cast<const unsigned char*>(signing_input.data()),
             signing_input.size()) == 1;
}

namespace {

// A key of the set we can verify with.
struct UsableKey {
  std::string kid;
  JwsAlgorithm alg;
  std::shared_ptr<EVP_PKEY> key;
};

// The key `jwk` (an object without private members) holds, or why it is
// skipped: not for signatures, an unsupported type, an alg other than its
// type's, an unsafe kid, or bad key material.
absl::StatusOr<UsableKey> ReadUsableKey(const Json& jwk) {
  const std::string kty = Str(jwk, "kty");
  const std::string kid = Str(jwk, "kid");
  if (jwk.contains("use") && Str(jwk, "use") != "sig") {
    return absl::InvalidArgumentError("not a signing key (use)");
  }
  JwsAlgorithm alg;
  if (kty == "RSA") {
    alg = JwsAlgorithm::kRs256;
  } else if (kty == "EC" && Str(jwk, "crv") == "P-256") {
    alg = JwsAlgorithm::kEs256;
  } else {
    return absl::InvalidArgumentError(
        "key type or curve not supported (RSA, EC P-256)");
  }
  if (jwk.contains("alg") && Str(jwk, "alg") != JwsAlgorithmName(alg)) {
    return absl::InvalidArgumentError(
        absl::StrCat("alg is not ", JwsAlgorithmName(alg)));
  }
  if (!IsSafeKeyId(kid)) {
    return absl::InvalidArgumentError(
        "no kid, or one with characters outside [A-Za-z0-9._=+-]");
  }
  absl::StatusOr<std::shared_ptr<EVP_PKEY>> key =
      alg == JwsAlgorithm::kRs256 ? RsaKey(jwk) : P256Key(jwk);
  if (!key.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("kid ", kid, ": ", key.status().message()));
  }
  return UsableKey{kid, alg, *std::move(key)};
}

}  // namespace

absl::StatusOr<JwkSet> ParseJwks(absl::string_view text,
                                 absl::string_view source) {
  // Strict: two "kid" or two "n" in one key could be read differently by
  // the IdP's tooling and by us.
  absl::StatusOr<Json> parsed =
      ParseStrictJson(text, source, JsonComments::kRefused);
  if (!parsed.ok()) return parsed.status();
  const Json& root = *parsed;
  const auto keys = root.is_object() ? root.find("keys") : root.end();
  if (!root.is_object() || keys == root.end() || !keys->is_array()) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": not an object {\"keys\": [...]}"));
  }
  JwkSet set;
  for (size_t i = 0; i < keys->size(); ++i) {
    const Json& jwk = (*keys)[i];
    const std::string where = absl::StrCat("keys[", i, "]");
    if (!jwk.is_object()) {
      return absl::InvalidArgumentError(
          absl::StrCat(source, ": ", where, " is not an object"));
    }
    if (HasPrivateMembers(jwk)) {
      return absl::InvalidArgumentError(absl::StrCat(
          source, ": ", where,
          " holds private or symmetric key material; publish public keys "
          "only"));
    }
    absl::StatusOr<UsableKey> key = ReadUsableKey(jwk);
    if (!key.ok()) {
      set.skipped.push_back(absl::StrCat(where, ": ", key.status().message()));
      continue;
    }
    if (!set.keys.emplace(key->kid, JwkFactory::Make(key->alg, key->key))
             .second) {
      return absl::InvalidArgumentError(
          absl::StrCat(source, ": two keys with kid ", key->kid));
    }
  }
  return set;
}

}  // namespace approval
