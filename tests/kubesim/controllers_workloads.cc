// Deployments, ReplicaSets, StatefulSets, DaemonSets, Jobs and the kubelet's view of Pods, as
// kube-controller-manager, the scheduler and a kubelet on one node would run them.

#include "agent_node.h"
#include "base/clock.h"
#include "base/log.h"
#include "builtin_admission.h"
#include "cluster_view.h"
#include "controllers_internal.h"

namespace kdr::kubesim {
namespace {

using nlohmann::json;
using namespace ctl;

constexpr const char* kNode = "kubesim-node";

class WorkloadController : public Reconciler {
 public:
  WorkloadController(Store* store, const ControllerOptions& options)
      : store_(store), options_(options), view_(store), node_(&view_, AgentOptions(options), options.logger) {}

  std::string_view name() const override { return "workloads"; }

  void Observe(const WatchEvent& e) override {
    if (!e.object) return;
    const json& o = *e.object;
    // Service accounts, priority and runtime classes: a pod refused for want of one may now be
    // created.
    if (e.gr == kDeployments || e.gr == kReplicaSets || e.gr == kStatefulSets ||
        e.gr == kDaemonSets || e.gr == kJobs || e.gr == kPods || e.gr == kPvcs ||
        e.gr == GroupResource{"", "serviceaccounts"}) {
      dirty_ns_.insert(Ns(o));
    } else if (e.gr == GroupResource{"scheduling.k8s.io", "priorityclasses"} ||
               e.gr == GroupResource{"node.k8s.io", "runtimeclasses"}) {
      all_ = true;
    }
  }

  void Resync() override { all_ = true; }

  void Reconcile() override {
    // Agent processes that ended: their pods' status (and their Jobs') to write.
    for (const auto& ns : node_.Poll(Now())) dirty_ns_.insert(ns);
    std::set<std::string> namespaces;
    if (all_) {
      for (const auto& ns : ListAll(store_, {"", "namespaces"}, "")) namespaces.insert(Name(ns));
      all_ = false;
    }
    namespaces.insert(dirty_ns_.begin(), dirty_ns_.end());
    dirty_ns_.clear();
    for (const auto& ns : namespaces) ReconcileNamespace(ns);
  }

 private:
  std::string Now() const { return FormatRfc3339(options_.clock->Now()); }

  static AgentNodeOptions AgentOptions(const ControllerOptions& options) {
    AgentNodeOptions a = options.agent;
    if (a.ca_pem.empty()) a.ca_pem = options.cluster_ca_pem;
    return a;
  }

  void Warn(std::string_view what, const Status& s) {
    if (!s.ok() && options_.logger) options_.logger->Warning(what, {{"error", s.message()}});
  }

  // Order matters only for speed: owners create children, children's status feeds owners; the
  // events of each write bring the namespace back until nothing changes.
  void ReconcileNamespace(const std::string& ns) {
    for (const auto& d : ListAll(store_, kDeployments, ns)) Deployment(d);
    for (const auto& s : ListAll(store_, kStatefulSets, ns)) StatefulSet(s);
    for (const auto& d : ListAll(store_, kDaemonSets, ns)) DaemonSet(d);
    for (const auto& rs : ListAll(store_, kReplicaSets, ns)) ReplicaSet(rs);
    for (const auto& j : ListAll(store_, kJobs, ns)) Job(j);
    std::map<std::string, std::string> pvc_phase;
    for (const auto& c : ListAll(store_, kPvcs, ns)) {
      pvc_phase[Name(c)] = Str(c, "/status/phase"_json_pointer);
    }
    for (const auto& p : ListAll(store_, kPods, ns)) Pod(p, pvc_phase);
  }

  std::vector<json> Owned(const GroupResource& gr, const std::string& ns, const json& owner) {
    std::vector<json> out;
    for (auto& o : ListAll(store_, gr, ns)) {
      if (ControllerUid(o) == Uid(owner)) out.push_back(std::move(o));
    }
    return out;
  }

  static bool PodReady(const json& p) {
    if (Deleting(p) || Str(p, "/status/phase"_json_pointer) != "Running") return false;
    for (const auto& c : p.value("/status/conditions"_json_pointer, json::array())) {
      if (c.value("type", "") == "Ready") return c.value("status", "") == "True";
    }
    return false;
  }

