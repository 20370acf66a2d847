// Helpers for the client library's tests: a reviewer's view of a broker
// (bounded polls, decisions) and the real approval-broker binary as a child
// process that a test can kill and restart.
#ifndef APPROVAL_TESTS_CLIENT_CLIENT_TEST_SUPPORT_H_
#define APPROVAL_TESTS_CLIENT_CLIENT_TEST_SUPPORT_H_

#include <map>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "approval/client.h"
#include "approval/v1/approval.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "tests/support/certs/test_certs.h"
#include "tests/support/process/serve_process.h"

namespace approval::testing {

// A db.export of `table` ("postgres://prod/<table>", {"table": <table>}).
ApprovalRequest ExportOf(const std::string& table);

// The digest the broker must compute for `request`, by the broker's code.
std::string ExpectedDigest(const ApprovalRequest& request);

// Client options for `address` with `token`, plaintext.
ClientOptions OptionsFor(const std::string& address, const std::string& token);

// Calls the broker at `address` as the identity holding `token`.
class BrokerCaller final {
 public:
  BrokerCaller(const std::string& address, std::string token,
               std::shared_ptr<grpc::ChannelCredentials> credentials =
                   grpc::InsecureChannelCredentials());

  // Polls ListApprovals every 20 ms until at least `count` approvals are in
  // `state` (STATE_UNSPECIFIED: any) or `timeout` passes; returns the last
  // list seen, newest first (up to 500).
  std::vector<v1::Approval> AwaitApprovals(v1::State state, size_t count,
                                           absl::Duration timeout) const;

  grpc::Status Decide(const std::string& id, v1::Verdict verdict,
                      const std::string& comment) const;
  grpc::Status Cancel(const std::string& id) const;
  grpc::Status Get(const std::string& id, v1::Approval* approval) const;
  grpc::Status GetSigningKey(v1::SigningKey* key) const;

 private:
  std::unique_ptr<grpc::ClientContext> Context() const;

  std::unique_ptr<v1::ApprovalBroker::Stub> stub_;
  std::string token_;
};

// The approval-broker binary serving a database on loopback ports it bound
// itself (ServeProcess), with identities agent-1 (agent) and alice
// (reviewer). Its stderr goes to a log file that Log() returns. Not
// thread-safe.
class BrokerProcess final {
 public:
  explicit BrokerProcess(const std::string& database_url);
  BrokerProcess(const BrokerProcess&) = delete;
  BrokerProcess& operator=(const BrokerProcess&) = delete;

  // Starts the broker and waits up to 30 s for it to report SERVING; fails
  // the test (REQUIRE) otherwise. A restart (after Kill) serves on the same
  // address.
  void Start() { process_.Start(); }
  // SIGKILL, then reaps the process.
  void Kill() { process_.Kill(); }

  const std::string& address() const { return process_.address(); }
  const std::string& Token(const std::string& identity) const;
  // approval_decision_streams_open from /metrics; -1 if unreadable.
  int OpenStreams() const;
  std::string Log() const { return process_.Log(); }

 private:
  std::string WriteConfig(const std::string& database_url);

  TempDir dir_;
  std::map<std::string, std::string> tokens_;
  ServeProcess process_;
};

}  // namespace approval::testing

#endif  // APPROVAL_TESTS_CLIENT_CLIENT_TEST_SUPPORT_H_
