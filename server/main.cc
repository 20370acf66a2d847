// approval-broker: serve | migrate | audit verify | --version.
//
// Settings come from, highest precedence first: flags, environment
// (APPROVAL_BROKER_DATABASE_URL, APPROVAL_BROKER_LISTEN_ADDRESS,
// APPROVAL_BROKER_METRICS_ADDRESS), the --config file, built-in defaults.
#include <signal.h>

#include <cstdio>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "grpc/support/log.h"
#include "prometheus/exposer.h"
#include "server/auth/authenticator.h"
#include "server/common/read_file.h"
#include "server/config/config.h"
#include "server/service/broker_server.h"
#include "server/service/keys.h"
#include "server/service/log.h"
#include "server/service/metrics.h"
#include "server/store/error_detail.h"
#include "server/store/postgres/migrator.h"
#include "server/store/postgres/postgres_signal.h"
#include "server/store/postgres/postgres_store.h"
#include "server/store/terminal_cache.h"
#include "wire/canonical.h"

namespace approval {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;
// As approvalctl's codes for the same outcomes.
constexpr int kExitUnavailable = 7;
constexpr int kExitAuditBroken = 9;

constexpr char kUsage[] =
    R"(usage: approval-broker <command> [flags]

commands:
  --version       print "approval-broker <version>" and exit
  serve           run the broker (SIGHUP re-reads the config file and
                  reloads the policy, tokens file and auth settings, TLS
                  certificates and signing keys; see README "Operating
                  the broker")
  migrate         apply pending database migrations (run as the schema owner)
  audit verify    check the audit log: hash chain, every event's seal, the
                  approvals against the chain; prints the chain head to record.
                  Exit 0 OK, 9 does not verify, 7 database unreachable,
                  2 usage or configuration, 1 other failure

flags:
  --config FILE           JSON config file (see deploy/config.example.jsonc)
  --database-url URL      PostgreSQL URL (env APPROVAL_BROKER_DATABASE_URL)
  --listen ADDR           gRPC host:port (serve; env APPROVAL_BROKER_LISTEN_ADDRESS)
  --metrics-listen ADDR   Prometheus host:port, "" disables (serve;
                          env APPROVAL_BROKER_METRICS_ADDRESS)
  --expect-head SEQ:HASH  audit verify: a head recorded earlier (log line
                          "audit chain head", or a previous verify) that the
                          chain must still contain
  --trusted-key FILE      audit verify: a public key (PEM) whose seals are
                          trusted, besides signing_key_file and
                          audit_trusted_keys; repeatable. Verifying needs no
                          private key.
)";

struct Flags {
  std::optional<std::string> config_file;
  std::optional<std::string> database_url;
  std::optional<std::string> listen;
  std::optional<std::string> metrics_listen;
  std::optional<std::string> expect_head;
  std::vector<std::string> trusted_keys;
};

absl::StatusOr<Flags> ParseFlags(const std::vector<std::string>& args) {
  Flags f;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string name = args[i];
    std::optional<std::string> value;
    if (size_t eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    std::optional<std::string> trusted_key;
    std::optional<std::string>* target =
        name == "--config"           ? &f.config_file
        : name == "--database-url"   ? &f.database_url
        : name == "--listen"         ? &f.listen
        : name == "--metrics-listen" ? &f.metrics_listen
        : name == "--expect-head"    ? &f.expect_head
        : name == "--trusted-key"    ? &trusted_key
                                     : nullptr;
    if (target == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("unknown flag ", name));
    }
    if (!value) {
      if (i + 1 >= args.size()) {
        return absl::InvalidArgumentError(absl::StrCat(name, " needs a value"));
      }
      value = args[++i];
    }
    *target = *value;
    if (trusted_key) f.trusted_keys.push_back(*trusted_key);
  }
  return f;
}

// Defaults < file < environment < flags.
absl::StatusOr<Config> ResolveConfig(const Flags& flags) {
  Config config;
  if (flags.config_file) {
    absl::StatusOr<Config> loaded = LoadConfigFile(*flags.config_file);
    if (!loaded.ok()) return loaded.status();
    config = *std::move(loaded);
  }
  ApplyEnvironment(config, ProcessGetenv);
  if (flags.database_url) config.database_url = *flags.database_url;
  if (flags.listen) config.listen_address = *flags.listen;
  if (flags.metrics_listen) config.metrics_address = *flags.metrics_listen;
  return config;
}

PostgresOptions StoreOptions(const Config& c,
                             std::shared_ptr<const TokenSigner> signer) {
  PostgresOptions o;
  o.audit_signer = std::move(signer);
  o.url = c.database_url;
  o.pool_size = c.database_pool_size;
  o.statement_timeout = c.database_statement_timeout;
  o.max_write_batch = c.database_write_batch;
  o.write_batch_wait = c.database_write_batch_wait;
  return o;
}

