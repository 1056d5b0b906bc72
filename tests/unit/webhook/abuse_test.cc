// The real kubectl-dr-webhook process under abuse over loopback TLS: slow clients dribbling a
// body, handshakes never finished, many idle connections, oversize bodies, bodies that are not
// JSON, huge and deeply nested reviews, floods of new TLS connections, and its serving certificate
// rotated under load. Throughout each, correct clients (one opening a connection per request, as
// after an API server restart, one keeping its connection alive, as the API server does) must be
// answered within kube-apiserver's default webhook timeout, and the process's resident memory
// (/proc/PID/status) must stay bounded. Each test prints its figures (the README's "Reliability"
// section quotes them): correct requests served and failed, the abuse sent, the peak memory.

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "admission/review.h"
#include "base/fs.h"
#include "testutil/testutil.h"
#include "tls/certs.h"
#include "tls/pem.h"

extern char** environ;

namespace kdr::admission {
namespace {

using nlohmann::json;
using SteadyClock = std::chrono::steady_clock;

// kube-apiserver's default timeoutSeconds for a webhook call: a correct client is answered within
// this or the API server counts the call failed.
constexpr int kClientTimeoutSeconds = 10;
// The webhook's handshake and request deadline in the tests of clients it must cut off, so they
// are cut off (and come back) several times within a scenario; the others keep the default (10 s,
// kube-apiserver's own timeout), as on a loaded node a 6 MiB upload may take longer than this.
constexpr int kShortReadTimeoutSeconds = 2;
constexpr auto kAbuseFor = std::chrono::seconds(6);
constexpr size_t kMaxBodyBytes = 7 << 20;  // the webhook's default --max-body-bytes
// Resident memory the abuse may add to what the same process held after answering correct
// clients: the request buffer pool (32 MiB), the connection limit's worth of TLS handshakes under
// way (1,024 of ~40 KiB) and two workers decoding the largest review accepted. Without the
// limits, stalled connections each hold up to the body limit (100 of them held 177 MiB and
// counting) and stalled handshakes grow with the file descriptor limit.
// Under TSan each byte the webhook touches also has its shadow (TSan's documented memory cost is
// 5-10x): the huge and deeply nested reviews grew it by 151 MiB there, 42 MiB unsanitized, so the bound is
// three times as high; the unbounded cases it guards against grow without end all the same.
#if defined(__SANITIZE_THREAD__)
constexpr long kMaxGrowthKiB = 3 * (128 << 10);
#else
constexpr long kMaxGrowthKiB = 128 << 10;
#endif

const char kUid[] = "7f0b2c1e-0000-4000-8000-000000000001";  // of admission/pod-create.json

long RssKiB(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

// Open file descriptors of the process: its connections, plus a few of its own.
long OpenFds(pid_t pid) {
  std::error_code ec;
  long n = 0;
  for (auto it = std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    ++n;
  }
  return n;
}

int ConnectTcp(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd);
    return -1;
  }
  timeval tv{2, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  return fd;
}

// True when the peer has closed (or reset) the connection: readable with nothing left to read.
bool PeerClosed(int fd) {
  pollfd p{fd, POLLIN, 0};
  if (poll(&p, 1, 0) <= 0) return false;
  if (p.revents & (POLLHUP | POLLERR)) return true;
  char c;
  const ssize_t n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
  return n <= 0;
}

// An abusive connection: raw OpenSSL over a blocking socket, no certificate verification. kNone
// connects and says nothing; kPartial sends the first bytes of a TLS record and stops there.
class RawTls {
 public:
  enum class Handshake { kFull, kNone, kPartial };

