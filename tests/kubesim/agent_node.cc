#include "agent_node.h"

#include "cluster_view.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>
#include <vector>

#include "base/fs.h"
#include "base/log.h"
#include "base/strings.h"
#include "controllers_internal.h"
#include "dr/agent_job.h"
#include "hpe_csi.h"
#include "longhorn.h"

namespace kdr::kubesim {
namespace {

using nlohmann::json;
using namespace ctl;

// Where controllers_pvc.cc's provisioner puts its hostPath volumes (a path on a node kubesim
// does not have): mapped into the work dir.
constexpr std::string_view kProvisionedPrefix = "/var/lib/kubesim/volumes/";
// The kubelet keeps this much of a termination message (and of the log tail it falls back to).
constexpr size_t kMessageMax = 4096;

std::string TailOf(const std::string& text, size_t max) {
  return text.size() <= max ? text : text.substr(text.size() - max);
}

// A mount path, or a path under it, rewritten to the directory the mount gives it.
std::string MapPath(const std::string& value, const std::vector<std::pair<std::string, std::string>>& mounts) {
  for (const auto& [container, host] : mounts) {
    if (value == container) return host;
    if (StartsWith(value, container + "/")) return host + value.substr(container.size());
    // --flag=/mount/path
    size_t eq = value.find('=');
    if (eq != std::string::npos) {
      std::string rest = value.substr(eq + 1);
      if (rest == container || StartsWith(rest, container + "/")) {
        return value.substr(0, eq + 1) + host + rest.substr(container.size());
      }
    }
  }
  return value;
}

}  // namespace

AgentNode::AgentNode(ClusterView* view, const AgentNodeOptions& options, Logger* logger)
    : view_(view), options_(options), logger_(logger), work_dir_(options.work_dir) {
  if (options_.binary.empty()) return;
  if (work_dir_.empty()) {
    std::string tmpl = (std::getenv("TMPDIR") ? std::string(std::getenv("TMPDIR")) : std::string("/tmp")) +
                       "/kubesim-node-XXXXXX";
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    if (mkdtemp(buf.data()) != nullptr) work_dir_ = buf.data();
  }
}

AgentNode::~AgentNode() {
  for (auto& [uid, p] : processes_) {
    if (p.pid > 0 && !p.state.exited) {
      ::kill(p.pid, SIGKILL);
      int status = 0;
      ::waitpid(p.pid, &status, 0);
    }
  }
}

bool AgentNode::RunsForReal(const json& pod) const {
  if (options_.binary.empty()) return false;
  const json& spec = pod.contains("spec") ? pod["spec"] : pod;
  if (!spec.is_object() || !spec.contains("containers") || !spec["containers"].is_array() || spec["containers"].empty()) {
    return false;
  }
  const json& c = spec["containers"][0];
  return c.is_object() && c.contains("image") && c["image"].is_string() && dr::IsAgentImage(c["image"].get<std::string>());
}

Result<std::string> AgentNode::VolumeDir(const json& pod, const json& volume, const std::string& pod_dir) {
  PosixFileSystem fs;
  std::string dir;
  if (volume.contains("emptyDir")) {
    dir = pod_dir + "/volumes/" + volume.value("name", "");
  } else if (std::string claim = Str(volume, "/persistentVolumeClaim/claimName"_json_pointer); !claim.empty()) {
    auto pvc = view_->Get(kPvcs, Ns(pod), claim);
    if (!pvc.ok()) return Status::FailedPrecondition("claim " + Quote(claim) + ": " + pvc.status().message());
    std::string pv_name = Str(*pvc, "/spec/volumeName"_json_pointer);
    auto pv = pv_name.empty() ? Result<json>(Status::NotFound("")) : view_->Get(kPvs, "", pv_name);
    if (!pv.ok()) return Status::FailedPrecondition("claim " + Quote(claim) + " is not bound to a volume");
    std::string host = Str(*pv, "/spec/hostPath/path"_json_pointer);
    const std::string driver = Str(*pv, "/spec/csi/driver"_json_pointer);
    // The CSI volumes the simulators hold: their directories are theirs, made with the volume.
    if (driver == kLonghornCsiDriver) {
      return LonghornDir(pv_name, Str(*pv, "/spec/csi/volumeHandle"_json_pointer));
    }
    if (driver == kHpeCsiDriver) return HpeDir(pv_name, Str(*pv, "/spec/csi/volumeHandle"_json_pointer));
    if (host.empty()) {
      dir = work_dir_ + "/volumes/" + pv_name;
    } else if (StartsWith(host, kProvisionedPrefix)) {
      dir = work_dir_ + "/volumes/" + host.substr(kProvisionedPrefix.size());
    } else if (host.front() == '/') {
      dir = host;  // a hostPath PV is its directory on this machine
    } else {
      return Status::FailedPrecondition("volume " + Quote(pv_name) + ": hostPath " + Quote(host) + " is not absolute");
    }
  } else {
    return std::string();
  }
  KDR_RETURN_IF_ERROR(fs.MakeDirs(dir, 0755));
  return dir;
}

// As the Longhorn CSI driver's NodeStageVolume would: only an active volume has a frontend.
Result<std::string> AgentNode::LonghornDir(const std::string& pv_name, const std::string& volume) const {
  const std::string prefix = "MountVolume.MountDevice failed for volume " + Quote(pv_name) + ": ";
  if (options_.longhorn_data_dir.empty()) {
    return Status::FailedPrecondition(prefix + "this node runs no Longhorn (no longhorn data dir), so it cannot mount " +
                                      std::string(kLonghornCsiDriver) + " volumes");
  }
  if (volume.empty()) return Status::FailedPrecondition(prefix + "the persistentvolume has no csi.volumeHandle");
  auto v = view_->Get(kLonghornVolumes, options_.longhorn_namespace, volume);
  if (!v.ok()) {
    return Status::FailedPrecondition(prefix + "longhorn volume " + Quote(volume) + ": " + v.status().message());
  }
  if (!LonghornVolumeActive(*v)) {
    return Status::FailedPrecondition(prefix + "longhorn volume " + Quote(volume) +
                                      " is a standby (DR) volume or still restoring: its frontend is disabled until "
                                      "it is activated");
  }
  return LonghornVolumeDir(options_.longhorn_data_dir, volume);
}

// As the HPE CSI driver would: the volume named by the PV's handle on this cluster's array,
// attached only while that array may write it.
Result<std::string> AgentNode::HpeDir(const std::string& pv_name, const std::string& volume) const {
  const std::string prefix = "MountVolume.MountDevice failed for volume " + Quote(pv_name) + ": ";
  if (!options_.hpe_array) {
    return Status::FailedPrecondition(prefix + "this node is attached to no HPE array (--hpe-array), so it cannot "
                                      "mount " + std::string(kHpeCsiDriver) + " volumes");
  }
  const HpeArray& array = *options_.hpe_array;
  if (volume.empty()) return Status::FailedPrecondition(prefix + "the persistentvolume has no csi.volumeHandle");
  Result<bool> writable = array.Writable(volume);
  if (!writable.ok()) {
    return Status::FailedPrecondition(prefix + "volume " + Quote(volume) + " on array " + array.array() + ": " +
                                      writable.status().message());
  }
  if (!*writable) {
    return Status::FailedPrecondition(prefix + "volume " + Quote(volume) + " is not writable on array " + array.array() +
                                      ", this cluster's (a remote-copy secondary is read-only)");
  }
  Result<std::string> dir = array.VolumeDir(volume);
  if (!dir.ok()) return Status::FailedPrecondition(prefix + dir.status().message());
  if (!PosixFileSystem().Exists(*dir)) {
    return Status::FailedPrecondition(prefix + "volume " + Quote(volume) + " has no directory " + *dir +
                                      " in alletra-sim's data dir: is --alletra-sim-data-dir alletra-sim's --data-dir?");
  }
  return *dir;
}

Result<AgentNode::Process> AgentNode::Start(const json& pod, const std::string& now) {
  if (work_dir_.empty()) return Status::Internal("the node has no work directory");
  PosixFileSystem fs;
  const std::string ns = Ns(pod), name = Name(pod);
  Process p;
  p.ns = ns;
  p.dir = work_dir_ + "/pods/" + ns + "_" + name + "_" + Uid(pod);
  KDR_RETURN_IF_ERROR(fs.MakeDirs(p.dir + "/serviceaccount", 0755));
  const json& spec = pod["spec"];
  const json& c = spec["containers"][0];
  p.policy = c.value("terminationMessagePolicy", "File");

  std::string sa = spec.value("serviceAccountName", "default");
  if (sa.empty()) sa = "default";
  std::string token = options_.issue_token ? options_.issue_token(ns, sa) : "";
  KDR_RETURN_IF_ERROR(fs.WriteFile(p.dir + "/serviceaccount/token", token, 0600));
  KDR_RETURN_IF_ERROR(fs.WriteFile(p.dir + "/serviceaccount/ca.crt", options_.ca_pem, 0644));
  KDR_RETURN_IF_ERROR(fs.WriteFile(p.dir + "/serviceaccount/namespace", ns, 0644));
  const std::string termination = p.dir + "/termination-log";
  KDR_RETURN_IF_ERROR(fs.WriteFile(termination, "", 0644));

  std::map<std::string, std::string> volume_dirs;
  for (const auto& v : spec.value("volumes", json::array())) {
    KDR_ASSIGN_OR_RETURN(std::string dir, VolumeDir(pod, v, p.dir));
    if (!dir.empty()) volume_dirs[v.value("name", "")] = dir;
  }
  std::vector<std::pair<std::string, std::string>> mounts;
  for (const auto& m : c.value("volumeMounts", json::array())) {
    auto it = volume_dirs.find(m.value("name", ""));
    if (it == volume_dirs.end()) continue;
    std::string host = it->second;
    if (std::string sub = m.value("subPath", ""); !sub.empty()) {
      host += "/" + sub;
      KDR_RETURN_IF_ERROR(fs.MakeDirs(host, 0755));
    }
    std::string path = m.value("mountPath", "");
    while (path.size() > 1 && path.back() == '/') path.pop_back();
    mounts.emplace_back(path, host);
  }
  mounts.emplace_back(c.value("terminationMessagePath", std::string(dr::kTerminationLogPath)), termination);

  std::vector<std::string> argv = {options_.binary};
  const json command = c.value("command", json::array());
  for (size_t i = 1; i < command.size(); ++i) argv.push_back(MapPath(command[i].get<std::string>(), mounts));
  for (const auto& a : c.value("args", json::array())) argv.push_back(MapPath(a.get<std::string>(), mounts));

  std::vector<std::string> env = {
      "HOSTNAME=" + name,
      "PATH=/usr/local/bin:/usr/bin:/bin",
      "KUBERNETES_SERVICE_HOST=127.0.0.1",
      "KUBERNETES_SERVICE_PORT=" + std::to_string(options_.api_port ? options_.api_port() : 0),
      "KUBECTL_DR_SERVICEACCOUNT_DIR=" + p.dir + "/serviceaccount",
      "KUBECTL_DR_TERMINATION_LOG=" + termination,
  };
  for (const auto& e : c.value("env", json::array())) {
    std::string value = e.value("value", "");
    std::string field = Str(e, "/valueFrom/fieldRef/fieldPath"_json_pointer);
    if (field == "metadata.name") value = name;
    if (field == "metadata.namespace") value = ns;
    if (field == "spec.serviceAccountName") value = sa;
    env.push_back(e.value("name", "") + "=" + MapPath(value, mounts));
  }

  std::vector<char*> cargv, cenv;
  for (auto& a : argv) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  for (auto& e : env) cenv.push_back(e.data());
  cenv.push_back(nullptr);
  const std::string log = p.dir + "/container.log";
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  posix_spawn_file_actions_addchdir_np(&actions, p.dir.c_str());
  // Its own process group, so that a test's ^C reaches kubesim, which kills what it started.
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
  posix_spawnattr_setpgroup(&attr, 0);
  int rc = posix_spawn(&p.pid, options_.binary.c_str(), &actions, &attr, cargv.data(), cenv.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) return Status::FailedPrecondition("starting " + options_.binary + ": " + std::strerror(rc));
  p.state.running = true;
  p.state.started_at = now;
  if (logger_) logger_->Info("agent pod started", {{"pod", ns + "/" + name}, {"pid", std::to_string(p.pid)}});
  return p;
}

void AgentNode::Finish(Process* p, int wait_status, const std::string& now) {
  PosixFileSystem fs;
  p->state.running = false;
  p->state.exited = true;
  p->state.exit_code = WIFEXITED(wait_status) ? WEXITSTATUS(wait_status) : 128 + WTERMSIG(wait_status);
  p->state.reason = p->state.exit_code == 0 ? "Completed" : "Error";
  p->state.finished_at = now;
  auto msg = fs.ReadFile(p->dir + "/termination-log");
  std::string message = msg.ok() ? *msg : "";
  if (TrimSpace(message).empty() && p->state.exit_code != 0 && p->policy == "FallbackToLogsOnError") {
    auto log = fs.ReadFile(p->dir + "/container.log");
    if (log.ok()) message = TailOf(*log, 2048);
  }
  p->state.message = TailOf(message, kMessageMax);
}

AgentNode::ContainerState AgentNode::Run(const json& pod, const std::string& now) {
  const std::string uid = Uid(pod);
  auto it = processes_.find(uid);
  if (it == processes_.end()) {
    Result<Process> p = Start(pod, now);
    if (!p.ok()) {
      Process failed;
      failed.ns = Ns(pod);
      failed.state.exited = true;
      failed.state.exit_code = 128;
      failed.state.reason = "StartError";
      failed.state.message = p.status().message();
      failed.state.started_at = failed.state.finished_at = now;
      it = processes_.emplace(uid, std::move(failed)).first;
    } else {
      it = processes_.emplace(uid, std::move(*p)).first;
    }
  }
  return it->second.state;
}

std::set<std::string> AgentNode::Poll(const std::string& now) {
  std::set<std::string> done;
  for (auto& [uid, p] : processes_) {
    if (p.pid <= 0 || p.state.exited) continue;
    int status = 0;
    pid_t r = ::waitpid(p.pid, &status, WNOHANG);
    if (r == p.pid) {
      Finish(&p, status, now);
      done.insert(p.ns);
    }
  }
  return done;
}

void AgentNode::Kill(const std::string& pod_uid) {
  auto it = processes_.find(pod_uid);
  if (it == processes_.end() || it->second.pid <= 0 || it->second.state.exited) return;
  ::kill(it->second.pid, SIGKILL);
}

}  // namespace kdr::kubesim
