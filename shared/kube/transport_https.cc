#include "kube/transport_https.h"

#include "tls/pem.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <optional>
#include <vector>

#include "base/strings.h"

// The TLS client is written directly on OpenSSL rather than on httplib's SSLClient: httplib 0.11
// adds the system roots to a custom CA store, cannot verify a name other than the one it dials
// (tls-server-name), reports neither errno nor the x509 reason, and has no whole-call deadline.

namespace kdr::kube {
namespace {

using Steady = std::chrono::steady_clock;

using tls::SslCtxFree;
using tls::X509Ptr;


std::string ErrnoText(int err) { return ToLower(std::strerror(err)); }

std::string FormatDuration(std::chrono::milliseconds d) {
  auto ms = d.count();
  if (ms % 1000 != 0) return std::to_string(ms) + "ms";
  auto s = ms / 1000;
  std::string out;
  if (s >= 3600) out += std::to_string(s / 3600) + "h", s %= 3600;
  if (s >= 60) out += std::to_string(s / 60) + "m", s %= 60;
  if (s > 0 || out.empty()) out += std::to_string(s) + "s";
  return out;
}

bool IsIpLiteral(const std::string& host) {
  in6_addr a6;
  in_addr a4;
  return inet_pton(AF_INET, host.c_str(), &a4) == 1 || inet_pton(AF_INET6, host.c_str(), &a6) == 1;
}

// A deadline for the whole call; none when unset.
struct Deadline {
  std::optional<Steady::time_point> at;
  // Milliseconds left, clamped to [0, cap]; cap when there is no deadline.
  int RemainingMs(int cap) const {
    if (!at) return cap;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(*at - Steady::now()).count();
    if (left < 0) return 0;
    return static_cast<int>(std::min<long long>(left, cap));
  }
  bool Expired() const { return at && Steady::now() >= *at; }
};

enum class Io { kOk, kTimeout, kCancelled, kClosed, kError };

// Waits until fd is readable (or writable). Slices the wait so a stop request is seen promptly.
Io WaitFd(int fd, bool for_write, const Deadline& deadline, const std::stop_token& stop) {
  constexpr int kSliceMs = 100;
  for (;;) {
    if (stop.stop_requested()) return Io::kCancelled;
    if (deadline.Expired()) return Io::kTimeout;
    int cap = stop.stop_possible() || deadline.at ? kSliceMs : -1;
    int wait = cap < 0 ? -1 : deadline.RemainingMs(cap);
    pollfd p{fd, static_cast<short>(for_write ? POLLOUT : POLLIN), 0};
    int n = ::poll(&p, 1, wait);
    if (n > 0) return Io::kOk;
    if (n < 0 && errno != EINTR) return Io::kError;
  }
}

// Writes through OpenSSL must not kill the process with SIGPIPE when the peer has gone: block it
// in this thread for the duration and swallow one raised meanwhile.
class SigpipeGuard {
 public:
  SigpipeGuard() {
    sigset_t pipe;
    sigemptyset(&pipe);
    sigaddset(&pipe, SIGPIPE);
    sigset_t pending;
    sigpending(&pending);
    was_pending_ = sigismember(&pending, SIGPIPE) == 1;
    pthread_sigmask(SIG_BLOCK, &pipe, &old_);
  }
  ~SigpipeGuard() {
    sigset_t pending;
    sigpending(&pending);
    if (!was_pending_ && sigismember(&pending, SIGPIPE) == 1) {
      sigset_t pipe;
      sigemptyset(&pipe);
      sigaddset(&pipe, SIGPIPE);
      timespec zero{0, 0};
      while (sigtimedwait(&pipe, nullptr, &zero) == -1 && errno == EINTR) {
      }
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }

 private:
  sigset_t old_;
  bool was_pending_ = false;
};

struct Conn {
  int fd = -1;
  SSL* ssl = nullptr;
  std::string buf;  // read but not yet consumed
  size_t pos = 0;
  bool reused = false;
  long long generation = 0;
  std::string verify_detail;  // filled by the verify callback (names in the certificate)

