#include "tools/approvalctl/completion.h"

#include <vector>

#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "tools/approvalctl/options.h"

namespace approval::ctl {
namespace {

// Flags that take a value (the next word is not a command).
constexpr char kValueFlags[] =
    "-o --output -m --message --addr --token --ca --cert --key --timeout "
    "--after --approval --actor --since --until --expect-head --state "
    "--requester --limit --page-token --endpoint --status";
constexpr char kOtherFlags[] = "--help --version";
constexpr char kOutputs[] = "text json yaml wide";
constexpr char kStates[] = "pending approved denied expired cancelled";
constexpr char kDeliveryStatuses[] = "pending delivered failed";

constexpr char kBash[] =
    R"(# bash completion for approvalctl: source <(approvalctl completion bash)
_approvalctl() {
  local cur="${COMP_WORDS[COMP_CWORD]}" prev="" cmd="" sub="" i
  if (( COMP_CWORD > 0 )); then prev="${COMP_WORDS[COMP_CWORD-1]}"; fi
  for (( i = 1; i < COMP_CWORD; i++ )); do
    case " @VALUE_FLAGS@ " in
      *" ${COMP_WORDS[i]} "*) (( i++ )); continue ;;
    esac
    case "${COMP_WORDS[i]}" in
      -*) ;;
      *) if [[ -z "$cmd" ]]; then cmd="${COMP_WORDS[i]}"
         elif [[ -z "$sub" ]]; then sub="${COMP_WORDS[i]}"; fi ;;
    esac
  done
  COMPREPLY=()
  case "$prev" in
    -o|--output) COMPREPLY=( $(compgen -W "@OUTPUTS@" -- "$cur") ); return 0 ;;
    --state) COMPREPLY=( $(compgen -W "@STATES@" -- "$cur") ); return 0 ;;
    --status) COMPREPLY=( $(compgen -W "@DELIVERY_STATUSES@" -- "$cur") ); return 0 ;;
    --ca|--cert|--key) COMPREPLY=( $(compgen -f -- "$cur") ); return 0 ;;
  esac
  case " @VALUE_FLAGS@ " in
    *" $prev "*) return 0 ;;
  esac
  if [[ "$cur" == -* ]]; then
    COMPREPLY=( $(compgen -W "@VALUE_FLAGS@ @OTHER_FLAGS@" -- "$cur") )
    return 0
  fi
  case "$cmd" in
    "") COMPREPLY=( $(compgen -W "@COMMANDS@" -- "$cur") ) ;;
    audit) [[ -z "$sub" ]] && COMPREPLY=( $(compgen -W "verify export" -- "$cur") ) ;;
    token) [[ -z "$sub" ]] && COMPREPLY=( $(compgen -W "verify" -- "$cur") ) ;;
    completion) [[ -z "$sub" ]] && COMPREPLY=( $(compgen -W "bash zsh" -- "$cur") ) ;;
  esac
  return 0
}
complete -F _approvalctl approvalctl
)";

constexpr char kZsh[] = R"(#compdef approvalctl
# zsh completion for approvalctl: approvalctl completion zsh > "${fpath[1]}/_approvalctl"
# (then compinit), or source <(approvalctl completion zsh).
_approvalctl() {
  local curcontext="$curcontext" state line
  typeset -A opt_args
  _arguments -C \
    '--addr[broker HOST:PORT]:address: ' \
    '--token[bearer token]:token: ' \
    '--ca[CA certificate, PEM]:file:_files' \
    '--cert[client certificate, PEM]:file:_files' \
    '--key[client key, or the public key for token verify]:file:_files' \
    '--timeout[deadline per request]:duration: ' \
    '(-o --output)'{-o,--output}'[output format]:format:(@OUTPUTS@)' \
    '(-m --message)'{-m,--message}'[review comment]:comment: ' \
    '--after[replay events after this cursor]:cursor: ' \
    '--approval[audit export: one approval]:id: ' \
    '--actor[audit export: one actor]:name: ' \
    '--since[since a time (RFC 3339) or a duration ago]:time: ' \
    '--until[audit export: before this time]:time: ' \
    '--expect-head[audit verify: SEQ:HASH]:head: ' \
    '--state[ls, history: one state]:state:(@STATES@)' \
    '--requester[pending, ls, history: one requester]:name: ' \
    '--limit[at most this many, 0 for all]:count: ' \
    '--page-token[resume a listing]:token: ' \
    '--endpoint[webhooks: one endpoint]:name: ' \
    '--status[webhooks: one delivery status]:status:(@DELIVERY_STATUSES@)' \
    '--help[usage and exit codes]' \
    '--version[the version]' \
    '1:command:(@COMMANDS@)' \
    '2:argument:->second' \
    '*::argument: '
  case $state in
    second)
      case $line[1] in
        audit) _values 'subcommand' verify export ;;
        token) _values 'subcommand' verify ;;
        completion) _values 'shell' bash zsh ;;
      esac ;;
  esac
}
if [[ "${funcstack[1]}" == _approvalctl ]]; then
  _approvalctl "$@"
else
  compdef _approvalctl approvalctl
fi
)";

}  // namespace

std::string CompletionScript(absl::string_view shell) {
  const char* script = shell == "bash" ? kBash : shell == "zsh" ? kZsh : "";
  return absl::StrReplaceAll(
      script, {{"@VALUE_FLAGS@", kValueFlags},
               {"@OTHER_FLAGS@", kOtherFlags},
               {"@OUTPUTS@", kOutputs},
               {"@STATES@", kStates},
               {"@DELIVERY_STATUSES@", kDeliveryStatuses},
               {"@COMMANDS@", absl::StrJoin(CommandNames(), " ")}});
}

}  // namespace approval::ctl
