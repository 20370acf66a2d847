#include "tools/approvalctl/broker_client.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"

namespace approval::ctl {
namespace {

absl::StatusOr<std::string> ReadFile(absl::string_view flag,
                                     const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, " ", path, ": cannot read: ", std::strerror(errno)));
  }
  std::stringstream contents;
  contents << in.rdbuf();
  return contents.str();
}

// The one place where a gRPC status becomes an absl::Status.
absl::Status FromGrpc(const grpc::Status& s) {
  return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                      s.error_message());
}

// Reads StreamDecisions with the callback API, which (unlike the sync
// reader) tells a subscription the broker accepted apart from one it refused
// before sending anything. Callbacks run one at a time on gRPC threads.
class WatchReactor final : public grpc::ClientReadReactor<v1::DecisionEvent> {
 public:
  WatchReactor(v1::ApprovalBroker::Stub& stub, grpc::ClientContext* ctx,
               v1::StreamDecisionsRequest request,
               const std::function<void()>& on_ready,
               const std::function<bool(const v1::DecisionEvent&)>& on_event)
      : ctx_(ctx),
        request_(std::move(request)),
        on_ready_(on_ready),
        on_event_(on_event) {
    stub.async()->StreamDecisions(ctx_, &request_, this);
    StartRead(&event_);
    StartCall();
  }

  // Blocks until the stream is over; OK when on_event asked to stop.
  absl::Status Await() {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(&done_));
    return status_;
  }

  void OnReadInitialMetadataDone(bool ok) override {
    // ok is false when the broker refused the stream (trailers only).
    if (ok) on_ready_();
  }

  void OnReadDone(bool ok) override {
    if (!ok) return;  // OnDone follows with the status.
    if (!on_event_(event_)) {
      stopped_ = true;
      ctx_->TryCancel();
      return;
    }
    StartRead(&event_);
  }

  void OnDone(const grpc::Status& s) override {
    absl::MutexLock lock(&mu_);
    status_ = stopped_ ? absl::OkStatus() : FromGrpc(s);
    done_ = true;
  }

 private:
  grpc::ClientContext* const ctx_;
  const v1::StreamDecisionsRequest request_;
  const std::function<void()>& on_ready_;
  const std::function<bool(const v1::DecisionEvent&)>& on_event_;
  v1::DecisionEvent event_;
  bool stopped_ = false;  // only touched by the serialized callbacks

  absl::Mutex mu_;
  bool done_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status status_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

absl::StatusOr<std::unique_ptr<BrokerClient>> BrokerClient::Create(
    const ConnectionOptions& options) {
  std::shared_ptr<grpc::ChannelCredentials> credentials =
      grpc::InsecureChannelCredentials();
  if (!options.ca_file.empty()) {
    grpc::SslCredentialsOptions ssl;
    absl::StatusOr<std::string> ca = ReadFile("--ca", options.ca_file);
    if (!ca.ok()) return ca.status();
    ssl.pem_root_certs = *std::move(ca);
    if (!options.cert_file.empty()) {
      absl::StatusOr<std::string> cert = ReadFile("--cert", options.cert_file);
      if (!cert.ok()) return cert.status();
      absl::StatusOr<std::string> key = ReadFile("--key", options.key_file);
      if (!key.ok()) return key.status();
      ssl.pem_cert_chain = *std::move(cert);
      ssl.pem_private_key = *std::move(key);
    }
    credentials = grpc::SslCredentials(ssl);
  }
  return std::unique_ptr<BrokerClient>(new BrokerClient(
      options, grpc::CreateChannel(options.address, credentials)));
}

BrokerClient::BrokerClient(ConnectionOptions options,
                           std::shared_ptr<grpc::Channel> channel)
    : options_(std::move(options)),
      stub_(v1::ApprovalBroker::NewStub(std::move(channel))) {}

