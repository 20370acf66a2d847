// JwtVerifier: every check on an OIDC token, with keys generated at test
// time, a JWKS read from a file (or a counting in-memory source where the
// number of reloads matters) and an injected clock.
#include "server/auth/jwt_verifier.h"

#include <catch2/catch.hpp>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "server/auth/jwk.h"
#include "server/auth/refusal.h"
#include "server/domain/refusal_reason.h"
#include "tests/support/certs/test_certs.h"
#include "tests/support/identity/fake_clock.h"
#include "tests/support/identity/token_minter.h"

namespace approval::testing {
namespace {

using Catch::Matchers::Contains;
using Json = nlohmann::json;

constexpr char kIssuer[] = "https://idp.test/realms/corp";
constexpr char kAudience[] = "approval-broker";

const absl::Time kNow = absl::FromUnixSeconds(1'700'000'000);

// A JWKS held in memory that counts how often it is fetched.
class CountingSource final : public JwksSource {
 public:
  explicit CountingSource(std::string text) : text_(std::move(text)) {}

  absl::StatusOr<std::string> Fetch() override {
    absl::MutexLock lock(&mu_);
    ++fetches_;
    if (!available_) return absl::UnavailableError("test source: down");
    return text_;
  }
  std::string Describe() const override { return "test source"; }

  void Set(std::string text) {
    absl::MutexLock lock(&mu_);
    text_ = std::move(text);
  }
  void SetAvailable(bool available) {
    absl::MutexLock lock(&mu_);
    available_ = available;
  }
  int fetches() const {
    absl::MutexLock lock(&mu_);
    return fetches_;
  }

 private:
  mutable absl::Mutex mu_;
  std::string text_ ABSL_GUARDED_BY(mu_);
  bool available_ ABSL_GUARDED_BY(mu_) = true;
  int fetches_ ABSL_GUARDED_BY(mu_) = 0;
};

// Keys are slow-ish to generate (RSA): make them once for the whole file.
const TestKey& RsaKey() {
  static const TestKey* const key = new TestKey(TestKey::Rsa("rsa-1"));
  return *key;
}
const TestKey& EcKey() {
  static const TestKey* const key = new TestKey(TestKey::Ec("ec-1"));
  return *key;
}
const TestKey& AttackerKey() {
  static const TestKey* const key = new TestKey(TestKey::Rsa("attacker-1"));
  return *key;
}

JwtVerifierOptions Options() {
  JwtVerifierOptions o;
  o.issuer = kIssuer;
  o.audience = kAudience;
  return o;
}

Json GoodClaims() { return Claims(kIssuer, kAudience, "alice", kNow); }

// A verifier over a JWKS file holding the RSA and EC keys.
struct FileFixture {
  TempDir dir;
  FakeClock clock{kNow};
  std::unique_ptr<JwtVerifier> verifier;

  explicit FileFixture(JwtVerifierOptions options = Options()) {
    const std::string file =
        dir.Write("jwks.json", JwksJson({RsaKey(), EcKey()}));
    absl::StatusOr<std::unique_ptr<JwtVerifier>> v = JwtVerifier::Create(
        std::move(options), NewFileJwksSource(file), clock.Function());
    INFO(v.status().ToString());
    REQUIRE(v.ok());
    verifier = *std::move(v);
  }
};

// A verifier over a CountingSource.
struct CountingFixture {
  FakeClock clock{kNow};
  CountingSource* source = nullptr;  // owned by verifier
  std::unique_ptr<JwtVerifier> verifier;

  explicit CountingFixture(std::string jwks,
                           JwtVerifierOptions options = Options()) {
    auto owned = std::make_unique<CountingSource>(std::move(jwks));
    source = owned.get();
    absl::StatusOr<std::unique_ptr<JwtVerifier>> v = JwtVerifier::Create(
        std::move(options), std::move(owned), clock.Function());
    INFO(v.status().ToString());
    REQUIRE(v.ok());
    verifier = *std::move(v);
  }
};

// Checks that `token` is refused UNAUTHENTICATED with `reason`, and that the
// message the client would see does not echo the token.
void CheckRefused(const JwtVerifier& verifier, const std::string& token,
                  const std::string& reason) {
  absl::StatusOr<VerifiedJwt> v = verifier.Verify(token);
  INFO("token " << token);
  REQUIRE_FALSE(v.ok());
  CHECK(v.status().code() == absl::StatusCode::kUnauthenticated);
  CHECK(RefusalReason(v.status()) == reason);
  CHECK_THAT(std::string(v.status().message()),
             Contains("bearer token refused"));
  CHECK_THAT(std::string(v.status().message()), !Contains(token));
}

TEST_CASE("JWT: RS256 and ES256 tokens from a JWKS file verify",
          "[identity][jwt]") {
  FileFixture f;
  for (const TestKey* key : {&RsaKey(), &EcKey()}) {
    absl::StatusOr<VerifiedJwt> v =
        f.verifier->Verify(Mint(GoodClaims(), *key));
    INFO(v.status().ToString());
    REQUIRE(v.ok());
    CHECK(v->kid == key->kid());
    CHECK(v->claims["sub"] == "alice");
  }
  CHECK(f.verifier->KeyIds() == std::set<std::string>{"ec-1", "rsa-1"});
}

TEST_CASE("JWT: alg none is refused", "[identity][jwt]") {
  FileFixture f;
  for (const char* none : {"none", "None", "NONE"}) {
    Json header = {{"alg", none}, {"kid", RsaKey().kid()}, {"typ", "JWT"}};
    CheckRefused(*f.verifier, MintUnsigned(header, GoodClaims()),
                 "jwt_alg_none");
    // Even with a signature appended.
    CheckRefused(*f.verifier, Mint(header, GoodClaims(), RsaKey()),
                 "jwt_alg_none");
  }
}

TEST_CASE("JWT: HS256 keyed with the RSA public key is refused",
          "[identity][jwt]") {
  FileFixture f;
  Json header = {{"alg", "HS256"}, {"kid", RsaKey().kid()}, {"typ", "JWT"}};
  const std::string pem = RsaKey().PublicPem();
  CheckRefused(*f.verifier, MintHs256(header, GoodClaims(), pem),
               "jwt_alg_not_allowed");
  // Nor with the JWK text or the modulus as the secret.
  CheckRefused(*f.verifier,
               MintHs256(header, GoodClaims(), RsaKey().PublicJwk().dump()),
               "jwt_alg_not_allowed");
  CheckRefused(*f.verifier,
               MintHs256(header, GoodClaims(),
                         RsaKey().PublicJwk()["n"].get<std::string>()),
               "jwt_alg_not_allowed");
}

TEST_CASE("JWT: an algorithm left out of the configuration is refused",
          "[identity][jwt]") {
  JwtVerifierOptions options = Options();
  options.allowed_algorithms = {JwsAlgorithm::kRs256};
  FileFixture f(options);
  CHECK(f.verifier->Verify(Mint(GoodClaims(), RsaKey())).ok());
  CheckRefused(*f.verifier, Mint(GoodClaims(), EcKey()), "jwt_alg_not_allowed");
  for (const char* alg : {"RS384", "PS256", "ES512", "EdDSA", "rs256"}) {
    Json header = {{"alg", alg}, {"kid", RsaKey().kid()}};
    CheckRefused(*f.verifier, Mint(header, GoodClaims(), RsaKey()),
                 "jwt_alg_not_allowed");
  }
}

TEST_CASE("JWT: the token's alg must match the key's type", "[identity][jwt]") {
  FileFixture f;
  // An ES256 header naming the RSA key (and signed by the EC key).
  Json header = {{"alg", "ES256"}, {"kid", RsaKey().kid()}};
  CheckRefused(*f.verifier, Mint(header, GoodClaims(), EcKey()),
               "jwt_key_mismatch");
}

TEST_CASE("JWT: a valid signature by an unknown key is refused",
          "[identity][jwt]") {
  FileFixture f;
  // The attacker's own kid: not in the JWKS.
  CheckRefused(*f.verifier, Mint(GoodClaims(), AttackerKey()),
               "jwt_unknown_kid");
  // The attacker claims a trusted kid: the signature does not verify.
  Json header = HeaderFor(AttackerKey());
  header["kid"] = RsaKey().kid();
  CheckRefused(*f.verifier, Mint(header, GoodClaims(), AttackerKey()),
               "jwt_bad_signature");
}

TEST_CASE("JWT: an unknown kid is refused after one reload",
          "[identity][jwt]") {
  CountingFixture f(JwksJson({RsaKey()}));
  CHECK(f.source->fetches() == 1);
  f.clock.Advance(absl::Minutes(1));  // past the refresh interval
  absl::StatusOr<VerifiedJwt> v =
      f.verifier->Verify(Mint(GoodClaims(), AttackerKey()));
  REQUIRE_FALSE(v.ok());
  CHECK(RefusalReason(v.status()) == "jwt_unknown_kid");
  CHECK_THAT(RefusalDetail(v.status()), Contains("even after reloading"));
  CHECK(f.source->fetches() == 2);
}

TEST_CASE("JWT: a kid with path or SQL characters is refused unlooked-up",
          "[identity][jwt]") {
  CountingFixture f(JwksJson({RsaKey()}));
  f.clock.Advance(absl::Hours(1));
  for (const std::string& kid : std::vector<std::string>{
           "../../etc/passwd", "keys/rsa-1", "..", "rsa-1/..", "x' OR '1'='1",
           "rsa-1; DROP TABLE approvals", "rsa-1\"", "rsa 1", "%2e%2e%2f",
           "rsa-1\\..\\", "rsa-1\n", std::string(200, 'a'), ""}) {
    Json header = HeaderFor(RsaKey());
    header["kid"] = kid;
    const std::string reason = "jwt_kid_invalid";
    absl::StatusOr<VerifiedJwt> v =
        f.verifier->Verify(Mint(header, GoodClaims(), RsaKey()));
    INFO("kid " << kid);
    REQUIRE_FALSE(v.ok());
    CHECK(v.status().code() == absl::StatusCode::kUnauthenticated);
    CHECK(RefusalReason(v.status()) == reason);
  }
  // No kid at all.
  Json header = {{"alg", "RS256"}};
  CheckRefused(*f.verifier, Mint(header, GoodClaims(), RsaKey()),
               "jwt_kid_missing");
  // None of them caused a reload.
  CHECK(f.source->fetches() == 1);
}

TEST_CASE("JWT: jku, x5u, x5c and jwk headers are ignored", "[identity][jwt]") {
  FileFixture f;
  // The attacker advertises its own key in every header that could carry
  // one; the token is still checked against the configured JWKS only.
  Json forged = HeaderFor(AttackerKey());
  forged["jku"] = "https://attacker.example/jwks.json";
  forged["x5u"] = "https://attacker.example/cert.pem";
  forged["jwk"] = AttackerKey().PublicJwk();
  forged["x5c"] = Json::array({"MIIB"});
  CheckRefused(*f.verifier, Mint(forged, GoodClaims(), AttackerKey()),
               "jwt_unknown_kid");
  forged["kid"] = RsaKey().kid();
  CheckRefused(*f.verifier, Mint(forged, GoodClaims(), AttackerKey()),
               "jwt_bad_signature");
  // A genuine token carrying such headers is judged on its own merits.
  Json header = HeaderFor(RsaKey());
  header["jku"] = "https://attacker.example/jwks.json";
  header["jwk"] = AttackerKey().PublicJwk();
  CHECK(f.verifier->Verify(Mint(header, GoodClaims(), RsaKey())).ok());
}

TEST_CASE("JWT: iss must match exactly", "[identity][jwt]") {
  FileFixture f;
  for (const Json& iss : {Json("https://idp.test/realms/other"),
                          Json("https://idp.test/realms/corp/"),
                          Json("HTTPS://idp.test/realms/corp"), Json(42),
                          Json::array({kIssuer})}) {
    Json claims = GoodClaims();
    claims["iss"] = iss;
    CheckRefused(*f.verifier, Mint(claims, RsaKey()), "jwt_wrong_issuer");
  }
  Json claims = GoodClaims();
  claims.erase("iss");
  CheckRefused(*f.verifier, Mint(claims, RsaKey()), "jwt_wrong_issuer");
}

TEST_CASE("JWT: aud must contain the configured audience", "[identity][jwt]") {
  FileFixture f;
  Json claims = GoodClaims();
  claims["aud"] = Json::array({"other-service", kAudience});
  CHECK(f.verifier->Verify(Mint(claims, RsaKey())).ok());

  for (const Json& aud : {Json("other-service"), Json::array({"other-service"}),
                          Json::array(), Json("approval-broker-2"), Json(1)}) {
    claims["aud"] = aud;
    CheckRefused(*f.verifier, Mint(claims, RsaKey()), "jwt_wrong_audience");
  }
  claims.erase("aud");
  CheckRefused(*f.verifier, Mint(claims, RsaKey()), "jwt_wrong_audience");
}

TEST_CASE("JWT: exp is required and honoured with the clock skew",
          "[identity][jwt]") {
  FileFixture f;  // skew 60s
  Json claims = GoodClaims();
  claims["exp"] = absl::ToUnixSeconds(kNow - absl::Seconds(30));
  CHECK(f.verifier->Verify(Mint(claims, RsaKey())).ok());  // within skew
  claims["exp"] = absl::ToUnixSeconds(kNow - absl::Seconds(60));
  CheckRefused(*f.verifier, Mint(claims, RsaKey()), "jwt_expired");
  claims["exp"] = absl::ToUnixSeconds(kNow - absl::Hours(1));
  CheckRefused(*f.verifier, Mint(claims, RsaKey()), "jwt_expired");
  claims["exp"] = "tomorrow";
  CheckRefused(*f.verifier, Mint(claims, RsaKey()), "jwt_no_expiry");
  claims.erase("exp");
  CheckRefused(*f.verifier, Mint(claims, RsaKey()), "jwt_no_expiry");
  // A token valid now expires as the clock moves on.
  const std::string token = Mint(GoodClaims(), RsaKey());
  CHECK(f.verifier->Verify(token).ok());
  f.clock.Advance(absl::Minutes(11));
  CheckRefused(*f.verifier, token, "jwt_expired");
}

TEST_CASE("JWT: nbf in the future beyond the skew is refused",
          "[identity][jwt]") {
  FileFixture f;
  Json claims = GoodClaims();
  claims["nbf"] = absl::ToUnixSeconds(kNow + absl::Seconds(30));
  CHECK(f.verifier->Verify(Mint(claims, RsaKey())).ok());  // within skew
  claims["nbf"] = absl::ToUnixSeconds(kNow + absl::Seconds(61));
  CheckRefused(*f.verifier, Mint(claims, RsaKey()), "jwt_not_yet_valid");
  claims["nbf"] = "soon";
  CheckRefused(*f.verifier, Mint(claims, RsaKey()), "jwt_malformed");
}

TEST_CASE("JWT: a zero clock skew is exact", "[identity][jwt]") {
  JwtVerifierOptions options = Options();
  options.clock_skew = absl::ZeroDuration();
  FileFixture f(options);
  Json claims = GoodClaims();
  claims["exp"] = absl::ToUnixSeconds(kNow);
  CheckRefused(*f.verifier, Mint(claims, RsaKey()), "jwt_expired");
  claims["exp"] = absl::ToUnixSeconds(kNow + absl::Seconds(1));
  claims["nbf"] = absl::ToUnixSeconds(kNow + absl::Seconds(1));
  CheckRefused(*f.verifier, Mint(claims, RsaKey()), "jwt_not_yet_valid");
}

TEST_CASE("JWT: critical header extensions are refused", "[identity][jwt]") {
  FileFixture f;
  Json header = HeaderFor(RsaKey());
  header["crit"] = Json::array({"b64"});
  header["b64"] = false;
  CheckRefused(*f.verifier, Mint(header, GoodClaims(), RsaKey()),
               "jwt_crit_header");
}

TEST_CASE("JWT: malformed tokens are refused", "[identity][jwt]") {
  FileFixture f;
  const std::string good = Mint(GoodClaims(), RsaKey());
  const size_t dot = good.find('.');
  const size_t last = good.rfind('.');
  const std::string header = good.substr(0, dot);
  const std::string payload = good.substr(dot + 1, last - dot - 1);
  const std::string sig = good.substr(last + 1);
  for (const std::string& token : std::vector<std::string>{
           "", "abc", header + "." + payload,
           header + "." + payload + "." + sig + ".x",
           header + "=." + payload + "." + sig,  // padding
           header + "." + payload + "." + sig + "==",
           "e30." + payload + "." + sig,  // {} has no alg
           Base64UrlEncode("not json") + "." + payload + "." + sig,
           Base64UrlEncode(R"({"alg":"RS256","alg":"none","kid":"rsa-1"})") +
               "." + payload + "." + sig,
           std::string(kMaxJwtBytes + 1, 'a')}) {
    absl::StatusOr<VerifiedJwt> v = f.verifier->Verify(token);
    INFO("token " << token.substr(0, 100));
    REQUIRE_FALSE(v.ok());
    CHECK(v.status().code() == absl::StatusCode::kUnauthenticated);
  }
  // A payload that is not JSON, correctly signed.
  const std::string input = header + "." + Base64UrlEncode("[1,2]");
  CheckRefused(*f.verifier, input + "." + Base64UrlEncode(RsaKey().Sign(input)),
               "jwt_malformed");
  // A tampered payload.
  Json claims = GoodClaims();
  claims["sub"] = "mallory";
  CheckRefused(*f.verifier,
               header + "." + Base64UrlEncode(claims.dump()) + "." + sig,
               "jwt_bad_signature");
}

TEST_CASE("JWT: key rotation reloads the set, at most once per interval",
          "[identity][jwt]") {
  JwtVerifierOptions options = Options();
  options.refresh_min_interval = absl::Seconds(30);
  CountingFixture f(JwksJson({RsaKey()}), options);
  REQUIRE(f.source->fetches() == 1);

  // The IdP rotates: the EC key is published.
  f.source->Set(JwksJson({RsaKey(), EcKey()}));
  const std::string rotated = Mint(GoodClaims(), EcKey());
  // Within the interval of the start-up load: not reloaded yet.
  CheckRefused(*f.verifier, rotated, "jwt_unknown_kid");
  CHECK(f.source->fetches() == 1);

  f.clock.Advance(absl::Seconds(30));
  CHECK(f.verifier->Verify(rotated).ok());
  CHECK(f.source->fetches() == 2);

  // A flood of unknown kids reloads once per interval, not per token.
  for (int i = 0; i < 20; ++i) {
    CheckRefused(*f.verifier, Mint(GoodClaims(), AttackerKey()),
                 "jwt_unknown_kid");
  }
  CHECK(f.source->fetches() == 2);
  f.clock.Advance(absl::Seconds(31));
  for (int i = 0; i < 20; ++i) {
    CheckRefused(*f.verifier, Mint(GoodClaims(), AttackerKey()),
                 "jwt_unknown_kid");
  }
  CHECK(f.source->fetches() == 3);

  // The old key is withdrawn: its tokens stop verifying after a reload
  // triggered by another unknown kid.
  f.source->Set(JwksJson({EcKey()}));
  f.clock.Advance(absl::Seconds(31));
  CheckRefused(*f.verifier, Mint(GoodClaims(), AttackerKey()),
               "jwt_unknown_kid");
  CheckRefused(*f.verifier, Mint(GoodClaims(), RsaKey()), "jwt_unknown_kid");
  CHECK(f.verifier->Verify(rotated).ok());
}

TEST_CASE("JWT: a failed reload keeps the old keys and refuses unknown kids",
          "[identity][jwt]") {
  CountingFixture f(JwksJson({RsaKey()}));
  f.source->SetAvailable(false);
  f.clock.Advance(absl::Minutes(5));
  absl::StatusOr<VerifiedJwt> v =
      f.verifier->Verify(Mint(GoodClaims(), EcKey()));
  REQUIRE_FALSE(v.ok());
  CHECK(v.status().code() == absl::StatusCode::kUnauthenticated);
  CHECK(RefusalReason(v.status()) == "jwt_unknown_kid");
  CHECK_THAT(RefusalDetail(v.status()), Contains("test source: down"));
  CHECK(f.verifier->Verify(Mint(GoodClaims(), RsaKey())).ok());

  // A JWKS that does not parse is a failed reload too.
  f.source->SetAvailable(true);
  f.source->Set("{\"keys\": 5}");
  f.clock.Advance(absl::Minutes(5));
  CheckRefused(*f.verifier, Mint(GoodClaims(), EcKey()), "jwt_unknown_kid");
  CHECK(f.verifier->Verify(Mint(GoodClaims(), RsaKey())).ok());
}

TEST_CASE("JWT: a source that is down at start is retried on the first token",
          "[identity][jwt]") {
  auto owned = std::make_unique<CountingSource>(JwksJson({RsaKey()}));
  CountingSource* source = owned.get();
  source->SetAvailable(false);
  FakeClock clock(kNow);
  JwtVerifierOptions options = Options();
  options.initial_load_required = false;
  absl::StatusOr<std::unique_ptr<JwtVerifier>> v =
      JwtVerifier::Create(options, std::move(owned), clock.Function());
  REQUIRE(v.ok());
  CheckRefused(**v, Mint(GoodClaims(), RsaKey()), "jwt_unknown_kid");
  source->SetAvailable(true);
  clock.Advance(options.refresh_min_interval);
  CHECK((*v)->Verify(Mint(GoodClaims(), RsaKey())).ok());

  // With initial_load_required, start-up fails instead.
  auto down = std::make_unique<CountingSource>("");
  down->SetAvailable(false);
  CHECK(JwtVerifier::Create(Options(), std::move(down), clock.Function())
            .status()
            .code() == absl::StatusCode::kUnavailable);
}

TEST_CASE("JWKS: unusable keys are skipped, private keys refused",
          "[identity][jwks]") {
  Json rsa = RsaKey().PublicJwk();
  Json ec = EcKey().PublicJwk();
  Json set = {{"keys", Json::array()}};
  set["keys"].push_back(rsa);
  Json enc = rsa;
  enc["kid"] = "enc-1";
  enc["use"] = "enc";
  set["keys"].push_back(enc);
  Json okp = {{"kty", "OKP"}, {"crv", "Ed25519"}, {"kid", "ed"}, {"x", "AA"}};
  set["keys"].push_back(okp);
  Json no_kid = ec;
  no_kid.erase("kid");
  set["keys"].push_back(no_kid);
  Json bad_kid = ec;
  bad_kid["kid"] = "../ec";
  set["keys"].push_back(bad_kid);
  Json wrong_alg = ec;
  wrong_alg["kid"] = "ec-rs";
  wrong_alg["alg"] = "RS256";
  set["keys"].push_back(wrong_alg);
  Json off_curve = ec;
  off_curve["kid"] = "ec-off";
  off_curve["y"] = ec["x"];
  set["keys"].push_back(off_curve);
  Json short_rsa = rsa;
  short_rsa["kid"] = "rsa-short";
  short_rsa["n"] = Base64UrlEncode(std::string(128, '\xff'));
  set["keys"].push_back(short_rsa);
  absl::StatusOr<JwkSet> parsed = ParseJwks(set.dump());
  INFO(parsed.status().ToString());
  REQUIRE(parsed.ok());
  CHECK(parsed->keys.size() == 1);
  CHECK(parsed->keys.count("rsa-1") == 1);
  CHECK(parsed->skipped.size() == 7);

  Json with_private = {{"keys", Json::array({ec})}};
  with_private["keys"][0]["d"] = "AAAA";
  CHECK(ParseJwks(with_private.dump()).status().code() ==
        absl::StatusCode::kInvalidArgument);
  Json symmetric = {
      {"keys",
       Json::array({{{"kty", "oct"}, {"kid", "h"}, {"k", "c2VjcmV0"}}})}};
  CHECK(ParseJwks(symmetric.dump()).status().code() ==
        absl::StatusCode::kInvalidArgument);
  Json twice = {{"keys", Json::array({rsa, rsa})}};
  CHECK_THAT(std::string(ParseJwks(twice.dump()).status().message()),
             Contains("two keys with kid rsa-1"));
  for (const char* text :
       {"", "[]", "{}", "{\"keys\": {}}", "{\"keys\": [1]}"}) {
    CHECK(ParseJwks(text).status().code() ==
          absl::StatusCode::kInvalidArgument);
  }
}

TEST_CASE("base64url decoding is strict", "[identity][jwks]") {
  CHECK(Base64UrlDecode("").value() == "");
  CHECK(Base64UrlDecode("YQ").value() == "a");
  CHECK(Base64UrlDecode("YWI").value() == "ab");
  CHECK(Base64UrlDecode("YWJj").value() == "abc");
  CHECK(Base64UrlDecode("_-8").value() == "\xff\xef");
  CHECK_FALSE(Base64UrlDecode("YQ==").has_value());  // padding
  CHECK_FALSE(Base64UrlDecode("YR").has_value());    // non-zero spare bits
  CHECK_FALSE(Base64UrlDecode("Y").has_value());     // impossible length
  CHECK_FALSE(Base64UrlDecode("a+b/").has_value());  // standard alphabet
  CHECK_FALSE(Base64UrlDecode("YW J").has_value());
}

}  // namespace
}  // namespace approval::testing