  Conn() = default;
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;
  ~Conn() {
    if (ssl != nullptr) {
      SigpipeGuard guard;
      SSL_shutdown(ssl);  // best effort close_notify; non-blocking
      SSL_free(ssl);
    }
    if (fd >= 0) ::close(fd);
  }
  size_t buffered() const { return buf.size() - pos; }
};

// Records the names a server certificate is valid for, so a name mismatch says what it has
// (Go: "x509: certificate is valid for a, b, not c").
int VerifyCallback(int ok, X509_STORE_CTX* store) {
  if (ok) return ok;
  int err = X509_STORE_CTX_get_error(store);
  if (err != X509_V_ERR_HOSTNAME_MISMATCH && err != X509_V_ERR_IP_ADDRESS_MISMATCH) return ok;
  auto* ssl = static_cast<SSL*>(
      X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
  auto* conn = ssl != nullptr ? static_cast<Conn*>(SSL_get_app_data(ssl)) : nullptr;
  X509* cert = X509_STORE_CTX_get_current_cert(store);
  if (conn == nullptr || cert == nullptr) return ok;
  std::vector<std::string> names;
  auto* sans = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  for (int i = 0; sans != nullptr && i < sk_GENERAL_NAME_num(sans); ++i) {
    const GENERAL_NAME* n = sk_GENERAL_NAME_value(sans, i);
    if (n->type == GEN_DNS) {
      const auto* s = ASN1_STRING_get0_data(n->d.dNSName);
      names.emplace_back(reinterpret_cast<const char*>(s), ASN1_STRING_length(n->d.dNSName));
    } else if (n->type == GEN_IPADD) {
      char text[INET6_ADDRSTRLEN] = {};
      int len = ASN1_STRING_length(n->d.iPAddress);
      const unsigned char* d = ASN1_STRING_get0_data(n->d.iPAddress);
      if (len == 4) inet_ntop(AF_INET, d, text, sizeof(text));
      if (len == 16) inet_ntop(AF_INET6, d, text, sizeof(text));
      names.emplace_back(text);
    }
  }
  GENERAL_NAMES_free(sans);
  conn->verify_detail = Join(names, ", ");
  return ok;
}

struct Url {
  std::string host;       // without brackets
  std::string port;
  std::string authority;  // Host header: as written in the URL
  std::string base_path;  // a path prefix (Rancher-style proxies), no trailing slash
};

Result<Url> ParseServerUrl(const std::string& server) {
  constexpr std::string_view kScheme = "https://";
  if (!StartsWith(server, kScheme)) {
    return Status::InvalidArgument("server " + Quote(server) +
                                   " must be an https:// URL (plain http is not supported)");
  }
  std::string rest = server.substr(kScheme.size());
  Url url;
  size_t slash = rest.find('/');
  if (slash != std::string::npos) {
    url.base_path = rest.substr(slash);
    while (!url.base_path.empty() && url.base_path.back() == '/') url.base_path.pop_back();
    rest = rest.substr(0, slash);
  }
  url.authority = rest;
  std::string port = "443";
  if (StartsWith(rest, "[")) {
    size_t close = rest.find(']');
    if (close == std::string::npos) return Status::InvalidArgument("server " + Quote(server) + ": unclosed [ in host");
    url.host = rest.substr(1, close - 1);
    if (close + 1 < rest.size()) {
      if (rest[close + 1] != ':') return Status::InvalidArgument("server " + Quote(server) + ": bad port");
      port = rest.substr(close + 2);
    }
  } else {
    size_t colon = rest.rfind(':');
    url.host = rest.substr(0, colon);
    if (colon != std::string::npos) port = rest.substr(colon + 1);
  }
  bool digits = !port.empty() && port.size() <= 5 &&
                port.find_first_not_of("0123456789") == std::string::npos;
  if (url.host.empty() || !digits || std::stoi(port) == 0 || std::stoi(port) > 65535) {
    return Status::InvalidArgument("server " + Quote(server) + " is not https://host[:port]");
  }
  url.port = port;
  return url;
}

}  // namespace

struct HttpsTransport::Impl {
  RestConfig config;
  Url url;
  std::string base_url;
  std::string verify_name;  // tls_server_name or the URL host
  std::chrono::milliseconds default_timeout{0};
  size_t max_connections = 16;