  Status CreatePod(const json& owner, const json& tmpl, const std::string& name,
                   const std::string& generate_name, const json& extra_labels,
                   const json& extra_volumes) {
    json meta = tmpl.value("metadata", json::object());
    meta["namespace"] = Ns(owner);
    if (!name.empty()) {
      meta["name"] = name;
    } else {
      meta["generateName"] = generate_name;
    }
    if (!meta.contains("labels") || !meta["labels"].is_object()) meta["labels"] = json::object();
    for (const auto& [k, v] : extra_labels.items()) meta["labels"][k] = v;
    meta["ownerReferences"] = json::array({OwnerRef(owner)});
    json spec = tmpl.value("spec", json::object());
    spec["nodeName"] = kNode;
    for (const auto& v : extra_volumes) spec["volumes"].push_back(v);
    json pod = {{"apiVersion", "v1"}, {"kind", "Pod"}, {"metadata", meta}, {"spec", spec}};
    // Through the built-in plugins, as the controller's API call would be: a missing service
    // account or PriorityClass refuses the pod.
    auto r = CreateAdmitted(store_, kPods, Ns(owner), pod);
    if (!r.ok() && !r.status().IsAlreadyExists()) return r.status();
    return Status::Ok();
  }

  // The kubelet: a pod runs once every claim it mounts is Bound.
  void Pod(const json& p, const std::map<std::string, std::string>& pvc_phase) {
    if (Deleting(p)) {
      node_.Kill(Uid(p));
      return;
    }
    std::string phase = Str(p, "/status/phase"_json_pointer);
    if (phase == "Succeeded" || phase == "Failed") return;
    // A pod bound to another node (a restored pod naming the source's node) is no business of
    // the scheduler (it is bound) nor of this kubelet, the only one: it stays as created, Pending,
    // until the pod GC (gcOrphaned: 40 s quarantine of a missing node, then a pass every 20 s)
    // deletes it; on the real pair it is gone 40 to 60 s after its create.
    if (const std::string node = Str(p, "/spec/nodeName"_json_pointer); !node.empty() && node != kNode) {
      const auto now = options_.clock->Monotonic();
      auto [it, fresh] = orphans_.emplace(Uid(p), now);
      if (!fresh && now - it->second >= std::chrono::seconds(40)) {
        DeleteOptions gone;
        gone.precondition_uid = Uid(p);
        (void)store_->Delete(kPods, Ns(p), Name(p), gone);
        orphans_.erase(it);
      }
      return;
    }
    std::vector<std::string> unbound;
    for (const auto& v : p.value("/spec/volumes"_json_pointer, json::array())) {
      std::string claim = Str(v, "/persistentVolumeClaim/claimName"_json_pointer);
      if (claim.empty()) continue;
      auto it = pvc_phase.find(claim);
      if (it == pvc_phase.end() || it->second != "Bound") unbound.push_back(claim);
    }
    const json old = p.value("status", json::object());
    std::string now = Now();
    auto cond = [&](const std::string& type, bool ok, const std::string& reason,
                    const std::string& message) {
      json c = {{"type", type}, {"status", ok ? "True" : "False"}, {"lastProbeTime", nullptr},
                {"lastTransitionTime", now}};
      if (!reason.empty()) c["reason"] = reason;
      if (!message.empty()) c["message"] = message;
      for (const auto& o : old.value("conditions", json::array())) {
        if (o.value("type", "") == type && o.value("status", "") == c["status"]) {
          c["lastTransitionTime"] = o["lastTransitionTime"];
        }
      }
      return c;
    };
    json st = old;
    st["qosClass"] = "BestEffort";
    if (!unbound.empty()) {
      st["phase"] = "Pending";
      st["conditions"] = json::array({cond("PodScheduled", false, "Unschedulable",
                                           "0/1 nodes are available: pod has unbound immediate "
                                           "PersistentVolumeClaims. preemption: 0/1 nodes are "
                                           "available: 1 Preemption is not helpful for "
                                           "scheduling.")});
      st.erase("containerStatuses");
    } else if (node_.RunsForReal(p)) {
      AgentPodStatus(p, &st, now);
    } else {
      st["phase"] = "Running";
      st["hostIP"] = "10.0.0.1";
      st["hostIPs"] = json::array({{{"ip", "10.0.0.1"}}});
      if (!st.contains("podIP")) {
        std::string h = ShortHash(Uid(p));
        std::string ip = "10.244." + std::to_string(static_cast<unsigned char>(h[0]) % 250) +
                         "." + std::to_string(static_cast<unsigned char>(h[1]) * 7 % 250 + 2);
        st["podIP"] = ip;
        st["podIPs"] = json::array({{{"ip", ip}}});
      }
      if (!st.contains("startTime")) st["startTime"] = now;
      st["conditions"] = json::array({cond("PodReadyToStartContainers", true, "", ""),
                                      cond("Initialized", true, "", ""),
                                      cond("Ready", true, "", ""),
                                      cond("ContainersReady", true, "", ""),
                                      cond("PodScheduled", true, "", "")});
      json containers = json::array();
      for (const auto& c : p.value("/spec/containers"_json_pointer, json::array())) {
        std::string started = Str(old, "/containerStatuses/0/state/running/startedAt"_json_pointer);
        containers.push_back({{"name", c.value("name", "")},
                              {"image", c.value("image", "")},
                              {"imageID", ""},
                              {"containerID", "containerd://" + ShortHash(Uid(p) + c.value("name", ""))},
                              {"ready", true},
                              {"started", true},
                              {"restartCount", 0},
                              {"state", {{"running", {{"startedAt", started.empty() ? now : started}}}}}});
      }
      st["containerStatuses"] = containers;
    }
    if (st != old) Warn("pod status", WriteStatus(store_, kPods, Ns(p), Name(p), st));
  }

