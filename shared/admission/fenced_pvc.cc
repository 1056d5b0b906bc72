// Fenced inventory PVCs: the rules are documented at NewFencedPvcPolicy in policy.h.

#include <nlohmann/json.hpp>
#include <map>
#include <optional>
#include <set>

#include "admission/cache.h"
#include "admission/pod_volumes.h"
#include "admission/policy.h"
#include "admission/review.h"
#include "base/strings.h"
#include "dr/types.h"

namespace kdr::admission {
namespace {

using nlohmann::json;

constexpr std::string_view kPolicyName = "fenced-pvc";

const json* Find(const json& obj, const char* key) {
  if (!obj.is_object()) return nullptr;
  auto it = obj.find(key);
  return it == obj.end() ? nullptr : &*it;
}

const json* Path(const json& obj, std::initializer_list<const char*> keys) {
  const json* cur = &obj;
  for (const char* k : keys) {
    cur = Find(*cur, k);
    if (cur == nullptr) return nullptr;
  }
  return cur;
}

std::string Label(const json& obj, std::string_view key) {
  const json* labels = Path(obj, {"metadata", "labels"});
  if (labels == nullptr || !labels->is_object()) return "";
  auto it = labels->find(std::string(key));
  return it != labels->end() && it->is_string() ? it->get<std::string>() : "";
}

bool HasLabel(const json& obj, std::string_view key) {
  const json* labels = Path(obj, {"metadata", "labels"});
  return labels != nullptr && labels->is_object() && labels->contains(std::string(key));
}

std::string Annotation(const json& obj, std::string_view key) {
  const json* ann = Path(obj, {"metadata", "annotations"});
  if (ann == nullptr || !ann->is_object()) return "";
  auto it = ann->find(std::string(key));
  return it != ann->end() && it->is_string() ? it->get<std::string>() : "";
}

bool IsTrue(const json* v) { return v != nullptr && v->is_boolean() && v->get<bool>(); }

long long IntOr(const json* v, long long fallback) {
  return v != nullptr && v->is_number_integer() ? v->get<long long>() : fallback;
}

std::string Describe(const Request& req) {
  std::string what = ToLower(req.kind.empty() ? req.resource : req.kind);
  std::string name = req.name;
  if (name.empty()) {
    const json* gn = Path(req.object(), {"metadata", "generateName"});
    if (gn != nullptr && gn->is_string()) name = gn->get<std::string>() + "*";
  }
  return what + " " + req.namespace_name + "/" + name;
}

std::string OperationVerb(const std::string& op) {
  if (op == "CREATE") return "creating";
  if (op == "DELETE") return "deleting";
  return "updating";
}

class FencedPvcPolicy final : public Policy {
 public:
  FencedPvcPolicy(const StateCache* cache, std::string dr_namespace)
      : cache_(cache), dr_namespace_(std::move(dr_namespace)),
        dr_account_(DrServiceAccount(dr_namespace_)) {}

  Response Handle(const Request& req) const override {
    Response r;
    if (req.group.empty() && req.resource == "persistentvolumeclaims") {
      r = HandlePvc(req);
    } else if (req.group.empty() && req.resource == "namespaces") {
      r = HandleNamespace(req);
    } else if (req.resource_group.empty() && req.resource == "pods") {
      r = HandlePod(req);
    } else if (req.sub_resource == "scale" && ScalesPods(req)) {
      r = HandleScale(req);
    } else if (auto tmpl = req.sub_resource.empty()
                               ? WorkloadPodTemplate(req.group, req.resource, req.object())
                               : std::nullopt) {
      r = HandleWorkload(req, *tmpl);
    } else {
      return Allowed();
    }
    r.policy = std::string(kPolicyName);
    return r;
  }

