#include "server/domain/masking.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdlib>
#include <unordered_map>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"
#include "wire/canonical.h"

namespace approval {
namespace {

using Json = nlohmann::json;

constexpr size_t kDetectorCount = 7;
// Indexed by the Detector's value; keep in enum order.
constexpr std::array<absl::string_view, kDetectorCount> kDetectorNames = {
    "email",          "payment_card", "us_ssn",          "iban",
    "aws_access_key", "bearer_token", "pem_private_key",
};

constexpr size_t kFingerprintHexChars = 16;
constexpr size_t kMaxLabelBytes = 32;
// Larger indices cannot address an array in a 64 KiB document anyway; the
// cap keeps the parse free of overflow.
constexpr size_t kMaxIndexDigits = 9;

using DetectorSet = std::array<bool, kDetectorCount>;

DetectorSet EnabledDetectors(const std::vector<Detector>& detectors) {
  DetectorSet enabled{};
  for (Detector d : detectors) {
    const size_t i = static_cast<size_t>(d);
    if (i < kDetectorCount) enabled[i] = true;
  }
  return enabled;
}

bool IsOn(const DetectorSet& enabled, Detector d) {
  return enabled[static_cast<size_t>(d)];
}

bool IsDigit(char c) { return absl::ascii_isdigit(c); }
bool IsAlpha(char c) { return absl::ascii_isalpha(c); }
bool IsAlnum(char c) { return absl::ascii_isalnum(c); }
bool IsUpperOrDigit(char c) {
  return absl::ascii_isupper(c) || absl::ascii_isdigit(c);
}

// ---------------------------------------------------------------------------
// Detectors. Each scanner appends the [begin, end) byte ranges it finds.
// All of them run in time linear in the text (with small constant factors):
// they anchor on a cheap first character or on std::string_view::find, never
// backtrack more than a bounded distance, and skip past every match, because
// parameters of up to 64 KiB are attacker-controlled.
// ---------------------------------------------------------------------------

struct Match {
  size_t begin;
  size_t end;
  Detector type;
};

bool IsEmailLocalChar(char c) {
  return IsAlnum(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-';
}
bool IsDomainChar(char c) { return IsAlnum(c) || c == '-'; }

// local@label.label…: at least two labels, the last one (the TLD) two or
// more letters. Neither side can contain '@', so the scans that start at
// neighbouring '@'s never overlap by more than the text between them.
void FindEmails(absl::string_view t, std::vector<Match>* out) {
  for (size_t at = t.find('@'); at != absl::string_view::npos;
       at = t.find('@', at + 1)) {
    size_t begin = at;
    while (begin > 0 && IsEmailLocalChar(t[begin - 1])) --begin;
    if (begin == at) continue;
    size_t pos = at + 1;
    size_t labels = 0;
    size_t end = 0;  // 0: no valid domain yet
    while (pos < t.size() && IsDomainChar(t[pos])) {
      const size_t label_begin = pos;
      bool letters_only = true;
      while (pos < t.size() && IsDomainChar(t[pos])) {
        letters_only = letters_only && IsAlpha(t[pos]);
        ++pos;
      }
      ++labels;
      // Ending at the last label that can be a TLD leaves "a@b.com.42" as
      // the address plus ".42" rather than missing it.
      if (labels >= 2 && letters_only && pos - label_begin >= 2) end = pos;
      if (pos + 1 < t.size() && t[pos] == '.' && IsDomainChar(t[pos + 1])) {
        ++pos;
      } else {
        break;
      }
    }
    if (end != 0) out->push_back({begin, end, Detector::kEmail});
  }
}

bool LuhnValid(absl::string_view digits) {
  int sum = 0;
  bool twice = false;
  for (size_t i = digits.size(); i-- > 0;) {
    int d = digits[i] - '0';
    if (twice) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    twice = !twice;
  }
  return sum % 10 == 0;
}

constexpr size_t kMinCardDigits = 13;
constexpr size_t kMaxCardDigits = 19;
// Real cards are printed in groups of 4-6 digits (4-4-4-4, 4-6-5, …); the
// lower bound of 3 keeps lists of small numbers ("1 2 3 …", "10 20 30 …"),
// which pass Luhn one time in ten, from reading as cards.
constexpr size_t kMinCardGroup = 3;
constexpr size_t kMaxCardGroup = 6;

bool IsCardNumber(absl::string_view digits) {
  return digits.size() >= kMinCardDigits && digits.size() <= kMaxCardDigits &&
         LuhnValid(digits);
}

struct DigitGroup {
  size_t begin;
  size_t end;
  size_t size() const { return end - begin; }
};

// `groups` are maximal digit runs joined by single separators. A card is one
// whole run of 13-19 digits, or consecutive runs of 3-6 digits joined by the
// same separator, 13-19 digits in all; both must pass Luhn. Using whole runs
// only is what keeps 16 digits inside a longer number from matching.
void FindCardsInChain(absl::string_view t,
                      const std::vector<DigitGroup>& groups,
                      std::vector<Match>* out) {
  std::string digits;
  size_t start = 0;
  while (start < groups.size()) {
    const DigitGroup& first = groups[start];
    size_t best = groups.size();  // index of the last group of the match
    if (IsCardNumber(t.substr(first.begin, first.size()))) best = start;
    if (first.size() >= kMinCardGroup && first.size() <= kMaxCardGroup &&
        start + 1 < groups.size()) {
      const char separator = t[first.end];
      digits.assign(t.data() + first.begin, first.size());
      for (size_t last = start + 1; last < groups.size(); ++last) {
        const DigitGroup& g = groups[last];
        if (t[groups[last - 1].end] != separator || g.size() < kMinCardGroup ||
            g.size() > kMaxCardGroup ||
            digits.size() + g.size() > kMaxCardDigits) {
          break;
        }
        digits.append(t.data() + g.begin, g.size());
        if (IsCardNumber(digits)) best = last;
      }
    }
    if (best < groups.size()) {
      out->push_back({first.begin, groups[best].end, Detector::kPaymentCard});
      start = best + 1;
    } else {
      ++start;
    }
  }
}

void FindPaymentCards(absl::string_view t, std::vector<Match>* out) {
  std::vector<DigitGroup> chain;
  size_t pos = 0;
  while (pos < t.size()) {
    if (!IsDigit(t[pos])) {
      ++pos;
      continue;
    }
    chain.clear();
    while (true) {
      const size_t begin = pos;
      while (pos < t.size() && IsDigit(t[pos])) ++pos;
      chain.push_back({begin, pos});
      if (pos + 1 < t.size() && (t[pos] == ' ' || t[pos] == '-') &&
          IsDigit(t[pos + 1])) {
        ++pos;
      } else {
        break;
      }
    }
    FindCardsInChain(t, chain, out);
  }
}

// Parses exactly `n` digits at t[pos]; -1 if they are not all digits.
int DigitsAt(absl::string_view t, size_t pos, size_t n) {
  int value = 0;
  for (size_t i = 0; i < n; ++i) {
    if (pos + i >= t.size() || !IsDigit(t[pos + i])) return -1;
    value = value * 10 + (t[pos + i] - '0');
  }
  return value;
}

// AAA-GG-SSSS with dashes only; the SSA never issues area 000, 666 or
// 900-999, group 00 or serial 0000, so those are left visible.
void FindUsSsns(absl::string_view t, std::vector<Match>* out) {
  constexpr size_t kLength = 11;
  for (size_t i = 0; i + kLength <= t.size(); ++i) {
    if (!IsDigit(t[i]) || (i > 0 && IsDigit(t[i - 1]))) continue;
    const int area = DigitsAt(t, i, 3);
    const int group = DigitsAt(t, i + 4, 2);
    const int serial = DigitsAt(t, i + 7, 4);
    if (area < 0 || group < 0 || serial < 0 || t[i + 3] != '-' ||
        t[i + 6] != '-') {
      continue;
    }
    if (i + kLength < t.size() && IsDigit(t[i + kLength])) continue;
    if (area == 0 || area == 666 || area >= 900 || group == 0 || serial == 0) {
      continue;
    }
    out->push_back({i, i + kLength, Detector::kUsSsn});
    i += kLength - 1;
  }
}

constexpr size_t kMinIbanChars = 15;
constexpr size_t kMaxIbanChars = 34;

// ISO 13616 / ISO 7064 mod 97-10 over `iban` (upper-case letters and digits,
// no spaces): the first four characters move to the end, letters count as
// 10-35, and the number must leave remainder 1.
bool IbanChecksumValid(absl::string_view iban) {
  int remainder = 0;
  auto add = [&remainder](char c) {
    if (IsDigit(c)) {
      remainder = (remainder * 10 + (c - '0')) % 97;
    } else {
      remainder = (remainder * 100 + (c - 'A' + 10)) % 97;
    }
  };
  for (size_t i = 4; i < iban.size(); ++i) add(iban[i]);
  for (size_t i = 0; i < 4; ++i) add(iban[i]);
  return remainder == 1;
}

// Length of the [A-Z0-9] run at t[pos], counting at most `cap`.
size_t UpperAlnumRun(absl::string_view t, size_t pos, size_t cap) {
  size_t n = 0;
  while (n < cap && pos + n < t.size() && IsUpperOrDigit(t[pos + n])) ++n;
  return n;
}

// Country code, check digits and BBAN: either compact (one word of 15-34
// upper-case letters and digits) or printed in groups of four separated by
// single spaces, the last group 1-4 characters. The grouped form may be
// followed by more upper-case words ("… 00 EUR"), so every group count is
// tried, longest first, against the checksum.
void FindIbans(absl::string_view t, std::vector<Match>* out) {
  std::string compact;
  std::vector<std::pair<size_t, size_t>> group_ends;  // (text end, length)
  for (size_t i = 0; i + 4 <= t.size(); ++i) {
    if (!absl::ascii_isupper(t[i]) || !absl::ascii_isupper(t[i + 1]) ||
        !IsDigit(t[i + 2]) || !IsDigit(t[i + 3]) ||
        (i > 0 && IsAlnum(t[i - 1]))) {
      continue;
    }
    const size_t run = UpperAlnumRun(t, i, kMaxIbanChars + 1);
    const bool bounded = i + run == t.size() || !IsAlnum(t[i + run]);
    if (!bounded) continue;
    if (run >= kMinIbanChars && run <= kMaxIbanChars &&
        IbanChecksumValid(t.substr(i, run))) {
      out->push_back({i, i + run, Detector::kIban});
      i += run - 1;
      continue;
    }
    if (run != 4) continue;
    compact.assign(t.data() + i, 4);
    group_ends.clear();
    size_t pos = i + 4;
    while (pos + 1 < t.size() && t[pos] == ' ' && IsAlnum(t[pos + 1])) {
      const size_t begin = pos + 1;
      const size_t len = UpperAlnumRun(t, begin, 5);
      if (len == 0 || len > 4 ||
          (begin + len < t.size() && IsAlnum(t[begin + len])) ||
          compact.size() + len > kMaxIbanChars) {
        break;
      }
      compact.append(t.data() + begin, len);
      pos = begin + len;
      group_ends.emplace_back(pos, compact.size());
      if (len < 4) break;
    }
    for (size_t g = group_ends.size(); g-- > 0;) {
      const auto [end, length] = group_ends[g];
      if (length >= kMinIbanChars &&
          IbanChecksumValid(absl::string_view(compact).substr(0, length))) {
        out->push_back({i, end, Detector::kIban});
        i = end - 1;
        break;
      }
    }
  }
}

// AKIA (long-term), ASIA (temporary), ABIA and ACCA prefixes plus 16
// characters; the whole word must be exactly that long.
void FindAwsAccessKeys(absl::string_view t, std::vector<Match>* out) {
  constexpr size_t kLength = 20;
  for (size_t i = 0; i + kLength <= t.size(); ++i) {
    if (t[i] != 'A' || (i > 0 && IsAlnum(t[i - 1]))) continue;
    const absl::string_view prefix = t.substr(i, 4);
    if (prefix != "AKIA" && prefix != "ASIA" && prefix != "ABIA" &&
        prefix != "ACCA") {
      continue;
    }
    if (UpperAlnumRun(t, i + 4, 16) != 16) continue;
    if (i + kLength < t.size() && IsAlnum(t[i + kLength])) continue;
    out->push_back({i, i + kLength, Detector::kAwsAccessKey});
    i += kLength - 1;
  }
}

bool IsBase64UrlChar(char c) { return IsAlnum(c) || c == '-' || c == '_'; }

// RFC 6750 b64token, plus '=' anywhere for leniency.
bool IsTokenChar(char c) {
  return IsAlnum(c) || c == '-' || c == '.' || c == '_' || c == '~' ||
         c == '+' || c == '/' || c == '=';
}

size_t Base64UrlRunEnd(absl::string_view t, size_t pos) {
  while (pos < t.size() && IsBase64UrlChar(t[pos])) ++pos;
  return pos;
}

// Header and payload of a JWS are base64url JSON objects, so both start
// with "eyJ" ('{"'); requiring that keeps version numbers and host names
// ("a.b.c") out.
void FindJwts(absl::string_view t, std::vector<Match>* out) {
  constexpr size_t kMinSegment = 10;
  size_t from = 0;
  for (size_t pos = t.find("eyJ", from); pos != absl::string_view::npos;
       pos = t.find("eyJ", from)) {
    from = pos + 1;
    if (pos > 0 && IsBase64UrlChar(t[pos - 1])) continue;
    const size_t header_end = Base64UrlRunEnd(t, pos);
    if (header_end - pos < kMinSegment || header_end >= t.size() ||
        t[header_end] != '.') {
      continue;
    }
    const size_t payload = header_end + 1;
    if (!absl::StartsWith(t.substr(payload), "eyJ")) continue;
    const size_t payload_end = Base64UrlRunEnd(t, payload);
    if (payload_end - payload < kMinSegment || payload_end >= t.size() ||
        t[payload_end] != '.') {
      continue;
    }
    const size_t signature_end = Base64UrlRunEnd(t, payload_end + 1);
    if (signature_end == payload_end + 1) continue;
    out->push_back({pos, signature_end, Detector::kBearerToken});
    from = signature_end;
  }
}

// "Bearer <token>" (any case, one space): the token is masked, the word
// stays so reviewers still see what kind of credential it was.
void FindBearerTokens(absl::string_view t, std::vector<Match>* out) {
  constexpr absl::string_view kWord = "bearer ";
  constexpr size_t kMinToken = 8;
  for (size_t i = 0; i + kWord.size() < t.size(); ++i) {
    if ((t[i] != 'b' && t[i] != 'B') || (i > 0 && IsAlnum(t[i - 1])) ||
        !absl::EqualsIgnoreCase(t.substr(i, kWord.size()), kWord)) {
      continue;
    }
    const size_t begin = i + kWord.size();
    size_t end = begin;
    while (end < t.size() && IsTokenChar(t[end])) ++end;
    if (end - begin < kMinToken) continue;
    out->push_back({begin, end, Detector::kBearerToken});
    i = end - 1;
  }
}

// "RSA PRIVATE KEY", "EC PRIVATE KEY", "ENCRYPTED PRIVATE KEY", "PRIVATE
// KEY", "OPENSSH PRIVATE KEY", and PGP's "PRIVATE KEY BLOCK".
bool IsPrivateKeyLabel(absl::string_view label) {
  constexpr size_t kMaxLabel = 64;
  return label.size() <= kMaxLabel &&
         label.find('\n') == absl::string_view::npos &&
         (absl::EndsWith(label, "PRIVATE KEY") ||
          absl::EndsWith(label, "PRIVATE KEY BLOCK"));
}

constexpr absl::string_view kPemDashes = "-----";

// End of the first "-----END …PRIVATE KEY-----" line at or after `from`, or
// npos.
size_t FindPemEnd(absl::string_view t, size_t from) {
  constexpr absl::string_view kEnd = "-----END ";
  for (size_t e = t.find(kEnd, from); e != absl::string_view::npos;
       e = t.find(kEnd, e + 1)) {
    const size_t label = e + kEnd.size();
    const size_t close = t.find(kPemDashes, label);
    if (close == absl::string_view::npos) return absl::string_view::npos;
    if (IsPrivateKeyLabel(t.substr(label, close - label))) {
      return close + kPemDashes.size();
    }
  }
  return absl::string_view::npos;
}

// From "-----BEGIN …PRIVATE KEY-----" through its END line; to the end of the
// text when the END line is missing (a truncated key is still a key).
void FindPemPrivateKeys(absl::string_view t, std::vector<Match>* out) {
  constexpr absl::string_view kBegin = "-----BEGIN ";
  size_t pos = t.find(kBegin);
  while (pos != absl::string_view::npos) {
    const size_t label = pos + kBegin.size();
    const size_t close = t.find(kPemDashes, label);
    if (close == absl::string_view::npos) return;
    if (!IsPrivateKeyLabel(t.substr(label, close - label))) {
      pos = t.find(kBegin, pos + 1);
      continue;
    }
    size_t end = FindPemEnd(t, close + kPemDashes.size());
    if (end == absl::string_view::npos) end = t.size();
    out->push_back({pos, end, Detector::kPemPrivateKey});
    pos = t.find(kBegin, end);
  }
}

// Every enabled detector's matches, sorted and with overlapping matches
// merged into one (named after its longest part), so that no part of any
// match is left visible.
std::vector<Match> FindAll(absl::string_view text, const DetectorSet& enabled) {
  std::vector<Match> found;
  if (IsOn(enabled, Detector::kEmail)) FindEmails(text, &found);
  if (IsOn(enabled, Detector::kPaymentCard)) FindPaymentCards(text, &found);
  if (IsOn(enabled, Detector::kUsSsn)) FindUsSsns(text, &found);
  if (IsOn(enabled, Detector::kIban)) FindIbans(text, &found);
  if (IsOn(enabled, Detector::kAwsAccessKey)) FindAwsAccessKeys(text, &found);
  if (IsOn(enabled, Detector::kBearerToken)) {
    FindJwts(text, &found);
    FindBearerTokens(text, &found);
  }
  if (IsOn(enabled, Detector::kPemPrivateKey)) {
    FindPemPrivateKeys(text, &found);
  }
  if (found.size() < 2) return found;
  std::sort(found.begin(), found.end(), [](const Match& a, const Match& b) {
    if (a.begin != b.begin) return a.begin < b.begin;
    if (a.end != b.end) return a.end > b.end;
    return a.type < b.type;
  });
  std::vector<Match> merged;
  size_t longest = 0;  // length of the part merged.back() is named after
  for (const Match& m : found) {
    if (merged.empty() || m.begin >= merged.back().end) {
      merged.push_back(m);
      longest = m.end - m.begin;
      continue;
    }
    Match& last = merged.back();
    if (m.end - m.begin > longest) {
      longest = m.end - m.begin;
      last.type = m.type;
    }
    last.end = std::max(last.end, m.end);
  }
  return merged;
}

// ---------------------------------------------------------------------------
// JSON paths.
// ---------------------------------------------------------------------------

struct PathStep {
  enum class Kind { kName, kIndex, kWildcard };
  Kind kind;
  std::string name;  // kName
  size_t index = 0;  // kIndex
};

bool IsDotNameChar(char c) { return IsAlnum(c) || c == '_'; }

absl::Status PathError(absl::string_view problem, size_t pos) {
  return absl::InvalidArgumentError(
      absl::StrCat(problem, " at character ", pos + 1));
}

// The steps of `path`; INVALID_ARGUMENT whose message is the problem and its
// 1-based character position, without the path (callers prefix it).
absl::StatusOr<std::vector<PathStep>> ParseJsonPath(absl::string_view path) {
  if (path.empty()) return absl::InvalidArgumentError("empty; write e.g. $.a");
  if (path[0] != '$') return PathError("must start with \"$\"", 0);
  std::vector<PathStep> steps;
  size_t pos = 1;
  while (pos < path.size()) {
    const char c = path[pos];
    if (c == '.') {
      ++pos;
      if (pos >= path.size()) {
        return PathError("expected a member name or \"*\" after \".\"", pos);
      }
      if (path[pos] == '.') {
        return PathError("recursive descent \"..\" is not supported", pos - 1);
      }
      if (path[pos] == '*') {
        steps.push_back({PathStep::Kind::kWildcard, "", 0});
        ++pos;
        continue;
      }
      const size_t begin = pos;
      while (pos < path.size() && IsDotNameChar(path[pos])) ++pos;
      if (pos == begin) {
        return PathError(
            absl::StrCat("unexpected '", path.substr(pos, 1),
                         "' after \".\"; member names after \".\" are letters,"
                         " digits and _, quote others as ['name']"),
            pos);
      }
      steps.push_back({PathStep::Kind::kName,
                       std::string(path.substr(begin, pos - begin)), 0});
      continue;
    }
    if (c != '[') {
      return PathError(absl::StrCat("unexpected '", path.substr(pos, 1),
                                    "'; expected \".\" or \"[\""),
                       pos);
    }
    const size_t open = pos;
    ++pos;
    if (pos >= path.size()) return PathError("unterminated \"[\"", open);
    const char first = path[pos];
    if (first == '*') {
      ++pos;
      if (pos >= path.size() || path[pos] != ']') {
        return PathError("expected \"]\" after \"[*\"", pos);
      }
      ++pos;
      steps.push_back({PathStep::Kind::kWildcard, "", 0});
    } else if (IsDigit(first)) {
      const size_t begin = pos;
      while (pos < path.size() && IsDigit(path[pos])) ++pos;
      const absl::string_view digits = path.substr(begin, pos - begin);
      if (digits.size() > 1 && digits[0] == '0') {
        return PathError(
            absl::StrCat("index \"", digits, "\" has a leading zero"), begin);
      }
      if (digits.size() > kMaxIndexDigits) {
        return PathError(absl::StrCat("index \"", digits, "\" is too large"),
                         begin);
      }
      if (pos >= path.size() || path[pos] != ']') {
        if (pos < path.size() && path[pos] == ':') {
          return PathError("array slices are not supported", pos);
        }
        return PathError("expected \"]\" after the index", pos);
      }
      ++pos;
      size_t index = 0;
      for (char d : digits) index = index * 10 + static_cast<size_t>(d - '0');
      steps.push_back({PathStep::Kind::kIndex, "", index});
    } else if (first == '\'') {
      ++pos;
      std::string name;
      bool closed = false;
      while (pos < path.size()) {
        const char q = path[pos];
        if (q == '\'') {
          closed = true;
          ++pos;
          break;
        }
        if (q == '\\') {
          if (pos + 1 >= path.size() ||
              (path[pos + 1] != '\'' && path[pos + 1] != '\\')) {
            return PathError(
                "unsupported escape in a quoted name (only \\' and \\\\)", pos);
          }
          name.push_back(path[pos + 1]);
          pos += 2;
          continue;
        }
        name.push_back(q);
        ++pos;
      }
      if (!closed) return PathError("unterminated quoted name", open + 1);
      if (pos >= path.size() || path[pos] != ']') {
        return PathError("expected \"]\" after the quoted name", pos);
      }
      ++pos;
      steps.push_back({PathStep::Kind::kName, std::move(name), 0});
    } else if (first == '"') {
      return PathError("quote names with single quotes, as ['name']", pos);
    } else if (first == '-') {
      return PathError("negative indices are not supported", pos);
    } else if (first == '?') {
      return PathError("filter expressions are not supported", pos);
    } else {
      return PathError(
          absl::StrCat("unexpected '", path.substr(pos, 1),
                       "' after \"[\"; expected an index, * or a quoted name"),
          pos);
    }
  }
  if (steps.empty()) {
    return absl::InvalidArgumentError(
        "selects the whole object; name a member, e.g. $.password");
  }
  return steps;
}

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

std::string MaskedValue(absl::string_view type, const Masker& masker,
                        absl::string_view bytes) {
  return absl::StrCat("<masked:", type, ":", masker.Fingerprint(bytes), ">");
}

// `text` with `matches` (sorted, disjoint) replaced by masked values.
std::string ApplyMatches(absl::string_view text,
                         const std::vector<Match>& matches,
                         const Masker& masker) {
  std::string out;
  out.reserve(text.size() + matches.size() * 48);
  size_t done = 0;
  for (const Match& m : matches) {
    out.append(text.data() + done, m.begin - done);
    out.append(MaskedValue(DetectorName(m.type), masker,
                           text.substr(m.begin, m.end - m.begin)));
    done = m.end;
  }
  out.append(text.data() + done, text.size() - done);
  return out;
}

// Replaces the nodes path rules selected, then runs the detectors over what
// is left, in one top-down walk: an ancestor selected by any rule is masked
// whole (its fingerprint over the original value), so nested or repeated
// selections never mask a masked value again.
class PreviewBuilder {
 public:
  PreviewBuilder(const Masker& masker, const DetectorSet& enabled,
                 const std::unordered_map<const Json*, std::string>& selected)
      : masker_(masker), enabled_(enabled), selected_(selected) {}

  absl::Status Visit(Json& node) {
    if (auto it = selected_.find(&node); it != selected_.end()) {
      node = node.is_string() ? MaskedValue(it->second, masker_,
                                            node.get_ref<const std::string&>())
                              : MaskedValue(it->second, masker_, node.dump());
      return absl::OkStatus();
    }
    switch (node.type()) {
      case Json::value_t::string: {
        std::string& s = node.get_ref<std::string&>();
        std::vector<Match> matches = FindAll(s, enabled_);
        if (!matches.empty()) s = ApplyMatches(s, matches, masker_);
        return absl::OkStatus();
      }
      case Json::value_t::number_integer:
      case Json::value_t::number_unsigned: {
        if (!IsOn(enabled_, Detector::kPaymentCard)) return absl::OkStatus();
        std::string digits = node.dump();
        if (!digits.empty() && digits[0] == '-') digits.erase(0, 1);
        if (IsCardNumber(digits)) {
          node = MaskedValue(DetectorName(Detector::kPaymentCard), masker_,
                             digits);
        }
        return absl::OkStatus();
      }
      case Json::value_t::array:
        for (Json& child : node) {
          if (absl::Status s = Visit(child); !s.ok()) return s;
        }
        return absl::OkStatus();
      case Json::value_t::object:
        return VisitObject(node);
      default:
        return absl::OkStatus();
    }
  }

 private:
  absl::Status VisitObject(Json& node) {
    bool keys_change = false;
    for (auto& [key, value] : node.items()) {
      if (absl::Status s = Visit(value); !s.ok()) return s;
      keys_change = keys_change || !FindAll(key, enabled_).empty();
    }
    if (!keys_change) return absl::OkStatus();
    Json rebuilt = Json::object();
    for (auto& [key, value] : node.items()) {
      std::vector<Match> matches = FindAll(key, enabled_);
      std::string masked_key =
          matches.empty() ? key : ApplyMatches(key, matches, masker_);
      if (rebuilt.contains(masked_key)) {
        // Only a key that already spells another key's masked form can
        // collide; refusing beats silently dropping one of the values.
        return absl::InvalidArgumentError(absl::StrCat(
            "two keys mask to the same preview key \"", masked_key, "\""));
      }
      rebuilt.emplace(std::move(masked_key), std::move(value));
    }
    node = std::move(rebuilt);
    return absl::OkStatus();
  }

  const Masker& masker_;
  const DetectorSet& enabled_;
  const std::unordered_map<const Json*, std::string>& selected_;
};

}  // namespace

absl::string_view DetectorName(Detector d) {
  const size_t i = static_cast<size_t>(d);
  return i < kDetectorCount ? kDetectorNames[i] : "unknown";
}

std::optional<Detector> ParseDetector(absl::string_view name) {
  for (size_t i = 0; i < kDetectorCount; ++i) {
    if (kDetectorNames[i] == name) return static_cast<Detector>(i);
  }
  return std::nullopt;
}

std::vector<Detector> AllDetectors() {
  std::vector<Detector> all;
  for (size_t i = 0; i < kDetectorCount; ++i) {
    all.push_back(static_cast<Detector>(i));
  }
  return all;
}

absl::Status ValidateJsonPath(absl::string_view path) {
  absl::StatusOr<std::vector<PathStep>> steps = ParseJsonPath(path);
  if (!steps.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("JSON path \"", path, "\": ", steps.status().message()));
  }
  return absl::OkStatus();
}

absl::Status ValidateMaskLabel(absl::string_view label) {
  const bool ok = !label.empty() && label.size() <= kMaxLabelBytes &&
                  std::all_of(label.begin(), label.end(), IsDotNameChar);
  if (!ok) {
    return absl::InvalidArgumentError(
        absl::StrCat("label \"", label, "\" must be 1-", kMaxLabelBytes,
                     " letters, digits or _"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<Masker>> Masker::Create(
    MaskingOptions options, std::string fingerprint_key) {
  for (const MaskPathRule& rule : options.paths) {
    absl::StatusOr<std::vector<PathStep>> steps = ParseJsonPath(rule.path);
    absl::Status status =
        steps.ok() ? ValidateMaskLabel(rule.label) : steps.status();
    if (!status.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("masking path \"", rule.path, "\": ", status.message()));
    }
  }
  if (fingerprint_key.size() < kMinFingerprintKeyBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("fingerprint key: ", fingerprint_key.size(),
                     " bytes, minimum is ", kMinFingerprintKeyBytes));
  }
  return std::unique_ptr<Masker>(
      new Masker(std::move(options), std::move(fingerprint_key)));
}

Masker::Masker(MaskingOptions options, std::string key)
    : options_(std::move(options)), key_(std::move(key)) {}

absl::StatusOr<std::string> Masker::MaskParameters(
    absl::string_view canonical_json) const {
  // Re-validating (duplicates, depth) keeps the recursive walk below bounded
  // even for callers that did not canonicalize first.
  absl::StatusOr<std::string> canonical =
      CanonicalizeJsonObject(canonical_json);
  if (!canonical.ok()) return canonical.status();
  Json root = Json::parse(*canonical);

  std::unordered_map<const Json*, std::string> selected;
  std::vector<Json*> nodes;
  for (const MaskPathRule& rule : options_.paths) {
    absl::StatusOr<std::vector<PathStep>> steps = ParseJsonPath(rule.path);
    if (!steps.ok()) return steps.status();  // Create validated it
    nodes.clear();
    Select(root, *steps, 0, &nodes);
    // emplace keeps the first rule's label for a value several rules select.
    for (const Json* n : nodes) selected.emplace(n, rule.label);
  }

  const DetectorSet enabled = EnabledDetectors(options_.detectors);
  PreviewBuilder builder(*this, enabled, selected);
  if (absl::Status s = builder.Visit(root); !s.ok()) return s;
  try {
    return root.dump();
  } catch (const Json::exception& e) {
    // Masks replace ASCII-delimited ranges only, so valid UTF-8 stays valid.
    return absl::InternalError(
        absl::StrCat("masked preview not encodable: ", e.what()));
  }
}

std::string Masker::MaskText(absl::string_view text) const {
  std::vector<Match> matches =
      FindAll(text, EnabledDetectors(options_.detectors));
  if (matches.empty()) return std::string(text);
  return ApplyMatches(text, matches, *this);
}

std::string Masker::Fingerprint(absl::string_view value_bytes) const {
  static const unsigned char kNoBytes = 0;
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  const unsigned char* data =
      value_bytes.empty()
          ? &kNoBytes
          : reinterpret_cast<const unsigned char*>(value_bytes.data());
  // HMAC only fails when OpenSSL cannot allocate; a preview without
  // fingerprints would be wrong, so that is fatal.
  if (HMAC(EVP_sha256(), key_.data(), static_cast<int>(key_.size()), data,
           value_bytes.size(), mac, &mac_len) == nullptr) {
    std::abort();
  }
  return HexEncode(
             absl::string_view(reinterpret_cast<const char*>(mac), mac_len))
      .substr(0, kFingerprintHexChars);
}

}  // namespace approval