  RawTls(SSL_CTX* ctx, int port, Handshake handshake = Handshake::kFull) {
    fd_ = ConnectTcp(port);
    if (fd_ < 0) return;
    if (handshake == Handshake::kPartial) {
      send(fd_, "\x16\x03\x01\x02\x00\x01", 6, MSG_NOSIGNAL);
    }
    if (handshake != Handshake::kFull) return;
    ssl_ = SSL_new(ctx);
    SSL_set_fd(ssl_, fd_);
    ok_ = SSL_connect(ssl_) == 1;
    ERR_clear_error();
  }
  ~RawTls() {
    if (ssl_ != nullptr) SSL_free(ssl_);
    if (fd_ >= 0) close(fd_);
  }
  RawTls(const RawTls&) = delete;
  RawTls& operator=(const RawTls&) = delete;
  bool ok() const { return ok_; }
  int fd() const { return fd_; }
  std::string PeerCommonName() const {
    X509* peer = ssl_ == nullptr ? nullptr : SSL_get1_peer_certificate(ssl_);
    if (peer == nullptr) return "";
    char buf[256] = {};
    X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName, buf, sizeof buf);
    X509_free(peer);
    return buf;
  }
  bool Send(std::string_view data) {
    if (!ok_) return false;
    const bool sent = SSL_write(ssl_, data.data(), static_cast<int>(data.size())) ==
                      static_cast<int>(data.size());
    ERR_clear_error();
    return sent;
  }

 private:
  int fd_ = -1;
  SSL* ssl_ = nullptr;
  bool ok_ = false;
};

// A review of `fixture` whose object.spec (and oldObject.spec) carries "x" nested `levels` arrays
// deep, built as text.
std::string DeepReview(const std::string& fixture, int levels) {
  json review = json::parse(testutil::ReadData("admission/" + fixture));
  review["request"]["object"]["spec"]["x"] = "@deep@";
  std::string text = review.dump();
  text.replace(text.find("\"@deep@\""), 8,
               std::string(levels, '[') + "1" + std::string(levels, ']'));
  return text;
}

// The pod of admission/pod-create.json with `keys` annotations of `value_bytes` each.
std::string HugeReview(int keys, size_t value_bytes) {
  json review = json::parse(testutil::ReadData("admission/pod-create.json"));
  json& annotations = review["request"]["object"]["metadata"]["annotations"];
  for (int i = 0; i < keys; ++i) {
    annotations["example.com/a" + std::to_string(i)] = std::string(value_bytes, 'v');
  }
  return review.dump();
}

// What a scenario did, for its assertions and its printed figures.
struct Tally {
  std::atomic<int> served{0};    // correct requests answered correctly in time
  std::atomic<int> failed{0};    // correct requests not answered, or answered wrongly
  std::atomic<long> slowest_ms{0};
  std::atomic<long> abuse{0};    // abusive connections or requests made
  std::atomic<long> answered{0}; // abusive requests answered as expected (400, 413, 200)
  std::atomic<long> wrong{0};    // abusive requests answered otherwise
  std::mutex mu;
  std::vector<std::string> failures;  // the first few, for the failure message

  void Fail(const std::string& why) {
    failed++;
    std::lock_guard lock(mu);
    if (failures.size() < 5) failures.push_back(why);
  }
};

class WebhookAbuseTest : public ::testing::Test {
 protected:
  void SetUp() override {
    signal(SIGPIPE, SIG_IGN);  // abusive writes to connections the server closed
    binary_ = testutil::BinaryDir() + "/kubectl-dr-webhook";
    ASSERT_EQ(access(binary_.c_str(), X_OK), 0) << binary_ << ": build kubectl-dr-webhook first";
    auto ca = tls::MakeCa("abuse-test-ca");
    ASSERT_TRUE(ca.ok());
    ca_ = *ca;
    WriteServingCert("webhook-a", dir_.path());
    objects_ = dir_.Write("objects.yaml", testutil::ReadData("admission/deep-review-state.yaml"));
    attacker_ctx_ = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_verify(attacker_ctx_, SSL_VERIFY_NONE, nullptr);
  }
  void TearDown() override {
    StopWebhook();
    SSL_CTX_free(attacker_ctx_);
  }