  std::mutex mu;
  std::condition_variable cv;
  std::shared_ptr<SSL_CTX> ctx;  // guarded by mu (swapped by SetClientCertificate)
  long long generation = 0;      // guarded by mu
  std::vector<std::unique_ptr<Conn>> idle;  // guarded by mu
  size_t open = 0;                          // guarded by mu: idle + in use + being dialled

  std::atomic<long long> connections_opened{0};
  std::atomic<long long> requests{0};

  Result<std::shared_ptr<SSL_CTX>> MakeContext(const std::string& cert_pem,
                                               const std::string& key_pem) const;
  Result<std::unique_ptr<Conn>> Acquire(const Deadline& deadline, const std::stop_token& stop);
  void Release(std::unique_ptr<Conn> conn, bool reusable);
  Result<std::unique_ptr<Conn>> Dial(const Deadline& deadline, const std::stop_token& stop,
                                     std::shared_ptr<SSL_CTX> ctx, long long gen);
  bool IsStale(Conn& c) const;

  // One exchange on one connection. *written tells whether the whole request went out,
  // *response_started whether any response byte came.
  Status Exchange(Conn& c, const HttpRequest& req, const Deadline& deadline, HttpResponse* resp,
                  bool* reusable, bool* written, bool* response_started);

  // Low-level I/O on a connection.
  Io ReadMore(Conn& c, const Deadline& d, const std::stop_token& stop, std::string* err);
  Io WriteAll(Conn& c, std::string_view data, const Deadline& d, const std::stop_token& stop,
              std::string* err);

