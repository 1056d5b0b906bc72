#include "admission/http_server.h"

#include <netdb.h>
#include <pthread.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>

#include <atomic>
#include <cerrno>
#include <charconv>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <vector>

#include "base/json.h"
#include "base/strings.h"

namespace kdr::admission {
namespace {

using SteadyClock = std::chrono::steady_clock;
using TimePoint = SteadyClock::time_point;

constexpr size_t kMaxHeadBytes = 64 << 10;
// A chunk-size line (with its extensions) longer than this is refused, as Go's net/http does.
constexpr size_t kMaxChunkLine = 4096;
constexpr size_t kReadChunk = 16 << 10;
// Buffers larger than this are released between requests instead of kept for the next one.
constexpr size_t kKeepBufferBytes = 64 << 10;
// What a connection may hold of a request before the rest counts against max_buffered_bytes:
// most reviews are smaller, so they never wait for room.
constexpr size_t kFreeRequestBytes = 16 << 10;
// Deadlines are checked this often; timeouts are seconds, so 100 ms of slack is harmless.
constexpr std::chrono::milliseconds kScanInterval{100};
constexpr uint64_t kWakeId = 0;
// At the connection limit, a connection quiet for this long may be closed to admit a new one: a
// client in a handshake or sending a request is never quiet this long (it is a round trip).
constexpr std::chrono::milliseconds kEvictQuietFor{1000};  // epoll data of the eventfd that ends the workers

std::string_view ReasonPhrase(int status) {
  switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "Status";
  }
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

bool ParseSize(std::string_view s, int base, size_t* out) {
  if (s.empty()) return false;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *out, base);
  return ec == std::errc() && end == s.data() + s.size();
}

// The request line and the headers the server acts on. Views into the connection's buffer.
struct Head {
  std::string_view method;
  std::string_view target;
  std::string_view content_type;
  std::optional<size_t> content_length;
  bool chunked = false;
  bool close = false;
  bool expect_continue = false;
};

// Parses the head (request line and header lines, without the blank line). Returns 0, or the
// status to answer before closing.
int ParseHead(std::string_view head, Head* h) {
  size_t eol = head.find("\r\n");
  std::string_view line = head.substr(0, eol);
  size_t s1 = line.find(' ');
  size_t s2 = line.rfind(' ');
  if (s1 == std::string_view::npos || s2 == s1) return 400;
  h->method = line.substr(0, s1);
  h->target = line.substr(s1 + 1, s2 - s1 - 1);
  std::string_view version = line.substr(s2 + 1);
  bool http10 = false;
  if (version == "HTTP/1.0") {
    http10 = true;
    h->close = true;
  } else if (version != "HTTP/1.1") {
    return version.substr(0, 5) == "HTTP/" ? 505 : 400;
  }
  if (h->method.empty() || h->target.empty() || h->target.front() != '/') return 400;
  size_t pos = eol == std::string_view::npos ? head.size() : eol + 2;
  while (pos < head.size()) {
    eol = head.find("\r\n", pos);
    if (eol == std::string_view::npos) eol = head.size();
    std::string_view field = head.substr(pos, eol - pos);
    pos = eol + 2;
    size_t colon = field.find(':');
    if (colon == 0 || colon == std::string_view::npos) return 400;
    std::string_view name = field.substr(0, colon);
    if (name.find_first_of(" \t") != std::string_view::npos) return 400;  // RFC 9112 5.1
    std::string_view value = TrimSpace(field.substr(colon + 1));
    if (EqualsIgnoreCase(name, "content-length")) {
      size_t n = 0;
      if (!ParseSize(value, 10, &n)) return 400;
      if (h->content_length && *h->content_length != n) return 400;
      h->content_length = n;
    } else if (EqualsIgnoreCase(name, "transfer-encoding")) {
      if (!EqualsIgnoreCase(value, "chunked")) return 501;
      h->chunked = true;
    } else if (EqualsIgnoreCase(name, "connection")) {
      for (const std::string& token : Split(std::string(value), ',')) {
        std::string_view t = TrimSpace(token);
        if (EqualsIgnoreCase(t, "close")) h->close = true;
        if (http10 && EqualsIgnoreCase(t, "keep-alive")) h->close = false;
      }
    } else if (EqualsIgnoreCase(name, "expect")) {
      h->expect_continue = EqualsIgnoreCase(value, "100-continue");
    } else if (EqualsIgnoreCase(name, "content-type")) {
      h->content_type = value;
    }
  }
  // Both framings at once is how requests are smuggled past proxies: refuse.
  if (h->chunked && h->content_length) return 400;
  return 0;
}

enum class Chunked { kNeedMore, kDone, kBad, kTooLarge };

// Where decoding a chunked body stopped, so that each read resumes there and every byte is
// examined once.
struct ChunkState {
  size_t pos = 0;             // offset in the body data of the next line to read
  bool trailers = false;      // past the last chunk
  size_t trailers_start = 0;  // offset of the first trailer line
};

// Decodes what has arrived of a chunked body, appending whole chunks to *body. consumed: bytes of
// data the body took, trailers included (on kDone). A malformed line (an empty or non-hex chunk
// size, a bare LF, a line over kMaxChunkLine, chunk data not followed by CRLF) is kBad as soon as
// it arrives, so the client is answered at once instead of waiting out read_timeout.
Chunked DecodeChunked(std::string_view data, size_t max, ChunkState* st, std::string* body,
                      size_t* consumed) {
  for (;;) {
    const size_t eol = data.find("\r\n", st->pos);
    const std::string_view line =
        data.substr(st->pos, eol == std::string_view::npos ? std::string_view::npos : eol - st->pos);
    if (line.find('\n') != std::string_view::npos || line.size() > kMaxChunkLine) {
      return Chunked::kBad;
    }
    if (eol == std::string_view::npos) return Chunked::kNeedMore;
    if (st->trailers) {  // trailer fields, then the blank line
      st->pos = eol + 2;
      if (line.empty()) {
        *consumed = st->pos;
        return Chunked::kDone;
      }
      if (st->pos - st->trailers_start > kMaxHeadBytes) return Chunked::kBad;
      continue;
    }
    const std::string_view size_field = TrimSpace(line.substr(0, line.find(';')));
    size_t size = 0;
    if (!ParseSize(size_field, 16, &size)) return Chunked::kBad;
    if (size > max || body->size() + size > max) return Chunked::kTooLarge;
    const size_t start = eol + 2;
    if (size == 0) {
      st->trailers = true;
      st->pos = st->trailers_start = start;
      continue;
    }
    if (data.size() < start + size + 2) return Chunked::kNeedMore;  // resumes at this size line
    if (data.substr(start + size, 2) != "\r\n") return Chunked::kBad;
    body->append(data.substr(start, size));
    st->pos = start + size + 2;
  }
}

enum class Io { kOk, kWantRead, kWantWrite, kClosed };

struct Listener {
  int fd = -1;
  SSL_CTX* tls = nullptr;
  HttpHandler handler;
  bool paused = false;  // out of file descriptors: accept again at the next scan
};

struct Conn {
  enum class Phase { kHandshake, kRequest, kWrite, kDrain };

