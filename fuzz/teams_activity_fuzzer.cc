// What approval-chat reads from Teams (bots/teams.h): the body of an
// activity, parsed as approval-chat does (nlohmann, no exceptions), then
// ParseTeamsInvoke.
//
// Input: the raw request body.
// Invariants: ParseTeamsInvoke answers an invoke (OK), INVALID_ARGUMENT or
// UNIMPLEMENTED; an invoke's tenant and AAD object id are 1..64 letters,
// digits and '-' (the GUID alphabet, so "teams:<tenant>/<object id>" names
// one identity), its tenant agrees with channelData.tenant.id when the
// activity has one, its verdict is APPROVE or DENY, its approval id 1..128
// bytes, its reason at most 2000 bytes, and every field valid UTF-8.
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/ascii.h"
#include "bots/teams.h"
#include "fuzz/fuzz_check.h"
#include "server/domain/text.h"

namespace {

bool GuidAlphabet(const std::string& s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s) {
    if (!absl::ascii_isalnum(c) && c != '-') return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const nlohmann::json activity = nlohmann::json::parse(
      data, data + size, nullptr, /*allow_exceptions=*/false);
  if (activity.is_discarded()) return 0;
  absl::StatusOr<approval::chat::TeamsInvoke> invoke =
      approval::chat::ParseTeamsInvoke(activity);
  if (!invoke.ok()) {
    const absl::StatusCode code = invoke.status().code();
    FUZZ_CHECK(code == absl::StatusCode::kInvalidArgument ||
                   code == absl::StatusCode::kUnimplemented,
               "%s", invoke.status().ToString().c_str());
    return 0;
  }
  FUZZ_CHECK(GuidAlphabet(invoke->tenant_id), "tenant \"%s\"",
             invoke->tenant_id.c_str());
  FUZZ_CHECK(GuidAlphabet(invoke->aad_object_id), "aadObjectId \"%s\"",
             invoke->aad_object_id.c_str());
  const auto channel_data = activity.find("channelData");
  if (channel_data != activity.end() && channel_data->is_object()) {
    const auto tenant = channel_data->find("tenant");
    if (tenant != channel_data->end() && tenant->is_object()) {
      const auto id = tenant->find("id");
      if (id != tenant->end() && id->is_string() &&
          !id->get<std::string>().empty()) {
        FUZZ_CHECK(id->get<std::string>() == invoke->tenant_id,
                   "tenant differs from channelData.tenant.id");
      }
    }
  }
  FUZZ_CHECK(invoke->verdict == approval::v1::APPROVE ||
                 invoke->verdict == approval::v1::DENY,
             "verdict %d", static_cast<int>(invoke->verdict));
  FUZZ_CHECK(!invoke->approval_id.empty() && invoke->approval_id.size() <= 128,
             "approval id of %zu bytes", invoke->approval_id.size());
  FUZZ_CHECK(invoke->comment.size() <= 2000, "reason of %zu bytes",
             invoke->comment.size());
  FUZZ_CHECK(approval::IsValidUtf8(invoke->approval_id) &&
                 approval::IsValidUtf8(invoke->comment),
             "a field is not valid UTF-8");
  return 0;
}
