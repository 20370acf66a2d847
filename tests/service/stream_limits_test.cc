// StreamDecisions calls that fall more than stream_max_backlog events behind
// (server/service/decision_stream.h): a client that still reads gets
// RESOURCE_EXHAUSTED with the cursor to resume from; one that stopped
// reading (its HTTP/2 flow-control window closed) is cancelled after
// stream_overflow_grace. Either way the stream's queued events are dropped
// at once. Over MemoryStore: the limits are the service's, not the store's.
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "grpcpp/grpcpp.h"
#include "server/store/memory_store.h"
#include "tests/support/broker/broker_harness.h"
#include "tests/support/keys/test_keys.h"

namespace approval::testing {
namespace {

constexpr int kBacklog = 4;
// Large events fill a flow-control window in a few writes.
constexpr size_t kJustificationBytes = 60000;
constexpr int kEvents = 24;  // ~1.4 MB, many times the window below
constexpr absl::Duration kWait = absl::Seconds(30);

Config LimitsConfig(absl::Duration grace) {
  Config c = HarnessConfig();
  c.stream_max_backlog = kBacklog;
  c.stream_overflow_grace = grace;
  c.limits.max_justification_bytes = kJustificationBytes;
  return c;
}

// The value of the unlabelled gauge or counter `name`; -1 if absent.
double MetricValue(BrokerMetrics& metrics, const std::string& name) {
  for (const prometheus::MetricFamily& f : metrics.registry()->Collect()) {
    if (f.name != name || f.metric.empty()) continue;
    return f.type == prometheus::MetricType::Gauge ? f.metric[0].gauge.value
                                                   : f.metric[0].counter.value;
  }
  return -1;
}

// Polls `name` every 10 ms until it equals `want` or kWait passes; returns
// the last value seen.
double AwaitMetric(BrokerMetrics& metrics, const std::string& name,
                   double want) {
  const absl::Time give_up = absl::Now() + kWait;
  double v = MetricValue(metrics, name);
  while (v != want && absl::Now() < give_up) {
    absl::SleepFor(absl::Milliseconds(10));
    v = MetricValue(metrics, name);
  }
  return v;
}

// A channel whose stream windows stay small: no BDP probing to grow them,
// and no more lookahead than gRPC's minimum. A client that does not read
// then stops the server's writes after a few tens of kilobytes.
std::unique_ptr<v1::ApprovalBroker::Stub> SmallWindowStub(
    const BrokerHarness& h) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  args.SetInt(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, 1024);
  // A channel of its own, not shared with the calls that make events.
  args.SetInt("approval.test.unique_channel", 1);
  return v1::ApprovalBroker::NewStub(grpc::CreateCustomChannel(
      h.address(), grpc::InsecureChannelCredentials(), args));
}

// A context as `identity` whose deadline lies well past every wait here,
// so only the server can end the call within one.
std::unique_ptr<grpc::ClientContext> StreamContext(
    const BrokerHarness& h, const std::string& identity) {
  std::unique_ptr<grpc::ClientContext> ctx = h.Context(identity);
  ctx->set_deadline(absl::ToChronoTime(absl::Now() + 4 * kWait));
  return ctx;
}

// Requests kEvents approvals with large justifications, as agent-1.
void MakeLargeEvents(const BrokerHarness& h) {
  for (int i = 0; i < kEvents; ++i) {
    v1::RequestApprovalRequest req = ExportRequest(absl::StrCat("t", i));
    req.set_justification(std::string(kJustificationBytes, 'j'));
    v1::RequestApprovalResponse resp;
    grpc::Status s = h.Request("agent-1", req, &resp);
    INFO(s.error_message());
    REQUIRE(s.ok());
  }
}

TEST_CASE(
    "a stream whose client stopped reading is cancelled after the grace, "
    "its queued events dropped",
    "[service][memory][stream]") {
  MemoryStore store(absl::Now, testing::TestSigner());
  BrokerHarness h(store, LimitsConfig(absl::Milliseconds(200)));
  auto stub = SmallWindowStub(h);
  std::unique_ptr<grpc::ClientContext> ctx = StreamContext(h, "alice");
  v1::StreamDecisionsRequest follow_all;
  auto reader = stub->StreamDecisions(ctx.get(), follow_all);
  reader->WaitForInitialMetadata();
  REQUIRE(MetricValue(h.metrics(), "approval_decision_streams_open") == 1);

  // The client never calls Read while the events come.
  MakeLargeEvents(h);

  REQUIRE(AwaitMetric(h.metrics(), "approval_decision_stream_overflows_total",
                      1) == 1);
  // Dropped when the stream fell behind, not when it ends.
  CHECK(MetricValue(h.metrics(), "approval_decision_stream_queued_events") ==
        0);
  // The write in flight never completes, so the status cannot follow it:
  // the stream is cancelled and goes away.
  CHECK(AwaitMetric(h.metrics(), "approval_decision_streams_open", 0) == 0);
  CHECK(MetricValue(h.metrics(),
                    "approval_decision_stream_overflow_cancels_total") == 1);
  CHECK(MetricValue(h.metrics(), "approval_decision_stream_queued_events") ==
        0);

  v1::DecisionEvent event;
  while (reader->Read(&event)) {
  }
  CHECK(reader->Finish().error_code() == grpc::StatusCode::CANCELLED);
}

TEST_CASE(
    "a slow client that still reads gets RESOURCE_EXHAUSTED with the cursor "
    "to resume from, and resuming there misses nothing",
    "[service][memory][stream]") {
  MemoryStore store(absl::Now, testing::TestSigner());
  BrokerHarness h(store, LimitsConfig(kWait));
  auto stub = SmallWindowStub(h);
  std::unique_ptr<grpc::ClientContext> ctx = StreamContext(h, "alice");
  v1::StreamDecisionsRequest follow_all;
  auto reader = stub->StreamDecisions(ctx.get(), follow_all);
  reader->WaitForInitialMetadata();

  MakeLargeEvents(h);
  REQUIRE(AwaitMetric(h.metrics(), "approval_decision_stream_overflows_total",
                      1) == 1);
  CHECK(MetricValue(h.metrics(), "approval_decision_stream_queued_events") ==
        0);

  // Now it reads: what was in flight, then the status.
  std::vector<uint64_t> cursors;
  v1::DecisionEvent event;
  while (reader->Read(&event)) cursors.push_back(event.cursor());
  grpc::Status status = reader->Finish();
  INFO(status.error_message());
  REQUIRE(status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED);
  REQUIRE(!cursors.empty());
  REQUIRE(static_cast<int>(cursors.size()) < kEvents);
  CHECK_THAT(
      status.error_message(),
      Catch::Contains(absl::StrCat("more than ", kBacklog, " events behind")));
  CHECK_THAT(status.error_message(),
             Catch::EndsWith(
                 absl::StrCat("resume with after_cursor=", cursors.back())));
  CHECK(AwaitMetric(h.metrics(), "approval_decision_streams_open", 0) == 0);
  CHECK(MetricValue(h.metrics(),
                    "approval_decision_stream_overflow_cancels_total") == 0);

  // Resuming from that cursor delivers the rest, the last event included.
  v1::StreamDecisionsRequest resume;
  resume.set_after_cursor(cursors.back());
  std::unique_ptr<grpc::ClientContext> resume_ctx = h.Context("alice");
  auto resumed = h.Stub()->StreamDecisions(resume_ctx.get(), resume);
  std::vector<uint64_t> rest;
  while (static_cast<int>(cursors.size() + rest.size()) < kEvents &&
         ReadEvent(*resumed, &event)) {
    rest.push_back(event.cursor());
  }
  REQUIRE(static_cast<int>(cursors.size() + rest.size()) == kEvents);
  CHECK(rest.front() == cursors.back() + 1);
  CHECK(rest.back() == cursors.front() + kEvents - 1);
  resume_ctx->TryCancel();
}

}  // namespace
}  // namespace approval::testing