  ~Conn() {
    if (pool != nullptr) pool->fetch_sub(charged);
    SSL_free(ssl);
    if (fd >= 0) close(fd);
  }

  uint64_t id = 0;
  int fd = -1;
  SSL* ssl = nullptr;  // null on a plain-HTTP listener
  Listener* listener = nullptr;
  Phase phase = Phase::kRequest;
  bool busy = false;          // a worker owns it; otherwise epoll does (under mu_)
  TimePoint deadline;         // of the current phase
  TimePoint active;           // the accept, or the last event on the socket (under mu_)
  std::string in;             // bytes read and not yet consumed
  size_t scanned = 0;         // leading bytes of `in` known to hold no end of head
  bool request_started = false;
  bool answered = false;      // a response was written: quiet in kRequest now is an idle keep-alive
  bool head_parsed = false;
  size_t head_len = 0;
  std::optional<size_t> content_length;
  bool chunked = false;
  bool close_requested = false;
  bool continue_sent = false;
  std::string method;
  std::string path;
  std::string content_type;
  std::string chunked_body;
  ChunkState chunk_state;
  std::string out;
  size_t out_off = 0;
  bool interim = false;            // `out` is a 100 Continue, the request goes on after it
  bool close_after_write = false;
  bool linger = false;             // after the answer, read and drop the unread upload
  // Request bytes held past kFreeRequestBytes, counted in *pool (the server's buffered bytes).
  std::atomic<int64_t>* pool = nullptr;
  int64_t charged = 0;
  bool waiting_room = false;  // parked disarmed until the pool has room (under mu_)
};

}  // namespace

class HttpServer::Impl {
 public:
  explicit Impl(Options options) : options_(std::move(options)) {}
  ~Impl() { Stop(); }

  Result<int> Listen(const std::string& host, int port, SSL_CTX* tls, HttpHandler handler);
  Status Start();
  void Stop();
  HttpServer::Stats stats() {
    std::lock_guard lock(mu_);
    return {conns_.size(), timed_out_, evicted_, waited_,
            static_cast<size_t>(std::max<int64_t>(0, buffered_.load()))};
  }

