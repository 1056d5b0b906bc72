#include "sim_node.h"

#include <chrono>
#include <map>
#include <set>

#include "agent_node.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/strings.h"
#include "cluster_view.h"
#include "controllers_internal.h"
#include "hpe_csi.h"
#include "longhorn.h"

namespace kdr::kubesim {
namespace {

using nlohmann::json;
using namespace ctl;

const GroupResource kNodes{"", "nodes"};
const GroupResource kLeases{"coordination.k8s.io", "leases"};
const GroupResource kEvents{"", "events"};
const GroupResource kServiceAccounts{"", "serviceaccounts"};
constexpr std::string_view kLonghornDriver = "driver.longhorn.io";
// kubelet's default --node-status-update-frequency is 10 s and the node lifecycle controller's
// grace period 40 s: a heartbeat every 10 s keeps the node Ready with room for a slow pass.
constexpr auto kHeartbeat = std::chrono::seconds(10);

// "2026-12-03T13:44:41Z" -> "2026-12-03T13:44:41.000000Z": a Lease's renewTime is a MicroTime,
// which kube-apiserver parses with six fractional digits only.
std::string MicroTime(const std::string& rfc3339) {
  if (rfc3339.find('.') != std::string::npos || rfc3339.empty() || rfc3339.back() != 'Z') return rfc3339;
  return rfc3339.substr(0, rfc3339.size() - 1) + ".000000Z";
}

json Condition(const std::string& type, bool ok, const std::string& reason, const std::string& message,
               const json& old_conditions, const std::string& now) {
  json c = {{"type", type}, {"status", ok ? "True" : "False"}, {"lastProbeTime", nullptr}, {"lastTransitionTime", now}};
  if (!reason.empty()) c["reason"] = reason;
  if (!message.empty()) c["message"] = message;
  if (old_conditions.is_array()) {
    for (const auto& o : old_conditions) {
      if (o.value("type", "") == type && o.value("status", "") == c["status"]) {
        c["lastTransitionTime"] = o.value("lastTransitionTime", now);
      }
    }
  }
  return c;
}

class SimNode final : public Reconciler {
 public:
  SimNode(ClusterView* view, const SimNodeOptions& options)
      : view_(view), options_(options), agents_(view, options.agent, options.logger) {}

  std::string_view name() const override { return "node"; }

  void Observe(const WatchEvent& e) override {
    if (e.gr == kPods || e.gr == kPvcs || e.gr == kPvs || e.gr == kLonghornVolumes || e.gr == kNodes) dirty_ = true;
  }
  void Resync() override { dirty_ = true; }

  void Reconcile() override {
    const std::string now = Now();
    if (!agents_.Poll(now).empty()) dirty_ = true;
    auto mono = options_.clock->Monotonic();
    if (!registered_ || mono >= next_heartbeat_) {
      Status s = Heartbeat(now);
      Warn("node heartbeat", s);
      if (s.ok()) {
        registered_ = true;
        next_heartbeat_ = mono + kHeartbeat;
      }
    }
    if (!dirty_ || !registered_) return;  // no pod is bound to a node that does not exist
    dirty_ = false;
    auto pods = view_->List(kPods, "");
    if (!pods.ok()) {
      dirty_ = true;  // the server may be restarting: the next tick tries again
      return;
    }
    std::map<Key, json> pvcs;
    for (auto& c : ListAll(view_, kPvcs, "")) pvcs.emplace(Key{Ns(c), Name(c)}, std::move(c));
    std::map<std::string, json> pvs;
    for (auto& v : ListAll(view_, kPvs, "")) pvs.emplace(Name(v), std::move(v));
    std::set<std::string> seen;
    for (const json& pod : *pods) {
      seen.insert(Uid(pod));
      ReconcilePod(pod, pvcs, pvs, now);
    }
    std::erase_if(reported_, [&](const auto& r) { return !seen.contains(r.first); });
    std::erase_if(deleted_, [&](const std::string& uid) { return !seen.contains(uid); });
  }

 private:
  std::string Now() const { return FormatRfc3339(options_.clock->Now()); }

  void Warn(std::string_view what, const Status& s) {
    if (!s.ok() && options_.logger) options_.logger->Warning(what, {{"node", options_.node_name}, {"error", s.message()}});
  }

