#include "client_lib/approval_call.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "wire/approval_token.h"

namespace approval::client_internal {
namespace {

constexpr double kBackoffMultiplier = 1.6;
constexpr double kBackoffJitter = 0.2;

absl::Status ShutDown() {
  return absl::CancelledError("the approval client was shut down");
}

std::optional<DecisionState> FinalState(v1::State state) {
  switch (state) {
    case v1::APPROVED:
      return DecisionState::kApproved;
    case v1::DENIED:
      return DecisionState::kDenied;
    case v1::EXPIRED:
      return DecisionState::kExpired;
    case v1::CANCELLED:
      return DecisionState::kCancelled;
    default:
      return std::nullopt;
  }
}

absl::Time FromProto(const google::protobuf::Timestamp& t) {
  return absl::FromUnixSeconds(t.seconds()) + absl::Nanoseconds(t.nanos());
}

// Failures that a later attempt can get past: the broker (or the path to
// it) was down, busy or restarting, or the stream was cut.
bool Retryable(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
    case grpc::StatusCode::ABORTED:
    case grpc::StatusCode::DEADLINE_EXCEEDED:
    case grpc::StatusCode::CANCELLED:
      return true;
    default:
      return false;
  }
}

}  // namespace

SigningKeyCache::SigningKeyCache(std::string pinned_pem)
    : pinned_(!pinned_pem.empty()), pem_(std::move(pinned_pem)) {}

std::string SigningKeyCache::Get() const {
  absl::MutexLock lock(&mu_);
  return pem_;
}

void SigningKeyCache::Put(std::string pem) {
  absl::MutexLock lock(&mu_);
  if (!pinned_) pem_ = std::move(pem);
}

absl::StatusOr<ApprovedAction> VerifyToken(absl::string_view token,
                                           absl::string_view public_key_pem,
                                           absl::string_view action_digest,
                                           absl::string_view approval_id,
                                           absl::Time now) {
  absl::StatusOr<ApprovalKeySet> keys = ParseApprovalKeys(public_key_pem);
  if (!keys.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("broker public key: ", keys.status().message()));
  }
  absl::StatusOr<ApprovalClaims> claims =
      approval::VerifyApprovalToken(token, *keys);
  if (!claims.ok()) return claims.status();
  if (absl::Status s = CheckClaims(*claims, action_digest, approval_id, now);
      !s.ok()) {
    return s;
  }
  ApprovedAction out;
  out.approval_id = std::move(claims->approval_id);
  out.action = std::move(claims->action);
  out.action_digest = std::move(claims->action_digest);
  out.approvers = std::move(claims->approvers);
  out.rule = std::move(claims->rule);
  out.approved_at = claims->approved_at;
  out.not_before = claims->not_before;
  out.not_after = claims->not_after;
  out.key_id = std::move(claims->key_id);
  out.issuer = std::move(claims->issuer);
  out.audience = std::move(claims->audience);
  return out;
}

absl::Status CheckDigest(absl::string_view what, absl::string_view expected,
                         absl::string_view actual) {
  if (actual == expected) return absl::OkStatus();
  return absl::DataLossError(absl::StrCat(
      what, ": the broker's action_digest \"", actual, "\" is not \"", expected,
      "\", the digest of the action this client sent; refused"));
}

// One StreamDecisions attempt following the call's approval id. Deletes
// itself when done.
class ApprovalCall::DecisionReader final
    : public grpc::ClientReadReactor<v1::DecisionEvent> {
 public:
  DecisionReader(std::shared_ptr<ApprovalCall> call,
                 std::shared_ptr<grpc::ClientContext> context,
                 const std::string& approval_id)
      : call_(std::move(call)), context_(std::move(context)) {
    request_.add_approval_ids(approval_id);
  }

  void Start() {
    call_->connection_->stub->async()->StreamDecisions(context_.get(),
                                                       &request_, this);
    StartRead(&event_);
    StartCall();
  }

  // The broker sends headers once the subscription is in place.
  void OnReadInitialMetadataDone(bool ok) override {
    if (ok) call_->OnSubscribed();
  }

  void OnReadDone(bool ok) override {
    if (!ok) return;  // OnDone follows with the status
    if (call_->OnEvent(event_)) {
      // The broker keeps the stream open; the call has what it waited for.
      context_->TryCancel();
      return;
    }
    StartRead(&event_);
  }

  void OnDone(const grpc::Status& status) override {
    call_->OnStreamDone(status);
    delete this;
  }

 private:
  const std::shared_ptr<ApprovalCall> call_;
  const std::shared_ptr<grpc::ClientContext> context_;
  v1::StreamDecisionsRequest request_;
  v1::DecisionEvent event_;
};

