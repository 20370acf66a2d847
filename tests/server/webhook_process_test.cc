// Webhooks from a real broker process: a broker killed in the middle of a
// delivery still delivers it after a restart (same webhook-id), and events
// committed while no broker ran are delivered too (the audit cursor drives
// deliveries, not the process's memory).
#include <algorithm>
#include <catch2/catch.hpp>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "nlohmann/json.hpp"
#include "tests/support/broker/broker_harness.h"
#include "tests/support/certs/test_certs.h"
#include "tests/support/keys/test_keys.h"
#include "tests/support/pg/pg_fixture.h"
#include "tests/support/process/serve_process.h"
#include "tests/support/store/store_requests.h"
#include "tests/support/webhook/webhook_receiver.h"
#include "wire/canonical.h"

namespace approval::testing {
namespace {

constexpr char kAgentToken[] = "webhook-test-agent-token-51c0de";
constexpr char kAdminToken[] = "webhook-test-admin-token-9a77e2";
constexpr char kSecret[] = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
// A payment card number: the default policy masks it in the preview.
constexpr char kSecretValue[] = "4111 1111 1111 1111";
constexpr absl::Duration kWait = absl::Seconds(40);

std::string WriteConfig(const TestDatabase& db, const TempDir& dir,
                        const std::string& url, const std::string& ca_file) {
  const std::string tokens = dir.Write(
      "tokens.json", nlohmann::json{{"tokens",
                                     {{{"sha256", Sha256Hex(kAgentToken)},
                                       {"identity", "agent-webhook"},
                                       {"roles", {"agent"}}},
                                      {{"sha256", Sha256Hex(kAdminToken)},
                                       {"identity", "admin-webhook"},
                                       {"roles", {"admin"}}}}}}
                         .dump());
  const nlohmann::json config = {
      {"database_url", db.app_url()},
      {"listen_address", "127.0.0.1:0"},
      {"metrics_address", ""},
      {"signing_key_file", TestSigningKeyFile()},
      {"auth", {{"tokens_file", tokens}}},
      {"webhooks",
       {{"endpoints",
         {{{"name", "siem"},
           {"url", url},
           {"event_types", {"created", "approved", "denied", "cancelled"}},
           {"secrets", {kSecret}},
           {"ca_file", ca_file},
           {"timeout", "1s"}}}},
        {"initial_backoff", "100ms"},
        {"max_backoff", "500ms"},
        {"poll_interval", "200ms"}}}};
  return dir.Write("config.json", config.dump());
}

TEST_CASE("A broker killed mid-delivery delivers after restart, same id",
          "[webhook][postgres]") {
  TestDatabase db;
  TempDir dir;
  TestPki pki;
  WebhookReceiver receiver(pki.Server(), {kSecret});
  receiver.SetMode(WebhookReceiver::Mode::kHold);
  ServeProcess broker(WriteConfig(db, dir, receiver.url(),
                                  dir.Write("ca.pem", pki.ca().cert_pem)),
                      dir.path() + "/serve.log");
  broker.Start();
  auto stub = v1::ApprovalBroker::NewStub(grpc::CreateChannel(
      broker.address(), grpc::InsecureChannelCredentials()));

  v1::RequestApprovalRequest req = ExportRequest();
  req.set_parameters_json(nlohmann::json{{"card", kSecretValue}}.dump());
  grpc::ClientContext ctx;
  ctx.AddMetadata("authorization", absl::StrCat("Bearer ", kAgentToken));
  v1::RequestApprovalResponse created;
  grpc::Status s = stub->RequestApproval(&ctx, req, &created);
  INFO(s.error_message());
  REQUIRE(s.ok());

  // The attempt is in flight (the receiver holds it): kill the broker.
  REQUIRE(receiver.AwaitReceived(
      [](const std::vector<ReceivedWebhook>& r) { return !r.empty(); }, kWait));
  const std::string first_id = receiver.received().front().id;
  broker.Kill();
  receiver.SetMode(WebhookReceiver::Mode::kAnswer);

  // Committed while no broker runs: only the cursor can find it.
  std::unique_ptr<PostgresStore> store = db.OpenAppStore();
  const Approval offline = MustCreate(*store, "agent-offline", "offline");

  broker.Start();
  REQUIRE(receiver.AwaitAccepted(2, kWait));
  std::vector<std::string> accepted_ids;
  for (const ReceivedWebhook& r : receiver.accepted()) {
    CHECK(r.verified);
    CHECK(r.body.find(kSecretValue) == std::string::npos);
    accepted_ids.push_back(r.id);
  }
  // The interrupted one waits out its lease, so the offline one may come
  // first.
  CHECK(std::count(accepted_ids.begin(), accepted_ids.end(), first_id) == 1);
  bool offline_delivered = false;
  for (const ReceivedWebhook& r : receiver.accepted()) {
    if (r.body.find(offline.id) != std::string::npos) offline_delivered = true;
  }
  CHECK(offline_delivered);
  CHECK(broker.Log().find(kSecret) == std::string::npos);

  // The admin listing shows both, the first one retried after the kill.
  grpc::ClientContext admin;
  admin.AddMetadata("authorization", absl::StrCat("Bearer ", kAdminToken));
  // No status filter: the last 200 may reach the receiver a moment before
  // the broker records it.
  v1::ListWebhookDeliveriesRequest list;
  v1::ListWebhookDeliveriesResponse deliveries;
  s = stub->ListWebhookDeliveries(&admin, list, &deliveries);
  INFO(s.error_message());
  REQUIRE(s.ok());
  REQUIRE(deliveries.deliveries_size() == 2);
  const v1::WebhookDelivery& first = deliveries.deliveries(1);  // oldest
  CHECK(first.webhook_id() == first_id);
  CHECK(first.endpoint() == "siem");
  CHECK(first.attempts() >= 2);

  grpc::ClientContext agent;
  agent.AddMetadata("authorization", absl::StrCat("Bearer ", kAgentToken));
  v1::ListWebhookDeliveriesResponse refused;
  CHECK(stub->ListWebhookDeliveries(&agent, list, &refused).error_code() ==
        grpc::StatusCode::PERMISSION_DENIED);
  grpc::ClientContext bad;
  bad.AddMetadata("authorization", absl::StrCat("Bearer ", kAdminToken));
  list.set_status("lost");
  CHECK(stub->ListWebhookDeliveries(&bad, list, &refused).error_code() ==
        grpc::StatusCode::INVALID_ARGUMENT);
}

}  // namespace
}  // namespace approval::testing
