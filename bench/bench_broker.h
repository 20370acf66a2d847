// A broker for benchmarks: MemoryStore, or PostgreSQL when
// APPROVAL_BROKER_BENCH_DATABASE_URL names a migrated database; identities
// "agent" and "reviewer" with fixed bench tokens.
#ifndef APPROVAL_BENCH_BENCH_BROKER_H_
#define APPROVAL_BENCH_BENCH_BROKER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "approval/v1/approval.grpc.pb.h"
#include "server/auth/authenticator.h"
#include "server/service/broker_server.h"
#include "server/store/store.h"

namespace approval::bench {

inline constexpr char kAgentToken[] = "bench-agent-token";
inline constexpr char kReviewerToken[] = "bench-reviewer-token";

class BenchBroker {
 public:
  // Starts on 127.0.0.1:0 with `pool_size` database connections.
  static absl::StatusOr<std::unique_ptr<BenchBroker>> Start(int pool_size);
  ~BenchBroker();

  const char* store_name() const { return store_name_; }
  // A stub on a fresh channel (its own TCP connection).
  std::unique_ptr<v1::ApprovalBroker::Stub> NewStub() const;

 private:
  BenchBroker() = default;
  const char* store_name_ = "memory";
  std::string dir_;
  std::unique_ptr<ApprovalStore> store_;
  std::unique_ptr<Authenticator> auth_;
  BrokerMetrics metrics_;
  std::unique_ptr<BrokerServer> server_;
};

}  // namespace approval::bench

#endif  // APPROVAL_BENCH_BENCH_BROKER_H_
