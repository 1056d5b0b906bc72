// Failover RTO on kubesim (issue 11): the real `kubectl-dr failover NAME --agent local --yes -o json`
// run as a child process against a kubesim pair for 100, 1,000 and 10,000 objects, timed from
// outside (wall, and the child's user+sys CPU from wait4), with the time of each step from its
// JSON report. While it runs, each step line on its stderr ("Preflight: running", "Preflight:
// Succeeded in 0.1s") is matched with the CPU used so far by the plugin, the two kubesim processes
// and the webhook (/proc/PID/stat), so each step's wall time splits into the plugin's own work, the
// servers' work and what is left (waiting: a poll's sleep, a controller's turn, the machine's
// other load).
//
// Each run starts from nothing: a kubesim pair as the e2e tests start it (e2e/harness.h: processes
// with data directories, the node running pods), `kubectl dr install --webhook-url` on the target
// with a kubectl-dr-webhook process on loopback, N mixed objects in four namespaces of the source
// (per 10: a ConfigMap, a Secret, a ServiceAccount, a Service, a Deployment of 1 replica, a Role, a
// RoleBinding, a NetworkPolicy, a PodDisruptionBudget and a second ConfigMap; the Namespaces and the
// inventory's claim and PV come on top), the Deployments' pods running; then `plan create`
// (--storage none, or longhorn beside tests/data/e2e/storage/longhorn-shop.yaml), `inventory
// capture --agent local`, `recovery create`, and the failover, which is the only part measured.
//
//   KDR_BUILD_DIR=build-rto scripts/build failover_bench
//   build-rto/tests/failover_bench --sizes 100,1000 --runs 3 [--storage longhorn] [--out runs.jsonl]
//     [--plugin PATH]   (the kubectl-dr binary that runs the failover, to compare two builds)
//     [--flags '--qps 0'] (global flags for that kubectl-dr)
//   (results: BENCHMARKS.md)

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "base/clock.h"
#include "base/fs.h"
#include "base/strings.h"
#include "e2e/harness.h"
#include "kube/client.h"
#include "kube/kubeconfig.h"
#include "testutil/testutil.h"

extern char** environ;

namespace {

using nlohmann::json;
using namespace kdr;
using Seconds = std::chrono::duration<double>;

constexpr int kNamespaces = 4;
constexpr const char* kPlan = "bench-to-dr";
constexpr const char* kRecovery = "bench-failover";

// A run that cannot be set up or fails: thrown through the run, so that the pair and the webhook
// it started are stopped on the way out, and reported by main.
struct Failed : std::runtime_error {
  using std::runtime_error::runtime_error;
};
[[noreturn]] void Die(const std::string& what) { throw Failed(what); }
void Check(const Status& s, const std::string& what) {
  if (!s.ok()) Die(what + ": " + s.ToString());
}
testutil::CommandResult MustRun(const e2e::ClusterPair& pair, const std::string& command) {
  testutil::CommandResult r = pair.Shell(command);
  if (r.exit_code != 0) Die(command + " failed:\n" + r.output);
  return r;
}

std::string LoadAverage() {
  std::ifstream in("/proc/loadavg");
  std::string a, b, c;
  in >> a >> b >> c;
  return a + "/" + b + "/" + c;
}

// User+system CPU seconds of a process (all its threads) so far; 0 when it is gone.
double CpuOf(pid_t pid) {
  if (pid <= 0) return 0;
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), {});
  const size_t paren = stat.rfind(')');
  if (paren == std::string::npos) return 0;
  std::istringstream fields(stat.substr(paren + 2));
  std::string f;
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && fields >> f; ++i) {
    if (i == 14) utime = std::stoull(f);
    if (i == 15) stime = std::stoull(f);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

// The process whose command line has `arg` as one of its words (a kubesim's kubeconfig-out path).
pid_t PidWithArg(const std::string& arg) {
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    const std::string name = entry.path().filename();
    if (name.empty() || !std::all_of(name.begin(), name.end(), ::isdigit)) continue;
    std::ifstream in(entry.path() / "cmdline");
    std::string cmdline((std::istreambuf_iterator<char>(in)), {});
    for (const std::string& word : Split(cmdline, '\0')) {
      if (word == arg) return std::stoi(name);
    }
  }
  return -1;
}

