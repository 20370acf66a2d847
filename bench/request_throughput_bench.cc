// Write throughput: C concurrent agents (each its own connection) call
// RequestApproval as fast as they can for a fixed time. Every request is a
// transaction that takes the audit chain's head row, so this shows what that
// serialisation costs as concurrency grows. Reports requests/s and the ratio
// to C=1 measured in the same run. Not part of CI.
//
//   request_throughput_bench [C ...]      default: 1 2 4 8 16
// MemoryStore, or PostgreSQL with APPROVAL_BROKER_BENCH_DATABASE_URL.
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "bench/bench_broker.h"
#include "grpcpp/grpcpp.h"

namespace approval {
namespace {

constexpr absl::Duration kRunFor = absl::Seconds(3);

double Run(const bench::BenchBroker& broker, int concurrency) {
  std::atomic<int64_t> done{0}, failed{0};
  absl::Time stop = absl::Now() + kRunFor;
  std::vector<std::thread> agents;
  for (int c = 0; c < concurrency; ++c) {
    agents.emplace_back([&, c] {
      auto stub = broker.NewStub();
      for (int i = 0; absl::Now() < stop; ++i) {
        grpc::ClientContext ctx;
        ctx.AddMetadata("authorization",
                        std::string("Bearer ") + bench::kAgentToken);
        v1::RequestApprovalRequest req;
        req.set_action("db.export");
        req.set_resource(absl::StrCat("bench/", c, "/", i));
        req.set_parameters_json(R"({"rows":1200,"table":"customers"})");
        v1::RequestApprovalResponse resp;
        if (stub->RequestApproval(&ctx, req, &resp).ok()) {
          ++done;
        } else {
          ++failed;
        }
      }
    });
  }
  for (std::thread& t : agents) t.join();
  if (failed > 0) std::fprintf(stderr, "%ld requests failed\n", failed.load());
  return static_cast<double>(done) / absl::ToDoubleSeconds(kRunFor);
}

int Main(int argc, char** argv) {
  std::vector<int> cs;
  for (int i = 1; i < argc; ++i) cs.push_back(std::atoi(argv[i]));
  if (cs.empty()) cs = {1, 2, 4, 8, 16};
  if (cs.front() != 1) cs.insert(cs.begin(), 1);  // the baseline
  absl::StatusOr<std::unique_ptr<bench::BenchBroker>> broker =
      bench::BenchBroker::Start(/*pool_size=*/8);
  if (!broker.ok()) {
    std::fprintf(stderr, "%s\n", broker.status().ToString().c_str());
    return 1;
  }
  std::printf("store: %s, %s per run\n", (*broker)->store_name(),
              absl::FormatDuration(kRunFor).c_str());
  std::printf("%6s %12s %8s\n", "C", "requests/s", "ratio");
  double baseline = 0;
  for (int c : cs) {
    double rate = Run(**broker, c);
    if (c == 1) baseline = rate;
    std::printf("%6d %12.0f %8.2f\n", c, rate, rate / baseline);
  }
  return 0;
}

}  // namespace
}  // namespace approval

int main(int argc, char** argv) { return approval::Main(argc, argv); }
