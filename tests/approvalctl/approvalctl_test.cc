// The approvalctl binary end to end against an in-process broker on a real
// PostgreSQL: what a reviewer sees, what a script parses, and which exit
// code each kind of failure gets.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <ostream>
#include <regex>
#include <set>
#include <sstream>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "nlohmann/json.hpp"
#include "pqxx/pqxx"
#include "server/domain/token_signer.h"
#include "tests/support/broker/broker_harness.h"
#include "tests/support/certs/test_certs.h"
#include "tests/support/pg/pg_fixture.h"
#include "tests/support/token_claims.h"
#include "tests/support/webhook/webhook_receiver.h"

namespace approval::testing {
namespace {

using Json = nlohmann::json;

// No approval has this id (version-4 UUIDs come from a random source).
constexpr char kUnknownId[] = "00000000-0000-4000-8000-000000000000";
constexpr absl::Duration kRunLimit = absl::Seconds(60);

// A running approvalctl with stdin on /dev/null, stdout and stderr on pipes
// and exactly the environment given. Killed (if still running) and reaped
// on destruction.
class CtlProcess final {
 public:
  CtlProcess(const std::vector<std::string>& args,
             const std::vector<std::string>& env) {
    int out[2], err[2];
    REQUIRE(pipe2(out, O_CLOEXEC) == 0);
    REQUIRE(pipe2(err, O_CLOEXEC) == 0);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&actions, out[1], 1);
    posix_spawn_file_actions_adddup2(&actions, err[1], 2);
    std::vector<char*> argv = {const_cast<char*>(APPROVALCTL_BINARY)};
    for (const std::string& a : args)
      argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    // Hermetic: only the given variables, plus the sanitizers' settings of a
    // sanitized test build (they change nothing approvalctl does).
    std::vector<std::string> vars = env;
    for (const char* name : {"ASAN_OPTIONS", "LSAN_OPTIONS", "UBSAN_OPTIONS"}) {
      if (const char* value = std::getenv(name); value != nullptr) {
        vars.push_back(absl::StrCat(name, "=", value));
      }
    }
    std::vector<char*> envp;
    for (const std::string& e : vars)
      envp.push_back(const_cast<char*>(e.c_str()));
    envp.push_back(nullptr);
    int rc = posix_spawn(&pid_, APPROVALCTL_BINARY, &actions, nullptr,
                         argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    close(out[1]);
    close(err[1]);
    fds_[0] = out[0];
    fds_[1] = err[0];
    REQUIRE(rc == 0);
  }

  ~CtlProcess() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    for (int fd : fds_) {
      if (fd >= 0) close(fd);
    }
  }

  CtlProcess(const CtlProcess&) = delete;
  CtlProcess& operator=(const CtlProcess&) = delete;

  // Reads both pipes until stdout (or stderr) contains `needle`; false if
  // `timeout` passes or the pipes close first.
  bool ReadUntil(bool from_stderr, const std::string& needle,
                 absl::Duration timeout) {
    absl::Time deadline = absl::Now() + timeout;
    const std::string& text = from_stderr ? err_ : out_;
    while (text.find(needle) == std::string::npos) {
      if (!Pump(deadline)) return text.find(needle) != std::string::npos;
    }
    return true;
  }

  // Reads both pipes to the end and reaps the process: its exit code, or -1
  // if it did not end within `timeout` (it is killed then).
  int Wait(absl::Duration timeout) {
    absl::Time deadline = absl::Now() + timeout;
    while (Pump(deadline)) {
    }
    bool timed_out = fds_[0] >= 0 || fds_[1] >= 0;
    if (timed_out) kill(pid_, SIGKILL);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    if (timed_out || !WIFEXITED(status)) return -1;
    return WEXITSTATUS(status);
  }

  const std::string& out() const { return out_; }
  const std::string& err() const { return err_; }

 private:
  // Waits (until `deadline`) for output and appends what is there. False
  // once both pipes are closed or the deadline has passed.
  bool Pump(absl::Time deadline) {
    pollfd p[2] = {{fds_[0], POLLIN, 0}, {fds_[1], POLLIN, 0}};
    if (fds_[0] < 0 && fds_[1] < 0) return false;
    absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) return false;
    int n = poll(p, 2, static_cast<int>(absl::ToInt64Milliseconds(left)) + 1);
    if (n < 0 && errno != EINTR) return false;
    std::string* sinks[2] = {&out_, &err_};
    for (int i = 0; i < 2; ++i) {
      if (fds_[i] < 0 || (p[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) {
        continue;
      }
      char buf[4096];
      ssize_t got = read(fds_[i], buf, sizeof(buf));
      if (got > 0) {
        sinks[i]->append(buf, got);
      } else if (got == 0 || errno != EINTR) {
        close(fds_[i]);
        fds_[i] = -1;
      }
    }
    return true;
  }

  pid_t pid_ = -1;
  int fds_[2] = {-1, -1};
  std::string out_, err_;
};

struct CtlResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

std::ostream& operator<<(std::ostream& os, const CtlResult& r) {
  return os << "exit " << r.exit_code << "\n--- stdout\n"
            << r.out << "--- stderr\n"
            << r.err;
}

CtlResult RunCtl(const std::vector<std::string>& args,
                 const std::vector<std::string>& env = {}) {
  CtlProcess p(args, env);
  CtlResult r;
  r.exit_code = p.Wait(kRunLimit);
  r.out = p.out();
  r.err = p.err();
  return r;
}

// A broker on a fresh database, with a wide table for approvalctl.
struct Broker {
  explicit Broker(Config config = HarnessConfig())
      : store(db.OpenAppStore()), h(*store, std::move(config)) {}

  // approvalctl's environment to call the broker as `identity`.
  std::vector<std::string> As(const std::string& identity) const {
    return {"APPROVAL_BROKER_ADDR=" + h.address(),
            "APPROVAL_BROKER_TOKEN=" + h.Token(identity), "COLUMNS=200"};
  }

  std::string Request(const std::string& identity,
                      const std::string& table = "customers") {
    v1::RequestApprovalResponse resp;
    grpc::Status s = h.Request(identity, ExportRequest(table), &resp);
    INFO(s.error_message());
    REQUIRE(s.ok());
    return resp.approval().id();
  }

  v1::Approval Get(const std::string& id) {
    v1::Approval a;
    REQUIRE(h.Get("alice", id, &a).ok());
    return a;
  }

