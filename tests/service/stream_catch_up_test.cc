// Opening many StreamDecisions calls at once (a reconnect storm): the
// catch-up reads of streams that follow ids are batched
// (server/service/catch_up_batcher.h), so the store answers far fewer
// queries than there are streams, and each stream still gets exactly the
// events of its own approvals. Over MemoryStore behind a counting wrapper.
#include <catch2/catch.hpp>
#include <memory>
#include <string>
#include <vector>

#include "grpcpp/grpcpp.h"
#include "server/store/memory_store.h"
#include "tests/support/broker/broker_harness.h"
#include "tests/support/keys/test_keys.h"
#include "tests/support/store/forwarding_store.h"
#include "tests/support/store/store_requests.h"

namespace approval::testing {
namespace {

constexpr int kStreams = 200;

struct OpenStream {
  std::string id;
  bool decided_before = false;
  std::unique_ptr<grpc::ClientContext> ctx;
  std::unique_ptr<grpc::ClientReader<v1::DecisionEvent>> reader;
};

// Reads the one event `s` is owed, then its end: OK after exactly that.
void ExpectOnlyItsOutcome(OpenStream& s, v1::State want) {
  v1::DecisionEvent event;
  REQUIRE(s.reader->Read(&event));
  CHECK(event.approval().id() == s.id);
  CHECK(event.approval().state() == want);
  CHECK_FALSE(s.reader->Read(&event));
  CHECK(s.reader->Finish().ok());
}

TEST_CASE(
    "streams opened at once share their catch-up reads and each gets only "
    "its own outcome",
    "[service][streams]") {
  MemoryStore memory(absl::Now, TestSigner());
  CountingStore store(memory);
  BrokerHarness h(store);
  std::vector<OpenStream> streams(kStreams);
  for (int i = 0; i < kStreams; ++i) {
    streams[i].id = MustCreate(memory, "agent-1").id;
    if (i % 2 == 0) {
      REQUIRE(memory.Decide(Decision(streams[i].id, "bob")).ok());
      streams[i].decided_before = true;
    }
  }

  // The first catch-up query stalls, as a busy database would, while every
  // other stream opens.
  store.SetEventsGate(false);
  const int reads_before = store.events_calls();
  std::unique_ptr<v1::ApprovalBroker::Stub> stub = h.Stub();
  for (OpenStream& s : streams) {
    s.ctx = h.Context("agent-1");
    v1::StreamDecisionsRequest req;
    req.add_approval_ids(s.id);
    s.reader = stub->StreamDecisions(s.ctx.get(), req);
  }
  for (OpenStream& s : streams) s.reader->WaitForInitialMetadata();
  store.SetEventsGate(true);

  for (OpenStream& s : streams) {
    if (s.decided_before) {
      ExpectOnlyItsOutcome(s, v1::APPROVED);
    }
  }
  // Far fewer than one query per stream (one per batch).
  CHECK(store.events_calls() - reads_before < kStreams / 10);

  for (OpenStream& s : streams) {
    if (!s.decided_before) {
      REQUIRE(memory.Decide(Decision(s.id, "bob", Verdict::kDeny)).ok());
      ExpectOnlyItsOutcome(s, v1::DENIED);
    }
  }
}

}  // namespace
}  // namespace approval::testing
