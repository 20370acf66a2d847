// The tokens file parser (server/auth/authenticator.h: Authenticator::Create
// with auth.tokens_file), and bearer lookups against what it accepted.
//
// Input: the tokens file's text. Every "@HASH@" in it is replaced by the
// SHA-256 of the token "fuzz-token" first, so that the fuzzer can write
// entries a real token matches. The text is served through a memfd
// (/proc/self/fd/N), so nothing touches the disk.
// Invariants for an accepted file: it is strict JSON (no repeated key) of
// the documented shape, with only the documented keys; "Bearer fuzz-token"
// authenticates exactly when an entry holds its hash, as that entry's
// identity with that entry's roles; any other token is UNAUTHENTICATED.
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <set>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "fuzz/fuzz_check.h"
#include "nlohmann/json.hpp"
#include "server/auth/authenticator.h"
#include "server/auth/principal.h"
#include "server/common/strict_json.h"
#include "wire/canonical.h"

namespace {

constexpr char kToken[] = "fuzz-token";

int TokensFd() {
  static const int fd = memfd_create("fuzz-tokens", 0);
  FUZZ_CHECK(fd >= 0, "memfd_create failed");
  return fd;
}

void WriteTokensFile(const std::string& text) {
  const int fd = TokensFd();
  FUZZ_CHECK(ftruncate(fd, 0) == 0, "ftruncate");
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = pwrite(fd, text.data() + done, text.size() - done,
                       static_cast<off_t>(done));
    FUZZ_CHECK(n > 0, "pwrite");
    done += static_cast<size_t>(n);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string hash = approval::Sha256Hex(kToken);
  const std::string text = absl::StrReplaceAll(
      std::string(reinterpret_cast<const char*>(data), size),
      {{"@HASH@", hash}});
  WriteTokensFile(text);

  approval::AuthConfig config;
  config.tokens_file = absl::StrCat("/proc/self/fd/", TokensFd());
  absl::StatusOr<std::unique_ptr<approval::Authenticator>> auth =
      approval::Authenticator::Create(config);
  if (!auth.ok()) {
    FUZZ_CHECK(auth.status().code() == absl::StatusCode::kInvalidArgument, "%s",
               auth.status().ToString().c_str());
    // The hash is never echoed: someone may have pasted the token itself.
    FUZZ_CHECK(auth.status().message().find(hash) == absl::string_view::npos,
               "error message shows a hash: %s",
               auth.status().ToString().c_str());
    return 0;
  }

  // Duplicate keys are checked by the strict reader; the lenient parse
  // below then sees exactly what the authenticator saw.
  absl::StatusOr<nlohmann::ordered_json> strict =
      approval::ParseStrictJson(text, "tokens");
  FUZZ_CHECK(strict.ok(), "accepted: %s", strict.status().ToString().c_str());
  const nlohmann::ordered_json& root = *strict;
  FUZZ_CHECK(root.is_object() && root.size() == 1 && root.contains("tokens") &&
                 root["tokens"].is_array(),
             "accepted a file of another shape");
  const nlohmann::ordered_json* match = nullptr;
  for (const auto& entry : root["tokens"]) {
    FUZZ_CHECK(entry.is_object(), "accepted a non-object entry");
    for (const auto& [key, value] : entry.items()) {
      FUZZ_CHECK(key == "sha256" || key == "identity" || key == "roles",
                 "accepted unknown key \"%s\"", key.c_str());
    }
    if (entry.contains("sha256") && entry["sha256"] == hash) {
      FUZZ_CHECK(match == nullptr, "accepted the same hash twice");
      match = &entry;
    }
  }

  absl::StatusOr<approval::Principal> p =
      (*auth)->AuthenticateBearer(absl::StrCat("Bearer ", kToken));
  if (match == nullptr) {
    FUZZ_CHECK(
        !p.ok() && p.status().code() == absl::StatusCode::kUnauthenticated,
        "a token in no entry: %s", p.status().ToString().c_str());
    return 0;
  }
  FUZZ_CHECK(p.ok(), "its entry's token refused: %s",
             p.status().ToString().c_str());
  FUZZ_CHECK(match->at("identity") == p->id &&
                 p->identity ==
                     approval::QualifiedIdentity(approval::kMethodToken, p->id),
             "principal %s, identity %s", p->id.c_str(), p->identity.c_str());
  std::set<std::string> roles;
  for (const auto& r : match->at("roles")) roles.insert(r.get<std::string>());
  std::set<std::string> got;
  for (approval::Role r : p->roles)
    got.insert(std::string(approval::RoleName(r)));
  FUZZ_CHECK(roles == got, "roles differ from the entry's");

  absl::StatusOr<approval::Principal> other =
      (*auth)->AuthenticateBearer("Bearer not-the-fuzz-token");
  FUZZ_CHECK(!other.ok() &&
                 other.status().code() == absl::StatusCode::kUnauthenticated,
             "an unknown token: %s", other.status().ToString().c_str());
  return 0;
}
