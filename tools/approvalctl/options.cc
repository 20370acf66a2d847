#include "tools/approvalctl/options.h"

#include <algorithm>
#include <map>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "tools/approvalctl/exit_codes.h"

namespace approval::ctl {
namespace {

struct FlagSpec {
  const char* name;   // canonical long form
  const char* alias;  // short form, or nullptr
};

constexpr FlagSpec kFlags[] = {
    {"--addr", nullptr},     {"--token", nullptr},
    {"--ca", nullptr},       {"--cert", nullptr},
    {"--key", nullptr},      {"--timeout", nullptr},
    {"--output", "-o"},      {"--message", "-m"},
    {"--after", nullptr},    {"--approval", nullptr},
    {"--actor", nullptr},    {"--since", nullptr},
    {"--until", nullptr},    {"--expect-head", nullptr},
    {"--state", nullptr},    {"--requester", nullptr},
    {"--limit", nullptr},    {"--page-token", nullptr},
    {"--endpoint", nullptr}, {"--status", nullptr},
};

// " (did you mean 'X'?)" for the closest of `candidates`, or "".
std::string DidYouMean(absl::string_view typed,
                       const std::vector<std::string>& candidates,
                       absl::string_view prefix = "") {
  std::string best = ClosestMatch(typed, candidates);
  if (best.empty()) return "";
  return absl::StrCat("; did you mean '", prefix, best, "'?");
}

std::vector<std::string> FlagNames() {
  std::vector<std::string> names = {"--help", "--version"};
  for (const FlagSpec& f : kFlags) names.push_back(f.name);
  return names;
}

const char* CanonicalFlag(absl::string_view arg) {
  for (const FlagSpec& f : kFlags) {
    if (arg == f.name || (f.alias != nullptr && arg == f.alias)) return f.name;
  }
  return nullptr;
}

absl::Status Usage(absl::string_view message) {
  return absl::InvalidArgumentError(message);
}

// A token travels in an HTTP/2 header: printable ASCII without spaces.
bool IsHeaderSafe(absl::string_view token) {
  for (unsigned char c : token) {
    if (c <= 0x20 || c >= 0x7f) return false;
  }
  return true;
}

struct ParsedArgs {
  std::vector<std::string> positional;
  std::map<std::string, std::string> flags;  // canonical name -> last value
  bool help = false;
  bool version = false;
};

absl::StatusOr<ParsedArgs> Split(const std::vector<std::string>& args) {
  ParsedArgs out;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--") {
      out.positional.insert(out.positional.end(), args.begin() + i + 1,
                            args.end());
      break;
    }
    if (arg == "-h" || arg == "--help") {
      out.help = true;
      continue;
    }
    if (arg == "--version") {
      out.version = true;
      continue;
    }
    if (arg.size() < 2 || arg[0] != '-') {
      out.positional.push_back(arg);
      continue;
    }
    std::string name = arg;
    std::string value;
    bool has_value = false;
    if (size_t eq = arg.find('=');
        absl::StartsWith(arg, "--") && eq != std::string::npos) {
      name = arg.substr(0, eq);
      value = arg.substr(eq + 1);
      has_value = true;
    }
    const char* canonical = CanonicalFlag(name);
    if (canonical == nullptr) {
      return Usage(
          absl::StrCat("unknown flag ", name, DidYouMean(name, FlagNames())));
    }
    if (!has_value) {
      if (i + 1 >= args.size()) {
        return Usage(absl::StrCat(name, ": needs a value"));
      }
      value = args[++i];
    }
    out.flags[canonical] = value;
  }
  return out;
}

// The flag's value if given, else the environment variable's, else `def`.
std::string Setting(const ParsedArgs& parsed, const std::string& flag,
                    const EnvLookup& env, absl::string_view variable,
                    std::string def) {
  if (auto it = parsed.flags.find(flag); it != parsed.flags.end()) {
    return it->second;
  }
  std::string from_env = env(variable);
  return from_env.empty() ? def : from_env;
}

