// The load generator of bench/run.sh: gRPC callback client, calls spread
// over several channels (each its own TCP connection). Prints its results as
// "key=value" lines on stdout, which run.sh reads.
//
//   bench_load closed --target H:P --op request|get|echo [--inflight 64]
//       [--conns 16] [--seconds 10] [--calls N] [--token T] [--ids FILE]
//       [--ids-out FILE]
//     As many calls as --inflight allows, for --seconds (the first fifth is
//     warm-up, not counted) or, with --calls, until N calls were made (all
//     counted): rate, p50/p99/p999. --ids-out collects the ids of the
//     approvals created (op request); op get reads ids from --ids.
//   bench_load open --target H:P --op ... --rps R [--seconds 10]
//     One call every 1/R s whatever the answers do (open loop); latency is
//     counted from the call's scheduled time, so queueing shows.
//   bench_load agents --target H:P --streams N [--conns 64] [--echo]
//       [--ids FILE] [--token T] [--server-pid PID] [--side-rps 50]
//       [--decide H:P[,H:P]] [--reviewer-token T] [--samples 200]
//     Opens N waiting streams at once (StreamDecisions following
//     ids[i % |ids|], or Echo/Hold with --echo): time until all have their
//     headers, p99 of RequestApprovals sent meanwhile at --side-rps, the
//     server's RSS and thread deltas per stream (/proc/PID/status). Then, per
//     --decide target, --samples Decides one after another on distinct
//     approvals, each timed until its waiting stream has the event.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "approval/v1/approval.grpc.pb.h"
#include "echo.grpc.pb.h"
#include "grpcpp/grpcpp.h"

namespace approval::bench {
namespace {

constexpr absl::Duration kCallDeadline = absl::Seconds(60);

[[noreturn]] void Die(const std::string& message) {
  std::fprintf(stderr, "bench_load: %s\n", message.c_str());
  std::exit(1);
}

class Flags {
 public:
  Flags(int argc, char** argv) {
    for (int i = 2; i < argc; ++i) {
      std::string key = argv[i];
      if (key.rfind("--", 0) != 0) Die("unexpected argument " + key);
      key = key.substr(2);
      if (key == "echo") {
        values_[key] = "1";
      } else if (i + 1 < argc) {
        values_[key] = argv[++i];
      } else {
        Die("--" + key + " needs a value");
      }
    }
  }
  std::string Get(const std::string& key, const std::string& def = "") const {
    auto it = values_.find(key);
    return it == values_.end() ? def : it->second;
  }
  double Num(const std::string& key, double def) const {
    auto it = values_.find(key);
    if (it == values_.end()) return def;
    double value;
    if (!absl::SimpleAtod(it->second, &value))
      Die("--" + key + ": not a number");
    return value;
  }

 private:
  absl::flat_hash_map<std::string, std::string> values_;
};

// Each channel its own connection: HTTP/2 multiplexes a channel's calls on
// one TCP connection, which one client-side poller then serves.
std::vector<std::shared_ptr<grpc::Channel>> Channels(const std::string& target,
                                                     int n) {
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  for (int i = 0; i < n; ++i) {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    args.SetInt("approval.bench.channel", i);
    args.SetMaxReceiveMessageSize(-1);
    auto channel = grpc::CreateCustomChannel(
        target, grpc::InsecureChannelCredentials(), args);
    if (!channel->WaitForConnected(
            absl::ToChronoTime(absl::Now() + absl::Seconds(10)))) {
      Die("cannot connect to " + target);
    }
    channels.push_back(std::move(channel));
  }
  return channels;
}

std::vector<std::string> ReadIds(const std::string& path) {
  std::vector<std::string> ids;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) ids.push_back(line);
  }
  if (ids.empty()) Die("no approval ids in '" + path + "'");
  return ids;
}

