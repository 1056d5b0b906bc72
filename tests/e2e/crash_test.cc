// Crash tests, driven from outside as a dying laptop would: `kubectl dr failover` runs as a child
// process (real kubectl, the real plugin, the real webhook on the target); its progress lines on
// stderr ("<Step>: running", "restored N/M") say where it is, and the test SIGKILLs it there, or
// stops the target's API server under it, then runs the same command again. The end state must be
// an uninterrupted failover's: the same objects on the target, none lost, none duplicated, the
// same counts in the journal.
//
// A killed run leaves the plan's Lease held: the next run is refused, naming the dead holder, until
// the lease expires (30 s), and then takes it over. The first kill waits for that for real; the
// later ones expire the lease by moving its renewTime back with kubectl, which is the same lease
// 30 s later as far as any client can tell, to keep the suite short.

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <gtest/gtest.h>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "base/clock.h"
#include "base/strings.h"
#include "e2e/harness.h"
#include "e2e/longhorn_shop.h"
#include "e2e/webhook_fixture.h"
#include "testutil/testutil.h"

extern char** environ;

namespace kdr::e2e {
namespace {

using nlohmann::json;
using testutil::CommandResult;

// A hang guard for a child that should have printed or exited long before: not a timing assert.
constexpr int kChildGuardMs = 240'000;

// The generated shop: enough objects that a restore can be caught half way.
constexpr int kConfigMaps = 300;
constexpr int kSecrets = 60;
constexpr int kServices = 30;
constexpr int kDeployments = 20;
constexpr int kServiceAccounts = 20;
constexpr int kVolumes = 4;

std::string ShopYaml() {
  std::string y =
      "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n"
      "---\napiVersion: v1\nkind: PersistentVolume\nmetadata: {name: shop-inventory-pv}\n"
      "spec: {capacity: {storage: 1Gi}, accessModes: [ReadWriteOnce], persistentVolumeReclaimPolicy: Retain,"
      " storageClassName: manual, hostPath: {path: /tmp/kdr-e2e-crash-inventory},"
      " claimRef: {namespace: shop, name: shop-inventory}}\n"
      "---\napiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: shop-inventory, namespace: shop}\n"
      "spec: {accessModes: [ReadWriteOnce], storageClassName: manual, volumeName: shop-inventory-pv,"
      " resources: {requests: {storage: 1Gi}}}\n";
  auto num = [](int i) {
    char b[8];
    std::snprintf(b, sizeof b, "%03d", i);
    return std::string(b);
  };
  for (int i = 0; i < kVolumes; ++i) {
    y += "---\napiVersion: v1\nkind: PersistentVolume\nmetadata: {name: crash-data-" + num(i) +
         "}\nspec: {capacity: {storage: 1Gi}, accessModes: [ReadWriteOnce], persistentVolumeReclaimPolicy: Retain,"
         " storageClassName: manual, hostPath: {path: /tmp/kdr-e2e-crash-" + num(i) +
         "}, claimRef: {namespace: shop, name: data-" + num(i) + "}}\n"
         "---\napiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: data-" + num(i) +
         ", namespace: shop}\nspec: {accessModes: [ReadWriteOnce], storageClassName: manual, volumeName: crash-data-" +
         num(i) + ", resources: {requests: {storage: 1Gi}}}\n";
  }
  for (int i = 0; i < kConfigMaps; ++i) {
    y += "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: config-" + num(i) +
         ", namespace: shop, labels: {app: shop}}\ndata: {index: \"" + std::to_string(i) + "\", greeting: hello}\n";
  }
  for (int i = 0; i < kSecrets; ++i) {
    y += "---\napiVersion: v1\nkind: Secret\nmetadata: {name: secret-" + num(i) +
         ", namespace: shop}\nstringData: {password: pw-" + num(i) + "}\n";
  }
  for (int i = 0; i < kServiceAccounts; ++i) {
    y += "---\napiVersion: v1\nkind: ServiceAccount\nmetadata: {name: sa-" + num(i) + ", namespace: shop}\n";
  }
  for (int i = 0; i < kServices; ++i) {
    y += "---\napiVersion: v1\nkind: Service\nmetadata: {name: svc-" + num(i) +
         ", namespace: shop}\nspec: {selector: {app: app-" + num(i % kDeployments) +
         "}, ports: [{port: 80, targetPort: 8080}]}\n";
  }
  for (int i = 0; i < kDeployments; ++i) {
    y += "---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: app-" + num(i) +
         ", namespace: shop}\nspec:\n  replicas: " + std::to_string(1 + i % 2) +
         "\n  selector: {matchLabels: {app: app-" + num(i) + "}}\n  template:\n    metadata: {labels: {app: app-" +
         num(i) + "}}\n    spec:\n      serviceAccountName: sa-" + num(i % kServiceAccounts) +
         "\n      containers:\n      - {name: app, image: nginx:1.27, envFrom: [{configMapRef: {name: config-" +
         num(i) + "}}]}\n";
  }
  return y;
}

std::string PlanYaml(const std::string& name) {
  return "apiVersion: dr.kubectl-dr.dev/v1alpha1\nkind: DRPlan\nmetadata: {name: " + name +
         ", namespace: kubectl-dr-system}\nspec:\n  sourceContext: SOURCE\n  targetContext: TARGET\n"
         "  namespaces: [shop]\n  inventory: {pvcNamespace: shop, pvcName: shop-inventory}\n"
         "  storage: {driver: none}\n";
}

// `kubectl dr ARGS` as a child process: stderr (the progress lines) read line by line through a
// pipe, stdout to a file. The shell execs kubectl, which execs the plugin: the child's pid is the
// plugin's.
class PluginProcess {
 public:
  PluginProcess(const ClusterPair& pair, const std::string& args, const std::string& stdout_path)
      : stdout_path_(stdout_path) {
    const std::string script = "export PATH=" + testutil::BinaryDir() + ":$PATH KUBECONFIG=" +
                               pair.merged_kubeconfig() + "; exec kubectl dr " + args + " >" + stdout_path_ +
                               " </dev/null";
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return;
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], 2);
    std::vector<std::string> argv_s = {"/bin/sh", "-c", script};
    std::vector<char*> argv;
    for (auto& a : argv_s) argv.push_back(a.data());
    argv.push_back(nullptr);
    if (posix_spawn(&pid_, "/bin/sh", &actions, nullptr, argv.data(), environ) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&actions);
    ::close(fds[1]);
    fd_ = fds[0];
  }
  ~PluginProcess() {
    if (pid_ > 0) Kill();
    if (fd_ >= 0) ::close(fd_);
  }
  PluginProcess(const PluginProcess&) = delete;
  PluginProcess& operator=(const PluginProcess&) = delete;

