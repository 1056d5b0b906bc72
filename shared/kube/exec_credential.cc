#include "kube/exec_credential.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>

#include "base/fs.h"
#include "base/json.h"
#include "base/log.h"
#include "base/strings.h"

extern char** environ;  // NOLINT: POSIX

namespace kdr::kube {
namespace {

using nlohmann::json;

// A plugin printing more than this is broken; stop collecting rather than grow without bound.
constexpr size_t kMaxOutput = 16 << 20;
constexpr size_t kMaxStderrInMessage = 2000;

class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() { Close(); }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  void Close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

bool IsExecutableFile(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(path.c_str(), X_OK) == 0;
}

// Text as one line for a message: non-empty lines trimmed and joined with sep, capped.
std::string OneLine(std::string_view text, std::string_view sep = "; ") {
  std::vector<std::string> lines;
  for (const std::string& l : Split(text, '\n')) {
    std::string_view t = TrimSpace(l);
    if (!t.empty()) lines.emplace_back(t);
  }
  std::string s = Join(lines, sep);
  if (s.size() > kMaxStderrInMessage) s = s.substr(0, kMaxStderrInMessage) + "...";
  return s;
}

// A plugin's output as an error or a log line may show it. A message a person wrote ("Please log
// in at ...") helps; but a plugin that prints a bare credential (`gcloud auth print-access-token`
// configured where an ExecCredential is expected) or a broken ExecCredential must not have its
// token echoed into errors, logs and DRRecovery status. So: known secret forms redacted
// (RedactSecrets), and a word of 16 characters or more without a space (a token, compact JSON)
// replaced by its length.
std::string Showable(std::string text) {
  text = RedactSecrets(text);
  std::string out;
  for (const std::string& word : Split(text, ' ')) {
    if (!out.empty()) out += ' ';
    out += word.size() >= 16 && word.find("<redacted>") == std::string::npos &&
                   word.find("://") == std::string::npos
               ? "<" + std::to_string(word.size()) + " characters not shown>"
               : word;
  }
  return out;
}

std::string EnvValue(const std::vector<std::string>& environment, std::string_view name) {
  for (const std::string& kv : environment) {
    if (kv.size() > name.size() && kv[name.size()] == '=' && StartsWith(kv, name)) {
      return kv.substr(name.size() + 1);
    }
  }
  return "";
}

class ExecProvider final : public CredentialProvider {
 public:
  ExecProvider(const RestConfig& config, Clock* clock, ExecRunOptions options)
      : config_(config), clock_(clock), options_(std::move(options)) {
    what_ = "exec credential plugin " + Quote(config_.exec->command);
    if (!config_.user_name.empty()) what_ += " for user " + Quote(config_.user_name);
    if (!config_.source.empty()) what_ += " in " + config_.source;
  }

  Result<Credentials> Get(bool force_refresh) override {
    std::unique_lock lock(mu_);
    if (running_) {
      // Share the run under way: its result is as fresh as one we would start now.
      const uint64_t gen = generation_;
      if (options_.on_share_run) options_.on_share_run();
      cv_.wait(lock, [&] { return generation_ != gen; });
      return *last_;
    }
    if (!force_refresh && cached_ && !Expired(*cached_)) return *cached_;
    const char* why = force_refresh ? "refresh requested"
                      : cached_     ? "credential expired"
                                    : "first use";
    running_ = true;
    lock.unlock();
    Result<Credentials> r = RunPlugin(why);
    lock.lock();
    running_ = false;
    ++generation_;
    last_ = r;
    if (r.ok()) {
      cached_ = *r;
    } else {
      cached_.reset();
    }
    cv_.notify_all();
    return r;
  }

 private:
  bool Expired(const Credentials& c) const { return c.expires && clock_->Now() >= *c.expires; }