  Status IoStatus(Io io, const HttpRequest& req, const std::string& detail,
                  std::chrono::milliseconds timeout) const {
    switch (io) {
      case Io::kTimeout:
        return Status::DeadlineExceeded("request " + req.method + " " + base_url + req.path +
                                        " timed out after " + FormatDuration(timeout) +
                                        " (raise --request-timeout)");
      case Io::kCancelled:
        return Status::Cancelled("request " + req.method + " " + base_url + req.path + " cancelled");
      default:
        return Status::Unavailable("connection to " + base_url + " lost during " + req.method + " " +
                                   req.path + ": " + detail);
    }
  }
};

Result<std::shared_ptr<SSL_CTX>> HttpsTransport::Impl::MakeContext(const std::string& cert_pem,
                                                                   const std::string& key_pem) const {
  std::shared_ptr<SSL_CTX> ctx(SSL_CTX_new(TLS_client_method()), SslCtxFree());
  if (!ctx) return Status::Internal("cannot create a TLS context: " + tls::LastOpenSslError());
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  SSL_CTX_set_mode(ctx.get(), SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
#ifdef SSL_OP_IGNORE_UNEXPECTED_EOF
  SSL_CTX_set_options(ctx.get(), SSL_OP_IGNORE_UNEXPECTED_EOF);
#endif
  if (config.insecure_skip_tls_verify) {
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);
  } else {
    if (config.ca_pem.empty()) {
      SSL_CTX_set_default_verify_paths(ctx.get());
    } else {
      KDR_ASSIGN_OR_RETURN(tls::X509StorePtr store,
                           tls::NewCertStore(config.ca_pem, "certificate-authority data"));
      SSL_CTX_set_cert_store(ctx.get(), store.release());  // takes ownership
    }
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, VerifyCallback);
  }
  if (!cert_pem.empty() || !key_pem.empty()) {
    if (cert_pem.empty() || key_pem.empty()) {
      return Status::InvalidArgument(
          "client certificate and client key must be given together (one of them is empty)");
    }
    KDR_ASSIGN_OR_RETURN(auto chain, tls::ParseCertificates(cert_pem, "client-certificate data"));
    KDR_ASSIGN_OR_RETURN(tls::PkeyPtr key, tls::ParsePrivateKey(key_pem, "client-key data"));
    if (SSL_CTX_use_certificate(ctx.get(), chain[0].get()) != 1 ||
        SSL_CTX_use_PrivateKey(ctx.get(), key.get()) != 1) {
      return Status::InvalidArgument("client certificate: " + tls::LastOpenSslError());
    }
    if (SSL_CTX_check_private_key(ctx.get()) != 1) {
      ERR_clear_error();
      return Status::InvalidArgument("client-key data does not match the client certificate");
    }
    for (size_t i = 1; i < chain.size(); ++i) SSL_CTX_add1_chain_cert(ctx.get(), chain[i].get());
  }
  return ctx;
}

Result<std::unique_ptr<Conn>> HttpsTransport::Impl::Dial(const Deadline& deadline,
                                                         const std::stop_token& stop,
                                                         std::shared_ptr<SSL_CTX> ctx,
                                                         long long gen) {
  const std::string prefix = "cannot connect to " + base_url + ": ";
  // Connecting alone is bounded even without a request timeout, as Go's dialer (30s).
  Deadline dial = deadline;
  auto dial_cap = Steady::now() + std::chrono::seconds(30);
  if (!dial.at || *dial.at > dial_cap) dial.at = dial_cap;

  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  int gai = ::getaddrinfo(url.host.c_str(), url.port.c_str(), &hints, &res);
  if (gai != 0) {
    return Status::Unavailable(prefix + "lookup " + url.host + ": " + ToLower(gai_strerror(gai)));
  }
  std::unique_ptr<addrinfo, void (*)(addrinfo*)> addrs(res, freeaddrinfo);
  auto conn = std::make_unique<Conn>();
  conn->generation = gen;
  std::string last_error = "no address";
  for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
    int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) {
      last_error = ErrnoText(errno);
      continue;
    }
    int rc = ::connect(fd, ai->ai_addr, ai->ai_addrlen);
    if (rc != 0 && errno == EINPROGRESS) {
      Io io = WaitFd(fd, true, dial, stop);
      if (io != Io::kOk) {
        ::close(fd);
        if (io == Io::kCancelled) return Status::Cancelled(prefix + "cancelled");
        if (io == Io::kTimeout) {
          if (deadline.Expired() || dial.at == deadline.at) {
            return Status::DeadlineExceeded(prefix + "timed out while connecting");
          }
          return Status::Unavailable(prefix + "timed out while connecting (30s)");
        }
        last_error = ErrnoText(errno);
        continue;
      }
      int err = 0;
      socklen_t len = sizeof(err);
      ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
      rc = err == 0 ? 0 : -1;
      if (err != 0) errno = err;
    }
    if (rc != 0) {
      last_error = ErrnoText(errno);
      ::close(fd);
      continue;
    }
    conn->fd = fd;
    break;
  }
  if (conn->fd < 0) return Status::Unavailable(prefix + last_error);
  int one = 1;
  ::setsockopt(conn->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));

  conn->ssl = SSL_new(ctx.get());
  if (conn->ssl == nullptr) return Status::Internal(prefix + "SSL_new: " + tls::LastOpenSslError());
  SSL_set_fd(conn->ssl, conn->fd);
  SSL_set_app_data(conn->ssl, conn.get());
  bool ip = IsIpLiteral(verify_name);
  if (!ip) SSL_set_tlsext_host_name(conn->ssl, verify_name.c_str());
  if (!config.insecure_skip_tls_verify) {
    X509_VERIFY_PARAM* param = SSL_get0_param(conn->ssl);
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    int ok = ip ? X509_VERIFY_PARAM_set1_ip_asc(param, verify_name.c_str())
                : X509_VERIFY_PARAM_set1_host(param, verify_name.c_str(), verify_name.size());
    if (ok != 1) return Status::InvalidArgument(prefix + "cannot verify the name " + Quote(verify_name));
  }
  ERR_clear_error();
  SigpipeGuard guard;
  for (;;) {
    int rc = SSL_connect(conn->ssl);
    if (rc == 1) break;
    int e = SSL_get_error(conn->ssl, rc);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
      Io io = WaitFd(conn->fd, e == SSL_ERROR_WANT_WRITE, dial, stop);
      if (io == Io::kCancelled) return Status::Cancelled(prefix + "cancelled");
      if (io == Io::kTimeout) return Status::DeadlineExceeded(prefix + "tls handshake timed out");
      if (io != Io::kOk) return Status::Unavailable(prefix + "tls handshake failed: " + ErrnoText(errno));
      continue;
    }
    long verify = SSL_get_verify_result(conn->ssl);
    if (!config.insecure_skip_tls_verify && verify != X509_V_OK) {
      ERR_clear_error();
      std::string why;
      switch (verify) {
        case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
        case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
        case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
        case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
        case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
        case X509_V_ERR_CERT_SIGNATURE_FAILURE:
          why = "x509: certificate signed by unknown authority (check certificate-authority-data of "
                "cluster " + Quote(config.cluster_name) + ")";
          break;
        case X509_V_ERR_HOSTNAME_MISMATCH:
        case X509_V_ERR_IP_ADDRESS_MISMATCH:
          why = "x509: certificate is valid for " +
                (conn->verify_detail.empty() ? std::string("other names") : conn->verify_detail) +
                ", not " + verify_name + " (set tls-server-name to a name the certificate has)";
          break;
        case X509_V_ERR_CERT_HAS_EXPIRED:
        case X509_V_ERR_CERT_NOT_YET_VALID:
          why = "x509: certificate has expired or is not yet valid";
          break;
        default:
          why = std::string("x509: ") + X509_verify_cert_error_string(verify);
      }
      return Status::Unavailable(prefix + "tls: failed to verify certificate: " + why);
    }
    std::string detail;
    if (e == SSL_ERROR_SYSCALL) {
      detail = ERR_peek_error() != 0 ? tls::LastOpenSslError()
               : errno != 0           ? ErrnoText(errno)
                                      : "connection closed by the server";
    } else if (e == SSL_ERROR_ZERO_RETURN) {
      detail = "connection closed by the server";
    } else {
      detail = tls::LastOpenSslError();
    }
    return Status::Unavailable(prefix + "tls handshake failed: " + detail);
  }
  connections_opened.fetch_add(1);
  return conn;
}

