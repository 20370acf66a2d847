// approval::Client against a real broker on PostgreSQL: every final state,
// approval tokens (verified by the client and offline), quorum, the
// caller's deadline, errors that must not be retried, options, mTLS.
#include "approval/client.h"

#include <catch2/catch.hpp>
#include <future>

#include "absl/strings/escaping.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "nlohmann/json.hpp"
#include "server/domain/token_signer.h"
#include "tests/client/client_test_support.h"
#include "tests/support/broker/broker_harness.h"
#include "tests/support/certs/test_certs.h"
#include "tests/support/pg/pg_fixture.h"
#include "tests/support/token_claims.h"

namespace approval::testing {
namespace {

constexpr absl::Duration kWait = absl::Seconds(30);

// A fresh key that never signed anything the broker issued.
std::string StrangersKey() { return TokenSigner::Generate()->public_key_pem(); }

class ClientFixture {
 protected:
  ClientFixture()
      : store_(db_.OpenAppStore()),
        harness_(*store_),
        alice_(harness_.address(), harness_.Token("alice")),
        agent_(harness_.address(), harness_.Token("agent-1")) {}

  std::unique_ptr<Client> NewClient(ClientOptions options) {
    absl::StatusOr<std::unique_ptr<Client>> client = Client::Create(options);
    INFO(client.status().ToString());
    REQUIRE(client.ok());
    return *std::move(client);
  }
  std::unique_ptr<Client> NewClient() {
    return NewClient(OptionsFor(harness_.address(), harness_.Token("agent-1")));
  }

  // The only pending approval, once it is there.
  v1::Approval AwaitPending() {
    std::vector<v1::Approval> pending =
        alice_.AwaitApprovals(v1::PENDING, 1, kWait);
    REQUIRE(pending.size() == 1);
    return pending[0];
  }

