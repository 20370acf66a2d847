// An agent that asks a human before exporting a table, and exports only on
// approval.
//
//   APPROVAL_BROKER_ADDR=127.0.0.1:50051 APPROVAL_BROKER_TOKEN=... \
//   [APPROVAL_BROKER_PUBLIC_KEY_FILE=broker-signing-key.pub.pem] \
//     export_agent [table]
//
// APPROVAL_BROKER_PUBLIC_KEY_FILE pins the broker's approval-token key (as
// `approvalctl signing-key` prints it); without it the client asks the
// broker for its key.
//
// Exit status: 0 exported, 1 not exported (denied, expired, cancelled, no
// decision in time, or an error), 2 usage.
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "approval/client.h"

namespace {

std::string Env(const char* name, const char* fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? value : fallback;
}

// Reads the whole file into *contents; false if it cannot be opened.
bool ReadFile(const std::string& path, std::string* contents) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream out;
  out << in.rdbuf();
  *contents = out.str();
  return true;
}

// Stands in for the privileged step.
void ExportTable(const std::string& table) {
  std::printf("exported table %s to %s.csv\n", table.c_str(), table.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  const std::string table = argc > 1 ? argv[1] : "customers";
  approval::ClientOptions options;
  options.target = Env("APPROVAL_BROKER_ADDR", "127.0.0.1:50051");
  options.bearer_token = Env("APPROVAL_BROKER_TOKEN", "");
  const std::string key_file = Env("APPROVAL_BROKER_PUBLIC_KEY_FILE", "");
  if (!key_file.empty() &&
      !ReadFile(key_file, &options.broker_public_key_pem)) {
    std::fprintf(stderr, "cannot read APPROVAL_BROKER_PUBLIC_KEY_FILE %s\n",
                 key_file.c_str());
    return 2;
  }
  if (options.bearer_token.empty() || argc > 2) {
    std::fprintf(stderr,
                 "usage: APPROVAL_BROKER_TOKEN=<agent token> "
                 "[APPROVAL_BROKER_ADDR=host:port] %s [table]\n",
                 argv[0]);
    return 2;
  }
  absl::StatusOr<std::unique_ptr<approval::Client>> client =
      approval::Client::Create(options);
  if (!client.ok()) {
    std::fprintf(stderr, "%s\n", client.status().ToString().c_str());
    return 2;
  }

  approval::ApprovalRequest request;
  request.action = "db.export";
  request.resource = absl::StrCat("postgres://prod/", table);
  request.parameters_json =
      absl::StrCat(R"({"table":")", table, R"(","format":"csv"})");
  request.justification = "quarterly report";
  request.ttl = absl::Minutes(10);
  std::printf("waiting up to 10 minutes for a reviewer to approve %s on %s\n",
              request.action.c_str(), request.resource.c_str());
  std::fflush(stdout);

  absl::StatusOr<approval::Decision> decision =
      (*client)->RequireApproval(request, absl::Now() + absl::Minutes(10));
  if (!decision.ok()) {
    std::printf("not exported: %s\n", decision.status().ToString().c_str());
    return 1;
  }
  std::printf(
      "approval %s: %s by %s%s%s\n", decision->approval_id.c_str(),
      std::string(approval::DecisionStateName(decision->state)).c_str(),
      decision->decided_by.empty() ? "nobody" : decision->decided_by.c_str(),
      decision->comment.empty() ? "" : ": ", decision->comment.c_str());
  if (decision->state != approval::DecisionState::kApproved) {
    std::printf("not exported\n");
    return 1;
  }
  // The client verified the broker's approval token before returning.
  std::printf("approved under rule %s by [%s]\n", decision->rule.c_str(),
              absl::StrJoin(decision->approvers, ", ").c_str());
  ExportTable(table);
  return 0;
}
