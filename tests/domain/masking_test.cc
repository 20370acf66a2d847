#include "server/domain/masking.h"

#include <catch2/catch.hpp>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"
#include "wire/canonical.h"

namespace approval {
namespace {

using Json = nlohmann::json;

const std::string kKey(32, 'k');

std::unique_ptr<Masker> MakeMasker(MaskingOptions options = {},
                                   std::string key = kKey) {
  absl::StatusOr<std::unique_ptr<Masker>> masker =
      Masker::Create(std::move(options), std::move(key));
  REQUIRE(masker.ok());
  return *std::move(masker);
}

std::unique_ptr<Masker> MakeMaskerWithPaths(std::vector<MaskPathRule> paths) {
  MaskingOptions options;
  options.paths = std::move(paths);
  return MakeMasker(std::move(options));
}

std::string Masked(const Masker& masker, absl::string_view type,
                   absl::string_view value) {
  return absl::StrCat("<masked:", type, ":", masker.Fingerprint(value), ">");
}

// The preview of `params` (any JSON object), parsed back for inspection.
Json Preview(const Masker& masker, const Json& params) {
  absl::StatusOr<std::string> preview = masker.MaskParameters(params.dump());
  REQUIRE(preview.ok());
  return Json::parse(*preview);
}

// One clear positive example per detector.
struct Secret {
  Detector detector;
  std::string value;
};

std::vector<Secret> PositiveExamples() {
  return {
      {Detector::kEmail, "alice.smith+ops@mail.example.co.uk"},
      {Detector::kPaymentCard, "4111 1111 1111 1111"},
      {Detector::kUsSsn, "123-45-6789"},
      {Detector::kIban, "DE89 3704 0044 0532 0130 00"},
      {Detector::kAwsAccessKey, "AKIAIOSFODNN7EXAMPLE"},
      {Detector::kBearerToken,
       "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
       "eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MD"
       "IyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"},
      {Detector::kPemPrivateKey,
       "-----BEGIN RSA PRIVATE KEY-----\n"
       "MIIEowIBAAKCAQEA0Z3VS5JJcds3xfn/ygWyF8PbnGy0AHB7MhgwMbRvI0MBZhpF\n"
       "-----END RSA PRIVATE KEY-----"},
  };
}

// --- Names ---------------------------------------------------------------

TEST_CASE("detector names round-trip through ParseDetector") {
  for (Detector d : AllDetectors()) {
    std::optional<Detector> parsed = ParseDetector(DetectorName(d));
    REQUIRE(parsed.has_value());
    CHECK(*parsed == d);
  }
}

TEST_CASE("detector names are the documented snake_case names in enum order") {
  std::vector<std::string> names;
  for (Detector d : AllDetectors()) names.emplace_back(DetectorName(d));
  CHECK(names == std::vector<std::string>{"email", "payment_card", "us_ssn",
                                          "iban", "aws_access_key",
                                          "bearer_token", "pem_private_key"});
}

TEST_CASE("an unknown detector name does not parse") {
  CHECK_FALSE(ParseDetector("credit_card").has_value());
  CHECK_FALSE(ParseDetector("Email").has_value());
  CHECK_FALSE(ParseDetector("").has_value());
}

// --- Fingerprints -----------------------------------------------------------

TEST_CASE("a fingerprint is the first 16 hex characters of HMAC-SHA-256") {
  // RFC 4231 test case 6: 131 bytes of 0xaa as the key.
  auto masker = MakeMasker({}, std::string(131, '\xaa'));
  CHECK(masker->Fingerprint(
            "Test Using Larger Than Block-Size Key - Hash Key First") ==
        "60e431591ee0b67f");
}

TEST_CASE("a fingerprint is 16 lower-case hex characters") {
  auto masker = MakeMasker();
  for (absl::string_view value : {"", "x", "4111111111111111"}) {
    std::string fp = masker->Fingerprint(value);
    CHECK(fp.size() == 16);
    CHECK(fp.find_first_not_of("0123456789abcdef") == std::string::npos);
  }
}

TEST_CASE("equal values get equal fingerprints under one key") {
  auto a = MakeMasker();
  auto b = MakeMasker();
  CHECK(a->Fingerprint("4111111111111111") ==
        b->Fingerprint("4111111111111111"));
  CHECK(a->MaskText("card 4111111111111111") ==
        "card " + b->MaskText("4111111111111111"));
}

TEST_CASE("different values get different fingerprints") {
  auto masker = MakeMasker();
  CHECK(masker->Fingerprint("4111111111111111") !=
        masker->Fingerprint("5555555555554444"));
}

TEST_CASE("the same value gets different fingerprints under different keys") {
  auto a = MakeMasker({}, std::string(32, 'a'));
  auto b = MakeMasker({}, std::string(32, 'b'));
  CHECK(a->Fingerprint("4111111111111111") !=
        b->Fingerprint("4111111111111111"));
  CHECK(a->MaskText("4111111111111111") != b->MaskText("4111111111111111"));
}

TEST_CASE("a masked value reads <masked:TYPE:FINGERPRINT>") {
  auto masker = MakeMasker();
  CHECK(masker->MaskText("4111111111111111") ==
        "<masked:payment_card:" + masker->Fingerprint("4111111111111111") +
            ">");
}

// --- Masker::Create -------------------------------------------------------

TEST_CASE("a fingerprint key shorter than 32 bytes is rejected") {
  absl::StatusOr<std::unique_ptr<Masker>> masker =
      Masker::Create({}, std::string(31, 'k'));
  REQUIRE(masker.status().code() == absl::StatusCode::kInvalidArgument);
  CHECK_THAT(std::string(masker.status().message()),
             Catch::Contains("31 bytes") && Catch::Contains("32"));
}

TEST_CASE("a fingerprint key of exactly 32 bytes is accepted") {
  CHECK(Masker::Create({}, std::string(32, 'k')).ok());
}

TEST_CASE("Masker::Create rejects an invalid path and names the rule") {
  MaskingOptions options;
  options.paths = {{"$.ok", "redacted"}, {"$..password", "redacted"}};
  absl::StatusOr<std::unique_ptr<Masker>> masker =
      Masker::Create(options, kKey);
  REQUIRE(masker.status().code() == absl::StatusCode::kInvalidArgument);
  CHECK_THAT(std::string(masker.status().message()),
             Catch::Contains("\"$..password\"") &&
                 Catch::Contains("recursive descent"));
}

TEST_CASE("Masker::Create rejects an invalid label and names rule and label") {
  for (std::string label : {std::string(""), std::string("has-dash"),
                            std::string("has space"), std::string(33, 'a')}) {
    MaskingOptions options;
    options.paths = {{"$.secret", label}};
    absl::StatusOr<std::unique_ptr<Masker>> masker =
        Masker::Create(options, kKey);
    INFO("label: " << label);
    REQUIRE(masker.status().code() == absl::StatusCode::kInvalidArgument);
    CHECK_THAT(std::string(masker.status().message()),
               Catch::Contains("\"$.secret\"") &&
                   Catch::Contains("label \"" + label + "\""));
  }
}

TEST_CASE("labels of letters, digits and _ up to 32 bytes are valid") {
  CHECK(ValidateMaskLabel("a").ok());
  CHECK(ValidateMaskLabel("customer_email_2").ok());
  CHECK(ValidateMaskLabel(std::string(32, 'Z')).ok());
  CHECK(ValidateMaskLabel("e-mail").code() ==
        absl::StatusCode::kInvalidArgument);
}

// --- ValidateJsonPath -------------------------------------------------------

TEST_CASE("paths in the supported subset are valid") {
  for (absl::string_view path :
       {"$.a", "$.rows[*].email", "$.auth['api-key']", "$[0]", "$[*]", "$.*",
        "$.a[10][*].b", "$['a b']['']", "$['it\\'s']", "$['back\\\\slash']",
        "$.snake_case_2"}) {
    INFO("path: " << path);
    CHECK(ValidateJsonPath(path).ok());
  }
}

TEST_CASE("invalid paths are rejected with the problem and its position") {
  struct Case {
    absl::string_view path;
    std::string expected;
  };
  for (const Case& c : std::vector<Case>{
           {"", "empty"},
           {"password", "must start with \"$\" at character 1"},
           {"$", "selects the whole object"},
           {"$..a", "recursive descent \"..\" is not supported at character 2"},
           {"$.", "expected a member name or \"*\" after \".\" at character 3"},
           {"$.user-id",
            "unexpected '-'; expected \".\" or \"[\" at character 7"},
           {"$.-a", "quote others as ['name'] at character 3"},
           {"$[", "unterminated \"[\" at character 2"},
           {"$[01]", "index \"01\" has a leading zero at character 3"},
           {"$[-1]", "negative indices are not supported at character 3"},
           {"$[0:2]", "array slices are not supported at character 4"},
           {"$[?(@.a)]", "filter expressions are not supported at character 3"},
           {"$[\"a\"]", "quote names with single quotes"},
           {"$['a", "unterminated quoted name at character 3"},
           {"$['a']x", "unexpected 'x'"},
           {"$['a\\n']", "unsupported escape"},
           {"$.a[*", "expected \"]\" after \"[*\" at character 6"},
           {"$[1234567890]", "is too large"},
           {"$[x]", "expected an index, * or a quoted name at character 3"},
           {" $.a", "must start with \"$\""},
       }) {
    INFO("path: " << c.path);
    absl::Status status = ValidateJsonPath(c.path);
    REQUIRE(status.code() == absl::StatusCode::kInvalidArgument);
    CHECK_THAT(std::string(status.message()),
               Catch::Contains(c.expected) &&
                   Catch::Contains(absl::StrCat("\"", c.path, "\"")));
  }
}

// --- Email ------------------------------------------------------------------

TEST_CASE("an email address inside a sentence is masked, the sentence kept") {
  auto masker = MakeMasker();
  CHECK(masker->MaskText("mail alice.smith+ops@mail.example.co.uk today") ==
        "mail " +
            Masked(*masker, "email", "alice.smith+ops@mail.example.co.uk") +
            " today");
}

TEST_CASE("a full stop after an email address is not part of it") {
  auto masker = MakeMasker();
  CHECK(masker->MaskText("write to bob@example.com.") ==
        "write to " + Masked(*masker, "email", "bob@example.com") + ".");
}

TEST_CASE("an email address without a dot in the domain stays visible") {
  auto masker = MakeMasker();
  CHECK(masker->MaskText("alice@localhost") == "alice@localhost");
  CHECK(masker->MaskText("ssh alice@example") == "ssh alice@example");
}

TEST_CASE("an email address with a one-letter or numeric TLD stays visible") {
  auto masker = MakeMasker();
  CHECK(masker->MaskText("alice@example.c") == "alice@example.c");
  CHECK(masker->MaskText("root@10.0.0.1") == "root@10.0.0.1");
}

TEST_CASE("a lone @ or a handle stays visible") {
  auto masker = MakeMasker();
  CHECK(masker->MaskText("ping @alice at 5") == "ping @alice at 5");
  CHECK(masker->MaskText("@example.com") == "@example.com");
}

// --- Payment cards ----------------------------------------------------------

TEST_CASE("a Luhn-valid 16-digit card is masked") {
  auto masker = MakeMasker();
  CHECK(masker->MaskText("4111111111111111") ==
        Masked(*masker, "payment_card", "4111111111111111"));
}

TEST_CASE("a card grouped by spaces or dashes is masked whole") {
  auto masker = MakeMasker();
  for (absl::string_view card :
       {"4111 1111 1111 1111", "5555-5555-5555-4444", "3782 822463 10005"}) {
    INFO("card: " << card);
    CHECK(masker->MaskText(absl::StrCat("pay with ", card, " now")) ==
          absl::StrCat("pay with ", Masked(*masker, "payment_card", card),
                       " now"));
  }
}

TEST_CASE("a Luhn-invalid 16-digit number stays visible") {
  auto masker = MakeMasker();
  CHECK(masker->MaskText("4111111111111112") == "4111111111111112");
  CHECK(masker->MaskText("4111 1111 1111 1112") == "4111 1111 1111 1112");
}

TEST_CASE("a 16-digit order id that fails Luhn stays visible") {
  auto masker = MakeMasker();
  CHECK(masker->MaskText("order 2024061500012345 shipped") ==
        "order 2024061500012345 shipped");
}

TEST_CASE("a valid card number inside a longer digit run stays visible") {
  auto masker = MakeMasker();
  CHECK(masker->MaskText("41111111111111110000") == "41111111111111110000");
  CHECK(masker->MaskText("00004111111111111111") == "00004111111111111111");
}

TEST_CASE("a number after a grouped card stays visible beside the mask") {
  auto masker = MakeMasker();
  CHECK(masker->MaskText("4111 1111 1111 1111 2024") ==
        Masked(*masker, "payment_card", "4111 1111 1111 1111") + " 2024");
}

TEST_CASE("a list of small numbers is not read as a card") {
  auto masker = MakeMasker();
  // Its 16 digits pass Luhn, but no card is printed in groups of two.
  CHECK(masker->MaskText("41 11 11 11 11 11 11 11") ==
        "41 11 11 11 11 11 11 11");
}

// --- US SSNs -------------------------------------------------------------

TEST_CASE("a US SSN with dashes is masked") {
  auto masker = MakeMasker();
  CHECK(masker->MaskText("ssn 123-45-6789.") ==
        "ssn " + Masked(*masker, "us_ssn", "123-45-6789") + ".");
}

TEST_CASE("SSNs in ranges the SSA never issues stay visible") {
  auto masker = MakeMasker();
  for (absl::string_view ssn : {"000-12-3456", "666-12-3456", "900-12-3456",
                                "987-65-4321", "123-00-4567", "123-45-0000"}) {
    INFO("ssn: " << ssn);
    CHECK(masker->MaskText(ssn) == ssn);
  }
}

TEST_CASE("an SSN pattern adjacent to more digits stays visible") {
  auto masker = MakeMasker();
  CHECK(masker->MaskText("1123-45-6789") == "1123-45-6789");
  CHECK(masker->MaskText("123-45-67890") == "123-45-67890");
}

TEST_CASE("an SSN written with spaces instead of dashes stays visible") {
  auto masker = MakeMasker();
  CHECK(masker->MaskText("123 45 6789") == "123 45 6789");
}

// --- IBANs -----------------------------------------------------------------

TEST_CASE("an IBAN in groups of four is masked") {
  auto masker = MakeMasker();
  CHECK(masker->MaskText("to DE89 3704 0044 0532 0130 00, thanks") ==
        "to " + Masked(*masker, "iban", "DE89 3704 0044 0532 0130 00") +
            ", thanks");
}

TEST_CASE("a compact IBAN is masked") {
  auto masker = MakeMasker();
  for (absl::string_view iban :
       {"DE89370400440532013000", "GB82WEST12345698765432",
        "FR1420041010050500013M02606", "NL91ABNA0417164300"}) {
    INFO("iban: " << iban);
    CHECK(masker->MaskText(iban) == Masked(*masker, "iban", iban));
  }
}

TEST_CASE("an upper-case word after a grouped IBAN stays visible") {
  auto masker = MakeMasker();
  CHECK(masker->MaskText("GB82 WEST 1234 5698 7654 32 EUR") ==
        Masked(*masker, "iban", "GB82 WEST 1234 5698 7654 32") + " EUR");
}

TEST_CASE("an IBAN with wrong check digits stays visible") {
  auto masker = MakeMasker();
  CHECK(masker->MaskText("DE88370400440532013000") == "DE88370400440532013000");
  CHECK(masker->MaskText("DE88 3704 0044 0532 0130 00") ==
        "DE88 3704 0044 0532 0130 00");
}

TEST_CASE("an IBAN glued to other letters stays visible") {
  auto masker = MakeMasker();
  CHECK(masker->MaskText("xDE89370400440532013000") ==
        "xDE89370400440532013000");
}

// --- AWS access keys --------------------------------------------------------

TEST_CASE("an AWS access key id is masked") {
  auto masker = MakeMasker();
  for (absl::string_view key :
       {"AKIAIOSFODNN7EXAMPLE", "ASIAY34FZKBOKMUTVV7A"}) {
    INFO("key: " << key);
    CHECK(masker->MaskText(absl::StrCat("aws_access_key_id=", key)) ==
          absl::StrCat("aws_access_key_id=",
                       Masked(*masker, "aws_access_key", key)));
  }
}

TEST_CASE("AKIA with too few characters stays visible") {
  auto masker = MakeMasker();
  CHECK(masker->MaskText("AKIAIOSFODNN7EXAMP") == "AKIAIOSFODNN7EXAMP");
}

TEST_CASE("an AWS-key-like run inside a longer word stays visible") {
  auto masker = MakeMasker();
  CHECK(masker->MaskText("AKIAIOSFODNN7EXAMPLEXYZ") ==
        "AKIAIOSFODNN7EXAMPLEXYZ");
  CHECK(masker->MaskText("XAKIAIOSFODNN7EXAMPLE") == "XAKIAIOSFODNN7EXAMPLE");
}

// --- Bearer tokens ---------------------------------------------------------

TEST_CASE("a JWT is masked whole") {
  auto masker = MakeMasker();
  const std::string jwt = PositiveExamples()[5].value;
  CHECK(masker->MaskText("token " + jwt + ".") ==
        "token " + Masked(*masker, "bearer_token", jwt) + ".");
}

TEST_CASE("a three-part dotted string that is not a JWT stays visible") {
  auto masker = MakeMasker();
  for (absl::string_view text :
       {"release-1.2.3", "www.example.com",
        "abcdefghijkl.mnopqrstuvwx.yzabcdef",
        "eyJhbGciOiJIUzI1NiJ9.bm90LWpzb24tYXQtYWxs.c2ln",
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0."}) {
    INFO("text: " << text);
    CHECK(masker->MaskText(text) == text);
  }
}

TEST_CASE("the value after Bearer is masked and the word kept") {
  auto masker = MakeMasker();
  CHECK(masker->MaskText("Authorization: Bearer mF_9.B5f-4.1JqM") ==
        "Authorization: Bearer " +
            Masked(*masker, "bearer_token", "mF_9.B5f-4.1JqM"));
  CHECK(masker->MaskText("header bearer abcdef0123456789") ==
        "header bearer " + Masked(*masker, "bearer_token", "abcdef0123456789"));
}

TEST_CASE("a short word after bearer stays visible") {
  auto masker = MakeMasker();
  CHECK(masker->MaskText("the bearer bonds") == "the bearer bonds");
  CHECK(masker->MaskText("Bearer abc123") == "Bearer abc123");
}

// --- PEM private keys -----------------------------------------------------

TEST_CASE("a PEM private key block is masked and the text around it kept") {
  auto masker = MakeMasker();
  const std::string pem = PositiveExamples()[6].value;
  CHECK(masker->MaskText("key:\n" + pem + "\nend") ==
        "key:\n" + Masked(*masker, "pem_private_key", pem) + "\nend");
}

TEST_CASE("PKCS#8, EC, encrypted and OpenSSH private keys are masked") {
  auto masker = MakeMasker();
  for (absl::string_view label :
       {"PRIVATE KEY", "EC PRIVATE KEY", "ENCRYPTED PRIVATE KEY",
        "OPENSSH PRIVATE KEY"}) {
    const std::string pem = absl::StrCat(
        "-----BEGIN ", label, "-----\nMIGHAgEAMBMG\n-----END ", label, "-----");
    INFO("pem: " << pem);
    CHECK(masker->MaskText(pem) == Masked(*masker, "pem_private_key", pem));
  }
}

TEST_CASE("a PEM private key without an END line is masked to the end") {
  auto masker = MakeMasker();
  const std::string truncated =
      "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC";
  CHECK(masker->MaskText("k=" + truncated) ==
        "k=" + Masked(*masker, "pem_private_key", truncated));
}

TEST_CASE("a PEM public key block stays visible") {
  auto masker = MakeMasker();
  const std::string pem =
      "-----BEGIN PUBLIC KEY-----\n"
      "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n"
      "-----END PUBLIC KEY-----";
  CHECK(masker->MaskText(pem) == pem);
}

TEST_CASE("a PEM certificate stays visible") {
  auto masker = MakeMasker();
  const std::string pem =
      "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIU\n"
      "-----END CERTIFICATE-----";
  CHECK(masker->MaskText(pem) == pem);
}

// --- Detectors together ------------------------------------------------------

TEST_CASE("several secrets in one text are each masked") {
  auto masker = MakeMasker();
  CHECK(masker->MaskText("a@example.com paid 4111111111111111") ==
        Masked(*masker, "email", "a@example.com") + " paid " +
            Masked(*masker, "payment_card", "4111111111111111"));
}

TEST_CASE("overlapping matches are masked as one") {
  auto masker = MakeMasker();
  // The card and the address overlap; the longer match names the mask.
  CHECK(masker->MaskText("4111111111111111@example.com") ==
        Masked(*masker, "email", "4111111111111111@example.com"));
}

TEST_CASE("text without secrets and non-ASCII text pass through unchanged") {
  auto masker = MakeMasker();
  const std::string text = "Déployer la version 1.2.3 — ticket #4521 ✓";
  CHECK(masker->MaskText(text) == text);
  CHECK(masker->MaskText("") == "");
}

TEST_CASE("only enabled detectors run") {
  MaskingOptions options;
  options.detectors = {Detector::kEmail};
  auto masker = MakeMasker(options);
  CHECK(masker->MaskText("a@example.com 4111111111111111") ==
        Masked(*masker, "email", "a@example.com") + " 4111111111111111");
}

TEST_CASE("with no detectors enabled nothing is masked") {
  MaskingOptions options;
  options.detectors = {};
  auto masker = MakeMasker(options);
  for (const Secret& secret : PositiveExamples()) {
    CHECK(masker->MaskText(secret.value) == secret.value);
  }
  Json params = {{"card", 4111111111111111}, {"a@example.com", "x"}};
  CHECK(Preview(*masker, params) == params);
}

TEST_CASE("each detector alone masks its own example only") {
  const std::vector<Secret> secrets = PositiveExamples();
  std::string all;
  for (const Secret& s : secrets) absl::StrAppend(&all, " | ", s.value);
  for (const Secret& s : secrets) {
    MaskingOptions options;
    options.detectors = {s.detector};
    auto masker = MakeMasker(options);
    const std::string out = masker->MaskText(all);
    DYNAMIC_SECTION(DetectorName(s.detector)) {
      CHECK(out.find(s.value) == std::string::npos);
      CHECK_THAT(out, Catch::Contains(
                          Masked(*masker, DetectorName(s.detector), s.value)));
      for (const Secret& other : secrets) {
        if (other.detector != s.detector) {
          CHECK_THAT(out, Catch::Contains(other.value));
        }
      }
    }
  }
}

TEST_CASE("no detector's secret survives anywhere in text or parameters") {
  auto masker = MakeMasker();
  for (const Secret& s : PositiveExamples()) {
    DYNAMIC_SECTION(DetectorName(s.detector)) {
      const std::string text = masker->MaskText("before " + s.value + " after");
      CHECK(text.find(s.value) == std::string::npos);
      Json params = {{"note", "before " + s.value + " after"},
                     {"list", {s.value, {{"deep", s.value}}}},
                     {s.value, "as a key"}};
      absl::StatusOr<std::string> preview =
          masker->MaskParameters(params.dump());
      REQUIRE(preview.ok());
      // The raw value, and its JSON-escaped form (PEM has newlines).
      CHECK(preview->find(s.value) == std::string::npos);
      const std::string escaped = Json(s.value).dump();
      CHECK(preview->find(escaped.substr(1, escaped.size() - 2)) ==
            std::string::npos);
      CHECK_THAT(*preview, Catch::Contains(absl::StrCat(
                               "<masked:", DetectorName(s.detector), ":")));
    }
  }
}

// --- MaskParameters: detectors -------------------------------------------

TEST_CASE("a secret inside a string parameter is masked in place") {
  auto masker = MakeMasker();
  Json preview =
      Preview(*masker, {{"note", "card 4111111111111111 please"}, {"n", 1}});
  CHECK(preview["note"] ==
        "card " + Masked(*masker, "payment_card", "4111111111111111") +
            " please");
  CHECK(preview["n"] == 1);
}

TEST_CASE("a secret in an object key is masked") {
  auto masker = MakeMasker();
  Json preview = Preview(*masker, {{"grants", {{"alice@example.com", "admin"}}},
                                   {"plain", "value"}});
  Json expected = {
      {"grants", {{Masked(*masker, "email", "alice@example.com"), "admin"}}},
      {"plain", "value"}};
  CHECK(preview == expected);
}

TEST_CASE("a card sent as a JSON integer becomes the masked string") {
  auto masker = MakeMasker();
  Json preview = Preview(*masker, {{"card", 4111111111111111}});
  // Same fingerprint as the card sent as a string of digits.
  CHECK(preview["card"] == masker->MaskText("4111111111111111"));
}

TEST_CASE("an integer that is not a card stays a number") {
  auto masker = MakeMasker();
  Json params = {{"order", 4111111111111112}, {"small", 42}, {"neg", -7}};
  CHECK(Preview(*masker, params) == params);
}

TEST_CASE("an SSN-like integer is not masked because only cards apply") {
  auto masker = MakeMasker();
  Json params = {{"n", 123456789}};
  CHECK(Preview(*masker, params) == params);
}

TEST_CASE("parameters that are not a JSON object are rejected") {
  auto masker = MakeMasker();
  for (absl::string_view bad :
       {"[1,2]", "\"text\"", "{", "", "{\"a\":1,\"a\":2}"}) {
    INFO("input: " << bad);
    CHECK(masker->MaskParameters(bad).status().code() ==
          absl::StatusCode::kInvalidArgument);
  }
}

TEST_CASE("a key that spells another key's masked form is refused") {
  auto masker = MakeMasker();
  Json params = {{"alice@example.com", 1},
                 {Masked(*masker, "email", "alice@example.com"), 2}};
  absl::StatusOr<std::string> preview = masker->MaskParameters(params.dump());
  REQUIRE(preview.status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(std::string(preview.status().message()).find("alice@") ==
        std::string::npos);
}

// --- MaskParameters: path rules --------------------------------------------

TEST_CASE("a path rule masks the selected string with its label") {
  auto masker = MakeMaskerWithPaths({{"$.password", "secret"}});
  Json preview = Preview(*masker, {{"password", "hunter2"}, {"user", "bob"}});
  CHECK(preview["password"] == Masked(*masker, "secret", "hunter2"));
  CHECK(preview["user"] == "bob");
}

TEST_CASE("a path rule without a label shows redacted") {
  MaskPathRule rule;
  rule.path = "$.password";
  auto masker = MakeMaskerWithPaths({rule});
  Json preview = Preview(*masker, {{"password", "hunter2"}});
  CHECK(preview["password"] == Masked(*masker, "redacted", "hunter2"));
}

TEST_CASE("[*] masks the member of every array element") {
  auto masker = MakeMaskerWithPaths({{"$.rows[*].name", "name"}});
  Json preview = Preview(*masker, {{"rows",
                                    {{{"id", 1}, {"name", "Ann"}},
                                     {{"id", 2}, {"name", "Bo"}},
                                     {{"id", 3}}}}});
  CHECK(preview["rows"][0]["name"] == Masked(*masker, "name", "Ann"));
  CHECK(preview["rows"][1]["name"] == Masked(*masker, "name", "Bo"));
  CHECK(preview["rows"][2] == Json{{"id", 3}});
  CHECK(preview["rows"][0]["id"] == 1);
}

TEST_CASE("a quoted name selects a key that needs quoting") {
  auto masker = MakeMaskerWithPaths(
      {{"$.auth['api-key']", "api_key"}, {"$['it\\'s']", "quoted"}});
  Json preview = Preview(
      *masker, {{"auth", {{"api-key", "k-123"}, {"api", "v"}}}, {"it's", "x"}});
  CHECK(preview["auth"]["api-key"] == Masked(*masker, "api_key", "k-123"));
  CHECK(preview["auth"]["api"] == "v");
  CHECK(preview["it's"] == Masked(*masker, "quoted", "x"));
}

TEST_CASE("an index selects only that array element") {
  auto masker = MakeMaskerWithPaths({{"$.list[1]", "second"}});
  Json preview = Preview(*masker, {{"list", {"a", "b", "c"}}});
  CHECK(preview["list"] == Json{"a", Masked(*masker, "second", "b"), "c"});
}

TEST_CASE(".* masks every member of an object") {
  auto masker = MakeMaskerWithPaths({{"$.env.*", "env"}});
  Json preview =
      Preview(*masker, {{"env", {{"A", "1"}, {"B", "2"}}}, {"keep", "k"}});
  CHECK(preview["env"] == Json{{"A", Masked(*masker, "env", "1")},
                               {"B", Masked(*masker, "env", "2")}});
  CHECK(preview["keep"] == "k");
}

TEST_CASE("paths reach into nested arrays") {
  auto masker = MakeMaskerWithPaths({{"$.matrix[*][1]", "cell"}});
  Json preview =
      Preview(*masker, {{"matrix", {{"a", "b"}, {"c", "d"}, {"e"}}}});
  CHECK(preview["matrix"] == Json{{"a", Masked(*masker, "cell", "b")},
                                  {"c", Masked(*masker, "cell", "d")},
                                  {"e"}});
}

TEST_CASE("a path that selects nothing changes nothing") {
  auto masker = MakeMaskerWithPaths({{"$.missing", "x"},
                                     {"$.list[9]", "x"},
                                     {"$.name[0]", "x"},
                                     {"$.name.first", "x"},
                                     {"$.list.a", "x"}});
  Json params = {{"list", {"a", "b"}}, {"name", "Ann"}};
  CHECK(Preview(*masker, params) == params);
}

TEST_CASE("selecting an object masks the whole object") {
  auto masker = MakeMaskerWithPaths({{"$.auth", "credentials"}});
  Json auth = {{"user", "bob"}, {"token", "t0k"}};
  Json preview = Preview(*masker, {{"auth", auth}, {"keep", 1}});
  // The fingerprint covers the object's canonical JSON.
  CHECK(preview["auth"] ==
        Masked(*masker, "credentials", R"({"token":"t0k","user":"bob"})"));
  CHECK(preview["keep"] == 1);
}

TEST_CASE("selecting a number or null masks its canonical JSON") {
  auto masker = MakeMaskerWithPaths({{"$.pin", "pin"}, {"$.none", "n"}});
  Json preview = Preview(*masker, {{"pin", 1234}, {"none", nullptr}});
  CHECK(preview["pin"] == Masked(*masker, "pin", "1234"));
  CHECK(preview["none"] == Masked(*masker, "n", "null"));
}

TEST_CASE(
    "an outer selection wins over an inner one, fingerprinting the "
    "original value") {
  auto masker = MakeMaskerWithPaths({{"$.a.b", "inner"}, {"$.a", "outer"}});
  Json preview = Preview(*masker, {{"a", {{"b", "x"}}}});
  CHECK(preview["a"] == Masked(*masker, "outer", R"({"b":"x"})"));
}

TEST_CASE("the first rule's label wins for a value two rules select") {
  auto masker = MakeMaskerWithPaths({{"$.a", "first"}, {"$.*", "second"}});
  Json preview = Preview(*masker, {{"a", "x"}, {"b", "y"}});
  CHECK(preview["a"] == Masked(*masker, "first", "x"));
  CHECK(preview["b"] == Masked(*masker, "second", "y"));
}

TEST_CASE("path rules apply before detectors") {
  auto masker = MakeMaskerWithPaths({{"$.contact", "contact"}});
  Json preview = Preview(
      *masker, {{"contact", "alice@example.com"}, {"cc", "bob@example.com"}});
  CHECK(preview["contact"] == Masked(*masker, "contact", "alice@example.com"));
  CHECK(preview["cc"] == Masked(*masker, "email", "bob@example.com"));
}

TEST_CASE("path rules select by the original keys, before keys are masked") {
  auto masker = MakeMaskerWithPaths({{"$['bob@example.com']", "who"}});
  Json preview = Preview(*masker, {{"bob@example.com", "v"}});
  CHECK(preview == Json{{Masked(*masker, "email", "bob@example.com"),
                         Masked(*masker, "who", "v")}});
}

TEST_CASE("path rules do not apply to MaskText") {
  auto masker = MakeMaskerWithPaths({{"$.a", "x"}});
  CHECK(masker->MaskText("$.a plain") == "$.a plain");
}

// --- Canonical output -------------------------------------------------------

TEST_CASE("the preview is canonical JSON") {
  auto masker = MakeMaskerWithPaths({{"$.obj", "o"}});
  absl::StatusOr<std::string> canonical = CanonicalizeJsonObject(
      R"({"z":1.5e3,"b":"café 4111111111111111","a":[true,null,-0.25],)"
      R"("obj":{"y":2,"x":1},"k@example.com":{"n":4111111111111111}})");
  REQUIRE(canonical.ok());
  absl::StatusOr<std::string> preview = masker->MaskParameters(*canonical);
  REQUIRE(preview.ok());
  absl::StatusOr<std::string> again = CanonicalizeJsonObject(*preview);
  REQUIRE(again.ok());
  CHECK(*again == *preview);
}

TEST_CASE("parameters without secrets come back byte for byte") {
  auto masker = MakeMasker();
  absl::StatusOr<std::string> canonical = CanonicalizeJsonObject(
      R"({"amount":12.5,"currency":"EUR","items":[1,2,3],"ok":true})");
  REQUIRE(canonical.ok());
  absl::StatusOr<std::string> preview = masker->MaskParameters(*canonical);
  REQUIRE(preview.ok());
  CHECK(*preview == *canonical);
}

// --- Pathological input ---------------------------------------------------

// 64 KiB built from `unit`; only completion matters (ctest has a timeout),
// the scanners are linear so this takes milliseconds.
std::string Repeat(absl::string_view unit) {
  std::string out;
  while (out.size() < 64 * 1024) absl::StrAppend(&out, unit);
  return out;
}

TEST_CASE("64 KiB of adversarial text is masked without blowing up") {
  auto masker = MakeMasker();
  for (absl::string_view unit : {"1",
                                 "@",
                                 "a@",
                                 "a@b.",
                                 "1 ",
                                 "1-",
                                 "4111 ",
                                 "1234-",
                                 "123-45-",
                                 "A",
                                 "AKIA",
                                 "DE89 ",
                                 "DE89",
                                 "eyJ",
                                 "eyJhbGciOiJI.",
                                 "bearer ",
                                 "-",
                                 "-----",
                                 "-----BEGIN ",
                                 "-----BEGIN PRIVATE KEY-----",
                                 "-----END PRIVATE KEY-----",
                                 "a@example.com ",
                                 "4111111111111111 "}) {
    INFO("unit: " << unit);
    const std::string text = Repeat(unit);
    const std::string masked = masker->MaskText(text);
    CHECK_FALSE(masked.empty());
  }
}

TEST_CASE("64 KiB of adversarial parameters are masked without blowing up") {
  auto masker = MakeMaskerWithPaths({{"$[*][*]", "x"}});
  for (absl::string_view unit : {"9", "@", "eyJ.", "4111111111111111 "}) {
    INFO("unit: " << unit);
    Json params = {
        {"value", Repeat(unit)}, {Repeat(unit), 1}, {"list", {Repeat(unit)}}};
    absl::StatusOr<std::string> preview = masker->MaskParameters(params.dump());
    CHECK(preview.ok());
  }
}

}  // namespace
}  // namespace approval