bool HttpsTransport::Impl::IsStale(Conn& c) const {
  if (c.buffered() > 0) return true;  // unexpected bytes after a response
  pollfd p{c.fd, POLLIN, 0};
  int n = ::poll(&p, 1, 0);
  if (n == 0) return false;
  if (p.revents & (POLLERR | POLLHUP | POLLNVAL)) return true;
  // Readable: a close_notify, EOF, stray data, or only TLS 1.3 session tickets (harmless).
  char b;
  ERR_clear_error();
  int rc = SSL_peek(c.ssl, &b, 1);
  if (rc > 0) return true;
  int e = SSL_get_error(c.ssl, rc);
  ERR_clear_error();
  return !(e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE);
}

Result<std::unique_ptr<Conn>> HttpsTransport::Impl::Acquire(const Deadline& deadline,
                                                            const std::stop_token& stop) {
  std::unique_lock<std::mutex> lock(mu);
  for (;;) {
    while (!idle.empty()) {
      std::unique_ptr<Conn> c = std::move(idle.back());
      idle.pop_back();
      if (c->generation == generation && !IsStale(*c)) {
        c->reused = true;
        return c;
      }
      --open;
    }
    if (open < max_connections) {
      ++open;
      auto ctx_now = ctx;
      long long gen = generation;
      lock.unlock();
      auto c = Dial(deadline, stop, std::move(ctx_now), gen);
      if (!c.ok()) {
        lock.lock();
        --open;
        cv.notify_one();
      }
      return c;
    }
    if (stop.stop_requested()) return Status::Cancelled("request to " + base_url + " cancelled");
    if (deadline.Expired()) {
      return Status::DeadlineExceeded("request to " + base_url + " timed out waiting for one of " +
                                      std::to_string(max_connections) + " connections");
    }
    cv.wait_for(lock, std::chrono::milliseconds(deadline.RemainingMs(100)));
  }
}

