#include "client_lib/approval_call.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

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
                           std::function<void(const ApprovalCall*)> on_finished)
    : connection_(std::move(connection)),
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

void ApprovalCall::Submit() {
  absl::Time now = absl::Now();
  if (now >= deadline_) {
    OnDeadline();
    return;
  }
  absl::Time attempt_deadline =
      std::min(deadline_, now + connection_->rpc_timeout);
  bool capped_by_deadline = attempt_deadline == deadline_;
  std::shared_ptr<grpc::ClientContext> context =
      NewContext(attempt_deadline, /*wait_for_ready=*/false);
  if (context == nullptr) {
    Finish(ShutDown());
    return;
  }
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
    Finish(*std::move(result));
    return;
  }
  HandleFailure(status.ok() ? grpc::Status(grpc::StatusCode::UNAVAILABLE,
                                           "the decision stream ended")
                            : status,
                /*capped_by_deadline=*/true, "StreamDecisions",
                &ApprovalCall::Follow);
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
  {
    absl::MutexLock lock(&mu_);
    id = approval_id_;
    last_error = last_error_;
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
