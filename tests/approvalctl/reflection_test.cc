// Server reflection as grpcurl uses it: list the services, fetch the API's
// descriptors through grpc.reflection.v1alpha, then call the broker with
// messages built from those descriptors alone. No generated approval.v1 or
// reflection code is used here: requests are encoded by hand (as in the
// harness's health check) and reflection answers are read as raw fields.
#include <catch2/catch.hpp>
#include <condition_variable>
#include <future>
#include <mutex>

#include "absl/time/clock.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/descriptor.pb.h"
#include "google/protobuf/descriptor_database.h"
#include "google/protobuf/dynamic_message.h"
#include "google/protobuf/unknown_field_set.h"
#include "google/protobuf/util/json_util.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"
#include "nlohmann/json.hpp"
#include "tests/support/broker/broker_harness.h"
#include "tests/support/pg/pg_fixture.h"

namespace approval::testing {
namespace {

namespace pb = google::protobuf;

constexpr char kReflectionMethod[] =
    "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo";

// Field numbers from grpc/reflection/v1alpha/reflection.proto.
constexpr int kRequestFileByFilename = 3;
constexpr int kRequestFileContainingSymbol = 4;
constexpr int kRequestListServices = 7;
constexpr int kResponseFileDescriptors = 4;  // FileDescriptorResponse
constexpr int kResponseListServices = 6;     // ListServiceResponse
constexpr int kResponseError = 7;            // ErrorResponse
// FileDescriptorResponse.file_descriptor_proto, ListServiceResponse.service,
// ServiceResponse.name: all field 1; ErrorResponse.error_message: field 2.

grpc::ByteBuffer ToByteBuffer(const std::string& bytes) {
  grpc::Slice slice(bytes);
  return grpc::ByteBuffer(&slice, 1);
}

std::string FromByteBuffer(const grpc::ByteBuffer& buffer) {
  std::vector<grpc::Slice> slices;
  REQUIRE(buffer.Dump(&slices).ok());
  std::string out;
  for (const grpc::Slice& s : slices) {
    out.append(reinterpret_cast<const char*>(s.begin()), s.size());
  }
  return out;
}

// The length-delimited values of field `number` of the serialized message
// `message`, in order.
std::vector<std::string> Fields(const std::string& message, int number) {
  pb::UnknownFieldSet fields;
  REQUIRE(fields.ParseFromString(message));
  std::vector<std::string> out;
  for (int i = 0; i < fields.field_count(); ++i) {
    const pb::UnknownField& f = fields.field(i);
    if (f.number() == number &&
        f.type() == pb::UnknownField::TYPE_LENGTH_DELIMITED) {
      out.push_back(f.length_delimited());
    }
  }
  return out;
}

// One ServerReflectionInfo stream that sends a single request, half-closes
// and collects every response until the server ends the stream.
class OneRequestStream final
    : public grpc::ClientBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer> {
 public:
  OneRequestStream(grpc::GenericStub& stub, const std::string& request)
      : request_(ToByteBuffer(request)) {
    ctx_.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
    stub.PrepareBidiStreamingCall(&ctx_, kReflectionMethod, grpc::StubOptions(),
                                  this);
    StartWriteLast(&request_, grpc::WriteOptions());
    StartRead(&response_);
    StartCall();
  }

  // Blocks until the stream is over (at the latest at its deadline).
  grpc::Status Await() {
    std::unique_lock<std::mutex> lock(mu_);
    done_cv_.wait(lock, [this] { return done_; });
    return status_;
  }

  // Call after Await.
  const std::vector<std::string>& responses() const { return responses_; }

  void OnReadDone(bool ok) override {
    if (!ok) return;
    responses_.push_back(FromByteBuffer(response_));
    StartRead(&response_);
  }

  void OnDone(const grpc::Status& s) override {
    std::lock_guard<std::mutex> lock(mu_);
    status_ = s;
    done_ = true;
    done_cv_.notify_one();
  }

 private:
  grpc::ClientContext ctx_;
  grpc::ByteBuffer request_;
  grpc::ByteBuffer response_;
  std::vector<std::string> responses_;
  std::mutex mu_;
  std::condition_variable done_cv_;
  bool done_ = false;
  grpc::Status status_;
};

// Sends the ServerReflectionRequest whose oneof field `field` is `value` and
// returns the serialized answer; fails the test on an ErrorResponse.
std::string Reflect(const std::string& address, int field,
                    const std::string& value) {
  pb::UnknownFieldSet request;
  request.AddLengthDelimited(field, value);
  std::string bytes;
  REQUIRE(request.SerializeToString(&bytes));
  grpc::GenericStub stub(
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  OneRequestStream stream(stub, bytes);
  grpc::Status status = stream.Await();
  INFO(status.error_message());
  REQUIRE(status.ok());
  REQUIRE(stream.responses().size() == 1);
  const std::string& response = stream.responses()[0];
  for (const std::string& error : Fields(response, kResponseError)) {
    std::vector<std::string> message = Fields(error, 2);
    FAIL("reflection error: " << (message.empty() ? "" : message[0]));
  }
  return response;
}

std::vector<std::string> ListServices(const std::string& address) {
  std::vector<std::string> lists = Fields(
      Reflect(address, kRequestListServices, "*"), kResponseListServices);
  REQUIRE(lists.size() == 1);
  std::vector<std::string> names;
  for (const std::string& service : Fields(lists[0], 1)) {
    std::vector<std::string> name = Fields(service, 1);
    REQUIRE(name.size() == 1);
    names.push_back(name[0]);
  }
  return names;
}

// Serialized FileDescriptorProtos answering a file_by_filename or
// file_containing_symbol request.
std::vector<std::string> FileDescriptors(const std::string& address, int field,
                                         const std::string& value) {
  std::vector<std::string> answers =
      Fields(Reflect(address, field, value), kResponseFileDescriptors);
  REQUIRE(answers.size() == 1);
  return Fields(answers[0], 1);
}

// Adds the file declaring `symbol`, and every file it needs, to `db`,
// asking reflection for any dependency it did not send along.
void LoadSymbol(const std::string& address, const std::string& symbol,
                pb::SimpleDescriptorDatabase* db) {
  std::vector<std::string> todo =
      FileDescriptors(address, kRequestFileContainingSymbol, symbol);
  while (!todo.empty()) {
    pb::FileDescriptorProto file;
    REQUIRE(file.ParseFromString(todo.back()));
    todo.pop_back();
    pb::FileDescriptorProto known;
    if (db->FindFileByName(file.name(), &known)) continue;
    REQUIRE(db->Add(file));
    for (const std::string& dependency : file.dependency()) {
      if (db->FindFileByName(dependency, &known)) continue;
      std::vector<std::string> more =
          FileDescriptors(address, kRequestFileByFilename, dependency);
      todo.insert(todo.end(), more.begin(), more.end());
    }
  }
}

// What `grpcurl -H "authorization: Bearer TOKEN" -d JSON ADDRESS METHOD`
// does: the request from JSON through the reflected input type, the answer
// to JSON through the reflected output type. `token` "": no authorization.
nlohmann::json CallWithJson(const std::string& address,
                            const pb::MethodDescriptor& method,
                            pb::DynamicMessageFactory& factory,
                            const std::string& token,
                            const std::string& request_json) {
  std::unique_ptr<pb::Message> request(
      factory.GetPrototype(method.input_type())->New());
  auto parsed = pb::util::JsonStringToMessage(request_json, request.get());
  INFO(parsed.ToString());
  REQUIRE(parsed.ok());
  std::string bytes;
  REQUIRE(request->SerializeToString(&bytes));

  grpc::GenericStub stub(
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  grpc::ClientContext ctx;
  if (!token.empty()) ctx.AddMetadata("authorization", "Bearer " + token);
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
  grpc::ByteBuffer request_buffer = ToByteBuffer(bytes);
  grpc::ByteBuffer response_buffer;
  auto done = std::make_shared<std::promise<grpc::Status>>();
  stub.UnaryCall(&ctx,
                 "/" + method.service()->full_name() + "/" + method.name(),
                 grpc::StubOptions(), &request_buffer, &response_buffer,
                 [done](grpc::Status s) { done->set_value(std::move(s)); });
  grpc::Status status = done->get_future().get();
  INFO(status.error_message());
  REQUIRE(status.ok());

  std::unique_ptr<pb::Message> response(
      factory.GetPrototype(method.output_type())->New());
  REQUIRE(response->ParseFromString(FromByteBuffer(response_buffer)));
  std::string json;
  REQUIRE(pb::util::MessageToJsonString(*response, &json).ok());
  return nlohmann::json::parse(json);
}

TEST_CASE("reflection lists the broker and health services",
          "[reflection][postgres]") {
  TestDatabase db;
  std::unique_ptr<PostgresStore> store = db.OpenAppStore();
  BrokerHarness h(*store);
  std::vector<std::string> services = ListServices(h.address());
  INFO(Catch::Detail::stringify(services));
  CHECK_THAT(services,
             Catch::VectorContains(std::string("approval.v1.ApprovalBroker")));
  CHECK_THAT(services,
             Catch::VectorContains(std::string("grpc.health.v1.Health")));
  CHECK_THAT(services, Catch::VectorContains(std::string(
                           "grpc.reflection.v1alpha.ServerReflection")));
}

TEST_CASE("a call built only from reflected descriptors works",
          "[reflection][postgres]") {
  TestDatabase db;
  std::unique_ptr<PostgresStore> store = db.OpenAppStore();
  BrokerHarness h(*store);

  pb::SimpleDescriptorDatabase descriptors;
  LoadSymbol(h.address(), "approval.v1.ApprovalBroker", &descriptors);
  pb::DescriptorPool pool(&descriptors);
  const pb::ServiceDescriptor* broker =
      pool.FindServiceByName("approval.v1.ApprovalBroker");
  REQUIRE(broker != nullptr);
  const pb::MethodDescriptor* request =
      broker->FindMethodByName("RequestApproval");
  const pb::MethodDescriptor* list = broker->FindMethodByName("ListApprovals");
  REQUIRE(request != nullptr);
  REQUIRE(list != nullptr);
  CHECK(list->input_type()->full_name() == "approval.v1.ListApprovalsRequest");
  pb::DynamicMessageFactory factory(&pool);

  nlohmann::json created = CallWithJson(
      h.address(), *request, factory, h.Token("agent-1"),
      R"({"action":"db.export","resource":"postgres://prod/customers",)"
      R"("parametersJson":"{\"rows\":1200}","justification":"report"})");
  const std::string id = created["approval"]["id"];
  CHECK(created["created"] == true);

  nlohmann::json pending = CallWithJson(
      h.address(), *list, factory, h.Token("alice"), R"({"state":"PENDING"})");
  INFO(pending.dump());
  REQUIRE(pending["approvals"].size() == 1);
  const nlohmann::json& a = pending["approvals"][0];
  CHECK(a["id"] == id);
  CHECK(a["state"] == "PENDING");
  CHECK(a["requester"] == "agent-1");
  CHECK(a["parametersPreviewJson"] == R"({"rows":1200})");
  CHECK(a["createTime"].is_string());
}

TEST_CASE(
    "reflection describes every service it lists, and every method's input "
    "and output types",
    "[reflection][postgres]") {
  TestDatabase db;
  std::unique_ptr<PostgresStore> store = db.OpenAppStore();
  BrokerHarness h(*store);
  const std::vector<std::string> services = ListServices(h.address());
  REQUIRE(services.size() >= 3);
  for (const std::string& name : services) {
    INFO("service " << name);
    // Each symbol resolved on its own, as grpcurl's `describe` does.
    pb::SimpleDescriptorDatabase descriptors;
    LoadSymbol(h.address(), name, &descriptors);
    pb::DescriptorPool pool(&descriptors);
    const pb::ServiceDescriptor* service = pool.FindServiceByName(name);
    REQUIRE(service != nullptr);
    CHECK(service->method_count() > 0);
    for (int i = 0; i < service->method_count(); ++i) {
      const pb::MethodDescriptor* method = service->method(i);
      for (const pb::Descriptor* type :
           {method->input_type(), method->output_type()}) {
        INFO("method " << method->full_name() << " type " << type->full_name());
        pb::SimpleDescriptorDatabase by_type;
        LoadSymbol(h.address(), type->full_name(), &by_type);
        pb::DescriptorPool type_pool(&by_type);
        const pb::Descriptor* found =
            type_pool.FindMessageTypeByName(type->full_name());
        REQUIRE(found != nullptr);
        CHECK(found->field_count() == type->field_count());
      }
    }
  }
}

TEST_CASE("health Check works through reflected descriptors alone",
          "[reflection][postgres]") {
  TestDatabase db;
  std::unique_ptr<PostgresStore> store = db.OpenAppStore();
  BrokerHarness h(*store);

  pb::SimpleDescriptorDatabase descriptors;
  LoadSymbol(h.address(), "grpc.health.v1.Health", &descriptors);
  pb::DescriptorPool pool(&descriptors);
  const pb::ServiceDescriptor* health =
      pool.FindServiceByName("grpc.health.v1.Health");
  REQUIRE(health != nullptr);
  const pb::MethodDescriptor* check = health->FindMethodByName("Check");
  REQUIRE(check != nullptr);
  CHECK(health->FindMethodByName("Watch") != nullptr);
  pb::DynamicMessageFactory factory(&pool);

  // What the README's `grpcurl -plaintext ADDRESS grpc.health.v1.Health/Check`
  // sends, and the same for the broker's service by name.
  nlohmann::json server = CallWithJson(h.address(), *check, factory, "", "{}");
  CHECK(server["status"] == "SERVING");
  nlohmann::json broker =
      CallWithJson(h.address(), *check, factory, "",
                   R"({"service":"approval.v1.ApprovalBroker"})");
  CHECK(broker["status"] == "SERVING");
}

}  // namespace
}  // namespace approval::testing
