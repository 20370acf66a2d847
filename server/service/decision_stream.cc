#include "server/service/decision_stream.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "server/service/convert.h"

namespace approval {
namespace {
constexpr int kCatchUpPage = 500;
}  // namespace

DecisionStream::DecisionStream(grpc::CallbackServerContext* ctx,
                               ApprovalStore& store, EventHub& hub,
                               Executor& executor, BrokerMetrics& metrics,
                               Params params)
    : ctx_(ctx),
      store_(store),
      hub_(hub),
      executor_(executor),
      metrics_(metrics),
      params_(std::move(params)) {}

void DecisionStream::Authorized(
    absl::StatusOr<std::optional<std::string>> requester) {
  if (!requester.ok()) {
    {
      absl::MutexLock lock(&mu_);
      authorized_ = true;
      FinishLater(ToGrpcStatus(requester.status()));
    }
    Pump();  // finishes without ever subscribing
    return;
  }
  // Nothing reads the filter before Start subscribes.
  params_.filter.requester = *std::move(requester);
  Start();
}

void DecisionStream::Start() {
  // Subscribe before reading the backlog, so nothing committed in between
  // is missed: the hub delivers everything after `start`, the catch-up
  // reads everything up to it. Counted open once subscribed, so a stream
  // the gauge shows receives every later event.
  int64_t start = hub_.Subscribe(this, params_.filter);
  metrics_.StreamOpened();
  {
    absl::MutexLock lock(&mu_);
    // From here on Pump may write or finish (a cancel that came during the
    // authentication finishes the stream at once).
    authorized_ = true;
    started_ = true;
    hub_start_ = start;
    unfinished_ids_.insert(params_.filter.approval_ids.begin(),
                           params_.filter.approval_ids.end());
    last_sent_ = params_.after_cursor;
    catchup_pos_ = params_.after_cursor;
    // Without a cursor and without ids there is nothing to catch up on: a
    // "follow everything" stream starts live.
    catchup_done_ =
        params_.after_cursor == 0 && params_.filter.approval_ids.empty();
  }
  // Headers go out now, not with the first event, so a client knows its
  // subscription is in place even while nothing happens.
  StartSendInitialMetadata();
  Pump();
}

void DecisionStream::OnEvent(const EventPtr& event) {
  if (!Wants(*event)) return;
  {
    absl::MutexLock lock(&mu_);
    if (finished_ || done_ || pending_finish_) return;
    live_.push_back(event);
    metrics_.StreamEventsQueued(1);
    if (static_cast<int>(live_.size() + catchup_.size()) >
        params_.max_backlog) {
      Overflow();
    }
  }
  Pump();
}

bool DecisionStream::Wants(const ApprovalEvent& e) const {
  if (!FollowsIds()) return true;
  if (IsProgressEvent(e.type)) return params_.include_progress;
  const std::optional<State> after = StateAfter(e.type);
  return after.has_value() && IsTerminal(*after);
}

void DecisionStream::Overflow() {
  ClearQueues();
  FinishLater(ToGrpcStatus(absl::ResourceExhaustedError(
      absl::StrCat("stream fell more than ", params_.max_backlog,
                   " events behind; resume with after_cursor=", last_sent_))));
  metrics_.RecordStreamOverflow();
  // The status goes out behind the write in flight, which a client that
  // stopped reading never takes: past the grace, cancel the call.
  cancel_target_ = std::make_shared<CancelTarget>();
  {
    absl::MutexLock target_lock(&cancel_target_->mu);
    cancel_target_->ctx = ctx_;
  }
  grace_alarm_ = std::make_unique<grpc::Alarm>();
  grace_alarm_->Set(absl::ToChronoTime(absl::Now() + params_.overflow_grace),
                    [target = cancel_target_, metrics = &metrics_](bool fired) {
                      // Not fired: the stream ended first and its alarm was
                      // destroyed.
                      if (fired) CancelNow(target, metrics);
                    });
}

void DecisionStream::CancelNow(const std::shared_ptr<CancelTarget>& target,
                               BrokerMetrics* metrics) {
  grpc::CallbackServerContext* ctx;
  {
    absl::MutexLock lock(&target->mu);
    ctx = target->ctx;
    if (ctx == nullptr) return;  // OnDone ran: the metrics may be gone too
    target->cancelling = true;
    target->canceller = std::this_thread::get_id();
    metrics->RecordStreamOverflowCancelled();
  }
  ctx->TryCancel();
  absl::MutexLock lock(&target->mu);
  target->cancelling = false;
}

void DecisionStream::ClearQueues() {
  const size_t queued = live_.size() + catchup_.size();
  // Swapped out, not cleared: a deque keeps blocks a clear leaves behind.
  std::deque<EventPtr>().swap(live_);
  std::deque<EventPtr>().swap(catchup_);
  if (queued > 0) metrics_.StreamEventsQueued(-static_cast<double>(queued));
}

void DecisionStream::OnWriteDone(bool ok) {
  {
    absl::MutexLock lock(&mu_);
    writing_ = false;
    if (!ok) {
      FinishLater(ToGrpcStatus(
          absl::UnavailableError("write failed: the client went away")));
    } else if (FollowsIds() && current_.type() != v1::EVENT_REVIEWED &&
               current_.type() != v1::EVENT_ESCALATED) {
      // Only terminal events (and, with include_progress, reviews and
      // escalations) reach an id-following stream, and a terminal state
      // never changes: once every id has one, nothing more can come.
      unfinished_ids_.erase(current_.approval().id());
      if (unfinished_ids_.empty()) FinishLater(grpc::Status::OK);
    }
  }
  Pump();
}

void DecisionStream::OnCancel() {
  {
    absl::MutexLock lock(&mu_);
    FinishLater(grpc::Status::CANCELLED);
  }
  Pump();
}

void DecisionStream::OnDone() {
  bool started;
  {
    absl::MutexLock lock(&mu_);
    started = started_;
  }
  if (started) {
    hub_.Unsubscribe(this);
    metrics_.StreamClosed();
  }
  std::shared_ptr<CancelTarget> target;
  bool delete_now;
  {
    absl::MutexLock lock(&mu_);
    ClearQueues();
    target = cancel_target_;
    done_ = true;
    delete_now = !loading_;  // else OnPageLoaded deletes it
  }
  if (target != nullptr) {
    absl::MutexLock lock(&target->mu);
    target->ctx = nullptr;
    struct Waiter {
      CancelTarget* target;
      std::thread::id self;
    } waiter{target.get(), std::this_thread::get_id()};
    target->mu.Await(absl::Condition(
        +[](Waiter* w) ABSL_NO_THREAD_SAFETY_ANALYSIS {
          return !w->target->cancelling || w->target->canceller == w->self;
        },
        &waiter));
  }
  if (delete_now) delete this;
}

void DecisionStream::FinishLater(grpc::Status status) {
  if (!finished_ && !pending_finish_) pending_finish_ = std::move(status);
}

void DecisionStream::Pump() {
  enum class Next { kNothing, kWrite, kFinish, kLoad } next = Next::kNothing;
  grpc::Status finish_status;
  {
    absl::MutexLock lock(&mu_);
    // Nothing, not even a finish, before Authorized: the authentication
    // still uses the call's context.
    if (finished_ || writing_ || done_ || !authorized_) return;
    if (pending_finish_) {
      finished_ = true;
      finish_status = *pending_finish_;
      next = Next::kFinish;
    } else {
      EventPtr event;
      while (event == nullptr) {
        std::deque<EventPtr>* queue = !catchup_.empty() ? &catchup_
                                      : catchup_done_   ? &live_
                                                        : nullptr;
        if (queue == nullptr || queue->empty()) break;
        EventPtr candidate = std::move(queue->front());
        queue->pop_front();
        metrics_.StreamEventsQueued(-1);
        // Cursors only go up; a resume cursor ahead of the hub filters here.
        if (candidate->cursor > last_sent_) event = std::move(candidate);
      }
      if (event != nullptr) {
        current_.Clear();
        if (absl::Status s = ToProto(*event, params_.issuer, &current_);
            !s.ok()) {
          // An approval the audit chain does not prove is never sent as
          // approved; the stream ends instead, naming it.
          finished_ = true;
          finish_status = ToGrpcStatus(s);
          next = Next::kFinish;
        } else {
          last_sent_ = event->cursor;
          writing_ = true;
          next = Next::kWrite;
        }
      } else if (!catchup_done_ && !loading_) {
        loading_ = true;
        next = Next::kLoad;
      }
    }
  }
  switch (next) {
    case Next::kWrite:
      StartWrite(&current_);
      break;
    case Next::kFinish:
      Finish(finish_status);
      break;
    case Next::kLoad:
      // The batcher reads terminal events only: a stream that asked for
      // progress reads its own pages.
      if (params_.catch_up != nullptr && FollowsIds() &&
          !params_.include_progress) {
        SubmitCatchUp();
      } else {
        executor_.Submit([this] { LoadPage(); });
      }
      break;
    case Next::kNothing:
      break;
  }
}

void DecisionStream::LoadPage() {
  EventQuery q;
  {
    absl::MutexLock lock(&mu_);
    q.after_cursor = catchup_pos_;
    q.up_to_cursor = hub_start_;
  }
  q.approval_ids = params_.filter.approval_ids;
  q.requester = params_.filter.requester;
  // Without a resume cursor, a stream following everything has nothing to
  // catch up on (see Start); one following ids is owed the terminal events
  // of those already decided, and with a cursor, those after it.
  q.terminal_only = FollowsIds();
  q.include_reviewed = !FollowsIds() || params_.include_progress;
  q.limit = kCatchUpPage;
  absl::StatusOr<std::vector<ApprovalEvent>> page = store_.Events(q);
  const bool complete =
      page.ok() && static_cast<int>(page->size()) < kCatchUpPage;
  OnPageLoaded(std::move(page), complete);
}

void DecisionStream::SubmitCatchUp() {
  CatchUpBatcher::Request r;
  {
    absl::MutexLock lock(&mu_);
    r.after_cursor = catchup_pos_;
    r.up_to_cursor = hub_start_;
  }
  r.approval_ids = params_.filter.approval_ids;
  r.requester = params_.filter.requester;
  // The whole catch-up in one answer: at most one terminal event per id.
  params_.catch_up->Submit(
      std::move(r), [this](absl::StatusOr<std::vector<ApprovalEvent>> page) {
        OnPageLoaded(std::move(page), /*complete=*/true);
      });
}

void DecisionStream::OnPageLoaded(
    absl::StatusOr<std::vector<ApprovalEvent>> page, bool complete) {
  bool delete_now = false;
  {
    absl::MutexLock lock(&mu_);
    loading_ = false;
    if (done_) {
      delete_now = true;
    } else if (finished_ || pending_finish_) {
      // Ending (e.g. fell behind while this page loaded): queue nothing.
    } else if (!page.ok()) {
      // The store's own code: UNAVAILABLE is worth a retry from
      // last_sent_, DATA_LOSS (a corrupt row) is not.
      FinishLater(ToGrpcStatus(absl::Status(
          page.status().code(),
          absl::StrCat("reading past events failed: ", page.status().message(),
                       "; resume with after_cursor=", last_sent_))));
    } else {
      for (ApprovalEvent& e : *page) {
        catchup_pos_ = e.cursor;
        catchup_.push_back(std::make_shared<const ApprovalEvent>(std::move(e)));
      }
      metrics_.StreamEventsQueued(static_cast<double>(page->size()));
      if (complete) catchup_done_ = true;
    }
  }
  if (delete_now) {
    delete this;
    return;
  }
  Pump();
}

}  // namespace approval
