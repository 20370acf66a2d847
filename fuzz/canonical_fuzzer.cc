// Canonical JSON and the action digest (wire/canonical.h).
//
// Input: "<action>\n<resource>\n<parameters JSON>" (missing lines are "").
// Invariants:
//  - canonical output is a fixed point: canonicalizing it again returns it;
//  - the canonical form of the same object with its keys in another order
//    and with white space added is the same;
//  - ActionDigest is the SHA-256 of the canonical JSON of
//    {"action", "parameters", "resource"}, built here independently.
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "fuzz/fuzz_check.h"
#include "nlohmann/json.hpp"
#include "wire/canonical.h"

namespace {

// `s` as a JSON string literal; nullopt when it is not valid UTF-8.
bool Quote(const std::string& s, std::string& out) {
  try {
    out = nlohmann::json(s).dump();
    return true;
  } catch (const nlohmann::json::exception&) {
    return false;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> parts =
      absl::StrSplit(input, absl::MaxSplits('\n', 2));
  parts.resize(3);
  const std::string& action = parts[0];
  const std::string& resource = parts[1];
  const std::string& parameters = parts[2];

  absl::StatusOr<std::string> canonical =
      approval::CanonicalizeJsonObject(parameters);
  if (!canonical.ok()) {
    FUZZ_CHECK(canonical.status().code() == absl::StatusCode::kInvalidArgument,
               "status %s", canonical.status().ToString().c_str());
    return 0;
  }
  absl::StatusOr<std::string> again =
      approval::CanonicalizeJsonObject(*canonical);
  FUZZ_CHECK(again.ok() && *again == *canonical,
             "canonical form %s re-canonicalizes to %s", canonical->c_str(),
             again.ok() ? again->c_str() : again.status().ToString().c_str());

  // The digest input, built with keys out of order and with white space.
  std::string quoted_action, quoted_resource;
  if (Quote(action, quoted_action) && Quote(resource, quoted_resource)) {
    const std::string object =
        absl::StrCat("{ \"resource\" : ", quoted_resource,
                     " ,\n\"parameters\": ", parameters, ", \"action\":\t",
                     quoted_action, "}");
    absl::StatusOr<std::string> digest_input =
        approval::CanonicalizeJsonObject(object);
    FUZZ_CHECK(digest_input.ok(), "%s: %s", object.c_str(),
               digest_input.status().ToString().c_str());
    const std::string digest =
        approval::ActionDigest(action, resource, *canonical);
    FUZZ_CHECK(digest == approval::Sha256Hex(*digest_input),
               "ActionDigest %s differs from SHA-256 of %s", digest.c_str(),
               digest_input->c_str());
  }
  return 0;
}
