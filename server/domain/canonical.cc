#include "server/domain/canonical.h"

#include <openssl/sha.h>

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

// Builds the document while checking what nlohmann does not: repeated keys
// (it would keep the last one), nesting depth, and that every number's
// canonical form has exactly the value that was written.
class CheckingBuilder {
 public:
  CheckingBuilder(absl::string_view name,
                  std::vector<absl::string_view> numbers)
      : name_(name), numbers_(std::move(numbers)) {}

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
          Prefix(), "duplicate key ", Json(k).dump(-1, ' ', true),
          stack_.size() > 1 ? absl::StrCat(" in ", ContainerPath()) : ""));
    }
    pending_key_ = std::move(k);
    return true;
  }
  bool end_object() {
    keys_.pop_back();
    return Close();
  }
  bool start_array(std::size_t) { return Open(Json::array()); }
  bool end_array() { return Close(); }
  bool parse_error(std::size_t, const std::string& last_token,
                   const nlohmann::detail::exception& e) {
    // 406: a number beyond the double range, e.g. 1e400.
    if (e.id == 406) {
      return Fail(NumberError(Path(), last_token,
                              "beyond the range of an IEEE-754 double"));
    }
    return Fail(absl::StrCat(Prefix(), "not valid JSON: ", e.what()));
  }

  // After a successful parse: the document, or the first number that could
  // not be kept exactly.
  absl::StatusOr<Json> Result() {
    if (!error_.empty()) return absl::InvalidArgumentError(error_);
    if (!number_error_.empty()) {
      return absl::InvalidArgumentError(number_error_);
    }
    return std::move(root_);
  }
  const std::string& error() const { return error_; }

 private:
  struct Frame {
    Json* container;
    std::string segment;  // path segment of this container
  };

  std::string Prefix() const {
    return name_.empty() ? "" : absl::StrCat(name_, ": ");
  }

  // The path of the open container, e.g. parameters.items[2]; "$" for the
  // root when there is no name.
  std::string ContainerPath() const { return Join(""); }
  // The path of the value about to be placed.
  std::string Path() const { return Join(stack_.empty() ? "" : NextSegment()); }
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

  bool Fail(std::string message) {
    if (error_.empty()) error_ = std::move(message);
    return false;
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

  bool Put(Json v) {
    Place(std::move(v));
    return true;
  }

  bool Number(Json v, const std::string& canonical) {
    const absl::string_view written =
        next_number_ < numbers_.size() ? numbers_[next_number_] : "";
    ++next_number_;
    if (number_error_.empty() &&
        (canonical.empty() ||
         !(ParseDecimal(written) == ParseDecimal(canonical)))) {
      // Reported only if the whole text parses: in broken JSON the token
      // list may not line up with the parser's numbers.
      number_error_ = NumberError(
          Path(), written,
          canonical.empty() ? "beyond the range of an IEEE-754 double"
                            : absl::StrCat("it would become ", canonical));
    }
    return Put(std::move(v));
  }

  bool Open(Json container) {
    if (static_cast<int>(stack_.size()) >= kMaxJsonDepth) {
      return Fail(absl::StrCat(Prefix(), "nested deeper than ", kMaxJsonDepth,
                               " levels"));
    }
    std::string segment = stack_.empty() ? "" : NextSegment();
    Json* placed = Place(std::move(container));
    stack_.push_back({placed, std::move(segment)});
    return true;
  }

  bool Close() {
    stack_.pop_back();
    return true;
  }

  std::string name_;
  std::vector<absl::string_view> numbers_;
  size_t next_number_ = 0;
  Json root_;
  std::vector<Frame> stack_;
  std::vector<std::set<std::string>> keys_;
  std::string pending_key_;
  std::string error_;
  std::string number_error_;
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

std::string Sha256(absl::string_view data) {
  unsigned char out[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), out);
  return std::string(reinterpret_cast<const char*>(out), sizeof(out));
}

std::string HexEncode(absl::string_view raw) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(raw.size() * 2);
  for (unsigned char c : raw) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 0xf]);
  }
  return out;
}

std::string Sha256Hex(absl::string_view data) {
  return HexEncode(Sha256(data));
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
