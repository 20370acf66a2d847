// Input is refused, never silently changed: text (NUL bytes, control
// characters, invalid UTF-8), numbers in parameters, page tokens, and every
// field of every request message (request_check.h).
#include <catch2/catch.hpp>
#include <limits>
#include <string>
#include <vector>

#include "approval/v1/approval.grpc.pb.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/struct.pb.h"
#include "server/domain/text.h"
#include "server/domain/validation.h"
#include "server/service/request_check.h"
#include "server/store/page_token.h"
#include "wire/canonical.h"

namespace approval {
namespace {

using google::protobuf::FieldDescriptor;

constexpr absl::string_view kUuid = "0b7d6e52-3f0a-4c8e-9a51-6f1e2d3c4b5a";

std::string Message(const absl::Status& s) { return std::string(s.message()); }

// ---- text ----------------------------------------------------------------

TEST_CASE("text: NUL is refused in every kind of field, naming it", "[text]") {
  const std::string nul("a\0b", 3);
  for (TextKind kind : {TextKind::kSingleLine, TextKind::kMultiLine}) {
    absl::Status s = CheckText("justification", nul, kind);
    CHECK(s.code() == absl::StatusCode::kInvalidArgument);
    CHECK_THAT(Message(s), Catch::StartsWith("justification: holds a NUL byte "
                                             "at offset 1"));
  }
}

TEST_CASE("text: control characters only in multi-line fields", "[text]") {
  CHECK(
      CheckText("comment", "one\ntwo\r\n\tthree \x1b[1m", TextKind::kMultiLine)
          .ok());
  CHECK(CheckText("actor", "one\ntwo", TextKind::kSingleLine).code() ==
        absl::StatusCode::kInvalidArgument);
  absl::Status esc = CheckText("actor", "\x1b[2Jfake", TextKind::kSingleLine);
  CHECK(esc.code() == absl::StatusCode::kInvalidArgument);
  CHECK_THAT(Message(esc), Catch::StartsWith("actor: holds control character "
                                             "0x1b at offset 0"));
  CHECK(CheckText("actor", "del\x7f", TextKind::kSingleLine).code() ==
        absl::StatusCode::kInvalidArgument);
  CHECK(CheckText("actor", "é ✓ 𝄞", TextKind::kSingleLine).ok());
}

TEST_CASE("text: invalid UTF-8 is refused in all its forms", "[text]") {
  for (const char* bad : {"\xff", "\xc3", "\xc3\x28", "\xc0\xaf",  // overlong
                          "\xe0\x80\xaf", "\xed\xa0\x80",          // surrogate
                          "\xf4\x90\x80\x80",                      // >U+10FFFF
                          "\x80"}) {
    INFO(bad);
    CHECK_FALSE(IsValidUtf8(bad));
    CHECK(CheckText("reason", bad, TextKind::kMultiLine).code() ==
          absl::StatusCode::kInvalidArgument);
  }
  CHECK(IsValidUtf8("\xf4\x8f\xbf\xbf"));  // U+10FFFF
}

TEST_CASE("ValidateRequest refuses NUL in each text field, naming it",
          "[text]") {
  const std::string nul("x\0y", 3);
  struct Case {
    const char* field;
    std::function<void(RequestInput&)> set;
  };
  std::vector<Case> cases = {
      {"action", [&](RequestInput& in) { in.action = nul; }},
      {"resource", [&](RequestInput& in) { in.resource = nul; }},
      {"justification", [&](RequestInput& in) { in.justification = nul; }},
      {"idempotency_key", [&](RequestInput& in) { in.idempotency_key = nul; }},
      {"parameters",
       [&](RequestInput& in) { in.parameters_json = std::string("{}\0", 3); }},
  };
  for (const Case& c : cases) {
    DYNAMIC_SECTION(c.field) {
      RequestInput in;
      in.action = "db.export";
      in.resource = "postgres://prod/customers";
      c.set(in);
      absl::Status s = ValidateRequest(in, "agent-1", Limits()).status();
      CHECK(s.code() == absl::StatusCode::kInvalidArgument);
      CHECK_THAT(Message(s), Catch::StartsWith(std::string(c.field) + ":"));
    }
  }
  absl::Status reason = ValidateComment(nul, Limits(), "reason");
  CHECK_THAT(Message(reason), Catch::StartsWith("reason: holds a NUL byte"));
}

// ---- numbers -------------------------------------------------------------

std::string Canonical(const std::string& json) {
  absl::StatusOr<std::string> c = CanonicalizeJsonObject(json, "parameters");
  INFO(json << " -> " << c.status());
  REQUIRE(c.ok());
  return *c;
}

absl::Status Refusal(const std::string& json) {
  return CanonicalizeJsonObject(json, "parameters").status();
}

TEST_CASE(
    "numbers: integers beyond the exact range are refused, naming the "
    "path",
    "[numbers]") {
  for (const char* n : {"18446744073709551616", "18446744073709551617",
                        "100000000000000000000001", "100000000000000000000002",
                        "-9223372036854775809", "-100000000000000000000001"}) {
    absl::Status s = Refusal(absl::StrCat(R"({"amount":)", n, "}"));
    INFO(n);
    CHECK(s.code() == absl::StatusCode::kInvalidArgument);
    CHECK_THAT(Message(s),
               Catch::StartsWith(absl::StrCat("parameters.amount: number ", n,
                                              " cannot be represented "
                                              "exactly")));
  }
  absl::Status nested =
      Refusal(R"({"items":[1,{"unit price":18446744073709551616}]})");
  CHECK_THAT(Message(nested),
             Catch::StartsWith(R"(parameters.items[1]["unit price"]: number)"));
}

TEST_CASE("numbers: the integer range edges are kept exactly", "[numbers]") {
  CHECK(Canonical(R"({"a":18446744073709551615})") ==
        R"({"a":18446744073709551615})");
  CHECK(Canonical(R"({"a":-9223372036854775808})") ==
        R"({"a":-9223372036854775808})");
  CHECK(ActionDigest("x", "y", Canonical(R"({"a":18446744073709551615})")) !=
        ActionDigest("x", "y", Canonical(R"({"a":18446744073709551614})")));
}

TEST_CASE("numbers: floats that would change are refused", "[numbers]") {
  for (const char* n : {"0.10000000000000000001", "0.12345678901234567890",
                        "3.141592653589793238", "1e400", "-1e400", "1e-400",
                        "-0", "123456789012345678901.5"}) {
    absl::Status s = Refusal(absl::StrCat(R"({"x":)", n, "}"));
    INFO(n << ": " << s);
    CHECK(s.code() == absl::StatusCode::kInvalidArgument);
    CHECK_THAT(Message(s), Catch::Contains("parameters.x: number"));
  }
}

TEST_CASE("numbers: floats equal to their canonical form are accepted",
          "[numbers]") {
  CHECK(Canonical(R"({"x":0.1})") == R"({"x":0.1})");
  CHECK(Canonical(R"({"x":0.30000000000000004})") ==
        R"({"x":0.30000000000000004})");
  CHECK(Canonical(R"({"x":-0.0})") == R"({"x":-0.0})");
  CHECK(Canonical(R"({"x":1.5e3})") == R"({"x":1500.0})");
  CHECK(Canonical(R"({"x":2.50})") == R"({"x":2.5})");
  CHECK(Canonical(R"({"x":1.7976931348623157e308})") ==
        R"({"x":1.7976931348623157e+308})");
  CHECK(Canonical(R"({"x":5e-324})") == R"({"x":5e-324})");
  CHECK(Canonical(R"({"x":"18446744073709551616"})") ==
        R"({"x":"18446744073709551616"})");
}

TEST_CASE("numbers: other JSON errors still win over number checks",
          "[numbers]") {
  CHECK_THAT(Message(Refusal(R"({"a":1,"a":18446744073709551616})")),
             Catch::Contains("duplicate key"));
  CHECK_THAT(Message(Refusal(R"({"a":18446744073709551616)")),
             Catch::Contains("not valid JSON"));
}

// ---- page tokens ---------------------------------------------------------

TEST_CASE("page tokens: what the broker writes parses back", "[page_token]") {
  const absl::Time t = absl::FromUnixMicros(1700000000123456);
  absl::StatusOr<ApprovalPagePosition> p =
      ParseApprovalPageToken(ApprovalPageToken(t, kUuid));
  REQUIRE(p.ok());
  CHECK(p->created_at_us == 1700000000123456);
  CHECK(p->id == kUuid);
  CHECK(*ParseAuditPageToken(AuditPageToken(42)) == 42);
  CHECK(
      ParseApprovalPageToken(absl::StrCat("-62135596800000000_", kUuid)).ok());
  CHECK(
      ParseApprovalPageToken(absl::StrCat("253402300799999999_", kUuid)).ok());
  CHECK(*ParseAuditPageToken("9223372036854775807") ==
        std::numeric_limits<int64_t>::max());
}

TEST_CASE("page tokens: anything else is INVALID_ARGUMENT naming page_token",
          "[page_token]") {
  const std::string u(kUuid);
  for (const std::string& token : std::vector<std::string>{
           "garbage", "1_" + std::string("not-a-uuid"), "_" + u,
           "99999999999999999999_" + u, "9223372036854775807_" + u,
           "-9223372036854775808_" + u, "253402300800000000_" + u,
           "-62135596800000001_" + u, "+1_" + u, " 1_" + u, "01_" + u,
           "-0_" + u, "1_" + u + "_x", "1_0B7D6E52-3F0A-4C8E-9A51-6F1E2D3C4B5A",
           std::string("1\0_", 3) + u, std::string(10000, '9') + "_" + u}) {
    INFO(token.substr(0, 80));
    absl::Status s = ParseApprovalPageToken(token).status();
    CHECK(s.code() == absl::StatusCode::kInvalidArgument);
    CHECK_THAT(Message(s), Catch::StartsWith("page_token: "));
  }
  for (const std::string& token :
       std::vector<std::string>{"garbage", "0", "-1", "9223372036854775808",
                                "99999999999999999999999", "1e3", "+5", " 5",
                                "5 ", "05", std::string("5\0", 2)}) {
    INFO(token);
    absl::Status s = ParseAuditPageToken(token).status();
    CHECK(s.code() == absl::StatusCode::kInvalidArgument);
    CHECK_THAT(Message(s), Catch::StartsWith("page_token: "));
  }
}

// ---- every field of every request ---------------------------------------

// Every request message of the service, freshly made.
std::vector<std::unique_ptr<google::protobuf::Message>> AllRequests() {
  std::vector<std::unique_ptr<google::protobuf::Message>> out;
  const google::protobuf::ServiceDescriptor* service =
      google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(
          v1::ApprovalBroker::service_full_name());
  for (int i = 0; i < service->method_count(); ++i) {
    out.emplace_back(google::protobuf::MessageFactory::generated_factory()
                         ->GetPrototype(service->method(i)->input_type())
                         ->New());
  }
  return out;
}

TEST_CASE("every string field of every request refuses a NUL byte by name",
          "[request_check]") {
  int checked = 0;
  for (auto& request : AllRequests()) {
    const google::protobuf::Descriptor* d = request->GetDescriptor();
    for (int i = 0; i < d->field_count(); ++i) {
      const FieldDescriptor* f = d->field(i);
      if (f->type() != FieldDescriptor::TYPE_STRING) continue;
      std::unique_ptr<google::protobuf::Message> m(request->New());
      const std::string bad("ok\0bad", 6);
      std::string path = f->name();
      if (f->is_repeated()) {
        m->GetReflection()->AddString(m.get(), f, "fine");
        m->GetReflection()->AddString(m.get(), f, bad);
        path += "[1]";
      } else {
        m->GetReflection()->SetString(m.get(), f, bad);
      }
      absl::Status s = CheckRequestFields(*m);
      INFO(f->full_name() << ": " << s);
      CHECK(s.code() == absl::StatusCode::kInvalidArgument);
      CHECK_THAT(Message(s), Catch::StartsWith(path + ": holds a NUL byte"));
      ++checked;
    }
  }
  // RequestApproval 5, Decide 3, StreamDecisions 1, GetApproval 1,
  // ListApprovals 1, CancelApproval 2, VerifyAuditLog 1, ListAuditEvents 3,
  // ListWebhookDeliveries 3.
  CHECK(checked == 20);
}

TEST_CASE("request fields: free text may break lines, names may not",
          "[request_check]") {
  v1::RequestApprovalRequest r;
  r.set_justification("line one\nline two");
  r.set_parameters_json("{\n  \"a\": 1\n}");
  CHECK(CheckRequestFields(r).ok());
  r.set_idempotency_key("key\n2");
  CHECK_THAT(Message(CheckRequestFields(r)),
             Catch::StartsWith("idempotency_key: holds control character"));
  v1::ListAuditEventsRequest q;
  q.set_actor("alice\r");
  CHECK_THAT(Message(CheckRequestFields(q)), Catch::StartsWith("actor: "));
}

TEST_CASE("request fields: unknown enum values are refused",
          "[request_check]") {
  v1::ListApprovalsRequest list;
  list.set_state(static_cast<v1::State>(42));
  CHECK_THAT(Message(CheckRequestFields(list)),
             Catch::StartsWith("state: 42 is not a known State value"));
  v1::DecideRequest decide;
  decide.set_verdict(static_cast<v1::Verdict>(-3));
  CHECK(CheckRequestFields(decide).code() ==
        absl::StatusCode::kInvalidArgument);
}

TEST_CASE("request fields: timestamps and durations outside their range",
          "[request_check]") {
  struct Case {
    int64_t seconds;
    int32_t nanos;
  };
  for (Case c : std::vector<Case>{{-62135596801, 0},   // year 0
                                  {9224318016000, 0},  // year 294277
                                  {std::numeric_limits<int64_t>::min(), 0},
                                  {std::numeric_limits<int64_t>::max(), 0},
                                  {253402300800, 0},  // year 10000
                                  {0, -1},
                                  {0, 1000000000}}) {
    v1::ListAuditEventsRequest q;
    q.mutable_end_time()->set_seconds(c.seconds);
    q.mutable_end_time()->set_nanos(c.nanos);
    INFO(c.seconds << "s " << c.nanos << "ns");
    CHECK_THAT(Message(CheckRequestFields(q)), Catch::StartsWith("end_time: "));
  }
  v1::ListAuditEventsRequest edges;
  edges.mutable_start_time()->set_seconds(-62135596800);
  edges.mutable_end_time()->set_seconds(253402300799);
  edges.mutable_end_time()->set_nanos(999999999);
  CHECK(CheckRequestFields(edges).ok());

  v1::RequestApprovalRequest r;
  r.mutable_ttl()->set_seconds(10);
  r.mutable_ttl()->set_nanos(-5);
  CHECK_THAT(Message(CheckRequestFields(r)), Catch::StartsWith("ttl: nanos"));
  r.mutable_ttl()->set_seconds(std::numeric_limits<int64_t>::max());
  r.mutable_ttl()->set_nanos(0);
  CHECK_THAT(Message(CheckRequestFields(r)), Catch::StartsWith("ttl: seconds"));
}

TEST_CASE("request fields: strings inside Struct values and map keys",
          "[request_check]") {
  google::protobuf::Struct s;
  (*s.mutable_fields())["note"].set_string_value(std::string("a\0b", 3));
  CHECK_THAT(Message(CheckRequestFields(s)),
             Catch::StartsWith(R"(fields["note"].string_value: holds a NUL)"));
  google::protobuf::Struct bad_key;
  (*bad_key.mutable_fields())[std::string("k\0", 2)].set_bool_value(true);
  CHECK_THAT(Message(CheckRequestFields(bad_key)),
             Catch::StartsWith("fields key: holds a NUL"));
  google::protobuf::Struct nested;
  google::protobuf::Value& list = (*nested.mutable_fields())["list"];
  list.mutable_list_value()->add_values()->set_number_value(1);
  list.mutable_list_value()->add_values()->set_number_value(
      std::numeric_limits<double>::infinity());
  CHECK_THAT(Message(CheckRequestFields(nested)),
             Catch::StartsWith(
                 R"(fields["list"].list_value.values[1].number_value: )"));
}

// Wire bytes: field `number` as a length-delimited value.
std::string Field(int number, absl::string_view value) {
  std::string out(1, static_cast<char>(number << 3 | 2));
  out.push_back(static_cast<char>(value.size()));
  out.append(value.data(), value.size());
  return out;
}

TEST_CASE("ParseRequest names the string field holding invalid UTF-8",
          "[request_check]") {
  v1::DecideRequest decide;
  absl::Status s =
      ParseRequest(Field(1, kUuid) + Field(3, "bad \xc3\x28 comment"), &decide);
  CHECK(s.code() == absl::StatusCode::kInvalidArgument);
  CHECK(Message(s) ==
        "request is not valid protobuf (a string field holds invalid UTF-8): "
        "comment");
  v1::StreamDecisionsRequest stream;
  s = ParseRequest(Field(1, kUuid) + Field(1, "\xff"), &stream);
  CHECK_THAT(Message(s), Catch::EndsWith(": approval_ids[1]"));
  v1::GetApprovalRequest get;
  s = ParseRequest(
      "\x0a\x05"
      "ab",
      &get);  // truncated
  CHECK_THAT(Message(s), Catch::StartsWith("request is not valid protobuf"));
  // A good request parses and is then checked field by field.
  s = ParseRequest(Field(1, std::string("id\0", 3)), &get);
  CHECK_THAT(Message(s), Catch::StartsWith("approval_id: holds a NUL byte"));
  CHECK(ParseRequest(Field(1, kUuid), &get).ok());
  CHECK(get.approval_id() == kUuid);
}

}  // namespace
}  // namespace approval