  TestDatabase db;
  std::unique_ptr<PostgresStore> store;
  BrokerHarness h;
};

Json ParseJson(const std::string& text) {
  INFO(text);
  Json j = Json::parse(text, nullptr, false);
  REQUIRE_FALSE(j.is_discarded());
  return j;
}

TEST_CASE("pending shows a request made by agent-1 as a table",
          "[approvalctl][postgres]") {
  Broker b;
  std::string id = b.Request("agent-1");
  CtlResult r = RunCtl({"pending"}, b.As("alice"));
  INFO(r);
  REQUIRE(r.exit_code == 0);
  std::vector<std::string> lines =
      absl::StrSplit(r.out, '\n', absl::SkipEmpty());
  REQUIRE(lines.size() == 2);
  CHECK_THAT(lines[0], Catch::StartsWith("ID"));
  CHECK_THAT(lines[0], Catch::Contains("REQUESTER"));
  CHECK_THAT(lines[0], Catch::Contains("APPROVALS"));
  CHECK_THAT(lines[0], Catch::Contains("PARAMETERS"));
  CHECK_THAT(lines[1], Catch::StartsWith(id));
  CHECK_THAT(lines[1], Catch::Contains("agent-1"));
  CHECK_THAT(lines[1], Catch::Contains(" 0/1 "));
  CHECK_THAT(lines[1], Catch::Contains("db.export"));
  CHECK_THAT(lines[1], Catch::Contains("postgres://prod/customers"));
  CHECK_THAT(lines[1], Catch::Contains(R"({"rows":1200,"table":"customers"})"));
}

TEST_CASE("pending truncates the parameters preview to the width",
          "[approvalctl][postgres]") {
  Broker b;
  b.Request("agent-1");
  std::vector<std::string> env = b.As("alice");
  env.back() = "COLUMNS=120";
  CtlResult r = RunCtl({"pending"}, env);
  INFO(r);
  REQUIRE(r.exit_code == 0);
  for (absl::string_view line :
       absl::StrSplit(r.out, '\n', absl::SkipEmpty())) {
    // Columns: each "…" is 3 bytes but 1 column.
    size_t ellipses = 0;
    for (size_t at = line.find("…"); at != absl::string_view::npos;
         at = line.find("…", at + 1)) {
      ++ellipses;
    }
    CHECK(line.size() - 2 * ellipses <= 120);
  }
  CHECK_THAT(r.out, Catch::Contains("…"));
}

TEST_CASE("approve records the reviewer and the comment",
          "[approvalctl][postgres]") {
  Broker b;
  std::string id = b.Request("agent-1");
  CtlResult r =
      RunCtl({"approve", id, "-m", "reviewed the query"}, b.As("alice"));
  INFO(r);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::StartsWith("approved " + id));
  v1::Approval a = b.Get(id);
  CHECK(a.state() == v1::APPROVED);
  CHECK(a.decided_by() == "alice");
  CHECK(a.decision_comment() == "reviewed the query");
}

TEST_CASE("deny records the reviewer and the comment",
          "[approvalctl][postgres]") {
  Broker b;
  std::string id = b.Request("agent-1");
  CtlResult r = RunCtl({"deny", id, "--message=too broad"}, b.As("bob"));
  INFO(r);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::StartsWith("denied " + id));
  v1::Approval a = b.Get(id);
  CHECK(a.state() == v1::DENIED);
  CHECK(a.decided_by() == "bob");
  CHECK(a.decision_comment() == "too broad");
}

TEST_CASE("deciding an already decided approval exits 6",
          "[approvalctl][postgres]") {
  Broker b;
  std::string id = b.Request("agent-1");
  REQUIRE(RunCtl({"deny", id}, b.As("bob")).exit_code == 0);
  CtlResult r = RunCtl({"approve", id}, b.As("alice"));
  INFO(r);
  CHECK(r.exit_code == 6);
  CHECK_THAT(r.err, Catch::Contains("cannot approve"));
  CHECK_THAT(r.err, Catch::Contains("already DENIED"));
  CHECK(b.Get(id).state() == v1::DENIED);
}

TEST_CASE("self-approval is refused in words a person understands",
          "[approvalctl][postgres]") {
  Broker b;
  std::string id = b.Request("root");
  CtlResult r = RunCtl({"approve", id, "-m", "mine"}, b.As("root"));
  INFO(r);
  CHECK(r.exit_code == 5);
  CHECK_THAT(r.err,
             Catch::Contains(
                 "you requested this approval; another reviewer must decide"));
  CHECK(r.out.empty());
  CHECK(b.Get(id).state() == v1::PENDING);
}

TEST_CASE("an unknown approval exits 3", "[approvalctl][postgres]") {
  Broker b;
  CtlResult show = RunCtl({"show", kUnknownId}, b.As("alice"));
  INFO(show);
  CHECK(show.exit_code == 3);
  CHECK_THAT(show.err, Catch::Contains(kUnknownId));
  CtlResult approve = RunCtl({"approve", kUnknownId}, b.As("alice"));
  INFO(approve);
  CHECK(approve.exit_code == 3);
}

TEST_CASE("another agent's approval looks unknown to an agent",
          "[approvalctl][postgres]") {
  Broker b;
  std::string id = b.Request("agent-1");
  CtlResult r = RunCtl({"show", id}, b.As("agent-2"));
  INFO(r);
  CHECK(r.exit_code == 3);
}

TEST_CASE("a bad or missing token exits 4", "[approvalctl][postgres]") {
  Broker b;
  std::vector<std::string> env = b.As("alice");
  env[1] = "APPROVAL_BROKER_TOKEN=not-a-real-token";
  CtlResult bad = RunCtl({"pending"}, env);
  INFO(bad);
  CHECK(bad.exit_code == 4);
  CHECK_THAT(bad.err, Catch::Contains("not authenticated"));
  CHECK_THAT(bad.err, !Catch::Contains("not-a-real-token"));
  CtlResult none = RunCtl({"pending", "--addr", b.h.address()});
  INFO(none);
  CHECK(none.exit_code == 4);
  CtlResult watch = RunCtl({"watch"}, env);
  INFO(watch);
  CHECK(watch.exit_code == 4);
  CHECK_THAT(watch.err, !Catch::Contains("watching"));
}

TEST_CASE("a role the command needs is missing: exit 5",
          "[approvalctl][postgres]") {
  Broker b;
  std::string id = b.Request("agent-1");
  CtlResult r = RunCtl({"approve", id}, b.As("agent-2"));
  INFO(r);
  CHECK(r.exit_code == 5);
  CHECK_THAT(r.err, Catch::Contains("needs role reviewer"));
}

TEST_CASE("an address nothing listens on exits 7", "[approvalctl]") {
  // A bound socket that never listens refuses connections, and no other
  // process can take its port meanwhile.
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
  socklen_t len = sizeof(addr);
  REQUIRE(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
  std::string address = absl::StrCat("127.0.0.1:", ntohs(addr.sin_port));
  CtlResult r = RunCtl({"pending", "--addr", address, "--token", "t"});
  close(fd);
  INFO(r);
  CHECK(r.exit_code == 7);
  CHECK_THAT(r.err, Catch::Contains(address));
}

TEST_CASE("invalid usage exits 2 and names the mistake", "[approvalctl]") {
  struct Case {
    std::vector<std::string> args;
    std::string says;
  };
  std::vector<Case> cases = {
      {{}, "missing command"},
      {{"frobnicate"}, "unknown command frobnicate"},
      {{"approve"}, "missing the approval ID"},
      {{"show", "a", "b"}, "unexpected argument b"},
      {{"pending", "--colour"}, "unknown flag --colour"},
      {{"pending", "-o", "xml"}, "'xml' is not one of text, json, yaml, wide"},
      {{"watch", "-o", "yaml"},
       "-o yaml is for show, pending, ls, history and webhooks"},
      {{"ls", "--state", "approvd"}, "--state: 'approvd' is not one of"},
      {{"history", "--state", "pending"}, "history: lists final states only"},
      {{"pending", "--state", "denied"}, "pending: does not take --state"},
      {{"ls", "--limit", "-1"}, "--limit: '-1' is not a count"},
      {{"show", "x", "--limit", "3"}, "show: does not take --limit"},
      {{"ls", "--since", "yesterday"}, "--since: 'yesterday' is neither"},
      {{"ls", "--requester="}, "--requester: must not be empty"},
      {{"completion", "fish"}, "'completion bash' and 'completion zsh'"},
      {{"pending", "-m", "why"}, "does not take -m"},
      {{"watch", "--after", "-3"}, "--after"},
      {{"audit"}, "audit verify"},
      {{"pending", "--timeout", "soon"}, "--timeout"},
      {{"pending", "--cert", "c.pem"}, "--cert and --key"},
      {{"pending", "--ca", "/nonexistent/ca.pem"}, "/nonexistent/ca.pem"},
      {{"pending", "--token"}, "--token: needs a value"},
  };
  for (const Case& c : cases) {
    CtlResult r = RunCtl(c.args);
    INFO(absl::StrJoin(c.args, " ") << "\n" << r);
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.err, Catch::Contains(c.says));
  }
}

