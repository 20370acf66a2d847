// The JWKS parser and base64url codec (server/auth/jwk.h).
//
// Input: a JWKS document; the same bytes also go through the base64url
// decoder.
// Invariants: an accepted JWKS is strict JSON (no repeated key, which two
// parsers could read differently), holds no private key member in any key,
// and every usable key has a safe kid and one of the two algorithms;
// base64url decoding is the exact inverse of encoding (one encoding per
// value), both ways.
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz/fuzz_check.h"
#include "server/auth/jwk.h"
#include "server/common/strict_json.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);

  std::optional<std::string> decoded = approval::Base64UrlDecode(text);
  if (decoded) {
    FUZZ_CHECK(approval::Base64UrlEncode(*decoded) == text,
               "\"%s\" decodes but does not re-encode to itself", text.c_str());
  }
  const std::string encoded = approval::Base64UrlEncode(text);
  std::optional<std::string> round = approval::Base64UrlDecode(encoded);
  FUZZ_CHECK(round && *round == text, "encoding of %zu bytes does not decode",
             size);

  absl::StatusOr<approval::JwkSet> set = approval::ParseJwks(text);
  if (!set.ok()) {
    FUZZ_CHECK(set.status().code() == absl::StatusCode::kInvalidArgument, "%s",
               set.status().ToString().c_str());
    return 0;
  }
  absl::StatusOr<nlohmann::ordered_json> strict =
      approval::ParseStrictJson(text, "jwks");
  FUZZ_CHECK(strict.ok(), "accepted: %s", strict.status().ToString().c_str());
  for (const auto& jwk : (*strict)["keys"]) {
    for (const char* name : {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}) {
      FUZZ_CHECK(!jwk.contains(name), "accepted a key with member %s", name);
    }
  }
  for (const auto& [kid, key] : set->keys) {
    FUZZ_CHECK(approval::IsSafeKeyId(kid), "kid \"%s\"", kid.c_str());
    FUZZ_CHECK(key.algorithm() == approval::JwsAlgorithm::kRs256 ||
                   key.algorithm() == approval::JwsAlgorithm::kEs256,
               "kid %s: unknown algorithm", kid.c_str());
    // A signature of the wrong length never verifies.
    FUZZ_CHECK(!key.Verify("x", ""), "empty signature verifies");
  }
  return 0;
}
