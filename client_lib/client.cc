#include "approval/client.h"

#include <openssl/rand.h>

#include <exception>
#include <fstream>
#include <future>
#include <sstream>
#include <unordered_map>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "client_lib/approval_call.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/security/credentials.h"
#include "wire/approval_token.h"
#include "wire/canonical.h"

namespace approval {
namespace {

using client_internal::ApprovalCall;
using client_internal::Connection;

absl::StatusOr<std::string> ReadFile(absl::string_view field,
                                     const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  if (in) out << in.rdbuf();
  if (!in || !out) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": cannot read \"", path, "\""));
  }
  return out.str();
}

absl::Status ValidateOptions(const ClientOptions& o) {
  if (o.target.empty()) {
    return absl::InvalidArgumentError("target: must not be empty");
  }
  for (char c : o.bearer_token) {
    // An HTTP/2 header value; the token itself stays out of the message.
    if (c <= ' ' || c > '~') {
      return absl::InvalidArgumentError(
          "bearer_token: must be printable ASCII without spaces");
    }
  }
  if (!o.use_tls) {
    for (const auto& [field, value] :
         {std::pair<const char*, const std::string&>{"tls_ca_file",
                                                     o.tls_ca_file},
          {"tls_cert_file", o.tls_cert_file},
          {"tls_key_file", o.tls_key_file}}) {
      if (!value.empty()) {
        return absl::InvalidArgumentError(
            absl::StrCat(field, ": set, but use_tls is false"));
      }
    }
  }
  if (o.tls_cert_file.empty() != o.tls_key_file.empty()) {
    return absl::InvalidArgumentError(
        "tls_cert_file and tls_key_file: give both or neither");
  }
  if (o.reconnect_backoff_initial <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "reconnect_backoff_initial: ",
        absl::FormatDuration(o.reconnect_backoff_initial), " is not positive"));
  }
  if (o.reconnect_backoff_max < o.reconnect_backoff_initial) {
    return absl::InvalidArgumentError(
        absl::StrCat("reconnect_backoff_max: ",
                     absl::FormatDuration(o.reconnect_backoff_max),
                     " is below reconnect_backoff_initial ",
                     absl::FormatDuration(o.reconnect_backoff_initial)));
  }
  if (o.default_ttl < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "default_ttl: ", absl::FormatDuration(o.default_ttl), " is negative"));
  }
  if (o.rpc_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat("rpc_timeout: ", absl::FormatDuration(o.rpc_timeout),
                     " is not positive"));
  }
  if (!o.broker_public_key_pem.empty()) {
    if (absl::StatusOr<ApprovalKeySet> keys =
            ParseApprovalKeys(o.broker_public_key_pem);
        !keys.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("broker_public_key_pem: ", keys.status().message()));
    }
  }
  return absl::OkStatus();
}

// What the client sends for `request` and the digest that binds it.
struct Encoded {
  std::string parameters;  // canonical JSON object
  std::string digest;      // ActionDigest
};

absl::StatusOr<Encoded> Encode(const ApprovalRequest& request) {
  absl::StatusOr<std::string> parameters = CanonicalizeJsonObject(
      request.parameters_json.empty() ? "{}" : request.parameters_json);
  if (!parameters.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("parameters_json: ", parameters.status().message()));
  }
  Encoded out;
  try {
    out.digest = ActionDigest(request.action, request.resource, *parameters);
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("action or resource: not encodable: ", e.what()));
  }
  out.parameters = *std::move(parameters);
  return out;
}

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> Credentials(
    const ClientOptions& o) {
  if (!o.use_tls) return grpc::InsecureChannelCredentials();
  grpc::SslCredentialsOptions ssl;
  if (!o.tls_ca_file.empty()) {
    absl::StatusOr<std::string> ca = ReadFile("tls_ca_file", o.tls_ca_file);
    if (!ca.ok()) return ca.status();
    ssl.pem_root_certs = *std::move(ca);
  }
  if (!o.tls_cert_file.empty()) {
    absl::StatusOr<std::string> cert =
        ReadFile("tls_cert_file", o.tls_cert_file);
    if (!cert.ok()) return cert.status();
    absl::StatusOr<std::string> key = ReadFile("tls_key_file", o.tls_key_file);
    if (!key.ok()) return key.status();
    ssl.pem_cert_chain = *std::move(cert);
    ssl.pem_private_key = *std::move(key);
  }
  return grpc::SslCredentials(ssl);
}