 private:
  enum class Step { kReady, kNeedMore };

  static void* WorkerMain(void* impl);
  void Worker();
  void Accept(Listener& l);
  Conn* Claim(uint64_t id);
  void Advance(Conn* c, char* buf);
  Step TryRequest(Conn* c);
  void Respond(Conn* c, const HttpServerResponse& res, bool close, bool head = false);
  void BadRequest(Conn* c, int status);
  Io Read(Conn* c, char* buf, bool keep);
  void Recharge(Conn* c);
  bool RoomToRead(const Conn* c) const;
  void WaitForRoom(Conn* c);
  Io Write(Conn* c);
  void Park(Conn* c, uint32_t events);
  void Close(Conn* c);
  void CloseLocked(Conn* c);
  bool EvictInactiveLocked();
  void Scan();

  const Options options_;
  std::vector<std::unique_ptr<Listener>> listeners_;  // epoll id i+1
  std::vector<pthread_t> workers_;
  int epfd_ = -1;
  int wakefd_ = -1;
  std::atomic<bool> exit_{false};
  std::atomic<bool> draining_{false};
  std::atomic<int64_t> next_scan_{0};
  std::mutex mu_;
  std::condition_variable drained_;
  std::unordered_map<uint64_t, std::unique_ptr<Conn>> conns_;  // guarded by mu_
  uint64_t evicted_ = 0;                                        // guarded by mu_
  uint64_t timed_out_ = 0;                                      // guarded by mu_
  uint64_t waited_ = 0;                                         // guarded by mu_
  std::atomic<int64_t> buffered_{0};  // request bytes held past each one's kFreeRequestBytes
  uint64_t next_id_ = 1 << 16;                                  // below: listeners
  bool started_ = false;
  bool stopped_ = false;
};

Result<int> HttpServer::Impl::Listen(const std::string& host, int port, SSL_CTX* tls,
                                     HttpHandler handler) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const std::string service = std::to_string(port);
  if (int rc = getaddrinfo(host.c_str(), service.c_str(), &hints, &found); rc != 0) {
    return Status::Unavailable("cannot resolve " + host + ": " + ToLower(gai_strerror(rc)));
  }
  int fd = -1;
  int err = 0;
  for (addrinfo* ai = found; ai != nullptr && fd < 0; ai = ai->ai_next) {
    fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      err = errno;
      continue;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 1024) != 0) {
      err = errno;
      close(fd);
      fd = -1;
    }
  }
  freeaddrinfo(found);
  if (fd < 0) return Status::Unavailable(ToLower(std::strerror(err)));
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  const int bound = addr.ss_family == AF_INET6
                        ? ntohs(reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port)
                        : ntohs(reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
  auto l = std::make_unique<Listener>();
  l->fd = fd;
  l->tls = tls;
  l->handler = std::move(handler);
  listeners_.push_back(std::move(l));
  return bound;
}

Status HttpServer::Impl::Start() {
  epfd_ = epoll_create1(EPOLL_CLOEXEC);
  wakefd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (epfd_ < 0 || wakefd_ < 0) {
    return Status::Internal(std::string("cannot create the server's epoll set: ") +
                            std::strerror(errno));
  }
  epoll_event ev{};
  ev.events = EPOLLIN;  // level-triggered: once written, it wakes every worker
  ev.data.u64 = kWakeId;
  epoll_ctl(epfd_, EPOLL_CTL_ADD, wakefd_, &ev);
  for (size_t i = 0; i < listeners_.size(); ++i) {
    ev.events = EPOLLIN;
    ev.data.u64 = i + 1;
    epoll_ctl(epfd_, EPOLL_CTL_ADD, listeners_[i]->fd, &ev);
  }
  started_ = true;
  // An explicit stack: the policies recurse once per level of a review (base/json.h), and
  // glibc's default follows RLIMIT_STACK, which is 2 MiB when unlimited.
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, options_.worker_stack_bytes > 0 ? options_.worker_stack_bytes
                                                                   : kJsonThreadStackBytes);
  for (int i = 0; i < std::max(1, options_.workers); ++i) {
    pthread_t t;
    if (int rc = pthread_create(&t, &attr, &Impl::WorkerMain, this); rc != 0) {
      pthread_attr_destroy(&attr);
      return Status::Internal(std::string("cannot start the server's worker threads: ") +
                              std::strerror(rc));  // Stop() joins those started
    }
    workers_.push_back(t);
  }
  pthread_attr_destroy(&attr);
  return Status::Ok();
}

