// Test 2 of RFC 8032 section 7.1 (Ed25519): a key pair and one signature,
// so that wire tests check against published values, not against the code
// under test.
#ifndef APPROVAL_TESTS_WIRE_RFC8032_H_
#define APPROVAL_TESTS_WIRE_RFC8032_H_

#include <string>

#include "absl/strings/escaping.h"

namespace approval::rfc8032 {

inline std::string PrivateKey() {
  return absl::HexStringToBytes(
      "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb");
}
inline std::string PublicKey() {
  return absl::HexStringToBytes(
      "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c");
}
inline constexpr char kTest2Message[] = "r";  // the one byte 0x72
inline std::string Test2Signature() {
  return absl::HexStringToBytes(
      "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
      "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00");
}
// SHA-256 of PublicKey(), first 16 hex digits.
inline constexpr char kPublicKeyId[] = "39f713d0a644253f";

}  // namespace approval::rfc8032

#endif  // APPROVAL_TESTS_WIRE_RFC8032_H_
