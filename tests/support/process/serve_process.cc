#include "tests/support/process/serve_process.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "nlohmann/json.hpp"
#include "tests/support/broker/broker_harness.h"

namespace approval::testing {
namespace {

constexpr absl::Duration kStartTimeout = absl::Seconds(30);

// The text between `begin` and the next `end` after `from` in `text`, or "".
std::string Between(const std::string& text, size_t from,
                    const std::string& begin, const std::string& end) {
  size_t at = text.find(begin, from);
  if (at == std::string::npos) return "";
  at += begin.size();
  size_t stop = text.find(end, at);
  if (stop == std::string::npos) return "";
  return text.substr(at, stop - at);
}

// The port of HOST:PORT, or 0.
int PortOf(const std::string& address) {
  int port = 0;
  size_t colon = address.rfind(':');
  if (colon == std::string::npos ||
      !absl::SimpleAtoi(address.substr(colon + 1), &port)) {
    return 0;
  }
  return port;
}

}  // namespace

ServeProcess::ServeProcess(std::string config_file, std::string log_file)
    : config_file_(std::move(config_file)), log_file_(std::move(log_file)) {}

ServeProcess::~ServeProcess() {
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
}

void ServeProcess::Spawn(const std::vector<std::string>& args) {
  std::vector<char*> argv;
  for (const std::string& a : args)
    argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_ = fork();
  REQUIRE(pid_ >= 0);
  if (pid_ == 0) {
    if (std::freopen(log_file_.c_str(), "a", stderr) == nullptr) _exit(126);
    execv(argv[0], argv.data());
    _exit(127);
  }
}

bool ServeProcess::ParseServingLine(size_t from) {
  const std::string log = Log();
  // Whole lines only: a line still being written has no '\n' yet.
  for (size_t at = from, end; (end = log.find('\n', at)) != std::string::npos;
       at = end + 1) {
    const std::string line = log.substr(at, end - at);
    if (line.find("serving gRPC on ") == std::string::npos) continue;
    // The JSON log (the default): the addresses are fields of the record.
    const nlohmann::json record = nlohmann::json::parse(line, nullptr, false);
    if (record.is_object() && record.value("event", "") == "serving") {
      grpc_address_ = record.value("grpc_address", "");
      metrics_address_ = record.value("metrics_address", "");
    } else {  // the text log: the words of the message
      grpc_address_ = Between(line, 0, "serving gRPC on ", " ");
      metrics_address_ = Between(line, 0, "metrics on http://", "/metrics");
    }
    metrics_port_ = PortOf(metrics_address_);
    return !grpc_address_.empty();
  }
  return false;
}

void ServeProcess::Start() {
  REQUIRE(pid_ < 0);
  std::vector<std::string> args = {APPROVAL_BROKER_BINARY, "serve", "--config",
                                   config_file_};
  if (!grpc_address_.empty()) {
    args.insert(args.end(), {"--listen", grpc_address_});
    args.insert(args.end(), {"--metrics-listen", metrics_address_});
  }
  size_t from = Log().size();
  Spawn(args);
  // Bounded wait for the line; a broker that exits first fails at once.
  absl::Time give_up = absl::Now() + kStartTimeout;
  bool serving = false;
  int status = 0;
  while (!(serving = ParseServingLine(from)) && absl::Now() < give_up) {
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      break;
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
  INFO(Log());
  REQUIRE(serving);
  REQUIRE(AwaitHealth(grpc_address_, 1, kStartTimeout, health_creds_) == 1);
}

int ServeProcess::Stop() {
  REQUIRE(pid_ > 0);
  REQUIRE(kill(pid_, SIGTERM) == 0);
  int status = 0;
  absl::Time give_up = absl::Now() + kStartTimeout;
  pid_t done = 0;
  while ((done = waitpid(pid_, &status, WNOHANG)) == 0 &&
         absl::Now() < give_up) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  if (done == 0) {
    kill(pid_, SIGKILL);
    waitpid(pid_, &status, 0);
    pid_ = -1;
    return -1;
  }
  pid_ = -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

void ServeProcess::Kill() {
  REQUIRE(pid_ > 0);
  REQUIRE(kill(pid_, SIGKILL) == 0);
  int status = 0;
  REQUIRE(waitpid(pid_, &status, 0) == pid_);
  pid_ = -1;
}

void ServeProcess::Signal(int sig) {
  REQUIRE(pid_ > 0);
  REQUIRE(kill(pid_, sig) == 0);
}

std::string ServeProcess::Log() const {
  std::ifstream in(log_file_);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace approval::testing