  void WriteServingCert(const std::string& cn, const std::string& dir) {
    tls::CertRequest req;
    req.common_name = cn;
    req.dns_names = {"localhost"};
    req.ip_addresses = {"127.0.0.1"};
    auto leaf = tls::MakeLeaf(ca_, req);
    ASSERT_TRUE(leaf.ok());
    // Each an atomic rename, key first, as a Secret volume's files change.
    ASSERT_TRUE(fs_.WriteFile(dir + "/tls.key", leaf->key_pem, 0600).ok());
    ASSERT_TRUE(fs_.WriteFile(dir + "/tls.crt", leaf->cert_pem).ok());
  }

  // This process's environment for the webhook. Under ASan, whose quarantine keeps up to 256 MiB of
  // freed memory resident so that a use after free is caught, the webhook's quarantine is cut to
  // 8 MiB: the memory bound is on what the webhook holds, and the quarantine of freed request
  // buffers is the sanitizer's (with it, the stalled-bodies scenario peaked at 360 MiB; without
  // it, at 100 MiB, as in the unsanitized build).
  static std::vector<std::string> ChildEnvironment() {
    std::vector<std::string> out;
    bool asan_options = false;
    for (char** e = environ; *e != nullptr; ++e) {
      std::string var = *e;
#if defined(__SANITIZE_ADDRESS__)
      if (var.rfind("ASAN_OPTIONS=", 0) == 0) {
        var += ":quarantine_size_mb=8:thread_local_quarantine_size_kb=256";
        asan_options = true;
      }
#endif
      out.push_back(std::move(var));
    }
#if defined(__SANITIZE_ADDRESS__)
    if (!asan_options) out.push_back("ASAN_OPTIONS=quarantine_size_mb=8:thread_local_quarantine_size_kb=256");
#endif
    (void)asan_options;
    return out;
  }

  // Starts kubectl-dr-webhook serving the objects of deep-review-state.yaml and waits for its
  // port. cert_dir: where tls.crt and tls.key are.
  void StartWebhook(const std::string& cert_dir, std::vector<std::string> extra = {}) {
    log_ = dir_.path() + "/webhook.log";
    std::vector<std::string> args = {binary_,
                                     "--listen", "127.0.0.1:0",
                                     "--tls-cert", cert_dir + "/tls.crt",
                                     "--tls-key", cert_dir + "/tls.key",
                                     "--objects", objects_,
                                     "--threads", "2",
                                     "--shutdown-delay", "0"};
    args.insert(args.end(), extra.begin(), extra.end());
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    std::vector<std::string> env_strings = ChildEnvironment();
    std::vector<char*> envp;
    for (auto& e : env_strings) envp.push_back(e.data());
    envp.push_back(nullptr);
    ASSERT_EQ(posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), envp.data()), 0);
    posix_spawn_file_actions_destroy(&actions);
    const std::regex port_re("\"msg\":\"serving\".*\"port\":\"([0-9]+)\"");
    const auto until = SteadyClock::now() + std::chrono::seconds(30);
    while (port_ == 0 && SteadyClock::now() < until) {
      std::smatch m;
      const std::string log = Log();
      if (std::regex_search(log, m, port_re)) {
        port_ = std::stoi(m[1]);
      } else {
        ASSERT_TRUE(Running()) << "kubectl-dr-webhook exited:\n" << log;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
    }
    ASSERT_GT(port_, 0) << Log();
  }
  void StopWebhook() {
    if (pid_ <= 0) return;
    kill(pid_, SIGTERM);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  bool Running() {
    if (pid_ <= 0) return false;
    int status = 0;
    return waitpid(pid_, &status, WNOHANG) == 0;
  }
  std::string Log() const {
    std::ifstream in(log_);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }

  std::unique_ptr<httplib::SSLClient> Client(bool keep_alive) const {
    auto cli = std::make_unique<httplib::SSLClient>("127.0.0.1", port_);
    cli->set_ca_cert_store(tls::NewCertStore(ca_.cert_pem, "test CA")->release());
    cli->enable_server_certificate_verification(true);
    cli->set_connection_timeout(kClientTimeoutSeconds, 0);
    cli->set_read_timeout(kClientTimeoutSeconds, 0);
    cli->set_write_timeout(kClientTimeoutSeconds, 0);
    cli->set_keep_alive(keep_alive);
    return cli;
  }

  // A value of the webhook's /metrics, e.g. Metric("kdr_webhook_connections_closed{reason=\"limit\"}");
  // -1 when it cannot be read.
  double Metric(const std::string& series) const {
    auto r = Client(false)->Get("/metrics");
    if (!r || r->status != 200) return -1;
    const size_t at = r->body.find("\n" + series + " ");
    return at == std::string::npos ? -1 : std::stod(r->body.substr(at + series.size() + 2));
  }

  // One correct request: the fenced-PVC denial of pod-create.json, with its uid, in time.
  void Probe(httplib::SSLClient& cli, Tally& t) {
    const auto start = SteadyClock::now();
    auto r = cli.Post("/validate", pod_review_, "application/json");
    const long ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                        SteadyClock::now() - start).count();
    long prev = t.slowest_ms.load();
    while (ms > prev && !t.slowest_ms.compare_exchange_weak(prev, ms)) {}
    if (!r) {
      t.Fail("no answer: " + httplib::to_string(r.error()) + " after " + std::to_string(ms) + " ms");
      return;
    }
    json out = json::parse(r->body, nullptr, false);
    if (r->status != 200 || !out.is_object() || out["response"]["uid"] != kUid ||
        out["response"]["allowed"] != false) {
      t.Fail("status " + std::to_string(r->status) + ": " + r->body.substr(0, 200));
      return;
    }
    if (ms > kClientTimeoutSeconds * 1000) {
      t.Fail("answered after " + std::to_string(ms) + " ms");
      return;
    }
    t.served++;
  }

