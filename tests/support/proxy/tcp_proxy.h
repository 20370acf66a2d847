// TcpProxy: forwards TCP connections from 127.0.0.1:<port chosen by the OS>
// to a server on 127.0.0.1, and loses the server's answers on demand, to test
// what a client does when a request was committed but its response never
// arrived.
//
// Thread-safe. Each connection is served by its own thread (poll on both
// sockets); the destructor closes everything and joins them.
#ifndef APPROVAL_TESTS_SUPPORT_PROXY_TCP_PROXY_H_
#define APPROVAL_TESTS_SUPPORT_PROXY_TCP_PROXY_H_

#include <list>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

namespace approval::testing {

class TcpProxy final {
 public:
  // Listens on 127.0.0.1:0 and forwards to 127.0.0.1:`target_port`.
  // UNAVAILABLE if the listening socket cannot be set up.
  static absl::StatusOr<std::unique_ptr<TcpProxy>> Start(int target_port);
  ~TcpProxy();
  TcpProxy(const TcpProxy&) = delete;
  TcpProxy& operator=(const TcpProxy&) = delete;

  // "127.0.0.1:<port>", to dial instead of the server.
  std::string address() const;

  // From now on, bytes from the server to the client are read and dropped,
  // on every connection, until CutAll().
  void SwallowServerToClient();

  // Closes both sides of every open connection and stops swallowing:
  // connections made afterwards pass bytes normally.
  void CutAll();

  // Connections accepted so far.
  int connections() const;

 private:
  struct Link {
    int client_fd = -1;
    int server_fd = -1;
    std::thread thread;
  };

  TcpProxy(int listen_fd, int wake_read_fd, int wake_write_fd, int port,
           int target_port);
  void AcceptLoop();
  void Forward(Link* link);
  void ShutDownLocked(Link& link) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const int listen_fd_;
  const int wake_read_fd_;  // readable once the destructor runs
  const int wake_write_fd_;
  const int port_;
  const int target_port_;
  std::thread acceptor_;

  mutable absl::Mutex mu_;
  bool swallow_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  int accepted_ ABSL_GUARDED_BY(mu_) = 0;
  std::list<Link> links_ ABSL_GUARDED_BY(mu_);
};

}  // namespace approval::testing

#endif  // APPROVAL_TESTS_SUPPORT_PROXY_TCP_PROXY_H_