// Latencies and failures of one measurement.
class Recorder {
 public:
  void Ok(absl::Duration latency) {
    absl::MutexLock lock(&mu_);
    micros_.push_back(absl::ToInt64Microseconds(latency));
  }
  void Fail(const grpc::Status& status) {
    absl::MutexLock lock(&mu_);
    if (failed_++ == 0) {
      first_error_ =
          absl::StrCat(status.error_code(), " ", status.error_message());
    }
  }
  // Prints count, failures and the percentiles with `prefix`.
  void Print(const std::string& prefix) {
    absl::MutexLock lock(&mu_);
    std::sort(micros_.begin(), micros_.end());
    std::printf("%sok=%zu\n%sfailed=%ld\n", prefix.c_str(), micros_.size(),
                prefix.c_str(), static_cast<long>(failed_));
    for (auto [name, q] :
         {std::pair{"p50", 0.5}, {"p99", 0.99}, {"p999", 0.999}}) {
      std::printf("%s%s_ms=%.3f\n", prefix.c_str(), name, Quantile(q) / 1000.0);
    }
    if (failed_ > 0) {
      std::fprintf(stderr, "bench_load: %s%ld failed, first: %s\n",
                   prefix.c_str(), static_cast<long>(failed_),
                   first_error_.c_str());
    }
  }
  size_t ok() {
    absl::MutexLock lock(&mu_);
    return micros_.size();
  }

 private:
  double Quantile(double q) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (micros_.empty()) return -1000;
    size_t at =
        std::min(micros_.size() - 1,
                 static_cast<size_t>(q * static_cast<double>(micros_.size())));
    return static_cast<double>(micros_[at]);
  }
  absl::Mutex mu_;
  std::vector<int64_t> micros_ ABSL_GUARDED_BY(mu_);
  int64_t failed_ ABSL_GUARDED_BY(mu_) = 0;
  std::string first_error_ ABSL_GUARDED_BY(mu_);
};

using Done = std::function<void(const grpc::Status&)>;

// One kind of unary call, issued on channel `channel`.
class Op {
 public:
  virtual ~Op() = default;
  virtual void Issue(size_t channel, int64_t seq, Done done) = 0;
};

std::string Bearer(const std::string& token) { return "Bearer " + token; }

class RequestOp final : public Op {
 public:
  RequestOp(const std::vector<std::shared_ptr<grpc::Channel>>& channels,
            std::string token, bool collect)
      : token_(std::move(token)),
        collect_(collect),
        prefix_(absl::StrCat("bench/", getpid(), "-",
                             absl::ToUnixMicros(absl::Now()), "/")) {
    for (const auto& c : channels)
      stubs_.push_back(v1::ApprovalBroker::NewStub(c));
  }
  void Issue(size_t channel, int64_t seq, Done done) override {
    struct Call {
      grpc::ClientContext ctx;
      v1::RequestApprovalRequest req;
      v1::RequestApprovalResponse resp;
    };
    auto* call = new Call;
    call->ctx.AddMetadata("authorization", Bearer(token_));
    call->ctx.set_deadline(absl::ToChronoTime(absl::Now() + kCallDeadline));
    call->req.set_action("db.export");
    call->req.set_resource(absl::StrCat(prefix_, seq));
    call->req.set_parameters_json(R"({"rows":1200,"table":"customers"})");
    call->req.set_justification("benchmark");
    stubs_[channel]->async()->RequestApproval(
        &call->ctx, &call->req, &call->resp,
        [this, call, done = std::move(done)](grpc::Status status) {
          if (status.ok() && collect_) {
            absl::MutexLock lock(&mu_);
            ids_.push_back(call->resp.approval().id());
          }
          done(status);
          delete call;
        });
  }
  std::vector<std::string> ids() {
    absl::MutexLock lock(&mu_);
    return ids_;
  }

 private:
  std::vector<std::unique_ptr<v1::ApprovalBroker::Stub>> stubs_;
  const std::string token_;
  const bool collect_;
  const std::string prefix_;
  absl::Mutex mu_;
  std::vector<std::string> ids_ ABSL_GUARDED_BY(mu_);
};

class GetOp final : public Op {
 public:
  GetOp(const std::vector<std::shared_ptr<grpc::Channel>>& channels,
        std::string token, std::vector<std::string> ids)
      : token_(std::move(token)), ids_(std::move(ids)) {
    for (const auto& c : channels)
      stubs_.push_back(v1::ApprovalBroker::NewStub(c));
  }
  void Issue(size_t channel, int64_t seq, Done done) override {
    struct Call {
      grpc::ClientContext ctx;
      v1::GetApprovalRequest req;
      v1::Approval resp;
    };
    auto* call = new Call;
    call->ctx.AddMetadata("authorization", Bearer(token_));
    call->ctx.set_deadline(absl::ToChronoTime(absl::Now() + kCallDeadline));
    call->req.set_approval_id(ids_[static_cast<size_t>(seq) % ids_.size()]);
    stubs_[channel]->async()->GetApproval(
        &call->ctx, &call->req, &call->resp,
        [call, done = std::move(done)](grpc::Status status) {
          done(status);
          delete call;
        });
  }