void* HttpServer::Impl::WorkerMain(void* impl) {
  static_cast<Impl*>(impl)->Worker();
  return nullptr;
}

void HttpServer::Impl::Stop() {
  {
    std::unique_lock lock(mu_);
    if (stopped_) return;
    stopped_ = true;
    draining_ = true;
    // Stop listening; the descriptors are closed once no worker can be inside accept().
    for (auto& l : listeners_) {
      if (epfd_ >= 0) epoll_ctl(epfd_, EPOLL_CTL_DEL, l->fd, nullptr);
      shutdown(l->fd, SHUT_RDWR);
    }
    if (started_) {
      // Wake every parked connection now (a connected socket is writable at once): idle ones
      // close, and one whose request has begun (its bytes perhaps unread yet) is finished first.
      for (auto& [id, c] : conns_) {
        if (c->busy) continue;
        epoll_event ev{};
        ev.events = EPOLLIN | EPOLLOUT | EPOLLONESHOT;
        ev.data.u64 = id;
        epoll_ctl(epfd_, EPOLL_CTL_MOD, c->fd, &ev);
      }
      drained_.wait(lock, [this] { return conns_.empty(); });
    }
  }
  exit_ = true;
  if (wakefd_ >= 0) {
    uint64_t one = 1;
    [[maybe_unused]] ssize_t n = write(wakefd_, &one, sizeof one);
  }
  for (pthread_t t : workers_) pthread_join(t, nullptr);
  workers_.clear();
  for (auto& l : listeners_) {
    close(l->fd);
    l->fd = -1;
  }
  if (epfd_ >= 0) close(epfd_);
  if (wakefd_ >= 0) close(wakefd_);
  epfd_ = wakefd_ = -1;
}

void HttpServer::Impl::Worker() {
  // OpenSSL writes to the socket without MSG_NOSIGNAL: a client that went away must cost an EPIPE
  // on this connection, not a SIGPIPE that kills the process (which may not ignore it).
  sigset_t pipe;
  sigemptyset(&pipe);
  sigaddset(&pipe, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe, nullptr);
  char buf[kReadChunk];
  while (!exit_) {
    epoll_event ev{};
    // One event at a time, so a ready connection never waits behind another on a busy worker.
    const int n = epoll_wait(epfd_, &ev, 1, static_cast<int>(kScanInterval.count()));
    if (n == 1 && ev.data.u64 != kWakeId) {
      if (ev.data.u64 <= listeners_.size()) {
        Accept(*listeners_[ev.data.u64 - 1]);
      } else if (Conn* c = Claim(ev.data.u64)) {
        Advance(c, buf);
      }
    }
    const int64_t now = SteadyClock::now().time_since_epoch().count();
    if (now >= next_scan_.load(std::memory_order_relaxed)) Scan();
  }
}

void HttpServer::Impl::Accept(Listener& l) {
  for (;;) {
    {
      std::lock_guard lock(mu_);
      if (conns_.size() >= static_cast<size_t>(std::max(1, options_.max_connections)) &&
          !EvictInactiveLocked()) {
        // Every connection is making progress: leave new ones in the kernel's backlog until
        // some finish (the next scan polls the listener again).
        if (!draining_ && !l.paused) {
          epoll_event ev{};
          epoll_ctl(epfd_, EPOLL_CTL_MOD, l.fd, &ev);
          l.paused = true;
        }
        return;
      }
    }
    const int fd = accept4(l.fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        // The listener stays readable; stop polling it until the next scan frees descriptors.
        std::lock_guard lock(mu_);
        if (!draining_ && !l.paused) {
          epoll_event ev{};
          epoll_ctl(epfd_, EPOLL_CTL_MOD, l.fd, &ev);
          l.paused = true;
        }
      }
      return;
    }
    // Answers go out in one write; without this, Nagle and delayed ACKs can add 40 ms.
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    auto c = std::make_unique<Conn>();
    c->fd = fd;
    c->listener = &l;
    c->pool = &buffered_;
    const auto now = SteadyClock::now();
    if (l.tls != nullptr) {
      c->ssl = SSL_new(l.tls);
      if (c->ssl == nullptr) {
        ERR_clear_error();
        continue;  // ~Conn closes fd
      }
      SSL_set_fd(c->ssl, fd);
      SSL_set_accept_state(c->ssl);
      c->phase = Conn::Phase::kHandshake;
      c->deadline = now + options_.read_timeout;
    } else {
      c->deadline = now + options_.idle_timeout;
    }
    c->active = now;
    std::lock_guard lock(mu_);
    if (draining_) continue;
    c->id = next_id_++;
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLONESHOT;
    ev.data.u64 = c->id;
    if (epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) != 0) continue;
    conns_.emplace(c->id, std::move(c));
  }
}

