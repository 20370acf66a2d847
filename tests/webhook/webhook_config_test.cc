// The `webhooks` config section: read strictly, validated, secrets never
// quoted.
#include "server/webhook/webhook_config.h"

#include <catch2/catch.hpp>
#include <string>

#include "absl/strings/str_cat.h"
#include "server/config/config.h"

namespace approval {
namespace {

constexpr char kSecret[] = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

std::string ConfigWith(const std::string& endpoint) {
  return absl::StrCat(R"({"database_url": "postgresql://x@db/a",
    "auth": {"tokens_file": "/dev/null"},
    "webhooks": {"endpoints": [)",
                      endpoint, R"(], "retry_horizon": "1h"}})");
}

std::string Endpoint(const std::string& url,
                     const std::string& secret = kSecret) {
  return absl::StrCat(R"({"name": "tickets", "url": ")", url,
                      R"(", "event_types": ["created", "approved"],
      "secrets": [")",
                      secret, R"("], "timeout": "2s"})");
}

absl::Status Load(const std::string& text) {
  absl::StatusOr<Config> c = ParseConfig(text, "config.json");
  if (!c.ok()) return c.status();
  return ValidateWebhooksConfig(c->webhooks);
}

TEST_CASE("A webhooks section is read into typed endpoints", "[webhook]") {
  absl::StatusOr<Config> c = ParseConfig(
      ConfigWith(Endpoint("https://tickets.example.org/hooks")), "config.json");
  REQUIRE(c.ok());
  REQUIRE(c->webhooks.endpoints.size() == 1);
  const WebhookEndpoint& e = c->webhooks.endpoints[0];
  CHECK(e.name == "tickets");
  CHECK(e.url == "https://tickets.example.org/hooks");
  CHECK(e.event_types == std::vector<std::string>{"created", "approved"});
  CHECK(e.timeout == absl::Seconds(2));
  CHECK(c->webhooks.retry_horizon == absl::Hours(1));
  CHECK(ValidateWebhooksConfig(c->webhooks).ok());
}

TEST_CASE("An http:// webhook URL is refused at config", "[webhook]") {
  const absl::Status s =
      Load(ConfigWith(Endpoint("http://tickets.example.org/hooks")));
  CHECK(s.code() == absl::StatusCode::kInvalidArgument);
  CHECK_THAT(std::string(s.message()),
             Catch::Contains("webhooks.endpoints[0].url") &&
                 Catch::Contains("https://"));
}

TEST_CASE("A malformed webhook secret is refused without quoting it",
          "[webhook]") {
  for (const std::string secret : {"MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                                   "whsec_not*base64!", "whsec_c2hvcnQ="}) {
    INFO(secret);
    const absl::Status s =
        Load(ConfigWith(Endpoint("https://t.example.org/h", secret)));
    CHECK(s.code() == absl::StatusCode::kInvalidArgument);
    CHECK_THAT(std::string(s.message()),
               Catch::Contains("webhooks.endpoints[0].secrets[0]"));
    CHECK_THAT(std::string(s.message()), !Catch::Contains(secret));
  }
}

TEST_CASE("A secret of the wrong JSON type is refused without showing it",
          "[webhook]") {
  absl::StatusOr<Config> c =
      ParseConfig(ConfigWith(R"({"name": "t", "url": "https://t.example.org/h",
        "event_types": ["created"], "secrets": [123456789]})"),
                  "config.json");
  REQUIRE_FALSE(c.ok());
  CHECK_THAT(std::string(c.status().message()), !Catch::Contains("123456789"));
}

TEST_CASE("Webhook event types, names and durations are checked", "[webhook]") {
  CHECK_THAT(
      std::string(
          Load(ConfigWith(R"({"name": "t", "url": "https://t.example.org/h",
        "event_types": ["approvd"], "secrets": [")" +
                          std::string(kSecret) + R"("]})"))
              .message()),
      Catch::Contains("event_types[0]"));
  CHECK_THAT(
      std::string(
          Load(ConfigWith(
                   R"({"name": "Bad Name", "url": "https://t.example.org/h",
        "event_types": ["created"], "secrets": [")" +
                   std::string(kSecret) + R"("]})"))
              .message()),
      Catch::Contains(".name"));
  CHECK_THAT(
      std::string(Load(ConfigWith(Endpoint("https://a.example.org/h") + "," +
                                  Endpoint("https://b.example.org/h")))
                      .message()),
      Catch::Contains("names two endpoints"));
  CHECK_THAT(
      std::string(
          Load(ConfigWith(R"({"name": "t", "url": "https://t.example.org/h",
        "event_types": ["created"], "secrets": [")" +
                          std::string(kSecret) + R"("], "timeout": "5m"})"))
              .message()),
      Catch::Contains(".timeout"));
}

TEST_CASE("ValidateConfig checks the webhooks section", "[webhook]") {
  absl::StatusOr<Config> c = ParseConfig(
      ConfigWith(Endpoint("http://tickets.example.org/hooks")), "config.json");
  REQUIRE(c.ok());
  CHECK_THAT(std::string(ValidateConfig(*c).message()),
             Catch::Contains("webhooks.endpoints[0].url"));
}

}  // namespace
}  // namespace approval
