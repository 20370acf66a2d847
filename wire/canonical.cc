#include "wire/canonical.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <set>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"

namespace approval {
namespace {

using Json = nlohmann::json;

// A decimal number as sign, significant digits and exponent:
// value = (neg ? -1 : 1) * 0.digits * 10^exponent, with no leading or
// trailing zero in `digits`. Zero has empty digits and exponent 0 but keeps
// its sign, so that -0 and 0 differ (they do to an IEEE-754 reader).
struct Decimal {
  bool neg = false;
  std::string digits;
  int64_t exponent = 0;
  bool operator==(const Decimal& o) const {
    return neg == o.neg && digits == o.digits && exponent == o.exponent;
  }
};

// Reads a JSON number token (RFC 8259 grammar, already checked by the
// parser). Exponents are clamped far beyond any double, so that huge ones
// cannot overflow and still compare unequal to any finite double.
Decimal ParseDecimal(absl::string_view t) {
  Decimal d;
  size_t i = 0;
  if (i < t.size() && t[i] == '-') {
    d.neg = true;
    ++i;
  }
  std::string all;
  int64_t point = 0;
  for (; i < t.size() && absl::ascii_isdigit(t[i]); ++i) {
    all.push_back(t[i]);
    ++point;
  }
  if (i < t.size() && t[i] == '.') {
    for (++i; i < t.size() && absl::ascii_isdigit(t[i]); ++i) {
      all.push_back(t[i]);
    }
  }
  int64_t exp = 0;
  if (i < t.size() && (t[i] == 'e' || t[i] == 'E')) {
    ++i;
    bool exp_neg = false;
    if (i < t.size() && (t[i] == '+' || t[i] == '-')) exp_neg = t[i++] == '-';
    constexpr int64_t kClamp = int64_t{1} << 40;
    for (; i < t.size() && absl::ascii_isdigit(t[i]); ++i) {
      exp = std::min(kClamp, exp * 10 + (t[i] - '0'));
    }
    if (exp_neg) exp = -exp;
  }
  size_t first = all.find_first_not_of('0');
  if (first == std::string::npos) return d;  // zero, with its sign
  point -= static_cast<int64_t>(first);
  all.erase(0, first);
  all.erase(all.find_last_not_of('0') + 1);
  d.digits = std::move(all);
  d.exponent = point + exp;
  return d;
}

// The number tokens of `text` in document order (outside strings, a number
// is the only token that starts with '-' or a digit).
std::vector<absl::string_view> NumberTokens(absl::string_view text) {
  std::vector<absl::string_view> out;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '-' || absl::ascii_isdigit(c)) {
      size_t end = i;
      while (end < text.size() &&
             (absl::ascii_isdigit(text[end]) || text[end] == '-' ||
              text[end] == '+' || text[end] == '.' || text[end] == 'e' ||
              text[end] == 'E')) {
        ++end;
      }
      out.push_back(text.substr(i, end - i));
      i = end - 1;
    }
  }
  return out;
}

std::string NumberError(absl::string_view path, absl::string_view written,
                        absl::string_view why) {
  return absl::StrCat(
      path, ": number ", written.substr(0, 64),
      " cannot be represented exactly (", why,
      "); integers must lie in [-2^63, 2^64-1], other numbers must have "
      "the value of an IEEE-754 double's shortest decimal form");
}

bool IsPlainKey(absl::string_view key) {
  if (key.empty()) return false;
  for (char c : key) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '_' &&
        c != '-') {
      return false;
    }
  }
  return true;
}

absl::string_view Shorten(absl::string_view s) { return s.substr(0, 64); }

// The document as it is built, and where in it the parser is (the open
// containers and the key of the value to come), for the paths in messages:
// "parameters.items[2]", or "$" for the root when there is no name.
class DocumentTree {
 public:
  explicit DocumentTree(absl::string_view name) : name_(name) {}

  size_t depth() const { return stack_.size(); }
  // The key of the next value placed in the open object.
  void SetKey(std::string key) { pending_key_ = std::move(key); }
  // Places a scalar in the open container (or as the root).
  void Put(Json v) { Place(std::move(v)); }
  // Places an empty object or array and makes it the open container.
  void Open(Json container) {
    std::string segment = stack_.empty() ? "" : NextSegment();
    Json* placed = Place(std::move(container));
    stack_.push_back({placed, std::move(segment)});
  }
  void Close() { stack_.pop_back(); }