pid_t Spawn(const std::vector<std::string>& args, const std::vector<std::string>& extra_env, const std::string& out,
            int err_fd, const std::string& err_file) {
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::vector<std::string> env_strings(extra_env);
  for (char** e = environ; *e != nullptr; ++e) env_strings.push_back(*e);  // the first of a name wins
  std::vector<char*> envp;
  for (auto& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (err_fd >= 0) {
    posix_spawn_file_actions_adddup2(&actions, err_fd, 2);
  } else {
    posix_spawn_file_actions_addopen(&actions, 2, err_file.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  }
  pid_t pid = -1;
  if (posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), envp.data()) != 0) pid = -1;
  posix_spawn_file_actions_destroy(&actions);
  return pid;
}

// The webhook on the target, as tests/e2e/webhook_fixture.h runs it; SIGTERM when destroyed.
class Webhook {
 public:
  Webhook(const e2e::ClusterPair& pair, const std::string& dir) {
    const int port = FreePort();
    const std::string url = "https://127.0.0.1:" + std::to_string(port);
    certs_ = dir + "/certs";
    MustRun(pair, "kubectl dr install --context " + pair.target().context() + " --webhook-url " + url +
                      " --cert-dir " + certs_);
    pid_ = Spawn({testutil::BinaryDir() + "/kubectl-dr-webhook", "--listen", "127.0.0.1:" + std::to_string(port),
                  "--tls-cert", certs_ + "/tls.crt", "--tls-key", certs_ + "/tls.key", "--kubeconfig",
                  pair.target().kubeconfig(), "--shutdown-delay", "0"},
                 {}, dir + "/webhook.log", -1, dir + "/webhook.log");
    if (pid_ <= 0) Die("cannot start kubectl-dr-webhook");
    curl_ = "curl -sf --max-time 2 --cacert " + certs_ + "/ca.crt " + url;
    if (!WaitFor([&] { return testutil::RunCommand(curl_ + "/readyz").exit_code == 0; })) {
      Stop();  // a constructor that throws runs no destructor
      Die("the webhook did not become ready; see " + dir + "/webhook.log");
    }
  }
  ~Webhook() { Stop(); }
  void Stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  pid_t pid() const { return pid_; }

  // Until the webhook's cache (fed by a watch) holds at least `n` objects of `kind`.
  void WaitForCache(const std::string& kind, int n) const {
    const std::string series = "kdr_webhook_cache_objects{kind=\"" + kind + "\"} ";
    bool ok = WaitFor([&] {
      for (const std::string& line : Split(testutil::RunCommand(curl_ + "/metrics").output, '\n')) {
        if (StartsWith(line, series)) return std::stod(line.substr(series.size())) >= n;
      }
      return false;
    });
    if (!ok) Die("the webhook's cache never held " + std::to_string(n) + " " + kind);
  }

