// approval-chat: posts approvals to Slack and Teams and decides as the person
// who clicked, through the broker's relay protocol (README "Approve in Slack
// and Teams").
//
//   approval-chat migrate --config FILE [--database-url URL]
//                                         create/upgrade its own schema (as
//                                         URL's role: the schema's owner)
//   approval-chat serve --config FILE     run until SIGTERM or SIGINT
#include <csignal>
#include <cstring>
#include <iostream>
#include <memory>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "bots/chat_app.h"
#include "bots/chat_config.h"
#include "bots/chat_state.h"
#include "bots/slack_api.h"
#include "prometheus/exposer.h"
#include "prometheus/registry.h"
#include "server/service/log.h"

namespace {

using approval::LogRecord;
namespace chat = approval::chat;

constexpr char kUsage[] =
    "usage: approval-chat serve --config FILE\n"
    "       approval-chat migrate --config FILE [--database-url URL]\n"
    "       approval-chat --version\n";

int Fail(const std::string& event, const absl::Status& s) {
  LogRecord r;
  r.level = approval::LogLevel::kError;
  r.event = event;
  r.code = std::string(absl::StatusCodeToString(s.code()));
  r.message = std::string(s.message());
  approval::Log(r);
  return 1;
}

// The Slack parts of `deps` from `config.slack` (nothing if not enabled):
// its secrets read from their files and its Web API client.
absl::Status AddSlack(const chat::ChatConfig& config, chat::ChatDeps& deps) {
  if (!config.slack.enabled) return absl::OkStatus();
  absl::StatusOr<std::string> secret = chat::ReadSecretFile(
      "slack.signing_secret_file", config.slack.signing_secret_file);
  if (!secret.ok()) return secret.status();
  deps.slack_signing_secret = *std::move(secret);
  absl::StatusOr<std::string> bot_token =
      chat::ReadSecretFile("slack.bot_token_file", config.slack.bot_token_file);
  if (!bot_token.ok()) return bot_token.status();
  deps.slack = chat::NewSlackWebApi(
      config.slack.api_base_url, *std::move(bot_token),
      config.slack.api_ca_file, absl::Seconds(10),
      /*allow_http=*/!absl::StartsWith(config.slack.api_base_url, "https://"));
  return absl::OkStatus();
}

// The Teams parts of `deps` from `config.teams` (nothing if not enabled):
// its secrets, the connector client and the activity token verifier.
absl::Status AddTeams(const chat::ChatConfig& config, chat::ChatDeps& deps) {
  if (!config.teams.enabled) return absl::OkStatus();
  const chat::TeamsConfig& t = config.teams;
  absl::StatusOr<std::string> app_secret =
      chat::ReadSecretFile("teams.app_secret_file", t.app_secret_file);
  if (!app_secret.ok()) return app_secret.status();
  if (!t.relay_token_file.empty()) {
    absl::StatusOr<std::string> relay =
        chat::ReadSecretFile("teams.relay_token_file", t.relay_token_file);
    if (!relay.ok()) return relay.status();
    deps.teams_relay_token = *std::move(relay);
  }
  chat::TeamsConnectorOptions connector;
  connector.token_url = t.token_url;
  connector.app_id = t.app_id;
  connector.app_secret = *std::move(app_secret);
  connector.ca_file = t.api_ca_file;
  // The config allows http:// only towards loopback (a fake).
  connector.allow_http = !absl::StartsWith(t.service_url, "https://") ||
                         !absl::StartsWith(t.token_url, "https://");
  deps.teams = chat::NewTeamsConnectorApi(std::move(connector),
                                          [] { return absl::Now(); });
  chat::TeamsAuthOptions auth;
  auth.issuer = t.issuer;
  auth.app_id = t.app_id;
  auth.clock_skew = t.clock_skew;
  absl::StatusOr<std::unique_ptr<chat::TeamsActivityVerifier>> verifier =
      chat::TeamsActivityVerifier::Create(
          auth,
          chat::NewOpenIdMetadataJwksSource(
              t.openid_metadata_url, t.openid_ca_file, absl::Seconds(10)),
          [] { return absl::Now(); });
  if (!verifier.ok()) return verifier.status();
  deps.teams_verifier = *std::move(verifier);
  return absl::OkStatus();
}

int Serve(const chat::ChatConfig& config) {
  // Signals go to this thread only (sigwait below), not to library threads.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  chat::ChatDeps deps;
  if (!config.broker.token_file.empty()) {
    absl::StatusOr<std::string> token =
        chat::ReadSecretFile("broker.token_file", config.broker.token_file);
    if (!token.ok()) return Fail("config_invalid", token.status());
    deps.broker_token = *std::move(token);
  }
  if (absl::Status s = AddSlack(config, deps); !s.ok()) {
    return Fail("config_invalid", s);
  }
  if (absl::Status s = AddTeams(config, deps); !s.ok()) {
    return Fail("config_invalid", s);
  }
  absl::StatusOr<std::unique_ptr<chat::ChatState>> state =
      chat::ChatState::Open(config.database_url);
  if (!state.ok()) return Fail("database_unavailable", state.status());
  deps.state = *std::move(state);

  std::unique_ptr<prometheus::Exposer> exposer;
  if (!config.metrics_listen.empty()) {
    deps.registry = std::make_shared<prometheus::Registry>();
    try {
      exposer = std::make_unique<prometheus::Exposer>(config.metrics_listen);
    } catch (const std::exception& e) {
      return Fail(
          "metrics_listen_failed",
          absl::UnavailableError(absl::StrCat(
              "metrics_listen ", config.metrics_listen, ": ", e.what())));
    }
    exposer->RegisterCollectable(deps.registry);
  }
  absl::StatusOr<std::unique_ptr<chat::ChatApp>> app =
      chat::ChatApp::Start(config, std::move(deps));
  if (!app.ok()) return Fail("start_failed", app.status());

  LogRecord serving;
  serving.event = "serving";
  serving.always = true;
  serving.fields = {{"http_port", absl::StrCat((*app)->http_port())}};
  if (exposer != nullptr && !exposer->GetListeningPorts().empty()) {
    serving.fields.emplace_back("metrics_port",
                                absl::StrCat(exposer->GetListeningPorts()[0]));
  }
  serving.message =
      absl::StrCat("serving platform callbacks on port ", (*app)->http_port());
  approval::Log(serving);

  int sig = 0;
  sigwait(&signals, &sig);
  LogRecord stopping;
  stopping.event = "stopping";
  stopping.message = absl::StrCat("signal ", sig);
  approval::Log(stopping);
  app->reset();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 2 && std::strcmp(argv[1], "--version") == 0) {
    std::cout << "approval-chat " << APPROVAL_BROKER_VERSION << "\n";
    return 0;
  }
  const std::string command = argc >= 2 ? argv[1] : "";
  // migrate may name the owner's URL: the config's is the serving role's.
  const bool database_url = command == "migrate" && argc == 6 &&
                            std::strcmp(argv[4], "--database-url") == 0 &&
                            argv[5][0] != '\0';
  if ((argc != 4 && !database_url) || std::strcmp(argv[2], "--config") != 0 ||
      (command != "serve" && command != "migrate")) {
    std::cerr << kUsage;
    return 2;
  }
  absl::StatusOr<chat::ChatConfig> config = chat::LoadChatConfig(argv[3]);
  if (!config.ok()) return Fail("config_invalid", config.status());
  if (command == "migrate") {
    absl::Status s = chat::MigrateChat(
        database_url ? std::string(argv[5]) : config->database_url, std::cout);
    return s.ok() ? 0 : Fail("migrate_failed", s);
  }
  return Serve(*config);
}