absl::StatusOr<ConnectionOptions> ParseConnection(const ParsedArgs& parsed,
                                                  const EnvLookup& env) {
  ConnectionOptions c;
  c.address = Setting(parsed, "--addr", env, "APPROVAL_BROKER_ADDR", c.address);
  c.token = Setting(parsed, "--token", env, "APPROVAL_BROKER_TOKEN", "");
  c.ca_file = Setting(parsed, "--ca", env, "APPROVAL_BROKER_CA", "");
  c.cert_file = Setting(parsed, "--cert", env, "APPROVAL_BROKER_CERT", "");
  c.key_file = Setting(parsed, "--key", env, "APPROVAL_BROKER_KEY", "");
  std::string timeout =
      Setting(parsed, "--timeout", env, "APPROVAL_BROKER_TIMEOUT", "30s");
  if (c.address.empty()) return Usage("--addr: must not be empty");
  if (!IsHeaderSafe(c.token)) {
    return Usage(
        "--token: contains spaces or non-ASCII characters; a bearer token "
        "cannot");
  }
  if (c.cert_file.empty() != c.key_file.empty()) {
    return Usage("--cert and --key: give both or neither");
  }
  if (!c.cert_file.empty() && c.ca_file.empty()) {
    return Usage("--cert: needs --ca (a client certificate needs TLS)");
  }
  if (!absl::ParseDuration(timeout, &c.timeout) ||
      c.timeout <= absl::ZeroDuration()) {
    return Usage(
        absl::StrCat("--timeout: '", timeout,
                     "' is not a positive duration such as 10s or 2m"));
  }
  return c;
}

struct CommandSpec {
  const char* name;
  Command command;
  int min_ids;
  int max_ids;  // -1: any number
};

constexpr CommandSpec kCommands[] = {
    {"pending", Command::kPending, 0, 0},
    {"ls", Command::kList, 0, 0},
    {"history", Command::kHistory, 0, 0},
    {"show", Command::kShow, 1, 1},
    {"approve", Command::kApprove, 1, 1},
    {"deny", Command::kDeny, 1, 1},
    {"watch", Command::kWatch, 0, -1},
    {"signing-key", Command::kSigningKey, 0, 0},
    {"webhooks", Command::kWebhooks, 0, 0},
};

// "audit verify|export", "token verify" and "completion bash|zsh": the
// subcommand in rest[0], nothing after it (audit, completion) or exactly the
// token (token verify).
absl::Status ParseSubcommand(const std::string& name,
                             const std::vector<std::string>& rest,
                             Invocation* inv) {
  if (name == "completion") {
    if (rest.empty() || (rest[0] != "bash" && rest[0] != "zsh")) {
      return Usage(absl::StrCat(
          "completion: the shells are 'completion bash' and 'completion zsh'",
          rest.empty() ? ""
                       : DidYouMean(rest[0], {"bash", "zsh"}, "completion ")));
    }
    if (rest.size() > 1) {
      return Usage(absl::StrCat("completion: unexpected argument ", rest[1]));
    }
    inv->command = Command::kCompletion;
    inv->shell = rest[0];
    return absl::OkStatus();
  }
  if (name == "audit") {
    if (rest.empty() || (rest[0] != "verify" && rest[0] != "export")) {
      return Usage(absl::StrCat(
          "audit: the subcommands are 'audit verify' and 'audit export'",
          rest.empty() ? ""
                       : DidYouMean(rest[0], {"verify", "export"}, "audit ")));
    }
    if (rest.size() > 1) {
      return Usage(
          absl::StrCat("audit ", rest[0], ": unexpected argument ", rest[1]));
    }
    inv->command =
        rest[0] == "verify" ? Command::kAuditVerify : Command::kAuditExport;
    return absl::OkStatus();
  }
  if (rest.empty() || rest[0] != "verify") {
    return Usage(absl::StrCat(
        "token: the only subcommand is 'token verify'",
        rest.empty() ? "" : DidYouMean(rest[0], {"verify"}, "token ")));
  }
  if (rest.size() < 2) return Usage("token verify: missing the TOKEN");
  if (rest.size() > 2) {
    return Usage(absl::StrCat("token verify: unexpected argument ", rest[2]));
  }
  inv->command = Command::kTokenVerify;
  inv->token = rest[1];
  return absl::OkStatus();
}

