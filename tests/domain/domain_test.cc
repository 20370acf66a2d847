// Pure domain rules: validation, decision rules and the audit chain.
// (Canonical JSON and the action digest are wire code: tests/wire.)
#include <catch2/catch.hpp>
#include <string>

#include "absl/time/clock.h"
#include "server/domain/audit_chain.h"
#include "server/domain/review_rules.h"
#include "server/domain/validation.h"
#include "tests/support/audit_events.h"
#include "wire/canonical.h"

namespace approval {
namespace {

RequestInput GoodInput() {
  RequestInput in;
  in.action = "db.export";
  in.resource = "postgres://prod/customers";
  in.parameters_json = R"({"table":"customers","rows":1200})";
  in.justification = "quarterly report";
  return in;
}

absl::Status ValidationError(const RequestInput& in, Limits limits = {}) {
  return ValidateRequest(in, "agent-1", limits).status();
}

TEST_CASE("a valid request gets canonical parameters, digest and fingerprint",
          "[validate]") {
  absl::StatusOr<ValidRequest> a = ValidateRequest(GoodInput(), "agent-1", {});
  REQUIRE(a.ok());
  CHECK(a->canonical_parameters == R"({"rows":1200,"table":"customers"})");
  CHECK(a->action_digest ==
        ActionDigest(a->action, a->resource, a->canonical_parameters));
  CHECK(a->requester == "agent-1");
  const absl::Duration ttl = absl::Minutes(5);
  RequestInput other = GoodInput();
  other.justification = "something else";
  CHECK(RequestFingerprint(*ValidateRequest(other, "agent-1", {}), ttl) !=
        RequestFingerprint(*a, ttl));
  CHECK(RequestFingerprint(*a, ttl) != RequestFingerprint(*a, ttl * 2));
  CHECK(RequestFingerprint(*a, ttl) == RequestFingerprint(*a, ttl));
}

TEST_CASE("bad requests are refused with INVALID_ARGUMENT naming the field",
          "[validate]") {
  struct Case {
    const char* name;
    std::function<void(RequestInput&)> mutate;
    const char* message;
  };
  std::vector<Case> cases = {
      {"empty action", [](RequestInput& in) { in.action = ""; },
       "action: must not be empty"},
      {"oversize action",
       [](RequestInput& in) { in.action = std::string(129, 'a'); },
       "action: 129 bytes, limit is 128"},
      {"action with spaces", [](RequestInput& in) { in.action = "db export"; },
       "may contain only"},
      {"empty resource", [](RequestInput& in) { in.resource = ""; },
       "resource: must not be empty"},
      {"oversize resource",
       [](RequestInput& in) { in.resource = std::string(1025, 'r'); },
       "resource: 1025 bytes, limit is 1024"},
      {"resource with newline", [](RequestInput& in) { in.resource = "a\nb"; },
       "control characters"},
      {"parameters not JSON",
       [](RequestInput& in) { in.parameters_json = "{nope"; },
       "parameters: not valid JSON"},
      {"parameters an array",
       [](RequestInput& in) { in.parameters_json = "[1]"; },
       "parameters: must be a JSON object"},
      {"parameters oversize",
       [](RequestInput& in) {
         in.parameters_json = R"({"x":")" + std::string(70000, 'x') + R"("})";
       },
       "parameters: 70008 bytes, limit is 65536"},
      {"ttl too short",
       [](RequestInput& in) { in.ttl = absl::Milliseconds(10); },
       "ttl: 10ms is outside"},
      {"ttl too long", [](RequestInput& in) { in.ttl = absl::Hours(24 * 30); },
       "ttl: 720h is outside"},
      {"invalid UTF-8 justification",
       [](RequestInput& in) { in.justification = "\xff\xfe"; },
       "justification: not valid UTF-8"},
  };
  for (const Case& c : cases) {
    DYNAMIC_SECTION(c.name) {
      RequestInput in = GoodInput();
      c.mutate(in);
      absl::Status s = ValidationError(in);
      CHECK(s.code() == absl::StatusCode::kInvalidArgument);
      CHECK_THAT(std::string(s.message()), Catch::Contains(c.message));
    }
  }
}

TEST_CASE("approval ids must be lower-case UUIDs", "[validate]") {
  CHECK(ValidateApprovalId(NewUuid()).ok());
  CHECK(ValidateApprovalId("0B7D6E52-3F0A-4C8E-9A51-6F1E2D3C4B5A").code() ==
        absl::StatusCode::kInvalidArgument);
  CHECK(ValidateApprovalId("not-a-uuid").code() ==
        absl::StatusCode::kInvalidArgument);
  CHECK(ValidateApprovalId("").code() == absl::StatusCode::kInvalidArgument);
}

Approval PendingApproval(absl::Time now) {
  Approval a;
  a.id = NewUuid();
  a.requester = "agent-1";
  a.state = State::kPending;
  a.created_at = now;
  a.expires_at = now + absl::Minutes(5);
  return a;
}

TEST_CASE("nobody decides their own request, whatever the state", "[rules]") {
  absl::Time now = absl::Now();
  Approval a = PendingApproval(now);
  absl::Status s = CheckDecision(a, "agent-1", now);
  CHECK(s.code() == absl::StatusCode::kPermissionDenied);
  CHECK_THAT(std::string(s.message()), Catch::Contains("another reviewer"));
  a.state = State::kApproved;
  CHECK(CheckDecision(a, "agent-1", now).code() ==
        absl::StatusCode::kPermissionDenied);
}

TEST_CASE("terminal and expired approvals cannot be decided", "[rules]") {
  absl::Time now = absl::Now();
  Approval a = PendingApproval(now);
  CHECK(CheckDecision(a, "alice", now).ok());
  CHECK(CheckDecision(a, "alice", a.expires_at).code() ==
        absl::StatusCode::kFailedPrecondition);
  a.state = State::kDenied;
  absl::Status s = CheckDecision(a, "alice", now);
  CHECK(s.code() == absl::StatusCode::kFailedPrecondition);
  CHECK_THAT(std::string(s.message()), Catch::Contains("DENIED"));
}

TEST_CASE("only the requester cancels, and only while pending", "[rules]") {
  Approval a = PendingApproval(absl::Now());
  CHECK(CheckCancel(a, "agent-1").ok());
  CHECK(CheckCancel(a, "alice").code() == absl::StatusCode::kPermissionDenied);
  a.state = State::kExpired;
  CHECK(CheckCancel(a, "agent-1").code() ==
        absl::StatusCode::kFailedPrecondition);
}

std::vector<AuditEvent> Chain(int n) { return testing::TestChain(n); }

absl::Status Verify(const std::vector<AuditEvent>& events) {
  AuditChainVerifier v;
  for (const AuditEvent& e : events) {
    if (absl::Status s = v.Next(e); !s.ok()) return s;
  }
  return absl::OkStatus();
}

TEST_CASE("an intact audit chain verifies", "[audit]") {
  CHECK(Verify(Chain(5)).ok());
}

TEST_CASE("an altered audit event is named by seq", "[audit]") {
  std::vector<AuditEvent> events = Chain(5);
  events[2].details_json = R"({"n":999})";
  absl::Status s = Verify(events);
  CHECK(s.code() == absl::StatusCode::kDataLoss);
  CHECK_THAT(std::string(s.message()), Catch::StartsWith("audit event 3:"));
}

TEST_CASE("a deleted audit event breaks the chain at the next seq", "[audit]") {
  std::vector<AuditEvent> events = Chain(5);
  events.erase(events.begin() + 1);
  absl::Status s = Verify(events);
  CHECK(s.code() == absl::StatusCode::kDataLoss);
  CHECK_THAT(std::string(s.message()), Catch::StartsWith("audit event 3:"));
}

TEST_CASE("a recomputed hash on an altered event still breaks the link",
          "[audit]") {
  std::vector<AuditEvent> events = Chain(5);
  events[1].actor = "mallory";
  events[1].hash = ChainHash(events[1].prev_hash, events[1]);
  absl::Status s = Verify(events);
  CHECK(s.code() == absl::StatusCode::kDataLoss);
  CHECK_THAT(std::string(s.message()), Catch::StartsWith("audit event 3:"));
}

}  // namespace
}  // namespace approval