// gRPC's own log lines, as records of this log (event "grpc").
void LogFromGrpc(gpr_log_func_args* args) {
  LogRecord r;
  r.level = args->severity == GPR_LOG_SEVERITY_ERROR  ? LogLevel::kError
            : args->severity == GPR_LOG_SEVERITY_INFO ? LogLevel::kInfo
                                                      : LogLevel::kDebug;
  r.event = "grpc";
  r.fields.emplace_back(
      "source",
      absl::StrCat(args->file == nullptr ? "" : args->file, ":", args->line));
  r.message = args->message == nullptr ? "" : args->message;
  Log(r);
}

// Logs why `what` (a command or a start-up step) failed; returns `code`.
int Fail(absl::string_view what, const absl::Status& s, int code) {
  LogRecord r;
  r.level = LogLevel::kError;
  r.event = "command_failed";
  r.code = absl::StatusCodeToString(s.code());
  r.fields.emplace_back("step", std::string(what));
  r.message =
      absl::StrCat("approval-broker: ", what, ": ", MessageWithDetail(s));
  Log(r);
  return code;
}

absl::Status RequireDatabaseUrl(const Config& c) {
  if (c.database_url.empty()) {
    return absl::InvalidArgumentError(
        "database_url: not set (use --database-url, "
        "APPROVAL_BROKER_DATABASE_URL or the config file)");
  }
  return absl::OkStatus();
}

// `address` (host:port) with its port replaced by `port`.
std::string WithPort(absl::string_view address, int port) {
  return absl::StrCat(address.substr(0, address.rfind(':')), ":", port);
}

// The metrics endpoint (null when metrics_address is empty), serving
// `metrics`. INVALID_ARGUMENT when it cannot listen.
absl::StatusOr<std::unique_ptr<prometheus::Exposer>> StartMetrics(
    const Config& config, BrokerMetrics& metrics) {
  std::unique_ptr<prometheus::Exposer> exposer;
  if (config.metrics_address.empty()) return exposer;
  try {
    exposer = std::make_unique<prometheus::Exposer>(config.metrics_address);
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(
        "cannot listen on \"", config.metrics_address, "\": ", e.what()));
  }
  exposer->RegisterCollectable(metrics.registry());
  return exposer;
}

// The "serving" record: the ports actually bound (port 0 in the config: the
// OS picks one), so whoever started the process, tests included, finds it.
void LogServing(const Config& config, BrokerServer& server,
                prometheus::Exposer* exposer) {
  const std::string grpc_address =
      WithPort(config.listen_address, server.port());
  const std::string metrics_address =
      exposer == nullptr ? std::string()
                         : WithPort(config.metrics_address,
                                    exposer->GetListeningPorts().at(0));
  LogRecord serving;
  serving.event = "serving";
  serving.always = true;  // ServeProcess and operators read the bound ports
  serving.fields = {{"grpc_address", grpc_address},
                    {"transport", config.tls.enabled() ? "tls" : "plaintext"},
                    {"metrics_address", metrics_address}};
  serving.message = absl::StrCat(
      "approval-broker serving gRPC on ", grpc_address,
      config.tls.enabled() ? " (TLS)" : " (plaintext)",
      metrics_address.empty()
          ? std::string(", metrics off")
          : absl::StrCat(", metrics on http://", metrics_address, "/metrics"));
  Log(serving);
}

// Logs and counts the outcome of reloading `what`.
void ReloadOutcome(BrokerMetrics& metrics, absl::string_view what,
                   const absl::Status& s) {
  metrics.RecordReload(what, s.ok());
  LogRecord r;
  r.event = s.ok() ? "reloaded" : "reload_failed";
  r.level = s.ok() ? LogLevel::kInfo : LogLevel::kError;
  r.fields.emplace_back("what", std::string(what));
  if (!s.ok()) r.code = absl::StatusCodeToString(s.code());
  r.message = s.ok() ? absl::StrCat(what, " reloaded")
                     : absl::StrCat(what, " reload failed, the previous ", what,
                                    " stays in force: ", s.message());
  Log(r);
}