int Millis(absl::Duration d) {
  return static_cast<int>(
      std::min<int64_t>(absl::ToInt64Milliseconds(d), INT32_MAX));
}

// 128 random bits in hex: unique per requester without coordination.
absl::StatusOr<std::string> NewIdempotencyKey() {
  unsigned char bytes[16];
  if (RAND_bytes(bytes, sizeof(bytes)) != 1) {
    return absl::InternalError("no randomness for an idempotency key");
  }
  return HexEncode(
      absl::string_view(reinterpret_cast<const char*>(bytes), sizeof(bytes)));
}

class GrpcClient final : public Client {
 public:
  GrpcClient(std::shared_ptr<const Connection> connection,
             absl::Duration default_ttl)
      : connection_(std::move(connection)), default_ttl_(default_ttl) {}

  ~GrpcClient() override {
    std::vector<std::shared_ptr<ApprovalCall>> calls;
    {
      absl::MutexLock lock(&mu_);
      for (const auto& entry : calls_) calls.push_back(entry.second);
    }
    for (const std::shared_ptr<ApprovalCall>& call : calls) call->Abort();
    calls.clear();
    // Finished is not enough: a gRPC callback may still hold the call, and
    // with it the channel. Wait until every call is destroyed, so that the
    // channel goes here, on the caller's thread.
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(
        +[](GrpcClient* c) ABSL_EXCLUSIVE_LOCKS_REQUIRED(c->mu_) {
          return c->calls_.empty() && c->live_calls_ == 0;
        },
        this));
  }

  void RequireApprovalAsync(
      const ApprovalRequest& request, absl::Time deadline,
      std::function<void(absl::StatusOr<Decision>)> done) override {
    absl::StatusOr<std::pair<v1::RequestApprovalRequest, std::string>>
        prepared = Prepare(request);
    if (!prepared.ok()) {
      done(prepared.status());
      return;
    }
    {
      absl::MutexLock lock(&mu_);
      ++live_calls_;
    }
    // The deleter runs (with a null pointer) when the call is destroyed.
    std::shared_ptr<void> lease(nullptr, [this](void*) {
      absl::MutexLock lock(&mu_);
      --live_calls_;
    });
    auto call = std::make_shared<ApprovalCall>(
        connection_, std::move(prepared->first), std::move(prepared->second),
        deadline, std::move(done),
        [this](const ApprovalCall* finished) { Forget(finished); },
        std::move(lease));
    {
      absl::MutexLock lock(&mu_);
      calls_.emplace(call.get(), call);
    }
    call->Start();
  }

 private:
  using Calls =
      std::unordered_map<const ApprovalCall*, std::shared_ptr<ApprovalCall>>;

  // The request to send, under a fresh idempotency key, and the digest the
  // broker must answer with.
  absl::StatusOr<std::pair<v1::RequestApprovalRequest, std::string>> Prepare(
      const ApprovalRequest& request) const {
    if (request.ttl < absl::ZeroDuration()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "ttl: ", absl::FormatDuration(request.ttl), " is negative"));
    }
    absl::StatusOr<Encoded> encoded = Encode(request);
    if (!encoded.ok()) return encoded.status();
    absl::StatusOr<std::string> key = NewIdempotencyKey();
    if (!key.ok()) return key.status();

    v1::RequestApprovalRequest proto;
    proto.set_action(request.action);
    proto.set_resource(request.resource);
    proto.set_parameters_json(std::move(encoded->parameters));
    proto.set_justification(request.justification);
    proto.set_idempotency_key(*std::move(key));
    absl::Duration ttl =
        request.ttl > absl::ZeroDuration() ? request.ttl : default_ttl_;
    if (ttl > absl::ZeroDuration()) {
      int64_t seconds = absl::ToInt64Seconds(ttl);
      proto.mutable_ttl()->set_seconds(seconds);
      proto.mutable_ttl()->set_nanos(static_cast<int32_t>(
          absl::ToInt64Nanoseconds(ttl - absl::Seconds(seconds))));
    }
    return std::make_pair(std::move(proto), std::move(encoded->digest));
  }

  void Forget(const ApprovalCall* call) {
    absl::MutexLock lock(&mu_);
    calls_.erase(call);
  }

  const std::shared_ptr<const Connection> connection_;
  const absl::Duration default_ttl_;
  absl::Mutex mu_;
  Calls calls_ ABSL_GUARDED_BY(mu_);
  int live_calls_ ABSL_GUARDED_BY(mu_) = 0;  // constructed, not yet destroyed
};

}  // namespace