 private:
  std::vector<std::unique_ptr<v1::ApprovalBroker::Stub>> stubs_;
  const std::string token_;
  const std::vector<std::string> ids_;
};

class EchoOp final : public Op {
 public:
  explicit EchoOp(const std::vector<std::shared_ptr<grpc::Channel>>& channels) {
    for (const auto& c : channels) stubs_.push_back(Echo::NewStub(c));
  }
  void Issue(size_t channel, int64_t, Done done) override {
    struct Call {
      grpc::ClientContext ctx;
      EchoMessage req;
      EchoMessage resp;
    };
    auto* call = new Call;
    call->ctx.set_deadline(absl::ToChronoTime(absl::Now() + kCallDeadline));
    call->req.set_payload("0b7f3c2e-5a41-4d7e-9c0a-1f2e3d4c5b6a");  // an id
    stubs_[channel]->async()->Unary(
        &call->ctx, &call->req, &call->resp,
        [call, done = std::move(done)](grpc::Status status) {
          done(status);
          delete call;
        });
  }

 private:
  std::vector<std::unique_ptr<Echo::Stub>> stubs_;
};

// Keeps `inflight` calls going until `seconds` are over or `max_calls` were
// issued (0: no limit). Returns calls/s over the counted part (after the
// first fifth, or all of it when max_calls is set).
double ClosedLoop(Op& op, size_t channels, int inflight, double seconds,
                  int64_t max_calls, Recorder& recorder) {
  const absl::Time start = absl::Now();
  const absl::Time stop = start + absl::Seconds(seconds);
  const absl::Time count_from =
      max_calls > 0 ? start : start + absl::Seconds(seconds / 5);
  std::atomic<int64_t> seq{0}, counted{0};
  std::atomic<int> active{inflight};
  absl::Notification all_done;
  std::function<void(size_t)> issue = [&](size_t slot) {
    const int64_t s = seq++;
    if ((max_calls > 0 && s >= max_calls) || absl::Now() >= stop) {
      if (--active == 0) all_done.Notify();
      return;
    }
    const absl::Time t0 = absl::Now();
    op.Issue(slot % channels, s, [&, slot, t0](const grpc::Status& status) {
      const absl::Time t1 = absl::Now();
      if (status.ok()) {
        if (t0 >= count_from) {
          recorder.Ok(t1 - t0);
          ++counted;
        }
      } else {
        recorder.Fail(status);
      }
      issue(slot);
    });
  };
  for (int i = 0; i < inflight; ++i) issue(static_cast<size_t>(i));
  all_done.WaitForNotification();
  const absl::Time end = max_calls > 0 ? absl::Now() : stop;
  return static_cast<double>(counted) / absl::ToDoubleSeconds(end - count_from);
}

// One call every 1/rps s from one pacing thread, until `seconds` are over
// and, if given, `stop` was notified; then waits for the answers. Latency
// runs from each call's scheduled time. Returns the calls/s issued.
double OpenLoop(Op& op, size_t channels, double rps, double seconds,
                absl::Notification* stop, Recorder& recorder) {
  const absl::Time start = absl::Now();
  const absl::Time min_end = start + absl::Seconds(seconds);
  std::atomic<int64_t> outstanding{0};
  int64_t i = 0;
  for (;; ++i) {
    const absl::Time scheduled =
        start + absl::Seconds(static_cast<double>(i) / rps);
    if (scheduled >= min_end && (stop == nullptr || stop->HasBeenNotified())) {
      break;
    }
    const absl::Duration wait = scheduled - absl::Now();
    if (wait > absl::ZeroDuration()) absl::SleepFor(wait);
    ++outstanding;
    op.Issue(static_cast<size_t>(i) % channels, i,
             [&, scheduled](const grpc::Status& status) {
               if (status.ok()) {
                 recorder.Ok(absl::Now() - scheduled);
               } else {
                 recorder.Fail(status);
               }
               --outstanding;
             });
  }
  const double issued =
      static_cast<double>(i) / absl::ToDoubleSeconds(absl::Now() - start);
  const absl::Time give_up = absl::Now() + kCallDeadline + absl::Seconds(5);
  while (outstanding > 0 && absl::Now() < give_up) {
    absl::SleepFor(absl::Milliseconds(5));  // a benchmark's drain, not a test
  }
  return issued;
}

