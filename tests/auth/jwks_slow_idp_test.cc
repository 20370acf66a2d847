// A slow or unreachable IdP stalls nobody else: the JWKS is fetched in the
// background, one fetch at a time, and only callers whose key id is unknown
// wait for it, at most auth.oidc.unknown_key_wait. The IdP is a loopback
// HTTPS server the test holds (requests received but not answered) until it
// releases it, so every "before the IdP answered" below is an ordering of
// events, not a timing.
#include <atomic>
#include <catch2/catch.hpp>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "grpcpp/grpcpp.h"
#include "server/auth/authenticator.h"
#include "server/auth/jwks_source.h"
#include "server/auth/jwt_verifier.h"
#include "server/auth/refusal.h"
#include "server/domain/refusal_reason.h"
#include "server/store/memory_store.h"
#include "tests/support/broker/broker_harness.h"
#include "tests/support/certs/test_certs.h"
#include "tests/support/identity/fake_clock.h"
#include "tests/support/identity/jwks_https_server.h"
#include "tests/support/identity/token_minter.h"

namespace approval::testing {
namespace {

using Json = nlohmann::json;
using Catch::Matchers::Contains;

constexpr char kIssuer[] = "https://idp.slow.test";
constexpr char kAudience[] = "approval-broker";
// Long enough never to end a wait in these tests unless a test says so: the
// IdP answers when the test releases it.
constexpr absl::Duration kLongWait = absl::Seconds(60);
// Bound on waiting for an event that must happen.
constexpr absl::Duration kEventBound = absl::Seconds(30);

const TestKey& IdpKey() {
  static const TestKey* const key = new TestKey(TestKey::Ec("idp-slow-1"));
  return *key;
}

// Counts callbacks; waits for a number of them.
class Countdown {
 public:
  void Add(bool ok) {
    absl::MutexLock lock(&mu_);
    ++done_;
    if (ok) ++ok_;
  }
  bool AwaitDone(int n, absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    auto reached = [this, n]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return done_ >= n;
    };
    return mu_.AwaitWithTimeout(absl::Condition(&reached), timeout);
  }
  int done() const {
    absl::MutexLock lock(&mu_);
    return done_;
  }
  int ok() const {
    absl::MutexLock lock(&mu_);
    return ok_;
  }

 private:
  mutable absl::Mutex mu_;
  int done_ ABSL_GUARDED_BY(mu_) = 0;
  int ok_ ABSL_GUARDED_BY(mu_) = 0;
};

std::string OidcToken(const TestKey& key, absl::Time now) {
  Json claims = Claims(kIssuer, kAudience, "alice", now);
  claims["groups"] = {"requesters"};
  return Mint(claims, key);
}

TEST_CASE(
    "Slow IdP: static-token calls complete while OIDC callers wait for the "
    "JWKS",
    "[identity][jwks][slow_idp]") {
  TestPki pki;
  TempDir dir;
  MemoryStore store([] { return absl::Now(); });
  std::unique_ptr<BrokerHarness> harness;
  // Declared after the harness so that it goes first: its destructor
  // answers whatever it still holds.
  JwksHttpsServer idp(pki.Server());
  idp.SetBody(JwksJson({IdpKey()}));
  idp.Hold();

  Config config = HarnessConfig();
  OidcConfig& oidc = config.auth.oidc;
  oidc.issuer = kIssuer;
  oidc.audience = kAudience;
  oidc.jwks_url = idp.url();
  oidc.jwks_ca_file = dir.Write("ca.crt", pki.ca().cert_pem);
  oidc.jwks_fetch_timeout = kLongWait;
  oidc.unknown_key_wait = kLongWait;
  oidc.groups_claim = "groups";
  oidc.group_roles = {{"requesters", {Role::kAgent}}};
  REQUIRE(ValidateConfig(config).ok());
  // Start-up does not wait for the IdP: the first fetch runs in the
  // background (and is held).
  harness = std::make_unique<BrokerHarness>(store, config);
  REQUIRE(idp.AwaitRequests(1, kEventBound));

  // 16 OIDC callers, each more than the broker has worker threads
  // (database_pool_size), whose key id the broker does not hold yet.
  constexpr int kOidcCallers = 16;
  REQUIRE(kOidcCallers > config.database_pool_size);
  const std::string token = OidcToken(IdpKey(), absl::Now());
  std::unique_ptr<v1::ApprovalBroker::Stub> stub = harness->Stub();
  std::vector<std::unique_ptr<grpc::ClientContext>> contexts;
  std::vector<v1::ListApprovalsResponse> responses(kOidcCallers);
  const v1::ListApprovalsRequest request;
  Countdown oidc_calls;
  for (int i = 0; i < kOidcCallers; ++i) {
    contexts.push_back(std::make_unique<grpc::ClientContext>());
    contexts.back()->AddMetadata("authorization", "Bearer " + token);
    contexts.back()->set_deadline(
        absl::ToChronoTime(absl::Now() + kEventBound));
    stub->async()->ListApprovals(
        contexts.back().get(), &request, &responses[i],
        [&oidc_calls](grpc::Status s) { oidc_calls.Add(s.ok()); });
  }

  // Meanwhile, callers with static tokens are served: each of these calls
  // returns while the IdP still holds the JWKS answer. (Before the fix,
  // the OIDC callers held every worker thread until the IdP answered.)
  for (const char* who : {"agent-1", "agent-2", "alice", "bob", "root"}) {
    for (int i = 0; i < 4; ++i) {
      grpc::ClientContext ctx;
      ctx.AddMetadata("authorization", "Bearer " + harness->Token(who));
      ctx.set_deadline(absl::ToChronoTime(absl::Now() + kEventBound));
      v1::ListApprovalsResponse list;
      grpc::Status s = stub->ListApprovals(&ctx, request, &list);
      INFO(who << ": " << s.error_message());
      REQUIRE(s.ok());
    }
  }
  // A stream opened meanwhile waits for the key too (on no thread: it is
  // authenticated like the unary calls), instead of being refused.
  grpc::ClientContext stream_ctx;
  stream_ctx.AddMetadata("authorization", "Bearer " + token);
  stream_ctx.set_deadline(absl::ToChronoTime(absl::Now() + kEventBound));
  std::unique_ptr<grpc::ClientReader<v1::DecisionEvent>> reader =
      stub->StreamDecisions(&stream_ctx, v1::StreamDecisionsRequest());
  // The IdP has not answered, so no OIDC caller has been answered, and
  // their 16 unknown key ids caused no fetch besides the one running.
  CHECK(oidc_calls.done() == 0);
  CHECK(idp.requests() == 1);

  idp.Release();
  REQUIRE(oidc_calls.AwaitDone(kOidcCallers, kEventBound));
  // They waited for that fetch, which brought their key.
  CHECK(oidc_calls.ok() == kOidcCallers);
  CHECK(idp.requests() == 1);
  CHECK(idp.max_concurrent() == 1);
  // So did the stream: it is open (headers sent once subscribed) and ends
  // only when cancelled, never UNAUTHENTICATED.
  reader->WaitForInitialMetadata();
  stream_ctx.TryCancel();
  v1::DecisionEvent event;
  CHECK_FALSE(reader->Read(&event));
  grpc::Status streamed = reader->Finish();
  INFO(streamed.error_message());
  CHECK(streamed.error_code() == grpc::StatusCode::CANCELLED);
}

// A JwtVerifier over a loopback JWKS URL, loaded once at start (not held).
struct VerifierFixture {
  TestPki pki;
  TempDir dir;
  FakeClock clock{absl::Now()};
  std::unique_ptr<JwtVerifier> verifier;
  // After the verifier: destroyed first, answering what it holds.
  JwksHttpsServer idp{pki.Server()};