 private:
  Response HandlePvc(const Request& req) const {
    if (!req.sub_resource.empty()) return Allowed("pvc subresource " + req.sub_resource);
    const std::string ns_name = req.namespace_name + "/" + req.name;
    if (req.operation == "DELETE") {
      // Some API servers omit oldObject on DELETE; the cache knows the fenced ones.
      std::string plan;
      bool overridden = false;
      if (!req.old_object().is_null()) {
        if (!HasLabel(req.old_object(), dr::kFailedOverLabel)) return Allowed("pvc not fenced");
        plan = Label(req.old_object(), dr::kFailedOverLabel);
        overridden = Annotation(req.old_object(), kAllowDeleteAnnotation) == "true";
      } else if (auto pvc = cache_->FencedPvc(req.namespace_name, req.name)) {
        plan = pvc->labels.at(std::string(dr::kFailedOverLabel));
        auto it = pvc->annotations.find(std::string(kAllowDeleteAnnotation));
        overridden = it != pvc->annotations.end() && it->second == "true";
      } else {
        return Allowed("pvc not fenced");
      }
      if (overridden) return Allowed("fenced pvc deletion overridden by annotation");
      return Denied("deleting persistentvolumeclaim " + ns_name +
                    " is refused: it is a fenced inventory volume (failed over by plan " +
                    Quote(plan) + "; its data now lives on the DR site). If you really mean to "
                    "drop it, annotate it first: kubectl annotate pvc -n " + req.namespace_name +
                    " " + req.name + " " + std::string(kAllowDeleteAnnotation) + "=true");
    }
    if (req.operation != "UPDATE") return Allowed("pvc " + ToLower(req.operation));
    const json& old_obj = req.old_object();
    const json& new_obj = req.object();
    if (!HasLabel(old_obj, dr::kFailedOverLabel)) return Allowed("pvc not fenced");
    const std::string plan = Label(old_obj, dr::kFailedOverLabel);
    const json* old_spec = Find(old_obj, "spec");
    const json* new_spec = Find(new_obj, "spec");
    const bool spec_changed = (old_spec == nullptr) != (new_spec == nullptr) ||
                              (old_spec != nullptr && *old_spec != *new_spec);
    if (spec_changed) {
      return Denied("updating the spec of persistentvolumeclaim " + ns_name +
                    " is refused: it is a fenced inventory volume (failed over by plan " +
                    Quote(plan) + "), so writes to it or its storage are blocked; change the "
                    "plan's volumes on the DR site instead, or fail back with kubectl dr failback");
    }
    if (!HasLabel(new_obj, dr::kFailedOverLabel) ||
        Label(new_obj, dr::kFailedOverLabel) != plan) {
      if (MayUnfence(req)) return Allowed("failback unfences the pvc");
      const std::string change =
          HasLabel(new_obj, dr::kFailedOverLabel) ? "changing" : "removing";
      return Denied(change + " the label " + std::string(dr::kFailedOverLabel) +
                    " of persistentvolumeclaim " + ns_name + " is refused: only kubectl dr "
                    "failback (a Failback recovery running, as its user or the service account " +
                    dr_account_ + ") may unfence an inventory volume failed over by plan " +
                    Quote(plan) + "; run kubectl dr failback");
    }
    return Allowed("metadata change of a fenced pvc");
  }

  // The running failback may unfence; nobody else may. Its runner is the DR service account (the
  // agent as a Job) or the user the recovery records as running it (status.startedBy, from a
  // SelfSubjectReview as the run started: the plugin with --agent local).
  bool MayUnfence(const Request& req) const {
    if (req.username.empty()) return false;
    return cache_->AnyRecovery(dr_namespace_, [&](const dr::DRRecovery& r) {
      return r.spec.action == dr::RecoveryAction::kFailback && r.status.phase == dr::RecoveryPhase::kRunning &&
             (req.username == dr_account_ || req.username == r.status.started_by);
    });
  }

  std::string PlanOf(const std::string& ns, const std::string& claim) const {
    auto pvc = cache_->FencedPvc(ns, claim);
    return pvc ? pvc->labels.at(std::string(dr::kFailedOverLabel)) : "";
  }

  // True when `claim` of `ns` is fenced and nothing makes it read-only below the pod: a claim
  // bound to a read-only PV is mounted read-only by every node, whatever the pod says.
  bool FencedWritable(const std::string& ns, const std::string& claim) const {
    auto pvc = cache_->FencedPvc(ns, claim);
    return pvc != nullptr && (pvc->volume_name.empty() || !cache_->ReadOnlyPv(pvc->volume_name));
  }

  // The volumes of a pod spec through which it could write a fenced claim (see pod_volumes.h).
  std::vector<ClaimVolume> WritableFenced(const std::string& ns, const json& pod_spec) const {
    std::vector<ClaimVolume> out;
    for (ClaimVolume& cv : ClaimVolumes(pod_spec)) {
      if (!cv.read_only_source && FencedWritable(ns, cv.claim)) out.push_back(std::move(cv));
    }
    return out;
  }

  // The denial for a writable fenced volume: what, why the containers do not matter, the field.
  Response DenyVolume(const Request& req, const ClaimVolume& cv, std::string_view spec_path) const {
    const std::string field = std::string(spec_path) + ".volumes[" + std::to_string(cv.index) + "]";
    std::string uses;
    for (const std::string& u : cv.uses) uses += (uses.empty() ? "" : ", ") + u;
    const std::string why =
        cv.uses.empty()
            ? "no container mounts it, but the node attaches every volume a pod declares"
            : uses + ", but the node attaches and mounts the volume";
    return Denied(OperationVerb(req.operation) + " " + Describe(req) + " is refused: its volume " +
                  Quote(cv.volume) + " (" + field + ") is persistentvolumeclaim " +
                  req.namespace_name + "/" + cv.claim + ", which is fenced (failed over by plan " +
                  Quote(PlanOf(req.namespace_name, cv.claim)) + "; the live copy is on the DR "
                  "site); " + why + " read-write unless the volume source says read-only, "
                  "whatever the containers do. Set " + field + ".persistentVolumeClaim.readOnly: "
                  "true (volumeMounts[].readOnly only makes one container's view read-only), or "
                  "run the workload on the DR site");
  }