// What SIGHUP does (README "Operating the broker"): re-reads the config file
// as at start (flags and environment still win) and reloads each component
// on its own: policy, auth (tokens file, mTLS identities, principals, OIDC),
// TLS files, signing keys. A component whose new files are bad keeps its
// previous state; a config file that does not parse or validate changes
// nothing but the policy (re-read from the last good config's policy_file,
// as before config reloads existed). Settings that need a restart are
// logged as ignored. `last_good` is the config the previous reload applied
// (the start config at first); `started` the one the process started with.
void Reload(const Flags& flags, const Config& started, Config& last_good,
            BrokerServer& server, Authenticator& auth, PostgresStore& store,
            BrokerMetrics& metrics) {
  absl::StatusOr<Config> next = ResolveConfig(flags);
  if (next.ok()) {
    if (absl::Status s = ValidateConfig(*next); !s.ok()) next = s;
  }
  ReloadOutcome(metrics, "config", next.status());
  if (!next.ok()) {
    ReloadOutcome(metrics, "policy",
                  server.ReloadPolicy(last_good.policy_file));
    return;
  }
  for (const std::string& key : RestartOnlyChanges(started, *next)) {
    LogRecord r;
    r.event = "reload_ignored";
    r.level = LogLevel::kWarn;
    r.fields.emplace_back("setting", key);
    r.message =
        absl::StrCat(key, " changed in the config file: ignored until restart");
    Log(r);
  }
  ReloadOutcome(metrics, "policy", server.ReloadPolicy(next->policy_file));
  ReloadOutcome(metrics, "auth", auth.Reload(next->auth));
  if (started.tls.enabled() && next->tls.enabled()) {
    ReloadOutcome(metrics, "tls", server.ReloadTls(next->tls));
  }
  absl::StatusOr<std::shared_ptr<const TokenSigner>> signer =
      server.ReloadSigningKeys(*next);
  // The issuer trusts the new key before the store seals with it.
  if (signer.ok()) store.SetAuditSigner(*signer);
  ReloadOutcome(metrics, "signing_keys", signer.status());
  last_good = *std::move(next);
}

int RunServe(const Config& config, const Flags& flags) {
  // Signals are taken by one thread with sigwait, so every other thread
  // (gRPC's, the metrics server's, the pool's) must start with them blocked.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  if (absl::Status s = ValidateConfig(config); !s.ok()) {
    return Fail("invalid configuration", s, kExitUsage);
  }
  absl::StatusOr<std::shared_ptr<const TokenSigner>> signer =
      LoadSigningKey(config);
  if (!signer.ok())
    return Fail("invalid configuration", signer.status(), kExitUsage);
  if (absl::Status s = CheckSchema(config.database_url); !s.ok()) {
    return Fail("database", s, kExitFailure);
  }
  BrokerMetrics metrics;
  PostgresOptions store_options = StoreOptions(config, *signer);
  if (config.database_terminal_cache_entries > 0) {
    TerminalCache::Options cache;
    cache.capacity = config.database_terminal_cache_entries;
    cache.on_lookup = [&metrics](bool hit) {
      metrics.RecordTerminalCacheLookup(hit);
    };
    store_options.terminal_cache = std::make_shared<TerminalCache>(cache);
  }
  absl::StatusOr<std::unique_ptr<PostgresStore>> store =
      PostgresStore::Open(store_options);
  if (!store.ok()) return Fail("database", store.status(), kExitFailure);
  absl::StatusOr<std::unique_ptr<Authenticator>> auth =
      Authenticator::Create(config.auth);
  if (!auth.ok()) return Fail("auth", auth.status(), kExitUsage);

  absl::StatusOr<std::unique_ptr<prometheus::Exposer>> exposer =
      StartMetrics(config, metrics);
  if (!exposer.ok())
    return Fail("metrics_address", exposer.status(), kExitUsage);
  // Other brokers on this database wake this one's streams at once.
  PostgresSignal signal(config.database_url);
  absl::StatusOr<std::unique_ptr<BrokerServer>> server =
      BrokerServer::Start(config, **store, **auth, metrics, &signal);
  if (!server.ok()) return Fail("serve", server.status(), kExitFailure);
  LogServing(config, **server, exposer->get());

  std::thread waiter([&, s = server->get()] {
    Config last_good = config;
    for (;;) {
      int sig = 0;
      sigwait(&signals, &sig);
      if (sig == SIGHUP) {
        Reload(flags, config, last_good, *s, **auth, **store, metrics);
        continue;
      }
      LogInfo(Event{"shutdown_signal"}, "signal ", sig, ": shutting down");
      s->Shutdown();
      return;
    }
  });
  (*server)->Wait();
  waiter.join();
  server->reset();
  LogInfo(Event{"stopped"}, "stopped");
  return kExitOk;
}

int RunMigrate(const Config& config) {
  if (absl::Status s = RequireDatabaseUrl(config); !s.ok()) {
    return Fail("migrate", s, kExitUsage);
  }
  if (absl::Status s = Migrate(config.database_url, std::cout); !s.ok()) {
    return Fail("migrate", s, kExitFailure);
  }
  return kExitOk;
}