  // A pod the node runs for real: Running while its process runs, then Succeeded or Failed with
  // the container's exit code and termination message.
  void AgentPodStatus(const json& p, json* st, const std::string& now) {
    AgentNode::ContainerState cs = node_.Run(p, now);
    const json c = p.value("/spec/containers/0"_json_pointer, json::object());
    json status = {{"name", c.value("name", "")},
                   {"image", c.value("image", "")},
                   {"imageID", ""},
                   {"containerID", "containerd://" + ShortHash(Uid(p) + c.value("name", ""))},
                   {"restartCount", 0}};
    (*st)["hostIP"] = "10.0.0.1";
    if (!st->contains("startTime")) (*st)["startTime"] = now;
    const json old_conditions = st->value("conditions", json::array());
    auto cond = [&](const std::string& type, bool ok, const std::string& reason) {
      json k = {{"type", type}, {"status", ok ? "True" : "False"}, {"lastProbeTime", nullptr},
                {"lastTransitionTime", now}};
      if (!reason.empty()) k["reason"] = reason;
      for (const auto& o : old_conditions) {
        if (o.value("type", "") == type && o.value("status", "") == k["status"]) {
          k["lastTransitionTime"] = o["lastTransitionTime"];
        }
      }
      return k;
    };
    if (!cs.exited) {
      (*st)["phase"] = "Running";
      status["ready"] = true;
      status["started"] = true;
      status["state"] = {{"running", {{"startedAt", cs.started_at}}}};
      (*st)["conditions"] = json::array({cond("Initialized", true, ""), cond("Ready", true, ""),
                                         cond("ContainersReady", true, ""), cond("PodScheduled", true, "")});
    } else {
      (*st)["phase"] = cs.exit_code == 0 ? "Succeeded" : "Failed";
      status["ready"] = false;
      status["started"] = false;
      json terminated = {{"exitCode", cs.exit_code}, {"reason", cs.reason}, {"startedAt", cs.started_at},
                         {"finishedAt", cs.finished_at}};
      if (!cs.message.empty()) terminated["message"] = cs.message;
      status["state"] = {{"terminated", terminated}};
      (*st)["conditions"] = json::array({cond("Initialized", true, "PodCompleted"), cond("Ready", false, "PodCompleted"),
                                         cond("ContainersReady", false, "PodCompleted"), cond("PodScheduled", true, "")});
    }
    (*st)["containerStatuses"] = json::array({status});
  }

