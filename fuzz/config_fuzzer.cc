// The config file parser (server/config/config.h ParseConfig, the from-text
// entry point) and ValidateConfig over what it accepts.
//
// Input: the config file's text.
// Invariants for an accepted config: the text is strict JSON (comments
// allowed, no repeated key) whose top-level keys are all known; the scalar
// values it sets are kept exactly; ValidateConfig answers OK or
// INVALID_ARGUMENT. File paths are replaced by /dev/null before validation,
// so the run reads no file the input names.
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>

#include "fuzz/fuzz_check.h"
#include "server/common/strict_json.h"
#include "server/config/config.h"

namespace {

const std::set<std::string>& TopLevelKeys() {
  static const auto* keys =
      new std::set<std::string>{"database_url",
                                "database_pool_size",
                                "database_statement_timeout",
                                "listen_address",
                                "metrics_address",
                                "tls",
                                "auth",
                                "limits",
                                "expiry_sweep_interval",
                                "event_poll_interval",
                                "stream_max_backlog",
                                "shutdown_grace",
                                "policy_file",
                                "fingerprint_key_file",
                                "signing_key_file"};
  return *keys;
}

void NoFiles(std::string& path) {
  if (!path.empty()) path = "/dev/null";
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<approval::Config> config =
      approval::ParseConfig(text, "fuzz.json");
  if (!config.ok()) {
    FUZZ_CHECK(config.status().code() == absl::StatusCode::kInvalidArgument,
               "%s", config.status().ToString().c_str());
    return 0;
  }
  absl::StatusOr<nlohmann::ordered_json> json =
      approval::ParseStrictJson(text, "fuzz.json");
  FUZZ_CHECK(json.ok(), "ParseConfig accepted what ParseStrictJson refuses: %s",
             json.status().ToString().c_str());
  FUZZ_CHECK(json->is_object(), "accepted a non-object");
  for (const auto& [key, value] : json->items()) {
    FUZZ_CHECK(TopLevelKeys().count(key) == 1, "unknown key \"%s\" accepted",
               key.c_str());
  }
  if (json->contains("database_url")) {
    FUZZ_CHECK((*json)["database_url"] == config->database_url,
               "database_url changed");
  }
  if (json->contains("listen_address")) {
    FUZZ_CHECK((*json)["listen_address"] == config->listen_address,
               "listen_address changed");
  }
  if (json->contains("database_pool_size")) {
    FUZZ_CHECK((*json)["database_pool_size"] == config->database_pool_size,
               "database_pool_size changed");
  }
  if (json->contains("stream_max_backlog")) {
    FUZZ_CHECK((*json)["stream_max_backlog"] == config->stream_max_backlog,
               "stream_max_backlog changed");
  }

  approval::Config c = *config;
  NoFiles(c.tls.cert_file);
  NoFiles(c.tls.key_file);
  NoFiles(c.tls.client_ca_file);
  NoFiles(c.auth.tokens_file);
  NoFiles(c.auth.oidc.jwks_file);
  NoFiles(c.auth.oidc.jwks_ca_file);
  NoFiles(c.policy_file);
  NoFiles(c.fingerprint_key_file);
  NoFiles(c.signing_key_file);
  for (bool require_database : {false, true}) {
    absl::Status s = approval::ValidateConfig(c, require_database);
    FUZZ_CHECK(s.ok() || s.code() == absl::StatusCode::kInvalidArgument, "%s",
               s.ToString().c_str());
  }
  return 0;
}