std::unique_ptr<Op> MakeOp(
    const Flags& flags,
    const std::vector<std::shared_ptr<grpc::Channel>>& channels,
    RequestOp** request_op) {
  const std::string op = flags.Get("op");
  if (op == "request") {
    auto r = std::make_unique<RequestOp>(channels, flags.Get("token"),
                                         !flags.Get("ids-out").empty());
    if (request_op != nullptr) *request_op = r.get();
    return r;
  }
  if (op == "get") {
    return std::make_unique<GetOp>(channels, flags.Get("token"),
                                   ReadIds(flags.Get("ids")));
  }
  if (op == "echo") return std::make_unique<EchoOp>(channels);
  Die("--op must be request, get or echo");
}

int UnaryMain(bool open, const Flags& flags) {
  const auto channels =
      Channels(flags.Get("target"), static_cast<int>(flags.Num("conns", 16)));
  RequestOp* request_op = nullptr;
  std::unique_ptr<Op> op = MakeOp(flags, channels, &request_op);
  Recorder recorder;
  const double seconds = flags.Num("seconds", 10);
  double rate;
  if (open) {
    rate = OpenLoop(*op, channels.size(), flags.Num("rps", 100), seconds,
                    nullptr, recorder);
  } else {
    rate = ClosedLoop(*op, channels.size(),
                      static_cast<int>(flags.Num("inflight", 64)), seconds,
                      static_cast<int64_t>(flags.Num("calls", 0)), recorder);
  }
  std::printf("rate=%.1f\n", rate);
  recorder.Print("");
  if (request_op != nullptr && !flags.Get("ids-out").empty()) {
    std::ofstream out(flags.Get("ids-out"));
    for (const std::string& id : request_op->ids()) out << id << "\n";
  }
  return 0;
}

// --- Waiting agents ---------------------------------------------------------

struct ProcStatus {
  int64_t rss_kb = -1;
  int64_t threads = -1;
};

ProcStatus ReadProcStatus(const std::string& pid) {
  ProcStatus status;
  std::ifstream in("/proc/" + pid + "/status");
  for (std::string line; std::getline(in, line);) {
    std::vector<std::string> words =
        absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    if (words.size() < 2) continue;
    if (words[0] == "VmRSS:") (void)absl::SimpleAtoi(words[1], &status.rss_kb);
    if (words[0] == "Threads:")
      (void)absl::SimpleAtoi(words[1], &status.threads);
  }
  return status;
}

bool IsTerminal(v1::EventType type) {
  return type == v1::EVENT_APPROVED || type == v1::EVENT_DENIED ||
         type == v1::EVENT_EXPIRED || type == v1::EVENT_CANCELLED;
}

// What the streams report: headers received, streams ended, and when each
// approval's terminal event first arrived.
class Board {
 public:
  void Registered(bool ok) {
    absl::MutexLock lock(&mu_);
    ++(ok ? registered_ : failed_);
  }
  void Ended(const grpc::Status& status) {
    absl::MutexLock lock(&mu_);
    ++ended_;
    if (!status.ok() && status.error_code() != grpc::StatusCode::CANCELLED &&
        unexpected_++ == 0) {
      first_error_ =
          absl::StrCat(status.error_code(), " ", status.error_message());
    }
  }
  void Arrived(const std::string& id) {
    absl::Time now = absl::Now();
    absl::MutexLock lock(&mu_);
    arrivals_.try_emplace(id, now);
  }
  // Until `n` streams have their headers or failed; false on timeout.
  bool AwaitRegistered(int64_t n, absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    auto reached = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return registered_ + failed_ >= n;
    };
    return mu_.AwaitWithTimeout(absl::Condition(&reached), timeout);
  }
  bool AwaitEnded(int64_t n, absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    auto reached = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return ended_ >= n;
    };
    return mu_.AwaitWithTimeout(absl::Condition(&reached), timeout);
  }
  // When `id`'s terminal event arrived; nullopt after `timeout`.
  std::optional<absl::Time> AwaitArrival(const std::string& id,
                                         absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    auto arrived = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return arrivals_.contains(id);
    };
    if (!mu_.AwaitWithTimeout(absl::Condition(&arrived), timeout)) {
      return std::nullopt;
    }
    return arrivals_[id];
  }
  void Print() {
    absl::MutexLock lock(&mu_);
    std::printf("registered=%ld\nregister_failed=%ld\n",
                static_cast<long>(registered_), static_cast<long>(failed_));
    if (unexpected_ > 0) {
      std::fprintf(stderr, "bench_load: %ld streams ended early, first: %s\n",
                   static_cast<long>(unexpected_), first_error_.c_str());
    }
  }

 private:
  absl::Mutex mu_;
  int64_t registered_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t failed_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t ended_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t unexpected_ ABSL_GUARDED_BY(mu_) = 0;
  std::string first_error_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, absl::Time> arrivals_ ABSL_GUARDED_BY(mu_);
};

