// Shell completion scripts for approvalctl, generated from the same command
// and flag names the parser accepts.
#ifndef APPROVAL_TOOLS_APPROVALCTL_COMPLETION_H_
#define APPROVAL_TOOLS_APPROVALCTL_COMPLETION_H_

#include <string>

#include "absl/strings/string_view.h"

namespace approval::ctl {

// The completion script for `shell`, "bash" or "zsh" (the parser accepts no
// other): commands, subcommands of audit/token/completion, flags, and the
// values of -o and --state. "" for any other shell.
std::string CompletionScript(absl::string_view shell);

}  // namespace approval::ctl

#endif  // APPROVAL_TOOLS_APPROVALCTL_COMPLETION_H_
