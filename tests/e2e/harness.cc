#include "e2e/harness.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <thread>
#include <vector>

#include "base/fs.h"
#include "base/strings.h"
#include "kubesim/longhorn.h"
#include "sim/alletra_model.h"

extern char** environ;

namespace kdr::e2e {
namespace {

// A cluster given by the environment: nothing to start or stop.
class ExternalCluster final : public Cluster {
 public:
  ExternalCluster(std::string kubeconfig, std::string context)
      : kubeconfig_(std::move(kubeconfig)), context_(std::move(context)) {}
  const std::string& kubeconfig() const override { return kubeconfig_; }
  const std::string& context() const override { return context_; }
  bool simulated() const override { return false; }
  bool local() const override { return false; }
  Status Restart() override { return Status::Unimplemented("cannot restart a real cluster's API server"); }
  Status Stop() override { return Status::Unimplemented("cannot stop a real cluster's API server"); }

 private:
  const std::string kubeconfig_;
  const std::string context_;
};

// A kubesim process. The first start picks a free port; restarts reuse it so kubeconfigs stay
// valid. `extra` flags are passed at every start.
class KubesimCluster final : public Cluster {
 public:
  KubesimCluster(std::string binary, std::string dir, std::string context, std::vector<std::string> extra)
      : binary_(std::move(binary)),
        dir_(std::move(dir)),
        context_(std::move(context)),
        kubeconfig_(dir_ + "/kubeconfig"),
        extra_(std::move(extra)) {}
  ~KubesimCluster() override { (void)Stop(); }

  const std::string& kubeconfig() const override { return kubeconfig_; }
  const std::string& context() const override { return context_; }
  bool simulated() const override { return true; }
  bool local() const override { return true; }

  Status Start() {
    std::string listen = "127.0.0.1:" + std::to_string(port_);
    std::vector<std::string> args = {binary_,          "--listen",     listen,
                                      "--data-dir",     dir_ + "/data", "--kubeconfig-out",
                                      kubeconfig_,      "--context-name", context_};
    args.insert(args.end(), extra_.begin(), extra_.end());
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    int out[2];
    if (::pipe2(out, O_CLOEXEC) != 0) return Status::Internal("pipe failed");
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, out[1], 1);
    std::string log = dir_ + "/kubesim.log";
    posix_spawn_file_actions_addopen(&actions, 2, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    int rc = posix_spawn(&pid_, binary_.c_str(), &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    ::close(out[1]);
    if (rc != 0) {
      ::close(out[0]);
      return Status::FailedPrecondition("cannot start " + binary_ + ": " + std::to_string(rc));
    }
    // Wait (bounded) for "kubesim ready at https://127.0.0.1:PORT".
    std::string line;
    char c;
    pollfd pfd{out[0], POLLIN, 0};
    while (line.find('\n') == std::string::npos) {
      if (::poll(&pfd, 1, 30000) <= 0 || ::read(out[0], &c, 1) != 1) break;
      line += c;
    }
    ::close(out[0]);
    size_t colon = line.rfind(':');
    if (!StartsWith(line, "kubesim ready at ") || colon == std::string::npos) {
      (void)Stop();
      return Status::Unavailable("kubesim did not become ready (see " + log + "): " + line);
    }
    port_ = std::atoi(line.c_str() + colon + 1);
    return Status::Ok();
  }

  Status Stop() override {
    if (pid_ <= 0) return Status::Ok();
    ::kill(pid_, SIGTERM);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    return Status::Ok();
  }

  Status Restart() override {
    KDR_RETURN_IF_ERROR(Stop());
    return Start();
  }

 private:
  const std::string binary_;
  const std::string dir_;
  const std::string context_;
  const std::string kubeconfig_;
  const std::vector<std::string> extra_;
  pid_t pid_ = -1;
  int port_ = 0;
};

// A real control plane run by scripts/realk8s with its state under `dir`; stopped (by the pids
// the script recorded) when destroyed.
class RealCluster final : public Cluster {
 public:
  RealCluster(std::string dir, std::string name)
      : dir_(std::move(dir)), name_(std::move(name)), kubeconfig_(dir_ + "/" + name_ + "/kubeconfig") {}
  ~RealCluster() override { (void)Realk8s("stop " + name_); }

