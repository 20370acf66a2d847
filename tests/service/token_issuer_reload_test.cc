// TokenIssuer::Replace (signing key rotation on SIGHUP): the new key signs
// from the next call, no token signed before is handed out after, and the
// retired key stays published until its verify_until.
#include <catch2/catch.hpp>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "server/service/token_issuer.h"
#include "server/store/memory_store.h"
#include "tests/support/keys/test_keys.h"
#include "tests/support/test_requests.h"
#include "wire/approval_token.h"

namespace approval {
namespace {

using testing::TestSigner;

// An approval approved through a MemoryStore sealed with the test key.
Approval Approved(MemoryStore& store) {
  RequestInput in;
  in.action = "db.export";
  in.resource = "customers";
  in.justification = "rotation test";
  absl::StatusOr<CreateResult> created = store.Create(
      *MakeNewApproval(in, "agent-1", Limits(), "", OneApproval()));
  REQUIRE(created.ok());
  DecideInput decide;
  decide.approval_id = created->approval.id;
  decide.actor = "alice";
  REQUIRE(store.Decide(decide).ok());
  absl::StatusOr<Approval> a = store.Get(created->approval.id);
  REQUIRE(a.ok());
  REQUIRE(a->state == State::kApproved);
  return *std::move(a);
}

AuditKeyring Trusting(const std::vector<const TokenSigner*>& signers) {
  AuditKeyring keys;
  for (const TokenSigner* s : signers) keys.Add(s->public_key());
  return keys;
}

std::string KidOf(const std::string& token, const IssuerKeys& keys) {
  absl::StatusOr<ApprovalClaims> claims =
      VerifyApprovalToken(token, keys.JwksAt(absl::Now()));
  REQUIRE(claims.ok());
  return claims->key_id;
}

TEST_CASE(
    "TokenIssuer::Replace: the next token is signed by the new key, "
    "not served from before the rotation",
    "[service][reload][keys]") {
  MemoryStore store(absl::Now, TestSigner());
  const Approval a = Approved(store);
  const std::shared_ptr<const TokenSigner> old_key = TestSigner();
  const std::shared_ptr<const TokenSigner> new_key = TokenSigner::Generate();
  TokenIssuer issuer(old_key, Trusting({old_key.get()}));
  absl::StatusOr<std::string> before = issuer.TokenFor(a);
  REQUIRE(before.ok());
  REQUIRE(KidOf(*before, *issuer.current()) == old_key->key_id());

  TokenIssuerOptions options;
  options.retired_keys = {
      PublishedKey{old_key->public_key(), absl::InfiniteFuture()}};
  issuer.Replace(new_key, Trusting({old_key.get(), new_key.get()}), options);
  absl::StatusOr<std::string> after = issuer.TokenFor(a);
  REQUIRE(after.ok());
  CHECK(KidOf(*after, *issuer.current()) == new_key->key_id());
  // The token signed before still verifies against the published set.
  CHECK(KidOf(*before, *issuer.current()) == old_key->key_id());
}

TEST_CASE(
    "TokenIssuer::Replace: the retired key is published after the new "
    "one until its verify_until, then no more",
    "[service][reload][keys]") {
  const std::shared_ptr<const TokenSigner> old_key = TokenSigner::Generate();
  const std::shared_ptr<const TokenSigner> new_key = TokenSigner::Generate();
  const absl::Time until = absl::FromUnixSeconds(2000000000);
  TokenIssuer issuer(old_key, Trusting({old_key.get()}));
  TokenIssuerOptions options;
  options.retired_keys = {PublishedKey{old_key->public_key(), until}};
  issuer.Replace(new_key, Trusting({old_key.get(), new_key.get()}), options);

  const std::shared_ptr<const IssuerKeys> keys = issuer.current();
  CHECK(keys->signer->key_id() == new_key->key_id());
  absl::StatusOr<ApprovalKeySet> during =
      ParseApprovalKeys(keys->JwksAt(until - absl::Seconds(1)));
  REQUIRE(during.ok());
  CHECK(during->keys.size() == 2);
  CHECK(during->keys.count(old_key->key_id()) == 1);
  absl::StatusOr<ApprovalKeySet> after = ParseApprovalKeys(keys->JwksAt(until));
  REQUIRE(after.ok());
  CHECK(after->keys.size() == 1);
  CHECK(after->keys.count(new_key->key_id()) == 1);
}

TEST_CASE("TokenIssuer: a snapshot taken before Replace keeps its keys",
          "[service][reload][keys]") {
  const std::shared_ptr<const TokenSigner> old_key = TokenSigner::Generate();
  TokenIssuer issuer(old_key, Trusting({old_key.get()}));
  const std::shared_ptr<const IssuerKeys> in_flight = issuer.current();
  const std::shared_ptr<const TokenSigner> new_key = TokenSigner::Generate();
  issuer.Replace(new_key, Trusting({old_key.get(), new_key.get()}), {});
  CHECK(in_flight->signer->key_id() == old_key->key_id());
  CHECK(issuer.current()->signer->key_id() == new_key->key_id());
}

}  // namespace
}  // namespace approval
