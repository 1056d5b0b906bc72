#pragma once

// The end-to-end fixture of the admission webhook as an operator meets it: `kubectl dr install` on
// the target cluster pointing at a real kubectl-dr-webhook process on loopback (real TLS with the
// certificates install wrote), so that every test meets the policies through real kubectl. Shared
// by the webhook tests and the failover tests (a failover restores through the webhook).

#include <arpa/inet.h>
#include <fcntl.h>
#include <httplib.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <gtest/gtest.h>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "base/strings.h"
#include "e2e/harness.h"
#include "testutil/testutil.h"

extern char** environ;

namespace kdr::e2e {

using testutil::CommandResult;

inline constexpr auto kReadyDeadline = std::chrono::seconds(30);
inline constexpr auto kCacheDeadline = std::chrono::seconds(20);

inline std::string Data(const std::string& file) { return testutil::DataPath("e2e/webhook/" + file); }

// A port free on 127.0.0.1 right now (the webhook binds it next; kubectl dr install must know
// the URL first).
inline int FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  ::close(fd);
  return port;
}

// Polls `done` until it holds or the deadline passes: the webhook's caches follow the cluster
// through a watch, so what kubectl just wrote reaches them a moment later.
inline bool Eventually(const std::function<bool()>& done, std::chrono::seconds deadline) {
  auto until = std::chrono::steady_clock::now() + deadline;
  while (std::chrono::steady_clock::now() < until) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return done();
}

// The real kubectl-dr-webhook binary, stopped with SIGTERM when destroyed.
class WebhookProcess {
 public:
  WebhookProcess(std::vector<std::string> args, std::string log) : log_(std::move(log)) {
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, log_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    if (posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&actions);
  }
  ~WebhookProcess() { Stop(); }
  WebhookProcess(const WebhookProcess&) = delete;
  WebhookProcess& operator=(const WebhookProcess&) = delete;

  bool started() const { return pid_ > 0; }
  // True while the process has not exited.
  bool Running() {
    if (pid_ <= 0) return false;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return false;
    }
    return true;
  }
  void Stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  std::string Log() const {
    return testutil::RunCommand("tail -n 30 " + log_).output;
  }

 private:
  std::string log_;
  pid_t pid_ = -1;
};

class WebhookE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (testutil::RunCommand("command -v kubectl").exit_code != 0) GTEST_SKIP() << "kubectl is not installed";
    auto pair = ClusterPair::Create(pair_options_);
    ASSERT_TRUE(pair.ok()) << pair.status().message();
    pair_ = std::move(*pair);
    if (!pair_->target().local()) {
      GTEST_SKIP() << "the webhook runs on 127.0.0.1 here, which a remote cluster's API server cannot call";
    }
    StartWebhook(target(), dir_.path(), &port_, &url_, &certs_, &webhook_);
  }

  // `kubectl dr install --webhook-url` on `cluster` and a real kubectl-dr-webhook process for it on
  // a free loopback port, waited for until ready. Files go under `dir` (certs/, webhook.log).
  void StartWebhook(Cluster& cluster, const std::string& dir, int* port, std::string* url, std::string* certs,
                    std::unique_ptr<WebhookProcess>* process) {
    *port = FreePort();
    ASSERT_GT(*port, 0);
    *url = "https://127.0.0.1:" + std::to_string(*port);
    *certs = dir + "/certs";
    CommandResult install = pair_->Shell("kubectl dr install --context " + cluster.context() +
                                         " --webhook-url " + *url + " --cert-dir " + *certs);
    ASSERT_EQ(install.exit_code, 0) << install.output;

    std::vector<std::string> args{testutil::BinaryDir() + "/kubectl-dr-webhook", "--listen",
                                  "127.0.0.1:" + std::to_string(*port), "--tls-cert", *certs + "/tls.crt",
                                  "--tls-key", *certs + "/tls.key", "--kubeconfig", cluster.kubeconfig(),
                                  "--shutdown-delay", "0"};
    args.insert(args.end(), webhook_args_.begin(), webhook_args_.end());
    *process = std::make_unique<WebhookProcess>(std::move(args), dir + "/webhook.log");
    WebhookProcess& webhook = **process;
    ASSERT_TRUE(webhook.started()) << "cannot start " << testutil::BinaryDir() << "/kubectl-dr-webhook";
    ASSERT_TRUE(Eventually([&] { return Get(*port, *certs, "/readyz").first == 200 || !webhook.Running(); },
                           kReadyDeadline) &&
                webhook.Running())
        << "the webhook did not become ready at " << *url << "/readyz:\n"
        << webhook.Log();
  }

  Cluster& target() const { return pair_->target(); }
  CommandResult Kubectl(const std::string& args) const { return pair_->Kubectl(target(), args); }

  // GET over HTTPS, trusting only the CA install wrote: {status, body}; status 0 when the call
  // failed.
  std::pair<int, std::string> Get(const std::string& path) const { return Get(port_, certs_, path); }
  static std::pair<int, std::string> Get(int port, const std::string& certs, const std::string& path) {
    httplib::SSLClient cli("127.0.0.1", port);
    cli.set_ca_cert_path((certs + "/ca.crt").c_str());
    cli.enable_server_certificate_verification(true);
    cli.set_connection_timeout(2, 0);
    auto r = cli.Get(path.c_str());
    if (!r) return {0, ""};
    return {r->status, r->body};
  }

  // The value of a gauge line in /metrics ("kdr_webhook_cache_objects{kind=\"drplans\"}"), -1
  // when absent.
  double Metric(const std::string& series) const {
    auto [status, body] = Get("/metrics");
    if (status != 200) return -1;
    for (const std::string& line : Split(body, '\n')) {
      if (StartsWith(line, series + " ")) return std::stod(line.substr(series.size() + 1));
    }
    return -1;
  }
  // Waits until the webhook's cache holds at least `n` objects of `kind`.
  void WaitForCache(const std::string& kind, int n) const {
    std::string series = "kdr_webhook_cache_objects{kind=\"" + kind + "\"}";
    ASSERT_TRUE(Eventually([&] { return Metric(series) >= n; }, kCacheDeadline))
        << "the webhook's cache never held " << n << " " << kind << "; " << series << " = " << Metric(series);
  }

  testutil::TempDir dir_;
  PairOptions pair_options_;  // set before SetUp (a simulator beside the pair)
  std::vector<std::string> webhook_args_;  // more flags for every webhook started (set before SetUp)
  std::unique_ptr<ClusterPair> pair_;
  std::unique_ptr<WebhookProcess> webhook_;
  int port_ = 0;
  std::string url_;
  std::string certs_;
};

inline void ExpectDenied(const CommandResult& r, const std::string& webhook, const std::string& message) {
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("Error from server (Forbidden)"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("admission webhook \"" + webhook + "\" denied the request: " + message),
            std::string::npos)
      << r.output;
}


}  // namespace kdr::e2e