absl::StatusOr<absl::Time> ParseRfc3339(absl::string_view flag,
                                        const std::string& value) {
  absl::Time t;
  std::string error;
  if (!absl::ParseTime(absl::RFC3339_full, value, &t, &error)) {
    return Usage(
        absl::StrCat(flag, ": '", value,
                     "' is not an RFC 3339 time such as 2024-05-01T00:00:00Z"));
  }
  return t;
}

bool IsListCommand(Command c) {
  return c == Command::kPending || c == Command::kList ||
         c == Command::kHistory;
}

// --limit and --page-token (list commands and webhooks), --endpoint and
// --status (webhooks).
absl::Status ParseWebhookFlags(const ParsedArgs& parsed,
                               const std::string& name, Invocation* inv) {
  const bool webhooks = inv->command == Command::kWebhooks;
  for (const char* flag : {"--endpoint", "--status"}) {
    if (!webhooks && parsed.flags.count(flag) > 0) {
      return Usage(absl::StrCat(name, ": does not take ", flag));
    }
  }
  if (!webhooks) return absl::OkStatus();
  inv->limit = 50;
  if (auto it = parsed.flags.find("--endpoint"); it != parsed.flags.end()) {
    if (it->second.empty()) return Usage("--endpoint: must not be empty");
    inv->webhook_endpoint = it->second;
  }
  if (auto it = parsed.flags.find("--status"); it != parsed.flags.end()) {
    const std::string& st = it->second;
    if (st != "pending" && st != "delivered" && st != "failed") {
      return Usage(absl::StrCat("--status: '", st,
                                "' is not one of pending, delivered, failed"));
    }
    inv->webhook_status = st;
  }
  if (auto it = parsed.flags.find("--limit"); it != parsed.flags.end()) {
    if (!absl::SimpleAtoi(it->second, &inv->limit) || inv->limit < 0) {
      return Usage(absl::StrCat("--limit: '", it->second,
                                "' is not a count (0 for every page)"));
    }
  }
  if (auto it = parsed.flags.find("--page-token"); it != parsed.flags.end()) {
    if (it->second.empty()) return Usage("--page-token: must not be empty");
    inv->page_token = it->second;
  }
  return absl::OkStatus();
}

// --state, --requester, --limit, --page-token and --since: the list
// commands (pending, ls, history).
absl::Status ParseListFlags(const ParsedArgs& parsed, const std::string& name,
                            Invocation* inv) {
  const bool lists = IsListCommand(inv->command);
  const bool webhooks = inv->command == Command::kWebhooks;
  for (const char* flag :
       {"--state", "--requester", "--limit", "--page-token"}) {
    const bool paging =
        std::string(flag) == "--limit" || std::string(flag) == "--page-token";
    if (!lists && !(webhooks && paging) && parsed.flags.count(flag) > 0) {
      return Usage(absl::StrCat(name, ": does not take ", flag));
    }
  }
  // Refuses --endpoint and --status for other commands; reads them for
  // webhooks.
  if (absl::Status s = ParseWebhookFlags(parsed, name, inv); !s.ok()) return s;
  if (!lists) return absl::OkStatus();
  inv->limit = inv->command == Command::kPending ? 0 : 50;
  if (auto it = parsed.flags.find("--state"); it != parsed.flags.end()) {
    if (inv->command == Command::kPending) {
      return Usage("pending: does not take --state (it is --state pending)");
    }
    v1::State state;
    std::string upper = absl::AsciiStrToUpper(it->second);
    if (!v1::State_Parse(upper, &state) || state == v1::STATE_UNSPECIFIED) {
      return Usage(absl::StrCat(
          "--state: '", it->second,
          "' is not one of pending, approved, denied, expired, cancelled"));
    }
    if (inv->command == Command::kHistory && state == v1::PENDING) {
      return Usage(
          "history: lists final states only; use 'ls --state pending' or "
          "'pending'");
    }
    inv->list_state = state;
  }
  if (auto it = parsed.flags.find("--requester"); it != parsed.flags.end()) {
    if (it->second.empty()) return Usage("--requester: must not be empty");
    inv->requester = it->second;
  }
  if (auto it = parsed.flags.find("--limit"); it != parsed.flags.end()) {
    if (!absl::SimpleAtoi(it->second, &inv->limit) || inv->limit < 0) {
      return Usage(absl::StrCat("--limit: '", it->second,
                                "' is not a count (0 for every page)"));
    }
  }
  if (auto it = parsed.flags.find("--page-token"); it != parsed.flags.end()) {
    if (it->second.empty()) return Usage("--page-token: must not be empty");
    inv->page_token = it->second;
  }
  if (auto it = parsed.flags.find("--since"); it != parsed.flags.end()) {
    absl::Duration ago;
    if (absl::ParseDuration(it->second, &ago) && ago > absl::ZeroDuration()) {
      inv->since_ago = ago;
    } else {
      absl::StatusOr<absl::Time> t = ParseRfc3339("--since", it->second);
      if (!t.ok()) {
        return Usage(absl::StrCat(
            "--since: '", it->second,
            "' is neither an RFC 3339 time (2024-05-01T00:00:00Z) nor a "
            "duration back from now (2h, 30m)"));
      }
      inv->since = *t;
    }
  }
  return absl::OkStatus();
}