TEST_CASE("a malformed approval id from the broker exits 2",
          "[approvalctl][postgres]") {
  Broker b;
  CtlResult r = RunCtl({"show", "not-a-uuid"}, b.As("alice"));
  INFO(r);
  CHECK(r.exit_code == 2);
}

TEST_CASE("help lists the commands and every exit code", "[approvalctl]") {
  CtlResult r = RunCtl({"--help"});
  INFO(r);
  REQUIRE(r.exit_code == 0);
  for (const char* command :
       {"pending", "show ID", "approve ID", "deny ID", "watch", "audit verify",
        "audit export", "signing-key", "token verify --key KEYFILE TOKEN"}) {
    CHECK_THAT(r.out, Catch::Contains(command));
  }
  for (int code = 0; code <= 12; ++code) {
    CHECK_THAT(r.out, Catch::Contains(
                          absl::StrCat(code < 10 ? "   " : "  ", code, "  ")));
  }
}

// "N  meaning" of each exit code, from the lines after `heading` up to the
// first blank line, each line matched by `row` (groups: code, meaning).
std::vector<std::pair<int, std::string>> ExitCodeRows(
    const std::string& text, const std::string& heading,
    const std::regex& row) {
  std::vector<std::pair<int, std::string>> rows;
  const size_t start = text.find(heading);
  if (start == std::string::npos) return rows;
  std::istringstream lines(text.substr(start + heading.size()));
  std::string line;
  std::getline(lines, line);  // the rest of the heading's line
  while (std::getline(lines, line)) {
    if (line.empty()) {
      if (rows.empty()) continue;  // blank lines before the table
      break;
    }
    std::smatch m;
    if (std::regex_match(line, m, row)) {
      rows.emplace_back(std::stoi(m[1]), m[2]);
    }
  }
  return rows;
}

TEST_CASE("the README's exit-code table is the one approvalctl --help prints",
          "[approvalctl]") {
  CtlResult help = RunCtl({"--help"});
  REQUIRE(help.exit_code == 0);
  std::ifstream file(APPROVAL_README);
  REQUIRE(file.good());
  const std::string readme((std::istreambuf_iterator<char>(file)),
                           std::istreambuf_iterator<char>());

  const auto from_help =
      ExitCodeRows(help.out, "Exit codes:", std::regex(R"(  +(\d+)  (.+))"));
  const auto from_readme = ExitCodeRows(readme, "**Exit codes:**",
                                        std::regex(R"(\| (\d+) \| (.+) \|)"));
  INFO("--help:\n" << help.out);
  REQUIRE(from_help.size() >= 12);
  CHECK(from_readme == from_help);
}

TEST_CASE("json output parses and has the approval fields",
          "[approvalctl][postgres]") {
  Broker b;
  std::string id = b.Request("agent-1");

  CtlResult show = RunCtl({"show", id, "-o", "json"}, b.As("alice"));
  INFO(show);
  REQUIRE(show.exit_code == 0);
  Json a = ParseJson(show.out);
  CHECK(a["id"] == id);
  CHECK(a["state"] == "PENDING");
  CHECK(a["requester"] == "agent-1");
  CHECK(a["action"] == "db.export");
  CHECK(a["resource"] == "postgres://prod/customers");
  CHECK(a["parameters_preview_json"] == R"({"rows":1200,"table":"customers"})");
  CHECK(a["requirement"]["approvals_required"] == 1);
  CHECK(a["approvals_missing"] == 1);
  CHECK(a["approval_token"] == "");
  CHECK(a["decided_by"] == "");
  CHECK(a["create_time"].is_string());

  CtlResult pending = RunCtl({"pending", "--output", "json"}, b.As("alice"));
  INFO(pending);
  REQUIRE(pending.exit_code == 0);
  Json list = ParseJson(pending.out);
  REQUIRE(list["approvals"].size() == 1);
  CHECK(list["approvals"][0]["id"] == id);

  CtlResult approve =
      RunCtl({"approve", id, "-m", "ok", "--output=json"}, b.As("bob"));
  INFO(approve);
  REQUIRE(approve.exit_code == 0);
  Json decided = ParseJson(approve.out);
  CHECK(decided["state"] == "APPROVED");
  CHECK(decided["decided_by"] == "bob");
  CHECK(decided["decision_comment"] == "ok");
  CHECK(decided["reviews"].size() == 1);
  CHECK(decided["approval_token"] != "");

  CtlResult empty = RunCtl({"pending", "-o", "json"}, b.As("alice"));
  INFO(empty);
  REQUIRE(empty.exit_code == 0);
  CHECK(ParseJson(empty.out)["approvals"].empty());
}

TEST_CASE("show prints every field for a person", "[approvalctl][postgres]") {
  Broker b;
  std::string id = b.Request("agent-1");
  CtlResult r = RunCtl({"show", id}, b.As("alice"));
  INFO(r);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::Contains("state:           PENDING"));
  CHECK_THAT(r.out, Catch::Contains("justification:   quarterly report"));
  CHECK_THAT(r.out, Catch::Contains("\"table\": \"customers\""));
}

TEST_CASE("text output escapes terminal controls an agent sent",
          "[approvalctl][postgres]") {
  Broker b;
  v1::RequestApprovalRequest req = ExportRequest();
  // An escape that would clear the screen, and a right-to-left override
  // that would show "txt.exe" as "exe.txt".
  req.set_justification("routine\x1b[2J");
  req.set_resource("s3://bucket/\u202etxt.exe");
  v1::RequestApprovalResponse resp;
  grpc::Status s = b.h.Request("agent-1", req, &resp);
  INFO(s.error_message());
  REQUIRE(s.ok());
  for (const char* command : {"show", "pending"}) {
    std::vector<std::string> args = {command};
    if (args[0] == "show") args.push_back(resp.approval().id());
    CtlResult r = RunCtl(args, b.As("alice"));
    INFO(r);
    REQUIRE(r.exit_code == 0);
    CHECK(r.out.find('\x1b') == std::string::npos);
    CHECK(r.out.find("\u202e") == std::string::npos);
    CHECK_THAT(r.out, Catch::Contains("s3://bucket/\\u202etxt.exe"));
  }
  CtlResult show = RunCtl({"show", resp.approval().id()}, b.As("alice"));
  CHECK_THAT(show.out, Catch::Contains("routine\\x1b[2J"));
}

