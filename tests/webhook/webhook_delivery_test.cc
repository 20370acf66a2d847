// Durable, signed webhook delivery (server/webhook) against a real
// PostgreSQL and loopback HTTPS receivers that check signatures themselves.
#include <algorithm>
#include <catch2/catch.hpp>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "nlohmann/json.hpp"
#include "server/store/postgres/postgres_store.h"
#include "server/webhook/delivery_queue.h"
#include "server/webhook/dispatcher.h"
#include "server/webhook/webhook_event.h"
#include "tests/support/certs/test_certs.h"
#include "tests/support/pg/pg_fixture.h"
#include "tests/support/store/store_requests.h"
#include "tests/support/webhook/webhook_receiver.h"

namespace approval::testing {
namespace {

constexpr char kOldSecret[] = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
constexpr char kNewSecret[] =
    "whsec_c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTEyMzQ=";
constexpr absl::Duration kWait = absl::Seconds(30);

// Counts what the dispatcher reports; tests wait on it.
class CountingMetrics final : public WebhookMetrics {
 public:
  struct Counts {
    std::map<std::string, int> delivered, retries, failed;
    int Of(const std::map<std::string, int>& m, const std::string& e) const {
      auto it = m.find(e);
      return it == m.end() ? 0 : it->second;
    }
  };

  void RecordWebhookDelivered(absl::string_view endpoint,
                              absl::Duration lag) override {
    absl::MutexLock lock(&mu_);
    ++counts_.delivered[std::string(endpoint)];
    lags_.push_back(lag);
  }
  std::vector<absl::Duration> lags() const {
    absl::MutexLock lock(&mu_);
    return lags_;
  }
  void RecordWebhookRetry(absl::string_view endpoint) override {
    absl::MutexLock lock(&mu_);
    ++counts_.retries[std::string(endpoint)];
  }
  void RecordWebhookFailed(absl::string_view endpoint) override {
    absl::MutexLock lock(&mu_);
    ++counts_.failed[std::string(endpoint)];
  }
  int delivered(const std::string& e) const {
    absl::MutexLock lock(&mu_);
    return counts_.Of(counts_.delivered, e);
  }
  int retries(const std::string& e) const {
    absl::MutexLock lock(&mu_);
    return counts_.Of(counts_.retries, e);
  }
  int failed(const std::string& e) const {
    absl::MutexLock lock(&mu_);
    return counts_.Of(counts_.failed, e);
  }
  // Waits until `pred(counts)` holds or `timeout` passed.
  bool Await(const std::function<bool(const Counts&)>& pred,
             absl::Duration timeout) const {
    absl::MutexLock lock(&mu_);
    auto done = [&pred, this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return pred(counts_);
    };
    return mu_.AwaitWithTimeout(absl::Condition(&done), timeout);
  }

 private:
  mutable absl::Mutex mu_;
  Counts counts_ ABSL_GUARDED_BY(mu_);
  std::vector<absl::Duration> lags_ ABSL_GUARDED_BY(mu_);
};

WebhookEndpoint Endpoint(const std::string& name, const std::string& url,
                         const std::string& ca_file,
                         std::vector<std::string> secrets = {kOldSecret}) {
  WebhookEndpoint e;
  e.name = name;
  e.url = url;
  e.ca_file = ca_file;
  e.event_types = {"created", "reviewed", "approved",
                   "denied",  "expired",  "cancelled"};
  e.secrets = std::move(secrets);
  e.timeout = absl::Seconds(2);
  return e;
}

WebhooksConfig Config(std::vector<WebhookEndpoint> endpoints) {
  WebhooksConfig c;
  c.endpoints = std::move(endpoints);
  c.initial_backoff = absl::Milliseconds(50);
  c.max_backoff = absl::Milliseconds(200);
  c.poll_interval = absl::Milliseconds(200);
  return c;
}

struct Fixture {
  TestPki pki;
  KeyPair server = pki.Server();
  TempDir dir;
  std::string ca_file = dir.Write("ca.pem", pki.ca().cert_pem);
  TestDatabase db;
  std::unique_ptr<PostgresStore> store = db.OpenAppStore();