  static bool WaitFor(const std::function<bool()>& done, std::chrono::seconds deadline = std::chrono::seconds(60)) {
    auto until = std::chrono::steady_clock::now() + deadline;
    while (std::chrono::steady_clock::now() < until) {
      if (done()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }

 private:
  // A port free on 127.0.0.1 now (install must know the URL before the webhook binds it).
  static int FreePort() {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    int port = 0;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
      port = ntohs(addr.sin_port);
    }
    ::close(fd);
    return port;
  }

  pid_t pid_ = -1;
  std::string certs_;
  std::string curl_;
};

std::string Fmt(double v, int decimals = 2) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

std::unique_ptr<kube::Client> ClientFor(const e2e::Cluster& cluster, const Env& env) {
  Result<std::string> yaml = env.fs->ReadFile(cluster.kubeconfig());
  Check(yaml.status(), "reading " + cluster.kubeconfig());
  Result<kube::Kubeconfig> config = kube::ParseKubeconfig(*yaml, cluster.kubeconfig());
  Check(config.status(), "parsing " + cluster.kubeconfig());
  Result<kube::RestConfig> rest = kube::ResolveRestConfig(*config, {}, env);
  Check(rest.status(), "resolving " + cluster.kubeconfig());
  rest->qps = 0;  // set-up is not measured: as fast as the server takes it
  Result<std::unique_ptr<kube::Client>> client = kube::Client::Create(*rest, env);
  Check(client.status(), "client for " + cluster.kubeconfig());
  return std::move(*client);
}

struct Object {
  kube::Gvr gvr;
  std::string ns;
  json body;
};

std::string AppNamespace(int i) { return "app-" + std::to_string(i); }

// n objects spread over the four namespaces, the kinds of the header in turn.
std::vector<Object> MixedObjects(int n) {
  std::vector<Object> out;
  for (int i = 0; i < n; ++i) {
    const std::string ns = AppNamespace(i % kNamespaces);
    const int k = i / kNamespaces;
    const std::string name = "obj-" + std::to_string(k);
    const json labels = {{"app", name}};
    json meta = {{"name", name}, {"namespace", ns}, {"labels", labels}};
    Object o;
    o.ns = ns;
    switch (k % 10) {
      case 0:
      case 9:
        o.gvr = {"", "v1", "configmaps"};
        o.body = {{"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"data", {{"app.yaml", std::string(400, 'c')}}}};
        break;
      case 1:
        o.gvr = {"", "v1", "secrets"};
        o.body = {{"apiVersion", "v1"}, {"kind", "Secret"}, {"type", "Opaque"}, {"data", {{"password", "czNjcjN0"}}}};
        break;
      case 2:
        o.gvr = {"", "v1", "serviceaccounts"};
        o.body = {{"apiVersion", "v1"}, {"kind", "ServiceAccount"}};
        break;
      case 3:
        o.gvr = {"", "v1", "services"};
        o.body = {{"apiVersion", "v1"},
                  {"kind", "Service"},
                  {"spec", {{"selector", labels}, {"ports", {{{"port", 80}, {"protocol", "TCP"}, {"targetPort", 8080}}}}}}};
        break;
      case 4:
        o.gvr = {"apps", "v1", "deployments"};
        o.body = {{"apiVersion", "apps/v1"},
                  {"kind", "Deployment"},
                  {"spec", {{"replicas", 1}, {"selector", {{"matchLabels", labels}}},
                            {"template", {{"metadata", {{"labels", labels}}},
                                          {"spec", {{"containers", {{{"name", "app"}, {"image", "registry.example.com/app:1.0"},
                                                                     {"ports", {{{"containerPort", 8080}}}}}}}}}}}}}};
        break;
      case 5:
        o.gvr = {"rbac.authorization.k8s.io", "v1", "roles"};
        o.body = {{"apiVersion", "rbac.authorization.k8s.io/v1"},
                  {"kind", "Role"},
                  {"rules", {{{"apiGroups", {""}}, {"resources", {"configmaps"}}, {"verbs", {"get", "list"}}}}}};
        break;
      case 6:
        o.gvr = {"rbac.authorization.k8s.io", "v1", "rolebindings"};
        o.body = {{"apiVersion", "rbac.authorization.k8s.io/v1"},
                  {"kind", "RoleBinding"},
                  {"roleRef", {{"apiGroup", "rbac.authorization.k8s.io"}, {"kind", "Role"}, {"name", name}}},
                  {"subjects", {{{"kind", "ServiceAccount"}, {"name", "default"}, {"namespace", ns}}}}};
        break;
      case 7:
        o.gvr = {"networking.k8s.io", "v1", "networkpolicies"};
        o.body = {{"apiVersion", "networking.k8s.io/v1"},
                  {"kind", "NetworkPolicy"},
                  {"spec", {{"podSelector", {{"matchLabels", labels}}}, {"policyTypes", {"Ingress"}}}}};
        break;
      case 8:
        o.gvr = {"policy", "v1", "poddisruptionbudgets"};
        o.body = {{"apiVersion", "policy/v1"},
                  {"kind", "PodDisruptionBudget"},
                  {"spec", {{"minAvailable", 1}, {"selector", {{"matchLabels", labels}}}}}};
        break;
    }
    o.body["metadata"] = meta;
    out.push_back(std::move(o));
  }
  return out;
}

// Creates the objects with 8 threads sharing the client's connection pool.
void CreateAll(kube::Client& client, const std::vector<Object>& objects) {
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  std::string error;
  std::mutex mu;
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (size_t i = next++; i < objects.size() && !failed; i = next++) {
        Result<json> r = client.Create(objects[i].gvr, objects[i].ns, objects[i].body);
        if (!r.ok()) {
          std::lock_guard<std::mutex> lock(mu);
          failed = true;
          error = objects[i].body["kind"].get<std::string>() + " " + objects[i].ns + ": " + r.status().ToString();
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  if (failed) Die("creating the objects: " + error);
}

// Until every Deployment of the namespaces reports its replicas ready (kubesim's controllers run
// their pods), so that the quiesce has pods to wait out; at most 5 minutes (1,000 Deployments take
// kubesim's controllers many minutes on a busy machine), then the run goes on with those not
// ready yet, counted on stderr: their pods exist, and the quiesce waits for them all the same.
void WaitDeploymentsReady(kube::Client& client) {
  int not_ready = 0;
  Webhook::WaitFor([&] {
    not_ready = 0;
    for (int i = 0; i < kNamespaces; ++i) {
      Result<json> list = client.ListAll({"apps", "v1", "deployments"}, AppNamespace(i));
      if (!list.ok()) return false;
      for (const json& d : (*list)["items"]) {
        if (d["status"].value("readyReplicas", 0) < d["spec"].value("replicas", 1)) ++not_ready;
      }
    }
    return not_ready == 0;
  }, std::chrono::minutes(5));
  if (not_ready > 0) std::cerr << "set-up: going on with " << not_ready << " Deployment(s) of the source not ready\n";
}

struct Step {
  std::string name;
  std::string state;
  double seconds = 0;       // from the report
  double plugin_cpu = 0;    // from the samples at its stderr lines
  double servers_cpu = 0;   // both kubesims and the webhook
};

struct Run {
  std::string storage;
  std::string flags;
  int objects = 0;
  double wall = 0;
  double rto = 0;
  double user = 0;
  double sys = 0;
  double source_cpu = 0;
  double target_cpu = 0;
  double webhook_cpu = 0;
  int64_t restored = 0;
  std::string load_before;
  std::string load_after;
  std::vector<Step> steps;
};

json ToJson(const Run& r) {
  json steps = json::array();
  for (const Step& s : r.steps) {
    steps.push_back({{"name", s.name}, {"state", s.state}, {"seconds", s.seconds}, {"pluginCpu", s.plugin_cpu},
                     {"serversCpu", s.servers_cpu}});
  }
  return {{"storage", r.storage}, {"flags", r.flags}, {"objects", r.objects}, {"wall", r.wall}, {"rto", r.rto}, {"user", r.user},
          {"sys", r.sys}, {"sourceCpu", r.source_cpu}, {"targetCpu", r.target_cpu}, {"webhookCpu", r.webhook_cpu},
          {"restored", r.restored}, {"loadBefore", r.load_before}, {"loadAfter", r.load_after}, {"steps", steps}};
}

// Sets up a pair for `n` objects, runs the failover, and measures it.
Run OneRun(int n, const std::string& storage, const std::string& plugin, const std::vector<std::string>& flags) {
  RealClock clock;
  PosixFileSystem fs;
  Env env{&clock, &fs, nullptr};
  Result<std::unique_ptr<e2e::ClusterPair>> made = e2e::ClusterPair::Create();
  Check(made.status(), "starting the kubesim pair");
  e2e::ClusterPair& pair = **made;
  testutil::TempDir dir;
  Webhook webhook(pair, dir.path());

  // The source: the namespaces, the inventory's claim (a hostPath PV: driver none replicates the
  // directory outside kubectl-dr) or the Longhorn shop, and the objects.
  std::unique_ptr<kube::Client> source = ClientFor(pair.source(), env);
  std::vector<std::string> namespaces;
  for (int i = 0; i < kNamespaces; ++i) {
    namespaces.push_back(AppNamespace(i));
    Check(source->Create({"", "v1", "namespaces"}, "",
                         {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", AppNamespace(i)}}}})
              .status(),
          "creating a namespace");
  }
  std::string inventory_pvc = "app-0/inventory";
  std::string storage_flags = "--storage none";
  if (storage == "longhorn") {
    MustRun(pair, "kubectl --context " + pair.source().context() + " apply -f " + testutil::DataPath("e2e/storage/longhorn-shop.yaml"));
    MustRun(pair, "kubectl --context " + pair.source().context() + " -n shop wait --for=jsonpath={.status.phase}=Bound pvc --all --timeout=60s");
    namespaces.push_back("shop");
    inventory_pvc = "shop/shop-inventory";
    storage_flags = "--storage longhorn --storage-param longhornNamespace=longhorn-system";
  } else {
    const std::string manifest = dir.Write("inventory.yaml", R"(apiVersion: v1
kind: PersistentVolume
metadata: {name: app-0-inventory-pv}
spec:
  capacity: {storage: 1Gi}
  accessModes: [ReadWriteOnce]
  persistentVolumeReclaimPolicy: Retain
  storageClassName: manual
  hostPath: {path: )" + dir.path() + R"(/inventory}
  claimRef: {namespace: app-0, name: inventory}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: inventory, namespace: app-0}
spec:
  accessModes: [ReadWriteOnce]
  storageClassName: manual
  volumeName: app-0-inventory-pv
  resources:
    requests: {storage: 1Gi}
)");
    MustRun(pair, "kubectl --context " + pair.source().context() + " apply -f " + manifest);
    MustRun(pair, "kubectl --context " + pair.source().context() + " -n app-0 wait --for=jsonpath={.status.phase}=Bound pvc/inventory --timeout=60s");
  }
  const auto setup = std::chrono::steady_clock::now();
  CreateAll(*source, MixedObjects(n));
  WaitDeploymentsReady(*source);
  std::cerr << "set-up: " << n << " objects created, their Deployments waited for, in "
            << Fmt(Seconds(std::chrono::steady_clock::now() - setup).count(), 0) << " s\n";

  const std::string dr = "kubectl dr --context " + pair.target().context() + " ";
  const std::string inventory = dir.path() + "/inventory";
  MustRun(pair, dr + "plan create " + kPlan + " --source-context " + pair.source().context() + " --target-context " +
                    pair.target().context() + " --namespaces " + Join(namespaces, ",") + " --inventory-pvc " +
                    inventory_pvc + " " + storage_flags);
  MustRun(pair, dr + "inventory capture --plan " + kPlan + " --agent local --inventory-path " + inventory);
  MustRun(pair, dr + "recovery create " + kRecovery + " --plan " + kPlan);
  webhook.WaitForCache("drrecoveries", 1);

  // The failover, alone on the clock. Its stderr comes through a pipe: each step line is a sample.
  const pid_t source_pid = PidWithArg(pair.source().kubeconfig());
  const pid_t target_pid = PidWithArg(pair.target().kubeconfig());
  if (source_pid <= 0 || target_pid <= 0) Die("cannot find the kubesim processes");
  auto servers = [&] { return CpuOf(source_pid) + CpuOf(target_pid) + CpuOf(webhook.pid()); };
  int err[2];
  if (::pipe2(err, O_CLOEXEC) != 0) Die("pipe failed");
  const std::string report_file = dir.path() + "/report.json";
  Run run;
  run.storage = storage;
  run.flags = Join(flags, " ");
  run.objects = n;
  run.load_before = LoadAverage();
  const double source0 = CpuOf(source_pid), target0 = CpuOf(target_pid), webhook0 = CpuOf(webhook.pid());
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::string> args = {plugin};
  args.insert(args.end(), flags.begin(), flags.end());
  args.insert(args.end(), {"--context", pair.target().context(), "failover", kRecovery, "--agent", "local",
                           "--inventory-path", inventory, "--yes", "-o", "json"});
  const pid_t child = Spawn(args, {"KUBECONFIG=" + pair.merged_kubeconfig()}, report_file, err[1], "");
  ::close(err[1]);
  if (child <= 0) Die("cannot run kubectl-dr");
  std::map<std::string, std::pair<double, double>> started;  // step -> {plugin cpu, servers cpu}
  std::map<std::string, std::pair<double, double>> used;
  std::string stderr_text, line;
  char buf[4096];
  for (ssize_t got; (got = ::read(err[0], buf, sizeof buf)) > 0;) {
    for (ssize_t i = 0; i < got; ++i) {
      stderr_text += buf[i];
      if (buf[i] != '\n') {
        line += buf[i];
        continue;
      }
      const size_t colon = line.find(": ");
      if (colon != std::string::npos && line[0] != ' ') {
        const std::string step = line.substr(0, colon);
        const std::pair<double, double> now{CpuOf(child), servers()};
        if (line.compare(colon + 2, 7, "running") == 0) {
          started[step] = now;
        } else if (auto s = started.find(step); s != started.end()) {
          used[step] = {now.first - s->second.first, now.second - s->second.second};
        }
      }
      line.clear();
    }
  }
  ::close(err[0]);
  int status = 0;
  rusage usage{};
  ::wait4(child, &status, 0, &usage);
  run.wall = Seconds(std::chrono::steady_clock::now() - start).count();
  run.load_after = LoadAverage();
  run.source_cpu = CpuOf(source_pid) - source0;
  run.target_cpu = CpuOf(target_pid) - target0;
  run.webhook_cpu = CpuOf(webhook.pid()) - webhook0;
  run.user = Seconds(std::chrono::seconds(usage.ru_utime.tv_sec) + std::chrono::microseconds(usage.ru_utime.tv_usec)).count();
  run.sys = Seconds(std::chrono::seconds(usage.ru_stime.tv_sec) + std::chrono::microseconds(usage.ru_stime.tv_usec)).count();
  Result<std::string> report_text = fs.ReadFile(report_file);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || !report_text.ok()) {
    Die("the failover failed:\n" + stderr_text + (report_text.ok() ? *report_text : ""));
  }
  json report = json::parse(*report_text, nullptr, false);
  if (!report.is_object()) Die("the failover's report is not JSON: " + *report_text);
  run.rto = report.value("rtoSeconds", 0.0);
  const json& restored = report["restored"];
  run.restored = restored.value("created", 0) + restored.value("updated", 0) + restored.value("existing", 0);
  for (const json& s : report["steps"]) {
    Step step;
    step.name = s.value("name", "");
    step.state = s.value("state", "");
    step.seconds = s.value("seconds", 0.0);
    if (auto u = used.find(step.name); u != used.end()) {
      step.plugin_cpu = u->second.first;
      step.servers_cpu = u->second.second;
    }
    run.steps.push_back(step);
  }
  return run;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  if (v.empty()) return 0;
  return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

// "median (min-max)" of f over the runs.
template <typename F>
std::string Spread(const std::vector<Run>& runs, F f, int decimals = 2) {
  std::vector<double> v;
  for (const Run& r : runs) v.push_back(f(r));
  auto [lo, hi] = std::minmax_element(v.begin(), v.end());
  return Fmt(Median(v), decimals) + " (" + Fmt(*lo, decimals) + "-" + Fmt(*hi, decimals) + ")";
}

void PrintSummary(const std::vector<Run>& runs) {
  std::map<std::pair<std::string, int>, std::vector<Run>> groups;
  for (const Run& r : runs) groups[{r.storage, r.objects}].push_back(r);
  std::cout << "\n| storage | objects | runs | RTO s median (min-max) | wall s | plugin CPU s | plugin CPU / wall | "
               "target kubesim CPU s | source kubesim CPU s | webhook CPU s |\n"
               "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n";
  for (const auto& [key, g] : groups) {
    std::cout << "| " << key.first << " | " << key.second << " | " << g.size() << " | "
              << Spread(g, [](const Run& r) { return r.rto; }) << " | " << Spread(g, [](const Run& r) { return r.wall; })
              << " | " << Spread(g, [](const Run& r) { return r.user + r.sys; }) << " | "
              << Spread(g, [](const Run& r) { return (r.user + r.sys) / r.wall; }) << " | "
              << Spread(g, [](const Run& r) { return r.target_cpu; }) << " | "
              << Spread(g, [](const Run& r) { return r.source_cpu; }) << " | "
              << Spread(g, [](const Run& r) { return r.webhook_cpu; }) << " |\n";
  }
  for (const auto& [key, g] : groups) {
    std::cout << "\n" << key.first << ", " << key.second << " objects: step | wall s median (min-max) | plugin CPU s | "
              << "servers CPU s\n";
    for (size_t i = 0; i < g.front().steps.size(); ++i) {
      auto pick = [&](auto f) {
        return Spread(g, [&](const Run& r) { return i < r.steps.size() ? f(r.steps[i]) : 0.0; }, 3);
      };
      std::cout << "| " << g.front().steps[i].name << " (" << g.front().steps[i].state << ") | "
                << pick([](const Step& s) { return s.seconds; }) << " | "
                << pick([](const Step& s) { return s.plugin_cpu; }) << " | "
                << pick([](const Step& s) { return s.servers_cpu; }) << " |\n";
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int> sizes = {100, 1000, 10000};
  int runs = 3;
  std::string storage = "none";
  std::string out;
  std::string plugin = testutil::BinaryDir() + "/kubectl-dr";
  std::vector<std::string> flags;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const std::string value = i + 1 < argc ? argv[i + 1] : "";
    if (a == "--sizes") {
      sizes.clear();
      for (const std::string& s : Split(value, ',')) sizes.push_back(std::stoi(s));
    } else if (a == "--runs") {
      runs = std::stoi(value);
    } else if (a == "--storage") {
      storage = value;
    } else if (a == "--flags") {
      for (const std::string& f : Split(value, ' ')) {
        if (!f.empty()) flags.push_back(f);
      }
    } else if (a == "--plugin") {
      plugin = value;
    } else if (a == "--out") {
      out = value;
    } else {
      std::cerr << "usage: failover_bench [--sizes 100,1000,10000] [--runs N] [--storage none|longhorn] [--out FILE]\n"
                   "                      [--plugin PATH (the kubectl-dr that runs the failover; default: the built one)]\n"
                   "                      [--flags 'FLAG...' (global flags of that kubectl-dr, e.g. '--qps 0')]\n";
      return 2;
    }
    ++i;
  }
  if (storage != "none" && storage != "longhorn") {
    std::cerr << "failover_bench: --storage is none or longhorn\n";
    return 2;
  }
  std::vector<Run> all;
  for (int n : sizes) {
    for (int r = 0; r < runs; ++r) {
      Run run;
      try {
        run = OneRun(n, storage, plugin, flags);
      } catch (const Failed& e) {
        std::cerr << "failover_bench: " << n << " objects, run " << r + 1 << ": " << e.what() << "\n";
        if (!all.empty()) PrintSummary(all);
        return 1;
      }
      json j = ToJson(run);
      std::cerr << "run " << storage << " " << n << " #" << r + 1 << ": RTO " << Fmt(run.rto) << " s, wall "
                << Fmt(run.wall) << " s, plugin CPU " << Fmt(run.user + run.sys) << " s, load " << run.load_before
                << " -> " << run.load_after << "\n";
      if (!out.empty()) std::ofstream(out, std::ios::app) << j.dump() << "\n";
      all.push_back(std::move(run));
    }
  }
  PrintSummary(all);
  return 0;
}
