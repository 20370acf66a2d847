// The JSON path subset of masking path rules (see MaskPathRule in
// masking.h): "$" then ".name", "['name']", "[N]", "[*]" or ".*" steps.
// Internal to the domain library; masking.h is the public entry
// (ValidateJsonPath).
#ifndef APPROVAL_SERVER_DOMAIN_JSON_PATH_H_
#define APPROVAL_SERVER_DOMAIN_JSON_PATH_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"

namespace approval {

struct PathStep {
  enum class Kind { kName, kIndex, kWildcard };
  Kind kind;
  std::string name;  // kName
  size_t index = 0;  // kIndex
};

// The steps of `path`; INVALID_ARGUMENT whose message is the problem and its
// 1-based character position, without the path (callers prefix it).
absl::StatusOr<std::vector<PathStep>> ParseJsonPath(absl::string_view path);

// The nodes of `root` that `steps` select (none is not an error), in
// document order. The pointers live as long as `root` is not modified.
std::vector<nlohmann::json*> SelectJsonPath(nlohmann::json& root,
                                            const std::vector<PathStep>& steps);

// Letters, digits and _: a member name that needs no quotes after ".".
bool IsDotNameChar(char c);

}  // namespace approval

#endif  // APPROVAL_SERVER_DOMAIN_JSON_PATH_H_
