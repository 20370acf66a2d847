// FakeBotFramework: a loopback stand-in (HTTP, port 0) for the two Bot
// Framework endpoints approval-chat calls, following their documented
// shapes, recording every call:
//   POST /botframework.com/oauth2/v2.0/token  (client credentials, form)
//        -> {"token_type":"Bearer","expires_in":3600,"access_token":...};
//        a wrong client id/secret/scope -> 400 {"error":"invalid_client"}
//   POST /v3/conversations/{id}/activities       -> 201 {"id": "<new id>"}
//   PUT  /v3/conversations/{id}/activities/{aid} -> 200 {"id": aid}
//        without a token it issued -> 401 {"error":{"code":"Unauthorized"}}
// Plus helpers that play Teams' side: an Action.Execute invoke activity and
// its POST to approval-chat's /teams/messages.
#ifndef APPROVAL_TESTS_SUPPORT_CHAT_FAKE_TEAMS_H_
#define APPROVAL_TESTS_SUPPORT_CHAT_FAKE_TEAMS_H_

#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"
#include "tests/support/chat/fake_slack.h"

class CivetServer;

namespace approval::testing {

struct TeamsCall {
  std::string method;  // "POST", "PUT"
  std::string path;    // "/v3/conversations/19:x/activities"
  std::string authorization;
  std::string raw_body;
  nlohmann::json body;  // parsed; null if not JSON
};

// Thread-safe; calls arrive on civetweb threads.
class FakeBotFramework final {
 public:
  FakeBotFramework(std::string app_id, std::string app_secret);
  ~FakeBotFramework();

  // "http://127.0.0.1:<port>/": the config's teams.service_url.
  std::string service_url() const;
  // The config's teams.token_url.
  std::string token_url() const;

  std::vector<TeamsCall> Calls() const;
  // Calls whose path contains `needle` and whose method is `method`.
  std::vector<TeamsCall> Calls(const std::string& method,
                               const std::string& needle) const;
  bool Await(const std::function<bool(const std::vector<TeamsCall>&)>& pred,
             absl::Duration timeout) const;

  // Used by the request handler: the status and body to answer.
  std::pair<int, nlohmann::json> Record(const std::string& method,
                                        const std::string& path,
                                        const std::string& authorization,
                                        const std::string& body);

  class Handler;

 private:
  const std::string app_id_;
  const std::string app_secret_;
  std::unique_ptr<Handler> handler_;
  std::unique_ptr<CivetServer> server_;
  mutable absl::Mutex mu_;
  std::vector<TeamsCall> calls_ ABSL_GUARDED_BY(mu_);
  std::set<std::string> issued_ ABSL_GUARDED_BY(mu_);
  int next_id_ ABSL_GUARDED_BY(mu_) = 1;
};

// The invoke activity Teams sends when the user `aad_object_id` of
// `tenant` clicks the card button `verb` ("approve"/"deny") of
// `approval_id`, with `reason` typed in the card's reason input.
nlohmann::json InvokeActivity(const std::string& tenant,
                              const std::string& aad_object_id,
                              const std::string& verb,
                              const std::string& approval_id,
                              const std::string& reason,
                              const std::string& service_url);

// POSTs `body` to http://127.0.0.1:<port>/teams/messages with the header
// "Authorization: <authorization>" ("" sends none).
HttpAnswer PostTeamsActivity(int port, const std::string& authorization,
                             const std::string& body);

}  // namespace approval::testing

#endif  // APPROVAL_TESTS_SUPPORT_CHAT_FAKE_TEAMS_H_
