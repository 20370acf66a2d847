#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <catch2/catch.hpp>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"
#include "server/domain/token_signer.h"
#include "tests/support/token_claims.h"

namespace approval {
namespace {

ApprovalClaims SampleClaims() { return testing::SampleApprovalClaims(); }

std::string PrivatePem(EVP_PKEY* key) {
  std::unique_ptr<BIO, decltype(&BIO_free)> out(BIO_new(BIO_s_mem()), BIO_free);
  REQUIRE(PEM_write_bio_PrivateKey(out.get(), key, nullptr, nullptr, 0, nullptr,
                                   nullptr) == 1);
  char* data = nullptr;
  const long len = BIO_get_mem_data(out.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

std::string PublicPem(EVP_PKEY* key) {
  std::unique_ptr<BIO, decltype(&BIO_free)> out(BIO_new(BIO_s_mem()), BIO_free);
  REQUIRE(PEM_write_bio_PUBKEY(out.get(), key) == 1);
  char* data = nullptr;
  const long len = BIO_get_mem_data(out.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

// A freshly generated key of another algorithm, as PEM.
std::string OtherAlgorithmPem(const char* algorithm, bool private_key) {
  EVP_PKEY* key = std::string(algorithm) == "RSA"
                      ? EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{2048})
                      : EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  REQUIRE(key != nullptr);
  std::string pem = private_key ? PrivatePem(key) : PublicPem(key);
  EVP_PKEY_free(key);
  return pem;
}

std::string Ed25519PrivatePem() {
  EVP_PKEY* key = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
  REQUIRE(key != nullptr);
  std::string pem = PrivatePem(key);
  EVP_PKEY_free(key);
  return pem;
}

using OrderedJson = nlohmann::ordered_json;

// A compact JWS taken apart: the encoded header, the decoded claims, the
// encoded signature.
struct SplitToken {
  std::string header_b64;
  OrderedJson payload;
  std::string signature_b64;
};

SplitToken Split(const std::string& token) {
  const std::vector<std::string> parts = absl::StrSplit(token, '.');
  REQUIRE(parts.size() == 3);
  std::string payload;
  REQUIRE(absl::WebSafeBase64Unescape(parts[1], &payload));
  return {parts[0], OrderedJson::parse(payload), parts[2]};
}

std::string B64(absl::string_view s) {
  std::string out = absl::WebSafeBase64Escape(s);
  return out;
}

// The token with its claims replaced by `payload` and the original header
// and signature kept.
std::string Rejoin(const SplitToken& t, const OrderedJson& payload) {
  return absl::StrCat(t.header_b64, ".", B64(payload.dump()), ".",
                      t.signature_b64);
}

TEST_CASE("a signed token verifies and returns exactly the claims signed",
          "[token]") {
  const std::unique_ptr<TokenSigner> signer = TokenSigner::Generate();
  const std::string token = signer->Sign(SampleClaims());

  absl::StatusOr<ApprovalClaims> got =
      VerifyApprovalToken(token, signer->public_key_pem());
  REQUIRE(got.ok());
  const ApprovalClaims want = SampleClaims();
  CHECK(got->approval_id == want.approval_id);
  CHECK(got->action == want.action);
  CHECK(got->action_digest == want.action_digest);
  CHECK(got->approvers == std::vector<std::string>{"alice", "bob"});
  CHECK(got->rule == want.rule);
  CHECK(got->approved_at == want.approved_at);
  CHECK(got->not_before == want.not_before);
  CHECK(got->not_after == want.not_after);
  CHECK(got->key_id == signer->key_id());
  CHECK(got->issuer == "approval-broker");
  CHECK(got->audience.empty());
}

TEST_CASE("the token is a compact JWS with the documented header and claims",
          "[token]") {
  const std::unique_ptr<TokenSigner> signer = TokenSigner::Generate();
  ApprovalClaims claims = SampleClaims();
  claims.audience = "deploy-executor";
  const SplitToken t = Split(signer->Sign(claims));
  std::string header;
  REQUIRE(absl::WebSafeBase64Unescape(t.header_b64, &header));
  CHECK(header == absl::StrCat("{\"alg\":\"EdDSA\",\"kid\":\"",
                               signer->key_id(),
                               "\",\"typ\":\"approval+jwt\"}"));
  std::vector<std::string> keys;
  for (auto it = t.payload.begin(); it != t.payload.end(); ++it) {
    keys.push_back(it.key());
  }
  CHECK(keys == std::vector<std::string>{"iss", "aud", "iat", "nbf", "exp",
                                         "approval_id", "action",
                                         "action_digest", "rule", "approvers"});
  CHECK(t.payload["iss"] == "approval-broker");
  CHECK(t.payload["aud"] == "deploy-executor");
  // NumericDate with the microseconds of the execution window.
  CHECK(t.payload["iat"].dump() == "1790000000.123456");
  CHECK(t.payload["nbf"].dump() == "1790000000.123456");
  CHECK(t.payload["exp"].dump() == "1790000900.123456");
  CHECK(t.payload["approvers"] == OrderedJson::array({"alice", "bob"}));
}

TEST_CASE("a token without an audience has no aud claim", "[token]") {
  const std::unique_ptr<TokenSigner> signer = TokenSigner::Generate();
  const SplitToken t = Split(signer->Sign(SampleClaims()));
  CHECK_FALSE(t.payload.contains("aud"));
}

TEST_CASE("signing is deterministic and the key id is stable", "[token]") {
  const std::unique_ptr<TokenSigner> signer = TokenSigner::Generate();
  CHECK(signer->Sign(SampleClaims()) == signer->Sign(SampleClaims()));
  CHECK(signer->key_id().size() == 16);
  absl::StatusOr<std::string> id = KeyIdOf(signer->public_key_pem());
  REQUIRE(id.ok());
  CHECK(*id == signer->key_id());
  // Another key, another id and another token.
  const std::unique_ptr<TokenSigner> other = TokenSigner::Generate();
  CHECK(other->key_id() != signer->key_id());
  CHECK(other->Sign(SampleClaims()) != signer->Sign(SampleClaims()));
}

TEST_CASE("a token is the same after the signer forgot it", "[token]") {
  const std::unique_ptr<TokenSigner> signer = TokenSigner::Generate();
  const std::string first = signer->Sign(SampleClaims());
  // Enough other approvals to push the first out of the recent tokens.
  for (int i = 0; i < 2000; ++i) {
    ApprovalClaims other = SampleClaims();
    other.approval_id = absl::StrCat("approval-", i);
    REQUIRE(signer->Sign(other) != first);
  }
  CHECK(signer->Sign(SampleClaims()) == first);
  CHECK(VerifyApprovalToken(first, signer->public_key_pem()).ok());
}

TEST_CASE("changing any payload field fails verification", "[token]") {
  const std::unique_ptr<TokenSigner> signer = TokenSigner::Generate();
  const SplitToken t = Split(signer->Sign(SampleClaims()));

  const std::vector<std::pair<std::string, std::function<void(OrderedJson&)>>>
      changes = {
          {"action", [](OrderedJson& p) { p["action"] = "db.drop"; }},
          {"action_digest",
           [](OrderedJson& p) { p["action_digest"] = std::string(64, 'b'); }},
          {"approval_id",
           [](OrderedJson& p) {
             p["approval_id"] = "11111111-2222-4333-8444-555555555555";
           }},
          {"iat", [](OrderedJson& p) { p["iat"] = 1790000001; }},
          {"approvers: one added",
           [](OrderedJson& p) { p["approvers"].push_back("mallory"); }},
          {"approvers: one removed",
           [](OrderedJson& p) {
             p["approvers"].erase(p["approvers"].begin());
           }},
          {"approvers: one renamed",
           [](OrderedJson& p) { p["approvers"][0] = "alicf"; }},
          {"exp", [](OrderedJson& p) { p["exp"] = 1890000000; }},
          {"nbf", [](OrderedJson& p) { p["nbf"] = 1690000000; }},
          {"iss", [](OrderedJson& p) { p["iss"] = "another-broker"; }},
          {"aud added", [](OrderedJson& p) { p["aud"] = "executor"; }},
          {"rule", [](OrderedJson& p) { p["rule"] = "everything-else"; }},
          {"an extra key", [](OrderedJson& p) { p["admin"] = true; }},
      };
  for (const auto& [what, change] : changes) {
    SECTION(what) {
      OrderedJson tampered = t.payload;
      change(tampered);
      REQUIRE(tampered != t.payload);
      absl::StatusOr<ApprovalClaims> got =
          VerifyApprovalToken(Rejoin(t, tampered), signer->public_key_pem());
      CHECK(got.status().code() == absl::StatusCode::kUnauthenticated);
    }
  }
}

TEST_CASE("a changed signature or a malformed token fails verification",
          "[token]") {
  const std::unique_ptr<TokenSigner> signer = TokenSigner::Generate();
  const std::string token = signer->Sign(SampleClaims());
  const std::string pem = signer->public_key_pem();
  const size_t dot = token.rfind('.');

  std::string sig;
  REQUIRE(absl::WebSafeBase64Unescape(token.substr(dot + 1), &sig));
  sig[10] = static_cast<char>(sig[10] ^ 0x01);
  const std::string flipped =
      absl::StrCat(token.substr(0, dot + 1), absl::WebSafeBase64Escape(sig));

  const std::vector<std::pair<std::string, std::string>> bad = {
      {"a flipped signature bit", flipped},
      {"no signature", token.substr(0, dot)},
      {"an empty signature", token.substr(0, dot + 1)},
      {"a third part", absl::StrCat(token, ".x")},
      {"padding", absl::StrCat(token, "=")},
      {"not base64", absl::StrCat("!!", token)},
      {"the empty string", ""},
      {"a truncated signature", token.substr(0, token.size() - 4)},
  };
  for (const auto& [what, t] : bad) {
    SECTION(what) {
      CHECK(VerifyApprovalToken(t, pem).status().code() ==
            absl::StatusCode::kUnauthenticated);
    }
  }
}

TEST_CASE("a token signed by another key fails, whatever key id it claims",
          "[token]") {
  const std::unique_ptr<TokenSigner> broker = TokenSigner::Generate();
  const std::unique_ptr<TokenSigner> forger = TokenSigner::Generate();

  SECTION("honest key id") {
    const std::string token = forger->Sign(SampleClaims());
    CHECK(
        VerifyApprovalToken(token, broker->public_key_pem()).status().code() ==
        absl::StatusCode::kUnauthenticated);
  }
  SECTION("the broker's kid in a header the forger signed") {
    // Sign() writes its own kid, so forge the signing input by hand: the
    // forger signs a header that names the broker's key.
    const std::string input =
        ApprovalTokenSigningInput(SampleClaims(), broker->key_id());
    const std::string forged =
        ApprovalTokenOf(input, forger->SignDetached(input));
    CHECK(
        VerifyApprovalToken(forged, broker->public_key_pem()).status().code() ==
        absl::StatusCode::kUnauthenticated);
    CHECK(
        VerifyApprovalToken(forged, forger->public_key_pem()).status().code() ==
        absl::StatusCode::kUnauthenticated);
  }
}

TEST_CASE("a PEM private key round-trips to the same public key and tokens",
          "[token]") {
  const std::string pem = Ed25519PrivatePem();
  absl::StatusOr<std::unique_ptr<TokenSigner>> a =
      TokenSigner::FromPrivateKeyPem(pem);
  absl::StatusOr<std::unique_ptr<TokenSigner>> b =
      TokenSigner::FromPrivateKeyPem(pem);
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  CHECK((*a)->public_key_pem() == (*b)->public_key_pem());
  CHECK((*a)->key_id() == (*b)->key_id());
  CHECK((*a)->public_key_pem().rfind("-----BEGIN PUBLIC KEY-----", 0) == 0);
  const std::string token = (*a)->Sign(SampleClaims());
  CHECK(token == (*b)->Sign(SampleClaims()));
  CHECK(VerifyApprovalToken(token, (*b)->public_key_pem()).ok());
}

TEST_CASE("keys that are not Ed25519 are refused", "[token]") {
  for (const char* algorithm : {"RSA", "EC"}) {
    SECTION(algorithm) {
      absl::StatusOr<std::unique_ptr<TokenSigner>> signer =
          TokenSigner::FromPrivateKeyPem(OtherAlgorithmPem(algorithm, true));
      CHECK(signer.status().code() == absl::StatusCode::kInvalidArgument);
      CHECK(KeyIdOf(OtherAlgorithmPem(algorithm, false)).status().code() ==
            absl::StatusCode::kInvalidArgument);
      const std::unique_ptr<TokenSigner> ed = TokenSigner::Generate();
      CHECK(VerifyApprovalToken(ed->Sign(SampleClaims()),
                                OtherAlgorithmPem(algorithm, false))
                .status()
                .code() == absl::StatusCode::kInvalidArgument);
    }
  }
  SECTION("not PEM at all") {
    CHECK(TokenSigner::FromPrivateKeyPem("hello").status().code() ==
          absl::StatusCode::kInvalidArgument);
    CHECK(KeyIdOf("").status().code() == absl::StatusCode::kInvalidArgument);
  }
}

TEST_CASE("CheckClaims binds the digest, the approval and the window",
          "[token]") {
  const ApprovalClaims c = SampleClaims();
  const absl::Time inside = c.not_before + absl::Minutes(1);

  CHECK(CheckClaims(c, c.action_digest, c.approval_id, inside).ok());
  CHECK(CheckClaims(c, c.action_digest, "", inside).ok());
  CHECK(CheckClaims(c, c.action_digest, "", c.not_before).ok());

  CHECK(CheckClaims(c, std::string(64, 'b'), c.approval_id, inside).code() ==
        absl::StatusCode::kPermissionDenied);
  CHECK(CheckClaims(c, c.action_digest, "another-approval", inside).code() ==
        absl::StatusCode::kPermissionDenied);
  CHECK(
      CheckClaims(c, c.action_digest, "", c.not_before - absl::Microseconds(1))
          .code() == absl::StatusCode::kFailedPrecondition);
  // The window is half-open: not_after itself is too late.
  CHECK(CheckClaims(c, c.action_digest, "", c.not_after).code() ==
        absl::StatusCode::kFailedPrecondition);
}

TEST_CASE("one signer signs from many threads at once", "[token]") {
  const std::unique_ptr<TokenSigner> signer = TokenSigner::Generate();
  const std::string want = signer->Sign(SampleClaims());
  std::vector<std::thread> threads;
  std::vector<int> mismatches(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        if (signer->Sign(SampleClaims()) != want) ++mismatches[t];
      }
    });
  }
  for (std::thread& th : threads) th.join();
  CHECK(mismatches == std::vector<int>(4, 0));
  CHECK(VerifyApprovalToken(want, signer->public_key_pem()).ok());
}

}  // namespace
}  // namespace approval
