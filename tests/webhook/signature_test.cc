// Standard Webhooks signatures and the event body.
#include "server/webhook/signature.h"

#include <catch2/catch.hpp>
#include <string>

#include "nlohmann/json.hpp"
#include "server/webhook/webhook_config.h"
#include "server/webhook/webhook_event.h"

namespace approval {
namespace {

TEST_CASE("Signatures match the Standard Webhooks test vector", "[webhook]") {
  // From the Standard Webhooks reference libraries' tests.
  absl::StatusOr<std::string> key =
      DecodeWebhookSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
  REQUIRE(key.ok());
  CHECK(SignWebhook(*key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330,
                    R"({"test": 2432232314})") ==
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
}

TEST_CASE("Every secret signs: one v1 entry per secret, in order",
          "[webhook]") {
  const std::string a(32, 'a'), b(32, 'b');
  const std::string header = WebhookSignatureHeader({a, b}, "evt_1_t", 7, "{}");
  CHECK(header == SignWebhook(a, "evt_1_t", 7, "{}") + " " +
                      SignWebhook(b, "evt_1_t", 7, "{}"));
  CHECK(SignWebhook(a, "evt_1_t", 7, "{}") !=
        SignWebhook(a, "evt_1_t", 8, "{}"));
}

TEST_CASE("The event body carries the masked approval, never raw parameters",
          "[webhook]") {
  ApprovalEvent e;
  e.cursor = 42;
  e.type = EventType::kApproved;
  e.actor = "alice";
  e.occurred_at = absl::FromUnixSeconds(1700000000);
  e.approval.id = "0b8f7c1e-0000-4000-8000-000000000001";
  e.approval.action = "db.drop";
  e.approval.parameters_preview = R"({"password":"[masked]"})";
  e.approval.state = State::kApproved;
  e.approval.created_at = absl::FromUnixSeconds(1699999990);
  e.approval.expires_at = absl::FromUnixSeconds(1700003600);
  e.approval.decided_at = e.occurred_at;
  const nlohmann::json body = nlohmann::json::parse(WebhookEventBody(e));
  CHECK(body["type"] == "approval.approved");
  CHECK(body["timestamp"] == "2023-11-14T22:13:20.000000Z");
  CHECK(body["data"]["seq"] == 42);
  CHECK(body["data"]["actor"] == "alice");
  CHECK(body["data"]["approval"]["parameters_preview"]["password"] ==
        "[masked]");
  CHECK(body["data"]["approval"]["state"] == "approved");
  CHECK_FALSE(body["data"]["approval"].contains("parameters"));
  CHECK(WebhookId(42, "tickets") == "evt_42_tickets");
}

}  // namespace
}  // namespace approval
