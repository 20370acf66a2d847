// `approval-broker serve` as a child process of a test. The config listens on
// port 0 (gRPC, and metrics unless off); the broker binds, then logs the ports
// it bound ("serving gRPC on HOST:PORT ..."), and that line is where the ports
// come from, so no port is picked before the process that uses it binds it.
#ifndef APPROVAL_TESTS_SUPPORT_PROCESS_SERVE_PROCESS_H_
#define APPROVAL_TESTS_SUPPORT_PROCESS_SERVE_PROCESS_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "grpcpp/security/credentials.h"

namespace approval::testing {

// Runs APPROVAL_BROKER_BINARY `serve --config <config_file>` with stderr
// appended to `log_file`. Failures fail the test (Catch REQUIRE). Not
// thread-safe.
class ServeProcess final {
 public:
  ServeProcess(std::string config_file, std::string log_file);
  ~ServeProcess();  // SIGKILLs a running process
  ServeProcess(const ServeProcess&) = delete;
  ServeProcess& operator=(const ServeProcess&) = delete;

  // Starts the broker and waits up to 30 s until it logs the addresses it
  // serves on and reports SERVING. After Kill or Stop it starts again on the
  // addresses bound the first time (--listen/--metrics-listen), so clients
  // keep their address.
  void Start();
  // SIGTERM, then waits up to 30 s; the exit code, or -1 if it had to be
  // SIGKILLed or died of a signal.
  int Stop();
  // SIGKILL, then reaps the process.
  void Kill();
  // Sends `sig` to the running process.
  void Signal(int sig);
  // The credentials Start's health check connects with (for a broker
  // serving TLS). Default: plaintext.
  void SetHealthCredentials(std::shared_ptr<grpc::ChannelCredentials> creds) {
    health_creds_ = std::move(creds);
  }

  // The gRPC address (HOST:PORT) it serves on; "" before the first Start.
  const std::string& address() const { return grpc_address_; }
  // Its metrics port; 0 when metrics are off or before the first Start.
  int metrics_port() const { return metrics_port_; }
  // Everything the process (every start of it) wrote to stderr.
  std::string Log() const;

 private:
  void Spawn(const std::vector<std::string>& args);
  // Reads the "serving gRPC on" line written after byte `from` of the log.
  bool ParseServingLine(size_t from);

  std::string config_file_;
  std::string log_file_;
  std::string grpc_address_;
  std::string metrics_address_;
  int metrics_port_ = 0;
  pid_t pid_ = -1;
  std::shared_ptr<grpc::ChannelCredentials> health_creds_;
};

}  // namespace approval::testing

#endif  // APPROVAL_TESTS_SUPPORT_PROCESS_SERVE_PROCESS_H_
