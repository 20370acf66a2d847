#include "tests/client/client_test_support.h"

#include <catch2/catch.hpp>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "nlohmann/json.hpp"
#include "tests/support/broker/broker_harness.h"
#include "tests/support/keys/test_keys.h"
#include "wire/canonical.h"

namespace approval::testing {
namespace {

std::string RandomHex() {
  std::random_device rd;
  std::string out;
  for (int i = 0; i < 6; ++i)
    absl::StrAppend(&out, absl::Hex(rd(), absl::kZeroPad8));
  return out;
}

}  // namespace

ApprovalRequest ExportOf(const std::string& table) {
  ApprovalRequest r;
  r.action = "db.export";
  r.resource = "postgres://prod/" + table;
  r.parameters_json = nlohmann::json{{"table", table}, {"rows", 1200}}.dump();
  r.justification = "quarterly report";
  return r;
}

std::string ExpectedDigest(const ApprovalRequest& request) {
  absl::StatusOr<std::string> params = CanonicalizeJsonObject(
      request.parameters_json.empty() ? "{}" : request.parameters_json);
  REQUIRE(params.ok());
  return ActionDigest(request.action, request.resource, *params);
}

ClientOptions OptionsFor(const std::string& address, const std::string& token) {
  ClientOptions o;
  o.target = address;
  o.bearer_token = token;
  return o;
}

BrokerCaller::BrokerCaller(
    const std::string& address, std::string token,
    std::shared_ptr<grpc::ChannelCredentials> credentials)
    : stub_(v1::ApprovalBroker::NewStub(
          grpc::CreateChannel(address, std::move(credentials)))),
      token_(std::move(token)) {}

std::unique_ptr<grpc::ClientContext> BrokerCaller::Context() const {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->AddMetadata("authorization", "Bearer " + token_);
  ctx->set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
  return ctx;
}

std::vector<v1::Approval> BrokerCaller::AwaitApprovals(
    v1::State state, size_t count, absl::Duration timeout) const {
  absl::Time give_up = absl::Now() + timeout;
  v1::ListApprovalsRequest req;
  req.set_state(state);
  req.set_page_size(500);
  std::vector<v1::Approval> seen;
  for (;;) {
    v1::ListApprovalsResponse resp;
    if (stub_->ListApprovals(Context().get(), req, &resp).ok()) {
      seen.assign(resp.approvals().begin(), resp.approvals().end());
    }
    if (seen.size() >= count || absl::Now() >= give_up) return seen;
    absl::SleepFor(absl::Milliseconds(20));
  }
}

grpc::Status BrokerCaller::Decide(const std::string& id, v1::Verdict verdict,
                                  const std::string& comment) const {
  v1::DecideRequest req;
  req.set_approval_id(id);
  req.set_verdict(verdict);
  req.set_comment(comment);
  v1::DecideResponse resp;
  return stub_->Decide(Context().get(), req, &resp);
}

grpc::Status BrokerCaller::Cancel(const std::string& id) const {
  v1::CancelApprovalRequest req;
  req.set_approval_id(id);
  req.set_reason("changed my mind");
  v1::Approval resp;
  return stub_->CancelApproval(Context().get(), req, &resp);
}

grpc::Status BrokerCaller::Get(const std::string& id,
                               v1::Approval* approval) const {
  v1::GetApprovalRequest req;
  req.set_approval_id(id);
  return stub_->GetApproval(Context().get(), req, approval);
}

grpc::Status BrokerCaller::GetSigningKey(v1::SigningKey* key) const {
  return stub_->GetSigningKey(Context().get(), v1::GetSigningKeyRequest(), key);
}

BrokerProcess::BrokerProcess(const std::string& database_url)
    : process_(WriteConfig(database_url), dir_.path() + "/broker.log") {}

std::string BrokerProcess::WriteConfig(const std::string& database_url) {
  nlohmann::json tokens = {{"tokens", nlohmann::json::array()}};
  for (const auto& [identity, role] :
       {std::pair<std::string, std::string>{"agent-1", "agent"},
        {"alice", "reviewer"}}) {
    tokens_[identity] = RandomHex();
    tokens["tokens"].push_back({{"sha256", Sha256Hex(tokens_[identity])},
                                {"identity", identity},
                                {"roles", {role}}});
  }
  std::string tokens_path = dir_.Write("tokens.json", tokens.dump());
  return dir_.Write("config.json",
                    nlohmann::json{{"database_url", database_url},
                                   {"listen_address", "127.0.0.1:0"},
                                   {"metrics_address", "127.0.0.1:0"},
                                   {"signing_key_file", TestSigningKeyFile()},
                                   {"auth", {{"tokens_file", tokens_path}}}}
                        .dump());
}

const std::string& BrokerProcess::Token(const std::string& identity) const {
  auto it = tokens_.find(identity);
  REQUIRE(it != tokens_.end());
  return it->second;
}

int BrokerProcess::OpenStreams() const {
  static constexpr char kGauge[] = "\napproval_decision_streams_open ";
  std::string metrics = HttpGet(process_.metrics_port(), "/metrics");
  size_t at = metrics.find(kGauge);
  if (at == std::string::npos) return -1;
  return std::atoi(metrics.c_str() + at + sizeof(kGauge) - 1);
}

}  // namespace approval::testing