ApprovalCall::ApprovalCall(std::shared_ptr<const Connection> connection,
                           v1::RequestApprovalRequest request,
                           std::string expected_digest, absl::Time deadline,
                           Done done,
                           std::function<void(const ApprovalCall*)> on_finished,
                           std::shared_ptr<void> lease)
    : lease_(std::move(lease)),
      connection_(std::move(connection)),
      request_(std::move(request)),
      expected_digest_(std::move(expected_digest)),
      deadline_(deadline),
      done_(std::move(done)),
      on_finished_(std::move(on_finished)) {}

void ApprovalCall::Start() { Submit(); }

void ApprovalCall::Abort() {
  std::shared_ptr<grpc::ClientContext> context;
  std::shared_ptr<grpc::Alarm> alarm;
  {
    absl::MutexLock lock(&mu_);
    if (aborted_) return;
    aborted_ = true;
    context = context_;
    alarm = alarm_;
  }
  // Outside the lock: gRPC may run the cancelled operation's callback inline.
  if (context != nullptr) context->TryCancel();
  if (alarm != nullptr) alarm->Cancel();
}

bool ApprovalCall::Aborted() {
  absl::MutexLock lock(&mu_);
  return aborted_;
}

std::shared_ptr<grpc::ClientContext> ApprovalCall::NewContext(
    absl::Time deadline, bool wait_for_ready) {
  auto context = std::make_shared<grpc::ClientContext>();
  context->set_wait_for_ready(wait_for_ready);
  if (!connection_->authorization.empty()) {
    context->AddMetadata("authorization", connection_->authorization);
  }
  context->set_deadline(absl::ToChronoTime(deadline));
  absl::MutexLock lock(&mu_);
  if (aborted_) return nullptr;
  context_ = context;
  return context;
}

std::shared_ptr<grpc::ClientContext> ApprovalCall::BeginUnaryAttempt(
    bool* capped_by_deadline) {
  absl::Time now = absl::Now();
  if (now >= deadline_) {
    OnDeadline();
    return nullptr;
  }
  absl::Time attempt_deadline =
      std::min(deadline_, now + connection_->rpc_timeout);
  *capped_by_deadline = attempt_deadline == deadline_;
  std::shared_ptr<grpc::ClientContext> context =
      NewContext(attempt_deadline, /*wait_for_ready=*/false);
  if (context == nullptr) Finish(ShutDown());
  return context;
}

void ApprovalCall::Submit() {
  bool capped_by_deadline = false;
  std::shared_ptr<grpc::ClientContext> context =
      BeginUnaryAttempt(&capped_by_deadline);
  if (context == nullptr) return;
  auto response = std::make_shared<v1::RequestApprovalResponse>();
  connection_->stub->async()->RequestApproval(
      context.get(), &request_, response.get(),
      [self = shared_from_this(), context, response,
       capped_by_deadline](grpc::Status status) {
        self->OnSubmitted(status, *response, capped_by_deadline);
      });
}

void ApprovalCall::OnSubmitted(const grpc::Status& status,
                               const v1::RequestApprovalResponse& response,
                               bool capped_by_deadline) {
  if (!status.ok()) {
    HandleFailure(status, capped_by_deadline, "RequestApproval",
                  &ApprovalCall::Submit);
    return;
  }
  const v1::Approval& approval = response.approval();
  if (absl::Status s = CheckDigest(absl::StrCat("approval ", approval.id()),
                                   expected_digest_, approval.action_digest());
      !s.ok()) {
    Finish(s);
    return;
  }
  {
    absl::MutexLock lock(&mu_);
    approval_id_ = approval.id();
    failures_ = 0;
  }
  // Even when the answer is already final (a resubmission after a lost
  // answer), the stream delivers the decision with its cursor.
  Follow();
}

void ApprovalCall::Follow() {
  if (absl::Now() >= deadline_) {
    OnDeadline();
    return;
  }
  // The stream waits for the channel to (re)connect rather than failing at
  // once: it starts the moment a restarted broker accepts connections.
  std::shared_ptr<grpc::ClientContext> context =
      NewContext(deadline_, /*wait_for_ready=*/true);
  if (context == nullptr) {
    Finish(ShutDown());
    return;
  }
  std::string id;
  {
    absl::MutexLock lock(&mu_);
    id = approval_id_;
  }
  (new DecisionReader(shared_from_this(), std::move(context), id))->Start();
}

void ApprovalCall::OnSubscribed() {
  absl::MutexLock lock(&mu_);
  failures_ = 0;
}