Conn* HttpServer::Impl::Claim(uint64_t id) {
  std::lock_guard lock(mu_);
  auto it = conns_.find(id);
  // Gone (timed out, closed) or already taken by another worker after a stop wake-up.
  if (it == conns_.end() || it->second->busy) return nullptr;
  it->second->busy = true;
  it->second->waiting_room = false;
  it->second->active = SteadyClock::now();
  return it->second.get();
}

void HttpServer::Impl::Advance(Conn* c, char* buf) {
  for (;;) {
    switch (c->phase) {
      case Conn::Phase::kHandshake: {
        ERR_clear_error();
        const int r = SSL_do_handshake(c->ssl);
        if (r == 1) {
          c->phase = Conn::Phase::kRequest;
          c->deadline = SteadyClock::now() + options_.idle_timeout;
          continue;
        }
        const int err = SSL_get_error(c->ssl, r);
        ERR_clear_error();
        if (err == SSL_ERROR_WANT_READ) return Park(c, EPOLLIN);
        if (err == SSL_ERROR_WANT_WRITE) return Park(c, EPOLLOUT);
        return Close(c);  // not TLS, an old protocol, a refused client certificate
      }
      case Conn::Phase::kRequest: {
        if (TryRequest(c) == Step::kReady) continue;
        if (!RoomToRead(c)) return WaitForRoom(c);
        const bool was_idle = !c->request_started;
        const Io io = Read(c, buf, true);
        Recharge(c);
        if (io == Io::kOk) {
          if (was_idle) {
            c->request_started = true;
            c->deadline = SteadyClock::now() + options_.read_timeout;
          }
          continue;
        }
        if (io == Io::kWantRead) return Park(c, EPOLLIN);
        if (io == Io::kWantWrite) return Park(c, EPOLLOUT);
        return Close(c);
      }
      case Conn::Phase::kWrite: {
        const Io io = Write(c);
        if (io == Io::kWantRead) return Park(c, EPOLLIN);
        if (io == Io::kWantWrite) return Park(c, EPOLLOUT);
        if (io == Io::kClosed) return Close(c);
        if (c->out.capacity() > kKeepBufferBytes) {
          std::string().swap(c->out);
        } else {
          c->out.clear();
        }
        c->out_off = 0;
        const auto now = SteadyClock::now();
        if (c->interim) {  // 100 Continue sent: back to reading the same request
          c->interim = false;
          c->phase = Conn::Phase::kRequest;
          continue;
        }
        if (c->linger) {
          // Tell the client we are done, then drop what it still uploads until it closes, so the
          // answer is read rather than lost to a reset.
          if (c->ssl != nullptr) {
            ERR_clear_error();
            SSL_shutdown(c->ssl);
            ERR_clear_error();
          }
          shutdown(c->fd, SHUT_WR);
          c->phase = Conn::Phase::kDrain;
          c->deadline = now + options_.read_timeout;
          continue;
        }
        if (c->close_after_write) return Close(c);
        c->phase = Conn::Phase::kRequest;
        c->answered = true;
        c->request_started = !c->in.empty();  // a pipelined request already arrived
        c->deadline = now + (c->request_started ? options_.read_timeout : options_.idle_timeout);
        if (c->in.empty() && c->in.capacity() > 0) std::string().swap(c->in);
        continue;
      }
      case Conn::Phase::kDrain: {
        const Io io = Read(c, buf, false);
        if (io == Io::kOk) continue;
        if (io == Io::kWantRead) return Park(c, EPOLLIN);
        return Close(c);
      }
    }
  }
}

