#include "tests/support/chat/bot_framework_keys.h"

#include <cstdlib>
#include <iostream>
#include <utility>

#include "absl/time/clock.h"

namespace approval::testing {

BotFrameworkKeys::BotFrameworkKeys(std::string app_id)
    : app_id_(std::move(app_id)) {
  jwks.SetBody(JwksJson({key}));
  metadata.SetBody(nlohmann::json{
      {"issuer", kBotFrameworkIssuer},
      {"jwks_uri", jwks.url()},
      {"id_token_signing_alg_values_supported",
       {"RS256"}}}.dump());
  ca_file_ = dir.Write("ca.crt", pki.ca().cert_pem);
}

std::unique_ptr<chat::TeamsActivityVerifier> BotFrameworkKeys::Verifier()
    const {
  chat::TeamsAuthOptions o;
  o.app_id = app_id_;
  absl::StatusOr<std::unique_ptr<chat::TeamsActivityVerifier>> v =
      chat::TeamsActivityVerifier::Create(
          o,
          chat::NewOpenIdMetadataJwksSource(metadata.url(), ca_file_,
                                            absl::Seconds(10)),
          [] { return absl::Now(); });
  if (!v.ok()) {
    std::cerr << "BotFrameworkKeys: " << v.status() << "\n";
    std::abort();
  }
  return *std::move(v);
}

nlohmann::json BotFrameworkKeys::GoodClaims(
    const std::string& service_url) const {
  nlohmann::json c =
      Claims(kBotFrameworkIssuer, app_id_, "bot-connector", absl::Now());
  c["serviceurl"] = service_url;
  return c;
}

std::string BotFrameworkKeys::Bearer(const nlohmann::json& claims) const {
  return "Bearer " + Mint(claims, key);
}

}  // namespace approval::testing
