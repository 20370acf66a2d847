#include "tools/approvalctl/options.h"

#include <map>

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
    {"--addr", nullptr},     {"--token", nullptr},       {"--ca", nullptr},
    {"--cert", nullptr},     {"--key", nullptr},         {"--timeout", nullptr},
    {"--output", "-o"},      {"--message", "-m"},        {"--after", nullptr},
    {"--approval", nullptr}, {"--actor", nullptr},       {"--since", nullptr},
    {"--until", nullptr},    {"--expect-head", nullptr},
};

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
      return Usage(absl::StrCat("unknown flag ", name));
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
    {"show", Command::kShow, 1, 1},
    {"approve", Command::kApprove, 1, 1},
    {"deny", Command::kDeny, 1, 1},
    {"watch", Command::kWatch, 0, -1},
    {"signing-key", Command::kSigningKey, 0, 0},
};

// "audit verify|export" and "token verify": the subcommand in rest[0],
// nothing after it (audit) or exactly the token (token verify).
absl::Status ParseSubcommand(const std::string& name,
                             const std::vector<std::string>& rest,
                             Invocation* inv) {
  if (name == "audit") {
    if (rest.empty() || (rest[0] != "verify" && rest[0] != "export")) {
      return Usage(
          "audit: the subcommands are 'audit verify' and 'audit export'");
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
    return Usage("token: the only subcommand is 'token verify'");
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

// --approval, --actor, --since, --until: only audit export takes them.
absl::Status ParseAuditFilters(const ParsedArgs& parsed,
                               const std::string& name, Invocation* inv) {
  const bool exports = inv->command == Command::kAuditExport;
  for (const char* flag : {"--approval", "--actor", "--since", "--until"}) {
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
  if (name == "audit" || name == "token") {
    return ParseSubcommand(name, rest, inv);
  }
  const CommandSpec* spec = nullptr;
  for (const CommandSpec& s : kCommands) {
    if (name == s.name) spec = &s;
  }
  if (spec == nullptr) return Usage(absl::StrCat("unknown command ", name));
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
    if (it->second == "json") {
      inv->output = OutputFormat::kJson;
    } else if (it->second != "text") {
      return Usage(absl::StrCat("--output: '", it->second,
                                "' is not one of text, json"));
    }
  }
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
  if (inv.command == Command::kTokenVerify) {
    // Offline: --key names the broker's public key here, not an mTLS key,
    // and no connection setting applies.
    auto it = parsed->flags.find("--key");
    if (it == parsed->flags.end() || it->second.empty()) {
      return Usage(
          "token verify: needs --key PUBFILE (the broker's public key, as "
          "'approvalctl signing-key' prints it)");
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
  approvalctl token verify --key PUBFILE TOKEN
                                         check an approval token offline

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
  -o, --output text|json
      text (default) is for people. json is for scripts, on stdout:
        show, approve, deny   the approval, one JSON object
        pending               {"approvals": [...]}, newest first
        audit verify          {"verified": ..., "events_verified": "N",
                               "problem": "..."}
        watch                 one DecisionEvent object per line (JSON lines)
        signing-key           the SigningKey {"algorithm", "key_id",
                              "public_key_pem"}
        token verify          the claims, {"approval_id": ..., ...}
      audit export always writes JSON lines.
      Objects follow the proto3 JSON mapping with the .proto field names and
      every field present; 64-bit integers (cursor, events_verified) are
      strings. Errors always go to stderr as text.

)";

// What the commands that need more than a line do.
constexpr char kCommandDetailsUsage[] = R"(watch:
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

signing-key:
  The public key that verifies approval tokens (SubjectPublicKeyInfo PEM)
  after a "# key_id: ..." line. Save it to pin it in agents and executors.

token verify:
  Checks TOKEN's Ed25519 signature with the PEM public key in PUBFILE (no
  broker needed) and prints what it approves: approval id, action, action
  digest, approvers, rule, execution window. Exit 11 when it does not
  verify (the reason on stderr), or when it verifies but now is outside its
  window (the claims are printed all the same). It does not know the
  request: the executor compares the digest with what it is asked to run.

Exit codes:
)";

}  // namespace

std::string UsageText() {
  return absl::StrCat(kCommandsUsage, kConnectionUsage, kOutputUsage,
                      kCommandDetailsUsage, ExitCodeTable());
}

}  // namespace approval::ctl