// --approval, --actor, --since, --until: only audit export takes them
// (--since also the list commands).
absl::Status ParseAuditFilters(const ParsedArgs& parsed,
                               const std::string& name, Invocation* inv) {
  const bool exports = inv->command == Command::kAuditExport;
  for (const char* flag : {"--approval", "--actor", "--since", "--until"}) {
    if (IsListCommand(inv->command) && std::string(flag) == "--since") {
      continue;
    }
    if (!exports && parsed.flags.count(flag) > 0) {
      return Usage(absl::StrCat(name, ": does not take ", flag));
    }
  }
  const bool verifies = inv->command == Command::kAuditVerify;
  if (auto it = parsed.flags.find("--expect-head"); it != parsed.flags.end()) {
    if (!verifies)
      return Usage(absl::StrCat(name, ": does not take --expect-head"));
    const size_t colon = it->second.find(':');
    if (colon == std::string::npos ||
        !absl::SimpleAtoi(it->second.substr(0, colon), &inv->expect_head_seq) ||
        it->second.size() - colon - 1 != 64) {
      return Usage(absl::StrCat("--expect-head: '", it->second,
                                "' is not SEQ:HASH (the head printed by an "
                                "earlier audit verify)"));
    }
    inv->expect_head_hash = it->second.substr(colon + 1);
  }
  if (!exports) return absl::OkStatus();
  if (auto it = parsed.flags.find("--approval"); it != parsed.flags.end()) {
    if (it->second.empty()) return Usage("--approval: must not be empty");
    inv->audit_approval_id = it->second;
  }
  if (auto it = parsed.flags.find("--actor"); it != parsed.flags.end()) {
    if (it->second.empty()) return Usage("--actor: must not be empty");
    inv->audit_actor = it->second;
  }
  if (auto it = parsed.flags.find("--since"); it != parsed.flags.end()) {
    absl::StatusOr<absl::Time> t = ParseRfc3339("--since", it->second);
    if (!t.ok()) return t.status();
    inv->since = *t;
  }
  if (auto it = parsed.flags.find("--until"); it != parsed.flags.end()) {
    absl::StatusOr<absl::Time> t = ParseRfc3339("--until", it->second);
    if (!t.ok()) return t.status();
    inv->until = *t;
  }
  if (inv->until <= inv->since) {
    return Usage("--until: must be after --since");
  }
  return absl::OkStatus();
}

