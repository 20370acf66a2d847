// approval-broker: serve | migrate | audit verify.
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
#include "prometheus/exposer.h"
#include "server/auth/authenticator.h"
#include "server/config/config.h"
#include "server/service/broker_server.h"
#include "server/service/log.h"
#include "server/service/metrics.h"
#include "server/store/error_detail.h"
#include "server/store/postgres/migrator.h"
#include "server/store/postgres/postgres_signal.h"
#include "server/store/postgres/postgres_store.h"

namespace approval {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

constexpr char kUsage[] =
    R"(usage: approval-broker <command> [flags]

commands:
  serve           run the broker (SIGHUP reloads the policy file)
  migrate         apply pending database migrations (run as the schema owner)
  audit verify    check the audit log's hash chain; names the first bad event

flags:
  --config FILE           JSON config file (see deploy/config.example.jsonc)
  --database-url URL      PostgreSQL URL (env APPROVAL_BROKER_DATABASE_URL)
  --listen ADDR           gRPC host:port (serve; env APPROVAL_BROKER_LISTEN_ADDRESS)
  --metrics-listen ADDR   Prometheus host:port, "" disables (serve;
                          env APPROVAL_BROKER_METRICS_ADDRESS)
)";

struct Flags {
  std::optional<std::string> config_file;
  std::optional<std::string> database_url;
  std::optional<std::string> listen;
  std::optional<std::string> metrics_listen;
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
    std::optional<std::string>* target =
        name == "--config"           ? &f.config_file
        : name == "--database-url"   ? &f.database_url
        : name == "--listen"         ? &f.listen
        : name == "--metrics-listen" ? &f.metrics_listen
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

PostgresOptions StoreOptions(const Config& c) {
  PostgresOptions o;
  o.url = c.database_url;
  o.pool_size = c.database_pool_size;
  o.statement_timeout = c.database_statement_timeout;
  return o;
}

int Fail(absl::string_view what, const absl::Status& s, int code) {
  std::cerr << "approval-broker: " << what << ": " << MessageWithDetail(s)
            << "\n";
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

int RunServe(const Config& config) {
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
  if (absl::Status s = CheckSchema(config.database_url); !s.ok()) {
    return Fail("database", s, kExitFailure);
  }
  absl::StatusOr<std::unique_ptr<PostgresStore>> store =
      PostgresStore::Open(StoreOptions(config));
  if (!store.ok()) return Fail("database", store.status(), kExitFailure);
  absl::StatusOr<std::unique_ptr<Authenticator>> auth =
      Authenticator::Create(config.auth);
  if (!auth.ok()) return Fail("auth", auth.status(), kExitUsage);

  BrokerMetrics metrics;
  std::unique_ptr<prometheus::Exposer> exposer;
  if (!config.metrics_address.empty()) {
    try {
      exposer = std::make_unique<prometheus::Exposer>(config.metrics_address);
    } catch (const std::exception& e) {
      return Fail(
          "metrics_address",
          absl::InvalidArgumentError(absl::StrCat(
              "cannot listen on \"", config.metrics_address, "\": ", e.what())),
          kExitUsage);
    }
    exposer->RegisterCollectable(metrics.registry());
  }

  // Other brokers on this database wake this one's streams at once.
  PostgresSignal signal(config.database_url);
  absl::StatusOr<std::unique_ptr<BrokerServer>> server =
      BrokerServer::Start(config, **store, **auth, metrics, &signal);
  if (!server.ok()) return Fail("serve", server.status(), kExitFailure);
  LogInfo("approval-broker serving gRPC on ", config.listen_address,
          config.tls.enabled() ? " (TLS)" : " (plaintext)",
          config.metrics_address.empty()
              ? std::string(", metrics off")
              : absl::StrCat(", metrics on http://", config.metrics_address,
                             "/metrics"));

  std::thread waiter([&signals, s = server->get()] {
    for (;;) {
      int sig = 0;
      sigwait(&signals, &sig);
      if (sig == SIGHUP) {
        // A bad file keeps the running policy; ReloadPolicy logs why.
        (void)s->ReloadPolicy();
        continue;
      }
      LogInfo("signal ", sig, ": shutting down");
      s->Shutdown();
      return;
    }
  });
  (*server)->Wait();
  waiter.join();
  server->reset();
  LogInfo("stopped");
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

int RunVerify(const Config& config) {
  if (absl::Status s = RequireDatabaseUrl(config); !s.ok()) {
    return Fail("audit verify", s, kExitUsage);
  }
  PostgresOptions options = StoreOptions(config);
  options.pool_size = 1;
  absl::StatusOr<std::unique_ptr<PostgresStore>> store =
      PostgresStore::Open(options);
  if (!store.ok()) return Fail("audit verify", store.status(), kExitFailure);
  absl::StatusOr<int64_t> verified = VerifyAuditChain(**store);
  if (!verified.ok()) {
    std::cout << "audit chain BROKEN: " << verified.status().message() << "\n";
    return kExitFailure;
  }
  std::cout << "audit chain OK: " << *verified << " events verified\n";
  return kExitOk;
}

int Main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h" ||
      args[0] == "help") {
    std::cout << kUsage;
    return args.empty() ? kExitUsage : kExitOk;
  }
  std::string command = args[0];
  args.erase(args.begin());
  if (command == "audit") {
    if (args.empty() || args[0] != "verify") {
      std::cerr << "approval-broker: audit needs a subcommand: verify\n";
      return kExitUsage;
    }
    command = "audit verify";
    args.erase(args.begin());
  }
  if (command != "serve" && command != "migrate" && command != "audit verify") {
    std::cerr << "approval-broker: unknown command \"" << command << "\"\n"
              << kUsage;
    return kExitUsage;
  }
  absl::StatusOr<Flags> flags = ParseFlags(args);
  if (!flags.ok()) return Fail(command, flags.status(), kExitUsage);
  absl::StatusOr<Config> config = ResolveConfig(*flags);
  if (!config.ok()) return Fail("config", config.status(), kExitUsage);
  if (command == "serve") return RunServe(*config);
  if (command == "migrate") return RunMigrate(*config);
  return RunVerify(*config);
}

}  // namespace
}  // namespace approval

int main(int argc, char** argv) { return approval::Main(argc, argv); }