TEST_CASE("audit verify as an admin says OK and exits 9 once broken",
          "[approvalctl][postgres]") {
  Broker b;
  std::string id = b.Request("agent-1");
  REQUIRE(RunCtl({"deny", id}, b.As("alice")).exit_code == 0);

  CtlResult ok = RunCtl({"audit", "verify"}, b.As("root"));
  INFO(ok);
  CHECK(ok.exit_code == 0);
  // created, reviewed, denied
  CHECK_THAT(ok.out, Catch::Contains("audit chain OK: 3 events verified"));
  CtlResult json = RunCtl({"audit", "verify", "-o", "json"}, b.As("root"));
  INFO(json);
  CHECK(json.exit_code == 0);
  Json verified = ParseJson(json.out);
  CHECK(verified["verified"] == true);
  CHECK(verified["events_verified"] == "3");

  // The head it reports proves, later, that nothing was cut off since.
  const std::string head =
      absl::StrCat(verified["head_seq"].get<std::string>(), ":",
                   verified["head_hash"].get<std::string>());
  CHECK(RunCtl({"audit", "verify", "--expect-head", head}, b.As("root"))
            .exit_code == 0);
  CtlResult rewritten =
      RunCtl({"audit", "verify", "--expect-head", "1:" + std::string(64, '0')},
             b.As("root"));
  INFO(rewritten);
  CHECK(rewritten.exit_code == 9);
  CHECK_THAT(rewritten.out, Catch::Contains("history was rewritten"));
  CHECK(RunCtl({"audit", "verify", "--expect-head", "3"}, b.As("root"))
            .exit_code == 2);

  CtlResult reviewer = RunCtl({"audit", "verify"}, b.As("alice"));
  INFO(reviewer);
  CHECK(reviewer.exit_code == 5);

  b.db.TamperWithAuditLog(
      "UPDATE audit_events SET actor = 'mallory' WHERE seq = 2");
  CtlResult broken = RunCtl({"audit", "verify"}, b.As("root"));
  INFO(broken);
  CHECK(broken.exit_code == 9);
  CHECK_THAT(broken.out, Catch::Contains("audit chain BROKEN: audit event 2"));
}

TEST_CASE("watch on decided approvals prints their outcome and ends",
          "[approvalctl][postgres]") {
  Broker b;
  std::string approved = b.Request("agent-1", "t1");
  std::string denied = b.Request("agent-1", "t2");
  v1::DecideResponse resp;
  REQUIRE(b.h.Decide("alice", approved, v1::APPROVE, &resp).ok());
  REQUIRE(b.h.Decide("bob", denied, v1::DENY, &resp).ok());

  CtlResult one = RunCtl({"watch", approved}, b.As("agent-1"));
  INFO(one);
  CHECK(one.exit_code == 0);
  CHECK_THAT(one.out, Catch::StartsWith("cursor "));
  CHECK_THAT(one.out, Catch::Contains("approved"));
  CHECK_THAT(one.out, Catch::Contains(approved));
  CHECK_THAT(one.out, Catch::Contains("by alice"));

  CtlResult both =
      RunCtl({"watch", approved, denied, "-o", "json"}, b.As("agent-1"));
  INFO(both);
  CHECK(both.exit_code == 10);
  std::vector<std::string> lines =
      absl::StrSplit(both.out, '\n', absl::SkipEmpty());
  REQUIRE(lines.size() == 2);
  Json first = ParseJson(lines[0]);
  Json second = ParseJson(lines[1]);
  CHECK(first["type"] == "EVENT_APPROVED");
  CHECK(second["type"] == "EVENT_DENIED");
  CHECK(second["approval"]["id"] == denied);
  CHECK(std::stoull(second["cursor"].get<std::string>()) >
        std::stoull(first["cursor"].get<std::string>()));
}

TEST_CASE("watch without ids follows new approvals live",
          "[approvalctl][postgres]") {
  Broker b;
  CtlProcess watch({"watch"}, b.As("alice"));
  // Bounded by the broker's answer: "watching" once the subscription is in
  // place, so the request below cannot be missed.
  REQUIRE(watch.ReadUntil(true, "watching", absl::Seconds(30)));
  std::string id = b.Request("agent-1");
  bool seen = watch.ReadUntil(false, id, absl::Seconds(30));
  INFO(watch.out() << watch.err());
  REQUIRE(seen);
  CHECK_THAT(watch.out(), Catch::StartsWith("cursor "));
  CHECK_THAT(watch.out(), Catch::Contains("created"));
  CHECK_THAT(watch.out(), Catch::Contains("by agent-1"));
}

TEST_CASE("approvalctl decides over mTLS as the certificate's identity",
          "[approvalctl][postgres][mtls]") {
  constexpr char kCarol[] = "spiffe://test.example/ops/carol";
  TestPki pki;
  TempDir dir;
  Config config = TlsHarnessConfig(pki, dir);
  config.auth.mtls_identities = {{kCarol, {Role::kReviewer}}};
  Broker b(config);
  PemFiles carol = WriteKeyPair(dir, "carol", pki.Client({kCarol}, "carol"));

  // The harness's own channel is plaintext: request over TLS with a token.
  grpc::SslCredentialsOptions tls;
  tls.pem_root_certs = pki.ca().cert_pem;
  auto stub = v1::ApprovalBroker::NewStub(
      grpc::CreateChannel(absl::StrCat("localhost:", b.h.server().port()),
                          grpc::SslCredentials(tls)));
  v1::RequestApprovalResponse created;
  REQUIRE(stub->RequestApproval(b.h.Context("agent-1").get(), ExportRequest(),
                                &created)
              .ok());
  const std::string id = created.approval().id();

  std::vector<std::string> env = {
      absl::StrCat("APPROVAL_BROKER_ADDR=localhost:", b.h.server().port()),
      "APPROVAL_BROKER_CA=" + dir.path() + "/ca.crt",
      "APPROVAL_BROKER_CERT=" + carol.cert_file,
      "APPROVAL_BROKER_KEY=" + carol.key_file};
  CtlResult r = RunCtl({"approve", id, "-o", "json"}, env);
  INFO(r);
  REQUIRE(r.exit_code == 0);
  CHECK(ParseJson(r.out)["decided_by"] == kCarol);

  // Without the client certificate the broker does not know who calls.
  CtlResult anonymous =
      RunCtl({"pending", "--ca", dir.path() + "/ca.crt"}, {env[0]});
  INFO(anonymous);
  CHECK(anonymous.exit_code == 4);
}

std::vector<std::string> Lines(const std::string& text) {
  return absl::StrSplit(text, '\n', absl::SkipEmpty());
}

TEST_CASE("signing-key prints the broker's public key as PEM",
          "[approvalctl][postgres][token]") {
  Broker b;
  CtlResult text = RunCtl({"signing-key"}, b.As("agent-1"));
  INFO(text);
  REQUIRE(text.exit_code == 0);
  CtlResult json = RunCtl({"signing-key", "-o", "json"}, b.As("agent-1"));
  INFO(json);
  REQUIRE(json.exit_code == 0);
  Json key = ParseJson(json.out);
  CHECK(key["algorithm"] == "Ed25519");

  // The text is a PEM file as it stands: what an agent pins.
  absl::StatusOr<std::string> key_id = KeyIdOf(text.out);
  INFO(key_id.status().ToString());
  REQUIRE(key_id.ok());
  CHECK(*key_id == key["key_id"]);
  CHECK_THAT(text.out, Catch::StartsWith("# key_id: " + *key_id + "\n"));
  CHECK_THAT(text.out, Catch::Contains("-----BEGIN PUBLIC KEY-----"));
  CHECK(KeyIdOf(key["public_key_pem"].get<std::string>()).value_or("") ==
        *key_id);
}

