#include "server/service/catch_up_batcher.h"

#include <algorithm>
#include <unordered_map>
#include <utility>

#include "absl/strings/str_cat.h"

namespace approval {

CatchUpBatcher::CatchUpBatcher(ApprovalStore& store, Executor& executor,
                               int max_ids)
    : store_(store),
      executor_(executor),
      max_ids_(static_cast<size_t>(std::max(max_ids, 1))) {}

void CatchUpBatcher::Submit(Request request, Callback done) {
  {
    absl::MutexLock lock(&mu_);
    queue_.push_back(Pending{std::move(request), std::move(done)});
    if (draining_) return;  // the running Drain takes it
    draining_ = true;
  }
  executor_.Submit([this] { Drain(); });
}

void CatchUpBatcher::Drain() {
  for (;;) {
    std::vector<Pending> batch;
    {
      absl::MutexLock lock(&mu_);
      size_t ids = 0;
      while (!queue_.empty() &&
             (batch.empty() ||
              ids + queue_.front().request.approval_ids.size() <= max_ids_)) {
        ids += queue_.front().request.approval_ids.size();
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      if (batch.empty()) {
        draining_ = false;
        return;
      }
    }
    Answer(std::move(batch));
  }
}

void CatchUpBatcher::Answer(std::vector<Pending> batch) {
  EventQuery q;
  q.terminal_only = true;
  q.after_cursor = batch[0].request.after_cursor;
  q.up_to_cursor = batch[0].request.up_to_cursor;
  q.requester = batch[0].request.requester;
  std::unordered_map<std::string, const ApprovalEvent*> by_id;
  for (const Pending& p : batch) {
    q.after_cursor = std::min(q.after_cursor, p.request.after_cursor);
    q.up_to_cursor = std::max(q.up_to_cursor, p.request.up_to_cursor);
    // One requester for all: the store filters; else each request below.
    if (q.requester != p.request.requester) q.requester.reset();
    for (const std::string& id : p.request.approval_ids) {
      if (by_id.emplace(id, nullptr).second) q.approval_ids.push_back(id);
    }
  }
  // One terminal event per approval at most; one more reveals a second.
  q.limit = static_cast<int>(q.approval_ids.size()) + 1;
  absl::StatusOr<std::vector<ApprovalEvent>> events = store_.Events(q);
  if (events.ok()) {
    for (const ApprovalEvent& e : *events) {
      const ApprovalEvent*& slot = by_id[e.approval.id];
      if (slot != nullptr) {
        events = absl::DataLossError(absl::StrCat(
            "approval ", e.approval.id,
            " has two terminal events: ", slot->cursor, " and ", e.cursor));
        break;
      }
      slot = &e;
    }
  }
  for (Pending& p : batch) {
    if (!events.ok()) {
      p.done(events.status());
      continue;
    }
    std::vector<ApprovalEvent> own;
    for (const std::string& id : p.request.approval_ids) {
      auto it = by_id.find(id);
      if (it == by_id.end() || it->second == nullptr) continue;
      const ApprovalEvent& e = *it->second;
      if (e.cursor <= p.request.after_cursor ||
          e.cursor > p.request.up_to_cursor) {
        continue;
      }
      if (p.request.requester && e.approval.requester != *p.request.requester) {
        continue;
      }
      own.push_back(e);
    }
    std::sort(own.begin(), own.end(),
              [](const ApprovalEvent& a, const ApprovalEvent& b) {
                return a.cursor < b.cursor;
              });
    // A stream following the same id twice gets it once.
    own.erase(std::unique(own.begin(), own.end(),
                          [](const ApprovalEvent& a, const ApprovalEvent& b) {
                            return a.cursor == b.cursor;
                          }),
              own.end());
    p.done(std::move(own));
  }
}

}  // namespace approval
