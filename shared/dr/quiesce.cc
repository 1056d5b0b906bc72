#include "dr/quiesce.h"

#include <algorithm>
#include <functional>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>

#include "base/clock.h"
#include "base/log.h"
#include "base/strings.h"
#include "dr/workloads_internal.h"
#include "kube/client.h"
#include "kube/object.h"
#include "storage/deadline.h"

namespace kdr::dr {
namespace {

using nlohmann::json;
using namespace internal;

constexpr std::string_view kHalted = "Halted";
// Reads and writes of one workload before a conflict is given up. The resourceVersion also moves
// with every status write of the workload's controller, so a busy rollout may take a few.
constexpr int kAttempts = 10;
constexpr size_t kPodsNamed = 10;

// A Deployment or StatefulSet: what the scale subresource serves.
struct Workload {
  std::string_view kind;  // "deployment"
  const kube::Gvr* gvr;
  json object;
  std::string Describe() const { return internal::Describe(kind, object); }
};

struct Survey {
  std::vector<Workload> scaled;  // Deployments, then StatefulSets
  std::vector<Workload> vms;
  bool vms_served = false;
};

// spec.replicas; the API server defaults an absent one to 1.
int64_t Replicas(const json& o) {
  const json& r = kube::FieldAt(o, {"spec", "replicas"});
  return r.is_number_integer() ? r.get<int64_t>() : 1;
}

json AnnotationPatch(std::string_view key, json value) {
  return {{"metadata", {{"annotations", {{std::string(key), std::move(value)}}}}}};
}

Result<Survey> Read(kube::Client& cluster, const std::vector<std::string>& namespaces) {
  Survey s;
  KDR_ASSIGN_OR_RETURN(s.vms_served, Serves(cluster, kVirtualMachines));
  struct Kind {
    std::string_view name;
    const kube::Gvr* gvr;
    std::vector<Workload>* into;
  };
  std::vector<Kind> kinds = {{"deployment", &kDeployments, &s.scaled}, {"statefulset", &kStatefulSets, &s.scaled}};
  if (s.vms_served) kinds.push_back({"virtualmachine", &kVirtualMachines, &s.vms});
  for (const Kind& k : kinds) {
    for (const std::string& ns : namespaces) {
      KDR_ASSIGN_OR_RETURN(std::vector<json> items, ListItems(cluster, *k.gvr, ns));
      std::sort(items.begin(), items.end(), [](const json& a, const json& b) { return kube::Name(a) < kube::Name(b); });
      for (json& item : items) k.into->push_back({k.name, k.gvr, std::move(item)});
    }
  }
  return s;
}

// One workload's step: decides from the object as read and writes; nullopt when nothing was to
// change. A 409 from a write carrying the read resourceVersion is returned as it is.
using Step = std::function<Result<std::optional<QuiesceChange>>(const json& object)>;

// Runs step, and again on a fresher read when the workload changed under it (kAborted): the
// remembered count must be the one the workload had when it was stopped.
Status Apply(kube::Client& cluster, const Workload& w, std::string_view doing, const Step& step,
             std::vector<QuiesceChange>* changes) {
  json object = w.object;
  for (int attempt = 1;; ++attempt) {
    Result<std::optional<QuiesceChange>> r = step(object);
    if (r.ok()) {
      if (r->has_value()) changes->push_back(std::move(**r));
      return Status::Ok();
    }
    if (r.status().IsNotFound()) return Status::Ok();  // deleted since it was listed: nothing to do
    if (!r.status().IsConflict() || attempt == kAttempts) {
      return r.status().WithContext(std::string(doing) + " " + w.Describe());
    }
    Result<json> fresh = cluster.Get(*w.gvr, kube::Namespace(w.object), kube::Name(w.object));
    if (fresh.status().IsNotFound()) return Status::Ok();  // deleted meanwhile: nothing to do
    if (!fresh.ok()) return fresh.status().WithContext(std::string(doing) + " " + w.Describe());
    object = std::move(*fresh);
  }
}

Result<std::optional<QuiesceChange>> ScaleDown(kube::Client& cluster, const Workload& w, const json& o,
                                               bool dry_run) {
  const int64_t replicas = Replicas(o);
  if (replicas == 0) return std::optional<QuiesceChange>();  // keeps what an earlier run remembered
  const std::string remember = std::to_string(replicas);
  if (kube::Annotation(o, kReplicasAnnotation) != remember) {
    // The read resourceVersion makes the patch fail (409) if the count changed since.
    json patch = AnnotationPatch(kReplicasAnnotation, remember);
    patch["metadata"]["resourceVersion"] = kube::ResourceVersion(o);
    kube::PatchOptions po;
    po.dry_run = dry_run;
    Result<json> r = cluster.Patch(*w.gvr, kube::Namespace(o), kube::Name(o), kube::PatchType::kMergePatch, patch, po);
    if (!r.ok()) return r.status();
  }
  kube::WriteOptions wo;
  wo.dry_run = dry_run;
  Result<json> r = cluster.SetScale(*w.gvr, kube::Namespace(o), kube::Name(o), 0, wo);
  if (!r.ok()) return r.status();
  return std::optional<QuiesceChange>(QuiesceChange{w.Describe(), remember + " -> 0 replicas"});
}

// A VM runs under spec.runStrategy, or under the boolean spec.running of older KubeVirt (never
// both: KubeVirt refuses that). A VM with neither does not run.
Result<std::optional<QuiesceChange>> Halt(kube::Client& cluster, const Workload& w, const json& o, bool dry_run) {
  const json& strategy = kube::FieldAt(o, {"spec", "runStrategy"});
  const json& running = kube::FieldAt(o, {"spec", "running"});
  json patch;
  std::string change;
  if (strategy.is_string() && !strategy.get<std::string>().empty()) {
    const std::string s = strategy.get<std::string>();
    if (s == kHalted) return std::optional<QuiesceChange>();
    patch = AnnotationPatch(kRunStrategyAnnotation, "runStrategy=" + s);
    patch["spec"]["runStrategy"] = kHalted;
    change = "runStrategy " + s + " -> Halted";
  } else if (running.is_boolean() && running.get<bool>()) {
    patch = AnnotationPatch(kRunStrategyAnnotation, "running=true");
    patch["spec"]["running"] = false;
    change = "running true -> false";
  } else {
    return std::optional<QuiesceChange>();
  }
  patch["metadata"]["resourceVersion"] = kube::ResourceVersion(o);
  kube::PatchOptions po;
  po.dry_run = dry_run;
  Result<json> r = cluster.Patch(*w.gvr, kube::Namespace(o), kube::Name(o), kube::PatchType::kMergePatch, patch, po);
  if (!r.ok()) return r.status();
  return std::optional<QuiesceChange>(QuiesceChange{w.Describe(), change});
}

bool OwnedBy(const json& o, const std::set<std::string>& uids) {
  const json& refs = kube::FieldAt(o, {"metadata", "ownerReferences"});
  if (!refs.is_array()) return false;
  for (const json& r : refs) {
    if (r.is_object() && uids.count(r.value("uid", ""))) return true;
  }
  return false;
}

// The pods still owned by the workloads, directly (StatefulSets), through a ReplicaSet
// (Deployments) or through a VirtualMachineInstance (virt-launcher pods of VMs).
Result<std::vector<json>> RemainingPods(kube::Client& cluster, const std::vector<std::string>& namespaces,
                                        const Survey& survey) {
  std::map<std::string, std::set<std::string>> owners;  // namespace -> uids
  for (const auto* list : {&survey.scaled, &survey.vms}) {
    for (const Workload& w : *list) owners[kube::Namespace(w.object)].insert(kube::Uid(w.object));
  }
  std::vector<json> out;
  for (const std::string& ns : namespaces) {
    std::set<std::string>& uids = owners[ns];
    if (uids.empty()) continue;
    std::vector<std::pair<const kube::Gvr*, bool>> middles = {{&kReplicaSets, true},
                                                             {&kVirtualMachineInstances, survey.vms_served}};
    std::set<std::string> more;
    for (const auto& [gvr, wanted] : middles) {
      if (!wanted) continue;
      KDR_ASSIGN_OR_RETURN(std::vector<json> items, ListItems(cluster, *gvr, ns));
      for (const json& i : items) {
        if (OwnedBy(i, uids)) more.insert(kube::Uid(i));
      }
    }
    uids.insert(more.begin(), more.end());
    KDR_ASSIGN_OR_RETURN(std::vector<json> pods, ListItems(cluster, kPods, ns));
    for (json& p : pods) {
      if (OwnedBy(p, uids)) out.push_back(std::move(p));
    }
  }
  return out;
}

// "shop/web-7d9f-x2x (terminating, finalizers: example.com/hold)", "shop/db-0 (Running)".
std::string DescribePod(const json& pod) {
  std::string state;
  if (!kube::FieldAt(pod, {"metadata", "deletionTimestamp"}).is_null()) {
    state = "terminating";
    std::vector<std::string> finalizers;
    const json& f = kube::FieldAt(pod, {"metadata", "finalizers"});
    if (f.is_array()) {
      for (const json& name : f) {
        if (name.is_string()) finalizers.push_back(name.get<std::string>());
      }
    }
    if (!finalizers.empty()) state += ", finalizers: " + Join(finalizers, " ");
  } else {
    state = kube::StringField(pod, {"status", "phase"});
    if (state.empty()) state = "Pending";
  }
  return kube::NamespacedName(pod) + " (" + state + ")";
}

std::string DescribePods(const std::vector<json>& pods) {
  std::vector<std::string> named;
  for (size_t i = 0; i < pods.size() && i < kPodsNamed; ++i) named.push_back(DescribePod(pods[i]));
  std::string out = Join(named, ", ");
  if (pods.size() > kPodsNamed) out += " and " + std::to_string(pods.size() - kPodsNamed) + " more";
  return out;
}

Status WaitForPods(kube::Client& cluster, const Env& env, const QuiesceOptions& options,
                   const std::vector<std::string>& namespaces, const Survey& survey, std::stop_token stop) {
  Clock& clock = *env.clock;
  const Clock::MonoTime deadline = clock.Monotonic() + options.pod_timeout;
  // The pods of workloads scaled to 0 usually go within tens of milliseconds: a fixed 1 s pause
  // added a second to nearly every failover's quiesce (tests/bench/failover_bench.cc).
  storage::Backoff backoff(options.poll_interval);
  for (;;) {
    KDR_ASSIGN_OR_RETURN(std::vector<json> pods, RemainingPods(cluster, namespaces, survey));
    if (pods.empty()) return Status::Ok();
    std::sort(pods.begin(), pods.end(),
              [](const json& a, const json& b) { return kube::NamespacedName(a) < kube::NamespacedName(b); });
    const std::string count = std::to_string(pods.size()) + " pod(s)";
    if (env.logger != nullptr) env.logger->Debug("quiesce: waiting for " + count + " to go: " + DescribePods(pods));
    const Clock::MonoTime now = clock.Monotonic();
    if (now >= deadline) {
      return Status::DeadlineExceeded(
          "timed out after " + FormatDuration(options.pod_timeout) + " waiting for the pods of the quiesced "
          "workloads to go; " + count + " still there: " + DescribePods(pods) +
          "; the workloads stay scaled down (a pod kept by a finalizer goes once whatever set the finalizer "
          "removes it): run quiesce again to keep waiting");
    }
    if (stop.stop_requested() || !clock.SleepFor(std::min<std::chrono::nanoseconds>(backoff.Next(), deadline - now), stop)) {
      return Status::Cancelled("quiesce interrupted while waiting for " + count +
                               " to go; the workloads stay scaled down");
    }
  }
}

Result<std::vector<std::string>> Namespaces(kube::Client& cluster, const Env& env, const QuiesceOptions& options,
                                            std::string_view what) {
  if (env.clock == nullptr) return Status::Internal(std::string(what) + ": the Env has no clock");
  if (options.pod_timeout.count() < 0 || options.poll_interval.count() <= 0) {
    return Status::InvalidArgument(std::string(what) + ": the pod timeout must not be negative and the poll "
                                   "interval must be positive");
  }
  Result<std::vector<std::string>> ns = CheckNamespaces(cluster, options.namespaces, what);
  if (!ns.ok() && ns.status().IsNotFound()) {
    return Status::NotFound(ns.status().message() + "; nothing was changed");
  }
  return ns;
}

}  // namespace

Result<QuiesceResult> Quiesce(kube::Client& cluster, const Env& env, const QuiesceOptions& options,
                              std::stop_token stop) {
  KDR_ASSIGN_OR_RETURN(std::vector<std::string> namespaces, Namespaces(cluster, env, options, "quiesce"));
  KDR_ASSIGN_OR_RETURN(Survey survey, Read(cluster, namespaces));
  QuiesceResult result;
  // Deployments first (the front ends stop writing to the databases), StatefulSets, then VMs.
  for (const Workload& w : survey.scaled) {
    if (stop.stop_requested()) return Status::Cancelled("quiesce interrupted before " + w.Describe());
    KDR_RETURN_IF_ERROR(Apply(cluster, w, "scaling down", [&](const json& o) {
      return ScaleDown(cluster, w, o, options.dry_run);
    }, &result.changes));
  }
  for (const Workload& w : survey.vms) {
    if (stop.stop_requested()) return Status::Cancelled("quiesce interrupted before " + w.Describe());
    KDR_RETURN_IF_ERROR(Apply(cluster, w, "halting", [&](const json& o) {
      return Halt(cluster, w, o, options.dry_run);
    }, &result.changes));
  }
  if (!options.dry_run) KDR_RETURN_IF_ERROR(WaitForPods(cluster, env, options, namespaces, survey, stop));
  return result;
}

namespace {

// What Unquiesce restores, parsed from the annotation before any write.
struct Remembered {
  const Workload* workload;
  int64_t replicas = 0;   // Deployments and StatefulSets
  std::string field;      // VMs: "runStrategy" or "running"
  std::string value;      // VMs: the strategy ("Always"), or "true"
};

Result<std::vector<Remembered>> ReadRemembered(const Survey& survey) {
  std::vector<Remembered> out;
  std::vector<std::string> bad;
  for (const Workload& w : survey.scaled) {
    std::optional<std::string> a = kube::Annotation(w.object, kReplicasAnnotation);
    if (!a) continue;
    Remembered r;
    r.workload = &w;
    const bool digits = !a->empty() && a->size() <= 10 && a->find_first_not_of("0123456789") == std::string::npos;
    if (!digits || std::stoll(*a) > std::numeric_limits<int32_t>::max()) {
      bad.push_back(w.Describe() + ": " + std::string(kReplicasAnnotation) + "=" + Quote(*a) +
                    " is not a replica count");
      continue;
    }
    r.replicas = std::stoll(*a);
    out.push_back(std::move(r));
  }
  for (const Workload& w : survey.vms) {
    std::optional<std::string> a = kube::Annotation(w.object, kRunStrategyAnnotation);
    if (!a) continue;
    Remembered r;
    r.workload = &w;
    size_t eq = a->find('=');
    if (eq != std::string::npos) {
      r.field = a->substr(0, eq);
      r.value = a->substr(eq + 1);
    }
    if (!((r.field == "runStrategy" && !r.value.empty() && r.value != kHalted) ||
          (r.field == "running" && r.value == "true"))) {
      bad.push_back(w.Describe() + ": " + std::string(kRunStrategyAnnotation) + "=" + Quote(*a) +
                    " is neither runStrategy=STRATEGY nor running=true");
      continue;
    }
    out.push_back(std::move(r));
  }
  if (!bad.empty()) {
    return Status::InvalidArgument("unquiesce: " + Join(bad, "; ") +
                                   "; set the value to restore, or remove the annotation to leave the workload "
                                   "as it is; nothing was changed");
  }
  return out;
}

Result<std::optional<QuiesceChange>> ScaleUp(kube::Client& cluster, const Remembered& r, const json& o,
                                             bool dry_run) {
  const Workload& w = *r.workload;
  const int64_t replicas = Replicas(o);
  std::string change;
  // Scaled first, the annotation dropped after: a crash in between leaves a workload the next run
  // only has to forget.
  if (replicas == 0 && r.replicas > 0) {
    kube::WriteOptions wo;
    wo.dry_run = dry_run;
    Result<json> s = cluster.SetScale(*w.gvr, kube::Namespace(o), kube::Name(o), static_cast<int32_t>(r.replicas), wo);
    if (!s.ok()) return s.status();
    change = "0 -> " + std::to_string(r.replicas) + " replicas";
  } else if (replicas == r.replicas) {
    change = "already at " + std::to_string(replicas) + " replicas";
  } else {
    change = "left at " + std::to_string(replicas) + " replicas (scaled since the quiesce; remembered " +
             std::to_string(r.replicas) + ")";
  }
  if (kube::Annotation(o, kReplicasAnnotation)) {
    kube::PatchOptions po;
    po.dry_run = dry_run;
    Result<json> p = cluster.Patch(*w.gvr, kube::Namespace(o), kube::Name(o), kube::PatchType::kMergePatch,
                                   AnnotationPatch(kReplicasAnnotation, nullptr), po);
    if (!p.ok()) return p.status();
  }
  return std::optional<QuiesceChange>(QuiesceChange{w.Describe(), change});
}

Result<std::optional<QuiesceChange>> Start(kube::Client& cluster, const Remembered& r, const json& o, bool dry_run) {
  const Workload& w = *r.workload;
  json patch = AnnotationPatch(kRunStrategyAnnotation, nullptr);
  std::string change;
  const bool halted = r.field == "runStrategy" ? kube::StringField(o, {"spec", "runStrategy"}) == kHalted
                                               : kube::FieldAt(o, {"spec", "running"}) == json(false);
  if (halted && r.field == "runStrategy") {
    patch["spec"]["runStrategy"] = r.value;
    change = "runStrategy Halted -> " + r.value;
  } else if (halted) {
    patch["spec"]["running"] = true;
    change = "running false -> true";
  } else {
    change = "left running (started since the quiesce)";
  }
  patch["metadata"]["resourceVersion"] = kube::ResourceVersion(o);
  kube::PatchOptions po;
  po.dry_run = dry_run;
  Result<json> p = cluster.Patch(*w.gvr, kube::Namespace(o), kube::Name(o), kube::PatchType::kMergePatch, patch, po);
  if (!p.ok()) return p.status();
  return std::optional<QuiesceChange>(QuiesceChange{w.Describe(), change});
}

}  // namespace

Result<QuiesceResult> Unquiesce(kube::Client& cluster, const Env& env, const QuiesceOptions& options,
                                std::stop_token stop) {
  KDR_ASSIGN_OR_RETURN(std::vector<std::string> namespaces, Namespaces(cluster, env, options, "unquiesce"));
  KDR_ASSIGN_OR_RETURN(Survey survey, Read(cluster, namespaces));
  KDR_ASSIGN_OR_RETURN(std::vector<Remembered> remembered, ReadRemembered(survey));
  // The reverse of Quiesce's order: VMs, StatefulSets (the databases), then Deployments.
  std::stable_partition(remembered.begin(), remembered.end(),
                        [](const Remembered& r) { return r.workload->kind == "virtualmachine"; });
  std::stable_partition(remembered.begin(), remembered.end(),
                        [](const Remembered& r) { return r.workload->kind != "deployment"; });
  QuiesceResult result;
  for (const Remembered& r : remembered) {
    if (stop.stop_requested()) return Status::Cancelled("unquiesce interrupted before " + r.workload->Describe());
    const bool vm = r.workload->kind == "virtualmachine";
    // The step reads the annotation from the object it is given: a fresher read that lost it (an
    // earlier run finished meanwhile) has nothing left to do.
    KDR_RETURN_IF_ERROR(Apply(cluster, *r.workload, vm ? "starting" : "scaling up", [&](const json& o) {
      if (!kube::Annotation(o, vm ? kRunStrategyAnnotation : kReplicasAnnotation)) {
        return Result<std::optional<QuiesceChange>>(std::optional<QuiesceChange>());
      }
      return vm ? Start(cluster, r, o, options.dry_run) : ScaleUp(cluster, r, o, options.dry_run);
    }, &result.changes));
  }
  return result;
}

}  // namespace kdr::dr