void HttpsTransport::Impl::Release(std::unique_ptr<Conn> conn, bool reusable) {
  std::unique_ptr<Conn> drop;
  {
    std::lock_guard<std::mutex> lock(mu);
    if (reusable && conn->generation == generation) {
      conn->buf.erase(0, conn->pos);
      conn->pos = 0;
      idle.push_back(std::move(conn));
    } else {
      --open;
      drop = std::move(conn);
    }
  }
  cv.notify_one();
}

Io HttpsTransport::Impl::ReadMore(Conn& c, const Deadline& d, const std::stop_token& stop,
                                  std::string* err) {
  char chunk[16384];
  for (;;) {
    ERR_clear_error();
    int n = SSL_read(c.ssl, chunk, sizeof(chunk));
    if (n > 0) {
      if (c.pos > 0 && c.pos == c.buf.size()) {
        c.buf.clear();
        c.pos = 0;
      }
      c.buf.append(chunk, static_cast<size_t>(n));
      return Io::kOk;
    }
    int e = SSL_get_error(c.ssl, n);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
      Io io = WaitFd(c.fd, e == SSL_ERROR_WANT_WRITE, d, stop);
      if (io != Io::kOk) return io;
      continue;
    }
    if (e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0 && errno == 0)) {
      *err = "connection closed by the server";
      return Io::kClosed;
    }
    if (e == SSL_ERROR_SYSCALL && errno != 0) {
      *err = ErrnoText(errno);
    } else {
      *err = tls::LastOpenSslError();
    }
    if (*err == "unexpected eof while reading") {
      *err = "connection closed by the server";
      return Io::kClosed;
    }
    return Io::kError;
  }
}

Io HttpsTransport::Impl::WriteAll(Conn& c, std::string_view data, const Deadline& d,
                                  const std::stop_token& stop, std::string* err) {
  SigpipeGuard guard;
  while (!data.empty()) {
    ERR_clear_error();
    int n = SSL_write(c.ssl, data.data(), static_cast<int>(std::min<size_t>(data.size(), 1 << 20)));
    if (n > 0) {
      data.remove_prefix(static_cast<size_t>(n));
      continue;
    }
    int e = SSL_get_error(c.ssl, n);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
      Io io = WaitFd(c.fd, e == SSL_ERROR_WANT_WRITE, d, stop);
      if (io != Io::kOk) return io;
      continue;
    }
    *err = e == SSL_ERROR_SYSCALL && errno != 0 ? ErrnoText(errno) : tls::LastOpenSslError();
    return Io::kError;
  }
  return Io::kOk;
}

