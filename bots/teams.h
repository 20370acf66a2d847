// The Microsoft Teams side of approval-chat: verifying the Bot Framework
// token on each activity Teams sends, reading an Adaptive Card
// Action.Execute invoke, rendering an approval as an Adaptive Card, and the
// Bot Framework connector API (client-credentials token, post and update an
// activity) as an interface with a libcurl implementation.
#ifndef APPROVAL_BOTS_TEAMS_H_
#define APPROVAL_BOTS_TEAMS_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "approval/v1/approval.pb.h"
#include "nlohmann/json.hpp"
#include "server/auth/jwks_source.h"
#include "server/auth/jwt_verifier.h"

namespace approval::chat {

// A JwksSource that reads the OpenID metadata document at `metadata_url`
// (Bot Framework: https://login.botframework.com/v1/.well-known/
// openidconfiguration) on every fetch and then the JWKS at its `jwks_uri`
// (which must be https://), both verified against `ca_file` ("": system
// CAs). UNAVAILABLE naming the step that failed.
std::unique_ptr<JwksSource> NewOpenIdMetadataJwksSource(
    std::string metadata_url, std::string ca_file, absl::Duration timeout);

struct TeamsAuthOptions {
  std::string issuer = "https://api.botframework.com";
  std::string app_id;  // required: the token's audience
  absl::Duration clock_skew = absl::Minutes(5);
  // A token signed by a key not yet held waits this long for a JWKS reload.
  absl::Duration unknown_key_wait = absl::Seconds(2);
};

// Verifies the Authorization header of an activity Teams (the Bot Framework
// channel service) posts to the bot, with the broker's JWT verifier
// (server/auth/jwt_verifier.h: RS256 only here, key by kid from the JWKS,
// iss, aud, exp/nbf within clock_skew), and that the activity's serviceUrl
// equals the token's "serviceurl" claim when the token has one. Thread-safe.
class TeamsActivityVerifier final {
 public:
  // INVALID_ARGUMENT without app_id; the key source starts loading in the
  // background (Teams may be unreachable at start-up).
  static absl::StatusOr<std::unique_ptr<TeamsActivityVerifier>> Create(
      TeamsAuthOptions options, std::unique_ptr<JwksSource> keys,
      std::function<absl::Time()> clock);

  // OK, or UNAUTHENTICATED naming the failed check (never echoing the
  // token): no "Bearer " header, any JWT verifier refusal, serviceUrl
  // mismatch. May wait up to unknown_key_wait for a key set reload.
  absl::Status Verify(absl::string_view authorization,
                      const nlohmann::json& activity) const;

 private:
  explicit TeamsActivityVerifier(std::unique_ptr<JwtVerifier> jwt)
      : jwt_(std::move(jwt)) {}
  std::unique_ptr<JwtVerifier> jwt_;
};

// Verbs of the card's two Action.Execute buttons, and the id of the Deny
// reason input.
inline constexpr char kTeamsApproveVerb[] = "approve";
inline constexpr char kTeamsDenyVerb[] = "deny";
inline constexpr char kTeamsReasonInputId[] = "reason";

// A click on the card's Approve or Deny button: an invoke activity named
// "adaptiveCard/action".
struct TeamsInvoke {
  std::string tenant_id;      // conversation.tenantId or channelData.tenant.id
  std::string aad_object_id;  // from.aadObjectId
  std::string approval_id;    // value.action.data.approval_id
  v1::Verdict verdict = v1::VERDICT_UNSPECIFIED;
  std::string comment;  // Deny: the reason typed in the card
};

// Reads an activity (already verified). INVALID_ARGUMENT naming the field
// for an invoke that is not one click of ours; UNIMPLEMENTED for any other
// activity type or invoke name (answered 200, ignored).
absl::StatusOr<TeamsInvoke> ParseTeamsInvoke(const nlohmann::json& activity);

// The Adaptive Card (version 1.4) for `approval` as it stands, with the
// same content as the Slack message (action, resource, masked preview,
// justification, requester and on-behalf-of, rule and what it needs,
// expiry, reviews so far) and, while it is PENDING, Action.Execute Approve
// and Deny (with a reason input); the outcome and no buttons once decided.
// `notice` (if not empty) is shown first, e.g. why a click was refused.
nlohmann::json RenderTeamsCard(const v1::Approval& approval,
                               const std::string& notice = "");

// The activity that carries `card` (type message, one attachment).
nlohmann::json TeamsCardActivity(const nlohmann::json& card);

// The invoke response body for `card`:
// {"statusCode":200,"type":"application/vnd.microsoft.card.adaptive",
//  "value":card}.
nlohmann::json TeamsInvokeResponse(const nlohmann::json& card);

// Text a refused click is answered with, from the broker's refusal.
std::string TeamsRefusalText(const absl::Status& refusal);

// The connector API calls approval-chat makes. Errors: UNAVAILABLE when the
// service (or the token endpoint) could not be reached or answered
// 429/5xx (retry later); FAILED_PRECONDITION naming the call and status
// otherwise. Thread-safe.
class TeamsConnector {
 public:
  virtual ~TeamsConnector() = default;
  // POST {service_url}/v3/conversations/{conversation}/activities; the new
  // activity's id.
  virtual absl::StatusOr<std::string> PostActivity(
      const std::string& service_url, const std::string& conversation,
      const nlohmann::json& activity) = 0;
  // PUT {service_url}/v3/conversations/{conversation}/activities/{id}.
  virtual absl::Status UpdateActivity(const std::string& service_url,
                                      const std::string& conversation,
                                      const std::string& activity_id,
                                      const nlohmann::json& activity) = 0;
};

struct TeamsConnectorOptions {
  // Client-credentials token endpoint (Azure AD v2).
  std::string token_url;
  std::string app_id;      // client_id
  std::string app_secret;  // client_secret; never logged
  std::string scope = "https://api.botframework.com/.default";
  std::string ca_file;  // "": system CAs
  absl::Duration timeout = absl::Seconds(10);
  // http:// allowed (loopback fakes only; the config checks).
  bool allow_http = false;
};

// The connector over HTTPS. The access token is fetched on first use and
// reused until a minute before it expires (by `clock`).
std::unique_ptr<TeamsConnector> NewTeamsConnectorApi(
    TeamsConnectorOptions options, std::function<absl::Time()> clock);

}  // namespace approval::chat

#endif  // APPROVAL_BOTS_TEAMS_H_