  // Registers the Node when missing, then writes its status (Ready, with this heartbeat) and
  // renews its Lease.
  Status Heartbeat(const std::string& now) {
    const std::string& name = options_.node_name;
    auto node = view_->Get(kNodes, "", name);
    if (!node.ok() && node.status().code() == StatusCode::kNotFound) {
      json n = {{"apiVersion", "v1"},
                {"kind", "Node"},
                {"metadata",
                 {{"name", name},
                  {"labels",
                   {{"kubernetes.io/hostname", name}, {"kubernetes.io/os", "linux"}, {"kubernetes.io/arch", "amd64"}}},
                  {"annotations", {{"node.alpha.kubernetes.io/ttl", "0"}}}}},
                {"spec", json::object()}};
      node = view_->Create(kNodes, "", n);
      if (!node.ok() && node.status().code() == StatusCode::kAlreadyExists) node = view_->Get(kNodes, "", name);
      if (node.ok() && options_.logger) options_.logger->Info("node registered", {{"node", name}});
    }
    KDR_RETURN_IF_ERROR(node.status());
    auto written = view_->Modify(
        kNodes, "", name,
        [&](json* n) {
          const json old = n->value("/status/conditions"_json_pointer, json::array());
          auto cond = [&](const std::string& type, bool status, const std::string& reason, const std::string& message) {
            json c = Condition(type, status, reason, message, old, now);
            c.erase("lastProbeTime");
            c["lastHeartbeatTime"] = now;
            return c;
          };
          json capacity = {{"cpu", "4"}, {"memory", "8Gi"}, {"pods", "110"}, {"ephemeral-storage", "100Gi"}};
          json& st = (*n)["status"];
          st["conditions"] = json::array(
              {cond("MemoryPressure", false, "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
               cond("DiskPressure", false, "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
               cond("PIDPressure", false, "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
               cond("Ready", true, "KubeletReady", "kubelet is posting ready status")});
          st["addresses"] = json::array({{{"type", "InternalIP"}, {"address", options_.node_ip}},
                                         {{"type", "Hostname"}, {"address", name}}});
          st["capacity"] = capacity;
          st["allocatable"] = capacity;
          st["daemonEndpoints"] = {{"kubeletEndpoint", {{"Port", 0}}}};
          st["nodeInfo"] = {{"machineID", ""},
                            {"systemUUID", ""},
                            {"bootID", ""},
                            {"kernelVersion", ""},
                            {"osImage", "kubesim-controllers"},
                            {"containerRuntimeVersion", "kubesim-controllers://1"},
                            {"kubeletVersion", "kubesim-controllers"},
                            {"kubeProxyVersion", ""},
                            {"operatingSystem", "linux"},
                            {"architecture", "amd64"}};
          return Status::Ok();
        },
        /*status=*/true);
    KDR_RETURN_IF_ERROR(written.status());
    const std::string renew = MicroTime(now);
    auto lease = view_->Modify(kLeases, "kube-node-lease", name, [&](json* l) {
      (*l)["spec"]["renewTime"] = renew;
      (*l)["spec"]["holderIdentity"] = name;
      return Status::Ok();
    });
    if (lease.ok() || lease.status().code() != StatusCode::kNotFound) return lease.status();
    json l = {{"apiVersion", "coordination.k8s.io/v1"},
              {"kind", "Lease"},
              {"metadata",
               {{"name", name},
                {"namespace", "kube-node-lease"},
                {"ownerReferences",
                 json::array({{{"apiVersion", "v1"}, {"kind", "Node"}, {"name", name}, {"uid", Uid(*written)}}})}}},
              {"spec", {{"holderIdentity", name}, {"leaseDurationSeconds", 40}, {"renewTime", renew}}}};
    auto made = view_->Create(kLeases, "kube-node-lease", l);
    return made.ok() || made.status().code() == StatusCode::kAlreadyExists ? Status::Ok() : made.status();
  }

  void ReconcilePod(const json& pod, const std::map<Key, json>& pvcs, const std::map<std::string, json>& pvs,
                    const std::string& now) {
    const std::string node = Str(pod, "/spec/nodeName"_json_pointer);
    const std::string phase = Str(pod, "/status/phase"_json_pointer);
    if (node.empty()) {
      if (Deleting(pod)) return;
      std::string scheduler = Str(pod, "/spec/schedulerName"_json_pointer);
      if (!scheduler.empty() && scheduler != "default-scheduler") return;
      return Schedule(pod, pvcs, now);
    }
    if (node != options_.node_name) return;
    if (Deleting(pod)) {
      agents_.Kill(Uid(pod));
      if (deleted_.insert(Uid(pod)).second) {
        Status s = view_->Delete(kPods, Ns(pod), Name(pod), Uid(pod), /*now=*/true);
        if (s.code() != StatusCode::kNotFound) Warn("deleting pod " + Ns(pod) + "/" + Name(pod), s);
      }
      return;
    }
    if (phase == "Succeeded" || phase == "Failed") return;

    std::string refusal = AttachRefusal(pod, pvcs, pvs);
    const json old = pod.value("status", json::object());
    json st = old;
    st["hostIP"] = options_.node_ip;
    st["hostIPs"] = json::array({{{"ip", options_.node_ip}}});
    if (!st.contains("startTime")) st["startTime"] = now;
    const json oc = old.value("conditions", json::array());
    if (!refusal.empty()) {
      Report(pod, "FailedAttachVolume", refusal, now);
      st["phase"] = "Pending";
      st["conditions"] = json::array(
          {Condition("PodReadyToStartContainers", false, "", "", oc, now), Condition("Initialized", true, "", "", oc, now),
           Condition("Ready", false, "ContainersNotReady", "containers with unready status: [" + ContainerNames(pod) + "]", oc, now),
           Condition("ContainersReady", false, "ContainersNotReady", "containers with unready status: [" + ContainerNames(pod) + "]", oc, now),
           Condition("PodScheduled", true, "", "", oc, now)});
      json containers = json::array();
      for (const auto& c : pod.value("/spec/containers"_json_pointer, json::array())) {
        containers.push_back({{"name", c.value("name", "")},
                              {"image", c.value("image", "")},
                              {"imageID", ""},
                              {"ready", false},
                              {"started", false},
                              {"restartCount", 0},
                              {"state", {{"waiting", {{"reason", "ContainerCreating"}}}}}});
      }
      st["containerStatuses"] = containers;
    } else if (agents_.RunsForReal(pod)) {
      AgentStatus(pod, &st, now);
    } else {
      RunningStatus(pod, &st, now);
    }
    if (st != old) Warn("pod status " + Ns(pod) + "/" + Name(pod), WriteStatus(view_, kPods, Ns(pod), Name(pod), st));
  }

  // Binds the pod here once its claims are Bound, as kube-scheduler's volume binding does
  // (immediate binding: an unbound claim makes the pod unschedulable).
  void Schedule(const json& pod, const std::map<Key, json>& pvcs, const std::string& now) {
    std::string why;
    for (const auto& v : pod.value("/spec/volumes"_json_pointer, json::array())) {
      std::string claim = Str(v, "/persistentVolumeClaim/claimName"_json_pointer);
      if (claim.empty()) continue;
      auto it = pvcs.find({Ns(pod), claim});
      if (it == pvcs.end()) {
        why = "0/1 nodes are available: persistentvolumeclaim " + Quote(claim) + " not found.";
        break;
      }
      if (Str(it->second, "/status/phase"_json_pointer) != "Bound") {
        why = "0/1 nodes are available: pod has unbound immediate PersistentVolumeClaims. preemption: 0/1 nodes "
              "are available: 1 Preemption is not helpful for scheduling.";
        break;
      }
    }
    if (why.empty()) {
      json binding = {{"apiVersion", "v1"},
                      {"kind", "Binding"},
                      {"metadata", {{"name", Name(pod)}, {"namespace", Ns(pod)}, {"uid", Uid(pod)}}},
                      {"target", {{"apiVersion", "v1"}, {"kind", "Node"}, {"name", options_.node_name}}}};
      auto b = view_->CreateSubresource(kPods, Ns(pod), Name(pod), "binding", binding);
      if (!b.ok() && b.status().code() != StatusCode::kNotFound) Warn("binding pod " + Ns(pod) + "/" + Name(pod), b.status());
      dirty_ = true;  // the bound pod starts on the next pass
      return;
    }
    const json old = pod.value("status", json::object());
    json st = old;
    st["phase"] = "Pending";
    st["conditions"] = json::array(
        {Condition("PodScheduled", false, "Unschedulable", why, old.value("conditions", json::array()), now)});
    if (st != old) Warn("pod status " + Ns(pod) + "/" + Name(pod), WriteStatus(view_, kPods, Ns(pod), Name(pod), st));
  }

  // Why the pod's volumes cannot be attached here, or "" when they can.
  std::string AttachRefusal(const json& pod, const std::map<Key, json>& pvcs, const std::map<std::string, json>& pvs) {
    for (const auto& v : pod.value("/spec/volumes"_json_pointer, json::array())) {
      std::string claim = Str(v, "/persistentVolumeClaim/claimName"_json_pointer);
      if (claim.empty()) continue;
      auto c = pvcs.find({Ns(pod), claim});
      if (c == pvcs.end()) return "persistentvolumeclaim " + Quote(claim) + " not found";
      std::string pv_name = Str(c->second, "/spec/volumeName"_json_pointer);
      auto pv = pvs.find(pv_name);
      if (pv_name.empty() || pv == pvs.end()) return "persistentvolumeclaim " + Quote(claim) + " is not bound";
      const std::string driver = Str(pv->second, "/spec/csi/driver"_json_pointer);
      const std::string handle = Str(pv->second, "/spec/csi/volumeHandle"_json_pointer);
      const std::string prefix = "AttachVolume.Attach failed for volume " + Quote(pv_name) + " : ";
      if (driver == kLonghornDriver) {
        auto vol = view_->Get(kLonghornVolumes, options_.longhorn_namespace, handle);
        if (!vol.ok()) return prefix + "longhorn volume " + Quote(handle) + ": " + vol.status().message();
        if (!LonghornVolumeActive(*vol)) {
          return prefix + "longhorn volume " + Quote(handle) +
                 " is a standby (DR) volume or still restoring: its frontend is disabled until it is activated";
        }
      } else if (driver == kHpeCsiDriver && options_.hpe_array) {
        const HpeArray& array = *options_.hpe_array;
        Result<bool> writable = array.Writable(handle);
        if (!writable.ok()) {
          return prefix + "cannot tell whether volume " + Quote(handle) + " of persistentvolume " + Quote(pv_name) +
                 " is writable on array " + array.array() + ": " + writable.status().message();
        }
        if (!*writable) {
          return prefix + "volume " + Quote(handle) + " of persistentvolume " + Quote(pv_name) +
                 " is not writable on array " + array.array() +
                 ", this cluster's (a remote-copy secondary is read-only): the pod starts once the volume is failed "
                 "over to this array";
        }
      }
    }
    return "";
  }

  static std::string ContainerNames(const json& pod) {
    std::string out;
    for (const auto& c : pod.value("/spec/containers"_json_pointer, json::array())) {
      if (!out.empty()) out += " ";
      out += c.value("name", "");
    }
    return out;
  }

  std::string PodIp(const json& pod) const {
    std::string h = ShortHash(Uid(pod));
    return "10.244." + std::to_string(static_cast<unsigned char>(h[0]) % 250) + "." +
           std::to_string(static_cast<unsigned char>(h[1]) * 7 % 250 + 2);
  }

  void RunningStatus(const json& pod, json* st, const std::string& now) {
    const json oc = st->value("conditions", json::array());
    (*st)["phase"] = "Running";
    if (!st->contains("podIP")) {
      (*st)["podIP"] = PodIp(pod);
      (*st)["podIPs"] = json::array({{{"ip", PodIp(pod)}}});
    }
    (*st)["conditions"] = json::array(
        {Condition("PodReadyToStartContainers", true, "", "", oc, now), Condition("Initialized", true, "", "", oc, now),
         Condition("Ready", true, "", "", oc, now), Condition("ContainersReady", true, "", "", oc, now),
         Condition("PodScheduled", true, "", "", oc, now)});
    json containers = json::array();
    for (const auto& c : pod.value("/spec/containers"_json_pointer, json::array())) {
      std::string started;
      for (const auto& o : st->value("containerStatuses", json::array())) {
        if (o.value("name", "") == c.value("name", "")) started = Str(o, "/state/running/startedAt"_json_pointer);
      }
      containers.push_back({{"name", c.value("name", "")},
                            {"image", c.value("image", "")},
                            {"imageID", ""},
                            {"containerID", "containerd://" + ShortHash(Uid(pod) + c.value("name", ""))},
                            {"ready", true},
                            {"started", true},
                            {"restartCount", 0},
                            {"state", {{"running", {{"startedAt", started.empty() ? now : started}}}}}});
    }
    (*st)["containerStatuses"] = containers;
  }

  // A pod run as a process: Running while it runs, then Succeeded or Failed with the container's
  // exit code and termination message.
  void AgentStatus(const json& pod, json* st, const std::string& now) {
    AgentNode::ContainerState cs = agents_.Run(pod, now);
    const json c = pod.value("/spec/containers/0"_json_pointer, json::object());
    const json oc = st->value("conditions", json::array());
    json status = {{"name", c.value("name", "")},
                   {"image", c.value("image", "")},
                   {"imageID", ""},
                   {"containerID", "containerd://" + ShortHash(Uid(pod) + c.value("name", ""))},
                   {"restartCount", 0}};
    if (!st->contains("podIP")) {
      (*st)["podIP"] = PodIp(pod);
      (*st)["podIPs"] = json::array({{{"ip", PodIp(pod)}}});
    }
    if (!cs.exited) {
      (*st)["phase"] = "Running";
      status["ready"] = true;
      status["started"] = true;
      status["state"] = {{"running", {{"startedAt", cs.started_at}}}};
      (*st)["conditions"] = json::array({Condition("Initialized", true, "", "", oc, now),
                                         Condition("Ready", true, "", "", oc, now),
                                         Condition("ContainersReady", true, "", "", oc, now),
                                         Condition("PodScheduled", true, "", "", oc, now)});
    } else {
      (*st)["phase"] = cs.exit_code == 0 ? "Succeeded" : "Failed";
      status["ready"] = false;
      status["started"] = false;
      json terminated = {{"exitCode", cs.exit_code},
                         {"reason", cs.reason},
                         {"startedAt", cs.started_at},
                         {"finishedAt", cs.finished_at}};
      if (!cs.message.empty()) terminated["message"] = cs.message;
      status["state"] = {{"terminated", terminated}};
      (*st)["conditions"] = json::array({Condition("Initialized", true, "PodCompleted", "", oc, now),
                                         Condition("Ready", false, "PodCompleted", "", oc, now),
                                         Condition("ContainersReady", false, "PodCompleted", "", oc, now),
                                         Condition("PodScheduled", true, "", "", oc, now)});
    }
    (*st)["containerStatuses"] = json::array({status});
  }

  // A Warning Event on the pod, once per distinct message (the resync re-checks every few
  // seconds; an event recorder would aggregate the repeats).
  void Report(const json& pod, const std::string& reason, const std::string& message, const std::string& now) {
    std::string& last = reported_[Uid(pod)];
    if (last == reason + ": " + message) return;
    json event = {{"apiVersion", "v1"},
                  {"kind", "Event"},
                  {"metadata", {{"name", Name(pod) + "." + ShortHash(Uid(pod) + reason + message)}, {"namespace", Ns(pod)}}},
                  {"involvedObject",
                   {{"apiVersion", "v1"}, {"kind", "Pod"}, {"namespace", Ns(pod)}, {"name", Name(pod)}, {"uid", Uid(pod)}}},
                  {"reason", reason},
                  {"message", message},
                  {"type", "Warning"},
                  {"count", 1},
                  {"firstTimestamp", now},
                  {"lastTimestamp", now},
                  {"source", {{"component", "attachdetach-controller"}}}};
    auto made = view_->Create(kEvents, Ns(pod), event);
    if (made.ok() || made.status().code() == StatusCode::kAlreadyExists) {
      last = reason + ": " + message;
    } else {
      Warn("pod event", made.status());
    }
  }

  ClusterView* const view_;
  const SimNodeOptions options_;
  AgentNode agents_;
  bool dirty_ = true;
  bool registered_ = false;
  Clock::MonoTime next_heartbeat_{};
  std::map<std::string, std::string> reported_;  // pod uid -> the last Event's reason: message
  std::set<std::string> deleted_;               // pods whose deletion this node confirmed
};

}  // namespace

std::vector<GroupResource> SimNodeResources() { return {kPods, kPvcs, kPvs, kLonghornVolumes, kNodes}; }

std::string RequestServiceAccountToken(ClusterView* view, const std::string& ns, const std::string& name,
                                       Logger* logger) {
  json request = {{"apiVersion", "authentication.k8s.io/v1"},
                  {"kind", "TokenRequest"},
                  {"spec", {{"expirationSeconds", 3600}}}};
  auto r = view->CreateSubresource(kServiceAccounts, ns, name, "token", request);
  if (r.ok() && r->contains("/status/token"_json_pointer) && r->at("/status/token"_json_pointer).is_string()) {
    return r->at("/status/token"_json_pointer).get<std::string>();
  }
  if (logger) {
    logger->Warning("token request failed", {{"serviceaccount", ns + "/" + name},
                                             {"error", r.ok() ? "no status.token in the answer" : r.status().message()}});
  }
  return "";
}

std::unique_ptr<Reconciler> NewSimNode(ClusterView* view, const SimNodeOptions& options) {
  return std::make_unique<SimNode>(view, options);
}

}  // namespace kdr::kubesim