  const std::string& kubeconfig() const override { return kubeconfig_; }
  const std::string& context() const override { return name_; }
  bool simulated() const override { return false; }
  bool local() const override { return true; }

  // Returns once /readyz answers and the default ServiceAccount exists. The cluster also stops
  // by itself when this process ends without destroying it (a test killed on its timeout).
  Status Start() { return Realk8s("start " + name_ + " --stop-with " + std::to_string(::getpid())); }
  // kube-apiserver alone: etcd keeps the objects, the port stays the same.
  Status Stop() override { return Realk8s("stop " + name_ + " kube-apiserver"); }
  Status Restart() override { return Realk8s("restart " + name_ + " kube-apiserver"); }

 private:
  Status Realk8s(const std::string& args) const {
    auto r = testutil::RunCommand("KDR_REALK8S_DIR=" + dir_ + " " + testutil::SourcePath("scripts/realk8s") +
                                  " " + args + " </dev/null");
    if (r.exit_code != 0) return Status::Unavailable("scripts/realk8s " + args + " failed:\n" + r.output);
    return Status::Ok();
  }

  const std::string dir_;
  const std::string name_;
  const std::string kubeconfig_;
};

std::string EnvOr(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

std::string CurrentContext(const std::string& kubeconfig) {
  auto r = testutil::RunCommand("kubectl --kubeconfig " + kubeconfig + " config current-context");
  return std::string(TrimSpace(r.output));
}

// "KEY=VALUE" words of a ready line -> VALUE of `key` ("" when absent).
std::string ReadyValue(const std::string& line, const std::string& key) {
  for (const std::string& word : Split(TrimSpace(line), ' ')) {
    if (StartsWith(word, key + "=")) return word.substr(key.size() + 1);
  }
  return "";
}

}  // namespace

// A helper process (alletra-sim) started once, stopped with SIGTERM when destroyed.
class ClusterPair::Process {
 public:
  ~Process() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    ::waitpid(pid_, nullptr, 0);
  }

  // Starts args[0] with stderr to `log` and returns its first stdout line once it begins with
  // `ready`; Unavailable naming the log when it does not within 30 s.
  Result<std::string> Start(std::vector<std::string> args, const std::string& log, const std::string& ready) {
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    int out[2];
    if (::pipe2(out, O_CLOEXEC) != 0) return Status::Internal("pipe failed");
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, out[1], 1);
    posix_spawn_file_actions_addopen(&actions, 2, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    int rc = posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    ::close(out[1]);
    if (rc != 0) {
      ::close(out[0]);
      pid_ = -1;
      return Status::FailedPrecondition("cannot start " + args[0] + ": " + std::to_string(rc));
    }
    std::string line;
    char c;
    pollfd pfd{out[0], POLLIN, 0};
    while (line.find('\n') == std::string::npos) {
      if (::poll(&pfd, 1, 30000) <= 0 || ::read(out[0], &c, 1) != 1) break;
      line += c;
    }
    ::close(out[0]);
    if (!StartsWith(line, ready)) {
      return Status::Unavailable(args[0] + " did not become ready (see " + log + "): " + line);
    }
    return line;
  }