TEST_CASE(
    "show lists the requirement, the reviews and the token, and pending "
    "counts approvals",
    "[approvalctl][postgres]") {
  TempDir dir;
  Broker b(TwoApprovalsConfig(dir));
  std::string id = b.Request("agent-1");
  CtlResult first = RunCtl({"approve", id, "-m", "looks right"}, b.As("alice"));
  INFO(first);
  REQUIRE(first.exit_code == 0);
  // One of two: recorded, not approved, and the output must not say it is.
  CHECK_THAT(first.out,
             Catch::StartsWith("your approve of " + id + " is recorded"));
  CHECK_THAT(first.out,
             Catch::Contains("is still PENDING, 1 more approval needed"));

  CtlResult pending = RunCtl({"pending"}, b.As("bob"));
  INFO(pending);
  REQUIRE(pending.exit_code == 0);
  std::vector<std::string> rows = Lines(pending.out);
  REQUIRE(rows.size() == 2);
  CHECK_THAT(rows[1], Catch::Contains(" 1/2 "));

  CtlResult partial = RunCtl({"show", id}, b.As("bob"));
  INFO(partial);
  REQUIRE(partial.exit_code == 0);
  CHECK_THAT(partial.out, Catch::Contains("state:           PENDING"));
  CHECK_THAT(partial.out, Catch::Contains("rule:            two-eyes"));
  CHECK_THAT(partial.out,
             Catch::Contains("requires:        needs 2 from any reviewer; "
                             "one DENY ends it"));
  CHECK_THAT(partial.out,
             Catch::Contains("approvals:       1 of 2, 1 missing"));
  CHECK_THAT(partial.out, Catch::Contains("reviews:\n"));
  CHECK_THAT(partial.out,
             Catch::Contains("APPROVE  by alice  \"looks right\""));
  CHECK_THAT(partial.out, !Catch::Contains("approval token:"));

  CtlResult second = RunCtl({"approve", id}, b.As("bob"));
  INFO(second);
  REQUIRE(second.exit_code == 0);
  CHECK_THAT(second.out, Catch::StartsWith("approved " + id + ": "));
  v1::Approval approved = b.Get(id);
  REQUIRE(approved.state() == v1::APPROVED);
  CtlResult done = RunCtl({"show", id}, b.As("bob"));
  INFO(done);
  REQUIRE(done.exit_code == 0);
  CHECK_THAT(done.out, Catch::Contains("approvals:       2 of 2\n"));
  CHECK_THAT(done.out, Catch::Contains("APPROVE  by bob\n"));
  CHECK_THAT(
      done.out,
      Catch::Contains("approval token:  " + approved.approval_token() + "\n"));
}

TEST_CASE("token verify checks a real approval's token offline",
          "[approvalctl][postgres][token]") {
  TempDir dir;
  Broker b(TwoApprovalsConfig(dir));
  std::string id = b.Request("agent-1");
  v1::DecideResponse resp;
  REQUIRE(b.h.Decide("alice", id, v1::APPROVE, &resp).ok());
  REQUIRE(b.h.Decide("bob", id, v1::APPROVE, &resp).ok());
  const v1::Approval& a = resp.approval();
  REQUIRE(a.state() == v1::APPROVED);
  const std::string token = a.approval_token();
  REQUIRE_FALSE(token.empty());

  CtlResult key = RunCtl({"signing-key"}, b.As("agent-1"));
  REQUIRE(key.exit_code == 0);
  const std::string key_file = dir.Write("broker.pub.pem", key.out);

  // No broker address or token: the check is offline.
  CtlResult ok = RunCtl({"token", "verify", "--key", key_file, token});
  INFO(ok);
  REQUIRE(ok.exit_code == 0);
  CHECK_THAT(ok.out, Catch::Contains("approval id:     " + id + "\n"));
  CHECK_THAT(ok.out, Catch::Contains("action:          db.export\n"));
  CHECK_THAT(ok.out,
             Catch::Contains("action digest:   " + a.action_digest() + "\n"));
  CHECK_THAT(ok.out, Catch::Contains("approvers:       alice, bob\n"));
  CHECK_THAT(ok.out, Catch::Contains("rule:            two-eyes\n"));
  CHECK_THAT(ok.out, Catch::Contains("(open, closes in "));

  CtlResult json =
      RunCtl({"token", "verify", "--key", key_file, token, "-o", "json"});
  INFO(json);
  REQUIRE(json.exit_code == 0);
  Json claims = ParseJson(json.out);
  CHECK(claims["approval_id"] == id);
  CHECK(claims["approvers"] == Json::array({"alice", "bob"}));

  CtlResult forged = RunCtl({"token", "verify", "--key", key_file,
                             TokenWithApprovers(token, {"mallory"})});
  INFO(forged);
  CHECK(forged.exit_code == 11);
  CHECK(forged.out.empty());
  CHECK_THAT(forged.err, Catch::Contains("token does not verify"));

  const std::string other_key =
      dir.Write("other.pub.pem", TokenSigner::Generate()->public_key_pem());
  CtlResult wrong_key = RunCtl({"token", "verify", "--key", other_key, token});
  INFO(wrong_key);
  CHECK(wrong_key.exit_code == 11);
  CHECK_THAT(wrong_key.err, Catch::Contains("token does not verify"));

  CtlResult no_key = RunCtl({"token", "verify", token});
  INFO(no_key);
  CHECK(no_key.exit_code == 2);
  CHECK_THAT(no_key.err, Catch::Contains("--key"));
}

TEST_CASE("token verify takes the broker's key set from signing-key -o jwks",
          "[approvalctl][postgres][token]") {
  TempDir dir;
  Broker b(TwoApprovalsConfig(dir));
  std::string id = b.Request("agent-1");
  v1::DecideResponse resp;
  REQUIRE(b.h.Decide("alice", id, v1::APPROVE, &resp).ok());
  REQUIRE(b.h.Decide("bob", id, v1::APPROVE, &resp).ok());
  const std::string token = resp.approval().approval_token();
  REQUIRE_FALSE(token.empty());

  CtlResult jwks = RunCtl({"signing-key", "-o", "jwks"}, b.As("agent-1"));
  INFO(jwks);
  REQUIRE(jwks.exit_code == 0);
  CHECK(ParseJson(jwks.out)["keys"][0]["kty"] == "OKP");
  const std::string jwks_file = dir.Write("broker-keys.json", jwks.out);

  CtlResult ok = RunCtl({"token", "verify", "--key", jwks_file, token});
  INFO(ok);
  REQUIRE(ok.exit_code == 0);
  CHECK_THAT(ok.out, Catch::Contains("issuer:          approval-broker\n"));

  // -o jwks is for signing-key only.
  CtlResult misuse = RunCtl({"pending", "-o", "jwks"}, b.As("agent-1"));
  CHECK(misuse.exit_code == 2);
}

