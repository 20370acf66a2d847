#include "bench/bench_broker.h"

#include <stdlib.h>

#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "grpcpp/grpcpp.h"
#include "server/store/memory_store.h"
#include "server/store/postgres/postgres_store.h"
#include "wire/canonical.h"

namespace approval::bench {

absl::StatusOr<std::unique_ptr<BenchBroker>> BenchBroker::Start(int pool_size) {
  std::unique_ptr<BenchBroker> b(new BenchBroker());
  char dir[] = "/tmp/approval-bench-XXXXXX";
  if (mkdtemp(dir) == nullptr) return absl::InternalError("mkdtemp failed");
  b->dir_ = dir;
  // One key for the store's audit seals and the broker's tokens.
  const std::string key_path = b->dir_ + "/signing-key.pem";
  const std::string key_pem = GenerateSigningKeyPem();
  std::ofstream(key_path) << key_pem;
  std::shared_ptr<const TokenSigner> signer =
      *TokenSigner::FromPrivateKeyPem(key_pem);
  const char* url = std::getenv("APPROVAL_BROKER_BENCH_DATABASE_URL");
  if (url != nullptr) {
    PostgresOptions o;
    o.url = url;
    o.pool_size = pool_size;
    o.audit_signer = signer;
    absl::StatusOr<std::unique_ptr<PostgresStore>> pg = PostgresStore::Open(o);
    if (!pg.ok()) return pg.status();
    b->store_ = *std::move(pg);
    b->store_name_ = "postgresql";
  } else {
    b->store_ = std::make_unique<MemoryStore>(absl::Now, signer);
  }
  std::string tokens_path = b->dir_ + "/tokens.json";
  std::ofstream(tokens_path)
      << absl::StrCat(R"({"tokens":[{"sha256":")", Sha256Hex(kAgentToken),
                      R"(","identity":"agent","roles":["agent"]},{"sha256":")",
                      Sha256Hex(kReviewerToken),
                      R"(","identity":"reviewer","roles":["reviewer"]}]})");
  Config config;
  config.database_url = url != nullptr ? url : "memory";
  config.database_pool_size = pool_size;
  config.listen_address = "127.0.0.1:0";
  config.metrics_address = "";
  config.auth.tokens_file = tokens_path;
  config.signing_key_file = key_path;
  absl::StatusOr<std::unique_ptr<Authenticator>> auth =
      Authenticator::Create(config.auth);
  if (!auth.ok()) return auth.status();
  b->auth_ = *std::move(auth);
  absl::StatusOr<std::unique_ptr<BrokerServer>> server =
      BrokerServer::Start(config, *b->store_, *b->auth_, b->metrics_);
  if (!server.ok()) return server.status();
  b->server_ = *std::move(server);
  return b;
}

BenchBroker::~BenchBroker() {
  server_.reset();
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

std::unique_ptr<v1::ApprovalBroker::Stub> BenchBroker::NewStub() const {
  grpc::ChannelArguments args;
  // A distinct channel per caller: gRPC would otherwise share one connection.
  args.SetInt("approval.bench.channel", rand());
  return v1::ApprovalBroker::NewStub(
      grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", server_->port()),
                                grpc::InsecureChannelCredentials(), args));
}

}  // namespace approval::bench