  // A Job whose pods run for real: one pod at a time until one succeeds or the backoff limit is
  // exceeded, as the Job controller does with restartPolicy Never.
  void AgentJob(const json& j, json st, const std::string& now) {
    long long succeeded = 0, failed = 0, active = 0;
    for (const auto& p : Owned(kPods, Ns(j), j)) {
      std::string phase = Str(p, "/status/phase"_json_pointer);
      if (phase == "Succeeded") {
        ++succeeded;
      } else if (phase == "Failed") {
        ++failed;
      } else if (!Deleting(p)) {
        ++active;
      }
    }
    const long long completions = Int(j, "/spec/completions"_json_pointer, 1);
    const long long backoff = Int(j, "/spec/backoffLimit"_json_pointer, 6);
    auto cond = [&](const std::string& type, const std::string& reason, const std::string& message) {
      return json{{"type", type},       {"status", "True"},  {"reason", reason},
                  {"message", message}, {"lastProbeTime", now}, {"lastTransitionTime", now}};
    };
    if (!st.contains("startTime")) st["startTime"] = now;
    if (succeeded >= completions) {
      st["completionTime"] = now;
      st["conditions"] = json::array(
          {cond("SuccessCriteriaMet", "CompletionsReached", "Reached expected number of succeeded pods"),
           cond("Complete", "CompletionsReached", "Reached expected number of succeeded pods")});
    } else if (failed > backoff) {
      st["conditions"] = json::array(
          {cond("FailureTarget", "BackoffLimitExceeded", "Job has reached the specified backoff limit"),
           cond("Failed", "BackoffLimitExceeded", "Job has reached the specified backoff limit")});
    } else if (active == 0) {
      json labels = {{"batch.kubernetes.io/controller-uid", Uid(j)}, {"controller-uid", Uid(j)},
                     {"batch.kubernetes.io/job-name", Name(j)}, {"job-name", Name(j)}};
      Warn("creating job pod", CreatePod(j, j.value("/spec/template"_json_pointer, json::object()), "",
                                         Name(j) + "-", labels, json::array()));
      active = 1;
    }
    st["active"] = st.contains("conditions") ? 0 : active;
    st["ready"] = st["active"];
    st["terminating"] = 0;
    if (succeeded > 0) st["succeeded"] = succeeded;
    if (failed > 0) st["failed"] = failed;
    if (st != j.value("status", json::object())) Warn("job status", WriteStatus(store_, kJobs, Ns(j), Name(j), st));
  }

  void ReplicaSet(const json& rs) {
    if (Deleting(rs)) return;
    long long want = Int(rs, "/spec/replicas"_json_pointer, 1);
    std::vector<json> pods;
    for (auto& p : Owned(kPods, Ns(rs), rs)) {
      if (!Deleting(p)) pods.push_back(std::move(p));
    }
    Status failed;
    for (long long i = static_cast<long long>(pods.size()); i < want && failed.ok(); ++i) {
      failed = CreatePod(rs, rs.value("/spec/template"_json_pointer, json::object()), "",
                         Name(rs) + "-", json::object(), json::array());
      Warn("creating pod", failed);
    }
    while (static_cast<long long>(pods.size()) > want) {
      (void)store_->Delete(kPods, Ns(rs), Name(pods.back()));
      pods.pop_back();
    }
    long long count = std::min<long long>(want, static_cast<long long>(pods.size()));
    if (static_cast<long long>(pods.size()) < want) count = static_cast<long long>(pods.size());
    long long ready = 0;
    for (const auto& p : pods) ready += PodReady(p) ? 1 : 0;
    json st = rs.value("status", json::object());
    json next = {{"replicas", count},
                 {"fullyLabeledReplicas", count},
                 {"observedGeneration", Int(rs, "/metadata/generation"_json_pointer, 1)}};
    if (ready > 0) {
      next["readyReplicas"] = ready;
      next["availableReplicas"] = ready;
    }
    // The ReplicaSet controller reports a refused pod as ReplicaFailure, with the API's message.
    if (!failed.ok()) {
      json c = {{"type", "ReplicaFailure"}, {"status", "True"}, {"lastTransitionTime", Now()},
                {"reason", "FailedCreate"}, {"message", failed.message()}};
      for (const auto& o : st.value("conditions", json::array())) {
        if (o.value("type", "") == "ReplicaFailure") c["lastTransitionTime"] = o["lastTransitionTime"];
      }
      next["conditions"] = json::array({c});
    }
    if (next != st) Warn("replicaset status", WriteStatus(store_, kReplicaSets, Ns(rs), Name(rs), next));
  }