// The command and its positional arguments: a subcommand ("audit verify",
// "token verify") or a command of kCommands with its approval IDs.
absl::Status ParseCommand(const std::string& name,
                          std::vector<std::string> rest, Invocation* inv) {
  if (name == "audit" || name == "token" || name == "completion") {
    return ParseSubcommand(name, rest, inv);
  }
  const CommandSpec* spec = nullptr;
  for (const CommandSpec& s : kCommands) {
    if (name == s.name) spec = &s;
  }
  if (spec == nullptr) {
    return Usage(absl::StrCat("unknown command ", name,
                              DidYouMean(name, CommandNames())));
  }
  int n = static_cast<int>(rest.size());
  if (n < spec->min_ids) {
    return Usage(absl::StrCat(name, ": missing the approval ID"));
  }
  if (spec->max_ids >= 0 && n > spec->max_ids) {
    return Usage(
        absl::StrCat(name, ": unexpected argument ", rest[spec->max_ids]));
  }
  inv->command = spec->command;
  inv->approval_ids = std::move(rest);
  return absl::OkStatus();
}

// -m (approve, deny), --after (watch) and -o (every command).
absl::Status ParseCommandFlags(const ParsedArgs& parsed,
                               const std::string& name, Invocation* inv) {
  const bool decides =
      inv->command == Command::kApprove || inv->command == Command::kDeny;
  if (auto it = parsed.flags.find("--message"); it != parsed.flags.end()) {
    if (!decides) return Usage(absl::StrCat(name, ": does not take -m"));
    inv->message = it->second;
  }
  if (auto it = parsed.flags.find("--after"); it != parsed.flags.end()) {
    if (inv->command != Command::kWatch) {
      return Usage(absl::StrCat(name, ": does not take --after"));
    }
    if (!absl::SimpleAtoi(it->second, &inv->after_cursor)) {
      return Usage(absl::StrCat("--after: '", it->second,
                                "' is not a cursor (a non-negative integer)"));
    }
  }
  if (auto it = parsed.flags.find("--output"); it != parsed.flags.end()) {
    const std::string& o = it->second;
    if (o == "json") {
      inv->output = OutputFormat::kJson;
    } else if (o == "yaml" || o == "wide") {
      if (!IsListCommand(inv->command) && inv->command != Command::kShow &&
          inv->command != Command::kWebhooks) {
        return Usage(absl::StrCat(name, ": -o ", o,
                                  " is for show, pending, ls, history and "
                                  "webhooks"));
      }
      inv->output = o == "yaml" ? OutputFormat::kYaml : OutputFormat::kWide;
    } else if (o == "jwks") {
      if (inv->command != Command::kSigningKey) {
        return Usage(absl::StrCat(name, ": -o jwks is for signing-key"));
      }
      inv->output = OutputFormat::kJwks;
    } else if (o != "text") {
      return Usage(absl::StrCat(
          "--output: '", o, "' is not one of text, json, yaml, wide, jwks"));
    }
  }
  if (absl::Status s = ParseListFlags(parsed, name, inv); !s.ok()) return s;
  return ParseAuditFilters(parsed, name, inv);
}

}  // namespace

absl::StatusOr<Invocation> ParseCommandLine(
    const std::vector<std::string>& args, const EnvLookup& env) {
  absl::StatusOr<ParsedArgs> parsed = Split(args);
  if (!parsed.ok()) return parsed.status();
  Invocation inv;
  std::vector<std::string>& pos = parsed->positional;
  if (parsed->help || (!pos.empty() && pos[0] == "help")) return inv;
  if (parsed->version) {
    inv.command = Command::kVersion;
    return inv;
  }
  if (pos.empty()) return Usage("missing command");

  const std::string name = pos[0];
  if (absl::Status s = ParseCommand(
          name, std::vector<std::string>(pos.begin() + 1, pos.end()), &inv);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = ParseCommandFlags(*parsed, name, &inv); !s.ok()) {
    return s;
  }
  if (inv.command == Command::kCompletion) return inv;  // no broker
  if (inv.command == Command::kTokenVerify) {
    // Offline: --key names the broker's public key here, not an mTLS key,
    // and no connection setting applies.
    auto it = parsed->flags.find("--key");
    if (it == parsed->flags.end() || it->second.empty()) {
      return Usage(
          "token verify: needs --key KEYFILE (the broker's public key, as "
          "'approvalctl signing-key' prints it, or its key set, as "
          "'approvalctl signing-key -o jwks' prints it)");
    }
    inv.public_key_file = it->second;
    return inv;
  }
  absl::StatusOr<ConnectionOptions> connection = ParseConnection(*parsed, env);
  if (!connection.ok()) return connection.status();
  inv.connection = *std::move(connection);
  return inv;
}