  explicit VerifierFixture(absl::Duration unknown_key_wait = kLongWait) {
    idp.SetBody(JwksJson({IdpKey()}));
    JwtVerifierOptions options;
    options.issuer = kIssuer;
    options.audience = kAudience;
    options.refresh_min_interval = absl::Seconds(30);
    options.unknown_key_wait = unknown_key_wait;
    absl::StatusOr<std::unique_ptr<JwtVerifier>> v = JwtVerifier::Create(
        options,
        NewHttpsJwksSource(idp.url(), dir.Write("ca.crt", pki.ca().cert_pem),
                           kLongWait),
        clock.Function());
    INFO(v.status().ToString());
    REQUIRE(v.ok());
    verifier = *std::move(v);
    REQUIRE(idp.requests() == 1);
  }

  std::string Token(const TestKey& key) const {
    return OidcToken(key, clock.Now());
  }
};

TEST_CASE(
    "Slow IdP: one fetch at a time for any number of unknown kids, and "
    "known keys never wait",
    "[identity][jwks][slow_idp]") {
  VerifierFixture f;
  f.clock.Advance(absl::Seconds(30));  // a reload is allowed
  f.idp.Hold();

  constexpr int kCallers = 16;
  std::vector<TestKey> unknown;
  for (int i = 0; i < kCallers; ++i) {
    unknown.push_back(TestKey::Ec(absl::StrCat("rotated-", i)));
  }
  Countdown answered;
  std::vector<std::string> details(kCallers);
  absl::Mutex details_mu;
  for (int i = 0; i < kCallers; ++i) {
    std::optional<JwtVerifier::Result> now = f.verifier->VerifyOrDefer(
        f.Token(unknown[i]), [&, i](JwtVerifier::Result r) {
          {
            absl::MutexLock lock(&details_mu);
            details[i] = r.ok() ? "" : RefusalDetail(r.status());
          }
          answered.Add(r.ok());
        });
    // Not answered on the caller's thread: it waits, holding no thread.
    CHECK_FALSE(now.has_value());
  }
  REQUIRE(f.idp.AwaitRequests(2, kEventBound));

  // While that fetch is held, a token signed by a held key is answered at
  // once, on the calling thread.
  std::atomic<bool> deferred{false};
  std::optional<JwtVerifier::Result> known = f.verifier->VerifyOrDefer(
      f.Token(IdpKey()), [&deferred](JwtVerifier::Result) { deferred = true; });
  REQUIRE(known.has_value());
  CHECK(known->ok());
  CHECK(answered.done() == 0);

  f.idp.Release();
  REQUIRE(answered.AwaitDone(kCallers, kEventBound));
  CHECK(answered.ok() == 0);  // the IdP never published those keys
  {
    absl::MutexLock lock(&details_mu);
    for (const std::string& d : details) {
      CHECK_THAT(d, Contains("even after reloading"));
    }
  }
  // One fetch for all of them, never two at once.
  CHECK(f.idp.requests() == 2);
  CHECK(f.idp.max_concurrent() == 1);
  CHECK_FALSE(deferred);
}

TEST_CASE(
    "Slow IdP: an unknown kid is refused after unknown_key_wait while the "
    "fetch still runs",
    "[identity][jwks][slow_idp]") {
  TestPki pki;
  TempDir dir;
  std::unique_ptr<Authenticator> auth;
  JwksHttpsServer idp(pki.Server());  // destroyed before auth
  idp.SetBody(JwksJson({IdpKey()}));
  idp.Hold();
  AuthConfig config;
  config.oidc.issuer = kIssuer;
  config.oidc.audience = kAudience;
  config.oidc.jwks_url = idp.url();
  config.oidc.jwks_ca_file = dir.Write("ca.crt", pki.ca().cert_pem);
  config.oidc.jwks_fetch_timeout = kLongWait;
  config.oidc.unknown_key_wait = absl::Milliseconds(100);
  config.oidc.groups_claim = "groups";
  config.oidc.group_roles = {{"requesters", {Role::kAgent}}};
  absl::StatusOr<std::unique_ptr<Authenticator>> created =
      Authenticator::Create(config);
  REQUIRE(created.ok());
  auth = *std::move(created);
  REQUIRE(idp.AwaitRequests(1, kEventBound));

  // The IdP holds the only fetch; the caller is refused when its wait ends.
  absl::StatusOr<Principal> p =
      auth->AuthenticateBearer("Bearer " + OidcToken(IdpKey(), absl::Now()));
  REQUIRE_FALSE(p.ok());
  CHECK(p.status().code() == absl::StatusCode::kUnauthenticated);
  CHECK(RefusalReason(p.status()) == "jwt_key_pending");
  CHECK_THAT(std::string(p.status().message()), Contains("retry"));
  CHECK_THAT(RefusalDetail(p.status()), Contains("had not ended after 100ms"));
  // Still the one fetch, still unanswered.
  CHECK(idp.requests() == 1);
  idp.Release();
}

TEST_CASE(
    "Slow IdP: with unknown_key_wait 0 an unknown kid is refused at once, "
    "and the fetch still starts",
    "[identity][jwks][slow_idp]") {
  VerifierFixture f(absl::ZeroDuration());
  f.clock.Advance(absl::Seconds(30));
  f.idp.Hold();
  std::optional<JwtVerifier::Result> r = f.verifier->VerifyOrDefer(
      f.Token(TestKey::Ec("rotated")), [](JwtVerifier::Result) {});
  REQUIRE(r.has_value());
  REQUIRE_FALSE(r->ok());
  CHECK(RefusalReason(r->status()) == "jwt_key_pending");
  // The fetch it asked for runs in the background, for the next caller.
  CHECK(f.idp.AwaitRequests(2, kEventBound));
  f.idp.Release();
}

TEST_CASE("Slow IdP: the refresh interval counts from the end of a fetch",
          "[identity][jwks][slow_idp]") {
  VerifierFixture f;
  const TestKey unknown = TestKey::Ec("never-published");
  auto verify_later = [&f, &unknown](Countdown* answered) {
    return f.verifier->VerifyOrDefer(
        f.Token(unknown),
        [answered](JwtVerifier::Result r) { answered->Add(r.ok()); });
  };

  f.clock.Advance(absl::Seconds(30));
  f.idp.Hold();
  Countdown first;
  REQUIRE_FALSE(verify_later(&first).has_value());  // fetch 2 starts
  REQUIRE(f.idp.AwaitRequests(2, kEventBound));
  // The IdP takes 20 s (by the injected clock) to answer.
  f.clock.Advance(absl::Seconds(20));
  f.idp.Release();
  REQUIRE(first.AwaitDone(1, kEventBound));

  // 35 s after that fetch started but 15 s after it ended: no new fetch,
  // the token is refused at once.
  f.clock.Advance(absl::Seconds(15));
  Countdown second;
  std::optional<JwtVerifier::Result> r = verify_later(&second);
  REQUIRE(r.has_value());
  CHECK(RefusalReason(r->status()) == "jwt_unknown_kid");
  CHECK_THAT(RefusalDetail(r->status()), Contains("next reload is allowed"));
  CHECK(f.idp.requests() == 2);

  // 30 s after it ended, an unknown kid may cause a fetch again.
  f.clock.Advance(absl::Seconds(15));
  Countdown third;
  REQUIRE_FALSE(verify_later(&third).has_value());
  REQUIRE(third.AwaitDone(1, kEventBound));
  CHECK(f.idp.requests() == 3);
}

}  // namespace
}  // namespace approval::testing
