// approvalctl: the reviewer's and operator's command line for the Approval
// Broker. `approvalctl --help` lists the commands, flags and exit codes.
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "tools/approvalctl/broker_client.h"
#include "tools/approvalctl/completion.h"
#include "tools/approvalctl/exit_codes.h"
#include "tools/approvalctl/options.h"
#include "tools/approvalctl/render.h"
#include "wire/approval_token.h"

namespace approval::ctl {
namespace {

std::string Env(absl::string_view name) {
  const char* value = std::getenv(std::string(name).c_str());
  return value == nullptr ? "" : value;
}

int TerminalWidth() {
  winsize ws{};
  if (isatty(STDOUT_FILENO) && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 &&
      ws.ws_col > 0) {
    return ws.ws_col;
  }
  int columns = 0;
  if (absl::SimpleAtoi(Env("COLUMNS"), &columns) && columns > 0) {
    return columns;
  }
  return 120;
}

absl::Status PrintJson(const google::protobuf::Message& m) {
  absl::StatusOr<std::string> json = ToJson(m);
  if (!json.ok()) return json.status();
  std::cout << *json << std::endl;
  return absl::OkStatus();
}

// The broker's own words for what went wrong, plus what to check on this
// side for the failures that are about the connection.
std::string Explain(const absl::Status& s, const ConnectionOptions& c) {
  switch (s.code()) {
    case absl::StatusCode::kUnauthenticated:
      return absl::StrCat(
          "not authenticated by the broker at ", c.address, ": ", s.message(),
          " (set APPROVAL_BROKER_TOKEN or --token, or --cert and --key)");
    case absl::StatusCode::kUnavailable:
      return absl::StrCat("broker at ", c.address,
                          " unavailable: ", s.message(),
                          " (is it running? check --addr / "
                          "APPROVAL_BROKER_ADDR; otherwise retry later)");
    case absl::StatusCode::kDeadlineExceeded:
      return absl::StrCat("no answer from the broker at ", c.address,
                          " within ", absl::FormatDuration(c.timeout),
                          " (--timeout)");
    default:
      return std::string(s.message());
  }
}

absl::Status PrintYaml(const google::protobuf::Message& m) {
  absl::StatusOr<std::string> yaml = ToYaml(m);
  if (!yaml.ok()) return yaml.status();
  std::cout << *yaml << std::flush;
  return absl::OkStatus();
}

absl::Time TimeOf(const google::protobuf::Timestamp& t) {
  return absl::FromUnixSeconds(t.seconds()) + absl::Nanoseconds(t.nanos());
}

// pending, ls, history: pages of ListApprovals (--state goes to the broker),
// filtered here by --since, --requester and (history) final states. Each
// page asks for no more than --limit still needs, so a page is never cut
// short and its next_page_token resumes exactly after what was printed.
// The approvals `inv` lists, with the token that resumes after them.
absl::StatusOr<v1::ListApprovalsResponse> ListPages(BrokerClient& client,
                                                    const Invocation& inv,
                                                    absl::Time now) {
  const absl::Time since =
      inv.since_ago > absl::ZeroDuration() ? now - inv.since_ago : inv.since;
  const bool pending = inv.command == Command::kPending;
  const bool drop_pending = inv.command == Command::kHistory &&
                            inv.list_state == v1::STATE_UNSPECIFIED;
  v1::ListApprovalsRequest request;
  request.set_state(pending ? v1::PENDING : inv.list_state);
  request.set_page_token(inv.page_token);
  constexpr int kMaxPage = 500;
  v1::ListApprovalsResponse listed;
  std::string next;
  while (true) {
    request.set_page_size(
        inv.limit == 0
            ? kMaxPage
            : std::min(kMaxPage, inv.limit - listed.approvals_size()));
    absl::StatusOr<v1::ListApprovalsResponse> page =
        client.ListApprovals(request);
    if (!page.ok()) return page.status();
    bool older = false;
    for (v1::Approval& a : *page->mutable_approvals()) {
      // Newest first: once one is older than --since, all the rest are.
      if (TimeOf(a.create_time()) < since) {
        older = true;
        break;
      }
      if (drop_pending && a.state() == v1::PENDING) continue;
      if (!inv.requester.empty() && a.requester() != inv.requester) continue;
      *listed.add_approvals() = std::move(a);
    }
    next = older ? "" : page->next_page_token();
    if (next.empty()) break;
    if (inv.limit > 0 && listed.approvals_size() >= inv.limit) break;
    request.set_page_token(next);
  }
  listed.set_next_page_token(next);
  return listed;
}

absl::StatusOr<ExitCode> RunList(BrokerClient& client, const Invocation& inv) {
  const absl::Time now = absl::Now();
  const bool pending = inv.command == Command::kPending;
  absl::StatusOr<v1::ListApprovalsResponse> listed =
      ListPages(client, inv, now);
  if (!listed.ok()) return listed.status();
  const std::string& next = listed->next_page_token();
  switch (inv.output) {
    case OutputFormat::kJson:
      if (absl::Status s = PrintJson(*listed); !s.ok()) return s;
      return ExitCode::kOk;
    case OutputFormat::kYaml:
      if (absl::Status s = PrintYaml(*listed); !s.ok()) return s;
      return ExitCode::kOk;
    case OutputFormat::kText:
    case OutputFormat::kWide:
    case OutputFormat::kJwks:  // signing-key only (options.cc)
      break;
  }
  TableOptions table;
  table.state = !pending;
  table.wide = inv.output == OutputFormat::kWide;
  if (pending) table.empty_text = "no pending approvals";
  std::cout << ApprovalTable(
                   std::vector<v1::Approval>(listed->approvals().begin(),
                                             listed->approvals().end()),
                   now, TerminalWidth(), table)
            << std::flush;
  if (!next.empty()) {
    std::cerr << "more approvals: add --page-token " << next
              << " (same filters) for the next page" << std::endl;
  }
  return ExitCode::kOk;
}

// webhooks: pages of ListWebhookDeliveries (--endpoint and --status go to
// the broker) until --limit deliveries; each page asks for no more than
// --limit still needs, so the next_page_token resumes exactly after what
// was printed.
absl::StatusOr<ExitCode> RunWebhooks(BrokerClient& client,
                                     const Invocation& inv) {
  v1::ListWebhookDeliveriesRequest request;
  request.set_endpoint(inv.webhook_endpoint);
  request.set_status(inv.webhook_status);
  request.set_page_token(inv.page_token);
  constexpr int kMaxPage = 500;
  v1::ListWebhookDeliveriesResponse listed;
  std::string next;
  while (true) {
    request.set_page_size(
        inv.limit == 0
            ? kMaxPage
            : std::min(kMaxPage, inv.limit - listed.deliveries_size()));
    absl::StatusOr<v1::ListWebhookDeliveriesResponse> page =
        client.ListWebhookDeliveries(request);
    if (!page.ok()) return page.status();
    for (v1::WebhookDelivery& d : *page->mutable_deliveries()) {
      *listed.add_deliveries() = std::move(d);
    }
    next = page->next_page_token();
    if (next.empty()) break;
    if (inv.limit > 0 && listed.deliveries_size() >= inv.limit) break;
    request.set_page_token(next);
  }
  listed.set_next_page_token(next);
  switch (inv.output) {
    case OutputFormat::kJson:
      if (absl::Status s = PrintJson(listed); !s.ok()) return s;
      return ExitCode::kOk;
    case OutputFormat::kYaml:
      if (absl::Status s = PrintYaml(listed); !s.ok()) return s;
      return ExitCode::kOk;
    case OutputFormat::kText:
    case OutputFormat::kWide:
    case OutputFormat::kJwks:  // signing-key only (options.cc)
      break;
  }
  std::cout << WebhookDeliveryTable(
                   std::vector<v1::WebhookDelivery>(listed.deliveries().begin(),
                                                    listed.deliveries().end()),
                   absl::Now(), TerminalWidth(),
                   inv.output == OutputFormat::kWide)
            << std::flush;
  if (!next.empty()) {
    std::cerr << "more deliveries: add --page-token " << next
              << " (same filters) for the next page" << std::endl;
  }
  return ExitCode::kOk;
}

absl::StatusOr<ExitCode> RunShow(BrokerClient& client, const Invocation& inv) {
  absl::StatusOr<v1::Approval> a = client.Get(inv.approval_ids[0]);
  if (!a.ok()) return a.status();
  if (inv.output == OutputFormat::kJson) {
    if (absl::Status s = PrintJson(*a); !s.ok()) return s;
  } else if (inv.output == OutputFormat::kYaml) {
    if (absl::Status s = PrintYaml(*a); !s.ok()) return s;
  } else {
    std::cout << ApprovalDetails(*a, absl::Now());  // text and wide
  }
  return ExitCode::kOk;
}

absl::StatusOr<ExitCode> RunDecide(BrokerClient& client, const Invocation& inv,
                                   v1::Verdict verdict) {
  const std::string& id = inv.approval_ids[0];
  const char* verb = verdict == v1::APPROVE ? "approve" : "deny";
  absl::StatusOr<v1::Approval> a = client.Decide(id, verdict, inv.message);
  if (!a.ok()) {
    const absl::Status& s = a.status();
    if (s.code() == absl::StatusCode::kPermissionDenied &&
        absl::StrContains(s.message(), "self-approval refused")) {
      // The broker words it for logs; say it to the person who tried.
      const char* why = absl::StrContains(s.message(), "on their behalf")
                            ? "an agent requested this approval on your behalf"
                            : "you requested this approval";
      return absl::PermissionDeniedError(
          absl::StrCat("cannot ", verb, " ", id, ": ", why,
                       "; another reviewer must decide"));
    }
    if (s.code() == absl::StatusCode::kFailedPrecondition ||
        s.code() == absl::StatusCode::kAlreadyExists) {
      return absl::Status(s.code(),
                          absl::StrCat("cannot ", verb, ": ", s.message()));
    }
    return s;
  }
  if (inv.output == OutputFormat::kJson) {
    if (absl::Status s = PrintJson(*a); !s.ok()) return s;
  } else if (a->state() == v1::PENDING) {
    // A review short of the quorum, or a deny where deny_ends is off.
    std::cout << "your " << verb << " of " << Printable(a->id())
              << " is recorded: " << Printable(a->action()) << " on "
              << Printable(a->resource()) << " (requested by "
              << Printable(a->requester()) << ") is still PENDING, "
              << a->approvals_missing() << " more approval"
              << (a->approvals_missing() == 1 ? "" : "s") << " needed"
              << std::endl;
  } else {
    std::cout << (a->state() == v1::APPROVED ? "approved " : "denied ")
              << Printable(a->id()) << ": " << Printable(a->action()) << " on "
              << Printable(a->resource()) << " (requested by "
              << Printable(a->requester()) << ")" << std::endl;
  }
  return ExitCode::kOk;
}

absl::StatusOr<ExitCode> RunWatch(BrokerClient& client, const Invocation& inv) {
  v1::StreamDecisionsRequest request;
  for (const std::string& id : inv.approval_ids) request.add_approval_ids(id);
  request.set_after_cursor(inv.after_cursor);
  bool all_approved = true;
  absl::Status print_error;
  auto on_ready = [&inv] {
    std::cerr << "watching "
              << (inv.approval_ids.empty()
                      ? std::string("every approval you may see")
                      : absl::StrCat(inv.approval_ids.size(),
                                     " approval(s) until each is final"))
              << "; Ctrl-C to stop" << std::endl;
  };
  auto on_event = [&](const v1::DecisionEvent& e) {
    if (e.approval().state() != v1::APPROVED) all_approved = false;
    if (inv.output == OutputFormat::kJson) {
      print_error = PrintJson(e);
      return print_error.ok();
    }
    std::cout << EventLine(e) << std::endl;
    return true;
  };
  absl::Status s = client.Watch(request, on_ready, on_event);
  if (!s.ok()) return s;
  if (!print_error.ok()) return print_error;
  // Following ids, the broker sends only their final events and ends the
  // stream once each has had its own.
  if (!inv.approval_ids.empty() && !all_approved) return ExitCode::kNotApproved;
  return ExitCode::kOk;
}

absl::StatusOr<ExitCode> RunAuditVerify(BrokerClient& client,
                                        const Invocation& inv) {
  v1::VerifyAuditLogRequest req;
  req.set_expected_head_seq(inv.expect_head_seq);
  req.set_expected_head_hash(inv.expect_head_hash);
  absl::StatusOr<v1::VerifyAuditLogResponse> r = client.VerifyAuditLog(req);
  if (!r.ok()) return r.status();
  if (inv.output == OutputFormat::kJson) {
    if (absl::Status s = PrintJson(*r); !s.ok()) return s;
  } else if (r->verified()) {
    std::cout << "audit chain OK: " << r->events_verified()
              << " events verified, " << r->approvals_checked()
              << " approvals match the chain\n"
              << "head: " << r->head_seq() << ":" << r->head_hash()
              << " (record it; pass it as --expect-head next time)"
              << std::endl;
  } else {
    std::cout << "audit chain BROKEN: " << Printable(r->problem()) << "\n";
    for (int i = 1; i < r->problems_size(); ++i) {
      std::cout << "  " << Printable(r->problems(i)) << "\n";
    }
    std::cout << std::flush;
  }
  return r->verified() ? ExitCode::kOk : ExitCode::kAuditBroken;
}

void SetTime(absl::Time t, google::protobuf::Timestamp* out) {
  const int64_t seconds = absl::ToUnixSeconds(t);
  out->set_seconds(seconds);
  out->set_nanos(static_cast<int32_t>(
      absl::ToInt64Nanoseconds(t - absl::FromUnixSeconds(seconds))));
}

absl::StatusOr<ExitCode> RunAuditExport(BrokerClient& client,
                                        const Invocation& inv) {
  v1::ListAuditEventsRequest request;
  request.set_approval_id(inv.audit_approval_id);
  request.set_actor(inv.audit_actor);
  if (inv.since != absl::InfinitePast()) {
    SetTime(inv.since, request.mutable_start_time());
  }
  if (inv.until != absl::InfiniteFuture()) {
    SetTime(inv.until, request.mutable_end_time());
  }
  request.set_page_size(1000);
  absl::Status s = client.ForEachAuditEvent(
      request, [](const v1::AuditEvent& e) -> absl::Status {
        absl::StatusOr<std::string> json = ToJson(e);
        if (!json.ok()) return json.status();
        std::cout << *json << '\n';
        return absl::OkStatus();
      });
  std::cout.flush();
  if (!s.ok()) return s;
  return ExitCode::kOk;
}

absl::StatusOr<ExitCode> RunSigningKey(BrokerClient& client,
                                       const Invocation& inv) {
  absl::StatusOr<v1::SigningKey> key = client.GetSigningKey();
  if (!key.ok()) return key.status();
  if (inv.output == OutputFormat::kJson) {
    if (absl::Status s = PrintJson(*key); !s.ok()) return s;
  } else if (inv.output == OutputFormat::kJwks) {
    if (key->jwks_json().empty()) {
      return absl::FailedPreconditionError(
          "this broker publishes no key set (jwks_json); use its PEM key");
    }
    std::cout << key->jwks_json() << std::endl;
  } else {
    std::cout << SigningKeyText(*key) << std::flush;
  }
  return ExitCode::kOk;
}

// Offline: no broker is asked anything.
absl::StatusOr<ExitCode> RunTokenVerify(const Invocation& inv) {
  std::ifstream in(inv.public_key_file, std::ios::binary);
  if (!in) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--key ", inv.public_key_file, ": cannot read the public key file"));
  }
  std::stringstream text;
  text << in.rdbuf();
  absl::StatusOr<ApprovalKeySet> keys = ParseApprovalKeys(text.str());
  if (!keys.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--key ", inv.public_key_file, ": ", keys.status().message()));
  }
  absl::StatusOr<ApprovalClaims> claims = VerifyApprovalToken(inv.token, *keys);
  if (!claims.ok()) {
    std::cerr << "approvalctl: token does not verify: "
              << Printable(claims.status().message()) << std::endl;
    return ExitCode::kTokenInvalid;
  }
  absl::Time now = absl::Now();
  if (inv.output == OutputFormat::kJson) {
    std::cout << ClaimsJson(*claims) << std::endl;
  } else {
    std::cout << ClaimsText(*claims, now) << std::flush;
  }
  if (now < claims->not_before || now >= claims->not_after) {
    std::cerr << "approvalctl: the token verifies, but its execution window "
              << "is not open now" << std::endl;
    return ExitCode::kTokenInvalid;
  }
  return ExitCode::kOk;
}

absl::StatusOr<ExitCode> Run(BrokerClient& client, const Invocation& inv) {
  switch (inv.command) {
    case Command::kPending:
    case Command::kList:
    case Command::kHistory:
      return RunList(client, inv);
    case Command::kShow:
      return RunShow(client, inv);
    case Command::kApprove:
      return RunDecide(client, inv, v1::APPROVE);
    case Command::kDeny:
      return RunDecide(client, inv, v1::DENY);
    case Command::kWatch:
      return RunWatch(client, inv);
    case Command::kAuditVerify:
      return RunAuditVerify(client, inv);
    case Command::kAuditExport:
      return RunAuditExport(client, inv);
    case Command::kSigningKey:
      return RunSigningKey(client, inv);
    case Command::kTokenVerify:
      return RunTokenVerify(inv);
    case Command::kWebhooks:
      return RunWebhooks(client, inv);
    case Command::kHelp:
    case Command::kVersion:
    case Command::kCompletion:
      break;  // handled in Main: no broker
  }
  std::cout << UsageText();
  return ExitCode::kOk;
}

int Main(int argc, char** argv) {
  absl::StatusOr<Invocation> inv =
      ParseCommandLine(std::vector<std::string>(argv + 1, argv + argc), Env);
  if (!inv.ok()) {
    std::cerr << "approvalctl: " << inv.status().message()
              << "\nRun 'approvalctl --help' for usage." << std::endl;
    return static_cast<int>(ExitCode::kUsage);
  }
  if (inv->command == Command::kHelp) {
    std::cout << UsageText();
    return static_cast<int>(ExitCode::kOk);
  }
  if (inv->command == Command::kVersion) {
    std::cout << "approvalctl " << APPROVAL_VERSION << std::endl;
    return static_cast<int>(ExitCode::kOk);
  }
  if (inv->command == Command::kCompletion) {
    std::cout << CompletionScript(inv->shell) << std::flush;
    return static_cast<int>(ExitCode::kOk);
  }
  absl::StatusOr<ExitCode> result = [&]() -> absl::StatusOr<ExitCode> {
    if (inv->command == Command::kTokenVerify) return RunTokenVerify(*inv);
    absl::StatusOr<std::unique_ptr<BrokerClient>> client =
        BrokerClient::Create(inv->connection);
    if (!client.ok()) return client.status();
    return Run(**client, *inv);
  }();
  if (!result.ok()) {
    std::cerr << "approvalctl: " << Explain(result.status(), inv->connection)
              << std::endl;
    return static_cast<int>(ExitCodeFor(result.status()));
  }
  return static_cast<int>(*result);
}

}  // namespace
}  // namespace approval::ctl

int main(int argc, char** argv) { return approval::ctl::Main(argc, argv); }