absl::string_view DecisionStateName(DecisionState state) {
  switch (state) {
    case DecisionState::kApproved:
      return "APPROVED";
    case DecisionState::kDenied:
      return "DENIED";
    case DecisionState::kExpired:
      return "EXPIRED";
    case DecisionState::kCancelled:
      return "CANCELLED";
  }
  return "UNKNOWN";
}

absl::StatusOr<std::unique_ptr<Client>> Client::Create(
    const ClientOptions& options) {
  if (absl::Status s = ValidateOptions(options); !s.ok()) return s;
  absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> credentials =
      Credentials(options);
  if (!credentials.ok()) return credentials.status();

  // The channel reconnects on its own schedule; keep it as eager as ours.
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS,
              Millis(options.reconnect_backoff_initial));
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS,
              Millis(options.reconnect_backoff_max));
  // A waiting stream sends nothing; keepalive pings notice a connection that
  // died silently (a NAT or load balancer dropping it) instead of waiting
  // for the deadline. The broker accepts pings this often.
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 30000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 10000);
  args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  auto connection = std::make_shared<Connection>();
  connection->channel =
      grpc::CreateCustomChannel(options.target, *credentials, args);
  connection->stub = v1::ApprovalBroker::NewStub(connection->channel);
  if (!options.bearer_token.empty()) {
    connection->authorization = absl::StrCat("Bearer ", options.bearer_token);
  }
  connection->backoff_initial = options.reconnect_backoff_initial;
  connection->backoff_max = options.reconnect_backoff_max;
  connection->rpc_timeout = options.rpc_timeout;
  connection->cancel_on_deadline = options.cancel_on_deadline;
  connection->signing_key = std::make_unique<client_internal::SigningKeyCache>(
      options.broker_public_key_pem);
  return std::make_unique<GrpcClient>(std::move(connection),
                                      options.default_ttl);
}

absl::StatusOr<Decision> Client::RequireApproval(const ApprovalRequest& request,
                                                 absl::Time deadline) {
  std::promise<absl::StatusOr<Decision>> result;
  std::future<absl::StatusOr<Decision>> ready = result.get_future();
  RequireApprovalAsync(request, deadline,
                       [&result](absl::StatusOr<Decision> decision) {
                         result.set_value(std::move(decision));
                       });
  return ready.get();
}

absl::Status Client::RunIfApproved(const ApprovalRequest& request,
                                   absl::Time deadline,
                                   absl::FunctionRef<absl::Status()> action) {
  absl::StatusOr<Decision> decision = RequireApproval(request, deadline);
  if (!decision.ok()) return decision.status();
  std::string because =
      decision->comment.empty() ? "" : absl::StrCat(": ", decision->comment);
  switch (decision->state) {
    case DecisionState::kApproved:
      return action();
    case DecisionState::kDenied:
      return absl::PermissionDeniedError(
          absl::StrCat("approval ", decision->approval_id, " denied by ",
                       decision->decided_by, because));
    case DecisionState::kExpired:
      return absl::DeadlineExceededError(
          absl::StrCat("approval ", decision->approval_id,
                       " expired before anyone decided"));
    case DecisionState::kCancelled:
      return absl::CancelledError(
          absl::StrCat("approval ", decision->approval_id, " cancelled by ",
                       decision->decided_by, because));
  }
  return absl::InternalError("unknown decision state");
}

absl::StatusOr<ApprovedAction> VerifyApprovalToken(
    absl::string_view token, absl::string_view broker_public_key_pem,
    const ApprovalRequest& request, absl::Time now) {
  absl::StatusOr<Encoded> encoded = Encode(request);
  if (!encoded.ok()) return encoded.status();
  return client_internal::VerifyToken(token, broker_public_key_pem,
                                      encoded->digest, /*approval_id=*/"", now);
}

}  // namespace approval
