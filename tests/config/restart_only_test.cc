// RestartOnlyChanges: the settings a SIGHUP reload leaves alone (they need a
// restart) and is to log as ignored.
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "server/config/config.h"

namespace approval {
namespace {

using Strings = std::vector<std::string>;

TEST_CASE("RestartOnlyChanges: nothing for an identical config",
          "[config][reload]") {
  const Config c;
  CHECK(RestartOnlyChanges(c, c).empty());
}

TEST_CASE("RestartOnlyChanges names the restart-only settings that differ",
          "[config][reload]") {
  const Config running;
  Config next = running;
  next.database_url = "postgresql://elsewhere/approval";
  next.listen_address = "0.0.0.0:50051";
  next.limits.max_ttl = absl::Hours(2);
  next.webhooks.poll_interval = absl::Seconds(3);
  CHECK(RestartOnlyChanges(running, next) ==
        Strings{"database_url", "listen_address", "limits", "webhooks"});
}

TEST_CASE("RestartOnlyChanges: reloadable settings are not listed",
          "[config][reload]") {
  Config running;
  running.tls = {"a.crt", "a.key", "ca.pem"};
  Config next = running;
  next.tls = {"b.crt", "b.key", "ca2.pem"};  // rotated files: reload
  next.policy_file = "policy-v2.jsonc";
  next.signing_key_file = "new-key.pem";
  next.audit_trusted_keys = {"old.pub.pem"};
  next.approval_tokens.audience = "executor";
  next.auth.tokens_file = "tokens-v2.json";
  next.auth.oidc.issuer = "https://idp.example.org";
  CHECK(RestartOnlyChanges(running, next).empty());
}

TEST_CASE("RestartOnlyChanges: turning TLS on or off needs a restart",
          "[config][reload]") {
  const Config plaintext;
  Config tls = plaintext;
  tls.tls = {"a.crt", "a.key", "ca.pem"};
  CHECK(RestartOnlyChanges(plaintext, tls) == Strings{"tls"});
  CHECK(RestartOnlyChanges(tls, plaintext) == Strings{"tls"});
}

}  // namespace
}  // namespace approval