HttpServer::Impl::Step HttpServer::Impl::TryRequest(Conn* c) {
  if (!c->head_parsed) {
    // Tolerate blank lines before a request line (RFC 9112 2.2).
    size_t lead = 0;
    while (c->in.compare(lead, 2, "\r\n") == 0) lead += 2;
    if (lead > 0) {
      c->in.erase(0, lead);
      c->scanned = 0;
    }
    const size_t from = c->scanned > 3 ? c->scanned - 3 : 0;
    const size_t end = c->in.find("\r\n\r\n", from);
    // A line ended by a bare LF would leave us waiting for a CRLF CRLF that never comes: refuse
    // it now (RFC 9112 2.2 lets a server accept bare LF; we do not).
    const size_t head_end = end == std::string::npos ? c->in.size() : end;
    for (size_t lf = c->in.find('\n', from); lf < head_end; lf = c->in.find('\n', lf + 1)) {
      if (lf == 0 || c->in[lf - 1] != '\r') {
        BadRequest(c, 400);
        return Step::kReady;
      }
    }
    if (end == std::string::npos) {
      c->scanned = c->in.size();
      if (c->in.size() > kMaxHeadBytes) {
        BadRequest(c, 431);
        return Step::kReady;
      }
      return Step::kNeedMore;
    }
    if (end + 4 > kMaxHeadBytes) {
      BadRequest(c, 431);
      return Step::kReady;
    }
    Head head;
    if (int status = ParseHead(std::string_view(c->in).substr(0, end), &head); status != 0) {
      BadRequest(c, status);
      return Step::kReady;
    }
    c->head_parsed = true;
    c->head_len = end + 4;
    c->method = head.method;
    const std::string_view target = head.target;
    c->path = target.substr(0, target.find('?'));
    c->content_type = head.content_type;
    c->content_length = head.content_length;
    c->chunked = head.chunked;
    c->close_requested = head.close;
    c->continue_sent = !head.expect_continue;
    const size_t want = c->content_length.value_or(0);
    // Only what every connection may hold: the rest is read as the buffer pool has room.
    if (!c->chunked && want <= options_.max_body_bytes) {
      c->in.reserve(c->head_len + std::min(want, kFreeRequestBytes));
    }
  }

  const std::string_view data = std::string_view(c->in).substr(c->head_len);
  std::string_view body;
  size_t consumed = 0;
  bool too_large = false;
  bool complete = false;
  if (c->chunked) {
    switch (DecodeChunked(data, options_.max_body_bytes, &c->chunk_state, &c->chunked_body,
                          &consumed)) {
      case Chunked::kBad:
        BadRequest(c, 400);
        return Step::kReady;
      case Chunked::kTooLarge:
        too_large = complete = true;
        break;
      case Chunked::kDone:
        body = c->chunked_body;
        complete = true;
        break;
      case Chunked::kNeedMore:
        // Framing (many tiny chunks) past twice the body limit is refused like a large body.
        too_large = complete = data.size() > 2 * options_.max_body_bytes + kMaxHeadBytes;
        break;
    }
  } else {
    const size_t want = c->content_length.value_or(0);
    too_large = want > options_.max_body_bytes;
    complete = too_large || data.size() >= want;
    if (!too_large && complete) {
      body = data.substr(0, want);
      consumed = want;
    }
  }
  if (!complete) {
    if (c->continue_sent) return Step::kNeedMore;
    // The client waits for this before it sends the body.
    c->continue_sent = true;
    c->out = "HTTP/1.1 100 Continue\r\n\r\n";
    c->out_off = 0;
    c->interim = true;
    c->phase = Conn::Phase::kWrite;
    return Step::kReady;
  }

  HttpServerRequest req;
  req.method = c->method;
  req.path = c->path;
  req.content_type = c->content_type;
  req.body = body;
  req.too_large = too_large;
  HttpServerResponse res;
  try {
    c->listener->handler(req, &res);
  } catch (...) {
    res = HttpServerResponse{500, "text/plain", "internal error\n"};
  }
  c->linger = too_large;
  Respond(c, res, too_large || c->close_requested || draining_, c->method == "HEAD");
  if (too_large) {
    c->in.clear();
  } else {
    c->in.erase(0, c->head_len + consumed);
  }
  c->head_parsed = false;
  c->scanned = 0;
  c->chunk_state = ChunkState();
  if (c->chunked_body.capacity() > kKeepBufferBytes) {
    std::string().swap(c->chunked_body);
  } else {
    c->chunked_body.clear();
  }
  Recharge(c);
  return Step::kReady;
}

void HttpServer::Impl::Respond(Conn* c, const HttpServerResponse& res, bool close, bool head) {
  std::string& out = c->out;
  out.clear();
  out.reserve(160 + res.body.size());
  out += "HTTP/1.1 ";
  out += std::to_string(res.status);
  out += ' ';
  out += ReasonPhrase(res.status);
  out += "\r\nContent-Type: ";
  out += res.content_type;
  out += "\r\nContent-Length: ";
  out += std::to_string(res.body.size());
  out += close ? "\r\nConnection: close\r\n\r\n" : "\r\n\r\n";
  if (!head) out += res.body;  // HEAD: the length of what GET would send, no body
  c->out_off = 0;
  c->close_after_write = close;
  c->phase = Conn::Phase::kWrite;
  c->deadline = SteadyClock::now() + options_.write_timeout;
}