  // Pod volumes are immutable, so an UPDATE (metadata, or a container added through the
  // ephemeralcontainers subresource) is denied only when it adds a use of a writable fenced
  // volume: refusing a pod that predates the fence protects nothing.
  Response HandlePod(const Request& req) const {
    if (req.operation != "CREATE" && req.operation != "UPDATE") return Allowed("pod " + ToLower(req.operation));
    if (!req.sub_resource.empty() && req.sub_resource != "ephemeralcontainers") {
      return Allowed("pod subresource " + req.sub_resource);
    }
    if (!cache_->AnyFencedPvcIn(req.namespace_name)) return Allowed("no fenced pvc in namespace");
    const json* spec = Path(req.object(), {"spec"});
    if (spec == nullptr) return Allowed("pod without spec");
    std::vector<ClaimVolume> writable = WritableFenced(req.namespace_name, *spec);
    if (writable.empty()) return Allowed("pod declares no fenced pvc read-write");
    if (req.operation == "CREATE") return DenyVolume(req, writable.front(), "spec");
    std::map<std::string, std::set<std::string>> before;  // volume -> uses
    if (const json* old_spec = Path(req.old_object(), {"spec"})) {
      for (ClaimVolume& cv : WritableFenced(req.namespace_name, *old_spec)) {
        before[cv.volume].insert(cv.uses.begin(), cv.uses.end());
      }
    }
    for (ClaimVolume& cv : writable) {
      auto old = before.find(cv.volume);
      if (old == before.end()) return DenyVolume(req, cv, "spec");
      std::vector<std::string> added;
      for (std::string& u : cv.uses) {
        if (!old->second.count(u)) added.push_back(std::move(u));
      }
      if (!added.empty()) {
        cv.uses = std::move(added);
        return DenyVolume(req, cv, "spec");
      }
    }
    return Allowed("pod update adds no use of a fenced pvc");
  }

  // False when the workload runs no pods as written: scaled to zero or suspended.
  static bool RunsPods(const Request& req) {
    const json& obj = req.object();
    if (req.resource == "daemonsets") return true;
    if (req.resource == "jobs" || req.resource == "cronjobs") {
      return !IsTrue(Path(obj, {"spec", "suspend"}));
    }
    return IntOr(Path(obj, {"spec", "replicas"}), 1) > 0;
  }

  Response HandleWorkload(const Request& req, const PodTemplate& tmpl) const {
    if (req.operation != "CREATE" && req.operation != "UPDATE") return Allowed("workload " + ToLower(req.operation));
    if (!cache_->AnyFencedPvcIn(req.namespace_name)) return Allowed("no fenced pvc in namespace");
    if (!RunsPods(req)) return Allowed("workload scaled to zero or suspended");
    std::vector<ClaimVolume> writable = WritableFenced(req.namespace_name, *tmpl.spec);
    if (!writable.empty()) return DenyVolume(req, writable.front(), tmpl.path);
    if (req.resource == "statefulsets") {
      Result<WorkloadInfo> set = WorkloadInfoFromJson(req.resource, req.object());
      if (set.ok()) {
        if (auto denied = ClaimTemplateCollision(req, set->name.empty() ? req.name : set->name,
                                                 set->claim_templates)) {
          return *denied;
        }
      }
    }
    return Allowed("workload declares no fenced pvc read-write");
  }

  static bool ScalesPods(const Request& req) {
    const std::string& group = req.resource_group;
    return (group == "apps" && (req.resource == "deployments" || req.resource == "statefulsets" ||
                                req.resource == "replicasets")) ||
           (group.empty() && req.resource == "replicationcontrollers");
  }