 private:
  pid_t pid_ = -1;
};

ClusterPair::~ClusterPair() = default;

bool ClusterPair::RunsSimulators() {
  return EnvOr("KDR_E2E_SOURCE_KUBECONFIG").empty() || EnvOr("KDR_E2E_TARGET_KUBECONFIG").empty();
}

Status ClusterPair::StartSimulators() {
  PosixFileSystem fs;
  const std::string binary = testutil::BinaryDir() + "/tests/kubesim-controllers";
  if (!fs.Exists(binary)) {
    return Status::FailedPrecondition("kubesim-controllers is not built at " + binary +
                                      "; build the kubesim-controllers target");
  }
  const std::string backupstore = dir_.path() + "/longhorn-backupstore";
  for (Cluster* cluster : {source_.get(), target_.get()}) {
    const std::string& name = cluster->context();
    std::vector<std::string> args = {binary,         "--kubeconfig", cluster->kubeconfig(),
                                     "--context",    name,           "--longhorn-backup-store",
                                     backupstore,    "--work-dir",   dir_.path() + "/" + name + "-node",
                                     "--longhorn-data-dir",          LonghornDataDir(name),
                                     "--stop-with",  std::to_string(::getpid())};
    if (const std::string agent = testutil::BinaryDir() + "/kubectl-dr"; fs.Exists(agent)) {
      args.insert(args.end(), {"--agent-binary", agent});
    }
    if (const AlletraSimInfo* a = alletra()) {
      args.insert(args.end(), {"--hpe-array", cluster == source_.get() ? a->source_array : a->target_array,
                               "--alletra-sim-url", a->admin_url, "--alletra-sim-ca", a->ca_path,
                               "--alletra-sim-data-dir", a->data_dir});
    }
    auto p = std::make_unique<Process>();
    auto ready = p->Start(args, dir_.path() + "/" + name + "-controllers.log", "kubesim-controllers ready ");
    if (!ready.ok()) return ready.status();
    simulators_.push_back(std::move(p));
  }
  return Status::Ok();
}

std::string ClusterPair::LonghornDataDir(const std::string& context) const {
  return dir_.path() + "/" + context + "-longhorn";
}

std::string ClusterPair::LonghornVolumeDir(const Cluster& cluster, const std::string& volume) const {
  if (!simulated_volumes_) return "";
  return kubesim::LonghornVolumeDir(LonghornDataDir(cluster.context()), volume);
}

std::string ClusterPair::AlletraVolumeDir(const std::string& array, const std::string& volume) const {
  if (!alletra_) return "";
  return sim::ArrayVolumeDir(alletra_info_.data_dir, array, volume);
}

bool ClusterPair::Simulated() {
  if (!EnvOr("KDR_E2E_SOURCE_KUBECONFIG").empty() && !EnvOr("KDR_E2E_TARGET_KUBECONFIG").empty()) return false;
  std::string kind = EnvOr("KDR_E2E_PAIR");
  return kind.empty() || kind == "kubesim";
}

Result<std::unique_ptr<ClusterPair>> ClusterPair::Create(const PairOptions& options) {
  auto pair = std::unique_ptr<ClusterPair>(new ClusterPair());
  if (!options.alletra_config.empty()) {
    std::string binary = testutil::BinaryDir() + "/tests/alletra-sim";
    if (!PosixFileSystem().Exists(binary)) {
      return Status::FailedPrecondition("alletra-sim is not built at " + binary + "; build the alletra-sim target");
    }
    const std::string ca = pair->dir_.path() + "/alletra-ca.pem";
    pair->alletra_info_.data_dir = pair->dir_.path() + "/alletra-data";
    pair->alletra_ = std::make_unique<Process>();
    KDR_ASSIGN_OR_RETURN(std::string ready,
                         pair->alletra_->Start({binary, "--config", options.alletra_config, "--ca-out", ca,
                                                "--data-dir", pair->alletra_info_.data_dir},
                                               pair->dir_.path() + "/alletra-sim.log", "alletra-sim ready "));
    // "alletra-sim ready array-a=https://... array-b=https://... admin=https://... data=DIR ca=PATH"
    std::vector<std::string> words = Split(TrimSpace(ready), ' ');
    AlletraSimInfo& info = pair->alletra_info_;
    if (words.size() >= 4) {
      info.source_array = words[2].substr(0, words[2].find('='));
      info.target_array = words[3].substr(0, words[3].find('='));
      info.source_url = ReadyValue(ready, info.source_array);
      info.target_url = ReadyValue(ready, info.target_array);
    }
    info.admin_url = ReadyValue(ready, "admin");
    info.ca_path = ReadyValue(ready, "ca");
    if (info.target_url.empty() || info.admin_url.empty() || info.ca_path.empty()) {
      return Status::Unavailable("alletra-sim's ready line is not what the harness reads: " + ready);
    }
  }
  std::string src = EnvOr("KDR_E2E_SOURCE_KUBECONFIG");
  std::string dst = EnvOr("KDR_E2E_TARGET_KUBECONFIG");
  if (!src.empty() && !dst.empty()) {
    pair->source_ = std::make_unique<ExternalCluster>(src, CurrentContext(src));
    pair->target_ = std::make_unique<ExternalCluster>(dst, CurrentContext(dst));
    pair->merged_ = src + ":" + dst;
    return pair;
  }
  std::string kind = EnvOr("KDR_E2E_PAIR");
  if (kind == "real") {
    auto built = testutil::RunCommand(testutil::SourcePath("scripts/realk8s") + " bin-dir");
    if (built.exit_code != 0) {
      return Status::FailedPrecondition("KDR_E2E_PAIR=real but the real control plane is not built; run: "
                                        "scripts/realk8s build");
    }
    auto source = std::make_unique<RealCluster>(pair->dir_.path(), "source");
    auto target = std::make_unique<RealCluster>(pair->dir_.path(), "target");
    // Side by side: each start is mostly waiting for its components to become ready.
    Status source_started;
    std::thread starter([&] { source_started = source->Start(); });
    Status target_started = target->Start();
    starter.join();
    KDR_RETURN_IF_ERROR(source_started);
    KDR_RETURN_IF_ERROR(target_started);
    pair->source_ = std::move(source);
    pair->target_ = std::move(target);
    pair->merged_ = pair->source_->kubeconfig() + ":" + pair->target_->kubeconfig();
    if (options.simulators) KDR_RETURN_IF_ERROR(pair->StartSimulators());
    pair->simulated_volumes_ = options.simulators;
    return pair;
  }
  if (!kind.empty() && kind != "kubesim") {
    return Status::InvalidArgument("KDR_E2E_PAIR is \"" + kind + "\"; use kubesim (the default) or real");
  }
  std::string binary = testutil::BinaryDir() + "/tests/kubesim";
  PosixFileSystem fs;
  if (!fs.Exists(binary)) {
    return Status::FailedPrecondition("kubesim is not built at " + binary + "; build the kubesim target");
  }
  std::vector<std::unique_ptr<KubesimCluster>> clusters;
  const std::string backupstore = pair->dir_.path() + "/longhorn-backupstore";
  for (const char* name : {"source", "target"}) {
    std::string dir = pair->dir_.path() + "/" + name;
    KDR_RETURN_IF_ERROR(fs.MakeDirs(dir));
    std::vector<std::string> extra = {"--longhorn-backupstore", backupstore, "--longhorn-data-dir",
                                      pair->LonghornDataDir(name)};
    // The node runs kubectl-dr's agent pods as processes of the built plugin, when it is built.
    if (const std::string agent = testutil::BinaryDir() + "/kubectl-dr"; fs.Exists(agent)) {
      extra.insert(extra.end(), {"--agent-binary", agent});
    }
    if (const AlletraSimInfo* a = pair->alletra()) {
      extra.insert(extra.end(), {"--hpe-array", std::string(name) == "source" ? a->source_array : a->target_array,
                                 "--alletra-sim-url", a->admin_url, "--alletra-sim-ca", a->ca_path,
                                 "--alletra-sim-data-dir", a->data_dir});
    }
    auto c = std::make_unique<KubesimCluster>(binary, dir, name, std::move(extra));
    KDR_RETURN_IF_ERROR(c->Start());
    clusters.push_back(std::move(c));
  }
  pair->source_ = std::move(clusters[0]);
  pair->target_ = std::move(clusters[1]);
  pair->simulated_volumes_ = true;
  pair->merged_ = pair->source_->kubeconfig() + ":" + pair->target_->kubeconfig();
  return pair;
}

testutil::CommandResult ClusterPair::Kubectl(const Cluster& cluster, const std::string& args) const {
  return testutil::RunCommand("kubectl --kubeconfig " + cluster.kubeconfig() + " " + args);
}

testutil::CommandResult ClusterPair::Shell(const std::string& command) const {
  return testutil::RunCommand("PATH=" + testutil::BinaryDir() + ":$PATH KUBECONFIG=" + merged_ + " " +
                              command);
}

std::string AlletraArraysSecretArgs(const AlletraSimInfo& arrays, bool reversed, const std::string& password,
                                    const std::string& extra) {
  const std::string& source = reversed ? arrays.target_url : arrays.source_url;
  const std::string& target = reversed ? arrays.source_url : arrays.target_url;
  return "-n kubectl-dr-system create secret generic shop-arrays --from-literal=sourceUrl=" + source +
         " --from-literal=targetUrl=" + target + " --from-literal=username=3paradm --from-literal=password=" +
         password + " --from-file=ca=" + arrays.ca_path + (extra.empty() ? "" : " " + extra);
}

}  // namespace kdr::e2e
