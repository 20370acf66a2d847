// deploy/prometheus and deploy/grafana against a real approval-broker
// process on the test PostgreSQL: every metric the rules and the dashboard
// query is one the broker exports, and Debian's Prometheus scrapes the
// broker, evaluates the rules and answers /api/v1/query with its series.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "approval/v1/approval.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "nlohmann/json.hpp"
#include "tests/support/broker/broker_harness.h"
#include "tests/support/certs/test_certs.h"
#include "tests/support/keys/test_keys.h"
#include "tests/support/pg/pg_fixture.h"
#include "tests/support/process/serve_process.h"
#include "wire/sha256.h"

namespace approval::testing {
namespace {

const std::string kRulesFile =
    APPROVAL_SOURCE_DIR "/deploy/prometheus/approval-broker.rules.yml";
const std::string kDashboardFile =
    APPROVAL_SOURCE_DIR "/deploy/grafana/approval-broker.dashboard.json";

// identity -> (token, roles); alice may request and review.
const std::map<std::string, std::pair<std::string, std::vector<std::string>>>&
Identities() {
  static const auto* const kIdentities =
      new std::map<std::string,
                   std::pair<std::string, std::vector<std::string>>>{
          {"agent-1", {"deploy-test-agent-token", {"agent"}}},
          {"alice", {"deploy-test-alice-token", {"reviewer", "agent"}}},
          {"bob", {"deploy-test-bob-token", {"reviewer"}}},
      };
  return *kIdentities;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// A child process with its stdout and stderr in `log`, killed (SIGTERM, then
// SIGKILL after 30 s) when this object goes away.
class Child final {
 public:
  Child(std::vector<std::string> argv, std::string log) : log_(std::move(log)) {
    pid_ = fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      FILE* out = freopen(log_.c_str(), "w", stderr);
      if (out != nullptr) dup2(fileno(stderr), fileno(stdout));
      std::vector<char*> args;
      for (std::string& a : argv) args.push_back(a.data());
      args.push_back(nullptr);
      execv(args[0], args.data());
      _exit(127);
    }
  }
  ~Child() { Stop(); }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  std::string Log() const { return ReadFile(log_); }
  void Signal(int sig) const { REQUIRE(kill(pid_, sig) == 0); }

  // SIGTERM and a bounded wait; true if it exited with status 0.
  bool Stop() {
    if (pid_ <= 0) return true;
    kill(pid_, SIGTERM);
    int status = 0;
    pid_t done = 0;
    const absl::Time give_up = absl::Now() + absl::Seconds(30);
    while ((done = waitpid(pid_, &status, WNOHANG)) == 0 &&
           absl::Now() < give_up) {
      absl::SleepFor(absl::Milliseconds(20));
    }
    if (done == 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, &status, 0);
    }
    pid_ = 0;
    return done > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
  }

 private:
  std::string log_;
  pid_t pid_ = 0;
};

// `approval-broker serve` on loopback ports with the identities above and a
// policy file (so SIGHUP reloads it).
class Broker final {
 public:
  Broker(const TestDatabase& db, const TempDir& dir) {
    nlohmann::json tokens = nlohmann::json::array();
    for (const auto& [identity, token_roles] : Identities()) {
      tokens.push_back({{"sha256", Sha256Hex(token_roles.first)},
                        {"identity", identity},
                        {"roles", token_roles.second}});
    }
    const std::string policy =
        dir.Write("policy.json",
                  nlohmann::json{{"groups", {{"reviewers", {"alice", "bob"}}}},
                                 {"rules",
                                  {{{"name", "everything"},
                                    {"action", "*"},
                                    {"reviewer_groups", {"reviewers"}}}}}}
                      .dump());
    const std::string config = dir.Write(
        "config.json",
        nlohmann::json{
            {"database_url", db.app_url()},
            {"listen_address", "127.0.0.1:0"},
            {"metrics_address", "127.0.0.1:0"},
            {"policy_file", policy},
            {"fingerprint_key_file",
             dir.Write("fingerprint.key",
                       "test-only fingerprint key, 32+ bytes long")},
            {"signing_key_file", TestSigningKeyFile()},
            {"auth",
             {{"tokens_file",
               dir.Write("tokens.json",
                         nlohmann::json{{"tokens", tokens}}.dump())}}}}
            .dump());
    process_ =
        std::make_unique<ServeProcess>(config, dir.path() + "/broker.log");
    process_->Start();
    stub_ = v1::ApprovalBroker::NewStub(
        grpc::CreateChannel(address(), grpc::InsecureChannelCredentials()));
  }

  const std::string& address() const { return process_->address(); }
  int metrics_port() const { return process_->metrics_port(); }
  const ServeProcess& process() const { return *process_; }

