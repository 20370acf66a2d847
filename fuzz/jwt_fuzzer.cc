// OIDC bearer token verification (server/auth/jwt_verifier.h) against a
// key set of one P-256 key made at start-up.
//
// Input: a mode byte, then either a raw token (mode bit 0 set) or a JWT
// header (length-prefixed) and payload (the rest), which this target
// base64url-encodes and signs with the key, so that the fuzzer reaches the
// claim checks; mode bit 1 flips one bit of the signature.
// Invariants: a flipped signature or a raw token never verifies; an
// accepted token holds no NUL byte in its header or payload (it would end
// the JSON reader's input early) and has alg ES256, the configured kid, no crit
// header, the configured iss, an aud holding the audience, an exp not past and
// an nbf not in the future (both within the clock skew), and the claims
// returned are its payload. Every refusal is UNAUTHENTICATED.
#include <fuzzer/FuzzedDataProvider.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "fuzz/fuzz_check.h"
#include "nlohmann/json.hpp"
#include "server/auth/jwk.h"
#include "server/auth/jwks_source.h"
#include "server/auth/jwt_verifier.h"

namespace {

using Json = nlohmann::json;

constexpr char kKid[] = "fuzz-key";
constexpr char kIssuer[] = "https://idp.example.org";
constexpr char kAudience[] = "approval-broker";
const absl::Time kNow = absl::FromUnixSeconds(1700000000);
constexpr absl::Duration kSkew = absl::Seconds(60);

class FixedJwksSource final : public approval::JwksSource {
 public:
  explicit FixedJwksSource(std::string jwks) : jwks_(std::move(jwks)) {}
  absl::StatusOr<std::string> Fetch() override { return jwks_; }
  std::string Describe() const override { return "fuzz JWKS"; }

 private:
  const std::string jwks_;
};

struct Fixture {
  EVP_PKEY* key = nullptr;
  std::unique_ptr<approval::JwtVerifier> verifier;
};

const Fixture& TheFixture() {
  static const Fixture* fixture = [] {
    auto* f = new Fixture;
    f->key = EVP_EC_gen("P-256");
    FUZZ_CHECK(f->key != nullptr, "EVP_EC_gen");
    unsigned char point[65];
    size_t len = 0;
    FUZZ_CHECK(
        EVP_PKEY_get_octet_string_param(f->key, OSSL_PKEY_PARAM_PUB_KEY, point,
                                        sizeof(point), &len) == 1 &&
            len == 65,
        "public point");
    const std::string x(reinterpret_cast<char*>(point) + 1, 32);
    const std::string y(reinterpret_cast<char*>(point) + 33, 32);
    const Json jwks = {{"keys",
                        {{{"kty", "EC"},
                          {"crv", "P-256"},
                          {"kid", kKid},
                          {"use", "sig"},
                          {"x", approval::Base64UrlEncode(x)},
                          {"y", approval::Base64UrlEncode(y)}}}}};
    approval::JwtVerifierOptions options;
    options.issuer = kIssuer;
    options.audience = kAudience;
    options.clock_skew = kSkew;
    // No reloads: every unknown kid would otherwise ask the source again.
    options.refresh_min_interval = absl::InfiniteDuration();
    auto verifier = approval::JwtVerifier::Create(
        options, std::make_unique<FixedJwksSource>(jwks.dump()),
        [] { return kNow; });
    FUZZ_CHECK(verifier.ok(), "%s", verifier.status().ToString().c_str());
    f->verifier = *std::move(verifier);
    return f;
  }();
  return *fixture;
}

// The ES256 JWS signature (r || s, 64 bytes) of `input`.
std::string Sign(EVP_PKEY* key, const std::string& input) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  size_t len = 0;
  FUZZ_CHECK(
      EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, key) == 1 &&
          EVP_DigestSign(ctx, nullptr, &len,
                         reinterpret_cast<const unsigned char*>(input.data()),
                         input.size()) == 1,
      "sign init");
  std::string der(len, '\0');
  FUZZ_CHECK(
      EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(der.data()), &len,
                     reinterpret_cast<const unsigned char*>(input.data()),
                     input.size()) == 1,
      "sign");
  EVP_MD_CTX_free(ctx);
  const unsigned char* p = reinterpret_cast<const unsigned char*>(der.data());
  ECDSA_SIG* sig = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(len));
  FUZZ_CHECK(sig != nullptr, "DER signature");
  unsigned char rs[64];
  FUZZ_CHECK(BN_bn2binpad(ECDSA_SIG_get0_r(sig), rs, 32) == 32 &&
                 BN_bn2binpad(ECDSA_SIG_get0_s(sig), rs + 32, 32) == 32,
             "r, s");
  ECDSA_SIG_free(sig);
  return std::string(reinterpret_cast<char*>(rs), sizeof(rs));
}