  void Deployment(const json& d) {
    if (Deleting(d)) return;
    long long want = Int(d, "/spec/replicas"_json_pointer, 1);
    json tmpl = d.value("/spec/template"_json_pointer, json::object());
    std::string hash = ShortHash(tmpl.dump());
    std::vector<json> sets = Owned(kReplicaSets, Ns(d), d);
    std::optional<json> current;
    for (const auto& rs : sets) {
      if (Str(rs, "/metadata/labels/pod-template-hash"_json_pointer) == hash) current = rs;
    }
    if (!current) {
      json labels = tmpl.value("/metadata/labels"_json_pointer, json::object());
      labels["pod-template-hash"] = hash;
      json rs_tmpl = tmpl;
      rs_tmpl["metadata"]["labels"] = labels;
      json selector = d.value("/spec/selector"_json_pointer, json::object());
      selector["matchLabels"]["pod-template-hash"] = hash;
      json rs = {{"apiVersion", "apps/v1"},
                 {"kind", "ReplicaSet"},
                 {"metadata",
                  {{"name", Name(d) + "-" + hash},
                   {"namespace", Ns(d)},
                   {"labels", labels},
                   {"annotations",
                    {{"deployment.kubernetes.io/desired-replicas", std::to_string(want)},
                     {"deployment.kubernetes.io/revision", std::to_string(sets.size() + 1)}}},
                   {"ownerReferences", json::array({OwnerRef(d)})}}},
                 {"spec", {{"replicas", want}, {"selector", selector}, {"template", rs_tmpl}}}};
      auto r = store_->Create(kReplicaSets, Ns(d), rs);
      if (!r.ok() && !r.status().IsAlreadyExists()) return Warn("creating replicaset", r.status());
      if (r.ok()) {
        current = *r;
        sets.push_back(*r);
      }
    }
    // The current set gets the replicas, older ones none (a Recreate-like rollout).
    for (const auto& rs : sets) {
      bool is_current = current && Name(rs) == Name(*current);
      long long target = is_current ? want : 0;
      if (Int(rs, "/spec/replicas"_json_pointer, 1) != target) {
        auto m = store_->Modify(kReplicaSets, Ns(rs), Name(rs), [&](json* o) {
          (*o)["spec"]["replicas"] = target;
          return Status::Ok();
        });
        Warn("scaling replicaset", m.ok() ? Status::Ok() : m.status());
      }
    }
    long long replicas = 0, ready = 0, updated = 0;
    for (const auto& rs : sets) {
      replicas += Int(rs, "/status/replicas"_json_pointer, 0);
      ready += Int(rs, "/status/readyReplicas"_json_pointer, 0);
      if (current && Name(rs) == Name(*current)) updated = Int(rs, "/status/replicas"_json_pointer, 0);
    }
    const json old = d.value("status", json::object());
    std::string now = Now();
    auto cond = [&](const std::string& type, bool ok, const std::string& reason,
                    const std::string& message) {
      json c = {{"type", type}, {"status", ok ? "True" : "False"}, {"reason", reason},
                {"message", message}, {"lastUpdateTime", now}, {"lastTransitionTime", now}};
      for (const auto& o : old.value("conditions", json::array())) {
        if (o.value("type", "") != type || o.value("status", "") != c["status"]) continue;
        c["lastTransitionTime"] = o["lastTransitionTime"];
        if (o.value("reason", "") == reason) c["lastUpdateTime"] = o["lastUpdateTime"];
      }
      return c;
    };
    std::string rs_name = current ? Name(*current) : Name(d);
    bool available = ready >= want;
    bool complete = updated == want && ready >= want && replicas == want;
    json st = {{"observedGeneration", Int(d, "/metadata/generation"_json_pointer, 1)}};
    if (replicas > 0) st["replicas"] = replicas;
    if (updated > 0) st["updatedReplicas"] = updated;
    if (ready > 0) {
      st["readyReplicas"] = ready;
      st["availableReplicas"] = ready;
    }
    if (replicas - ready > 0) st["unavailableReplicas"] = replicas - ready;
    st["conditions"] = json::array(
        {cond("Available", available,
              available ? "MinimumReplicasAvailable" : "MinimumReplicasUnavailable",
              available ? "Deployment has minimum availability."
                        : "Deployment does not have minimum availability."),
         cond("Progressing", true, complete ? "NewReplicaSetAvailable" : "ReplicaSetUpdated",
              complete ? "ReplicaSet \"" + rs_name + "\" has successfully progressed."
                       : "ReplicaSet \"" + rs_name + "\" is progressing.")});
    // The deployment controller passes its ReplicaSets' ReplicaFailure on.
    for (const auto& rs : sets) {
      for (const auto& c : rs.value("/status/conditions"_json_pointer, json::array())) {
        if (c.value("type", "") == "ReplicaFailure" && c.value("status", "") == "True") {
          st["conditions"].push_back(cond("ReplicaFailure", true, c.value("reason", ""), c.value("message", "")));
          break;
        }
      }
      if (st["conditions"].size() > 2) break;
    }
    if (st != old) Warn("deployment status", WriteStatus(store_, kDeployments, Ns(d), Name(d), st));
  }