  std::unique_ptr<grpc::ClientContext> Context(const std::string& identity) {
    auto ctx = std::make_unique<grpc::ClientContext>();
    if (!identity.empty()) {
      ctx->AddMetadata("authorization",
                       "Bearer " + Identities().at(identity).first);
    }
    ctx->set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
    return ctx;
  }

  // Calls that give every labelled series the rules and the dashboard use
  // at least one sample: requests, reviews, a decision, refusals, a
  // self-approval attempt and a policy reload.
  void MakeTraffic() {
    v1::RequestApprovalRequest req;
    req.set_action("db.export");
    req.set_resource("postgres://prod/customers");
    req.set_parameters_json(R"({"table":"customers"})");
    req.set_justification("monthly report");
    v1::RequestApprovalResponse by_agent;
    REQUIRE(
        stub_->RequestApproval(Context("agent-1").get(), req, &by_agent).ok());
    v1::RequestApprovalResponse by_alice;
    REQUIRE(
        stub_->RequestApproval(Context("alice").get(), req, &by_alice).ok());

    v1::DecideRequest decide;
    v1::DecideResponse decided;
    decide.set_verdict(v1::APPROVE);
    decide.set_approval_id(by_agent.approval().id());
    REQUIRE(stub_->Decide(Context("bob").get(), decide, &decided).ok());
    decide.set_approval_id(by_alice.approval().id());
    REQUIRE(
        stub_->Decide(Context("alice").get(), decide, &decided).error_code() ==
        grpc::StatusCode::PERMISSION_DENIED);
    REQUIRE(stub_->Decide(Context("").get(), decide, &decided).error_code() ==
            grpc::StatusCode::UNAUTHENTICATED);

    process_->Signal(SIGHUP);
    REQUIRE(
        AwaitMetric(R"(approval_reloads_total{result="ok",what="policy"} 1)"));
  }

  std::string Metrics() const {
    const std::string response = HttpGet(metrics_port(), "/metrics");
    const size_t body = response.find("\r\n\r\n");
    return body == std::string::npos ? "" : response.substr(body + 4);
  }

  bool AwaitMetric(const std::string& line) const {
    const absl::Time give_up = absl::Now() + absl::Seconds(30);
    while (absl::Now() < give_up) {
      if (Metrics().find(line) != std::string::npos) return true;
      absl::SleepFor(absl::Milliseconds(20));
    }
    return false;
  }

 private:
  std::unique_ptr<ServeProcess> process_;
  std::unique_ptr<v1::ApprovalBroker::Stub> stub_;
};

// Names of the samples in a Prometheus text exposition (histograms appear
// as their _bucket, _sum and _count samples).
std::set<std::string> SampleNames(const std::string& exposition) {
  std::set<std::string> names;
  for (absl::string_view line : absl::StrSplit(exposition, '\n')) {
    if (line.empty() || line[0] == '#') continue;
    names.insert(std::string(line.substr(0, line.find_first_of("{ "))));
  }
  return names;
}

struct Reference {
  std::string where;
  std::string name;
};

// tests/deploy/promql_names.py over the rules and the dashboard.
std::vector<Reference> QueriedNames() {
  const std::string command = absl::StrCat(
      "python3 '", APPROVAL_SOURCE_DIR, "/tests/deploy/promql_names.py' '",
      kRulesFile, "' '", kDashboardFile, "'");
  FILE* pipe = popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), pipe)) > 0) out.append(buf, n);
  REQUIRE(pclose(pipe) == 0);
  std::vector<Reference> refs;
  for (absl::string_view line : absl::StrSplit(out, '\n', absl::SkipEmpty())) {
    std::vector<std::string> parts = absl::StrSplit(line, '\t');
    REQUIRE(parts.size() == 2);
    refs.push_back({parts[0], parts[1]});
  }
  return refs;
}

std::string UrlEncode(absl::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (absl::ascii_isalnum(c) || c == '-' || c == '_' || c == '.' ||
        c == '~') {
      out += static_cast<char>(c);
    } else {
      absl::StrAppend(&out, "%", absl::Hex(c, absl::kZeroPad2));
    }
  }
  return out;
}