TEST_CASE("audit export writes every matching event as JSON lines",
          "[approvalctl][postgres][audit]") {
  Broker b;
  std::string approved = b.Request("agent-1", "t1");
  std::string denied = b.Request("agent-2", "t2");
  v1::DecideResponse resp;
  REQUIRE(b.h.Decide("alice", approved, v1::APPROVE, &resp).ok());
  REQUIRE(b.h.Decide("bob", denied, v1::DENY, &resp).ok());

  CtlResult all = RunCtl({"audit", "export"}, b.As("root"));
  INFO(all);
  REQUIRE(all.exit_code == 0);
  std::vector<std::string> lines = Lines(all.out);
  REQUIRE(lines.size() == 6);
  uint64_t last_seq = 0;
  for (const std::string& line : lines) {
    Json e = ParseJson(line);
    for (const char* field :
         {"seq", "approval_id", "type", "actor", "occur_time", "details_json",
          "prev_hash", "hash"}) {
      CHECK(e.contains(field));
    }
    uint64_t seq = std::stoull(e["seq"].get<std::string>());
    CHECK(seq > last_seq);
    last_seq = seq;
  }

  CtlResult one =
      RunCtl({"audit", "export", "--approval", approved}, b.As("root"));
  INFO(one);
  REQUIRE(one.exit_code == 0);
  std::vector<std::string> types;
  for (const std::string& line : Lines(one.out)) {
    Json e = ParseJson(line);
    CHECK(e["approval_id"] == approved);
    types.push_back(e["type"]);
  }
  CHECK(types == std::vector<std::string>{"created", "reviewed", "approved"});

  CtlResult alice =
      RunCtl({"audit", "export", "--actor", "alice"}, b.As("root"));
  INFO(alice);
  REQUIRE(alice.exit_code == 0);
  std::vector<std::string> by_alice = Lines(alice.out);
  CHECK(by_alice.size() == 2);  // her review and the approval it completed
  for (const std::string& line : by_alice) {
    CHECK(ParseJson(line)["actor"] == "alice");
  }

  CtlResult future =
      RunCtl({"audit", "export", "--since",
              absl::FormatTime(absl::RFC3339_full, absl::Now() + absl::Hours(1),
                               absl::UTCTimeZone())},
             b.As("root"));
  INFO(future);
  CHECK(future.exit_code == 0);
  CHECK(future.out.empty());
  CtlResult until = RunCtl(
      {"audit", "export", "--until", "2000-01-01T00:00:00Z"}, b.As("root"));
  INFO(until);
  CHECK(until.exit_code == 0);
  CHECK(until.out.empty());

  CtlResult reviewer = RunCtl({"audit", "export"}, b.As("alice"));
  INFO(reviewer);
  CHECK(reviewer.exit_code == 5);
  CHECK(reviewer.out.empty());

  CtlResult bad_time =
      RunCtl({"audit", "export", "--since", "yesterday"}, b.As("root"));
  INFO(bad_time);
  CHECK(bad_time.exit_code == 2);
  CHECK_THAT(bad_time.err, Catch::Contains("--since"));
  CtlResult stray = RunCtl({"pending", "--actor", "alice"}, b.As("root"));
  INFO(stray);
  CHECK(stray.exit_code == 2);
}

TEST_CASE("audit export fetches every page", "[approvalctl][postgres][audit]") {
  Broker b;
  // Two events each (created, cancelled): more than one 500-event page.
  constexpr int kApprovals = 260;
  auto stub = b.h.Stub();
  for (int i = 0; i < kApprovals; ++i) {
    std::string id = b.Request("agent-1", absl::StrCat("t", i));
    v1::CancelApprovalRequest cancel;
    cancel.set_approval_id(id);
    v1::Approval cancelled;
    REQUIRE(
        stub->CancelApproval(b.h.Context("agent-1").get(), cancel, &cancelled)
            .ok());
  }
  CtlResult r = RunCtl({"audit", "export"}, b.As("root"));
  REQUIRE(r.exit_code == 0);
  std::vector<std::string> lines = Lines(r.out);
  REQUIRE(lines.size() == 2 * kApprovals);
  for (size_t i = 0; i < lines.size(); ++i) {
    Json e = ParseJson(lines[i]);
    REQUIRE(e["seq"] == std::to_string(i + 1));
  }
}

// Runs `command` with /bin/sh and returns its stdout; fails the test if it
// does not exit 0.
std::string Shell(const std::string& command) {
  INFO(command);
  FILE* p = popen(command.c_str(), "r");
  REQUIRE(p != nullptr);
  std::string out;
  char buf[4096];
  size_t got;
  while ((got = fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, got);
  const int status = pclose(p);
  INFO(out);
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 0);
  return out;
}

// The ids of a `-o json` listing, in order, and its next_page_token.
std::pair<std::vector<std::string>, std::string> ListedIds(const CtlResult& r) {
  INFO(r);
  REQUIRE(r.exit_code == 0);
  Json j = ParseJson(r.out);
  std::vector<std::string> ids;
  for (const Json& a : j["approvals"]) ids.push_back(a["id"]);
  return {ids, j["next_page_token"]};
}

TEST_CASE("approvalctl --version prints the project version", "[approvalctl]") {
  CtlResult r = RunCtl({"--version"});
  INFO(r);
  CHECK(r.exit_code == 0);
  CHECK(r.out == absl::StrCat("approvalctl ", APPROVAL_PROJECT_VERSION, "\n"));
}

TEST_CASE("a mistyped command, subcommand or flag is answered with the closest",
          "[approvalctl]") {
  struct Case {
    std::vector<std::string> args;
    std::string says;
  };
  std::vector<Case> cases = {
      {{"pendng"}, "unknown command pendng; did you mean 'pending'?"},
      {{"aprove", "x"}, "did you mean 'approve'?"},
      {{"histroy"}, "did you mean 'history'?"},
      {{"audit", "verfy"}, "did you mean 'audit verify'?"},
      {{"completion", "bsh"}, "did you mean 'completion bash'?"},
      {{"ls", "--limt", "3"}, "unknown flag --limt; did you mean '--limit'?"},
  };
  for (const Case& c : cases) {
    CtlResult r = RunCtl(c.args);
    INFO(absl::StrJoin(c.args, " ") << "\n" << r);
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.err, Catch::Contains(c.says));
  }
  CtlResult far = RunCtl({"frobnicate"});
  INFO(far);
  CHECK(far.exit_code == 2);
  CHECK_THAT(far.err, !Catch::Contains("did you mean"));
}

TEST_CASE("reviewing the same approval twice exits 12",
          "[approvalctl][postgres]") {
  TempDir dir;
  Broker b(TwoApprovalsConfig(dir));
  std::string id = b.Request("agent-1");
  REQUIRE(RunCtl({"approve", id}, b.As("alice")).exit_code == 0);
  CtlResult again = RunCtl({"approve", id}, b.As("alice"));
  INFO(again);
  CHECK(again.exit_code == 12);
  CHECK_THAT(again.err, Catch::Contains("cannot approve"));
  CHECK_THAT(again.err, Catch::Contains("already reviewed"));
  CtlResult deny = RunCtl({"deny", id}, b.As("alice"));
  INFO(deny);
  CHECK(deny.exit_code == 12);
  CHECK(b.Get(id).state() == v1::PENDING);
}

TEST_CASE("ls, history and --state list by state, newest first",
          "[approvalctl][postgres]") {
  Broker b;
  std::string first = b.Request("agent-1", "a");
  std::string approved = b.Request("agent-1", "b");
  std::string last = b.Request("agent-2", "c");
  REQUIRE(RunCtl({"approve", approved, "-m", "fine by me"}, b.As("alice"))
              .exit_code == 0);

  CHECK(ListedIds(RunCtl({"ls", "-o", "json"}, b.As("alice"))).first ==
        std::vector<std::string>{last, approved, first});
  CHECK(ListedIds(
            RunCtl({"ls", "--state", "approved", "-o", "json"}, b.As("alice")))
            .first == std::vector<std::string>{approved});
  CHECK(ListedIds(RunCtl({"history", "-o", "json"}, b.As("alice"))).first ==
        std::vector<std::string>{approved});
  CHECK(ListedIds(RunCtl({"pending", "-o", "json"}, b.As("alice"))).first ==
        std::vector<std::string>{last, first});
}

TEST_CASE("the listing filters by --requester and --since",
          "[approvalctl][postgres]") {
  Broker b;
  std::string one = b.Request("agent-1", "a");
  std::string two = b.Request("agent-2", "b");
  CHECK(ListedIds(RunCtl({"ls", "--requester", "agent-2", "-o", "json"},
                         b.As("alice")))
            .first == std::vector<std::string>{two});
  CHECK(ListedIds(RunCtl({"pending", "--requester=agent-1", "-o", "json"},
                         b.As("alice")))
            .first == std::vector<std::string>{one});
  CHECK(ListedIds(RunCtl({"ls", "--since", "1h", "-o", "json"}, b.As("alice")))
            .first == std::vector<std::string>{two, one});
  CHECK(
      ListedIds(RunCtl({"ls", "--since", "2999-01-01T00:00:00Z", "-o", "json"},
                       b.As("alice")))
          .first.empty());
  CtlResult none = RunCtl({"ls", "--requester", "nobody"}, b.As("alice"));
  INFO(none);
  CHECK(none.out == "no approvals\n");
}