  // A Scale carries no pod template: the workload's claims come from the cache. Scaling down is
  // always allowed (it is how a workload is quiesced).
  Response HandleScale(const Request& req) const {
    if (req.operation != "UPDATE") return Allowed("scale " + ToLower(req.operation));
    if (!cache_->AnyFencedPvcIn(req.namespace_name)) return Allowed("no fenced pvc in namespace");
    // kube-apiserver omits spec.replicas at 0 (omitempty).
    const long long want = IntOr(Path(req.object(), {"spec", "replicas"}), 0);
    const long long had = IntOr(Path(req.old_object(), {"spec", "replicas"}), 0);
    if (want <= had) return Allowed("scale does not add replicas");
    auto w = cache_->Workload(req.resource, req.namespace_name, req.name);
    if (w == nullptr) return Allowed("workload declares no claim read-write");
    for (const std::string& claim : w->writable_claims) {
      if (!FencedWritable(req.namespace_name, claim)) continue;
      // Describe would name the Scale kind; the workload is what the user scaled.
      const std::string workload = req.resource.substr(0, req.resource.size() - 1) + " " +
                                   req.namespace_name + "/" + req.name;
      return Denied("scaling " + workload + " to " + std::to_string(want) + " replicas is "
                    "refused: its pod template declares persistentvolumeclaim " +
                    req.namespace_name + "/" + claim + " with a read-write source, and that claim "
                    "is fenced (failed over by plan " + Quote(PlanOf(req.namespace_name, claim)) +
                    "; the live copy is on the DR site), so its pods would write it. Set "
                    "persistentVolumeClaim.readOnly: true on that volume of the pod template, or "
                    "run the workload on the DR site");
    }
    if (req.resource == "statefulsets") {
      if (auto denied = ClaimTemplateCollision(req, req.name, w->claim_templates)) return *denied;
    }
    return Allowed("workload declares no fenced pvc read-write");
  }

  // A StatefulSet claims "<template>-<set>-<ordinal>"; one of those may be a fenced PVC.
  std::optional<Response> ClaimTemplateCollision(const Request& req, const std::string& set,
                                                 const std::vector<std::string>& templates) const {
    if (templates.empty()) return std::nullopt;
    std::vector<std::string> fenced = cache_->FencedPvcNames(req.namespace_name);
    for (const std::string& t : templates) {
      const std::string prefix = t + "-" + set + "-";
      for (const std::string& f : fenced) {
        if (f.size() > prefix.size() && StartsWith(f, prefix) &&
            f.find_first_not_of("0123456789", prefix.size()) == std::string::npos) {
          return Denied(OperationVerb(req.operation) + " " + Describe(req) + " is refused: its "
                        "volumeClaimTemplates " + Quote(t) + " would claim persistentvolumeclaim " +
                        req.namespace_name + "/" + f + " for a replica, and that claim is fenced "
                        "(failed over by plan " + Quote(PlanOf(req.namespace_name, f)) + "; the "
                        "live copy is on the DR site). Run the workload on the DR site, or rename "
                        "the claim template");
        }
      }
    }
    return std::nullopt;
  }

  // The namespace label is what sends a namespace's pods to this policy at all
  // (namespaceSelector), so it is guarded like the PVC label.
  Response HandleNamespace(const Request& req) const {
    if (req.operation != "UPDATE" || !req.sub_resource.empty()) {
      return Allowed("namespace " + ToLower(req.operation));
    }
    const std::string label(dr::kFencedLabel);
    if (Label(req.old_object(), label) != "true") return Allowed("namespace was not fenced");
    if (Label(req.object(), label) == "true") return Allowed("namespace stays fenced");
    const std::string& ns = req.name.empty() ? req.namespace_name : req.name;
    std::vector<std::string> fenced = cache_->FencedPvcNames(ns);
    if (fenced.empty()) return Allowed("namespace holds no fenced pvc");
    if (MayUnfence(req)) return Allowed("failback unfences the namespace");
    std::set<std::string> plans;
    std::string claims;
    for (const std::string& f : fenced) {
      claims += (claims.empty() ? "" : ", ") + f;
      plans.insert(PlanOf(ns, f));
    }
    std::string plan_list;
    for (const std::string& p : plans) plan_list += (plan_list.empty() ? "" : ", ") + Quote(p);
    const std::string change = HasLabel(req.object(), label) ? "changing" : "removing";
    return Denied(change + " the label " + label + " of namespace " + ns + " is refused: it holds "
                  "fenced persistentvolumeclaims (" + claims + ", failed over by plan " +
                  plan_list + "), and without the label their writable mounts are no longer "
                  "checked. Only kubectl dr failback (a Failback recovery running, as its user or the "
                  "service account " + dr_account_ + ") may unfence it; run kubectl dr failback");
  }

  const StateCache* const cache_;
  const std::string dr_namespace_;
  const std::string dr_account_;
};

}  // namespace

std::string DrServiceAccount(std::string_view dr_namespace) {
  return "system:serviceaccount:" + std::string(dr_namespace) + ":kubectl-dr";
}

std::unique_ptr<Policy> NewFencedPvcPolicy(const StateCache* cache, std::string dr_namespace) {
  return std::make_unique<FencedPvcPolicy>(cache, std::move(dr_namespace));
}

}  // namespace kdr::admission
