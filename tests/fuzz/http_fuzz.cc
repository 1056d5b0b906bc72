// The webhook's HTTP/1.1 request parser (admission/http_server.cc): the request line, headers,
// Content-Length and chunked framing, pipelining, Expect: 100-continue, the body limit. The
// parser is the server's own connection state machine, so the input goes to a real HttpServer
// over a loopback socket (plain HTTP: TLS is OpenSSL's), as one client connection that sends the
// input and then closes its side. The server must answer with whole HTTP responses and close the
// connection once the client is done: a connection left open 5 s after the client finished is a
// hang, a crash or sanitizer report a finding. The body limit is lowered to 4 KiB so that
// too-large bodies are in reach of small inputs.

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <string>

#include "admission/http_server.h"
#include "fuzz_target.h"

namespace kdr::fuzz {
namespace {

// The server every input talks to, started by the first; it stays reachable (LeakSanitizer
// would report it otherwise) and is never stopped.
struct Served {
  admission::HttpServer* server;
  int port;
};

Served StartServer() {
  admission::HttpServer::Options options;
  options.max_body_bytes = 4096;
  options.workers = 2;
  options.read_timeout = std::chrono::milliseconds(2000);
  options.write_timeout = std::chrono::milliseconds(2000);
  options.idle_timeout = std::chrono::milliseconds(2000);
  auto* server = new admission::HttpServer(options);
  auto port = server->Listen(
      "127.0.0.1", 0, nullptr,
      [](const admission::HttpServerRequest& req, admission::HttpServerResponse* res) {
        res->body = std::string(req.method) + " " + std::string(req.path) + " " +
                    std::string(req.content_type) + " " + std::to_string(req.body.size()) +
                    (req.too_large ? " too large\n" : "\n");
        res->status = req.too_large ? 413 : 200;
      });
  KDR_FUZZ_CHECK(port.ok(), port.status().ToString());
  Status started = server->Start();
  KDR_FUZZ_CHECK(started.ok(), started.ToString());
  return {server, *port};
}

}  // namespace

int FuzzHttp(const uint8_t* data, size_t size) {
  static const Served served = [] {
    std::signal(SIGPIPE, SIG_IGN);
    return StartServer();
  }();
  const int port = served.port;
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  KDR_FUZZ_CHECK(fd >= 0, std::string("socket: ") + std::strerror(errno));
  // The server closes first, so each connection leaves a TIME_WAIT on its side for a minute:
  // tens of thousands of inputs would use up the ephemeral ports of one address pair. The
  // client's address rotates through 127.0.0.2-251 instead.
  static uint32_t connections = 0;
  sockaddr_in local{};
  local.sin_family = AF_INET;
  local.sin_addr.s_addr = htonl(INADDR_LOOPBACK + 1 + connections++ % 250);
  KDR_FUZZ_CHECK(bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof local) == 0,
                 std::string("bind: ") + std::strerror(errno));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  // libFuzzer's timer (SIGALRM) can interrupt the connect too: the connection then goes on
  // being made, and its outcome is read once the socket is writable.
  int connected = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 ? 0 : errno;
  if (connected == EINTR) {
    pollfd p{fd, POLLOUT, 0};
    int ready;
    while ((ready = poll(&p, 1, 5000)) < 0 && errno == EINTR) {
    }
    socklen_t len = sizeof connected;
    if (ready == 0) {
      connected = ETIMEDOUT;
    } else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &connected, &len) != 0) {
      connected = errno;
    }
  }
  KDR_FUZZ_CHECK(connected == 0, std::string("connect: ") + std::strerror(connected));
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  timeval timeout{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  // The server may answer and close before everything is sent (a 400 on the first line): a
  // failed send is then expected.
  size_t sent = 0;
  while (sent < size) {
    const ssize_t n = send(fd, data + sent, size - sent, MSG_NOSIGNAL);
    if (n <= 0) break;
    sent += static_cast<size_t>(n);
  }
  shutdown(fd, SHUT_WR);
  std::string answer;
  char buf[16384];
  for (;;) {
    const ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n == 0) break;
    if (n < 0 && errno == EINTR) continue;  // libFuzzer's timer (SIGALRM) interrupts the wait
    if (n < 0) {
      KDR_FUZZ_CHECK(errno == ECONNRESET, "the server kept the connection open after the client "
                                          "finished (" + std::string(std::strerror(errno)) + ")");
      break;
    }
    answer.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  KDR_FUZZ_CHECK(answer.empty() || answer.rfind("HTTP/1.1 ", 0) == 0, answer.substr(0, 200));
  return 0;
}

}  // namespace kdr::fuzz

KDR_FUZZ_ENTRY(FuzzHttp)