void HttpServer::Impl::BadRequest(Conn* c, int status) {
  HttpServerResponse res;
  res.status = status;
  res.body = std::string(ReasonPhrase(status)) + "\n";
  // The client may still be sending; drain it so it reads this answer rather than a reset.
  c->linger = true;
  c->in.clear();
  c->chunked_body.clear();
  Recharge(c);
  Respond(c, res, true);
}

void HttpServer::Impl::Recharge(Conn* c) {
  // Capacity, not size: a growing buffer holds up to twice what it was sent.
  const size_t held = c->in.capacity() + c->chunked_body.capacity();
  const int64_t want = held > kFreeRequestBytes ? static_cast<int64_t>(held - kFreeRequestBytes) : 0;
  if (want != c->charged) {
    buffered_.fetch_add(want - c->charged);
    c->charged = want;
  }
}

bool HttpServer::Impl::RoomToRead(const Conn* c) const {
  const size_t held = c->in.capacity() + c->chunked_body.capacity();
  if (held < kFreeRequestBytes) return true;
  // The next read may double the buffer.
  const int64_t growth = static_cast<int64_t>(std::max(c->in.capacity(), kReadChunk));
  return buffered_.load() + growth <=
         static_cast<int64_t>(options_.max_buffered_bytes);
}

// The pool is full: the connection is left disarmed (its one-shot event spent) until Scan finds
// room, so its client is slowed by TCP flow control rather than its bytes held here. Its request
// deadline still runs, so a client that stalls on purpose holds its bytes for read_timeout at most.
void HttpServer::Impl::WaitForRoom(Conn* c) {
  std::lock_guard lock(mu_);
  c->busy = false;
  c->waiting_room = true;
  ++waited_;
}