  Result<Credentials> RunPlugin(const char* why) const {
    const ExecConfig& exec = *config_.exec;
    if (exec.interactive_mode == "Always") {
      return Status::InvalidArgument(what_ +
                                     " requires interactive mode (interactiveMode: Always), "
                                     "which kubectl-dr never offers; log in with the plugin first "
                                     "or set interactiveMode: IfAvailable");
    }
    auto path = LookPath(exec.command, EnvValue(options_.environment, "PATH"));
    if (!path.ok()) {
      std::string m = what_ + " not found: " + path.status().message();
      if (!exec.install_hint.empty()) m += "; " + OneLine(exec.install_hint, " ");
      return Status::NotFound(std::move(m));
    }
    std::vector<std::string> environment;
    for (const std::string& kv : options_.environment) {
      std::string name = kv.substr(0, kv.find('='));
      bool overridden = name == "KUBERNETES_EXEC_INFO";
      for (const auto& [n, v] : exec.env) overridden = overridden || n == name;
      if (!overridden) environment.push_back(kv);
    }
    for (const auto& [n, v] : exec.env) environment.push_back(n + "=" + v);
    environment.push_back("KUBERNETES_EXEC_INFO=" + ExecCredentialRequestJson(config_));

    if (options_.logger != nullptr) {
      options_.logger->Debug("running exec credential plugin",
                             {{"command", *path}, {"user", config_.user_name}, {"reason", why}});
    }
    auto run = RunProcess(*path, exec.args, environment, options_.timeout);
    if (!run.ok()) return run.status().WithContext(what_);
    if (run->exit_code != 0) {
      std::string err = Showable(OneLine(run->err));
      return Status::Unauthenticated(what_ + " failed with exit code " +
                                     std::to_string(run->exit_code) +
                                     (err.empty() ? " and no stderr" : ": " + err));
    }
    KDR_ASSIGN_OR_RETURN(Credentials c, ParseExecCredential(run->out, exec, what_));
    if (options_.logger != nullptr && !OneLine(run->err).empty()) {
      options_.logger->Warning(what_ + ": " + Showable(OneLine(run->err)));
    }
    if (c.client_cert_pem.empty()) {
      c.client_cert_pem = config_.client_cert_pem;
      c.client_key_pem = config_.client_key_pem;
    }
    return c;
  }

  const RestConfig config_;
  Clock* const clock_;
  const ExecRunOptions options_;
  std::string what_;

  std::mutex mu_;
  std::condition_variable cv_;
  bool running_ = false;
  uint64_t generation_ = 0;
  std::optional<Credentials> cached_;
  std::optional<Result<Credentials>> last_;
};

}  // namespace

ExecRunOptions ExecRunOptions::FromProcess(Logger* logger) {
  ExecRunOptions o;
  o.logger = logger;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) o.environment.emplace_back(*e);
  return o;
}

Result<std::string> LookPath(const std::string& command, std::string_view path_list) {
  if (command.find('/') != std::string::npos) {
    if (IsExecutableFile(command)) return command;
    return Status::NotFound(command + " does not exist or is not executable");
  }
  for (const std::string& dir : Split(path_list, ':')) {
    std::string candidate = JoinPath(dir.empty() ? "." : dir, command);
    if (IsExecutableFile(candidate)) return candidate;
  }
  return Status::NotFound("executable " + Quote(command) + " is not on PATH (" +
                          std::string(path_list) + ")");
}