namespace {

// The commands, one line each.
constexpr char kCommandsUsage[] =
    R"(approvalctl: review, decide and audit approvals on an Approval Broker.

Usage:
  approvalctl pending                    pending approvals, newest first
  approvalctl ls [--state STATE]         approvals in any state (or STATE),
                                         newest first
  approvalctl history                    decided, expired and cancelled
                                         approvals, newest first
      pending, ls, history also take: --since TIME|DURATION, --requester
      NAME, --limit N, --page-token TOKEN (see "Listing" below)
  approvalctl show ID                    one approval in full
  approvalctl approve ID [-m COMMENT]    approve it (role reviewer or admin)
  approvalctl deny ID [-m COMMENT]       deny it (role reviewer or admin)
  approvalctl watch [ID...] [--after CURSOR]
                                         follow events live, one line each
  approvalctl audit verify [--expect-head SEQ:HASH]
                                         check the audit log (admin); prints
                                         the head to record for next time
  approvalctl audit export [--approval ID] [--actor NAME]
                           [--since TIME] [--until TIME]
                                         audit events as JSON lines (admin)
  approvalctl signing-key                the broker's approval-token public
                                         key (PEM)
  approvalctl webhooks [--endpoint NAME] [--status STATUS]
                                         recent webhook deliveries and their
                                         status, newest first (admin); also
                                         --limit N, --page-token TOKEN
  approvalctl token verify --key KEYFILE TOKEN
                                         check an approval token offline
  approvalctl completion bash|zsh        a shell completion script
  approvalctl --version                  the version

)";

// How to reach and authenticate to the broker.
constexpr char kConnectionUsage[] =
    R"(Connection (flag, else environment variable, else default):
  --addr HOST:PORT    APPROVAL_BROKER_ADDR     default 127.0.0.1:50051
  --token TOKEN       APPROVAL_BROKER_TOKEN    bearer token; prefer the
                                               variable (flags show in ps)
  --ca FILE           APPROVAL_BROKER_CA       PEM CA that signed the broker's
                                               certificate: use TLS. Without
                                               it the connection is plaintext.
  --cert FILE         APPROVAL_BROKER_CERT     PEM client certificate (mTLS);
  --key FILE          APPROVAL_BROKER_KEY      and its PEM key
  --timeout DURATION  APPROVAL_BROKER_TIMEOUT  per request (not watch), e.g.
                                               10s, 2m; default 30s

)";

// Text and JSON output.
constexpr char kOutputUsage[] = R"(Output:
  -o, --output text|json|yaml|wide
      text (default) is for people; wide (show, pending, ls, history,
      webhooks) adds columns to the tables: on behalf of, rule, expires,
      decided by (webhooks: webhook id, next attempt, delivered, error).
      json and yaml are for scripts, on stdout (yaml: show, pending, ls,
      history, webhooks; the same fields as json):
        show, approve, deny   the approval, one JSON object
        pending, ls, history  {"approvals": [...], "next_page_token": "..."},
                              newest first
        audit verify          {"verified": ..., "events_verified": "N",
                               "problem": "..."}
        watch                 one DecisionEvent object per line (JSON lines)
        signing-key           the SigningKey {"algorithm", "key_id",
                              "public_key_pem"}
        webhooks              {"deliveries": [...], "next_page_token": "..."}
        token verify          the claims, {"approval_id": ..., ...}
      audit export always writes JSON lines.
      Objects follow the proto3 JSON mapping with the .proto field names and
      every field present; 64-bit integers (cursor, events_verified) are
      strings. Errors always go to stderr as text.

)";

