// The webhook's HTTP/1.1 server on its own, over plain loopback sockets (TLS is covered by
// server_test.cc): framing, limits, keep-alive and pipelining, deadlines, idle connections, stop.

#include "admission/http_server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "testutil/testutil.h"

namespace kdr::admission {
namespace {

int Connect(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd);
    return -1;
  }
  // A bound on every read, so a broken server fails the test instead of hanging it.
  timeval tv{30, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return fd;
}

bool SendAll(int fd, const std::string& data) {
  return send(fd, data.data(), data.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(data.size());
}

// Reads one response (Content-Length framed, or an interim 100 with no body). "" on close.
std::string ReadResponse(int fd, std::string* rest) {
  std::string buf = *rest;
  char chunk[4096];
  for (;;) {
    size_t end = buf.find("\r\n\r\n");
    if (end != std::string::npos) {
      size_t len = 0;
      size_t cl = buf.find("Content-Length: ");
      if (cl != std::string::npos && cl < end) len = std::stoul(buf.substr(cl + 16));
      if (buf.size() >= end + 4 + len) {
        *rest = buf.substr(end + 4 + len);
        return buf.substr(0, end + 4 + len);
      }
    }
    ssize_t n = recv(fd, chunk, sizeof chunk, 0);
    if (n <= 0) {
      rest->clear();
      return "";
    }
    buf.append(chunk, static_cast<size_t>(n));
  }
}

// True when the server closed the connection (EOF or reset), false on the client's read timeout.
bool ClosedByPeer(int fd) {
  char buf[4096];
  for (;;) {
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n > 0) continue;
    return n == 0 || errno == ECONNRESET;
  }
}

int StatusOf(const std::string& response) {
  return response.size() > 12 ? std::stoi(response.substr(9, 3)) : 0;
}
std::string BodyOf(const std::string& response) {
  size_t p = response.find("\r\n\r\n");
  return p == std::string::npos ? "" : response.substr(p + 4);
}

class HttpServerTest : public ::testing::Test {
 protected:
  void Start(HttpServer::Options options = {}) {
    server_ = std::make_unique<HttpServer>(options);
    Result<int> port = server_->Listen(
        "127.0.0.1", 0, nullptr, [](const HttpServerRequest& req, HttpServerResponse* res) {
          if (req.too_large) {
            *res = {413, "text/plain", "too large"};
            return;
          }
          res->body = std::string(req.method) + " " + std::string(req.path) + " " +
                      std::string(req.content_type) + " " + std::string(req.body);
        });
    ASSERT_TRUE(port.ok()) << port.status().ToString();
    port_ = *port;
    ASSERT_TRUE(server_->Start().ok());
  }
  void TearDown() override {
    if (server_) server_->Stop();
  }
  // One request on a fresh connection.
  std::string Roundtrip(const std::string& request) {
    int fd = Connect(port_);
    if (fd < 0 || !SendAll(fd, request)) return "";
    std::string rest;
    std::string resp = ReadResponse(fd, &rest);
    close(fd);
    return resp;
  }