  // The path of the open container.
  std::string ContainerPath() const { return Join(""); }
  // The path of the value about to be placed.
  std::string ValuePath() const {
    return Join(stack_.empty() ? "" : NextSegment());
  }

  Json TakeRoot() { return std::move(root_); }

 private:
  struct Frame {
    Json* container;
    std::string segment;  // path segment of this container
  };

  std::string Join(absl::string_view last) const {
    std::string path(name_);
    for (const Frame& f : stack_) absl::StrAppend(&path, f.segment);
    absl::StrAppend(&path, last);
    if (!path.empty() && path[0] == '.') path.erase(0, 1);
    return path.empty() ? "$" : path;
  }

  std::string NextSegment() const {
    const Json& top = *stack_.back().container;
    if (top.is_array()) return absl::StrCat("[", top.size(), "]");
    if (IsPlainKey(pending_key_)) return absl::StrCat(".", pending_key_);
    return absl::StrCat("[", Shorten(Json(pending_key_).dump(-1, ' ', true)),
                        "]");
  }

  // Places `v` in the open container (or as the root); the placed value.
  Json* Place(Json v) {
    if (stack_.empty()) {
      root_ = std::move(v);
      return &root_;
    }
    Json& top = *stack_.back().container;
    if (top.is_array()) {
      top.push_back(std::move(v));
      return &top.back();
    }
    Json& slot = top[pending_key_];
    slot = std::move(v);
    return &slot;
  }

  std::string name_;
  Json root_;
  std::vector<Frame> stack_;
  std::string pending_key_;
};

// Checks that every number's canonical form has exactly the value that was
// written. The parser hands numbers over in document order; `written` holds
// their text in the same order (NumberTokens).
class NumberCheck {
 public:
  explicit NumberCheck(std::vector<absl::string_view> written)
      : written_(std::move(written)) {}

  // The next number, in canonical form ("" when it has none: beyond the
  // double range), at the value path of `tree`. Remembers the first number
  // whose canonical form has another value than its text.
  void Next(const std::string& canonical, const DocumentTree& tree) {
    const absl::string_view written =
        next_ < written_.size() ? written_[next_] : "";
    ++next_;
    const bool exact =
        !canonical.empty() && ParseDecimal(written) == ParseDecimal(canonical);
    if (error_.empty() && !exact) {
      error_ = NumberError(tree.ValuePath(), written,
                           canonical.empty()
                               ? "beyond the range of an IEEE-754 double"
                               : absl::StrCat("it would become ", canonical));
    }
  }

  // The first mismatch, "" if none. Meaningful only if the whole text
  // parses: in broken JSON the token list may not line up with the
  // parser's numbers.
  const std::string& error() const { return error_; }

 private:
  std::vector<absl::string_view> written_;
  size_t next_ = 0;
  std::string error_;
};

// The SAX handler: builds the document while checking what nlohmann does
// not: repeated keys (it would keep the last one), nesting depth, and every
// number (NumberCheck).
class CheckingBuilder {
 public:
  CheckingBuilder(absl::string_view name,
                  std::vector<absl::string_view> numbers)
      : prefix_(name.empty() ? "" : absl::StrCat(name, ": ")),
        tree_(name),
        numbers_(std::move(numbers)) {}