// What the commands that need more than a line do.
constexpr char kCommandDetailsUsage[] = R"(Listing (pending, ls, history):
  --state pending|approved|denied|expired|cancelled (ls, history) is
  filtered by the broker. The broker cannot filter by time or requester, so
  --since and --requester are applied here, page by page: --since TIME (RFC
  3339, inclusive) or --since DURATION (2h: created in the last two hours),
  and --requester NAME (exact). history without --state drops PENDING here.
  --limit N prints at most N (default 50 for ls and history, every page for
  pending; 0: every page); when more remain, the token for the next page
  goes to stderr (text) or next_page_token (json, yaml): pass it as
  --page-token with the same filters. The table's REASON is the request's
  justification, COMMENT the decision's comment.

watch:
  Without IDs: every event you may see (creations included), live from now,
  until Ctrl-C. With IDs: the outcome of each (those already decided first),
  ending once all are final. --after CURSOR first replays the events after
  CURSOR (resume from the last cursor printed). Text lines start with the
  event's cursor. "watching ..." goes to stderr once the subscription is in
  place.

audit export:
  Every audit event matching all filters, oldest first, one AuditEvent JSON
  object per line, all pages: --approval ID, --actor NAME (a canonical
  principal), --since TIME (inclusive) and --until TIME (exclusive), times
  in RFC 3339 (2024-05-01T00:00:00Z). On an error midway the exit code is
  not 0 and the output stops at a line boundary.

webhooks:
  The deliveries of the broker's webhook endpoints (README "Bots and
  webhooks"), newest event first: --endpoint NAME and --status
  pending|delivered|failed are filtered by the broker. --limit N prints at
  most N (default 50; 0: every page); when more remain, the token for the
  next page goes to stderr (text) or next_page_token (json, yaml): pass it
  as --page-token with the same filters. Needs the admin role; a broker
  without webhook endpoints answers FAILED_PRECONDITION (exit code below).

signing-key:
  The public key that verifies approval tokens (SubjectPublicKeyInfo PEM)
  after a "# key_id: ..." line. Save it to pin it in agents and executors.
  -o jwks prints the whole key set (JWKS: the signing key and retired keys
  still in their rotation overlap), which any JOSE library reads.

completion:
  bash: source <(approvalctl completion bash), e.g. in ~/.bashrc.
  zsh:  approvalctl completion zsh > "${fpath[1]}/_approvalctl", then
        compinit (or: source <(approvalctl completion zsh)).

token verify:
  Checks TOKEN (a compact JWS, alg EdDSA, typ approval+jwt) with the key
  its kid names in KEYFILE: a PEM public key or a JWKS key set (no broker
  needed) and prints what it approves: approval id, action, action
  digest, approvers, rule, execution window. Exit 11 when it does not
  verify (the reason on stderr), or when it verifies but now is outside its
  window (the claims are printed all the same). It does not know the
  request: the executor compares the digest with what it is asked to run.

Exit codes:
)";

}  // namespace

std::vector<std::string> CommandNames() {
  return {"pending", "ls",         "history", "show",        "approve",
          "deny",    "watch",      "audit",   "signing-key", "webhooks",
          "token",   "completion", "help"};
}

std::string ClosestMatch(absl::string_view typed,
                         const std::vector<std::string>& candidates) {
  std::string best;
  size_t best_distance = 3;  // more than 2 edits: not a typo
  for (const std::string& c : candidates) {
    // Levenshtein distance, one row at a time.
    std::vector<size_t> row(c.size() + 1);
    for (size_t j = 0; j <= c.size(); ++j) row[j] = j;
    for (size_t i = 1; i <= typed.size(); ++i) {
      size_t diagonal = row[0];
      row[0] = i;
      for (size_t j = 1; j <= c.size(); ++j) {
        size_t above = row[j];
        row[j] = std::min({row[j] + 1, row[j - 1] + 1,
                           diagonal + (typed[i - 1] == c[j - 1] ? 0 : 1)});
        diagonal = above;
      }
    }
    const size_t d = row[c.size()];
    if (d < best_distance && 2 * d < typed.size()) {
      best = c;
      best_distance = d;
    }
  }
  return best;
}

std::string UsageText() {
  return absl::StrCat(kCommandsUsage, kConnectionUsage, kOutputUsage,
                      kCommandDetailsUsage, ExitCodeTable());
}

}  // namespace approval::ctl
