// BotFrameworkKeys: Teams' side of the token check, on loopback. An HTTPS
// OpenID metadata document naming an HTTPS JWKS (both served with a
// certificate from a throw-away CA made at run time), and the RS256 key Bot
// Framework would sign activities' tokens with.
#ifndef APPROVAL_TESTS_SUPPORT_CHAT_BOT_FRAMEWORK_KEYS_H_
#define APPROVAL_TESTS_SUPPORT_CHAT_BOT_FRAMEWORK_KEYS_H_

#include <memory>
#include <string>

#include "bots/teams.h"
#include "nlohmann/json.hpp"
#include "tests/support/certs/test_certs.h"
#include "tests/support/identity/jwks_https_server.h"
#include "tests/support/identity/token_minter.h"

namespace approval::testing {

// Bot Framework's issuer.
inline constexpr char kBotFrameworkIssuer[] = "https://api.botframework.com";

class BotFrameworkKeys final {
 public:
  // Tokens are for `app_id` (their audience).
  explicit BotFrameworkKeys(std::string app_id);

  // The config's teams.openid_metadata_url and teams.openid_ca_file.
  std::string metadata_url() const { return metadata.url(); }
  const std::string& ca_file() const { return ca_file_; }

  // A verifier as approval-chat builds it from that config.
  std::unique_ptr<chat::TeamsActivityVerifier> Verifier() const;

  // The claims Bot Framework sends: iss, aud = app id, exp, serviceurl.
  nlohmann::json GoodClaims(const std::string& service_url) const;
  // "Bearer <claims signed with key>".
  std::string Bearer(const nlohmann::json& claims) const;

  TestPki pki;
  TempDir dir;
  JwksHttpsServer jwks{pki.Server()};
  JwksHttpsServer metadata{pki.Server()};
  TestKey key = TestKey::Rsa("bf-key-1");

 private:
  const std::string app_id_;
  std::string ca_file_;
};

}  // namespace approval::testing

#endif  // APPROVAL_TESTS_SUPPORT_CHAT_BOT_FRAMEWORK_KEYS_H_