Result<ProcessOutput> RunProcess(const std::string& path, const std::vector<std::string>& args,
                                 const std::vector<std::string>& environment,
                                 std::chrono::milliseconds timeout) {
  int out_fds[2], err_fds[2];
  if (::pipe2(out_fds, O_CLOEXEC) != 0) {
    return Status::Unavailable("cannot run " + path + ": pipe: " + std::strerror(errno));
  }
  Fd out_r(out_fds[0]), out_w(out_fds[1]);
  if (::pipe2(err_fds, O_CLOEXEC) != 0) {
    return Status::Unavailable("cannot run " + path + ": pipe: " + std::strerror(errno));
  }
  Fd err_r(err_fds[0]), err_w(err_fds[1]);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out_w.get(), 1);
  posix_spawn_file_actions_adddup2(&actions, err_w.get(), 2);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  // Own process group, so a timeout kills the plugin's children too; default signal handling
  // whatever the parent ignores (SIGPIPE).
  sigset_t defaults, empty;
  sigemptyset(&empty);
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGPIPE);
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setsigmask(&attr, &empty);

  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(path.c_str()));
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (const std::string& e : environment) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);

  pid_t pid = 0;
  int rc = ::posix_spawn(&pid, path.c_str(), &actions, &attr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  out_w.Close();
  err_w.Close();
  if (rc != 0) {
    std::string m = "cannot run " + path + ": " + std::strerror(rc);
    if (rc == ENOENT) return Status::NotFound(std::move(m));
    if (rc == EACCES) return Status::PermissionDenied(std::move(m));
    return Status::Unavailable(std::move(m));
  }

  // The timeout is a real-time bound on a real process: the injected Clock (fake in tests) cannot
  // drive it, so steady_clock it is.
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  ProcessOutput result;
  bool timed_out = false;
  struct Stream {
    Fd* fd;
    std::string* buf;
  } streams[2] = {{&out_r, &result.out}, {&err_r, &result.err}};
  while (out_r.get() >= 0 || err_r.get() >= 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    pollfd pfds[2];
    int n = 0;
    Stream* which[2];
    for (Stream& s : streams) {
      if (s.fd->get() < 0) continue;
      pfds[n] = {s.fd->get(), POLLIN, 0};
      which[n++] = &s;
    }
    int pr = ::poll(pfds, static_cast<nfds_t>(n),
                    static_cast<int>(std::min<int64_t>(left.count(), 1000)));
    if (pr < 0 && errno != EINTR) break;
    for (int i = 0; i < n && pr > 0; ++i) {
      if (pfds[i].revents == 0) continue;
      char buf[16384];
      ssize_t got = ::read(pfds[i].fd, buf, sizeof buf);
      if (got < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      if (got <= 0) {
        which[i]->fd->Close();
        continue;
      }
      if (which[i]->buf->size() < kMaxOutput) which[i]->buf->append(buf, static_cast<size_t>(got));
    }
  }
  // Both pipes closed: wait for the exit, still bounded by the deadline (a plugin may close its
  // output and linger).
  int wstatus = 0;
  while (!timed_out) {
    pid_t w = ::waitpid(pid, &wstatus, WNOHANG);
    if (w == pid) break;
    if (w < 0 && errno != EINTR) {
      return Status::Internal("waitpid " + path + ": " + std::strerror(errno));
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      timed_out = true;
      break;
    }
    ::poll(nullptr, 0, 5);
  }
  if (timed_out) {
    ::kill(-pid, SIGKILL);
    ::kill(pid, SIGKILL);
    while (::waitpid(pid, &wstatus, 0) < 0 && errno == EINTR) {
    }
    return Status::DeadlineExceeded(path + " did not finish within " +
                                    std::to_string(timeout.count()) + "ms and was killed");
  }
  if (WIFEXITED(wstatus)) {
    result.exit_code = WEXITSTATUS(wstatus);
  } else if (WIFSIGNALED(wstatus)) {
    result.exit_code = 128 + WTERMSIG(wstatus);
  }
  return result;
}

std::string ExecCredentialRequestJson(const RestConfig& config) {
  const ExecConfig& exec = *config.exec;
  json spec = {{"interactive", false}};
  if (exec.provide_cluster_info) {
    json cluster = {{"server", config.server}};
    if (!config.tls_server_name.empty()) cluster["tls-server-name"] = config.tls_server_name;
    if (config.insecure_skip_tls_verify) cluster["insecure-skip-tls-verify"] = true;
    if (!config.ca_pem.empty()) cluster["certificate-authority-data"] = Base64Encode(config.ca_pem);
    if (!config.proxy_url.empty()) cluster["proxy-url"] = config.proxy_url;
    if (!exec.cluster_config_json.empty()) {
      Result<json> extension = ParseJson(exec.cluster_config_json, "cluster config");
      if (extension.ok()) cluster["config"] = std::move(extension).value();
    }
    spec["cluster"] = std::move(cluster);
  }
  json req = {{"apiVersion", exec.api_version}, {"kind", "ExecCredential"}, {"spec", spec}};
  return req.dump();
}

Result<Credentials> ParseExecCredential(std::string_view out, const ExecConfig& exec,
                                        const std::string& what) {
  Result<json> parsed = ParseJson(out, "stdout");
  json doc = parsed.ok() ? std::move(parsed).value() : json();
  if (!doc.is_object()) {
    std::string head = Showable(PrintableBytes(OneLine(out.substr(0, 80))));
    return Status::InvalidArgument(what +
                                   " printed invalid JSON on stdout (want an ExecCredential)" +
                                   (head.empty() ? ": empty output" : ": " + Quote(head)));
  }
  std::string api_version = doc.value("apiVersion", json("")).is_string()
                                ? doc.value("apiVersion", std::string())
                                : std::string();
  std::string kind =
      doc.value("kind", json("")).is_string() ? doc.value("kind", std::string()) : std::string();
  if (kind != "ExecCredential") {
    return Status::InvalidArgument(what + " returned kind " + Quote(kind) +
                                   ", expected \"ExecCredential\"");
  }
  if (api_version != exec.api_version) {
    return Status::InvalidArgument(what + " returned apiVersion " + Quote(api_version) +
                                   ", expected " + Quote(exec.api_version) +
                                   " (the kubeconfig's exec.apiVersion)");
  }
  auto status = doc.find("status");
  if (status == doc.end() || !status->is_object()) {
    return Status::InvalidArgument(what + " returned an ExecCredential without status");
  }
  auto str = [&](const char* key, std::string* v) -> Status {
    auto it = status->find(key);
    if (it == status->end() || it->is_null()) return Status::Ok();
    if (!it->is_string()) {
      return Status::InvalidArgument(what + " returned status." + key + " that is not a string");
    }
    *v = it->get<std::string>();
    return Status::Ok();
  };
  Credentials c;
  std::string expiry;
  KDR_RETURN_IF_ERROR(str("token", &c.bearer_token));
  KDR_RETURN_IF_ERROR(str("clientCertificateData", &c.client_cert_pem));
  KDR_RETURN_IF_ERROR(str("clientKeyData", &c.client_key_pem));
  KDR_RETURN_IF_ERROR(str("expirationTimestamp", &expiry));
  if (c.client_cert_pem.empty() != c.client_key_pem.empty()) {
    return Status::InvalidArgument(what + " returned " +
                                   (c.client_cert_pem.empty()
                                        ? "status.clientKeyData without clientCertificateData"
                                        : "status.clientCertificateData without clientKeyData"));
  }
  if (c.bearer_token.empty() && c.client_cert_pem.empty()) {
    return Status::InvalidArgument(what +
                                   " returned neither status.token nor "
                                   "status.clientCertificateData and clientKeyData");
  }
  if (!expiry.empty()) {
    Clock::WallTime t;
    if (!ParseRfc3339(expiry, &t)) {
      return Status::InvalidArgument(what + " returned status.expirationTimestamp " +
                                     Quote(expiry) + " that is not RFC 3339");
    }
    c.expires = t;
  }
  return c;
}

std::unique_ptr<CredentialProvider> MakeExecCredentialProvider(const RestConfig& config,
                                                               Clock* clock,
                                                               ExecRunOptions options) {
  return std::make_unique<ExecProvider>(config, clock, std::move(options));
}

}  // namespace kdr::kube