  std::unique_ptr<WebhookQueue> OpenQueue() const {
    absl::StatusOr<std::unique_ptr<WebhookQueue>> q =
        WebhookQueue::Open(db.app_url(), 4, absl::Seconds(5));
    REQUIRE(q.ok());
    return *std::move(q);
  }
};

// The ids of every audit event of `types`.
std::set<std::string> ExpectedIds(ApprovalStore& store,
                                  const std::string& endpoint,
                                  const std::set<EventType>& types) {
  std::set<std::string> ids;
  for (const AuditEvent& e : AllAuditEvents(store)) {
    if (types.count(e.type) > 0) ids.insert(WebhookId(e.seq, endpoint));
  }
  return ids;
}

TEST_CASE("Every event is delivered, signed with every secret, with its id",
          "[webhook][postgres]") {
  Fixture f;
  // Rotation: each receiver knows only one of the endpoint's two secrets.
  WebhookReceiver old_receiver(f.server, {kOldSecret});
  WebhookReceiver new_receiver(f.server, {kNewSecret});
  std::unique_ptr<WebhookQueue> queue = f.OpenQueue();
  CountingMetrics metrics;
  WebhookEndpoint old_endpoint =
      Endpoint("old", old_receiver.url(), f.ca_file, {kNewSecret, kOldSecret});
  old_endpoint.event_types = {"created", "approved"};
  WebhookEndpoint new_endpoint = old_endpoint;
  new_endpoint.name = "new";
  new_endpoint.url = new_receiver.url();
  WebhookDispatcher dispatcher(Config({old_endpoint, new_endpoint}), *f.store,
                               *queue, &metrics);
  REQUIRE(dispatcher.Start().ok());

  const Approval a = MustCreate(*f.store, "agent-1", "t1");
  MustCreate(*f.store, "agent-1", "t2");
  REQUIRE(f.store->Decide(Decision(a.id, "alice")).ok());
  dispatcher.Wake();
  const std::set<std::string> old_ids =
      ExpectedIds(*f.store, "old", {EventType::kCreated, EventType::kApproved});
  REQUIRE(old_ids.size() == 3);  // created x2, approved

  REQUIRE(old_receiver.AwaitAccepted(3, kWait));
  REQUIRE(new_receiver.AwaitAccepted(3, kWait));
  std::set<std::string> got;
  for (const ReceivedWebhook& r : old_receiver.accepted()) {
    INFO(r.id);
    CHECK(r.verified);
    CHECK(r.signature.find(' ') != std::string::npos);  // two entries
    got.insert(r.id);
    const nlohmann::json body = nlohmann::json::parse(r.body);
    CHECK(body["data"]["approval"].contains("parameters_preview"));
    CHECK(WebhookId(body["data"]["seq"].get<int64_t>(), "old") == r.id);
  }
  CHECK(got == old_ids);
  for (const ReceivedWebhook& r : new_receiver.accepted()) CHECK(r.verified);
  CHECK(old_receiver.received().size() == 3);
  REQUIRE(metrics.Await(
      [](const CountingMetrics::Counts& c) {
        return c.Of(c.delivered, "old") == 3;
      },
      kWait));
}

TEST_CASE("An endpoint that asks for reviews gets each review, with its id",
          "[webhook][postgres]") {
  Fixture f;
  WebhookReceiver receiver(f.server, {kNewSecret});
  std::unique_ptr<WebhookQueue> queue = f.OpenQueue();
  CountingMetrics metrics;
  WebhookEndpoint endpoint =
      Endpoint("progress", receiver.url(), f.ca_file, {kNewSecret});
  endpoint.event_types = {"reviewed"};
  WebhookDispatcher dispatcher(Config({endpoint}), *f.store, *queue, &metrics);
  REQUIRE(dispatcher.Start().ok());

  const Approval a = MustCreate(*f.store, "agent-1", "t1");
  REQUIRE(f.store->Decide(Decision(a.id, "alice")).ok());
  dispatcher.Wake();
  const std::set<std::string> want =
      ExpectedIds(*f.store, "progress", {EventType::kReviewed});
  REQUIRE(want.size() == 1);

  REQUIRE(receiver.AwaitAccepted(1, kWait));
  const ReceivedWebhook r = receiver.accepted().front();
  CHECK(r.verified);
  CHECK(want.count(r.id) == 1);
  const nlohmann::json body = nlohmann::json::parse(r.body);
  CHECK(body["type"] == "approval.reviewed");
  CHECK(body["data"]["actor"] == "alice");
}

TEST_CASE("Deliveries to one endpoint reuse one kept-alive connection",
          "[webhook][postgres]") {
  Fixture f;
  WebhookReceiver receiver(f.server, {kNewSecret});
  std::unique_ptr<WebhookQueue> queue = f.OpenQueue();
  CountingMetrics metrics;
  WebhookEndpoint endpoint =
      Endpoint("tickets", receiver.url(), f.ca_file, {kNewSecret});
  endpoint.event_types = {"created"};
  WebhookDispatcher dispatcher(Config({endpoint}), *f.store, *queue, &metrics);
  REQUIRE(dispatcher.Start().ok());

  MustCreate(*f.store, "agent-1", "t1");
  dispatcher.Wake();
  REQUIRE(receiver.AwaitAccepted(1, kWait));
  // Later events, once the first delivery is done: a new TCP and TLS
  // handshake each would show as new connections.
  MustCreate(*f.store, "agent-1", "t2");
  MustCreate(*f.store, "agent-1", "t3");
  dispatcher.Wake();
  REQUIRE(receiver.AwaitAccepted(3, kWait));
  std::set<int> connections;
  for (const ReceivedWebhook& r : receiver.accepted()) {
    CHECK(r.verified);
    connections.insert(r.connection);
  }
  CHECK(connections.size() == 1);
}

TEST_CASE("An endpoint that asks for escalations gets each, with its id",
          "[webhook][postgres][escalation]") {
  Fixture f;
  WebhookReceiver receiver(f.server, {kNewSecret});
  std::unique_ptr<WebhookQueue> queue = f.OpenQueue();
  CountingMetrics metrics;
  WebhookEndpoint endpoint =
      Endpoint("oncall", receiver.url(), f.ca_file, {kNewSecret});
  endpoint.event_types = {"escalated"};
  WebhookDispatcher dispatcher(Config({endpoint}), *f.store, *queue, &metrics);
  REQUIRE(dispatcher.Start().ok());

  NewApproval req = MakeRequest("agent-1", "", "t1");
  req.requirement.rule = "slow-dba";
  req.requirement.reviewer_groups = {"dba"};
  req.requirement.escalate_after = absl::Seconds(1);
  req.requirement.escalate_to = {"security"};
  absl::StatusOr<CreateResult> a = f.store->Create(req);
  REQUIRE(a.ok());
  // Sweep as the broker does, until the escalation is due (bounded).
  std::vector<ApprovalEvent> escalated;
  const absl::Time give_up = absl::Now() + kWait;
  while (escalated.empty() && absl::Now() < give_up) {
    absl::StatusOr<std::vector<ApprovalEvent>> swept = f.store->EscalateDue(10);
    REQUIRE(swept.ok());
    escalated = *swept;
    if (escalated.empty()) absl::SleepFor(absl::Milliseconds(50));
  }
  REQUIRE(escalated.size() == 1);
  dispatcher.Wake();

  REQUIRE(receiver.AwaitAccepted(1, kWait));
  const ReceivedWebhook r = receiver.accepted().front();
  CHECK(r.verified);
  CHECK(r.id == WebhookId(escalated[0].cursor, "oncall"));
  const nlohmann::json body = nlohmann::json::parse(r.body);
  CHECK(body["type"] == "approval.escalated");
  CHECK(body["data"]["actor"] == "system");
  CHECK(body["data"]["approval"]["id"] == a->approval.id);
  // Only what the endpoint asked for: its creation was not sent.
  CHECK(receiver.received().size() == 1);
}

TEST_CASE("A receiver that is down gets the event when it returns, same id",
          "[webhook][postgres]") {
  Fixture f;
  WebhookReceiver receiver(f.server, {kOldSecret});
  receiver.SetStatus(503);
  std::unique_ptr<WebhookQueue> queue = f.OpenQueue();
  CountingMetrics metrics;
  WebhookDispatcher dispatcher(
      Config({Endpoint("t", receiver.url(), f.ca_file)}), *f.store, *queue,
      &metrics);
  REQUIRE(dispatcher.Start().ok());
  MustCreate(*f.store, "agent-1");
  dispatcher.Wake();

  REQUIRE(receiver.AwaitReceived(
      [](const std::vector<ReceivedWebhook>& r) { return r.size() >= 3; },
      kWait));
  receiver.SetStatus(200);
  REQUIRE(receiver.AwaitAccepted(1, kWait));
  const std::vector<ReceivedWebhook> all = receiver.received();
  for (const ReceivedWebhook& r : all) CHECK(r.id == all.front().id);
  CHECK(receiver.accepted().size() == 1);
  CHECK(metrics.retries("t") >= 2);
  REQUIRE(metrics.Await(
      [](const CountingMetrics::Counts& c) {
        return c.Of(c.delivered, "t") == 1;
      },
      kWait));

  absl::StatusOr<DeliveryPage> page = queue->List({});
  REQUIRE(page.ok());
  REQUIRE(page->deliveries.size() == 1);
  CHECK(page->deliveries[0].status == DeliveryStatus::kDelivered);
  CHECK(page->deliveries[0].attempts >= 3);
  CHECK(page->deliveries[0].last_http_status == 200);
}

TEST_CASE("Two dispatchers on one database deliver each event once",
          "[webhook][postgres]") {
  Fixture f;
  WebhookReceiver receiver(f.server, {kOldSecret});
  const WebhooksConfig config =
      Config({Endpoint("t", receiver.url(), f.ca_file)});
  std::unique_ptr<WebhookQueue> queue1 = f.OpenQueue();
  std::unique_ptr<WebhookQueue> queue2 = f.OpenQueue();
  std::unique_ptr<PostgresStore> store2 = f.db.OpenAppStore();
  WebhookDispatcher one(config, *f.store, *queue1, nullptr);
  WebhookDispatcher two(config, *store2, *queue2, nullptr);
  REQUIRE(one.Start().ok());
  REQUIRE(two.Start().ok());
  constexpr int kApprovals = 30;
  for (int i = 0; i < kApprovals; ++i) {
    MustCreate(*f.store, "agent-1", absl::StrCat("t", i));
    one.Wake();
    two.Wake();
  }
  REQUIRE(receiver.AwaitAccepted(kApprovals, kWait));
  // Let anything in flight finish before counting.
  one.Stop();
  two.Stop();
  std::map<std::string, int> times;
  for (const ReceivedWebhook& r : receiver.received()) ++times[r.id];
  CHECK(times.size() == static_cast<size_t>(kApprovals));
  for (const auto& [id, n] : times) {
    INFO(id);
    CHECK(n == 1);
  }
}

TEST_CASE(
    "A receiver whose certificate does not verify is retried, then "
    "failed and counted",
    "[webhook][postgres]") {
  Fixture f;
  TestPki other;
  const std::string wrong_ca = f.dir.Write("other-ca.pem", other.ca().cert_pem);
  WebhookReceiver receiver(f.server, {kOldSecret});
  std::unique_ptr<WebhookQueue> queue = f.OpenQueue();
  CountingMetrics metrics;
  WebhooksConfig config = Config({Endpoint("t", receiver.url(), wrong_ca)});
  config.retry_horizon = absl::Seconds(1);
  WebhookDispatcher dispatcher(config, *f.store, *queue, &metrics);
  REQUIRE(dispatcher.Start().ok());
  MustCreate(*f.store, "agent-1");
  dispatcher.Wake();

  REQUIRE(metrics.Await(
      [](const CountingMetrics::Counts& c) { return c.Of(c.failed, "t") == 1; },
      kWait));
  CHECK(metrics.retries("t") >= 1);
  CHECK(metrics.delivered("t") == 0);
  CHECK(receiver.received().empty());  // no request ever got through TLS
  DeliveryListQuery q;
  q.status = DeliveryStatus::kFailed;
  absl::StatusOr<DeliveryPage> page = queue->List(q);
  REQUIRE(page.ok());
  REQUIRE(page->deliveries.size() == 1);
  CHECK(page->deliveries[0].attempts >= 2);
  CHECK_FALSE(page->deliveries[0].last_error.empty());
}

TEST_CASE(
    "A receiver that never answers or answers without end stalls no "
    "other endpoint",
    "[webhook][postgres]") {
  Fixture f;
  WebhookReceiver silent(f.server, {kOldSecret});
  silent.SetMode(WebhookReceiver::Mode::kHold);
  WebhookReceiver endless(f.server, {kOldSecret});
  endless.SetMode(WebhookReceiver::Mode::kEndlessBody);
  WebhookReceiver good(f.server, {kOldSecret});
  std::unique_ptr<WebhookQueue> queue = f.OpenQueue();
  CountingMetrics metrics;
  WebhookEndpoint silent_endpoint = Endpoint("silent", silent.url(), f.ca_file);
  silent_endpoint.timeout = absl::Seconds(1);
  WebhookEndpoint endless_endpoint =
      Endpoint("endless", endless.url(), f.ca_file);
  endless_endpoint.timeout = absl::Seconds(1);
  WebhookDispatcher dispatcher(
      Config({silent_endpoint, endless_endpoint,
              Endpoint("good", good.url(), f.ca_file)}),
      *f.store, *queue, &metrics);
  REQUIRE(dispatcher.Start().ok());
  for (int i = 0; i < 3; ++i) {
    MustCreate(*f.store, "agent-1", absl::StrCat("t", i));
  }
  dispatcher.Wake();

  REQUIRE(good.AwaitAccepted(3, kWait));
  // The silent one is cut off by its timeout and retried.
  REQUIRE(metrics.Await(
      [](const CountingMetrics::Counts& c) {
        return c.Of(c.retries, "silent") >= 1;
      },
      kWait));
  CHECK(metrics.delivered("silent") == 0);
  // The endless answer is a 200: its status counts, the rest is not read.
  REQUIRE(metrics.Await(
      [](const CountingMetrics::Counts& c) {
        return c.Of(c.delivered, "endless") == 3;
      },
      kWait));
}

TEST_CASE("Deliveries are listed newest first, page by page",
          "[webhook][postgres]") {
  Fixture f;
  WebhookReceiver receiver(f.server, {kOldSecret});
  std::unique_ptr<WebhookQueue> queue = f.OpenQueue();
  CountingMetrics metrics;
  WebhookDispatcher dispatcher(
      Config({Endpoint("t", receiver.url(), f.ca_file)}), *f.store, *queue,
      &metrics);
  REQUIRE(dispatcher.Start().ok());
  for (int i = 0; i < 5; ++i) {
    MustCreate(*f.store, "agent-1", absl::StrCat("t", i));
  }
  dispatcher.Wake();
  REQUIRE(metrics.Await(
      [](const CountingMetrics::Counts& c) {
        return c.Of(c.delivered, "t") == 5;
      },
      kWait));

  std::vector<int64_t> seqs;
  DeliveryListQuery q;
  q.page_size = 2;
  for (int page_number = 0; page_number < 10; ++page_number) {
    absl::StatusOr<DeliveryPage> page = queue->List(q);
    REQUIRE(page.ok());
    for (const DeliveryRecord& d : page->deliveries) {
      CHECK(d.status == DeliveryStatus::kDelivered);
      CHECK(d.endpoint == "t");
      seqs.push_back(d.seq);
    }
    if (page->next_page_token.empty()) break;
    q.page_token = page->next_page_token;
  }
  CHECK(seqs == std::vector<int64_t>{5, 4, 3, 2, 1});
  q.page_token = "garbage";
  CHECK(queue->List(q).status().code() == absl::StatusCode::kInvalidArgument);
}

// A measurement, not a test (hidden: CTest does not run it). Run it with
//   build/tests/webhook/webhook_delivery_test "[measure]"
TEST_CASE("Delivery lag under a burst of 1000 events", "[.][measure]") {
  Fixture f;
  WebhookReceiver receiver(f.server, {kOldSecret});
  std::unique_ptr<WebhookQueue> queue = f.OpenQueue();
  CountingMetrics metrics;
  WebhookEndpoint endpoint = Endpoint("t", receiver.url(), f.ca_file);
  endpoint.event_types = {"created"};
  WebhookDispatcher dispatcher(Config({endpoint}), *f.store, *queue, &metrics);
  REQUIRE(dispatcher.Start().ok());
  constexpr int kEvents = 1000;
  const absl::Time start = absl::Now();
  for (int i = 0; i < kEvents; ++i) {
    MustCreate(*f.store, "agent-1", absl::StrCat("t", i));
    dispatcher.Wake();
  }
  const absl::Time committed = absl::Now();
  REQUIRE(metrics.Await(
      [](const CountingMetrics::Counts& c) {
        return c.Of(c.delivered, "t") == kEvents;
      },
      absl::Minutes(5)));
  const absl::Time done = absl::Now();
  std::vector<absl::Duration> lags = metrics.lags();
  std::sort(lags.begin(), lags.end());
  auto at = [&lags](double q) {
    return absl::FormatDuration(
        lags[static_cast<size_t>(q * (lags.size() - 1))]);
  };
  WARN("burst of " << kEvents << " events committed in "
                   << absl::FormatDuration(committed - start)
                   << ", all delivered after "
                   << absl::FormatDuration(done - start) << "; lag p50 "
                   << at(0.5) << " p90 " << at(0.9) << " p99 " << at(0.99)
                   << " max " << absl::FormatDuration(lags.back()));
  CHECK(receiver.accepted().size() == static_cast<size_t>(kEvents));
}

}  // namespace
}  // namespace approval::testing