// The public keys whose seals `audit verify` trusts; no private key needed.
absl::StatusOr<AuditKeyring> VerifyKeys(const Config& config,
                                        const Flags& flags) {
  AuditKeyring keys;
  std::vector<std::string> files = config.audit_trusted_keys;
  files.insert(files.end(), flags.trusted_keys.begin(),
               flags.trusted_keys.end());
  if (!config.signing_key_file.empty()) {
    absl::StatusOr<std::shared_ptr<const TokenSigner>> signer =
        LoadSigningKey(config);
    if (!signer.ok()) return signer.status();
    keys.Add(*Ed25519PublicKey::FromPem((*signer)->public_key_pem()));
  }
  for (const std::string& file : files) {
    absl::StatusOr<std::string> pem = ReadFile(file, 64 * 1024);
    if (!pem.ok()) return pem.status();
    if (absl::Status s = keys.AddPublicKeyPem(*pem); !s.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("trusted key ", file, ": ", s.message()));
    }
  }
  if (keys.empty()) {
    return absl::InvalidArgumentError(
        "no audit key to verify seals with: set signing_key_file or "
        "audit_trusted_keys in the config, or pass --trusted-key "
        "PUBLIC_KEY.pem (`openssl pkey -in signing-key.pem -pubout`)");
  }
  return keys;
}

int RunVerify(const Config& config, const Flags& flags) {
  if (absl::Status s = RequireDatabaseUrl(config); !s.ok()) {
    return Fail("audit verify", s, kExitUsage);
  }
  AuditVerifyOptions options;
  if (flags.expect_head) {
    absl::StatusOr<AuditHead> head = ParseAuditHeadText(*flags.expect_head);
    if (!head.ok()) return Fail("audit verify", head.status(), kExitUsage);
    options.expected_head = *std::move(head);
  }
  absl::StatusOr<AuditKeyring> keys = VerifyKeys(config, flags);
  if (!keys.ok()) return Fail("audit verify", keys.status(), kExitUsage);
  // Read-only: no signer, so nothing can be written.
  PostgresOptions store_options = StoreOptions(config, nullptr);
  store_options.pool_size = 1;
  absl::StatusOr<std::unique_ptr<PostgresStore>> store =
      PostgresStore::Open(store_options);
  absl::StatusOr<AuditReport> report =
      store.ok() ? VerifyAuditLog(**store, *keys, options)
                 : absl::StatusOr<AuditReport>(store.status());
  if (!report.ok()) {
    const bool unreachable =
        report.status().code() == absl::StatusCode::kUnavailable;
    LogError(Event{"audit_verify_failed"}, "approval-broker: audit verify: ",
             unreachable ? "database unreachable, nothing verified: "
                         : "could not verify: ",
             report.status().message());
    return unreachable ? kExitUnavailable : kExitFailure;
  }
  const std::string head =
      absl::StrCat(report->head.seq, ":", HexEncode(report->head.hash));
  if (!report->ok()) {
    std::cout << "audit chain BROKEN: " << report->problems.size()
              << " problem(s)\n";
    for (const std::string& p : report->problems) {
      std::cout << "  " << p << "\n";
    }
    return kExitAuditBroken;
  }
  std::cout << "audit chain OK: " << report->events_verified
            << " events verified (" << report->unsigned_events
            << " from before signing), " << report->approvals_checked
            << " approvals match the chain\n"
            << "head: " << head << " (record it; pass it as --expect-head "
            << "next time)\n";
  return kExitOk;
}

int Main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h" ||
      args[0] == "help") {
    std::cout << kUsage;
    return args.empty() ? kExitUsage : kExitOk;
  }
  if (args[0] == "--version") {
    std::cout << "approval-broker " << APPROVAL_BROKER_VERSION << "\n";
    return kExitOk;
  }
  std::string command = args[0];
  args.erase(args.begin());
  if (command == "audit") {
    if (args.empty() || args[0] != "verify") {
      LogError(Event{"usage_error"},
               "approval-broker: audit needs a subcommand: verify");
      return kExitUsage;
    }
    command = "audit verify";
    args.erase(args.begin());
  }
  if (command != "serve" && command != "migrate" && command != "audit verify") {
    LogError(Event{"usage_error"}, "approval-broker: unknown command \"",
             command, "\"");
    std::cout << kUsage;
    return kExitUsage;
  }
  absl::StatusOr<Flags> flags = ParseFlags(args);
  if (!flags.ok()) return Fail(command, flags.status(), kExitUsage);
  absl::StatusOr<Config> config = ResolveConfig(*flags);
  if (!config.ok()) return Fail("config", config.status(), kExitUsage);
  SetLogOptions(config->log);
  gpr_set_log_function(&LogFromGrpc);
  if (command == "serve") return RunServe(*config, *flags);
  if (command == "migrate") return RunMigrate(*config);
  return RunVerify(*config, *flags);
}

}  // namespace
}  // namespace approval

int main(int argc, char** argv) { return approval::Main(argc, argv); }