  bool null() { return Put(Json(nullptr)); }
  bool boolean(bool v) { return Put(Json(v)); }
  bool number_integer(Json::number_integer_t v) {
    return Number(Json(v), absl::StrCat(v));
  }
  bool number_unsigned(Json::number_unsigned_t v) {
    return Number(Json(v), absl::StrCat(v));
  }
  bool number_float(Json::number_float_t v, const std::string&) {
    // Beyond the double range the reader keeps an infinity (dumped as null)
    // or, below it, zero: both are caught by the comparison, as is any text
    // with more digits than the double keeps.
    if (!std::isfinite(v)) return Number(Json(nullptr), "");
    Json j(v);
    const std::string canonical = j.dump();
    return Number(std::move(j), canonical);
  }
  bool string(std::string& v) { return Put(Json(std::move(v))); }
  bool binary(Json::binary_t&) { return Fail("binary values are not JSON"); }
  bool start_object(std::size_t) {
    if (!Open(Json::object())) return false;
    keys_.emplace_back();
    return true;
  }
  bool key(std::string& k) {
    if (!keys_.back().insert(k).second) {
      return Fail(absl::StrCat(
          prefix_, "duplicate key ", Json(k).dump(-1, ' ', true),
          tree_.depth() > 1 ? absl::StrCat(" in ", tree_.ContainerPath())
                            : ""));
    }
    tree_.SetKey(std::move(k));
    return true;
  }
  bool end_object() {
    keys_.pop_back();
    tree_.Close();
    return true;
  }
  bool start_array(std::size_t) { return Open(Json::array()); }
  bool end_array() {
    tree_.Close();
    return true;
  }
  bool parse_error(std::size_t, const std::string& last_token,
                   const nlohmann::detail::exception& e) {
    // 406: a number beyond the double range, e.g. 1e400.
    if (e.id == 406) {
      return Fail(NumberError(tree_.ValuePath(), last_token,
                              "beyond the range of an IEEE-754 double"));
    }
    return Fail(absl::StrCat(prefix_, "not valid JSON: ", e.what()));
  }

  // After a successful parse: the document, or the first number that could
  // not be kept exactly.
  absl::StatusOr<Json> Result() {
    if (!error_.empty()) return absl::InvalidArgumentError(error_);
    if (!numbers_.error().empty()) {
      return absl::InvalidArgumentError(numbers_.error());
    }
    return tree_.TakeRoot();
  }
  const std::string& error() const { return error_; }

 private:
  bool Fail(std::string message) {
    if (error_.empty()) error_ = std::move(message);
    return false;
  }

  bool Put(Json v) {
    tree_.Put(std::move(v));
    return true;
  }

  bool Number(Json v, const std::string& canonical) {
    numbers_.Next(canonical, tree_);
    return Put(std::move(v));
  }

  bool Open(Json container) {
    if (static_cast<int>(tree_.depth()) >= kMaxJsonDepth) {
      return Fail(absl::StrCat(prefix_, "nested deeper than ", kMaxJsonDepth,
                               " levels"));
    }
    tree_.Open(std::move(container));
    return true;
  }

  std::string prefix_;
  DocumentTree tree_;
  NumberCheck numbers_;
  std::vector<std::set<std::string>> keys_;
  std::string error_;
};

}  // namespace

absl::StatusOr<std::string> CanonicalizeJsonObject(absl::string_view text,
                                                   absl::string_view name) {
  // nlohmann's lexer takes a NUL byte for the end of the input and would
  // silently drop whatever follows it; a raw NUL is never valid JSON.
  if (size_t nul = text.find('\0'); nul != absl::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, name.empty() ? "" : ": ",
                     "not valid JSON: NUL byte at offset ", nul));
  }
  CheckingBuilder builder(name, NumberTokens(text));
  try {
    if (!Json::sax_parse(text.begin(), text.end(), &builder) &&
        builder.error().empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(name, name.empty() ? "" : ": ", "not valid JSON"));
    }
  } catch (const Json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(
        name, name.empty() ? "" : ": ", "not valid JSON: ", e.what()));
  }
  absl::StatusOr<Json> value = builder.Result();
  if (!value.ok()) return value.status();
  if (!value->is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, name.empty() ? "" : ": ",
                     "must be a JSON object, got ", value->type_name()));
  }
  try {
    return value->dump();
  } catch (const Json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(
        name, name.empty() ? "" : ": ", "not encodable: ", e.what()));
  }
}

std::string ActionDigest(absl::string_view action, absl::string_view resource,
                         absl::string_view canonical_parameters) {
  Json doc = Json::object();
  doc["action"] = std::string(action);
  doc["resource"] = std::string(resource);
  doc["parameters"] = Json::parse(canonical_parameters);
  return Sha256Hex(doc.dump());
}

}  // namespace approval