  void StatefulSet(const json& s) {
    if (Deleting(s)) return;
    long long want = Int(s, "/spec/replicas"_json_pointer, 1);
    json tmpl = s.value("/spec/template"_json_pointer, json::object());
    std::string revision = Name(s) + "-" + ShortHash(tmpl.dump());
    std::map<std::string, json> pods;
    for (auto& p : Owned(kPods, Ns(s), s)) {
      std::string pod_name = Name(p);  // json's operator= takes its argument by value
      pods[pod_name] = std::move(p);
    }
    // OrderedReady (the default): one pod at a time, each (and its claims) made once every lower
    // ordinal is Running and Ready; Parallel: all at once (statefulset controller's
    // monotonic update).
    const bool ordered = Str(s, "/spec/podManagementPolicy"_json_pointer) != "Parallel";
    for (long long i = 0; i < want; ++i) {
      std::string pod = Name(s) + "-" + std::to_string(i);
      if (auto it = pods.find(pod); it != pods.end()) {
        if (ordered && !PodReady(it->second)) break;
        continue;
      }
      json volumes = json::array();
      for (const auto& vct : s.value("/spec/volumeClaimTemplates"_json_pointer, json::array())) {
        std::string claim = Name(vct) + "-" + pod;
        json pvc = {{"apiVersion", "v1"},
                    {"kind", "PersistentVolumeClaim"},
                    {"metadata",
                     {{"name", claim},
                      {"namespace", Ns(s)},
                      {"labels", tmpl.value("/metadata/labels"_json_pointer, json::object())}}},
                    {"spec", vct.value("spec", json::object())}};
        auto r = CreateAdmitted(store_, kPvcs, Ns(s), pvc);
        if (!r.ok() && !r.status().IsAlreadyExists()) Warn("creating pvc", r.status());
        volumes.push_back({{"name", Name(vct)}, {"persistentVolumeClaim", {{"claimName", claim}}}});
      }
      json labels = {{"statefulset.kubernetes.io/pod-name", pod},
                     {"apps.kubernetes.io/pod-index", std::to_string(i)},
                     {"controller-revision-hash", revision}};
      Warn("creating pod", CreatePod(s, tmpl, pod, "", labels, volumes));
      if (ordered) break;
    }
    long long replicas = 0, ready = 0;
    for (const auto& [name, p] : pods) {
      size_t dash = name.rfind('-');
      long long ordinal = dash == std::string::npos ? -1 : std::atoll(name.c_str() + dash + 1);
      if (ordinal >= want) {
        (void)store_->Delete(kPods, Ns(s), name);  // claims are kept, as Kubernetes does
        continue;
      }
      if (Deleting(p)) continue;
      ++replicas;
      ready += PodReady(p) ? 1 : 0;
    }
    json st = {{"observedGeneration", Int(s, "/metadata/generation"_json_pointer, 1)},
               {"replicas", replicas},
               {"currentRevision", revision},
               {"updateRevision", revision},
               {"collisionCount", 0}};
    if (replicas > 0) {
      st["currentReplicas"] = replicas;
      st["updatedReplicas"] = replicas;
    }
    if (ready > 0) {
      st["readyReplicas"] = ready;
      st["availableReplicas"] = ready;
    } else {
      st["availableReplicas"] = 0;
    }
    if (st != s.value("status", json::object())) {
      Warn("statefulset status", WriteStatus(store_, kStatefulSets, Ns(s), Name(s), st));
    }
  }

