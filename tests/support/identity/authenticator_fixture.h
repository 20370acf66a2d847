// An Authenticator built the way the auth tests need it: on a FakeClock,
// failing the test (Catch REQUIRE) with the config's error when refused.
#ifndef APPROVAL_TESTS_SUPPORT_IDENTITY_AUTHENTICATOR_FIXTURE_H_
#define APPROVAL_TESTS_SUPPORT_IDENTITY_AUTHENTICATOR_FIXTURE_H_

#include <catch2/catch.hpp>
#include <memory>
#include <utility>

#include "absl/status/statusor.h"
#include "server/auth/authenticator.h"
#include "tests/support/identity/fake_clock.h"

namespace approval::testing {

inline std::unique_ptr<Authenticator> MustCreateAuthenticator(
    const AuthConfig& config, const FakeClock& clock) {
  AuthenticatorOptions options;
  options.clock = clock.Function();
  absl::StatusOr<std::unique_ptr<Authenticator>> a =
      Authenticator::Create(config, options);
  INFO(a.status().ToString());
  REQUIRE(a.ok());
  return *std::move(a);
}

}  // namespace approval::testing

#endif  // APPROVAL_TESTS_SUPPORT_IDENTITY_AUTHENTICATOR_FIXTURE_H_
