// Checks every request meets before any handler sees it, whatever the RPC:
// it is valid protobuf, and no field holds a value the broker would store
// or use altered. The class-level guard for "input is never silently
// changed": a new request field is checked without anyone remembering to.
#ifndef APPROVAL_SERVER_SERVICE_REQUEST_CHECK_H_
#define APPROVAL_SERVER_SERVICE_REQUEST_CHECK_H_

#include "absl/status/status.h"
#include "google/protobuf/message.h"
#include "grpcpp/impl/codegen/serialization_traits.h"
#include "grpcpp/support/byte_buffer.h"
#include "grpcpp/support/status.h"

namespace approval {

// Walks every set field of `request` (nested, repeated and map fields
// included, map keys too) and returns INVALID_ARGUMENT naming the first bad
// one by its path, e.g. `approval_ids[2]: holds a NUL byte at offset 3; ...`:
//   - string: CheckText (text.h): never a NUL byte; single-line (no control
//     character) except the free-text fields
//     RequestApprovalRequest.justification and .parameters_json,
//     DecideRequest.comment and CancelApprovalRequest.reason;
//   - enum: a number the enum does not define;
//   - double/float: not finite;
//   - google.protobuf.Timestamp: outside 0001-01-01..9999-12-31 or nanos
//     outside [0, 1e9); google.protobuf.Duration: outside +-10000 years or
//     nanos out of range or of the other sign than seconds.
// OK otherwise. Thread-safe.
absl::Status CheckRequestFields(const google::protobuf::Message& request);

// Parses `bytes` into `request` and checks it with CheckRequestFields.
// INVALID_ARGUMENT "request is not valid protobuf: ..." when it does not
// parse, naming the string field when the cause is invalid UTF-8 (which
// proto3 refuses). `request` is cleared on a parse failure.
absl::Status ParseRequest(absl::string_view bytes,
                          google::protobuf::Message* request);

// A request as gRPC delivered it to the broker: the message and whether it
// passed ParseRequest. Handlers registered for CheckedRequest<Req> (see
// BrokerService) always run, so that a bad request is answered
// INVALID_ARGUMENT with a message; gRPC's own deserialization failure would
// answer UNIMPLEMENTED with none.
template <typename Req>
struct CheckedRequest {
  Req message;
  absl::Status status;  // not OK: refuse the call with it
};

// ParseRequest for a ByteBuffer; consumes (clears) `buffer`.
absl::Status ParseRequestBuffer(grpc::ByteBuffer* buffer,
                                google::protobuf::Message* request);

}  // namespace approval

namespace grpc {

// Deserialization of a CheckedRequest never fails the call; the outcome is
// in CheckedRequest::status.
template <typename Req>
class SerializationTraits<approval::CheckedRequest<Req>, void> {
 public:
  static Status Serialize(const approval::CheckedRequest<Req>& msg,
                          ByteBuffer* bb, bool* own_buffer) {
    return SerializationTraits<Req>::Serialize(msg.message, bb, own_buffer);
  }
  static Status Deserialize(ByteBuffer* buffer,
                            approval::CheckedRequest<Req>* msg) {
    msg->status = approval::ParseRequestBuffer(buffer, &msg->message);
    return Status::OK;
  }
};

}  // namespace grpc

#endif  // APPROVAL_SERVER_SERVICE_REQUEST_CHECK_H_