  std::unique_ptr<HttpServer> server_;
  int port_ = 0;
};

TEST_F(HttpServerTest, AnswersRequestsByFraming) {
  Start();
  struct Case {
    const char* name;
    std::string request;
    std::string want_body;
  } cases[] = {
      {"content length", "POST /validate HTTP/1.1\r\nContent-Type: application/json\r\n"
                         "Content-Length: 2\r\n\r\n{}", "POST /validate application/json {}"},
      {"no body", "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", "GET /healthz  "},
      {"query string split off", "POST /mutate?timeout=10s HTTP/1.1\r\nContent-Length: 1\r\n\r\nx",
       "POST /mutate  x"},
      {"chunked", "POST /validate HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                  "3\r\nabc\r\n2;ext=1\r\nde\r\n0\r\nTrailer: t\r\n\r\n", "POST /validate  abcde"},
      {"blank line before the request", "\r\nGET /readyz HTTP/1.1\r\n\r\n", "GET /readyz  "},
      {"header names in any case", "POST /v HTTP/1.1\r\ncontent-length: 3\r\n"
                                   "CONTENT-TYPE: text/x\r\n\r\nabc", "POST /v text/x abc"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    std::string resp = Roundtrip(c.request);
    EXPECT_EQ(StatusOf(resp), 200) << resp;
    EXPECT_EQ(BodyOf(resp), c.want_body);
  }
}

TEST_F(HttpServerTest, MalformedRequestsGetAnErrorAndTheConnectionCloses) {
  Start();
  struct Case {
    const char* name;
    std::string request;
    int want;
  } cases[] = {
      {"no version", "GET /healthz\r\n\r\n", 400},
      {"relative target", "GET healthz HTTP/1.1\r\n\r\n", 400},
      {"http/2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505},
      {"unknown version", "GET / HTTP/3.0\r\n\r\n", 505},
      {"bad content length", "POST / HTTP/1.1\r\nContent-Length: 1x\r\n\r\n", 400},
      {"conflicting content lengths",
       "POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nxx", 400},
      {"both framings", "POST / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
       400},
      {"unsupported coding", "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 501},
      {"space before colon", "GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400},
      {"bad chunk size", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n\r\n", 400},
      {"header too large", "GET / HTTP/1.1\r\nX: " + std::string(70 << 10, 'a') + "\r\n\r\n", 431},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    int fd = Connect(port_);
    ASSERT_GE(fd, 0);
    SendAll(fd, c.request);
    std::string rest;
    std::string resp = ReadResponse(fd, &rest);
    EXPECT_EQ(StatusOf(resp), c.want) << resp;
    EXPECT_NE(resp.find("Connection: close"), std::string::npos) << resp;
    shutdown(fd, SHUT_WR);
    EXPECT_TRUE(ClosedByPeer(fd));
    close(fd);
  }
}

TEST_F(HttpServerTest, FramingErrorsAreAnsweredAtOnceNotAtTheReadTimeout) {
  HttpServer::Options o;
  o.read_timeout = std::chrono::minutes(10);  // waiting for it would fail the client's 30 s read
  Start(o);
  const std::string chunked = "POST /validate HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
  struct Case {
    const char* name;
    std::string request;  // sent, then the connection stays open: no EOF helps the server
  } cases[] = {
      {"bare LF line endings", testutil::ReadData("fuzz-seeds/http/bare-lf.txt")},
      {"bare LF after a CRLF line", "GET /a HTTP/1.1\r\nHost: x\n"},
      {"bare LF in a half-sent head", "GET /a HTTP/1.1\n"},
      {"empty chunk-size line", testutil::ReadData("fuzz-seeds/http/chunked-empty-size.txt")},
      {"empty chunk-size line, nothing after", chunked + "\r\n"},
      {"bare LF after a chunk size", chunked + "3\nabc"},
      {"bare LF in the trailers", chunked + "0\r\nX: y\n"},
      {"chunk data without CRLF", chunked + "3\r\nabcde"},
      {"chunk-size line too long", chunked + "1;" + std::string(5000, 'x')},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    int fd = Connect(port_);
    ASSERT_GE(fd, 0);
    ASSERT_TRUE(SendAll(fd, c.request));
    std::string rest;
    std::string resp = ReadResponse(fd, &rest);
    EXPECT_EQ(StatusOf(resp), 400) << resp;
    EXPECT_EQ(BodyOf(resp), "Bad Request\n");
    EXPECT_NE(resp.find("Connection: close"), std::string::npos) << resp;
    close(fd);
  }
}

TEST_F(HttpServerTest, ChunkedBodiesDecodeAcrossReadsOfAnySize) {
  Start();
  const std::string body = "{\"kind\":\"AdmissionReview\"}";
  std::string request = "POST /validate HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (char ch : body) request += "1;x=y\r\n" + std::string(1, ch) + "\r\n";
  request += "0\r\nTrailer: t\r\n\r\n";
  int fd = Connect(port_);
  ASSERT_GE(fd, 0);
  // One byte per send: every line and chunk is cut somewhere.
  for (char ch : request) ASSERT_TRUE(SendAll(fd, std::string(1, ch)));
  std::string rest;
  std::string resp = ReadResponse(fd, &rest);
  EXPECT_EQ(StatusOf(resp), 200) << resp;
  EXPECT_EQ(BodyOf(resp), "POST /validate  " + body);
  close(fd);
}

TEST_F(HttpServerTest, BodyOverTheLimitIsRefusedUnreadAndTheAnswerArrives) {
  HttpServer::Options o;
  o.max_body_bytes = 1024;
  Start(o);
  struct Case {
    const char* name;
    std::string request;
  } cases[] = {
      {"content length", "POST /validate HTTP/1.1\r\nContent-Length: 100000\r\n\r\n" +
                             std::string(100000, 'x')},
      {"chunked", "POST /validate HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5000\r\n" +
                      std::string(0x5000, 'x') + "\r\n0\r\n\r\n"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    int fd = Connect(port_);
    ASSERT_GE(fd, 0);
    // The upload continues after the answer; the server drains it instead of resetting, so the
    // answer is read here.
    std::thread upload([&] { SendAll(fd, c.request); });
    std::string rest;
    std::string resp = ReadResponse(fd, &rest);
    upload.join();
    EXPECT_EQ(StatusOf(resp), 413) << resp;
    EXPECT_EQ(BodyOf(resp), "too large");
    shutdown(fd, SHUT_WR);
    EXPECT_TRUE(ClosedByPeer(fd));
    close(fd);
  }
}

TEST_F(HttpServerTest, KeepAliveAndPipelinedRequestsAreAnsweredInOrder) {
  Start();
  int fd = Connect(port_);
  ASSERT_GE(fd, 0);
  std::string pipelined;
  for (int i = 0; i < 5; ++i) {
    pipelined += "POST /p" + std::to_string(i) + " HTTP/1.1\r\nContent-Length: 1\r\n\r\n" +
                 std::to_string(i);
  }
  ASSERT_TRUE(SendAll(fd, pipelined));
  std::string rest;
  for (int i = 0; i < 5; ++i) {
    std::string resp = ReadResponse(fd, &rest);
    EXPECT_EQ(BodyOf(resp), "POST /p" + std::to_string(i) + "  " + std::to_string(i)) << resp;
    EXPECT_EQ(resp.find("Connection: close"), std::string::npos);
  }
  // Still open for the next one.
  ASSERT_TRUE(SendAll(fd, "GET /again HTTP/1.1\r\n\r\n"));
  EXPECT_EQ(BodyOf(ReadResponse(fd, &rest)), "GET /again  ");
  close(fd);
}

TEST_F(HttpServerTest, HeadGetsTheLengthWithoutABody) {
  Start();
  int fd = Connect(port_);
  ASSERT_TRUE(SendAll(fd, "HEAD /healthz HTTP/1.1\r\n\r\nGET /next HTTP/1.1\r\n\r\n"));
  std::string got;
  char buf[4096];
  while (got.find("GET /next") == std::string::npos) {
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    got.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  // The HEAD answer announces the GET body's length ("HEAD /healthz  ") but carries none: the
  // next answer follows its blank line directly.
  EXPECT_NE(got.find("Content-Length: 15\r\n\r\nHTTP/1.1 200 OK"), std::string::npos) << got;
  EXPECT_NE(got.find("GET /next  "), std::string::npos) << got;
}

TEST_F(HttpServerTest, ConnectionCloseAndHttp10CloseAfterTheAnswer) {
  Start();
  for (const std::string& request :
       {std::string("GET /a HTTP/1.1\r\nConnection: close\r\n\r\n"),
        std::string("GET /a HTTP/1.0\r\n\r\n")}) {
    SCOPED_TRACE(request);
    int fd = Connect(port_);
    ASSERT_TRUE(SendAll(fd, request));
    std::string rest;
    std::string resp = ReadResponse(fd, &rest);
    EXPECT_EQ(StatusOf(resp), 200);
    EXPECT_NE(resp.find("Connection: close"), std::string::npos);
    EXPECT_TRUE(ClosedByPeer(fd));
    close(fd);
  }
}

TEST_F(HttpServerTest, ExpectContinueGetsAnInterimAnswerBeforeTheBody) {
  Start();
  int fd = Connect(port_);
  ASSERT_TRUE(SendAll(fd, "POST /v HTTP/1.1\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n"));
  std::string rest;
  EXPECT_EQ(StatusOf(ReadResponse(fd, &rest)), 100);
  ASSERT_TRUE(SendAll(fd, "abc"));
  EXPECT_EQ(BodyOf(ReadResponse(fd, &rest)), "POST /v  abc");
  close(fd);
}

TEST_F(HttpServerTest, IdleConnectionsHoldNoWorker) {
  HttpServer::Options o;
  o.workers = 1;
  Start(o);
  // Many idle and half-sent connections, more than there are workers by far.
  std::vector<int> idle;
  for (int i = 0; i < 64; ++i) {
    int fd = Connect(port_);
    ASSERT_GE(fd, 0);
    if (i % 2 == 0) SendAll(fd, "POST /slow HTTP/1.1\r\nContent-Length: 10\r\n\r\nab");
    idle.push_back(fd);
  }
  EXPECT_EQ(BodyOf(Roundtrip("GET /served HTTP/1.1\r\n\r\n")), "GET /served  ");
  for (int fd : idle) close(fd);
}

TEST_F(HttpServerTest, TricklingClientIsCutOffAtTheRequestDeadline) {
  HttpServer::Options o;
  o.read_timeout = std::chrono::milliseconds(500);
  Start(o);
  int fd = Connect(port_);
  ASSERT_GE(fd, 0);
  // One byte every 20 ms keeps every single read well inside the timeout; only a deadline on the
  // whole request ends it. The header would take 60 s to finish.
  const std::string header = "GET /trickle HTTP/1.1\r\nX-Pad: " + std::string(3000, 'a') + "\r\n\r\n";
  size_t sent = 0;
  while (sent < header.size() && SendAll(fd, header.substr(sent, 1))) {
    ++sent;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_LT(sent, header.size()) << "the server read a request trickled over a minute";
  close(fd);
}

TEST_F(HttpServerTest, StopClosesIdleConnectionsAndReturns) {
  HttpServer::Options o;
  o.idle_timeout = std::chrono::milliseconds(600000);  // Stop must not wait for this
  Start(o);
  int fd = Connect(port_);
  ASSERT_TRUE(SendAll(fd, "GET /a HTTP/1.1\r\n\r\n"));
  std::string rest;
  EXPECT_EQ(StatusOf(ReadResponse(fd, &rest)), 200);
  server_->Stop();
  EXPECT_TRUE(ClosedByPeer(fd));
  close(fd);
  EXPECT_LT(Connect(port_), 0);  // no longer listening
}

TEST(HttpServerListenTest, BindFailureIsUnavailable) {
  HttpServer a({});
  Result<int> port = a.Listen("127.0.0.1", 0, nullptr, nullptr);
  ASSERT_TRUE(port.ok());
  HttpServer b({});
  Result<int> again = b.Listen("127.0.0.1", *port, nullptr, nullptr);
  EXPECT_EQ(again.status().code(), StatusCode::kUnavailable);
}

}  // namespace
}  // namespace kdr::admission
