#include "tests/support/broker/input_scenarios.h"

#include <catch2/catch.hpp>
#include <limits>
#include <string>

#include "absl/strings/str_cat.h"
#include "google/protobuf/descriptor.h"
#include "grpcpp/generic/generic_stub.h"
#include "prometheus/text_serializer.h"
#include "server/domain/validation.h"

namespace approval::testing {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::MethodDescriptor;
using grpc::StatusCode;

// approval_database_errors_total as the broker exports it.
double DatabaseErrors(BrokerHarness& h) {
  const std::string text =
      prometheus::TextSerializer().Serialize(h.metrics().registry()->Collect());
  const std::string name = "\napproval_database_errors_total ";
  const size_t at = text.find(name);
  REQUIRE(at != std::string::npos);
  return std::stod(text.substr(at + name.size()));
}

// What PostgreSQL or libpq would put in a message.
void CheckNoDatabaseText(const grpc::Status& s) {
  INFO("message: " << s.error_message());
  for (const char* leak :
       {"SQLSTATE", "ERROR", "out of range", "syntax", "SELECT", "relation",
        "uuid", "timestamp", "interval", "pqxx", "127.0.0.1", "port"}) {
    CHECK_THAT(s.error_message(), !Catch::Contains(leak));
  }
}

void CheckRefused(const grpc::Status& s, const std::string& field) {
  INFO(field << ": " << s.error_code() << " " << s.error_message());
  CHECK(s.error_code() == StatusCode::INVALID_ARGUMENT);
  CHECK_THAT(s.error_message(), Catch::StartsWith(field + ": "));
  CheckNoDatabaseText(s);
}

std::string MustRequest(BrokerHarness& h, const std::string& table) {
  v1::RequestApprovalResponse resp;
  grpc::Status s = h.Request("agent-1", ExportRequest(table), &resp);
  INFO(s.error_message());
  REQUIRE(s.ok());
  return resp.approval().id();
}

const google::protobuf::ServiceDescriptor& Service() {
  const google::protobuf::ServiceDescriptor* service =
      google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(
          v1::ApprovalBroker::service_full_name());
  REQUIRE(service != nullptr);
  return *service;
}

// Waits for the next completion-queue event (the call's deadline bounds it).
bool Await(grpc::CompletionQueue& cq) {
  void* tag;
  bool ok = false;
  REQUIRE(cq.Next(&tag, &ok));
  return ok;
}

// Calls `method` with `bytes` as the request, as root, through a generic
// stub: the server gets exactly these bytes.
grpc::Status CallRaw(BrokerHarness& h, const MethodDescriptor& method,
                     const std::string& bytes) {
  auto channel =
      grpc::CreateChannel(h.address(), grpc::InsecureChannelCredentials());
  grpc::GenericStub stub(channel);
  auto ctx = h.Context("root");
  grpc::Slice slice(bytes);
  grpc::ByteBuffer request(&slice, 1);
  const std::string path =
      absl::StrCat("/", method.service()->full_name(), "/", method.name());
  grpc::CompletionQueue cq;
  grpc::Status status;
  if (!method.server_streaming()) {
    auto call = stub.PrepareUnaryCall(ctx.get(), path, request, &cq);
    call->StartCall();
    grpc::ByteBuffer response;
    call->Finish(&response, &status, nullptr);
    Await(cq);
  } else {
    auto call = stub.PrepareCall(ctx.get(), path, &cq);
    call->StartCall(nullptr);
    Await(cq);
    call->WriteLast(request, grpc::WriteOptions(), nullptr);
    Await(cq);
    grpc::ByteBuffer event;
    call->Read(&event, nullptr);
    CHECK_FALSE(Await(cq));  // no event: the call was refused
    call->Finish(&status, nullptr);
    Await(cq);
  }
  cq.Shutdown();
  void* tag;
  bool ok;
  while (cq.Next(&tag, &ok)) {
  }
  return status;
}

// Field `number` as a length-delimited wire value.
std::string WireField(int number, const std::string& value) {
  std::string out(1, static_cast<char>(number << 3 | 2));
  out.push_back(static_cast<char>(value.size()));
  return out + value;
}

void EveryRpcRefusesBytesThatAreNotValidProtobuf(BrokerHarness& h,
                                                 ApprovalStore& store) {
  MustRequest(h, "customers");
  const int64_t cursor = *store.LatestCursor();
  const double db_errors = DatabaseErrors(h);
  const google::protobuf::ServiceDescriptor& service = Service();
  int with_string_fields = 0;
  for (int i = 0; i < service.method_count(); ++i) {
    const MethodDescriptor& m = *service.method(i);
    const google::protobuf::Descriptor& in = *m.input_type();
    // Invalid UTF-8 in each string field proto3 checks.
    for (int f = 0; f < in.field_count(); ++f) {
      const FieldDescriptor& field = *in.field(f);
      if (field.type() != FieldDescriptor::TYPE_STRING) continue;
      grpc::Status s =
          CallRaw(h, m, WireField(field.number(), "bad \xc3\x28 text"));
      INFO(m.name() << "." << field.name() << ": " << s.error_code() << " "
                    << s.error_message());
      CHECK(s.error_code() == StatusCode::INVALID_ARGUMENT);
      CHECK(s.error_message() ==
            absl::StrCat("request is not valid protobuf (a string field "
                         "holds invalid UTF-8): ",
                         field.name(), field.is_repeated() ? "[0]" : ""));
      ++with_string_fields;
    }
    // Bytes that are no message at all (a field longer than the request).
    grpc::Status s = CallRaw(h, m,
                             "\x0a\x05"
                             "ab");
    INFO(m.name() << ": " << s.error_code() << " " << s.error_message());
    CHECK(s.error_code() == StatusCode::INVALID_ARGUMENT);
    CHECK_THAT(s.error_message(),
               Catch::StartsWith("request is not valid protobuf"));
  }
  // DecideRequest.platform_user brought 1, ListWebhookDeliveries 3.
  CHECK(with_string_fields == 20);
  CHECK(*store.LatestCursor() == cursor);
  CHECK(DatabaseErrors(h) == db_errors);
}

void TextWithNulOrControlCharactersIsRefusedByField(BrokerHarness& h,
                                                    ApprovalStore& store) {
  const std::string id = MustRequest(h, "customers");
  const int64_t cursor = *store.LatestCursor();
  const std::string nul("cut\0here", 8);
  auto stub = h.Stub();

  struct RequestCase {
    const char* field;
    std::function<void(v1::RequestApprovalRequest&)> set;
  };
  for (const RequestCase& c : std::vector<RequestCase>{
           {"action", [&](auto& r) { r.set_action(nul); }},
           {"resource", [&](auto& r) { r.set_resource(nul); }},
           {"justification", [&](auto& r) { r.set_justification(nul); }},
           {"idempotency_key", [&](auto& r) { r.set_idempotency_key(nul); }},
           {"parameters_json",
            [&](auto& r) { r.set_parameters_json(std::string("{}\0", 3)); }},
           {"idempotency_key",
            [&](auto& r) { r.set_idempotency_key("\x1b[2Jkey"); }},
       }) {
    v1::RequestApprovalRequest req = ExportRequest("other");
    c.set(req);
    v1::RequestApprovalResponse resp;
    CheckRefused(h.Request("agent-1", req, &resp), c.field);
  }

  v1::DecideRequest decide;
  decide.set_approval_id(id);
  decide.set_verdict(v1::APPROVE);
  decide.set_comment(nul);
  v1::DecideResponse decided;
  CheckRefused(stub->Decide(h.Context("alice").get(), decide, &decided),
               "comment");

  v1::CancelApprovalRequest cancel;
  cancel.set_approval_id(id);
  cancel.set_reason(nul);
  v1::Approval cancelled;
  CheckRefused(
      stub->CancelApproval(h.Context("agent-1").get(), cancel, &cancelled),
      "reason");

  v1::ListAuditEventsRequest audit;
  audit.set_actor(nul);
  v1::ListAuditEventsResponse events;
  CheckRefused(stub->ListAuditEvents(h.Context("root").get(), audit, &events),
               "actor");

  v1::ListApprovalsRequest list;
  list.set_page_token(nul);
  v1::ListApprovalsResponse page;
  CheckRefused(stub->ListApprovals(h.Context("alice").get(), list, &page),
               "page_token");

  v1::StreamDecisionsRequest follow;
  follow.add_approval_ids(id);
  follow.add_approval_ids(nul);
  auto ctx = h.Context("agent-1");
  auto stream = stub->StreamDecisions(ctx.get(), follow);
  v1::DecisionEvent event;
  CHECK_FALSE(stream->Read(&event));
  CheckRefused(stream->Finish(), "approval_ids[1]");

  CHECK(*store.LatestCursor() == cursor);
  v1::Approval got;
  REQUIRE(h.Get("alice", id, &got).ok());
  CHECK(got.state() == v1::PENDING);

  // Free text is kept exactly, line breaks and all.
  v1::RequestApprovalRequest multi = ExportRequest("multi");
  multi.set_justification("line one\n\tline two\r\n\x1b[1mbold");
  v1::RequestApprovalResponse created;
  REQUIRE(h.Request("agent-1", multi, &created).ok());
  CHECK(created.approval().justification() == multi.justification());
}

void NumbersThatCannotBeKeptExactlyAreRefused(BrokerHarness& h,
                                              ApprovalStore& store) {
  const int64_t cursor = *store.LatestCursor();
  for (const char* n :
       {"18446744073709551616", "18446744073709551617",
        "100000000000000000000001", "100000000000000000000002",
        "-9223372036854775809", "0.12345678901234567890", "1e400", "-0"}) {
    v1::RequestApprovalRequest req = ExportRequest();
    req.set_parameters_json(absl::StrCat(R"({"amount":)", n, "}"));
    v1::RequestApprovalResponse resp;
    grpc::Status s = h.Request("agent-1", req, &resp);
    INFO(n << ": " << s.error_message());
    CHECK(s.error_code() == StatusCode::INVALID_ARGUMENT);
    CHECK_THAT(s.error_message(),
               Catch::StartsWith(absl::StrCat("parameters.amount: number ", n,
                                              " cannot be represented "
                                              "exactly")));
  }
  CHECK(*store.LatestCursor() == cursor);

  // Neighbours that can be kept stay apart, in digest and preview.
  auto request = [&](const char* n) {
    v1::RequestApprovalRequest req = ExportRequest();
    req.set_parameters_json(absl::StrCat(R"({"amount":)", n, "}"));
    v1::RequestApprovalResponse resp;
    grpc::Status s = h.Request("agent-1", req, &resp);
    INFO(n << ": " << s.error_message());
    REQUIRE(s.ok());
    return resp.approval();
  };
  v1::Approval top = request("18446744073709551615");
  v1::Approval below = request("18446744073709551614");
  CHECK(top.action_digest() != below.action_digest());
  CHECK(top.parameters_preview_json() == R"({"amount":18446744073709551615})");
  CHECK(below.parameters_preview_json() ==
        R"({"amount":18446744073709551614})");
  CHECK(request("-0.0").parameters_preview_json() == R"({"amount":-0.0})");
}

void CraftedPageTokensAndTimeBoundsAreRefusedNotDatabaseErrors(BrokerHarness& h,
                                                               ApprovalStore&) {
  MustRequest(h, "customers");
  const double db_errors = DatabaseErrors(h);
  auto stub = h.Stub();
  const std::string u = NewUuid();

  for (const std::string& token : std::vector<std::string>{
           "garbage", "99999999999999999999_" + u, "9223372036854775807_" + u,
           "-9223372036854775808_" + u, "253402300800000000_" + u,
           "1_not-an-id", "+1_" + u, "01_" + u, std::string(10000, '7')}) {
    v1::ListApprovalsRequest list;
    list.set_page_token(token);
    v1::ListApprovalsResponse page;
    INFO("ListApprovals page_token " << token.substr(0, 60));
    CheckRefused(stub->ListApprovals(h.Context("alice").get(), list, &page),
                 "page_token");
  }
  // The edges of the accepted range reach the store and work.
  for (const std::string& token : std::vector<std::string>{
           "-62135596800000000_" + u, "253402300799999999_" + u}) {
    v1::ListApprovalsRequest list;
    list.set_page_token(token);
    v1::ListApprovalsResponse page;
    grpc::Status s = stub->ListApprovals(h.Context("alice").get(), list, &page);
    INFO(token << ": " << s.error_message());
    CHECK(s.ok());
  }

  for (const std::string& token :
       std::vector<std::string>{"garbage", "-1", "0", "9223372036854775808",
                                "99999999999999999999999", "1e3", " 5"}) {
    v1::ListAuditEventsRequest q;
    q.set_page_token(token);
    v1::ListAuditEventsResponse events;
    INFO("ListAuditEvents page_token " << token);
    CheckRefused(stub->ListAuditEvents(h.Context("root").get(), q, &events),
                 "page_token");
  }

  struct Bound {
    int64_t seconds;
    int32_t nanos;
  };
  for (const Bound& b : std::vector<Bound>{
           {-62135596801, 0},   // year 0
           {9224318016000, 0},  // year 294277, past PostgreSQL's range
           {253402300800, 0},   // year 10000
           {std::numeric_limits<int64_t>::min(), 0},
           {std::numeric_limits<int64_t>::max(), 0},
           {0, -1}}) {
    for (const char* field : {"start_time", "end_time"}) {
      v1::ListAuditEventsRequest q;
      google::protobuf::Timestamp* t = std::string(field) == "start_time"
                                           ? q.mutable_start_time()
                                           : q.mutable_end_time();
      t->set_seconds(b.seconds);
      t->set_nanos(b.nanos);
      v1::ListAuditEventsResponse events;
      INFO(field << " " << b.seconds << "s " << b.nanos << "ns");
      CheckRefused(stub->ListAuditEvents(h.Context("root").get(), q, &events),
                   field);
    }
  }
  // The widest valid bounds reach the store and work.
  v1::ListAuditEventsRequest widest;
  widest.mutable_start_time()->set_seconds(-62135596800);
  widest.mutable_end_time()->set_seconds(253402300799);
  widest.mutable_end_time()->set_nanos(999999999);
  v1::ListAuditEventsResponse events;
  grpc::Status s =
      stub->ListAuditEvents(h.Context("root").get(), widest, &events);
  INFO(s.error_message());
  CHECK(s.ok());
  CHECK(events.events_size() == 1);
  v1::ListAuditEventsRequest last_seq;
  last_seq.set_page_token("9223372036854775807");
  CHECK(stub->ListAuditEvents(h.Context("root").get(), last_seq, &events).ok());

  CHECK(DatabaseErrors(h) == db_errors);
}

}  // namespace

std::vector<Scenario> InputScenarios() {
  return {
      {"every RPC refuses bytes that are not valid protobuf",
       EveryRpcRefusesBytesThatAreNotValidProtobuf},
      {"text with NUL or control characters is refused by field",
       TextWithNulOrControlCharactersIsRefusedByField},
      {"numbers that cannot be kept exactly are refused",
       NumbersThatCannotBeKeptExactlyAreRefused},
      {"crafted page tokens and time bounds are refused, not database errors",
       CraftedPageTokensAndTimeBoundsAreRefusedNotDatabaseErrors},
  };
}

}  // namespace approval::testing