TEST_CASE("paging with --limit and --page-token sees every approval once",
          "[approvalctl][postgres]") {
  Broker b;
  std::vector<std::string> created;
  for (const char* table : {"a", "b", "c", "d", "e"}) {
    created.insert(
        created.begin(),
        b.Request(absl::StrCat(table) == "c" ? "agent-2" : "agent-1", table));
  }
  std::vector<std::string> seen;
  std::string token;
  int pages = 0;
  do {
    std::vector<std::string> args = {"ls", "--limit", "2", "-o", "json"};
    if (!token.empty()) args.insert(args.end(), {"--page-token", token});
    auto [ids, next] = ListedIds(RunCtl(args, b.As("alice")));
    CHECK(ids.size() <= 2);
    seen.insert(seen.end(), ids.begin(), ids.end());
    token = next;
    REQUIRE(++pages <= 5);
  } while (!token.empty());
  CHECK(seen == created);

  // Filtered here: each page still resumes right after what it printed.
  std::vector<std::string> agent1;
  token.clear();
  pages = 0;
  do {
    std::vector<std::string> args = {"ls", "--requester", "agent-1", "--limit",
                                     "1",  "-o",          "json"};
    if (!token.empty()) args.insert(args.end(), {"--page-token", token});
    auto [ids, next] = ListedIds(RunCtl(args, b.As("alice")));
    agent1.insert(agent1.end(), ids.begin(), ids.end());
    token = next;
    REQUIRE(++pages <= 6);
  } while (!token.empty());
  std::vector<std::string> expected = created;
  expected.erase(expected.begin() + 2);  // "c", agent-2's
  CHECK(agent1 == expected);

  CtlResult text = RunCtl({"ls", "--limit", "2"}, b.As("alice"));
  INFO(text);
  CHECK(text.exit_code == 0);
  CHECK_THAT(text.err, Catch::Contains("--page-token "));
}

TEST_CASE("list tables show the reason and comment, and wide adds columns",
          "[approvalctl][postgres]") {
  Broker b;
  std::string id = b.Request("agent-1");
  REQUIRE(RunCtl({"deny", id, "-m", "too broad"}, b.As("bob")).exit_code == 0);
  CtlResult ls = RunCtl({"ls"}, b.As("alice"));
  INFO(ls);
  REQUIRE(ls.exit_code == 0);
  std::vector<std::string> lines =
      absl::StrSplit(ls.out, '\n', absl::SkipEmpty());
  REQUIRE(lines.size() == 2);
  for (const char* column : {"STATE", "REASON", "COMMENT"}) {
    CHECK_THAT(lines[0], Catch::Contains(column));
  }
  CHECK_THAT(lines[0], !Catch::Contains("DECIDED BY"));
  CHECK_THAT(lines[1], Catch::Contains("DENIED"));
  CHECK_THAT(lines[1], Catch::Contains("quarterly report"));
  CHECK_THAT(lines[1], Catch::Contains("too broad"));

  CtlResult wide = RunCtl({"ls", "-o", "wide"}, b.As("alice"));
  INFO(wide);
  REQUIRE(wide.exit_code == 0);
  for (const char* column : {"ON BEHALF OF", "RULE", "EXPIRES", "DECIDED BY"}) {
    CHECK_THAT(wide.out, Catch::Contains(column));
  }
  CHECK_THAT(wide.out, Catch::Contains("  bob  "));
}

TEST_CASE("yaml output reads back as the same data as json",
          "[approvalctl][postgres]") {
  Broker b;
  v1::RequestApprovalRequest req = ExportRequest();
  // Strings a naive YAML writer gets wrong: a boolean word, a number, a
  // key-like colon, a comment mark, quotes, a newline, a bidi override.
  req.set_justification("yes: \"it's\" #1\nsee 1e3 \u202e");
  req.set_resource("on");
  req.set_idempotency_key("123");
  v1::RequestApprovalResponse resp;
  REQUIRE(b.h.Request("agent-1", req, &resp).ok());
  const std::string id = resp.approval().id();
  REQUIRE(RunCtl({"approve", id, "-m", "- null"}, b.As("alice")).exit_code ==
          0);

  TempDir dir;
  for (std::vector<std::string> args :
       {std::vector<std::string>{"show", id}, {"ls"}}) {
    args.push_back("-o");
    args.push_back("json");
    CtlResult json = RunCtl(args, b.As("alice"));
    args.back() = "yaml";
    CtlResult yaml = RunCtl(args, b.As("alice"));
    INFO(json << "\n" << yaml);
    REQUIRE(json.exit_code == 0);
    REQUIRE(yaml.exit_code == 0);
    CHECK_THAT(yaml.out, !Catch::Contains("\u202e"));  // escaped for terminals
    const std::string json_file = dir.Write("out.json", json.out);
    const std::string yaml_file = dir.Write("out.yaml", yaml.out);
    CHECK(Shell(absl::StrCat("python3 -c 'import json, sys, yaml; "
                             "j = json.load(open(sys.argv[1])); "
                             "y = yaml.safe_load(open(sys.argv[2])); "
                             "print(\"same\" if j == y else \"differ\")' ",
                             json_file, " ", yaml_file)) == "same\n");
  }
}

TEST_CASE("bash completion parses and completes commands and values",
          "[approvalctl]") {
  CtlResult bash = RunCtl({"completion", "bash"});
  INFO(bash);
  REQUIRE(bash.exit_code == 0);
  TempDir dir;
  const std::string script = dir.Write("approvalctl.bash", bash.out);
  Shell(absl::StrCat("bash -n ", script));
  auto complete = [&](const std::string& words, int cword) {
    return Shell(absl::StrCat("bash -c 'source ", script, "; COMP_WORDS=(",
                              words, "); COMP_CWORD=", cword,
                              "; _approvalctl; echo \"${COMPREPLY[*]}\"'"));
  };
  CHECK(complete("approvalctl \"\"", 1) ==
        "pending ls history show approve deny watch audit signing-key "
        "webhooks token completion help\n");
  CHECK(complete("approvalctl sh", 1) == "show\n");
  CHECK(complete("approvalctl --addr h:1 a", 3) == "approve audit\n");
  CHECK(complete("approvalctl audit \"\"", 2) == "verify export\n");
  CHECK(complete("approvalctl ls --state a", 3) == "approved\n");
  CHECK(complete("approvalctl ls -o y", 3) == "yaml\n");
  CHECK(complete("approvalctl ls --lim", 2) == "--limit\n");
  CHECK(complete("approvalctl webhooks --status f", 3) == "failed\n");
  CHECK(complete("approvalctl webhooks --end", 2) == "--endpoint\n");
}

TEST_CASE("zsh completion is a compdef function naming every command",
          "[approvalctl]") {
  CtlResult zsh = RunCtl({"completion", "zsh"});
  INFO(zsh);
  REQUIRE(zsh.exit_code == 0);
  CHECK_THAT(zsh.out, Catch::StartsWith("#compdef approvalctl\n"));
  CHECK_THAT(zsh.out,
             Catch::Contains("'1:command:(pending ls history show approve "
                             "deny watch audit signing-key webhooks token "
                             "completion help)'"));
  CHECK_THAT(zsh.out, Catch::Contains("compdef _approvalctl approvalctl"));
}

