// The bare gRPC 1.51 callback server of bench/run.sh's ceilings: Unary
// answers with its request, Hold sends headers and then holds the stream
// until the client cancels. No auth, no store, no metrics: what the broker's
// figures are divided by.
//
//   bench_echo_server [--listen 127.0.0.1:0]
// Prints "listening on 127.0.0.1:<port>" on stdout once it serves; serves
// until SIGTERM or SIGINT.
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>

#include "echo.grpc.pb.h"
#include "grpcpp/grpcpp.h"

namespace approval::bench {
namespace {

class HoldReactor final : public grpc::ServerWriteReactor<EchoMessage> {
 public:
  HoldReactor() { StartSendInitialMetadata(); }
  void OnCancel() override { Finish(grpc::Status::CANCELLED); }
  void OnDone() override { delete this; }
};

class EchoService final : public Echo::CallbackService {
  grpc::ServerUnaryReactor* Unary(grpc::CallbackServerContext* ctx,
                                  const EchoMessage* request,
                                  EchoMessage* response) override {
    *response = *request;
    grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
  grpc::ServerWriteReactor<EchoMessage>* Hold(grpc::CallbackServerContext*,
                                              const EchoMessage*) override {
    return new HoldReactor();
  }
};

int Main(int argc, char** argv) {
  std::string listen = "127.0.0.1:0";
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--listen") == 0) listen = argv[i + 1];
  }
  // Block the signals here so that sigwait below takes them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  EchoService service;
  int port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort(listen, grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    std::fprintf(stderr, "cannot listen on %s\n", listen.c_str());
    return 1;
  }
  std::string host = listen.substr(0, listen.rfind(':'));
  std::printf("listening on %s:%d\n", host.c_str(), port);
  std::fflush(stdout);
  int signal = 0;
  sigwait(&signals, &signal);
  server->Shutdown(std::chrono::system_clock::now());  // cancels held streams
  return 0;
}

}  // namespace
}  // namespace approval::bench

int main(int argc, char** argv) { return approval::bench::Main(argc, argv); }