  // Runs `abusers` (each a loop until stop) for kAbuseFor while two correct clients probe the
  // webhook, sampling its memory. Returns when everything has stopped.
  void RunScenario(const std::string& name, Tally& t,
                   std::vector<std::function<void(const std::atomic<bool>& stop)>> abusers) {
    // The baseline: the process after serving correct clients for a moment.
    {
      auto warm = Client(true);
      for (int i = 0; i < 20; ++i) Probe(*warm, t);
      ASSERT_EQ(t.failed, 0) << t.failures.front();
      t.served = 0;
      t.slowest_ms = 0;
    }
    baseline_kib_ = RssKiB(pid_);
    peak_kib_ = baseline_kib_;
    baseline_fds_ = OpenFds(pid_);
    peak_fds_ = baseline_fds_;
    std::atomic<bool> stop{false};
    std::vector<std::thread> threads;
    threads.emplace_back([&] {  // memory
      while (!stop) {
        peak_kib_ = std::max(peak_kib_, RssKiB(pid_));
        peak_fds_ = std::max(peak_fds_, OpenFds(pid_));
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
    });
    threads.emplace_back([&] {  // a connection per request
      while (!stop) {
        Probe(*Client(false), t);
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
    });
    threads.emplace_back([&] {  // keep-alive
      auto cli = Client(true);
      while (!stop) {
        Probe(*cli, t);
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
    });
    for (auto& abuser : abusers) threads.emplace_back([&stop, abuser] { abuser(stop); });
    std::this_thread::sleep_for(kAbuseFor);
    stop = true;
    for (auto& th : threads) th.join();
    peak_kib_ = std::max(peak_kib_, RssKiB(pid_));
    std::printf("[abuse] %s: correct requests served %d, failed %d (slowest %ld ms); abuse %ld "
                "(answered as expected %ld, otherwise %ld); connections open at most %ld; RSS "
                "%.1f MiB before, peak %.1f MiB\n",
                name.c_str(), t.served.load(), t.failed.load(), t.slowest_ms.load(),
                t.abuse.load(), t.answered.load(), t.wrong.load(), peak_fds_ - baseline_fds_,
                baseline_kib_ / 1024.0, peak_kib_ / 1024.0);
    std::fflush(stdout);
    RecordProperty("served", t.served.load());
    RecordProperty("failed", t.failed.load());
    RecordProperty("abuse", static_cast<int>(t.abuse.load()));
    RecordProperty("peak_rss_kib", static_cast<int>(peak_kib_));
  }

  void ExpectKeptServing(Tally& t) {
    EXPECT_TRUE(Running()) << Log();
    EXPECT_EQ(t.failed, 0) << (t.failures.empty() ? "" : t.failures.front());
    EXPECT_GT(t.served, 0);
    EXPECT_LE(peak_kib_ - baseline_kib_, kMaxGrowthKiB)
        << "memory grew from " << baseline_kib_ << " KiB to " << peak_kib_ << " KiB";
    // And it still answers once the abuse has stopped.
    Tally after;
    Probe(*Client(false), after);
    EXPECT_EQ(after.served, 1) << (after.failures.empty() ? "" : after.failures.front());
  }

  // An abuser that keeps `per_thread` connections made by `open` open, replacing each one the
  // server closes (counted in t.abuse), and calls `tick` on each every `period`.
  std::function<void(const std::atomic<bool>&)> HoldConnections(
      Tally& t, int per_thread, std::function<std::unique_ptr<RawTls>()> open,
      std::function<bool(RawTls&)> tick = nullptr,
      std::chrono::milliseconds period = std::chrono::milliseconds(100)) {
    return [&t, per_thread, open, tick, period](const std::atomic<bool>& stop) {
      std::vector<std::unique_ptr<RawTls>> conns;
      while (!stop && static_cast<int>(conns.size()) < per_thread) {
        conns.push_back(open());
        t.abuse++;
      }
      while (!stop) {
        for (auto& c : conns) {
          if (stop) break;
          bool alive = c->fd() >= 0 && !PeerClosed(c->fd());
          if (alive && tick) alive = tick(*c);
          if (!alive) {
            c = open();
            t.abuse++;
          }
        }
        std::this_thread::sleep_for(period);
      }
    };
  }

  // An abuser posting `body` again and again, counting answers with status `want`.
  std::function<void(const std::atomic<bool>&)> PostLoop(Tally& t, std::string body, int want) {
    return [this, &t, body = std::move(body), want](const std::atomic<bool>& stop) {
      auto cli = Client(true);
      while (!stop) {
        auto r = cli->Post("/validate", body, "application/json");
        t.abuse++;
        json out = r ? json::parse(r->body, nullptr, false) : json();
        const bool review = out.is_object() && out.value("kind", "") == "AdmissionReview";
        (r && r->status == want && review) ? t.answered++ : t.wrong++;
      }
    };
  }

  testutil::TempDir dir_;
  PosixFileSystem fs_;
  tls::KeyPair ca_;
  std::string binary_;
  std::string objects_;
  std::string log_;
  const std::string pod_review_ = testutil::ReadData("admission/pod-create.json");
  SSL_CTX* attacker_ctx_ = nullptr;
  pid_t pid_ = -1;
  int port_ = 0;
  long baseline_kib_ = 0;
  long peak_kib_ = 0;
  long baseline_fds_ = 0;
  long peak_fds_ = 0;
};

TEST_F(WebhookAbuseTest, SlowClientsDribblingBodiesAreCutOffWhileOthersAreServed) {
  StartWebhook(dir_.path(), {"--read-timeout", std::to_string(kShortReadTimeoutSeconds)});
  Tally t;
  const std::string head =
      "POST /validate HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
      "Content-Length: 100000\r\n\r\n{";
  auto open = [this, head] {
    auto c = std::make_unique<RawTls>(attacker_ctx_, port_);
    c->Send(head);
    return c;
  };
  // A byte per connection every 100 ms: each read is quick, only the request deadline ends it.
  auto dribble = [](RawTls& c) { return c.Send(" "); };
  std::vector<std::function<void(const std::atomic<bool>&)>> abusers;
  for (int i = 0; i < 4; ++i) abusers.push_back(HoldConnections(t, 50, open, dribble));
  RunScenario("slow clients dribbling a body (200 connections, a byte each per 100 ms)", t,
              abusers);
  ExpectKeptServing(t);
  EXPECT_GT(t.abuse, 200) << "the dribbling connections were never cut off";
}

TEST_F(WebhookAbuseTest, StalledLargeBodiesAreHeldInBoundedMemory) {
  StartWebhook(dir_.path(), {"--read-timeout", std::to_string(kShortReadTimeoutSeconds)});
  Tally t;
  // Nearly the largest body accepted, sent at once, and then never finished.
  const std::string head =
      "POST /validate HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
      "Content-Length: " + std::to_string(kMaxBodyBytes) + "\r\n\r\n";
  const std::string most(kMaxBodyBytes - 1024, ' ');
  auto open = [this, head, most] {
    auto c = std::make_unique<RawTls>(attacker_ctx_, port_);
    // A server that stops reading makes this block: bounded by the socket's send timeout.
    c->Send(head);
    c->Send(most);
    return c;
  };
  std::vector<std::function<void(const std::atomic<bool>&)>> abusers;
  for (int i = 0; i < 4; ++i) abusers.push_back(HoldConnections(t, 25, open));
  RunScenario("stalled large bodies (100 connections sending 7 MiB less 1 KiB, then nothing)", t,
              abusers);
  ExpectKeptServing(t);
}

TEST_F(WebhookAbuseTest, HandshakesNeverFinishedAreCutOffWhileOthersAreServed) {
  StartWebhook(dir_.path(), {"--read-timeout", std::to_string(kShortReadTimeoutSeconds)});
  Tally t;
  auto silent = [this] { return std::make_unique<RawTls>(nullptr, port_, RawTls::Handshake::kNone); };
  auto partial = [this] {
    return std::make_unique<RawTls>(nullptr, port_, RawTls::Handshake::kPartial);
  };
  RunScenario("handshakes never finished (500 connections, half silent, half a partial record)",
              t, {HoldConnections(t, 250, silent), HoldConnections(t, 250, partial)});
  ExpectKeptServing(t);
  EXPECT_GT(t.abuse, 500) << "the stalled handshakes were never cut off";
}

TEST_F(WebhookAbuseTest, ManyIdleConnectionsHoldNoWorker) {
  StartWebhook(dir_.path(), {"--idle-timeout", "3"});
  Tally t;
  auto idle = [this] { return std::make_unique<RawTls>(attacker_ctx_, port_); };
  std::vector<std::function<void(const std::atomic<bool>&)>> abusers;
  for (int i = 0; i < 4; ++i) abusers.push_back(HoldConnections(t, 500, idle));
  RunScenario("idle connections (up to 2,000 held after their handshake)", t, abusers);
  ExpectKeptServing(t);
}

TEST_F(WebhookAbuseTest, ConnectionsPastTheLimitMakeRoomForNewOnes) {
  // A limit well under the idle connections held, so the oldest are closed to admit new ones.
  StartWebhook(dir_.path(), {"--max-connections", "128", "--idle-timeout", "60"});
  Tally t;
  auto idle = [this] { return std::make_unique<RawTls>(attacker_ctx_, port_); };
  std::vector<std::function<void(const std::atomic<bool>&)>> abusers;
  for (int i = 0; i < 4; ++i) abusers.push_back(HoldConnections(t, 100, idle));
  RunScenario("idle connections past --max-connections 128 (400 held)", t, abusers);
  ExpectKeptServing(t);
  // Quiet ones were closed to make room (the idle timeout alone would close none), and no more
  // than the limit were ever open.
  const double evicted = Metric("kdr_webhook_connections_closed{reason=\"limit\"}");
  EXPECT_GT(evicted, 0) << "idle connections past the limit were never closed";
  EXPECT_LE(peak_fds_ - baseline_fds_, 128 + 4);
  std::printf("[abuse] closed at the limit: %.0f\n", evicted);
}

TEST_F(WebhookAbuseTest, OversizeBodiesGet413WhileOthersAreServed) {
  StartWebhook(dir_.path());
  Tally t;
  const std::string body(kMaxBodyBytes + (1 << 20), 'x');
  RunScenario("oversize bodies (8 MiB, over the 7 MiB limit)", t,
              {PostLoop(t, body, 413), PostLoop(t, body, 413)});
  ExpectKeptServing(t);
  EXPECT_GT(t.answered, 0);
  EXPECT_EQ(t.wrong, 0);
}

TEST_F(WebhookAbuseTest, BodiesThatAreNotJsonGet400WhileOthersAreServed) {
  StartWebhook(dir_.path());
  Tally t;
  std::string binary(64 << 10, '\0');
  for (size_t i = 0; i < binary.size(); ++i) binary[i] = static_cast<char>((i * 2654435761u) >> 13);
  RunScenario("bodies that are not JSON (binary, truncated, a bare string)", t,
              {PostLoop(t, binary, 400), PostLoop(t, pod_review_.substr(0, pod_review_.size() / 2), 400),
               PostLoop(t, "\"just a string\"", 400)});
  ExpectKeptServing(t);
  EXPECT_GT(t.answered, 0);
  EXPECT_EQ(t.wrong, 0);
}

TEST_F(WebhookAbuseTest, HugeAndDeeplyNestedReviewsAreDecidedWhileOthersAreServed) {
  StartWebhook(dir_.path());
  Tally t;
  // 6 MiB of annotations: under the body limit, so decided (denied: the pod mounts the fence).
  const std::string huge = HugeReview(6 << 10, 1 << 10);
  ASSERT_LT(huge.size(), kMaxBodyBytes);
  // 60,000 small fields: the most JSON values a body under the limit holds, roughly.
  const std::string wide = HugeReview(60000, 16);
  const std::string deepest = DeepReview("pvc-update.json", kMaxReviewDepth - 4);
  const std::string too_deep = DeepReview("pvc-update.json", 200000);
  RunScenario("huge (6 MiB; 60,000 fields) and deeply nested (10,002 levels; 200,000) reviews", t,
              {PostLoop(t, huge, 200), PostLoop(t, wide, 200), PostLoop(t, deepest, 200),
               PostLoop(t, too_deep, 400)});
  ExpectKeptServing(t);
  EXPECT_GT(t.answered, 0);
  EXPECT_EQ(t.wrong, 0);
}

TEST_F(WebhookAbuseTest, FloodOfNewTlsConnectionsLeavesRoomForCorrectClients) {
  StartWebhook(dir_.path());
  Tally t;
  auto handshake_and_go = [this, &t](const std::atomic<bool>& stop) {
    while (!stop) {
      RawTls c(attacker_ctx_, port_);
      t.abuse++;
    }
  };
  auto hello_and_go = [this, &t](const std::atomic<bool>& stop) {
    while (!stop) {
      RawTls c(nullptr, port_, RawTls::Handshake::kPartial);
      t.abuse++;
    }
  };
  RunScenario("a flood of new TLS connections (3 threads handshaking and closing, 1 opening "
              "and closing)",
              t, {handshake_and_go, handshake_and_go, handshake_and_go, hello_and_go});
  ExpectKeptServing(t);
}

TEST_F(WebhookAbuseTest, FloodPastTheConnectionLimitPushesNoCorrectClientOut) {
  // The limit is reached at once: connections at work are never closed for newer ones, which
  // wait in the backlog instead.
  StartWebhook(dir_.path(), {"--max-connections", "64"});
  Tally t;
  auto handshake_and_go = [this, &t](const std::atomic<bool>& stop) {
    while (!stop) {
      RawTls c(attacker_ctx_, port_);
      t.abuse++;
    }
  };
  auto hello_and_go = [this, &t](const std::atomic<bool>& stop) {
    while (!stop) {
      RawTls c(nullptr, port_, RawTls::Handshake::kPartial);
      t.abuse++;
    }
  };
  RunScenario("a flood of new TLS connections past --max-connections 64", t,
              {handshake_and_go, handshake_and_go, hello_and_go, hello_and_go});
  ExpectKeptServing(t);
  EXPECT_LE(peak_fds_ - baseline_fds_, 64 + 4);
}

// The serving certificate replaced again and again while correct clients keep coming, both as
// files renamed into place and as kubelet swaps a Secret volume (a ..data symlink to a new
// directory): every request is answered, new connections get the new certificate.
TEST_F(WebhookAbuseTest, CertificateRotatedUnderLoadFailsNoRequest) {
  // tls.crt -> ..data/tls.crt -> ..<generation>/tls.crt, as in a mounted Secret.
  const std::string mount = dir_.path() + "/mount";
  ASSERT_TRUE(fs_.MakeDirs(mount + "/..gen0").ok());
  WriteServingCert("webhook-gen0", mount + "/..gen0");
  ASSERT_EQ(symlink("..gen0", (mount + "/..data").c_str()), 0);
  ASSERT_EQ(symlink("..data/tls.crt", (mount + "/tls.crt").c_str()), 0);
  ASSERT_EQ(symlink("..data/tls.key", (mount + "/tls.key").c_str()), 0);
  StartWebhook(mount);
  Tally t;
  std::atomic<int> rotations{0};
  auto rotate = [&](const std::atomic<bool>& stop) {
    for (int gen = 1; !stop; ++gen) {
      const std::string name = "..gen" + std::to_string(gen);
      if (!fs_.MakeDirs(mount + "/" + name).ok()) return;
      WriteServingCert("webhook-gen" + std::to_string(gen), mount + "/" + name);
      // The atomic swap: a new symlink renamed over ..data.
      const std::string tmp = mount + "/..data_tmp";
      if (symlink(name.c_str(), tmp.c_str()) != 0 ||
          rename(tmp.c_str(), (mount + "/..data").c_str()) != 0) {
        return;
      }
      rotations++;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  };
  RunScenario("serving certificate rotated every 100 ms (a Secret volume's symlink swap)", t,
              {rotate});
  ExpectKeptServing(t);
  EXPECT_GT(rotations, 10);

  // New connections meet the last certificate.
  RawTls last(attacker_ctx_, port_);
  ASSERT_TRUE(last.ok());
  EXPECT_EQ(last.PeerCommonName(), "webhook-gen" + std::to_string(rotations.load()));
}

TEST_F(WebhookAbuseTest, CertificateFilesRenamedInPlaceUnderLoadFailNoRequest) {
  StartWebhook(dir_.path());
  Tally t;
  std::atomic<int> rotations{0};
  auto rotate = [&](const std::atomic<bool>& stop) {
    for (int gen = 1; !stop; ++gen) {
      WriteServingCert("webhook-gen" + std::to_string(gen), dir_.path());
      rotations++;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  };
  RunScenario("serving certificate files renamed into place every 100 ms, key first", t,
              {rotate});
  ExpectKeptServing(t);
  EXPECT_GT(rotations, 10);
  RawTls last(attacker_ctx_, port_);
  ASSERT_TRUE(last.ok());
  EXPECT_EQ(last.PeerCommonName(), "webhook-gen" + std::to_string(rotations.load()));
}

}  // namespace
}  // namespace kdr::admission
