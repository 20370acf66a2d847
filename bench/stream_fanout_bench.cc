// Fan-out benchmark: K agents wait on StreamDecisions for the same approval;
// one Decide; how long until all K have the decision, and how many threads
// the K waiting streams cost. Reports each K as a ratio to K=1 measured in
// the same run, so machine noise cancels out. Not part of CI.
//
//   stream_fanout_bench [K ...]      default: 1 10 100 1000
// Uses MemoryStore, or PostgreSQL when APPROVAL_BROKER_BENCH_DATABASE_URL is
// set (a migrated database).
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "approval/v1/approval.grpc.pb.h"
#include "bench/bench_broker.h"
#include "grpcpp/grpcpp.h"

namespace approval {
namespace {

int Threads() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("Threads:", 0) == 0) return std::stoi(line.substr(8));
  }
  return -1;
}

// Counts how many of the streams have seen their first event.
class Arrivals {
 public:
  void Add() {
    absl::MutexLock lock(&mu_);
    ++n_;
  }
  bool WaitFor(int n, absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    auto reached = [this, n]()
                       ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return n_ >= n; };
    return mu_.AwaitWithTimeout(absl::Condition(&reached), timeout);
  }

 private:
  absl::Mutex mu_;
  int n_ ABSL_GUARDED_BY(mu_) = 0;
};

// A waiting agent on the callback API: no client thread either.
class Follower final : public grpc::ClientReadReactor<v1::DecisionEvent> {
 public:
  Follower(v1::ApprovalBroker::Stub* stub, const std::string& token,
           const std::string& id, Arrivals* subscribed, Arrivals* decided)
      : subscribed_(subscribed), decided_(decided) {
    ctx_.AddMetadata("authorization", "Bearer " + token);
    req_.add_approval_ids(id);
    stub->async()->StreamDecisions(&ctx_, &req_, this);
    StartCall();
    StartRead(&event_);
  }
  void OnReadInitialMetadataDone(bool) override { subscribed_->Add(); }
  void OnReadDone(bool ok) override {
    if (ok) decided_->Add();
  }
  void OnDone(const grpc::Status&) override { done_ = true; }
  void Cancel() { ctx_.TryCancel(); }
  bool done() const { return done_; }

 private:
  grpc::ClientContext ctx_;
  v1::StreamDecisionsRequest req_;
  v1::DecisionEvent event_;
  Arrivals* subscribed_;
  Arrivals* decided_;
  std::atomic<bool> done_{false};
};

struct Sample {
  int k;
  double seconds;
  int extra_threads;
};

Sample Run(int k, v1::ApprovalBroker::Stub* stub, const std::string& agent,
           const std::string& reviewer) {
  grpc::ClientContext rctx;
  rctx.AddMetadata("authorization", "Bearer " + agent);
  v1::RequestApprovalRequest req;
  req.set_action("db.export");
  req.set_resource(absl::StrCat("bench/", k));
  v1::RequestApprovalResponse created;
  if (!stub->RequestApproval(&rctx, req, &created).ok()) std::abort();

  int before = Threads();
  Arrivals subscribed, decided;
  std::vector<std::unique_ptr<Follower>> followers;
  for (int i = 0; i < k; ++i) {
    followers.push_back(std::make_unique<Follower>(
        stub, agent, created.approval().id(), &subscribed, &decided));
  }
  if (!subscribed.WaitFor(k, absl::Seconds(60))) std::abort();
  int after = Threads();

  grpc::ClientContext dctx;
  dctx.AddMetadata("authorization", "Bearer " + reviewer);
  v1::DecideRequest d;
  d.set_approval_id(created.approval().id());
  d.set_verdict(v1::APPROVE);
  v1::DecideResponse resp;
  absl::Time start = absl::Now();
  if (!stub->Decide(&dctx, d, &resp).ok()) std::abort();
  if (!decided.WaitFor(k, absl::Seconds(60))) std::abort();
  double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  for (auto& f : followers) f->Cancel();
  for (auto& f : followers) {
    while (!f->done()) absl::SleepFor(absl::Milliseconds(1));
  }
  return {k, seconds, after - before};
}

int Main(int argc, char** argv) {
  std::vector<int> ks;
  for (int i = 1; i < argc; ++i) ks.push_back(std::atoi(argv[i]));
  if (ks.empty()) ks = {1, 10, 100, 1000};
  if (ks.front() != 1) ks.insert(ks.begin(), 1);  // the baseline

  absl::StatusOr<std::unique_ptr<bench::BenchBroker>> broker =
      bench::BenchBroker::Start(/*pool_size=*/8);
  if (!broker.ok()) {
    std::fprintf(stderr, "%s\n", broker.status().ToString().c_str());
    return 1;
  }
  // One connection for all K streams: K connections would measure the
  // kernel, not the broker.
  auto stub = (*broker)->NewStub();
  const std::string agent = bench::kAgentToken;
  const std::string reviewer = bench::kReviewerToken;

  std::printf("store: %s\n", (*broker)->store_name());
  std::printf("%8s %14s %10s %16s\n", "K", "decide->all(s)", "ratio",
              "threads for K");
  double baseline = 0;
  for (int k : ks) {
    // Best of three, so one scheduler hiccup does not make the number.
    Sample best{k, 1e9, 0};
    for (int rep = 0; rep < 3; ++rep) {
      Sample s = Run(k, stub.get(), agent, reviewer);
      if (s.seconds < best.seconds) best = s;
    }
    if (k == 1) baseline = best.seconds;
    std::printf("%8d %14.6f %10.2f %16d\n", k, best.seconds,
                best.seconds / baseline, best.extra_threads);
  }
  return 0;
}

}  // namespace
}  // namespace approval

int main(int argc, char** argv) { return approval::Main(argc, argv); }
