// Client-supplied paging and time bounds that reach the store: the
// ListApprovals page_token (ListQuery::page_token, "<created_at_us>_<id>")
// and the ListAuditEvents bounds (AuditQuery after_seq / from / until, as
// BrokerService parses them), through MemoryStore, the store the contract
// tests hold PostgresStore to.
//
// Input: page size byte, then the page token (length-prefixed), then
// after_seq, from, until (microseconds) and the audit limit.
// Invariants: a refused token is INVALID_ARGUMENT naming page_token; an
// accepted page is newest first, no larger than the clamped page size, holds
// only approvals strictly older than the token's position, and its
// next_page_token leads to the approvals that follow it, without repeats;
// audit results are ascending, after after_seq, inside [from, until) and at
// most limit.
#include <fuzzer/FuzzedDataProvider.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "fuzz/fuzz_check.h"
#include "server/store/memory_store.h"

namespace {

constexpr int kApprovals = 9;

// A store with approvals created at distinct and at equal times (ties are
// broken by id), some of them decided, so that audit queries have variety.
approval::MemoryStore& TheStore() {
  static approval::MemoryStore* store = [] {
    static absl::Time now = absl::FromUnixSeconds(1700000000);
    auto* s = new approval::MemoryStore([] { return now; });
    for (int i = 0; i < kApprovals; ++i) {
      if (i % 3 != 0) now += absl::Microseconds(1500);
      approval::NewApproval a;
      a.action = "db.export";
      a.resource = "db://prod";
      a.parameters_preview = "{}";
      a.requester = i % 2 ? "agent-a" : "agent-b";
      a.action_digest = std::string(64, 'a');
      a.request_fingerprint = std::string(64, 'b');
      a.ttl = absl::Hours(1);
      a.requirement.rule = "default";
      absl::StatusOr<approval::CreateResult> r = s->Create(a);
      FUZZ_CHECK(r.ok(), "%s", r.status().ToString().c_str());
      if (i % 4 == 1) {
        approval::DecideInput d;
        d.approval_id = r->approval.id;
        d.actor = "carol";
        d.verdict =
            i % 8 == 1 ? approval::Verdict::kApprove : approval::Verdict::kDeny;
        FUZZ_CHECK(s->Decide(d).ok(), "decide");
      }
    }
    return s;
  }();
  return *store;
}

// True when `a` is strictly older than (us, id): the keyset order.
bool OlderThan(const approval::Approval& a, int64_t us, const std::string& id) {
  const int64_t a_us = absl::ToUnixMicros(a.created_at);
  return a_us != us ? a_us < us : a.id < id;
}

void CheckPage(const approval::ListQuery& q, const approval::ApprovalPage& page,
               int depth) {
  const size_t limit = static_cast<size_t>(std::clamp(q.page_size, 1, 500));
  FUZZ_CHECK(page.approvals.size() <= limit, "%zu approvals, page size %d",
             page.approvals.size(), q.page_size);
  for (size_t i = 1; i < page.approvals.size(); ++i) {
    const approval::Approval& prev = page.approvals[i - 1];
    FUZZ_CHECK(OlderThan(page.approvals[i], absl::ToUnixMicros(prev.created_at),
                         prev.id),
               "page not newest first");
  }
  if (!q.page_token.empty()) {
    std::pair<std::string, std::string> pos =
        absl::StrSplit(q.page_token, absl::MaxSplits('_', 1));
    int64_t us = 0;
    FUZZ_CHECK(absl::SimpleAtoi(pos.first, &us), "accepted page_token \"%s\"",
               q.page_token.c_str());
    for (const approval::Approval& a : page.approvals) {
      FUZZ_CHECK(OlderThan(a, us, pos.second),
                 "%s is not older than page_token \"%s\"", a.id.c_str(),
                 q.page_token.c_str());
    }
  }
  if (page.next_page_token.empty()) return;
  FUZZ_CHECK(page.approvals.size() == limit, "short page with a next token");
  FUZZ_CHECK(depth < kApprovals, "paging does not end");
  approval::ListQuery next = q;
  next.page_token = page.next_page_token;
  absl::StatusOr<approval::ApprovalPage> more = TheStore().List(next);
  FUZZ_CHECK(more.ok(), "its own next_page_token \"%s\" refused: %s",
             next.page_token.c_str(), more.status().ToString().c_str());
  std::set<std::string> seen;
  for (const auto& a : page.approvals) seen.insert(a.id);
  for (const auto& a : more->approvals) {
    FUZZ_CHECK(seen.count(a.id) == 0, "%s on two pages", a.id.c_str());
  }
  CheckPage(next, *more, depth + 1);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  approval::MemoryStore& store = TheStore();
  FuzzedDataProvider in(data, size);

  approval::ListQuery q;
  q.page_size = in.ConsumeIntegralInRange<int>(-2, 12);
  q.page_token = in.ConsumeRandomLengthString(128);
  absl::StatusOr<approval::ApprovalPage> page = store.List(q);
  if (!page.ok()) {
    FUZZ_CHECK(page.status().code() == absl::StatusCode::kInvalidArgument &&
                   absl::StrContains(page.status().message(), "page_token"),
               "%s", page.status().ToString().c_str());
  } else {
    CheckPage(q, *page, 0);
  }

  approval::AuditQuery aq;
  aq.after_seq = in.ConsumeIntegral<int64_t>();
  if (in.ConsumeBool()) {
    aq.from = absl::FromUnixMicros(in.ConsumeIntegral<int64_t>());
  }
  if (in.ConsumeBool()) {
    aq.until = absl::FromUnixMicros(in.ConsumeIntegral<int64_t>());
  }
  aq.limit = in.ConsumeIntegralInRange<int>(-1, 40);
  absl::StatusOr<std::vector<approval::AuditEvent>> events =
      store.QueryAudit(aq);
  FUZZ_CHECK(events.ok(), "%s", events.status().ToString().c_str());
  FUZZ_CHECK(static_cast<int64_t>(events->size()) <= std::max(aq.limit, 0),
             "%zu events, limit %d", events->size(), aq.limit);
  int64_t last = aq.after_seq;
  for (const approval::AuditEvent& e : *events) {
    FUZZ_CHECK(e.seq > last && e.seq > 0, "seq %lld after %lld",
               static_cast<long long>(e.seq), static_cast<long long>(last));
    last = e.seq;
    FUZZ_CHECK(!aq.from || e.occurred_at >= *aq.from, "event before from");
    FUZZ_CHECK(!aq.until || e.occurred_at < *aq.until, "event after until");
  }
  return 0;
}
