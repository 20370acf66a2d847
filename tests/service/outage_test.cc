// The database stopped under a running broker: calls fail UNAVAILABLE (never
// a false OK), health says NOT_SERVING, and the broker recovers by itself
// when the database returns — including a stream opened before the outage.
#include <catch2/catch.hpp>

#include "tests/support/broker/broker_harness.h"
#include "tests/support/pg/pg_fixture.h"

namespace approval::testing {
namespace {

// The port of a postgresql://user@host:port/db URL.
std::string DatabasePort(const std::string& url) {
  const size_t at = url.rfind('@');
  const size_t colon = url.find(':', at == std::string::npos ? 0 : at);
  const size_t slash = url.find('/', colon);
  REQUIRE(colon != std::string::npos);
  REQUIRE(slash != std::string::npos);
  std::string port = url.substr(colon + 1, slash - colon - 1);
  REQUIRE(port.size() >= 2);
  return port;
}

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

  // Where the database lives is for the broker's log, not for clients.
  const std::string port = DatabasePort(db.app_url());
  auto check_unavailable = [&](const grpc::Status& s) {
    INFO(s.error_message());
    CHECK(s.error_code() == grpc::StatusCode::UNAVAILABLE);
    CHECK_THAT(s.error_message(), !Catch::Contains("127.0.0.1"));
    CHECK_THAT(s.error_message(), !Catch::Contains(port));
    CHECK_THAT(s.error_message(), !Catch::Contains("connection to server"));
  };
  v1::RequestApprovalResponse during;
  check_unavailable(
      h.Request("agent-1", ExportRequest("during", "key-during"), &during));
  v1::DecideResponse decided;
  check_unavailable(h.Decide("alice", id, v1::APPROVE, &decided));
  v1::Approval got;
  check_unavailable(h.Get("alice", id, &got));
  v1::ListAuditEventsResponse events;
  check_unavailable(
      h.Stub()->ListAuditEvents(h.Context("root").get(), {}, &events));
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
