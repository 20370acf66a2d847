#include "server/domain/masking.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <cstdlib>
#include <unordered_map>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"
#include "server/domain/json_path.h"
#include "server/domain/masking_detectors.h"
#include "wire/canonical.h"

namespace approval {
namespace {

using Json = nlohmann::json;

constexpr size_t kFingerprintHexChars = 16;
constexpr size_t kMaxLabelBytes = 32;

std::string MaskedValue(absl::string_view type, const Masker& masker,
                        absl::string_view bytes) {
  return absl::StrCat("<masked:", type, ":", masker.Fingerprint(bytes), ">");
}

// `text` with `matches` (sorted, disjoint) replaced by masked values.
std::string ApplyMatches(absl::string_view text,
                         const std::vector<DetectorMatch>& matches,
                         const Masker& masker) {
  std::string out;
  out.reserve(text.size() + matches.size() * 48);
  size_t done = 0;
  for (const DetectorMatch& m : matches) {
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
        std::vector<DetectorMatch> matches = FindDetectorMatches(s, enabled_);
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
      keys_change = keys_change || !FindDetectorMatches(key, enabled_).empty();
    }
    if (!keys_change) return absl::OkStatus();
    Json rebuilt = Json::object();
    for (auto& [key, value] : node.items()) {
      std::vector<DetectorMatch> matches = FindDetectorMatches(key, enabled_);
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
    nodes = SelectJsonPath(root, *steps);
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
  std::vector<DetectorMatch> matches =
      FindDetectorMatches(text, EnabledDetectors(options_.detectors));
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
