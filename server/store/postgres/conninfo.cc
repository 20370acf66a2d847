#include "server/store/postgres/conninfo.h"

#include <libpq-fe.h>

#include <memory>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace approval {
namespace {

std::string PercentEncode(absl::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (absl::ascii_isalnum(c) || c == '-' || c == '.' || c == '_' ||
        c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      absl::StrAppendFormat(&out, "%%%02X", c);
    }
  }
  return out;
}

// Single-quoted value of a key=value pair: backslash escapes ' and \.
std::string Quote(absl::string_view s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('\'');
  return out;
}

struct ConninfoOptionsDeleter {
  void operator()(PQconninfoOption* o) const { PQconninfoFree(o); }
};

}  // namespace

bool IsConninfoUrl(absl::string_view conninfo) {
  return absl::StartsWith(conninfo, "postgresql://") ||
         absl::StartsWith(conninfo, "postgres://");
}

absl::StatusOr<bool> ConninfoHasParam(const std::string& conninfo,
                                      absl::string_view key) {
  char* error = nullptr;
  std::unique_ptr<PQconninfoOption, ConninfoOptionsDeleter> options(
      PQconninfoParse(conninfo.c_str(), &error));
  if (options == nullptr) {
    std::string reason = error != nullptr
                             ? std::string(absl::StripAsciiWhitespace(error))
                             : "out of memory";
    PQfreemem(error);
    return absl::InvalidArgumentError(
        absl::StrCat("database url: cannot parse: ", reason));
  }
  for (PQconninfoOption* o = options.get(); o->keyword != nullptr; ++o) {
    if (key == o->keyword) return o->val != nullptr;
  }
  return false;
}

std::string WithConninfoParam(absl::string_view conninfo, absl::string_view key,
                              absl::string_view value) {
  if (IsConninfoUrl(conninfo)) {
    const char* separator =
        absl::StrContains(conninfo, '?')
            ? (absl::EndsWith(conninfo, "?") || absl::EndsWith(conninfo, "&")
                   ? ""
                   : "&")
            : "?";
    return absl::StrCat(conninfo, separator, PercentEncode(key), "=",
                        PercentEncode(value));
  }
  absl::string_view trimmed = absl::StripTrailingAsciiWhitespace(conninfo);
  return absl::StrCat(trimmed, trimmed.empty() ? "" : " ", key, "=",
                      Quote(value));
}

}  // namespace approval
