// approvalctl's command line: flags (anywhere on the line), environment
// fallbacks and the command with its arguments, parsed into one typed value.
#ifndef APPROVAL_TOOLS_APPROVALCTL_OPTIONS_H_
#define APPROVAL_TOOLS_APPROVALCTL_OPTIONS_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "approval/v1/approval.pb.h"

namespace approval::ctl {

// How to reach and authenticate to the broker. A flag beats its environment
// variable, which beats the default.
struct ConnectionOptions {
  // --addr / APPROVAL_BROKER_ADDR. Default: the demo broker.
  std::string address = "127.0.0.1:50051";
  // --token / APPROVAL_BROKER_TOKEN, sent as "authorization: Bearer <token>".
  // Default "": no token (an mTLS certificate may identify the caller).
  std::string token;
  // --ca / APPROVAL_BROKER_CA: PEM roots to verify the broker with. Default
  // "": plaintext. --cert and --key need it.
  std::string ca_file;
  // --cert / APPROVAL_BROKER_CERT and --key / APPROVAL_BROKER_KEY: a PEM
  // client certificate and its key for mTLS, both or neither. Default: none.
  std::string cert_file;
  std::string key_file;
  // --timeout / APPROVAL_BROKER_TIMEOUT: deadline of each unary call (watch
  // has none). Default 30s.
  absl::Duration timeout = absl::Seconds(30);
};

enum class Command {
  kHelp,
  kVersion,
  kPending,
  kList,     // ls
  kHistory,  // history: ls without PENDING
  kCompletion,
  kShow,
  kApprove,
  kDeny,
  kWatch,
  kAuditVerify,
  kAuditExport,
  kSigningKey,
  kTokenVerify,
  kWebhooks,
};
// -o / --output. kWide: the text table with more columns (list commands;
// show prints every field in text already).
// kJwks: signing-key only, the key set as JWKS JSON.
enum class OutputFormat { kText, kJson, kYaml, kWide, kJwks };

struct Invocation {
  Command command = Command::kHelp;
  ConnectionOptions connection;
  OutputFormat output = OutputFormat::kText;  // -o / --output; default text
  // show, approve, deny: exactly one; watch: any number (none: everything).
  std::vector<std::string> approval_ids;
  std::string message;        // approve, deny: -m / --message; default ""
  uint64_t after_cursor = 0;  // watch: --after; default 0 (live from now)

  // audit export filters. --approval ID and --actor NAME: default "", every
  // approval / actor. --since (inclusive) and --until (exclusive), RFC 3339:
  // default unbounded.
  std::string audit_approval_id;
  std::string audit_actor;
  // audit verify --expect-head SEQ:HASH; 0 and "": none.
  uint64_t expect_head_seq = 0;
  std::string expect_head_hash;
  absl::Time since = absl::InfinitePast();
  absl::Time until = absl::InfiniteFuture();

  // pending, ls, history. --state (ls, history): sent to the broker;
  // default STATE_UNSPECIFIED (history: every final state). --since (above,
  // RFC 3339 or a duration back from now such as 2h) and --requester NAME:
  // filtered here, the broker cannot. --limit N: at most N approvals, 0 for
  // all pages; default 50 (pending: 0). --page-token: resume where an
  // earlier --limit stopped; default "": the newest.
  v1::State list_state = v1::STATE_UNSPECIFIED;
  std::string requester;
  absl::Duration since_ago = absl::ZeroDuration();  // --since 2h: 2h; 0: none
  int limit = 0;
  std::string page_token;

  // webhooks (also --limit, default 50, and --page-token above): --endpoint
  // NAME and --status pending|delivered|failed, sent to the broker; default
  // "": every endpoint / status.
  std::string webhook_endpoint;
  std::string webhook_status;

  // completion: "bash" or "zsh".
  std::string shell;

  // token verify: the token, and --key, the broker's public key (PEM file).
  // No connection: the token is checked offline.
  std::string token;
  std::string public_key_file;
};

// Returns the value of an environment variable, "" when unset.
using EnvLookup = std::function<std::string(absl::string_view name)>;

// Parses argv[1..] (without the program name). INVALID_ARGUMENT naming the
// flag or argument on any mistake: unknown command or flag, missing or extra
// arguments, a flag the command does not take, a bad value.
absl::StatusOr<Invocation> ParseCommandLine(
    const std::vector<std::string>& args, const EnvLookup& env);

// The --help text, exit codes included.
std::string UsageText();

// The command names a user types first, in --help order ("audit" and
// "token" once each, with their subcommands apart).
std::vector<std::string> CommandNames();

// The closest of `candidates` to `typed` by edit distance, if close enough
// to be a likely typo (at most 2 edits, and fewer than half of `typed`);
// "" otherwise.
std::string ClosestMatch(absl::string_view typed,
                         const std::vector<std::string>& candidates);

}  // namespace approval::ctl

#endif  // APPROVAL_TOOLS_APPROVALCTL_OPTIONS_H_
