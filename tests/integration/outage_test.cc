// The database stopped under a running broker: calls fail UNAVAILABLE (never
// a false OK), health says NOT_SERVING, and the broker recovers by itself
// when the database returns — including a stream opened before the outage.
#include <catch2/catch.hpp>

#include "tests/support/broker/broker_harness.h"
#include "tests/support/pg/pg_fixture.h"

namespace approval::testing {
namespace {

// Restarts the cluster even when an assertion ends the test early, so the
// tests after this one find it running.
class RestartOnExit {
 public:
  explicit RestartOnExit(PgServerControl& pg) : pg_(pg) {}
  ~RestartOnExit() {
    if (stopped_) pg_.Start();
  }
  void Stop() {
    pg_.Stop();
    stopped_ = true;
  }
  void Start() {
    pg_.Start();
    stopped_ = false;
  }

 private:
  PgServerControl& pg_;
  bool stopped_ = false;
};

TEST_CASE("database outage gives UNAVAILABLE and NOT_SERVING and then recovers",
          "[service][postgres][outage]") {
  TestDatabase db;
  std::unique_ptr<PostgresStore> store = db.OpenAppStore();
  BrokerHarness h(*store);
  REQUIRE(AwaitHealth(h.address(), 1, absl::Seconds(10)) == 1);

  v1::RequestApprovalResponse before;
  REQUIRE(h.Request("agent-1", ExportRequest("before"), &before).ok());
  const std::string id = before.approval().id();
  auto stream_ctx = h.Context("agent-1");
  stream_ctx->set_deadline(
      absl::ToChronoTime(absl::Now() + absl::Seconds(120)));
  v1::StreamDecisionsRequest follow;
  follow.add_approval_ids(id);
  auto stream = h.Stub()->StreamDecisions(stream_ctx.get(), follow);
  stream->WaitForInitialMetadata();

  PgServerControl pg;
  RestartOnExit outage(pg);
  outage.Stop();

  v1::RequestApprovalResponse during;
  grpc::Status s =
      h.Request("agent-1", ExportRequest("during", "key-during"), &during);
  CHECK(s.error_code() == grpc::StatusCode::UNAVAILABLE);
  v1::DecideResponse decided;
  CHECK(h.Decide("alice", id, v1::APPROVE, &decided).error_code() ==
        grpc::StatusCode::UNAVAILABLE);
  v1::Approval got;
  CHECK(h.Get("alice", id, &got).error_code() == grpc::StatusCode::UNAVAILABLE);
  CHECK(AwaitHealth(h.address(), 2, absl::Seconds(30)) == 2);

  outage.Start();
  CHECK(AwaitHealth(h.address(), 1, absl::Seconds(60)) == 1);

  // Nothing from the outage was committed.
  REQUIRE(h.Get("alice", id, &got).ok());
  CHECK(got.state() == v1::PENDING);
  v1::ListApprovalsResponse all;
  REQUIRE(h.Stub()->ListApprovals(h.Context("alice").get(), {}, &all).ok());
  CHECK(all.approvals_size() == 1);

  // The broker works again, and the stream opened before the outage gets
  // the decision made after it.
  REQUIRE(h.Decide("alice", id, v1::APPROVE, &decided).ok());
  v1::DecisionEvent event;
  REQUIRE(stream->Read(&event));
  CHECK(event.type() == v1::EVENT_APPROVED);
  CHECK(event.approval().id() == id);
  stream_ctx->TryCancel();
  REQUIRE(h.Request("agent-1", ExportRequest("after"), &before).ok());
}

}  // namespace
}  // namespace approval::testing
