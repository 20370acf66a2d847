// SPIFFE IDs (spiffe://<trust domain>/<path>), parsed by the rules of the
// SPIFFE-ID standard. Pure functions, no I/O.
#ifndef APPROVAL_SERVER_AUTH_SPIFFE_ID_H_
#define APPROVAL_SERVER_AUTH_SPIFFE_ID_H_

#include <optional>
#include <string>

#include "absl/strings/string_view.h"

namespace approval {

struct SpiffeId {
  std::string trust_domain;  // e.g. "example.org"
  std::string path;          // e.g. "/user/alice"; "" for the root ID
};

// True when `name` is a valid trust domain name: 1..255 characters from
// [a-z0-9.-_] (lower case only).
bool IsTrustDomainName(absl::string_view name);

// Parses `uri` as a SPIFFE ID: scheme "spiffe" (lower case), a trust domain
// name, then zero or more "/segment" with segments from [A-Za-z0-9.-_] that
// are neither "." nor ".."; no port, user info, query, fragment, percent
// encoding or trailing slash; at most 2048 bytes. nullopt when it is not one.
std::optional<SpiffeId> ParseSpiffeId(absl::string_view uri);

}  // namespace approval

#endif  // APPROVAL_SERVER_AUTH_SPIFFE_ID_H_