  void DaemonSet(const json& d) {
    if (Deleting(d)) return;
    std::vector<json> pods = Owned(kPods, Ns(d), d);
    if (pods.empty()) {
      Warn("creating pod", CreatePod(d, d.value("/spec/template"_json_pointer, json::object()),
                                     "", Name(d) + "-", json::object(), json::array()));
    }
    long long ready = 0;
    for (const auto& p : pods) ready += PodReady(p) ? 1 : 0;
    long long scheduled = pods.empty() ? 0 : 1;
    json st = {{"observedGeneration", Int(d, "/metadata/generation"_json_pointer, 1)},
               {"desiredNumberScheduled", 1},
               {"currentNumberScheduled", scheduled},
               {"updatedNumberScheduled", scheduled},
               {"numberMisscheduled", 0},
               {"numberReady", ready}};
    if (ready > 0) {
      st["numberAvailable"] = ready;
    } else {
      st["numberUnavailable"] = 1;
    }
    if (st != d.value("status", json::object())) {
      Warn("daemonset status", WriteStatus(store_, kDaemonSets, Ns(d), Name(d), st));
    }
  }

  // Jobs start, then finish as their outcome annotation says (complete by default).
  void Job(const json& j) {
    if (Deleting(j)) return;
    const json old = j.value("status", json::object());
    for (const auto& c : old.value("conditions", json::array())) {
      std::string type = c.value("type", "");
      if ((type == "Complete" || type == "Failed") && c.value("status", "") == "True") return;
    }
    std::string now = Now();
    json st = old;
    if (node_.RunsForReal(j.value("/spec/template"_json_pointer, json::object()))) return AgentJob(j, st, now);
    if (!st.contains("startTime")) {
      st["startTime"] = now;
      st["active"] = 1;
      st["ready"] = 1;
      st["terminating"] = 0;
      Warn("job status", WriteStatus(store_, kJobs, Ns(j), Name(j), st));
      return;  // finishes on the next pass, so "running" is observable
    }
    std::string outcome = Annotation(j, std::string(kJobOutcomeAnnotation));
    if (outcome == "hold") return;
    auto cond = [&](const std::string& type, const std::string& reason,
                    const std::string& message) {
      return json{{"type", type},       {"status", "True"},  {"reason", reason},
                  {"message", message}, {"lastProbeTime", now}, {"lastTransitionTime", now}};
    };
    st["active"] = 0;
    st["ready"] = 0;
    if (outcome == "fail") {
      st["failed"] = Int(j, "/spec/backoffLimit"_json_pointer, 6) + 1;
      st["conditions"] = json::array(
          {cond("FailureTarget", "BackoffLimitExceeded", "Job has reached the specified backoff limit"),
           cond("Failed", "BackoffLimitExceeded", "Job has reached the specified backoff limit")});
    } else {
      st["succeeded"] = Int(j, "/spec/completions"_json_pointer, 1);
      st["completionTime"] = now;
      st["conditions"] = json::array(
          {cond("SuccessCriteriaMet", "CompletionsReached", "Reached expected number of succeeded pods"),
           cond("Complete", "CompletionsReached", "Reached expected number of succeeded pods")});
    }
    Warn("job status", WriteStatus(store_, kJobs, Ns(j), Name(j), st));
  }

  Store* const store_;
  const ControllerOptions options_;
  std::set<std::string> dirty_ns_;
  // Pods bound to a node that is not this one, by uid: when the pod GC first saw them.
  std::map<std::string, Clock::MonoTime> orphans_;
  bool all_ = true;
  StoreView view_;  // the node's view of claims and volumes
  AgentNode node_;
};

}  // namespace

std::unique_ptr<Reconciler> NewWorkloadController(Store* store, const ControllerOptions& options) {
  return std::make_unique<WorkloadController>(store, options);
}

}  // namespace kdr::kubesim
