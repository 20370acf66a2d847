#include "tests/support/proxy/tcp_proxy.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace approval::testing {
namespace {

sockaddr_in Loopback(int port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return addr;
}

absl::Status Errno(absl::string_view what) {
  return absl::UnavailableError(absl::StrCat(what, ": ", std::strerror(errno)));
}

bool SendAll(int fd, const char* data, size_t size) {
  while (size > 0) {
    ssize_t n = send(fd, data, size, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

void NoDelay(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

}  // namespace

absl::StatusOr<std::unique_ptr<TcpProxy>> TcpProxy::Start(int target_port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Errno("socket");
  sockaddr_in addr = Loopback(0);
  socklen_t len = sizeof(addr);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      listen(fd, 64) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    absl::Status s = Errno("listening on 127.0.0.1:0");
    close(fd);
    return s;
  }
  int wake[2];
  if (pipe2(wake, O_CLOEXEC) != 0) {
    absl::Status s = Errno("pipe2");
    close(fd);
    return s;
  }
  return std::unique_ptr<TcpProxy>(
      new TcpProxy(fd, wake[0], wake[1], ntohs(addr.sin_port), target_port));
}

TcpProxy::TcpProxy(int listen_fd, int wake_read_fd, int wake_write_fd, int port,
                   int target_port)
    : listen_fd_(listen_fd),
      wake_read_fd_(wake_read_fd),
      wake_write_fd_(wake_write_fd),
      port_(port),
      target_port_(target_port) {
  acceptor_ = std::thread(&TcpProxy::AcceptLoop, this);
}

TcpProxy::~TcpProxy() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  char byte = 0;
  while (write(wake_write_fd_, &byte, 1) < 0 && errno == EINTR) {
  }
  acceptor_.join();
  std::list<Link> links;
  {
    absl::MutexLock lock(&mu_);
    for (Link& link : links_) ShutDownLocked(link);
    links.swap(links_);  // nodes keep their addresses
  }
  for (Link& link : links) link.thread.join();
  close(listen_fd_);
  close(wake_read_fd_);
  close(wake_write_fd_);
}

std::string TcpProxy::address() const {
  return absl::StrCat("127.0.0.1:", port_);
}

void TcpProxy::SwallowServerToClient() {
  absl::MutexLock lock(&mu_);
  swallow_ = true;
}

void TcpProxy::CutAll() {
  absl::MutexLock lock(&mu_);
  swallow_ = false;
  for (Link& link : links_) ShutDownLocked(link);
}

int TcpProxy::connections() const {
  absl::MutexLock lock(&mu_);
  return accepted_;
}

void TcpProxy::ShutDownLocked(Link& link) {
  // shutdown, not close: the forwarding thread owns the descriptors and
  // wakes up on the end of stream.
  if (link.client_fd >= 0) shutdown(link.client_fd, SHUT_RDWR);
  if (link.server_fd >= 0) shutdown(link.server_fd, SHUT_RDWR);
}

void TcpProxy::AcceptLoop() {
  for (;;) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_read_fd_, POLLIN, 0}};
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[1].revents != 0) return;
    if ((fds[0].revents & POLLIN) == 0) continue;
    int client = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) continue;
    int server = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in target = Loopback(target_port_);
    if (server < 0 || connect(server, reinterpret_cast<sockaddr*>(&target),
                              sizeof(target)) != 0) {
      if (server >= 0) close(server);
      close(client);
      continue;
    }
    NoDelay(client);
    NoDelay(server);
    absl::MutexLock lock(&mu_);
    if (stopping_) {
      close(client);
      close(server);
      return;
    }
    ++accepted_;
    Link& link = links_.emplace_back();
    link.client_fd = client;
    link.server_fd = server;
    link.thread = std::thread(&TcpProxy::Forward, this, &link);
  }
}

void TcpProxy::Forward(Link* link) {
  int client;
  int server;
  {
    absl::MutexLock lock(&mu_);
    client = link->client_fd;
    server = link->server_fd;
  }
  pollfd fds[2] = {{client, POLLIN, 0}, {server, POLLIN, 0}};
  char buf[16384];
  bool open = true;
  while (open) {
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int i = 0; i < 2 && open; ++i) {
      if ((fds[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
      ssize_t n = read(fds[i].fd, buf, sizeof(buf));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        open = false;
        break;
      }
      if (fds[i].fd == server) {
        absl::MutexLock lock(&mu_);
        if (swallow_) continue;
      }
      open = SendAll(fds[i].fd == server ? client : server, buf,
                     static_cast<size_t>(n));
    }
  }
  absl::MutexLock lock(&mu_);
  close(link->client_fd);
  close(link->server_fd);
  link->client_fd = -1;
  link->server_fd = -1;
}

}  // namespace approval::testing
