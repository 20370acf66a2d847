// Faults cost the client time, never correctness: a broker process killed
// and restarted, a submission whose answer is lost, and 200 approvals
// pending at once on one Client.
#include <catch2/catch.hpp>
#include <future>
#include <optional>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "approval/client.h"
#include "prometheus/text_serializer.h"
#include "tests/client/client_test_support.h"
#include "tests/support/broker/broker_harness.h"
#include "tests/support/pg/pg_fixture.h"
#include "tests/support/proxy/tcp_proxy.h"

namespace approval::testing {
namespace {

constexpr absl::Duration kWait = absl::Seconds(30);

std::unique_ptr<Client> NewClient(const ClientOptions& options) {
  absl::StatusOr<std::unique_ptr<Client>> client = Client::Create(options);
  INFO(client.status().ToString());
  REQUIRE(client.ok());
  return *std::move(client);
}

// Polls `broker` every 10 ms until it has `count` decision streams open or
// `timeout` passes; returns when it saw them, or nullopt.
std::optional<absl::Time> AwaitStreams(const BrokerProcess& broker, int count,
                                       absl::Duration timeout) {
  absl::Time give_up = absl::Now() + timeout;
  for (;;) {
    if (broker.OpenStreams() >= count) return absl::Now();
    if (absl::Now() >= give_up) return std::nullopt;
    absl::SleepFor(absl::Milliseconds(10));
  }
}

std::string Ms(absl::Duration d) {
  return absl::FormatDuration(absl::Trunc(d, absl::Microseconds(100)));
}

TEST_CASE(
    "a broker killed with SIGKILL and restarted still delivers the "
    "decision",
    "[client][postgres][restart]") {
  TestDatabase db;
  BrokerProcess broker(db.app_url());
  broker.Start();
  // Default options: what an agent gets out of the box.
  std::unique_ptr<Client> client =
      NewClient(OptionsFor(broker.address(), broker.Token("agent-1")));
  ApprovalRequest request = ExportOf("customers");
  auto result = std::async(std::launch::async, [&] {
    return client->RequireApproval(request, absl::Now() + absl::Seconds(120));
  });
  BrokerCaller alice(broker.address(), broker.Token("alice"));
  std::vector<v1::Approval> pending =
      alice.AwaitApprovals(v1::PENDING, 1, kWait);
  REQUIRE(pending.size() == 1);
  // The client waits on its decision stream.
  REQUIRE(AwaitStreams(broker, 1, kWait));

  // How long the broker stays down: the client's backoff grows meanwhile,
  // up to reconnect_backoff_max (2 s by default).
  absl::Duration outage;
  SECTION("restarted at once") { outage = absl::ZeroDuration(); }
  SECTION("restarted after 5 s down") { outage = absl::Seconds(5); }
  broker.Kill();
  absl::Time killed = absl::Now();
  absl::SleepFor(outage);  // the outage itself, not a synchronisation
  broker.Start();
  absl::Time serving = absl::Now();
  std::optional<absl::Time> followed = AwaitStreams(broker, 1, kWait);
  INFO(broker.Log());
  REQUIRE(followed);
  WARN("restart: broker down " << Ms(serving - killed)
                               << "; the client followed the approval "
                               << "again " << Ms(*followed - serving)
                               << " after the restarted broker was SERVING");

  REQUIRE(alice.Decide(pending[0].id(), v1::APPROVE, "after the restart").ok());
  absl::Time decided = absl::Now();
  REQUIRE(result.wait_for(std::chrono::seconds(30)) ==
          std::future_status::ready);
  absl::Time returned = absl::Now();
  absl::StatusOr<Decision> decision = result.get();
  INFO(decision.status().ToString());
  REQUIRE(decision.ok());
  CHECK(decision->state == DecisionState::kApproved);
  CHECK(decision->approval_id == pending[0].id());
  CHECK(decision->comment == "after the restart");
  WARN("restart: the decision reached the client " << Ms(returned - decided)
                                                   << " after Decide");
  CHECK(alice.AwaitApprovals(v1::STATE_UNSPECIFIED, 1, kWait).size() == 1);
}

TEST_CASE(
    "a submission whose answer was lost is retried without a second "
    "approval",
    "[client][postgres][proxy]") {
  TestDatabase db;
  std::unique_ptr<PostgresStore> store = db.OpenAppStore();
  BrokerHarness harness(*store);
  BrokerCaller alice(harness.address(), harness.Token("alice"));
  absl::StatusOr<std::unique_ptr<TcpProxy>> proxy =
      TcpProxy::Start(harness.server().port());
  REQUIRE(proxy.ok());
  std::unique_ptr<Client> client =
      NewClient(OptionsFor((*proxy)->address(), harness.Token("agent-1")));

  // First a normal round trip, so the client's connection is up: gRPC sends
  // nothing on a new connection before the server's HTTP/2 settings arrive.
  {
    auto warm_up = std::async(std::launch::async, [&] {
      return client->RequireApproval(ExportOf("warm_up"),
                                     absl::Now() + absl::Seconds(60));
    });
    std::vector<v1::Approval> pending =
        alice.AwaitApprovals(v1::PENDING, 1, kWait);
    REQUIRE(pending.size() == 1);
    REQUIRE(alice.Decide(pending[0].id(), v1::DENY, "warm-up").ok());
    absl::StatusOr<Decision> decision = warm_up.get();
    REQUIRE(decision.ok());
    REQUIRE(decision->state == DecisionState::kDenied);
  }

  (*proxy)->SwallowServerToClient();
  auto result = std::async(std::launch::async, [&] {
    return client->RequireApproval(ExportOf("customers"),
                                   absl::Now() + absl::Seconds(60));
  });
  // The broker committed the approval; its answer went nowhere.
  std::vector<v1::Approval> pending =
      alice.AwaitApprovals(v1::PENDING, 1, kWait);
  REQUIRE(pending.size() == 1);
  (*proxy)->CutAll();
  REQUIRE(alice.Decide(pending[0].id(), v1::APPROVE, "once").ok());

  absl::StatusOr<Decision> decision = result.get();
  INFO(decision.status().ToString());
  REQUIRE(decision.ok());
  CHECK(decision->state == DecisionState::kApproved);
  CHECK(decision->approval_id == pending[0].id());
  // The answer was lost, and the resubmission got the original approval.
  CHECK((*proxy)->connections() >= 2);
  CHECK_THAT(prometheus::TextSerializer().Serialize(
                 harness.metrics().registry()->Collect()),
             Catch::Contains("approval_requests_total{"
                             "outcome=\"idempotent_replay\",rule=\"default\"} "
                             "1\n"));
  std::vector<v1::Approval> all =
      alice.AwaitApprovals(v1::STATE_UNSPECIFIED, 2, kWait);
  CHECK(all.size() == 2);  // the warm-up and this one
}

TEST_CASE(
    "200 concurrent RequireApprovalAsync calls on one Client each get "
    "their own decision",
    "[client][postgres][load]") {
  constexpr int kCalls = 200;
  constexpr int kReviewers = 4;
  TestDatabase db;
  std::unique_ptr<PostgresStore> store = db.OpenAppStore();
  BrokerHarness harness(*store);
  // Declared before the client, whose destructor may still run callbacks.
  absl::Mutex mu;
  std::vector<std::optional<absl::StatusOr<Decision>>> results(kCalls);
  int done = 0;
  std::unique_ptr<Client> client =
      NewClient(OptionsFor(harness.address(), harness.Token("agent-1")));
  absl::Time deadline = absl::Now() + absl::Seconds(180);
  for (int i = 0; i < kCalls; ++i) {
    client->RequireApprovalAsync(ExportOf(absl::StrCat("t", i)), deadline,
                                 [&, i](absl::StatusOr<Decision> decision) {
                                   absl::MutexLock lock(&mu);
                                   results[i] = std::move(decision);
                                   ++done;
                                 });
  }

  // Reviewer k decides the calls i with i % kReviewers == k: even ones
  // approved, odd ones denied, each with a comment naming its table.
  auto index_of = [](const v1::Approval& a) {
    return std::stoi(
        a.resource().substr(std::string("postgres://prod/t").size()));
  };
  std::vector<std::thread> reviewers;
  for (int k = 0; k < kReviewers; ++k) {
    reviewers.emplace_back([&, k] {
      BrokerCaller reviewer(harness.address(),
                            harness.Token(absl::StrCat("reviewer-", k)));
      int mine = kCalls / kReviewers;
      absl::Time give_up = absl::Now() + absl::Seconds(120);
      while (mine > 0 && absl::Now() < give_up) {
        for (const v1::Approval& a :
             reviewer.AwaitApprovals(v1::PENDING, 1, absl::Seconds(5))) {
          int i = index_of(a);
          if (i % kReviewers != k) continue;
          bool approve = i % 2 == 0;
          if (reviewer
                  .Decide(a.id(), approve ? v1::APPROVE : v1::DENY,
                          absl::StrCat(approve ? "approve t" : "deny t", i))
                  .ok()) {
            --mine;
          }
        }
      }
    });
  }
  for (std::thread& t : reviewers) t.join();

  absl::MutexLock lock(&mu);
  REQUIRE(mu.AwaitWithTimeout(absl::Condition(
                                  +[](int* n) { return *n == kCalls; }, &done),
                              absl::Seconds(60)));
  int approved = 0;
  for (int i = 0; i < kCalls; ++i) {
    INFO("call " << i);
    REQUIRE(results[i].has_value());
    const absl::StatusOr<Decision>& d = *results[i];
    INFO(d.status().ToString());
    REQUIRE(d.ok());
    bool approve = i % 2 == 0;
    CHECK(d->state ==
          (approve ? DecisionState::kApproved : DecisionState::kDenied));
    CHECK(d->comment == absl::StrCat(approve ? "approve t" : "deny t", i));
    CHECK(d->decided_by == absl::StrCat("reviewer-", i % kReviewers));
    CHECK(d->action_digest == ExpectedDigest(ExportOf(absl::StrCat("t", i))));
    if (d->state == DecisionState::kApproved) ++approved;
  }
  CHECK(approved == kCalls / 2);
}

}  // namespace
}  // namespace approval::testing