bool ApprovalCall::OnEvent(const v1::DecisionEvent& event) {
  const v1::Approval& approval = event.approval();
  std::optional<DecisionState> state = FinalState(approval.state());
  absl::MutexLock lock(&mu_);
  if (approval.id() != approval_id_ || !state) return false;
  if (absl::Status s =
          CheckDigest(absl::StrCat("decision on approval ", approval.id()),
                      expected_digest_, approval.action_digest());
      !s.ok()) {
    result_ = s;
    return true;
  }
  Decision decision;
  decision.approval_id = approval.id();
  decision.state = *state;
  decision.decided_by = approval.decided_by();
  decision.comment = approval.decision_comment();
  decision.action_digest = approval.action_digest();
  decision.cursor = event.cursor();
  if (approval.has_decide_time()) {
    decision.decide_time = FromProto(approval.decide_time());
  }
  decision.rule = approval.requirement().rule();
  if (*state == DecisionState::kApproved) {
    if (approval.approval_token().empty()) {
      result_ = absl::DataLossError(
          absl::StrCat("approval ", approval.id(),
                       " is APPROVED but carries no approval token; refused"));
      return true;
    }
    // Verified in OnStreamDone: the key may have to be fetched first.
    decision.approval_token = approval.approval_token();
  }
  result_ = std::move(decision);
  return true;
}

void ApprovalCall::OnStreamDone(const grpc::Status& status) {
  std::optional<absl::StatusOr<Decision>> result;
  {
    absl::MutexLock lock(&mu_);
    result = result_;
  }
  if (result) {
    if (result->ok() && (*result)->state == DecisionState::kApproved) {
      {
        absl::MutexLock lock(&mu_);
        unverified_ = **result;
      }
      VerifyApproved();
      return;
    }
    Finish(*std::move(result));
    return;
  }
  HandleFailure(status.ok() ? grpc::Status(grpc::StatusCode::UNAVAILABLE,
                                           "the decision stream ended")
                            : status,
                /*capped_by_deadline=*/true, "StreamDecisions",
                &ApprovalCall::Follow);
}

void ApprovalCall::VerifyApproved() {
  if (Aborted()) {
    Finish(ShutDown());
    return;
  }
  std::string pem = connection_->signing_key->Get();
  Decision decision;
  bool key_fetched;
  {
    absl::MutexLock lock(&mu_);
    decision = *unverified_;
    key_fetched = key_fetched_;
  }
  if (pem.empty()) {
    FetchSigningKey();
    return;
  }
  absl::StatusOr<Decision> verified = Verified(std::move(decision), pem);
  // A key kept from an earlier call goes stale when the broker's key
  // changes (a restart without signing_key_file): ask the broker once more.
  if (!verified.ok() && !connection_->signing_key->pinned() && !key_fetched) {
    FetchSigningKey();
    return;
  }
  Finish(std::move(verified));
}

void ApprovalCall::FetchSigningKey() {
  bool capped_by_deadline = false;
  std::shared_ptr<grpc::ClientContext> context =
      BeginUnaryAttempt(&capped_by_deadline);
  if (context == nullptr) return;
  auto request = std::make_shared<v1::GetSigningKeyRequest>();
  auto response = std::make_shared<v1::SigningKey>();
  connection_->stub->async()->GetSigningKey(
      context.get(), request.get(), response.get(),
      [self = shared_from_this(), context, request, response,
       capped_by_deadline](grpc::Status status) {
        self->OnSigningKey(status, *response, capped_by_deadline);
      });
}

void ApprovalCall::OnSigningKey(const grpc::Status& status,
                                const v1::SigningKey& key,
                                bool capped_by_deadline) {
  if (!status.ok()) {
    HandleFailure(status, capped_by_deadline, "GetSigningKey",
                  &ApprovalCall::VerifyApproved);
    return;
  }
  Decision decision;
  {
    absl::MutexLock lock(&mu_);
    decision = *unverified_;
    key_fetched_ = true;
    failures_ = 0;
  }
  absl::StatusOr<std::string> key_id = KeyIdOf(key.public_key_pem());
  if (!key_id.ok() || *key_id != key.key_id()) {
    Finish(absl::DataLossError(
        absl::StrCat("approval token of approval ", decision.approval_id,
                     " cannot be verified: the broker's signing key (key_id \"",
                     key.key_id(), "\") ",
                     key_id.ok() ? absl::StrCat("has key id ", *key_id)
                                 : std::string(key_id.status().message()),
                     "; refused")));
    return;
  }
  // The whole published key set when the broker sends one (a token signed
  // by a retired key still verifies during the overlap), else the one key.
  std::string keys =
      key.jwks_json().empty() ? key.public_key_pem() : key.jwks_json();
  connection_->signing_key->Put(keys);
  Finish(Verified(std::move(decision), keys));
}

absl::StatusOr<Decision> ApprovalCall::Verified(Decision decision,
                                                absl::string_view pem) {
  absl::StatusOr<ApprovedAction> approved =
      VerifyToken(decision.approval_token, pem, expected_digest_,
                  decision.approval_id, absl::Now());
  if (!approved.ok()) {
    return absl::DataLossError(absl::StrCat(
        "approval token of approval ", decision.approval_id,
        " does not verify: ", approved.status().message(), "; refused"));
  }
  decision.approvers = std::move(approved->approvers);
  decision.rule = std::move(approved->rule);
  return decision;
}