Io HttpServer::Impl::Read(Conn* c, char* buf, bool keep) {
  for (;;) {
    if (c->ssl != nullptr && c->phase != Conn::Phase::kDrain) {
      ERR_clear_error();
      const int n = SSL_read(c->ssl, buf, static_cast<int>(kReadChunk));
      if (n > 0) {
        if (keep) c->in.append(buf, static_cast<size_t>(n));
        return Io::kOk;
      }
      const int err = SSL_get_error(c->ssl, n);
      ERR_clear_error();
      if (err == SSL_ERROR_WANT_READ) return Io::kWantRead;
      if (err == SSL_ERROR_WANT_WRITE) return Io::kWantWrite;
      return Io::kClosed;
    }
    // Plain HTTP, or a TLS connection being drained (its records are dropped undecrypted).
    const ssize_t n = recv(c->fd, buf, kReadChunk, 0);
    if (n > 0) {
      if (keep) c->in.append(buf, static_cast<size_t>(n));
      return Io::kOk;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return Io::kWantRead;
    return Io::kClosed;
  }
}

Io HttpServer::Impl::Write(Conn* c) {
  while (c->out_off < c->out.size()) {
    const size_t left = c->out.size() - c->out_off;
    if (c->ssl != nullptr) {
      ERR_clear_error();
      const int n = SSL_write(c->ssl, c->out.data() + c->out_off,
                              static_cast<int>(std::min<size_t>(left, 1 << 30)));
      if (n > 0) {
        c->out_off += static_cast<size_t>(n);
        continue;
      }
      const int err = SSL_get_error(c->ssl, n);
      ERR_clear_error();
      if (err == SSL_ERROR_WANT_WRITE) return Io::kWantWrite;
      if (err == SSL_ERROR_WANT_READ) return Io::kWantRead;
      return Io::kClosed;
    }
    const ssize_t n = send(c->fd, c->out.data() + c->out_off, left, MSG_NOSIGNAL);
    if (n > 0) {
      c->out_off += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return Io::kWantWrite;
    return Io::kClosed;
  }
  return Io::kOk;
}

void HttpServer::Impl::Park(Conn* c, uint32_t events) {
  std::lock_guard lock(mu_);
  if (draining_) {
    // Stopping: what has no request under way (a handshake, an idle keep-alive) ends here.
    const bool idle = c->phase == Conn::Phase::kHandshake ||
                      (c->phase == Conn::Phase::kRequest && !c->request_started);
    if (idle) return CloseLocked(c);
  }
  c->busy = false;
  epoll_event ev{};
  ev.events = events | EPOLLONESHOT;
  ev.data.u64 = c->id;
  if (epoll_ctl(epfd_, EPOLL_CTL_MOD, c->fd, &ev) != 0) CloseLocked(c);
}

void HttpServer::Impl::Close(Conn* c) {
  std::lock_guard lock(mu_);
  CloseLocked(c);
}

void HttpServer::Impl::CloseLocked(Conn* c) {
  epoll_ctl(epfd_, EPOLL_CTL_DEL, c->fd, nullptr);
  conns_.erase(c->id);  // ~Conn frees the SSL and closes the socket
  if (draining_ && conns_.empty()) drained_.notify_all();
}

// At the connection limit: closes the connection that has been quiet longest (no event on its
// socket, no byte waiting in it): an idle keep-alive quiet for kEvictQuietFor, else a handshake or
// request quiet for half of read_timeout, the deadline that would close it anyway. A client in
// the middle of its handshake may be slow to answer on a loaded node, so it gets the longer grace;
// a flood of new connections cannot push it out (new ones wait in the backlog meanwhile). A
// linear scan, made only at the limit: microseconds for thousands of connections.
bool HttpServer::Impl::EvictInactiveLocked() {
  const auto now = SteadyClock::now();
  const auto busy_grace = std::max<std::chrono::milliseconds>(kEvictQuietFor, options_.read_timeout / 2);
  for (int tries = 0; tries < 8; ++tries) {  // a candidate with bytes waiting is not quiet
    auto quietest = conns_.end();
    for (bool idle_only : {true, false}) {
      const auto grace = idle_only ? std::chrono::milliseconds(kEvictQuietFor) : busy_grace;
      for (auto it = conns_.begin(); it != conns_.end(); ++it) {
        const Conn& c = *it->second;
        // A worker owns a busy connection and writes its phase and flags without mu_: they are
        // read only once it is back with epoll (busy is written under mu_), or this read races.
        if (c.busy) continue;
        // A connection never answered is not an idle keep-alive: it is a client between its
        // handshake and its first request, which a loaded machine may keep quiet for a while.
        const bool idle = c.phase == Conn::Phase::kRequest && !c.request_started && c.answered;
        if ((idle_only && !idle) || now - c.active < grace) continue;
        if (quietest == conns_.end() || c.active < quietest->second->active) quietest = it;
      }
      if (quietest != conns_.end()) break;
    }
    if (quietest == conns_.end()) return false;
    char byte;
    if (recv(quietest->second->fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT) > 0) {
      quietest->second->active = now;
      continue;
    }
    epoll_ctl(epfd_, EPOLL_CTL_DEL, quietest->second->fd, nullptr);
    conns_.erase(quietest);
    ++evicted_;
    return true;
  }
  return false;
}

void HttpServer::Impl::Scan() {
  std::unique_lock lock(mu_, std::try_to_lock);
  if (!lock.owns_lock()) return;  // another worker is scanning
  const auto now = SteadyClock::now();
  next_scan_.store((now + kScanInterval).time_since_epoch().count(), std::memory_order_relaxed);
  for (auto it = conns_.begin(); it != conns_.end();) {
    Conn* c = it->second.get();
    if (!c->busy && c->deadline <= now) {
      epoll_ctl(epfd_, EPOLL_CTL_DEL, c->fd, nullptr);
      it = conns_.erase(it);
      ++timed_out_;
    } else {
      ++it;
    }
  }
  for (auto& [id, c] : conns_) {
    if (!c->waiting_room || c->busy) continue;
    if (buffered_.load() + static_cast<int64_t>(kReadChunk) >
        static_cast<int64_t>(options_.max_buffered_bytes)) {
      break;
    }
    c->waiting_room = false;
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLONESHOT;
    ev.data.u64 = id;
    epoll_ctl(epfd_, EPOLL_CTL_MOD, c->fd, &ev);
  }
  for (size_t i = 0; i < listeners_.size(); ++i) {
    Listener& l = *listeners_[i];
    if (l.paused && !draining_) {
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.u64 = i + 1;
      epoll_ctl(epfd_, EPOLL_CTL_MOD, l.fd, &ev);
      l.paused = false;
    }
  }
  if (draining_ && conns_.empty()) drained_.notify_all();
}

HttpServer::HttpServer(Options options) : impl_(std::make_unique<Impl>(std::move(options))) {}
HttpServer::~HttpServer() = default;

Result<int> HttpServer::Listen(const std::string& host, int port, SSL_CTX* tls,
                               HttpHandler handler) {
  return impl_->Listen(host, port, tls, std::move(handler));
}

Status HttpServer::Start() { return impl_->Start(); }

void HttpServer::Stop() { impl_->Stop(); }

HttpServer::Stats HttpServer::stats() const { return impl_->stats(); }

}  // namespace kdr::admission