// A broker on a fresh database whose webhook endpoint "siem" (created
// events) points at a loopback receiver.
struct WebhookBroker {
  WebhookBroker()
      : receiver(pki.Server(), {kWebhookSecret}),
        store(db.OpenAppStore()),
        h(*store, MakeConfig()) {}

  Config MakeConfig() const {
    Config c = HarnessConfig();
    c.database_url = db.app_url();
    WebhookEndpoint e;
    e.name = "siem";
    e.url = receiver.url();
    e.event_types = {"created"};
    e.secrets = {kWebhookSecret};
    e.ca_file = dir.Write("ca.pem", pki.ca().cert_pem);
    e.timeout = absl::Seconds(2);
    c.webhooks.endpoints = {e};
    c.webhooks.poll_interval = absl::Milliseconds(100);
    c.webhooks.initial_backoff = absl::Milliseconds(50);
    c.webhooks.max_backoff = absl::Milliseconds(200);
    return c;
  }

  std::vector<std::string> As(const std::string& identity) const {
    return {"APPROVAL_BROKER_ADDR=" + h.address(),
            "APPROVAL_BROKER_TOKEN=" + h.Token(identity), "COLUMNS=200"};
  }

  static constexpr char kWebhookSecret[] =
      "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
  TestPki pki;
  TempDir dir;
  WebhookReceiver receiver;
  TestDatabase db;
  std::unique_ptr<PostgresStore> store;
  BrokerHarness h;
};

// `approvalctl webhooks -o json` until `n` deliveries are DELIVERED (the
// broker records an answer a moment after the receiver sent it; bounded).
Json AwaitDelivered(const WebhookBroker& b, size_t n) {
  const absl::Time give_up = absl::Now() + absl::Seconds(30);
  Json j;
  while (absl::Now() < give_up) {
    CtlResult r = RunCtl({"webhooks", "--status", "delivered", "-o", "json"},
                         b.As("root"));
    INFO(r);
    REQUIRE(r.exit_code == 0);
    j = ParseJson(r.out);
    if (j["deliveries"].size() >= n) return j;
    absl::SleepFor(absl::Milliseconds(100));
  }
  return j;
}

TEST_CASE("webhooks lists deliveries newest first with their status",
          "[approvalctl][postgres][webhooks]") {
  WebhookBroker b;
  for (const char* table : {"a", "b", "c"}) {
    v1::RequestApprovalResponse resp;
    REQUIRE(b.h.Request("agent-1", ExportRequest(table), &resp).ok());
  }
  REQUIRE(b.receiver.AwaitAccepted(3, absl::Seconds(30)));

  const Json j = AwaitDelivered(b, 3);
  REQUIRE(j["deliveries"].size() == 3);
  CHECK(j["next_page_token"] == "");
  uint64_t previous = UINT64_MAX;
  std::set<std::string> received;
  for (const ReceivedWebhook& r : b.receiver.accepted()) received.insert(r.id);
  for (const Json& d : j["deliveries"]) {
    uint64_t seq = 0;
    REQUIRE(absl::SimpleAtoi(d["event_seq"].get<std::string>(), &seq));
    CHECK(seq < previous);  // newest first
    previous = seq;
    CHECK(d["endpoint"] == "siem");
    CHECK(d["event_type"] == "created");
    CHECK(d["status"] == "delivered");
    CHECK(d["last_http_status"] == 200);
    CHECK(d["webhook_id"] == absl::StrCat("evt_", seq, "_siem"));
    CHECK(received.count(d["webhook_id"].get<std::string>()) == 1);
  }

  CtlResult text = RunCtl({"webhooks"}, b.As("root"));
  INFO(text);
  CHECK(text.exit_code == 0);
  CHECK_THAT(text.out, Catch::StartsWith("EVENT"));
  CHECK_THAT(text.out, Catch::Contains("DELIVERED"));
  CHECK_THAT(text.out, Catch::Contains("siem"));
  CHECK_THAT(text.out, !Catch::Contains("evt_"));  // wide only
  CtlResult wide = RunCtl({"webhooks", "-o", "wide"}, b.As("root"));
  INFO(wide);
  CHECK(wide.exit_code == 0);
  CHECK_THAT(wide.out, Catch::Contains("WEBHOOK-ID"));
  CHECK_THAT(wide.out, Catch::Contains("_siem"));

  CtlResult failed = RunCtl({"webhooks", "--status", "failed"}, b.As("root"));
  INFO(failed);
  CHECK(failed.exit_code == 0);
  CHECK(failed.out == "no webhook deliveries\n");
}

TEST_CASE("webhooks pages with --limit and --page-token, each delivery once",
          "[approvalctl][postgres][webhooks]") {
  WebhookBroker b;
  for (const char* table : {"a", "b", "c"}) {
    v1::RequestApprovalResponse resp;
    REQUIRE(b.h.Request("agent-1", ExportRequest(table), &resp).ok());
  }
  REQUIRE(AwaitDelivered(b, 3)["deliveries"].size() == 3);
  std::vector<std::string> seen;
  std::string token;
  int pages = 0;
  do {
    std::vector<std::string> args = {
        "webhooks", "--endpoint", "siem", "--limit", "2", "-o", "json"};
    if (!token.empty()) args.insert(args.end(), {"--page-token", token});
    CtlResult r = RunCtl(args, b.As("root"));
    INFO(r);
    REQUIRE(r.exit_code == 0);
    const Json j = ParseJson(r.out);
    CHECK(j["deliveries"].size() <= 2);
    for (const Json& d : j["deliveries"]) seen.push_back(d["webhook_id"]);
    token = j["next_page_token"];
    REQUIRE(++pages <= 3);
  } while (!token.empty());
  CHECK(pages == 2);
  CHECK(seen.size() == 3);
  CHECK(std::set<std::string>(seen.begin(), seen.end()).size() == 3);

  CtlResult yaml =
      RunCtl({"webhooks", "--limit", "1", "-o", "yaml"}, b.As("root"));
  INFO(yaml);
  CHECK(yaml.exit_code == 0);
  CHECK_THAT(yaml.out, Catch::Contains("endpoint: siem"));
  CtlResult text = RunCtl({"webhooks", "--limit", "1"}, b.As("root"));
  INFO(text);
  CHECK(text.exit_code == 0);
  CHECK_THAT(text.err, Catch::Contains("--page-token "));
}

TEST_CASE("webhooks: admin only, a broker without endpoints, bad flags",
          "[approvalctl][postgres][webhooks]") {
  Broker plain;
  CtlResult none = RunCtl({"webhooks"}, plain.As("root"));
  INFO(none);
  CHECK(none.exit_code == 6);  // FAILED_PRECONDITION: nothing configured
  CHECK_THAT(none.err, Catch::Contains("webhook"));
  CtlResult reviewer = RunCtl({"webhooks"}, plain.As("alice"));
  INFO(reviewer);
  CHECK(reviewer.exit_code == 5);

  CtlResult status = RunCtl({"webhooks", "--status", "lost"}, plain.As("root"));
  INFO(status);
  CHECK(status.exit_code == 2);
  CHECK_THAT(status.err, Catch::Contains("--status: 'lost'"));
  CtlResult state =
      RunCtl({"webhooks", "--state", "pending"}, plain.As("root"));
  INFO(state);
  CHECK(state.exit_code == 2);
  CHECK_THAT(state.err, Catch::Contains("webhooks: does not take --state"));
  CtlResult endpoint = RunCtl({"ls", "--endpoint", "siem"}, plain.As("root"));
  INFO(endpoint);
  CHECK(endpoint.exit_code == 2);
  CHECK_THAT(endpoint.err, Catch::Contains("ls: does not take --endpoint"));
}

}  // namespace
}  // namespace approval::testing