// One waiting agent: a server-streaming call on the callback API (no client
// thread), reading until the stream ends.
template <typename Request, typename Message>
class Waiter final : public grpc::ClientReadReactor<Message> {
 public:
  explicit Waiter(Board* board) : board_(board) {}
  grpc::ClientContext* ctx() { return &ctx_; }
  Request* request() { return &request_; }
  void Begin() {
    this->StartCall();
    this->StartRead(&message_);
  }
  void OnReadInitialMetadataDone(bool ok) override { board_->Registered(ok); }
  void OnReadDone(bool ok) override {
    if (!ok) return;
    if constexpr (std::is_same_v<Message, v1::DecisionEvent>) {
      if (IsTerminal(message_.type()))
        board_->Arrived(message_.approval().id());
    }
    this->StartRead(&message_);
  }
  void OnDone(const grpc::Status& status) override { board_->Ended(status); }

 private:
  Board* board_;
  grpc::ClientContext ctx_;
  Request request_;
  Message message_;
};

using Follower = Waiter<v1::StreamDecisionsRequest, v1::DecisionEvent>;
using Holder = Waiter<EchoMessage, EchoMessage>;

int AgentsMain(const Flags& flags) {
  const bool echo = !flags.Get("echo").empty();
  const int64_t n = static_cast<int64_t>(flags.Num("streams", 1000));
  const std::string token = flags.Get("token");
  const std::string pid = flags.Get("server-pid");
  const auto channels =
      Channels(flags.Get("target"), static_cast<int>(flags.Num("conns", 64)));
  std::vector<std::string> ids;
  if (!echo) ids = ReadIds(flags.Get("ids"));

  // Side calls on their own connection while the streams open.
  const double side_rps = flags.Num("side-rps", echo ? 0 : 50);
  std::unique_ptr<RequestOp> side_op;
  if (side_rps > 0) {
    side_op = std::make_unique<RequestOp>(Channels(flags.Get("target"), 1),
                                          token, false);
  }

  std::vector<std::unique_ptr<v1::ApprovalBroker::Stub>> broker_stubs;
  std::vector<std::unique_ptr<Echo::Stub>> echo_stubs;
  for (const auto& c : channels) {
    if (echo) {
      echo_stubs.push_back(Echo::NewStub(c));
    } else {
      broker_stubs.push_back(v1::ApprovalBroker::NewStub(c));
    }
  }
  Board board;
  std::vector<std::unique_ptr<Follower>> followers;
  std::vector<std::unique_ptr<Holder>> holders;

  const ProcStatus before = pid.empty() ? ProcStatus{} : ReadProcStatus(pid);
  Recorder side;
  absl::Notification registered;
  std::thread side_thread;
  if (side_op != nullptr) {
    side_thread = std::thread(
        [&] { OpenLoop(*side_op, 1, side_rps, 1.0, &registered, side); });
  }
  const absl::Time start = absl::Now();
  for (int64_t i = 0; i < n; ++i) {
    const size_t c = static_cast<size_t>(i) % channels.size();
    if (echo) {
      auto& w = holders.emplace_back(std::make_unique<Holder>(&board));
      echo_stubs[c]->async()->Hold(w->ctx(), w->request(), w.get());
      w->Begin();
    } else {
      auto& w = followers.emplace_back(std::make_unique<Follower>(&board));
      w->ctx()->AddMetadata("authorization", Bearer(token));
      w->request()->add_approval_ids(ids[static_cast<size_t>(i) % ids.size()]);
      broker_stubs[c]->async()->StreamDecisions(w->ctx(), w->request(),
                                                w.get());
      w->Begin();
    }
  }
  const bool all = board.AwaitRegistered(n, absl::Minutes(5));
  const double open_seconds = absl::ToDoubleSeconds(absl::Now() - start);
  registered.Notify();
  if (side_thread.joinable()) side_thread.join();
  const ProcStatus after = pid.empty() ? ProcStatus{} : ReadProcStatus(pid);

  std::printf("streams=%ld\nopen_seconds=%.3f\nall_registered=%d\n",
              static_cast<long>(n), open_seconds, all ? 1 : 0);
  board.Print();
  if (side_op != nullptr) side.Print("side_");
  if (!pid.empty()) {
    std::printf("rss_before_kb=%ld\nrss_after_kb=%ld\nbytes_per_stream=%.0f\n",
                static_cast<long>(before.rss_kb),
                static_cast<long>(after.rss_kb),
                static_cast<double>(after.rss_kb - before.rss_kb) * 1024.0 /
                    static_cast<double>(n));
    std::printf(
        "threads_before=%ld\nthreads_after=%ld\nthreads_per_stream=%.4f\n",
        static_cast<long>(before.threads), static_cast<long>(after.threads),
        static_cast<double>(after.threads - before.threads) /
            static_cast<double>(n));
  }

  // Decide -> the waiting agent has it, per decide target, on approvals that
  // have a waiting stream and were not decided before.
  const std::string decide = flags.Get("decide");
  const int samples = static_cast<int>(flags.Num("samples", 200));
  const size_t followed = std::min(ids.size(), static_cast<size_t>(n));
  size_t next = 0;
  int replica = 0;
  for (absl::string_view target :
       absl::StrSplit(decide, ',', absl::SkipEmpty())) {
    ++replica;
    auto stub =
        v1::ApprovalBroker::NewStub(Channels(std::string(target), 1)[0]);
    Recorder fanout, decide_call;
    for (int k = 0; k < samples && next < followed; ++k, ++next) {
      grpc::ClientContext ctx;
      ctx.AddMetadata("authorization", Bearer(flags.Get("reviewer-token")));
      ctx.set_deadline(absl::ToChronoTime(absl::Now() + kCallDeadline));
      v1::DecideRequest req;
      req.set_approval_id(ids[next]);
      req.set_verdict(v1::APPROVE);
      v1::DecideResponse resp;
      const absl::Time t0 = absl::Now();
      grpc::Status status = stub->Decide(&ctx, req, &resp);
      const absl::Time t1 = absl::Now();
      if (!status.ok()) {
        decide_call.Fail(status);
        continue;
      }
      decide_call.Ok(t1 - t0);
      std::optional<absl::Time> arrived =
          board.AwaitArrival(ids[next], absl::Seconds(10));
      if (arrived.has_value()) {
        fanout.Ok(*arrived - t0);
      } else {
        fanout.Fail(grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED,
                                 "no event within 10 s"));
      }
    }
    fanout.Print(absl::StrCat("fanout", replica, "_"));
    decide_call.Print(absl::StrCat("decide", replica, "_"));
  }
  std::fflush(stdout);

  for (auto& w : followers) w->ctx()->TryCancel();
  for (auto& w : holders) w->ctx()->TryCancel();
  if (!board.AwaitEnded(n, absl::Seconds(60))) {
    std::fprintf(stderr, "bench_load: streams did not end within 60 s\n");
  }
  // The reactors are owned here; skip tearing down 100,000 of them.
  std::fflush(stderr);
  std::_Exit(0);
}

int Main(int argc, char** argv) {
  if (argc < 2) Die("usage: bench_load closed|open|agents --flag value ...");
  const std::string command = argv[1];
  Flags flags(argc, argv);
  if (flags.Get("target").empty()) Die("--target is required");
  if (command == "closed") return UnaryMain(false, flags);
  if (command == "open") return UnaryMain(true, flags);
  if (command == "agents") return AgentsMain(flags);
  Die("unknown command " + command);
}

}  // namespace
}  // namespace approval::bench

int main(int argc, char** argv) { return approval::bench::Main(argc, argv); }