  pid_t pid() const { return pid_; }
  bool started() const { return pid_ > 0 && fd_ >= 0; }

  // Reads stderr until a line satisfies `want` (true: the child is still running, that line
  // last in err()) or the stream ends (false: the child exited without printing it).
  bool WaitForLine(const std::function<bool(const std::string&)>& want) {
    std::string line;
    while (ReadLine(&line)) {
      if (want(line)) return true;
    }
    return false;
  }
  // Stops it at once: no destructor, no lease release, no last journal write.
  void Kill() {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  void Pause() { ::kill(pid_, SIGSTOP); }
  void Resume() { ::kill(pid_, SIGCONT); }
  // Reads the rest and waits: the exit code (-1 when killed or hung past the guard).
  int Wait() {
    std::string line;
    while (ReadLine(&line)) {
    }
    if (pid_ <= 0) return -1;
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  const std::string& err() const { return err_; }
  std::string out() const { return testutil::RunCommand("cat " + stdout_path_).output; }
  std::string Output() const { return "stderr:\n" + err_ + "stdout:\n" + out(); }

 private:
  bool ReadLine(std::string* line) {
    line->clear();
    if (fd_ < 0) return false;
    char c;
    pollfd pfd{fd_, POLLIN, 0};
    for (;;) {
      if (::poll(&pfd, 1, kChildGuardMs) <= 0) {
        err_ += "[the test gave up waiting for the plugin]\n";
        if (pid_ > 0) Kill();
        return false;
      }
      ssize_t n = ::read(fd_, &c, 1);
      if (n <= 0) return false;
      err_ += c;
      if (c == '\n') return true;
      *line += c;
    }
  }

  std::string stdout_path_;
  pid_t pid_ = -1;
  int fd_ = -1;
  std::string err_;
};

// "  restored 170/343 (config)" -> {170, 343}; {-1, -1} for other lines.
std::pair<int64_t, int64_t> RestoredCount(const std::string& line) {
  const std::string key = "restored ";
  size_t at = line.find(key);
  if (at == std::string::npos || TrimSpace(line).rfind(key, 0) != 0) return {-1, -1};
  int64_t done = 0, total = 0;
  if (std::sscanf(line.c_str() + at + key.size(), "%ld/%ld", &done, &total) != 2) return {-1, -1};
  return {done, total};
}

// An object as the comparison sees it: what a restore decides, without what the server assigns
// (uid, versions, timestamps, status, allocated IPs) or which recovery's name it carries.
json Normalized(json o) {
  json& m = o["metadata"];
  for (const char* k : {"uid", "resourceVersion", "creationTimestamp", "managedFields", "generation"}) m.erase(k);
  // Written by the deployment controller when it gets to it (with --no-wait, maybe after the run).
  if (m.contains("annotations")) {
    m["annotations"].erase("deployment.kubernetes.io/revision");
    if (m["annotations"].empty()) m.erase("annotations");
  }
  if (m.contains("labels") && m["labels"].contains("dr.kubectl-dr.dev/recovery")) {
    m["labels"]["dr.kubectl-dr.dev/recovery"] = "RECOVERY";
  }
  o.erase("status");
  if (o.contains("spec")) {
    for (const char* k : {"clusterIP", "clusterIPs"}) o["spec"].erase(k);
    if (o["spec"].contains("claimRef")) {
      o["spec"]["claimRef"].erase("uid");
      o["spec"]["claimRef"].erase("resourceVersion");
    }
  }
  return o;
}

class CrashE2eTest : public WebhookE2eTest {
 protected:
  void SetUp() override {
    WebhookE2eTest::SetUp();
    if (HasFatalFailure() || IsSkipped()) return;
    const std::string shop = dir_.Write("shop.yaml", ShopYaml());
    CommandResult made = pair_->Kubectl(pair_->source(), "create -f " + shop);
    ASSERT_EQ(made.exit_code, 0) << made.output;
    for (const std::string plan : {"shop-a", "shop-b"}) {
      std::string yaml = PlanYaml(plan);
      yaml.replace(yaml.find("SOURCE"), 6, pair_->source().context());
      yaml.replace(yaml.find("TARGET"), 6, target().context());
      CommandResult p = Kubectl("apply -f " + dir_.Write(plan + ".yaml", yaml));
      ASSERT_EQ(p.exit_code, 0) << p.output;
      // Both inventories are of the shop as it runs, before any failover quiesced it.
      CommandResult capture = Dr("inventory capture --plan " + plan + " --agent local --inventory-path " +
                                 Inventory(plan));
      ASSERT_EQ(capture.exit_code, 0) << capture.output;
    }
  }

  std::string Inventory(const std::string& plan) const { return dir_.path() + "/inventory-" + plan; }
  CommandResult Dr(const std::string& args) const {
    return pair_->Shell("kubectl dr --context " + target().context() + " " + args);
  }
  // The failover command, as the operator types it each time.
  std::string FailoverArgs(const std::string& recovery, const std::string& plan) const {
    return "--context " + target().context() + " failover " + recovery + " --agent local --inventory-path " +
           Inventory(plan) + " --yes --timeout 2m" + (target().simulated() ? "" : " --no-wait") + " -o json";
  }
  std::unique_ptr<PluginProcess> Start(const std::string& recovery, const std::string& plan) {
    return std::make_unique<PluginProcess>(*pair_, FailoverArgs(recovery, plan),
                                           dir_.path() + "/out-" + std::to_string(++runs_) + ".json");
  }

  // The recovery's status ({} when it cannot be read).
  json Recovery(const std::string& name) const {
    CommandResult r = Kubectl("-n kubectl-dr-system get drr " + name + " -o json");
    json j = json::parse(r.output, nullptr, false);
    json status = json::object();
    if (j.is_object() && j.contains("status") && j["status"].is_object()) status = j["status"];
    if (!status.contains("steps")) status["steps"] = json::array();
    if (!status.contains("restored")) status["restored"] = json::object();
    return status;
  }
  std::string StepState(const std::string& recovery, const std::string& step) const {
    for (const json& s : Recovery(recovery).value("steps", json::array())) {
      if (s.value("name", "") == step) return s.value("state", "");
    }
    return "";
  }
  // The journal has the step done (or skipped): no later run prints it again.
  bool StepPast(const std::string& recovery, const std::string& step) const {
    const std::string state = StepState(recovery, step);
    return state == "Succeeded" || state == "Skipped";
  }
  std::vector<std::string> Steps(const std::string& recovery) const {
    std::vector<std::string> out;
    for (const json& s : Recovery(recovery).value("steps", json::array())) out.push_back(s.value("name", ""));
    return out;
  }

  // What the failover restored on the target, by "Kind namespace/name".
  std::map<std::string, json> TargetObjects(const std::string& recovery) const {
    std::map<std::string, json> out;
    auto add = [&](const std::string& args) {
      CommandResult r = Kubectl("get " + args + " -o json");
      json list = json::parse(r.output, nullptr, false);
      EXPECT_TRUE(list.is_object()) << r.output;
      if (!list.is_object()) return;
      for (const json& item : list.value("items", json::array())) {
        const std::string key = item.value("kind", "") + " " + item["metadata"].value("namespace", "") + "/" +
                                item["metadata"].value("name", "");
        EXPECT_EQ(out.count(key), 0u) << key << " listed twice";
        out[key] = Normalized(item);
      }
    };
    add("-n shop configmaps,secrets,serviceaccounts,services,deployments,persistentvolumeclaims");
    add("namespace shop");
    add("persistentvolumes -l dr.kubectl-dr.dev/recovery=" + recovery);
    return out;
  }

  // Both sites as they were before a failover: on the target the shop's namespace and volumes
  // gone; on the source, the shop unfenced (a claim is fenced for one plan only) and running again.
  void ResetSites(const std::string& recovery) {
    CommandResult ns = Kubectl("delete namespace shop --wait=true --timeout=120s");
    ASSERT_EQ(ns.exit_code, 0) << ns.output;
    CommandResult pvs = Kubectl("delete persistentvolumes -l dr.kubectl-dr.dev/recovery=" + recovery +
                                " --wait=true --timeout=120s");
    ASSERT_EQ(pvs.exit_code, 0) << pvs.output;
    CommandResult claims = pair_->Kubectl(pair_->source(), "-n shop label pvc --all dr.kubectl-dr.dev/failed-over-");
    ASSERT_EQ(claims.exit_code, 0) << claims.output;
    CommandResult fenced = pair_->Kubectl(pair_->source(), "label namespace shop dr.kubectl-dr.dev/fenced-");
    ASSERT_EQ(fenced.exit_code, 0) << fenced.output;
    CommandResult unquiesce = pair_->Shell("kubectl dr unquiesce --context " + pair_->source().context() +
                                           " --namespaces shop");
    ASSERT_EQ(unquiesce.exit_code, 0) << unquiesce.output;
  }

  // The Lease a killed run left behind, expired: its renewTime moved back beyond its duration.
  void ExpireLease(const std::string& plan) {
    CommandResult r = Kubectl("-n kubectl-dr-system patch lease kubectl-dr-plan-" + plan +
                              " --type merge -p '{\"spec\":{\"renewTime\":\"2020-01-01T00:00:00.000000Z\"}}'");
    ASSERT_EQ(r.exit_code, 0) << r.output;
  }

  // Waits (for real) until the lease a killed run left has expired by its own renewTime and duration.
  void WaitForLeaseExpiry(const std::string& plan) {
    CommandResult r = Kubectl("-n kubectl-dr-system get lease kubectl-dr-plan-" + plan +
                              " -o jsonpath={.spec.renewTime}/{.spec.leaseDurationSeconds}");
    ASSERT_EQ(r.exit_code, 0) << r.output;
    std::vector<std::string> parts = Split(r.output, '/');
    ASSERT_EQ(parts.size(), 2u) << r.output;
    Clock::WallTime renewed;
    ASSERT_TRUE(ParseRfc3339(parts[0], &renewed)) << r.output;
    const auto until = renewed + std::chrono::seconds(std::stoi(parts[1]) + 1);
    std::this_thread::sleep_until(until);
  }

  // The recovery finished with every object of the shop restored (labelled with it), none failed.
  void ExpectEveryObjectRestoredOnce(const std::string& recovery) {
    const json done = Recovery(recovery);
    EXPECT_EQ(done.value("phase", ""), "Succeeded") << done.dump(1);
    EXPECT_EQ(done["restored"].value("failed", -1), 0) << done.dump(1);
    CommandResult kinds = Kubectl("get -n shop configmaps,secrets,serviceaccounts,services,deployments,"
                                  "persistentvolumeclaims -l dr.kubectl-dr.dev/recovery=" + recovery +
                                  " -o name | cut -d/ -f1 | sort | uniq -c | awk '{print $2 \"=\" $1}' | paste -sd,");
    EXPECT_EQ(kinds.output, "configmap=" + std::to_string(kConfigMaps) + ",deployment.apps=" +
                                std::to_string(kDeployments) + ",persistentvolumeclaim=" + std::to_string(kVolumes + 1) +
                                ",secret=" + std::to_string(kSecrets) + ",service=" + std::to_string(kServices) +
                                ",serviceaccount=" + std::to_string(kServiceAccounts) + "\n");
    CommandResult pvs = Kubectl("get persistentvolumes -l dr.kubectl-dr.dev/recovery=" + recovery + " -o name | wc -l");
    EXPECT_EQ(TrimSpace(pvs.output), std::to_string(kVolumes + 1));
  }

  int runs_ = 0;
};

// One recovery killed at each step boundary in turn, as the step starts and as it ends (each run gets
// one kill further than the run before), and once half way through the restore; the last run
// finishes. Its end state on the
// target is compared with an uninterrupted failover's of the same inventory.
TEST_F(CrashE2eTest, AFailoverKilledAtEveryStepAndMidRestoreEndsAsAnUninterruptedOne) {
  // The uninterrupted run.
  ASSERT_EQ(Dr("recovery create crash-a --plan shop-a").exit_code, 0);
  {
    std::unique_ptr<PluginProcess> run = Start("crash-a", "shop-a");
    ASSERT_TRUE(run->started());
    ASSERT_EQ(run->Wait(), 0) << run->Output() << webhook_->Log();
  }
  const json baseline = Recovery("crash-a");
  ASSERT_EQ(baseline.value("phase", ""), "Succeeded") << baseline.dump(1);
  const std::map<std::string, json> want = TargetObjects("crash-a");
  // The namespace, its 6 kinds of object, the inventory's and the data volumes.
  const size_t restored = 1 + 2 + kConfigMaps + kSecrets + kServiceAccounts + kServices + kDeployments + 2 * kVolumes;
  ASSERT_GE(want.size(), restored);
  ASSERT_EQ(baseline["restored"].value("failed", -1), 0) << baseline.dump(1);
  ResetSites("crash-a");
  ASSERT_FALSE(HasFatalFailure());

  // The same failover from the second plan, killed at each boundary.
  ASSERT_EQ(Dr("recovery create crash-b --plan shop-b").exit_code, 0);
  const std::vector<std::string> steps = Steps("crash-a");
  ASSERT_EQ(steps.size(), 11u);
  struct Kill {
    std::string step;
    std::string label;
    std::function<bool(const std::string&)> at;
  };
  std::vector<Kill> kills;
  for (const std::string& step : steps) {
    kills.push_back(
        {step, "at the start of " + step, [step](const std::string& line) { return line == step + ": running"; }});
    if (step == "RestoreObjects") {
      kills.push_back({step, "half way through the restore", [](const std::string& line) {
                         auto [done, total] = RestoredCount(line);
                         return total > 0 && done * 2 >= total && done < total;
                       }});
    }
    // Done, and its journal entry being written: the next run may find it Running and repeat it.
    kills.push_back({step, "at the end of " + step, [step](const std::string& line) {
                       return StartsWith(line, step + ": ") && line != step + ": running";
                     }});
  }
  size_t landed = 0;
  // Per step, the kills that left it running: each of those is attempted again.
  std::map<std::string, int> killed_running;
  for (size_t i = 0; i < kills.size(); ++i) {
    SCOPED_TRACE("killed " + kills[i].label);
    // A step of a few milliseconds (driver none's volume steps) can end between the line the test
    // reads and the kill: the journal then has it done and no later run prints it. Its later kill
    // points were passed by that kill already.
    if (StepPast("crash-b", kills[i].step)) continue;
    ++landed;
    std::unique_ptr<PluginProcess> run = Start("crash-b", "shop-b");
    ASSERT_TRUE(run->started());
    ASSERT_TRUE(run->WaitForLine(kills[i].at)) << "the run ended before the kill point:\n" << run->Output();
    const pid_t pid = run->pid();
    run->Kill();
    if (StepState("crash-b", kills[i].step) == "Running") ++killed_running[kills[i].step];
    // Killed as the last step ends, the run may have recorded the recovery finished already.
    const bool last_kill = i + 1 == kills.size();
    if (!last_kill) {
      EXPECT_EQ(Recovery("crash-b").value("phase", ""), "Running");
    }
    if (kills[i].label == "half way through the restore") {
      EXPECT_EQ(StepState("crash-b", "RestoreObjects"), "Running");
      const size_t got = TargetObjects("crash-b").size();
      EXPECT_LT(got, want.size()) << "the kill came after the restore was done";
    }
    if (i == 0) {
      // Right after the kill the dead run still holds the lease: refused, naming it, and told to
      // wait for the expiry; then, once it has expired, the next run takes it over.
      std::unique_ptr<PluginProcess> refused = Start("crash-b", "shop-b");
      EXPECT_EQ(refused->Wait(), 1) << refused->Output();
      EXPECT_NE(refused->err().find("is held by"), std::string::npos) << refused->Output();
      EXPECT_NE(refused->err().find(" pid " + std::to_string(pid) + " since"), std::string::npos)
          << refused->Output();
      EXPECT_NE(refused->err().find("run again after the lease expires"), std::string::npos) << refused->Output();
      WaitForLeaseExpiry("shop-b");
    } else {
      ExpireLease("shop-b");
    }
    ASSERT_FALSE(HasFatalFailure());
  }
  // Most kill points land where they aim; a late kill skips at most the two points after it.
  EXPECT_GE(landed * 4, kills.size() * 3) << landed << " of " << kills.size() << " kill points landed";
  std::unique_ptr<PluginProcess> last = Start("crash-b", "shop-b");
  const int last_exit = last->Wait();
  if (Recovery("crash-b").value("phase", "") == "Succeeded" && last_exit != 0) {
    // The killed run got to record the end: the next is refused, as for any finished recovery.
    EXPECT_NE(last->err().find("a finished recovery is never re-run"), std::string::npos) << last->Output();
  } else {
    ASSERT_EQ(last_exit, 0) << last->Output() << webhook_->Log();
  }

  // The same objects as the uninterrupted run, none missing, none extra, none different.
  const std::map<std::string, json> got = TargetObjects("crash-b");
  for (const auto& [key, object] : want) {
    auto it = got.find(key);
    if (it == got.end()) {
      ADD_FAILURE() << key << " is missing after the killed runs";
    } else {
      EXPECT_EQ(it->second.dump(1), object.dump(1)) << key;
    }
  }
  for (const auto& [key, object] : got) {
    if (!want.count(key)) ADD_FAILURE() << key << " is there only after the killed runs";
  }
  // The journal: done, every step as the uninterrupted run left it, the same counts, and the killed
  // steps run again.
  const json after = Recovery("crash-b");
  EXPECT_EQ(after.value("phase", ""), "Succeeded") << after.dump(1);
  EXPECT_EQ(after["restored"], baseline["restored"]) << after.dump(1);
  ASSERT_EQ(after["steps"].size(), baseline["steps"].size());
  for (size_t i = 0; i < steps.size(); ++i) {
    const json& a = after["steps"][i];
    const json& b = baseline["steps"][i];
    EXPECT_EQ(a.value("state", ""), b.value("state", "")) << steps[i];
    EXPECT_GE(a.value("attempts", 0), killed_running[steps[i]] + 1) << steps[i] << " was killed and run again";
  }
  // Most steps were killed while they ran (a step of milliseconds may have ended before its kill).
  EXPECT_GE(killed_running.size() * 2, steps.size()) << killed_running.size() << " of " << steps.size()
                                                      << " steps were killed while they ran";
  EXPECT_EQ(Kubectl("-n kubectl-dr-system get drplan shop-b -o jsonpath={.status.phase}/{.status.spentBy}").output,
            "Spent/crash-b");
  EXPECT_EQ(pair_->Kubectl(pair_->source(), "get ns shop -o 'jsonpath={.metadata.labels.dr\\.kubectl-dr\\.dev/fenced}'")
                .output,
            "true");
}

// The target's API server goes away half way through the restore (the plugin frozen meanwhile,
// so the outage lands there for sure) and comes back after the run has met it: running the same
// command again finishes the job, with every object restored once.
TEST_F(CrashE2eTest, ATargetApiServerDownMidRestoreLeavesARunThatResumes) {
  ASSERT_EQ(Dr("recovery create crash-a --plan shop-a").exit_code, 0);
  std::unique_ptr<PluginProcess> run = Start("crash-a", "shop-a");
  ASSERT_TRUE(run->started());
  ASSERT_TRUE(run->WaitForLine([](const std::string& line) {
    auto [done, total] = RestoredCount(line);
    return total > 0 && done * 2 >= total && done < total;
  })) << run->Output();
  run->Pause();
  Status stopped = target().Stop();
  if (stopped.code() == StatusCode::kUnimplemented) {
    run->Resume();
    GTEST_SKIP() << "this pair's API server cannot be stopped: " << stopped.message();
  }
  ASSERT_TRUE(stopped.ok()) << stopped.message();
  run->Resume();
  const int first = run->Wait();
  ASSERT_TRUE(target().Restart().ok());
  // The webhook's watches reconnect by themselves; the run met the outage and says so.
  EXPECT_NE(first, 0) << "a run that lost its API server half way cannot have restored everything:\n"
                      << run->Output();
  const json interrupted = Recovery("crash-a");
  EXPECT_NE(interrupted.value("phase", ""), "Succeeded")
      << "a recovery whose restore met a dead API server must stay resumable, not finish:\n"
      << interrupted.dump(1) << "\n"
      << run->Output();

  // Its lease was released or is left to expire; then the same command resumes.
  if (Kubectl("-n kubectl-dr-system get lease kubectl-dr-plan-shop-a -o jsonpath={.spec.holderIdentity}").output !=
      "") {
    ExpireLease("shop-a");
  }
  std::unique_ptr<PluginProcess> again = Start("crash-a", "shop-a");
  ASSERT_EQ(again->Wait(), 0) << again->Output() << webhook_->Log();
  ExpectEveryObjectRestoredOnce("crash-a");
}

// The target's API server restarted half way through the restore (the plugin frozen meanwhile, so
// the restart lands there for sure; every connection it had is gone when it goes on): the run
// carries on, or stops resumable and the same command finishes it. Either way every object is
// restored once, and a recovery is never left Succeeded with objects the outage kept out.
TEST_F(CrashE2eTest, ATargetApiServerRestartedMidRestoreDoesNotLoseObjects) {
  ASSERT_EQ(Dr("recovery create crash-a --plan shop-a").exit_code, 0);
  std::unique_ptr<PluginProcess> run = Start("crash-a", "shop-a");
  ASSERT_TRUE(run->started());
  ASSERT_TRUE(run->WaitForLine([](const std::string& line) {
    auto [done, total] = RestoredCount(line);
    return total > 0 && done * 2 >= total && done < total;
  })) << run->Output();
  run->Pause();
  Status restarted = target().Restart();
  run->Resume();
  if (restarted.code() == StatusCode::kUnimplemented) GTEST_SKIP() << restarted.message();
  ASSERT_TRUE(restarted.ok()) << restarted.message();
  const int first = run->Wait();
  const json after = Recovery("crash-a");
  if (first == 0) {
    EXPECT_EQ(after.value("phase", ""), "Succeeded") << after.dump(1);
  } else {
    EXPECT_NE(after.value("phase", ""), "Succeeded")
        << "the run met the restart and failed, yet its recovery finished and can never be run again:\n"
        << after.dump(1) << "\n"
        << run->Output();
    if (Kubectl("-n kubectl-dr-system get lease kubectl-dr-plan-shop-a -o jsonpath={.spec.holderIdentity}").output !=
        "") {
      ExpireLease("shop-a");
    }
    std::unique_ptr<PluginProcess> again = Start("crash-a", "shop-a");
    ASSERT_EQ(again->Wait(), 0) << again->Output() << webhook_->Log();
  }
  ExpectEveryObjectRestoredOnce("crash-a");
}

// The Longhorn shop (longhorn_shop.h): the storage steps move real (simulated) volumes, so a kill
// around each of them shows that every driver call can be repeated after it took effect or half way.
class LonghornCrashE2eTest : public CrashE2eTest {
 protected:
  void SetUp() override {
    if (!ClusterPair::RunsSimulators()) {
      GTEST_SKIP() << "needs the Longhorn simulation (Longhorn's controller and a backup store shared by the two "
                      "sites), which clusters given by KDR_E2E_*_KUBECONFIG do not run";
    }
    // Not CrashE2eTest::SetUp, whose shop and plans are the none driver's.
    WebhookE2eTest::SetUp();
    if (HasFatalFailure() || IsSkipped()) return;
    SetUpLonghornShop(*pair_, dir_);
    if (HasFatalFailure()) return;
    CommandResult capture = Dr("inventory capture --plan shop-to-dr --agent local --inventory-path " +
                               Inventory("shop-to-dr"));
    ASSERT_EQ(capture.exit_code, 0) << capture.output;
  }
};

TEST_F(LonghornCrashE2eTest, AFailoverKilledAroundEachStorageStepEndsWithTheVolumesActiveAndTheirDataRestored) {
  // Written on the primary after the first backup: only the failover's own sync carries it.
  WriteLonghornFile(*pair_, pair_->source(), "shop-orders-vol", "orders", "orders up to 42");
  ASSERT_EQ(Dr("recovery create shop-failover --plan shop-to-dr").exit_code, 0);
  const std::vector<std::string> storage_steps = {"SyncInventory", "SpendPlan", "FailoverInventory",
                                                  "RestoreInventoryVolume", "WorkloadVolumes", "RestoreObjects"};
  // Per step, the kills that left it running: each of those is attempted again.
  std::map<std::string, int> killed_running;
  for (const std::string& step : storage_steps) {
    for (const bool at_end : {false, true}) {
      SCOPED_TRACE(std::string(at_end ? "killed at the end of " : "killed at the start of ") + step);
      // A step that ended before the previous kill landed is not printed by any later run.
      if (StepPast("shop-failover", step)) continue;
      std::unique_ptr<PluginProcess> run = Start("shop-failover", "shop-to-dr");
      ASSERT_TRUE(run->WaitForLine([&](const std::string& line) {
        return at_end ? StartsWith(line, step + ": ") && line != step + ": running" : line == step + ": running";
      })) << "the run ended before the kill point:\n" << run->Output();
      run->Kill();
      if (StepState("shop-failover", step) == "Running") ++killed_running[step];
      ExpireLease("shop-to-dr");
      ASSERT_FALSE(HasFatalFailure());
    }
  }
  // The steps that wait on Longhorn (backups, activation) are long enough to be killed inside.
  int inside = 0;
  for (const auto& [step, n] : killed_running) inside += n;
  EXPECT_GE(inside, 3) << "too few kills landed inside a storage step";
  std::unique_ptr<PluginProcess> last = Start("shop-failover", "shop-to-dr");
  ASSERT_EQ(last->Wait(), 0) << last->Output() << webhook_->Log();

  const json done = Recovery("shop-failover");
  EXPECT_EQ(done.value("phase", ""), "Succeeded") << done.dump(1);
  EXPECT_EQ(done["restored"].value("failed", -1), 0) << done.dump(1);
  for (const json& s : done.value("steps", json::array())) {
    const std::string name = s.value("name", "");
    if (std::find(storage_steps.begin(), storage_steps.end(), name) == storage_steps.end()) continue;
    EXPECT_GE(s.value("attempts", 0), killed_running[name] + 1) << name << " was killed and run again";
  }
  // The DR volumes are active and hold what the primary last wrote; the claims are bound to them.
  for (const std::string volume : {"shop-inventory-vol", "shop-orders-vol"}) {
    EXPECT_EQ(Kubectl("-n longhorn-system get volumes.longhorn.io " + volume +
                      " -o jsonpath={.spec.standby}/{.status.isStandby}").output,
              "false/false")
        << volume;
  }
  EXPECT_EQ(LonghornFile(*pair_, target(), "shop-orders-vol", "orders"), "orders up to 42");
  EXPECT_EQ(Kubectl("-n shop get pvc orders -o jsonpath={.status.phase}/{.spec.volumeName}").output,
            "Bound/shop-orders-pv");
  EXPECT_EQ(Kubectl("get pv shop-orders-pv -o jsonpath={.spec.csi.driver}/{.spec.csi.volumeHandle}").output,
            "driver.longhorn.io/shop-orders-vol");
  EXPECT_EQ(Kubectl("-n shop get pvc shop-inventory -o jsonpath={.status.phase}").output, "Bound");
  EXPECT_EQ(Kubectl("-n shop get deployment db -o jsonpath={.status.readyReplicas}").output, "1");
}

}  // namespace
}  // namespace kdr::e2e
