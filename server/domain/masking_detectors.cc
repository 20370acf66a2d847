#include "server/domain/masking_detectors.h"

#include <algorithm>
#include <cstdint>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"

namespace approval {
namespace {

// Indexed by the Detector's value; keep in enum order.
constexpr std::array<absl::string_view, kDetectorCount> kDetectorNames = {
    "email",          "payment_card", "us_ssn",          "iban",
    "aws_access_key", "bearer_token", "pem_private_key",
};

bool IsDigit(char c) { return absl::ascii_isdigit(c); }
bool IsAlpha(char c) { return absl::ascii_isalpha(c); }
bool IsAlnum(char c) { return absl::ascii_isalnum(c); }
bool IsUpperOrDigit(char c) {
  return absl::ascii_isupper(c) || absl::ascii_isdigit(c);
}

// ---------------------------------------------------------------------------
// Detectors. Each scanner appends the [begin, end) byte ranges it finds.
// All of them run in time linear in the text (with small constant factors):
// they anchor on a cheap first character or on absl::string_view::find, never
// backtrack more than a bounded distance, and skip past every match, because
// parameters of up to 64 KiB are attacker-controlled.
// ---------------------------------------------------------------------------

using Match = DetectorMatch;

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

}  // namespace

bool IsCardNumber(absl::string_view digits) {
  return digits.size() >= kMinCardDigits && digits.size() <= kMaxCardDigits &&
         LuhnValid(digits);
}

namespace {

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

}  // namespace

std::vector<DetectorMatch> FindDetectorMatches(absl::string_view text,
                                               const DetectorSet& enabled) {
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

DetectorSet EnabledDetectors(const std::vector<Detector>& detectors) {
  DetectorSet enabled{};
  for (Detector d : detectors) {
    const size_t i = static_cast<size_t>(d);
    if (i < kDetectorCount) enabled[i] = true;
  }
  return enabled;
}

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

}  // namespace approval