void ApprovalCall::HandleFailure(const grpc::Status& status,
                                 bool capped_by_deadline, absl::string_view rpc,
                                 Step retry) {
  if (Aborted()) {
    Finish(ShutDown());
    return;
  }
  bool deadline_hit =
      status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED &&
      capped_by_deadline;
  if (deadline_hit || absl::Now() >= deadline_) {
    OnDeadline();
    return;
  }
  if (!Retryable(status.error_code())) {
    Finish(absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                        absl::StrCat(rpc, ": ", status.error_message())));
    return;
  }
  {
    absl::MutexLock lock(&mu_);
    last_error_ = status;
  }
  RetryLater(retry);
}

void ApprovalCall::RetryLater(Step step) {
  auto alarm = std::make_shared<grpc::Alarm>();
  absl::Duration delay;
  {
    absl::MutexLock lock(&mu_);
    if (aborted_) {
      // Finish below, outside the lock.
      delay = absl::ZeroDuration();
      alarm = nullptr;
    } else {
      delay = connection_->backoff_initial *
              std::pow(kBackoffMultiplier, std::min(failures_, 30));
      delay *= absl::Uniform(bitgen_, 1 - kBackoffJitter, 1 + kBackoffJitter);
      delay = std::min(delay, connection_->backoff_max);
      ++failures_;
      alarm_ = alarm;
    }
  }
  if (alarm == nullptr) {
    Finish(ShutDown());
    return;
  }
  // A weak reference: the alarm belongs to this call, and the call's owner
  // keeps it alive until it finishes.
  std::weak_ptr<ApprovalCall> weak = weak_from_this();
  alarm->Set(absl::ToChronoTime(std::min(absl::Now() + delay, deadline_)),
             [weak, step](bool) {
               if (std::shared_ptr<ApprovalCall> self = weak.lock()) {
                 self->OnAlarm(step);
               }
             });
  // An Abort() between storing the alarm and setting it cancelled nothing.
  if (Aborted()) alarm->Cancel();
}

void ApprovalCall::OnAlarm(Step step) {
  if (Aborted()) {
    Finish(ShutDown());
    return;
  }
  if (absl::Now() >= deadline_) {
    OnDeadline();
    return;
  }
  (this->*step)();
}

void ApprovalCall::OnDeadline() {
  std::string id;
  grpc::Status last_error;
  bool approved;
  {
    absl::MutexLock lock(&mu_);
    id = approval_id_;
    last_error = last_error_;
    approved = unverified_.has_value();
  }
  if (approved) {
    // Nothing to cancel; without the key the approval cannot count.
    Finish(absl::DeadlineExceededError(absl::StrCat(
        "approval ", id,
        " was approved, but the broker's signing key to verify its token "
        "could not be fetched before the deadline",
        last_error.ok() ? ""
                        : absl::StrCat(" (last error: ",
                                       last_error.error_message(), ")"))));
    return;
  }
  std::string what = id.empty()
                         ? "the broker recorded no approval before the deadline"
                         : absl::StrCat("approval ", id,
                                        " was not decided before the deadline");
  if (!last_error.ok()) {
    absl::StrAppend(&what, " (last error: ", last_error.error_message(), ")");
  }
  if (id.empty() || !connection_->cancel_on_deadline) {
    Finish(absl::DeadlineExceededError(what));
    return;
  }
  std::shared_ptr<grpc::ClientContext> context =
      NewContext(absl::Now() + connection_->rpc_timeout,
                 /*wait_for_ready=*/false);
  if (context == nullptr) {
    Finish(ShutDown());
    return;
  }
  auto request = std::make_shared<v1::CancelApprovalRequest>();
  request->set_approval_id(id);
  request->set_reason("the requesting agent stopped waiting at its deadline");
  auto response = std::make_shared<v1::Approval>();
  connection_->stub->async()->CancelApproval(
      context.get(), request.get(), response.get(),
      [self = shared_from_this(), context, request, response,
       what = std::move(what)](grpc::Status status) {
        self->Finish(absl::DeadlineExceededError(
            status.ok() ? absl::StrCat(what, "; cancelled it")
                        : absl::StrCat(what, "; cancelling it failed: ",
                                       status.error_message())));
      });
}

void ApprovalCall::Finish(absl::StatusOr<Decision> result) {
  // The owner may drop its reference in on_finished_.
  std::shared_ptr<ApprovalCall> self = shared_from_this();
  {
    absl::MutexLock lock(&mu_);
    if (finished_) return;
    finished_ = true;
  }
  Done done = std::move(done_);
  done(std::move(result));
  on_finished_(this);
}

}  // namespace approval::client_internal