Status HttpsTransport::Impl::Exchange(Conn& c, const HttpRequest& req, const Deadline& deadline,
                                      HttpResponse* resp, bool* reusable, bool* written,
                                      bool* response_started) {
  *reusable = false;
  *written = false;
  *response_started = false;
  std::chrono::milliseconds timeout = req.timeout.count() > 0 ? req.timeout : default_timeout;
  const std::stop_token& stop = req.stop;

  std::string head;
  head.reserve(256 + req.path.size());
  head += req.method + " " + url.base_path + req.path + " HTTP/1.1\r\nHost: " + url.authority + "\r\n";
  bool has_content_type = false;
  for (const auto& [k, v] : req.headers) {
    std::string lk = ToLower(k);
    if (lk == "host" || lk == "content-length" || lk == "connection" || lk == "transfer-encoding") continue;
    if (lk == "content-type") has_content_type = true;
    head += k + ": " + v + "\r\n";
  }
  if (!req.body.empty() || req.method == "POST" || req.method == "PUT" || req.method == "PATCH") {
    if (!has_content_type && !req.body.empty()) head += "Content-Type: application/json\r\n";
    head += "Content-Length: " + std::to_string(req.body.size()) + "\r\n";
  }
  head += "\r\n";
  std::string err;
  // Small bodies go out with the head in one TLS record.
  if (req.body.size() < 64 * 1024) {
    head += req.body;
    Io io = WriteAll(c, head, deadline, stop, &err);
    if (io != Io::kOk) return IoStatus(io, req, "write failed: " + err, timeout);
  } else {
    Io io = WriteAll(c, head, deadline, stop, &err);
    if (io == Io::kOk) io = WriteAll(c, req.body, deadline, stop, &err);
    if (io != Io::kOk) return IoStatus(io, req, "write failed: " + err, timeout);
  }
  *written = true;

  // Reads one CRLF-terminated line (without the CRLF).
  auto read_line = [&](std::string* line) -> Status {
    for (;;) {
      size_t eol = c.buf.find("\r\n", c.pos);
      if (eol != std::string::npos) {
        line->assign(c.buf, c.pos, eol - c.pos);
        c.pos = eol + 2;
        return Status::Ok();
      }
      if (c.buffered() > 1 << 20) return Status::Unavailable("response from " + base_url + ": header line too long");
      Io io = ReadMore(c, deadline, stop, &err);
      if (io != Io::kOk) return IoStatus(io, req, err, timeout);
      *response_started = true;
    }
  };

  std::string line;
  KDR_RETURN_IF_ERROR(read_line(&line));
  *response_started = true;
  // "HTTP/1.1 200 OK"
  if (!StartsWith(line, "HTTP/1.") || line.size() < 12) {
    return Status::Unavailable("malformed response from " + base_url + ": " + Quote(line.substr(0, 64)));
  }
  bool http11 = line[7] == '1';
  resp->status = std::atoi(line.c_str() + 9);
  resp->headers.clear();
  resp->body.clear();
  for (;;) {
    KDR_RETURN_IF_ERROR(read_line(&line));
    if (line.empty()) break;
    size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    resp->headers.emplace_back(line.substr(0, colon), std::string(TrimSpace(std::string_view(line).substr(colon + 1))));
  }
  bool keep_alive = http11 && ToLower(HeaderValue(resp->headers, "connection")) != "close";
  bool chunked = ToLower(HeaderValue(resp->headers, "transfer-encoding")).find("chunked") != std::string::npos;
  std::string_view cl = HeaderValue(resp->headers, "content-length");
  bool no_body = req.method == "HEAD" || resp->status == 204 || resp->status == 304 ||
                 (resp->status >= 100 && resp->status < 200);
  bool stream = req.on_body && resp->status >= 200 && resp->status < 300;
  bool stopped = false;
  auto deliver = [&](std::string_view data) {
    if (data.empty() || stopped) return;
    if (stream) {
      if (!req.on_body(data)) stopped = true;
    } else {
      resp->body.append(data);
    }
  };
  // Consumes up to n buffered-or-read bytes, delivering them.
  auto read_exact = [&](size_t n) -> Status {
    while (n > 0 && !stopped) {
      if (c.buffered() == 0) {
        Io io = ReadMore(c, deadline, stop, &err);
        if (io != Io::kOk) return IoStatus(io, req, err + " (response body cut short)", timeout);
      }
      size_t take = std::min(n, c.buffered());
      std::string_view piece(c.buf.data() + c.pos, take);
      c.pos += take;
      n -= take;
      deliver(piece);
    }
    return Status::Ok();
  };

  if (no_body) {
    *reusable = keep_alive;
    return Status::Ok();
  }
  if (chunked) {
    for (;;) {
      KDR_RETURN_IF_ERROR(read_line(&line));
      size_t size = 0;
      try {
        size = std::stoul(line, nullptr, 16);
      } catch (...) {
        return Status::Unavailable("malformed chunked response from " + base_url);
      }
      if (size == 0) {
        do {
          KDR_RETURN_IF_ERROR(read_line(&line));  // trailers
        } while (!line.empty());
        break;
      }
      KDR_RETURN_IF_ERROR(read_exact(size));
      if (stopped) return Status::Ok();
      KDR_RETURN_IF_ERROR(read_line(&line));
    }
    *reusable = keep_alive;
    return Status::Ok();
  }
  if (!cl.empty()) {
    size_t n = 0;
    try {
      n = std::stoull(std::string(cl));
    } catch (...) {
      return Status::Unavailable("bad Content-Length from " + base_url + ": " + Quote(cl));
    }
    KDR_RETURN_IF_ERROR(read_exact(n));
    *reusable = keep_alive && !stopped;
    return Status::Ok();
  }
  // No framing: the body runs to the end of the connection.
  for (;;) {
    if (c.buffered() > 0) {
      std::string_view piece(c.buf.data() + c.pos, c.buffered());
      c.pos = c.buf.size();
      deliver(piece);
    }
    if (stopped) return Status::Ok();
    Io io = ReadMore(c, deadline, stop, &err);
    if (io == Io::kClosed) return Status::Ok();
    if (io != Io::kOk) return IoStatus(io, req, err, timeout);
  }
}