  TestDatabase db_;
  std::unique_ptr<PostgresStore> store_;
  BrokerHarness harness_;
  BrokerCaller alice_;
  BrokerCaller agent_;
};

TEST_CASE_METHOD(ClientFixture,
                 "an approved request returns APPROVED with reviewer comment "
                 "and verified digest",
                 "[client][postgres]") {
  std::unique_ptr<Client> client = NewClient();
  ApprovalRequest request = ExportOf("customers");
  auto result = std::async(std::launch::async, [&] {
    return client->RequireApproval(request, absl::Now() + absl::Seconds(60));
  });
  v1::Approval pending = AwaitPending();
  CHECK(pending.requester() == "agent-1");
  CHECK(pending.idempotency_key().size() == 32);
  REQUIRE(alice_.Decide(pending.id(), v1::APPROVE, "fine for Q3").ok());

  absl::StatusOr<Decision> decision = result.get();
  INFO(decision.status().ToString());
  REQUIRE(decision.ok());
  CHECK(decision->state == DecisionState::kApproved);
  CHECK(decision->approval_id == pending.id());
  CHECK(decision->decided_by == "alice");
  CHECK(decision->comment == "fine for Q3");
  CHECK(decision->action_digest == ExpectedDigest(request));
  CHECK(decision->cursor > 0);
  CHECK(decision->decide_time > absl::InfinitePast());
  CHECK_FALSE(decision->approval_token.empty());
  CHECK(decision->approvers == std::vector<std::string>{"alice"});
  CHECK(decision->rule == pending.requirement().rule());
  CHECK_FALSE(decision->rule.empty());
}

TEST_CASE_METHOD(ClientFixture,
                 "an approved decision's token verifies offline with the "
                 "broker's signing key",
                 "[client][postgres][token]") {
  std::unique_ptr<Client> client = NewClient();
  ApprovalRequest request = ExportOf("customers");
  auto result = std::async(std::launch::async, [&] {
    return client->RequireApproval(request, absl::Now() + absl::Seconds(60));
  });
  v1::Approval pending = AwaitPending();
  REQUIRE(alice_.Decide(pending.id(), v1::APPROVE, "ok").ok());
  absl::StatusOr<Decision> decision = result.get();
  INFO(decision.status().ToString());
  REQUIRE(decision.ok());
  REQUIRE(decision->state == DecisionState::kApproved);

  v1::SigningKey key;
  REQUIRE(agent_.GetSigningKey(&key).ok());
  CHECK(key.algorithm() == "Ed25519");
  const std::string& pem = key.public_key_pem();
  const std::string& token = decision->approval_token;

  absl::StatusOr<ApprovedAction> approved =
      VerifyApprovalToken(token, pem, request);
  INFO(approved.status().ToString());
  REQUIRE(approved.ok());
  CHECK(approved->approval_id == pending.id());
  CHECK(approved->action == "db.export");
  CHECK(approved->action_digest == ExpectedDigest(request));
  CHECK(approved->approvers == std::vector<std::string>{"alice"});
  CHECK(approved->rule == decision->rule);
  CHECK(approved->key_id == key.key_id());
  CHECK(approved->not_before <= absl::Now());
  CHECK(approved->not_after > absl::Now());
  CHECK(approved->approved_at == approved->not_before);

  SECTION("another request's parameters are refused") {
    ApprovalRequest other = request;
    other.parameters_json = R"({"table":"customers","rows":1200000})";
    CHECK(VerifyApprovalToken(token, pem, other).status().code() ==
          absl::StatusCode::kPermissionDenied);
    CHECK(
        VerifyApprovalToken(token, pem, ExportOf("payroll")).status().code() ==
        absl::StatusCode::kPermissionDenied);
  }
  SECTION("a tampered token is refused") {
    absl::Status s = VerifyApprovalToken(TokenWithApprovers(token, {"mallory"}),
                                         pem, request)
                         .status();
    INFO(s.ToString());
    CHECK(s.code() == absl::StatusCode::kUnauthenticated);
    CHECK(VerifyApprovalToken(token.substr(0, token.size() - 2), pem, request)
              .status()
              .code() == absl::StatusCode::kUnauthenticated);
    CHECK(VerifyApprovalToken("not-a-token", pem, request).status().code() ==
          absl::StatusCode::kUnauthenticated);
  }
  SECTION("another key is refused") {
    CHECK(VerifyApprovalToken(token, StrangersKey(), request).status().code() ==
          absl::StatusCode::kUnauthenticated);
    CHECK(VerifyApprovalToken(token, "not a key", request).status().code() ==
          absl::StatusCode::kInvalidArgument);
  }
  SECTION("a time outside the execution window is refused") {
    CHECK(VerifyApprovalToken(token, pem, request,
                              approved->not_before - absl::Seconds(1))
              .status()
              .code() == absl::StatusCode::kFailedPrecondition);
    CHECK(VerifyApprovalToken(token, pem, request, approved->not_after)
              .status()
              .code() == absl::StatusCode::kFailedPrecondition);
    CHECK(VerifyApprovalToken(token, pem, request,
                              approved->not_after - absl::Seconds(1))
              .ok());
  }
}

TEST_CASE_METHOD(ClientFixture,
                 "a pinned public key decides which approvals count",
                 "[client][postgres][token]") {
  ClientOptions options =
      OptionsFor(harness_.address(), harness_.Token("agent-1"));
  absl::StatusCode want = absl::StatusCode::kOk;
  SECTION("the broker's own key passes") {
    v1::SigningKey key;
    REQUIRE(agent_.GetSigningKey(&key).ok());
    options.broker_public_key_pem = key.public_key_pem();
  }
  SECTION("another key fails DATA_LOSS") {
    options.broker_public_key_pem = StrangersKey();
    want = absl::StatusCode::kDataLoss;
  }
  std::unique_ptr<Client> client = NewClient(options);
  bool ran = false;
  auto result = std::async(std::launch::async, [&] {
    return client->RunIfApproved(ExportOf("customers"),
                                 absl::Now() + absl::Seconds(60), [&] {
                                   ran = true;
                                   return absl::OkStatus();
                                 });
  });
  REQUIRE(alice_.Decide(AwaitPending().id(), v1::APPROVE, "ok").ok());
  absl::Status status = result.get();
  INFO(status.ToString());
  CHECK(status.code() == want);
  CHECK(ran == (want == absl::StatusCode::kOk));
  if (!status.ok()) {
    CHECK_THAT(std::string(status.message()),
               Catch::Contains("does not verify"));
  }
}

TEST_CASE("a review short of the quorum keeps the client waiting",
          "[client][postgres][quorum]") {
  TempDir dir;
  Config config = TwoApprovalsConfig(dir);
  TestDatabase db;
  std::unique_ptr<PostgresStore> store = db.OpenAppStore();
  BrokerHarness harness(*store, config);
  BrokerCaller alice(harness.address(), harness.Token("alice"));
  BrokerCaller bob(harness.address(), harness.Token("bob"));
  absl::StatusOr<std::unique_ptr<Client>> client =
      Client::Create(OptionsFor(harness.address(), harness.Token("agent-1")));
  REQUIRE(client.ok());
  auto result = std::async(std::launch::async, [&] {
    return (*client)->RequireApproval(ExportOf("customers"),
                                      absl::Now() + absl::Seconds(60));
  });
  std::vector<v1::Approval> pending =
      alice.AwaitApprovals(v1::PENDING, 1, kWait);
  REQUIRE(pending.size() == 1);
  const std::string id = pending[0].id();
  CHECK(pending[0].requirement().approvals_required() == 2);

  REQUIRE(alice.Decide(id, v1::APPROVE, "one of two").ok());
  v1::Approval partial;
  REQUIRE(alice.Get(id, &partial).ok());
  CHECK(partial.state() == v1::PENDING);
  CHECK(partial.approvals_missing() == 1);
  CHECK(partial.approval_token().empty());
  // Nothing final happened: the client must still be waiting.
  CHECK(result.wait_for(std::chrono::seconds(0)) ==
        std::future_status::timeout);

  REQUIRE(bob.Decide(id, v1::APPROVE, "two of two").ok());
  absl::StatusOr<Decision> decision = result.get();
  INFO(decision.status().ToString());
  REQUIRE(decision.ok());
  CHECK(decision->state == DecisionState::kApproved);
  CHECK(decision->approvers == std::vector<std::string>{"alice", "bob"});
  CHECK(decision->rule == "two-eyes");
}

TEST_CASE_METHOD(ClientFixture,
                 "RunIfApproved does not run a denied action and names the "
                 "reviewer",
                 "[client][postgres]") {
  std::unique_ptr<Client> client = NewClient();
  bool ran = false;
  auto result = std::async(std::launch::async, [&] {
    return client->RunIfApproved(ExportOf("customers"),
                                 absl::Now() + absl::Seconds(60), [&] {
                                   ran = true;
                                   return absl::OkStatus();
                                 });
  });
  v1::Approval pending = AwaitPending();
  REQUIRE(alice_.Decide(pending.id(), v1::DENY, "no PII exports").ok());

  absl::Status status = result.get();
  CHECK_FALSE(ran);
  CHECK(status.code() == absl::StatusCode::kPermissionDenied);
  CHECK(std::string(status.message()) ==
        "approval " + pending.id() + " denied by alice: no PII exports");
}

TEST_CASE_METHOD(ClientFixture,
                 "RunIfApproved runs an approved action and returns its status",
                 "[client][postgres]") {
  std::unique_ptr<Client> client = NewClient();
  int runs = 0;
  auto result = std::async(std::launch::async, [&] {
    return client->RunIfApproved(
        ExportOf("customers"), absl::Now() + absl::Seconds(60), [&] {
          ++runs;
          return absl::ResourceExhaustedError("disk full");
        });
  });
  REQUIRE(alice_.Decide(AwaitPending().id(), v1::APPROVE, "ok").ok());
  absl::Status status = result.get();
  CHECK(runs == 1);
  CHECK(status == absl::ResourceExhaustedError("disk full"));
}

TEST_CASE_METHOD(ClientFixture,
                 "a request nobody decides within its TTL returns EXPIRED",
                 "[client][postgres]") {
  std::unique_ptr<Client> client = NewClient();
  ApprovalRequest request = ExportOf("customers");
  request.ttl = absl::Seconds(1);
  absl::StatusOr<Decision> decision =
      client->RequireApproval(request, absl::Now() + absl::Seconds(60));
  INFO(decision.status().ToString());
  REQUIRE(decision.ok());
  CHECK(decision->state == DecisionState::kExpired);
  CHECK(decision->decided_by.empty());
}

TEST_CASE_METHOD(ClientFixture,
                 "a request the agent withdraws returns CANCELLED",
                 "[client][postgres]") {
  std::unique_ptr<Client> client = NewClient();
  auto result = std::async(std::launch::async, [&] {
    return client->RequireApproval(ExportOf("customers"),
                                   absl::Now() + absl::Seconds(60));
  });
  v1::Approval pending = AwaitPending();
  REQUIRE(agent_.Cancel(pending.id()).ok());
  absl::StatusOr<Decision> decision = result.get();
  INFO(decision.status().ToString());
  REQUIRE(decision.ok());
  CHECK(decision->state == DecisionState::kCancelled);
  CHECK(decision->decided_by == "agent-1");
  CHECK(decision->comment == "changed my mind");
}

TEST_CASE_METHOD(ClientFixture,
                 "the caller's deadline ends the wait with DEADLINE_EXCEEDED",
                 "[client][postgres]") {
  ClientOptions options =
      OptionsFor(harness_.address(), harness_.Token("agent-1"));
  v1::State left_behind = v1::STATE_UNSPECIFIED;
  SECTION("and cancels the pending approval by default") {
    left_behind = v1::CANCELLED;
  }
  SECTION("and leaves it pending without cancel_on_deadline") {
    options.cancel_on_deadline = false;
    left_behind = v1::PENDING;
  }
  std::unique_ptr<Client> client = NewClient(options);
  absl::StatusOr<Decision> decision = client->RequireApproval(
      ExportOf("customers"), absl::Now() + absl::Seconds(3));
  INFO(decision.status().ToString());
  CHECK(decision.status().code() == absl::StatusCode::kDeadlineExceeded);

  std::vector<v1::Approval> all =
      alice_.AwaitApprovals(v1::STATE_UNSPECIFIED, 1, kWait);
  REQUIRE(all.size() == 1);
  CHECK(all[0].state() == left_behind);
}

TEST_CASE_METHOD(ClientFixture,
                 "a wrong token fails UNAUTHENTICATED without retrying",
                 "[client][postgres]") {
  std::unique_ptr<Client> client =
      NewClient(OptionsFor(harness_.address(), "not-a-token"));
  // A retry loop would end in DEADLINE_EXCEEDED instead.
  absl::StatusOr<Decision> decision = client->RequireApproval(
      ExportOf("customers"), absl::Now() + absl::Seconds(60));
  CHECK(decision.status().code() == absl::StatusCode::kUnauthenticated);
}

TEST_CASE_METHOD(ClientFixture,
                 "parameters that are not a JSON object are refused before "
                 "anything is sent",
                 "[client][postgres]") {
  std::unique_ptr<Client> client = NewClient();
  ApprovalRequest request = ExportOf("customers");
  request.parameters_json = R"(["customers"])";
  absl::StatusOr<Decision> decision =
      client->RequireApproval(request, absl::Now() + absl::Seconds(60));
  CHECK(decision.status().code() == absl::StatusCode::kInvalidArgument);
  CHECK_THAT(std::string(decision.status().message()),
             Catch::StartsWith("parameters_json:"));
  request.parameters_json = R"({"a":1,"a":2})";
  CHECK(client->RequireApproval(request, absl::Now() + absl::Seconds(60))
            .status()
            .code() == absl::StatusCode::kInvalidArgument);
  CHECK(alice_.AwaitApprovals(v1::STATE_UNSPECIFIED, 0, kWait).empty());
}

TEST_CASE_METHOD(ClientFixture,
                 "destroying the Client ends its pending calls with CANCELLED",
                 "[client][postgres]") {
  std::promise<absl::StatusOr<Decision>> result;  // outlives the client
  std::unique_ptr<Client> client = NewClient();
  client->RequireApprovalAsync(
      ExportOf("customers"), absl::Now() + absl::Seconds(60),
      [&](absl::StatusOr<Decision> d) { result.set_value(std::move(d)); });
  AwaitPending();
  client.reset();
  // The destructor waited for `done`: the value is there.
  std::future<absl::StatusOr<Decision>> done = result.get_future();
  REQUIRE(done.wait_for(std::chrono::seconds(0)) == std::future_status::ready);
  CHECK(done.get().status().code() == absl::StatusCode::kCancelled);
}

TEST_CASE("Create refuses bad options and unreadable TLS files",
          "[client][options]") {
  ClientOptions options;
  options.use_tls = true;
  options.tls_ca_file = "/nonexistent/ca.pem";
  absl::Status s = Client::Create(options).status();
  CHECK(s.code() == absl::StatusCode::kInvalidArgument);
  CHECK_THAT(std::string(s.message()), Catch::Contains("/nonexistent/ca.pem"));

  TempDir dir;
  options.tls_ca_file = dir.Write("ca.pem", "x");
  options.tls_cert_file = dir.Write("client.crt", "x");
  s = Client::Create(options).status();
  CHECK(s.code() == absl::StatusCode::kInvalidArgument);
  CHECK_THAT(std::string(s.message()), Catch::Contains("tls_key_file"));

  ClientOptions plain;
  plain.tls_ca_file = options.tls_ca_file;
  CHECK(Client::Create(plain).status().code() ==
        absl::StatusCode::kInvalidArgument);
  plain = ClientOptions();
  plain.reconnect_backoff_max = absl::Milliseconds(1);
  CHECK(Client::Create(plain).status().code() ==
        absl::StatusCode::kInvalidArgument);
  plain = ClientOptions();
  plain.bearer_token = "has space";
  CHECK(Client::Create(plain).status().code() ==
        absl::StatusCode::kInvalidArgument);
  plain = ClientOptions();
  plain.broker_public_key_pem = "-----BEGIN PUBLIC KEY-----\nxx\n";
  s = Client::Create(plain).status();
  CHECK(s.code() == absl::StatusCode::kInvalidArgument);
  CHECK_THAT(std::string(s.message()),
             Catch::StartsWith("broker_public_key_pem:"));
  CHECK(Client::Create(ClientOptions()).ok());
}

TEST_CASE("over mTLS the client certificate is the agent's identity",
          "[client][postgres][mtls]") {
  constexpr char kAgent[] = "spiffe://test.example/agents/exporter";
  TestPki pki;
  TempDir dir;
  Config config = TlsHarnessConfig(pki, dir);
  config.auth.mtls_identities = {{kAgent, {Role::kAgent}}};
  TestDatabase db;
  std::unique_ptr<PostgresStore> store = db.OpenAppStore();
  BrokerHarness harness(*store, config);

  ClientOptions options;
  options.target = absl::StrCat("localhost:", harness.server().port());
  options.use_tls = true;
  options.tls_ca_file = config.tls.client_ca_file;
  PemFiles agent = WriteKeyPair(dir, "agent", pki.Client({kAgent}, "exporter"));
  options.tls_cert_file = agent.cert_file;
  options.tls_key_file = agent.key_file;
  absl::StatusOr<std::unique_ptr<Client>> client = Client::Create(options);
  REQUIRE(client.ok());
  auto result = std::async(std::launch::async, [&] {
    return (*client)->RequireApproval(ExportOf("customers"),
                                      absl::Now() + absl::Seconds(60));
  });

  // The reviewer: a token over the same TLS port.
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = pki.ca().cert_pem;
  BrokerCaller alice(options.target, harness.Token("alice"),
                     grpc::SslCredentials(ssl));
  std::vector<v1::Approval> pending =
      alice.AwaitApprovals(v1::PENDING, 1, kWait);
  REQUIRE(pending.size() == 1);
  CHECK(pending[0].requester() == kAgent);
  REQUIRE(alice.Decide(pending[0].id(), v1::APPROVE, "ok").ok());

  absl::StatusOr<Decision> decision = result.get();
  INFO(decision.status().ToString());
  REQUIRE(decision.ok());
  CHECK(decision->state == DecisionState::kApproved);
}

}  // namespace
}  // namespace approval::testing