// The NumericDate `name` of `claims`, when it is a number.
std::optional<double> Number(const Json& claims, const char* name) {
  if (!claims.contains(name) || !claims[name].is_number()) return std::nullopt;
  return claims[name].get<double>();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const Fixture& f = TheFixture();
  FuzzedDataProvider in(data, size);
  const uint8_t mode = in.ConsumeIntegral<uint8_t>();
  const bool raw = mode & 1;
  const bool flip = mode & 2;

  std::string token;
  std::string header;
  std::string payload;
  if (raw) {
    token = in.ConsumeRemainingBytesAsString();
  } else {
    header = in.ConsumeRandomLengthString(512);
    payload = in.ConsumeRemainingBytesAsString();
    const std::string signing_input =
        absl::StrCat(approval::Base64UrlEncode(header), ".",
                     approval::Base64UrlEncode(payload));
    std::string sig = Sign(f.key, signing_input);
    if (flip) sig[mode % sig.size()] ^= static_cast<char>(1 << (mode >> 5));
    token = absl::StrCat(signing_input, ".", approval::Base64UrlEncode(sig));
  }

  absl::StatusOr<approval::VerifiedJwt> jwt = f.verifier->Verify(token);
  if (!jwt.ok()) {
    FUZZ_CHECK(jwt.status().code() == absl::StatusCode::kUnauthenticated, "%s",
               jwt.status().ToString().c_str());
    return 0;
  }
  FUZZ_CHECK(!raw, "a token not signed here verified");
  FUZZ_CHECK(!flip, "a token with a flipped signature bit verified");
  FUZZ_CHECK(
      jwt->kid == kKid && jwt->algorithm == approval::JwsAlgorithm::kEs256,
      "kid %s", jwt->kid.c_str());
  // A NUL byte ends nlohmann's input: JSON after it would go unread.
  FUZZ_CHECK(header.find('\0') == std::string::npos &&
                 payload.find('\0') == std::string::npos,
             "accepted a header or payload with a NUL byte");
  const Json h = Json::parse(header);
  FUZZ_CHECK(h.value("alg", "") == "ES256" && h.value("kid", "") == kKid &&
                 !h.contains("crit"),
             "header %s", header.c_str());
  const Json claims = Json::parse(payload);
  FUZZ_CHECK(claims == Json::parse(jwt->claims.dump()),
             "claims differ from the payload");
  FUZZ_CHECK(claims.at("iss") == kIssuer, "iss %s",
             claims.at("iss").dump().c_str());
  const Json aud = claims.value("aud", Json());
  bool audience = aud == kAudience;
  if (aud.is_array()) {
    for (const Json& a : aud) audience = audience || a == kAudience;
  }
  FUZZ_CHECK(audience, "aud %s", aud.dump().c_str());
  const double now = static_cast<double>(absl::ToUnixSeconds(kNow));
  const std::optional<double> exp = Number(claims, "exp");
  FUZZ_CHECK(exp && now < *exp + absl::ToDoubleSeconds(kSkew), "exp %s",
             claims.value("exp", Json()).dump().c_str());
  if (claims.contains("nbf")) {
    const std::optional<double> nbf = Number(claims, "nbf");
    FUZZ_CHECK(nbf && *nbf <= now + absl::ToDoubleSeconds(kSkew), "nbf %s",
               claims.at("nbf").dump().c_str());
  }
  return 0;
}
