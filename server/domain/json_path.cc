#include "server/domain/json_path.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "server/domain/masking.h"

namespace approval {
namespace {

using Json = nlohmann::json;

// Larger indices cannot address an array in a 64 KiB document anyway; the
// cap keeps the parse free of overflow.
constexpr size_t kMaxIndexDigits = 9;

bool IsDigit(char c) { return absl::ascii_isdigit(c); }

absl::Status PathError(absl::string_view problem, size_t pos) {
  return absl::InvalidArgumentError(
      absl::StrCat(problem, " at character ", pos + 1));
}

// One left-to-right pass over a path; each step parser starts at pos_ on
// the step's first character and leaves pos_ after it.
class PathParser final {
 public:
  explicit PathParser(absl::string_view path) : path_(path) {}

  absl::StatusOr<std::vector<PathStep>> Parse() {
    if (path_.empty()) {
      return absl::InvalidArgumentError("empty; write e.g. $.a");
    }
    if (path_[0] != '$') return PathError("must start with \"$\"", 0);
    pos_ = 1;
    while (pos_ < path_.size()) {
      absl::Status s;
      if (path_[pos_] == '.') {
        s = DotStep();
      } else if (path_[pos_] == '[') {
        s = BracketStep();
      } else {
        s = PathError(absl::StrCat("unexpected '", path_.substr(pos_, 1),
                                   "'; expected \".\" or \"[\""),
                      pos_);
      }
      if (!s.ok()) return s;
    }
    if (steps_.empty()) {
      return absl::InvalidArgumentError(
          "selects the whole object; name a member, e.g. $.password");
    }
    return std::move(steps_);
  }

 private:
  // ".name" or ".*".
  absl::Status DotStep() {
    ++pos_;
    if (pos_ >= path_.size()) {
      return PathError("expected a member name or \"*\" after \".\"", pos_);
    }
    if (path_[pos_] == '.') {
      return PathError("recursive descent \"..\" is not supported", pos_ - 1);
    }
    if (path_[pos_] == '*') {
      steps_.push_back({PathStep::Kind::kWildcard, "", 0});
      ++pos_;
      return absl::OkStatus();
    }
    const size_t begin = pos_;
    while (pos_ < path_.size() && IsDotNameChar(path_[pos_])) ++pos_;
    if (pos_ == begin) {
      return PathError(
          absl::StrCat("unexpected '", path_.substr(pos_, 1),
                       "' after \".\"; member names after \".\" are letters,"
                       " digits and _, quote others as ['name']"),
          pos_);
    }
    steps_.push_back({PathStep::Kind::kName,
                      std::string(path_.substr(begin, pos_ - begin)), 0});
    return absl::OkStatus();
  }

  // "[*]", "[N]" or "['name']".
  absl::Status BracketStep() {
    const size_t open = pos_;
    ++pos_;
    if (pos_ >= path_.size()) return PathError("unterminated \"[\"", open);
    const char first = path_[pos_];
    if (first == '*') {
      ++pos_;
      if (pos_ >= path_.size() || path_[pos_] != ']') {
        return PathError("expected \"]\" after \"[*\"", pos_);
      }
      ++pos_;
      steps_.push_back({PathStep::Kind::kWildcard, "", 0});
      return absl::OkStatus();
    }
    if (IsDigit(first)) return IndexStep();
    if (first == '\'') return QuotedNameStep(open);
    if (first == '"') {
      return PathError("quote names with single quotes, as ['name']", pos_);
    }
    if (first == '-') {
      return PathError("negative indices are not supported", pos_);
    }
    if (first == '?') {
      return PathError("filter expressions are not supported", pos_);
    }
    return PathError(
        absl::StrCat("unexpected '", path_.substr(pos_, 1),
                     "' after \"[\"; expected an index, * or a quoted name"),
        pos_);
  }

  // The N of "[N]": no leading zero, no slice, at most kMaxIndexDigits.
  absl::Status IndexStep() {
    const size_t begin = pos_;
    while (pos_ < path_.size() && IsDigit(path_[pos_])) ++pos_;
    const absl::string_view digits = path_.substr(begin, pos_ - begin);
    if (digits.size() > 1 && digits[0] == '0') {
      return PathError(
          absl::StrCat("index \"", digits, "\" has a leading zero"), begin);
    }
    if (digits.size() > kMaxIndexDigits) {
      return PathError(absl::StrCat("index \"", digits, "\" is too large"),
                       begin);
    }
    if (pos_ >= path_.size() || path_[pos_] != ']') {
      if (pos_ < path_.size() && path_[pos_] == ':') {
        return PathError("array slices are not supported", pos_);
      }
      return PathError("expected \"]\" after the index", pos_);
    }
    ++pos_;
    size_t index = 0;
    for (char d : digits) index = index * 10 + static_cast<size_t>(d - '0');
    steps_.push_back({PathStep::Kind::kIndex, "", index});
    return absl::OkStatus();
  }

  // The name of "['name']", with \' and \\ escapes.
  absl::Status QuotedNameStep(size_t open) {
    ++pos_;
    std::string name;
    bool closed = false;
    while (pos_ < path_.size()) {
      const char q = path_[pos_];
      if (q == '\'') {
        closed = true;
        ++pos_;
        break;
      }
      if (q == '\\') {
        if (pos_ + 1 >= path_.size() ||
            (path_[pos_ + 1] != '\'' && path_[pos_ + 1] != '\\')) {
          return PathError(
              "unsupported escape in a quoted name (only \\' and \\\\)", pos_);
        }
        name.push_back(path_[pos_ + 1]);
        pos_ += 2;
        continue;
      }
      name.push_back(q);
      ++pos_;
    }
    if (!closed) return PathError("unterminated quoted name", open + 1);
    if (pos_ >= path_.size() || path_[pos_] != ']') {
      return PathError("expected \"]\" after the quoted name", pos_);
    }
    ++pos_;
    steps_.push_back({PathStep::Kind::kName, std::move(name), 0});
    return absl::OkStatus();
  }

  const absl::string_view path_;
  size_t pos_ = 0;
  std::vector<PathStep> steps_;
};

void Select(Json& node, const std::vector<PathStep>& steps, size_t step,
            std::vector<Json*>* out) {
  if (step == steps.size()) {
    out->push_back(&node);
    return;
  }
  const PathStep& s = steps[step];
  switch (s.kind) {
    case PathStep::Kind::kName:
      if (node.is_object()) {
        auto it = node.find(s.name);
        if (it != node.end()) Select(*it, steps, step + 1, out);
      }
      break;
    case PathStep::Kind::kIndex:
      if (node.is_array() && s.index < node.size()) {
        Select(node[s.index], steps, step + 1, out);
      }
      break;
    case PathStep::Kind::kWildcard:
      if (node.is_object() || node.is_array()) {
        for (Json& child : node) Select(child, steps, step + 1, out);
      }
      break;
  }
}

}  // namespace

bool IsDotNameChar(char c) { return absl::ascii_isalnum(c) || c == '_'; }

absl::StatusOr<std::vector<PathStep>> ParseJsonPath(absl::string_view path) {
  return PathParser(path).Parse();
}

std::vector<Json*> SelectJsonPath(Json& root,
                                  const std::vector<PathStep>& steps) {
  std::vector<Json*> out;
  Select(root, steps, 0, &out);
  return out;
}

absl::Status ValidateJsonPath(absl::string_view path) {
  absl::StatusOr<std::vector<PathStep>> steps = ParseJsonPath(path);
  if (!steps.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("JSON path \"", path, "\": ", steps.status().message()));
  }
  return absl::OkStatus();
}

}  // namespace approval