std::unique_ptr<grpc::ClientContext> BrokerClient::Context(
    bool deadline) const {
  auto ctx = std::make_unique<grpc::ClientContext>();
  // Plain metadata rather than call credentials: gRPC refuses to send those
  // over plaintext, and the demo broker is plaintext on loopback.
  if (!options_.token.empty()) {
    ctx->AddMetadata("authorization", "Bearer " + options_.token);
  }
  if (deadline) {
    ctx->set_deadline(absl::ToChronoTime(absl::Now() + options_.timeout));
  }
  return ctx;
}

absl::StatusOr<v1::ListApprovalsResponse> BrokerClient::ListApprovals(
    const v1::ListApprovalsRequest& request) {
  v1::ListApprovalsResponse resp;
  grpc::Status s = stub_->ListApprovals(Context(true).get(), request, &resp);
  if (!s.ok()) return FromGrpc(s);
  return resp;
}

absl::StatusOr<v1::Approval> BrokerClient::Get(const std::string& id) {
  v1::GetApprovalRequest req;
  req.set_approval_id(id);
  v1::Approval resp;
  grpc::Status s = stub_->GetApproval(Context(true).get(), req, &resp);
  if (!s.ok()) return FromGrpc(s);
  return resp;
}

absl::StatusOr<v1::Approval> BrokerClient::Decide(const std::string& id,
                                                  v1::Verdict verdict,
                                                  const std::string& comment) {
  v1::DecideRequest req;
  req.set_approval_id(id);
  req.set_verdict(verdict);
  req.set_comment(comment);
  v1::DecideResponse resp;
  grpc::Status s = stub_->Decide(Context(true).get(), req, &resp);
  if (!s.ok()) return FromGrpc(s);
  return std::move(*resp.mutable_approval());
}

absl::StatusOr<v1::VerifyAuditLogResponse> BrokerClient::VerifyAuditLog(
    const v1::VerifyAuditLogRequest& req) {
  v1::VerifyAuditLogResponse resp;
  grpc::Status s = stub_->VerifyAuditLog(Context(true).get(), req, &resp);
  if (!s.ok()) return FromGrpc(s);
  return resp;
}

absl::StatusOr<v1::SigningKey> BrokerClient::GetSigningKey() {
  v1::SigningKey resp;
  grpc::Status s = stub_->GetSigningKey(Context(true).get(), {}, &resp);
  if (!s.ok()) return FromGrpc(s);
  return resp;
}

absl::StatusOr<v1::ListWebhookDeliveriesResponse>
BrokerClient::ListWebhookDeliveries(
    const v1::ListWebhookDeliveriesRequest& request) {
  v1::ListWebhookDeliveriesResponse resp;
  grpc::Status s =
      stub_->ListWebhookDeliveries(Context(true).get(), request, &resp);
  if (!s.ok()) return FromGrpc(s);
  return resp;
}

absl::Status BrokerClient::ForEachAuditEvent(
    v1::ListAuditEventsRequest request,
    const std::function<absl::Status(const v1::AuditEvent&)>& visit) {
  request.clear_page_token();
  do {
    v1::ListAuditEventsResponse resp;
    grpc::Status s =
        stub_->ListAuditEvents(Context(true).get(), request, &resp);
    if (!s.ok()) return FromGrpc(s);
    for (const v1::AuditEvent& e : resp.events()) {
      if (absl::Status v = visit(e); !v.ok()) return v;
    }
    request.set_page_token(resp.next_page_token());
  } while (!request.page_token().empty());
  return absl::OkStatus();
}

absl::Status BrokerClient::Watch(
    const v1::StreamDecisionsRequest& request,
    const std::function<void()>& on_ready,
    const std::function<bool(const v1::DecisionEvent&)>& on_event) {
  std::unique_ptr<grpc::ClientContext> ctx = Context(false);
  WatchReactor reactor(*stub_, ctx.get(), request, on_ready, on_event);
  return reactor.Await();
}

}  // namespace approval::ctl
