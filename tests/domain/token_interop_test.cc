// Approval tokens checked by an independent JOSE implementation: PyJWT
// (Debian's python3-jwt with python3-cryptography) verifies tokens the
// broker's signer made against the JWKS the broker publishes, as an
// executor in another language would (verify_approval_token.py).
#include <sys/wait.h>

#include <array>
#include <catch2/catch.hpp>
#include <cstdio>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "server/domain/token_signer.h"
#include "tests/support/certs/test_certs.h"
#include "tests/support/token_claims.h"
#include "wire/approval_token.h"
#include "wire/base64url.h"

namespace approval {
namespace {

using Catch::Contains;

constexpr char kAudience[] = "deploy-executor";

struct PythonResult {
  int exit_code = -1;
  std::string output;
};

// Runs the verifier script on `token` with `jwks`; paths come from CMake.
PythonResult VerifyWithPyJwt(const std::string& jwks,
                             const std::string& token) {
  testing::TempDir dir;
  const std::string jwks_file = dir.Write("jwks.json", jwks);
  const std::string token_file = dir.Write("token", token);
  const std::string command = absl::StrCat(
      APPROVAL_TEST_PYTHON, " ", APPROVAL_TOKEN_VERIFY_SCRIPT, " ", jwks_file,
      " ", token_file, " approval-broker ", kAudience, " 2>&1");
  PythonResult result;
  FILE* pipe = popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  std::array<char, 512> buffer;
  size_t n;
  while ((n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0) {
    result.output.append(buffer.data(), n);
  }
  const int status = pclose(pipe);
  REQUIRE(WIFEXITED(status));
  result.exit_code = WEXITSTATUS(status);
  INFO(result.output);
  // 2 is a usage error, anything else a crash (e.g. PyJWT not installed).
  REQUIRE((result.exit_code == 0 || result.exit_code == 1));
  return result;
}

// Claims whose execution window is open now.
ApprovalClaims OpenClaims() {
  ApprovalClaims c = testing::SampleApprovalClaims();
  c.audience = kAudience;
  c.approved_at = absl::Now() - absl::Minutes(1);
  c.not_before = c.approved_at;
  c.not_after = c.approved_at + absl::Minutes(15);
  return c;
}

TEST_CASE("PyJWT verifies a broker token with the published JWKS",
          "[token][interop]") {
  const std::unique_ptr<TokenSigner> broker = TokenSigner::Generate();
  const PythonResult r = VerifyWithPyJwt(ApprovalJwks({broker->public_key()}),
                                         broker->Sign(OpenClaims()));
  INFO(r.output);
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.output, Contains("\"approval_id\": \"0b7a5f2e-"));
  CHECK_THAT(r.output, Contains("\"approvers\": [\"alice\", \"bob\"]"));
}

TEST_CASE("PyJWT picks the key by kid from a rotated key set",
          "[token][interop]") {
  const std::unique_ptr<TokenSigner> retired = TokenSigner::Generate();
  const std::unique_ptr<TokenSigner> current = TokenSigner::Generate();
  const PythonResult r = VerifyWithPyJwt(
      ApprovalJwks({current->public_key(), retired->public_key()}),
      retired->Sign(OpenClaims()));
  INFO(r.output);
  CHECK(r.exit_code == 0);
}

TEST_CASE("PyJWT refuses a tampered token", "[token][interop]") {
  const std::unique_ptr<TokenSigner> broker = TokenSigner::Generate();
  const std::string token = broker->Sign(OpenClaims());
  ApprovalClaims changed = OpenClaims();
  changed.action_digest = std::string(64, 'b');
  const size_t first = token.find('.');
  const size_t last = token.rfind('.');
  const std::string tampered = absl::StrCat(
      token.substr(0, first + 1),
      Base64UrlEncode(ApprovalTokenPayload(changed)), token.substr(last));
  const PythonResult r =
      VerifyWithPyJwt(ApprovalJwks({broker->public_key()}), tampered);
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.output, Contains("InvalidSignatureError"));
}

TEST_CASE(
    "PyJWT refuses a token signed by a foreign key under the broker's "
    "kid",
    "[token][interop]") {
  const std::unique_ptr<TokenSigner> broker = TokenSigner::Generate();
  const std::unique_ptr<TokenSigner> foreign = TokenSigner::Generate();
  const std::string input =
      ApprovalTokenSigningInput(OpenClaims(), broker->key_id());
  const PythonResult r =
      VerifyWithPyJwt(ApprovalJwks({broker->public_key()}),
                      ApprovalTokenOf(input, foreign->SignDetached(input)));
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.output, Contains("InvalidSignatureError"));
}

TEST_CASE("PyJWT refuses a token of a key not in the key set",
          "[token][interop]") {
  const std::unique_ptr<TokenSigner> broker = TokenSigner::Generate();
  const std::unique_ptr<TokenSigner> foreign = TokenSigner::Generate();
  const PythonResult r = VerifyWithPyJwt(ApprovalJwks({broker->public_key()}),
                                         foreign->Sign(OpenClaims()));
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.output, Contains("in the key set"));
  CHECK_THAT(r.output, Contains(foreign->key_id()));
}

TEST_CASE("PyJWT refuses a token whose execution window has closed",
          "[token][interop]") {
  const std::unique_ptr<TokenSigner> broker = TokenSigner::Generate();
  ApprovalClaims closed = OpenClaims();
  closed.approved_at = absl::Now() - absl::Hours(2);
  closed.not_before = closed.approved_at;
  closed.not_after = closed.approved_at + absl::Minutes(15);
  const PythonResult r = VerifyWithPyJwt(ApprovalJwks({broker->public_key()}),
                                         broker->Sign(closed));
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.output, Contains("ExpiredSignatureError"));
}

TEST_CASE("PyJWT refuses a token whose execution window has not opened",
          "[token][interop]") {
  const std::unique_ptr<TokenSigner> broker = TokenSigner::Generate();
  ApprovalClaims later = OpenClaims();
  later.not_before = absl::Now() + absl::Hours(1);
  later.not_after = later.not_before + absl::Minutes(15);
  const PythonResult r = VerifyWithPyJwt(ApprovalJwks({broker->public_key()}),
                                         broker->Sign(later));
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.output, Contains("ImmatureSignatureError"));
}

}  // namespace
}  // namespace approval