HttpsTransport::HttpsTransport(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HttpsTransport::~HttpsTransport() = default;

Result<std::unique_ptr<HttpsTransport>> HttpsTransport::Create(const RestConfig& config) {
  auto impl = std::make_unique<Impl>();
  impl->config = config;
  KDR_ASSIGN_OR_RETURN(impl->url, ParseServerUrl(config.server));
  impl->base_url = config.server;
  while (!impl->base_url.empty() && impl->base_url.back() == '/') impl->base_url.pop_back();
  impl->verify_name = config.tls_server_name.empty() ? impl->url.host : config.tls_server_name;
  impl->default_timeout = config.request_timeout;
  impl->max_connections = config.max_connections > 0 ? static_cast<size_t>(config.max_connections) : 1;
  KDR_ASSIGN_OR_RETURN(impl->ctx, impl->MakeContext(config.client_cert_pem, config.client_key_pem));
  return std::unique_ptr<HttpsTransport>(new HttpsTransport(std::move(impl)));
}

const std::string& HttpsTransport::base_url() const { return impl_->base_url; }

HttpsTransport::Stats HttpsTransport::stats() const {
  return Stats{impl_->connections_opened.load(), impl_->requests.load()};
}

Status HttpsTransport::SetClientCertificate(const std::string& cert_pem, const std::string& key_pem) {
  KDR_ASSIGN_OR_RETURN(auto ctx, impl_->MakeContext(cert_pem, key_pem));
  std::vector<std::unique_ptr<Conn>> drop;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    impl_->ctx = std::move(ctx);
    ++impl_->generation;
    impl_->open -= impl_->idle.size();
    drop.swap(impl_->idle);
  }
  impl_->cv.notify_all();
  return Status::Ok();
}

Result<HttpResponse> HttpsTransport::Send(const HttpRequest& request) {
  Impl& im = *impl_;
  im.requests.fetch_add(1);
  std::chrono::milliseconds timeout = request.timeout.count() > 0 ? request.timeout : im.default_timeout;
  Deadline deadline;
  if (timeout.count() > 0) deadline.at = Steady::now() + timeout;
  if (request.stop.stop_requested()) {
    return Status::Cancelled("request " + request.method + " " + im.base_url + request.path + " cancelled");
  }
  // A kept-alive connection the server closed meanwhile fails before any response byte. The
  // request is then sent again once on a fresh connection when that cannot repeat a side effect
  // (Go's rule): it did not go out whole, or its method is safe.
  for (int attempt = 0;; ++attempt) {
    KDR_ASSIGN_OR_RETURN(std::unique_ptr<Conn> conn, im.Acquire(deadline, request.stop));
    HttpResponse resp;
    bool reusable = false;
    bool written = false;
    bool started = false;
    bool was_reused = conn->reused;
    Status s = im.Exchange(*conn, request, deadline, &resp, &reusable, &written, &started);
    im.Release(std::move(conn), s.ok() && reusable);
    if (s.ok()) return resp;
    bool stale = was_reused && !started && s.code() == StatusCode::kUnavailable;
    bool replayable = !written || request.method == "GET" || request.method == "HEAD" ||
                      request.method == "OPTIONS";
    if (stale && replayable && attempt == 0) continue;
    return s;
  }
}

}  // namespace kdr::kube