// GET /api/v1/<path> on a Prometheus; the JSON body, or null if the call
// failed or the body is not JSON.
// The port Prometheus bound for --web.listen-address=127.0.0.1:0, from its
// log line `msg="Listening on" address=127.0.0.1:PORT`; 0 if it did not say
// so within 60 s.
int AwaitListeningPort(const Child& prometheus) {
  const std::string kLine = "msg=\"Listening on\" address=127.0.0.1:";
  const absl::Time give_up = absl::Now() + absl::Seconds(60);
  while (absl::Now() < give_up) {
    const std::string log = prometheus.Log();
    const size_t at = log.find(kLine);
    if (at != std::string::npos) {
      const size_t from = at + kLine.size();
      const size_t end = log.find_first_not_of("0123456789", from);
      int port = 0;
      if (end != std::string::npos &&
          absl::SimpleAtoi(log.substr(from, end - from), &port)) {
        return port;
      }
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
  return 0;
}

nlohmann::json PrometheusApi(int port, const std::string& path) {
  const std::string response = HttpGet(port, "/api/v1/" + path);
  const size_t body = response.find("\r\n\r\n");
  if (body == std::string::npos) return nullptr;
  return nlohmann::json::parse(response.substr(body + 4), nullptr,
                               /*allow_exceptions=*/false);
}

// Polls an instant query every 100 ms for up to 60 s until it returns at
// least one series; returns the last "result" array seen.
nlohmann::json AwaitSeries(int port, const std::string& query) {
  nlohmann::json result = nlohmann::json::array();
  const absl::Time give_up = absl::Now() + absl::Seconds(60);
  while (absl::Now() < give_up) {
    nlohmann::json answer =
        PrometheusApi(port, "query?query=" + UrlEncode(query));
    if (answer.is_object() && answer.value("status", "") == "success") {
      result = answer["data"]["result"];
      if (!result.empty()) break;
    }
    absl::SleepFor(absl::Milliseconds(100));
  }
  return result;
}

TEST_CASE(
    "every metric the alert rules and the dashboard query is on the "
    "broker's /metrics",
    "[deploy][postgres]") {
  TestDatabase db;
  TempDir dir;
  Broker broker(db, dir);
  broker.MakeTraffic();
  const std::string exposition = broker.Metrics();
  const std::set<std::string> exported = SampleNames(exposition);
  INFO("/metrics:\n" << exposition);

  const std::vector<Reference> refs = QueriedNames();
  // The rules and the dashboard between them use most of what the broker
  // exports; far fewer names means the extractor lost them.
  REQUIRE(refs.size() >= 30);
  for (const Reference& ref : refs) {
    // `up` is the one series Prometheus itself writes for every target.
    if (ref.name == "up") continue;
    INFO(ref.where << " queries " << ref.name);
    CHECK(exported.count(ref.name) == 1);
  }
}

TEST_CASE(
    "Prometheus scrapes the broker, loads the rules and answers "
    "/api/v1/query with the broker's series",
    "[deploy][postgres]") {
  TestDatabase db;
  TempDir dir;
  Broker broker(db, dir);

  const std::string config =
      dir.Write("prometheus.yml", absl::StrCat("global:\n"
                                               "  scrape_interval: 1s\n"
                                               "  evaluation_interval: 1s\n"
                                               "rule_files:\n"
                                               "  - '",
                                               kRulesFile,
                                               "'\n"
                                               "scrape_configs:\n"
                                               "  - job_name: approval-broker\n"
                                               "    static_configs:\n"
                                               "      - targets: ['127.0.0.1:",
                                               broker.metrics_port(), "']\n"));
  Child prometheus({APPROVAL_PROMETHEUS_BINARY, "--config.file=" + config,
                    "--storage.tsdb.path=" + dir.path() + "/tsdb",
                    "--web.listen-address=127.0.0.1:0", "--log.level=info"},
                   dir.path() + "/prometheus.log");
  INFO("prometheus log:\n" << prometheus.Log());
  const int port = AwaitListeningPort(prometheus);
  REQUIRE(port > 0);

  // The broker's own series, as scraped.
  const nlohmann::json pending =
      AwaitSeries(port, R"(approval_pending{job="approval-broker"})");
  REQUIRE(pending.size() == 1);
  CHECK(pending[0]["metric"]["instance"] ==
        absl::StrCat("127.0.0.1:", broker.metrics_port()));
  CHECK(pending[0]["value"][1] == "0");
  const nlohmann::json up = AwaitSeries(port, R"(up{job="approval-broker"})");
  REQUIRE(up.size() == 1);
  CHECK(up[0]["value"][1] == "1");

  // A recording rule evaluated over them, and no rule in error.
  const nlohmann::json recorded =
      AwaitSeries(port, R"(job:approval_pending:max{job="approval-broker"})");
  REQUIRE(recorded.size() == 1);
  CHECK(recorded[0]["value"][1] == "0");
  const nlohmann::json rules = PrometheusApi(port, "rules");
  REQUIRE(rules.is_object());
  int alerting = 0;
  for (const nlohmann::json& group : rules["data"]["groups"]) {
    for (const nlohmann::json& rule : group["rules"]) {
      INFO(group["name"] << ": " << rule.value("name", "") << " "
                         << rule.value("lastError", ""));
      CHECK(rule.value("health", "") != "err");
      if (rule.value("type", "") == "alerting") ++alerting;
    }
  }
  CHECK(alerting >= 10);
  CHECK(prometheus.Stop());
}

}  // namespace
}  // namespace approval::testing
