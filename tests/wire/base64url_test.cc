#include "wire/base64url.h"

#include <catch2/catch.hpp>
#include <optional>
#include <string>

namespace approval {
namespace {

TEST_CASE("base64url round-trips every byte at every length", "[base64url]") {
  std::string bytes;
  for (int i = 0; i < 300; ++i) {
    const std::string encoded = Base64UrlEncode(bytes);
    CHECK(encoded.find('=') == std::string::npos);
    const std::optional<std::string> decoded = Base64UrlDecode(encoded);
    REQUIRE(decoded.has_value());
    CHECK(*decoded == bytes);
    bytes.push_back(static_cast<char>(i * 7 + 3));
  }
}

TEST_CASE("base64url encodes with the URL alphabet, unpadded", "[base64url]") {
  CHECK(Base64UrlEncode("\xfb\xff") == "-_8");
  CHECK(Base64UrlEncode("a") == "YQ");
  CHECK(Base64UrlEncode("") == "");
}

TEST_CASE("base64url decoding refuses every non-canonical spelling",
          "[base64url]") {
  CHECK(Base64UrlDecode("YQ==") == std::nullopt);   // padding
  CHECK(Base64UrlDecode("+_8") == std::nullopt);    // standard alphabet
  CHECK(Base64UrlDecode("-/8") == std::nullopt);    // standard alphabet
  CHECK(Base64UrlDecode("YQ\n") == std::nullopt);   // white space
  CHECK(Base64UrlDecode("YWJjZ") == std::nullopt);  // impossible length
  CHECK(Base64UrlDecode("YR") == std::nullopt);     // unused bits set
  CHECK(Base64UrlDecode("YQ") == std::optional<std::string>("a"));
  CHECK(Base64UrlDecode("") == std::optional<std::string>(""));
}

}  // namespace
}  // namespace approval
