// Fenced inventory PVCs: the rules are documented at NewFencedPvcPolicy in policy.h.

#include <nlohmann/json.hpp>
#include <set>

#include "admission/cache.h"
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

// A fenced PVC a pod spec mounts writable, and through what.
struct WritableMount {
  std::string claim;
  std::string how;  // "container \"app\" mounts volume \"data\" without readOnly"
};

// Applies the rule in policy.h to one pod spec. `fenced` answers whether a claim is fenced.
template <typename IsFenced>
std::vector<WritableMount> WritableFencedMounts(const json& pod_spec, const IsFenced& fenced) {
  std::vector<WritableMount> out;
  const json* volumes = Find(pod_spec, "volumes");
  if (volumes == nullptr || !volumes->is_array()) return out;
  for (const json& vol : *volumes) {
    const json* pvc = Find(vol, "persistentVolumeClaim");
    if (pvc == nullptr) continue;
    const json* claim = Find(*pvc, "claimName");
    if (claim == nullptr || !claim->is_string()) continue;
    const std::string claim_name = claim->get<std::string>();
    if (!fenced(claim_name)) continue;
    if (IsTrue(Find(*pvc, "readOnly"))) continue;
    const json* vname = Find(vol, "name");
    const std::string volume = vname != nullptr && vname->is_string() ? vname->get<std::string>() : "";
    std::string how;
    for (const char* list : {"initContainers", "containers", "ephemeralContainers"}) {
      const json* containers = Find(pod_spec, list);
      if (containers == nullptr || !containers->is_array()) continue;
      for (const json& c : *containers) {
        const json* cname = Find(c, "name");
        const std::string container =
            cname != nullptr && cname->is_string() ? cname->get<std::string>() : "";
        if (const json* mounts = Find(c, "volumeMounts"); mounts != nullptr && mounts->is_array()) {
          for (const json& m : *mounts) {
            const json* mname = Find(m, "name");
            if (mname == nullptr || !mname->is_string() || *mname != volume) continue;
            if (!IsTrue(Find(m, "readOnly")) && how.empty()) {
              how = "container " + Quote(container) + " mounts volume " + Quote(volume) +
                    " without readOnly: true";
            }
          }
        }
        if (const json* devices = Find(c, "volumeDevices");
            devices != nullptr && devices->is_array()) {
          for (const json& d : *devices) {
            const json* dname = Find(d, "name");
            if (dname != nullptr && dname->is_string() && *dname == volume && how.empty()) {
              how = "container " + Quote(container) + " uses volume " + Quote(volume) +
                    " as a raw block device, which cannot be read-only per container";
            }
          }
        }
      }
    }
    if (!how.empty()) out.push_back({claim_name, std::move(how)});
  }
  return out;
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
    } else if (req.group.empty() && req.resource == "pods") {
      r = HandlePod(req);
    } else if (const json* spec = PodTemplateSpec(req); spec != nullptr) {
      r = HandleWorkload(req, *spec);
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
      if (req.username == dr_account_ && FailbackRunning()) {
        return Allowed("failback unfences the pvc");
      }
      const std::string change =
          HasLabel(new_obj, dr::kFailedOverLabel) ? "changing" : "removing";
      return Denied(change + " the label " + std::string(dr::kFailedOverLabel) +
                    " of persistentvolumeclaim " + ns_name + " is refused: only kubectl dr "
                    "failback (service account " + dr_account_ + " with a Failback recovery "
                    "running) may unfence an inventory volume failed over by plan " +
                    Quote(plan) + "; run kubectl dr failback");
    }
    return Allowed("metadata change of a fenced pvc");
  }

  bool FailbackRunning() const {
    return cache_->AnyRecovery(dr_namespace_, [](const dr::DRRecovery& r) {
      return r.spec.action == dr::RecoveryAction::kFailback &&
             r.status.phase == dr::RecoveryPhase::kRunning;
    });
  }

  std::vector<WritableMount> Writable(const Request& req, const json& pod_spec) const {
    const std::string& ns = req.namespace_name;
    return WritableFencedMounts(pod_spec, [&](const std::string& claim) {
      return cache_->FencedPvc(ns, claim) != nullptr;
    });
  }

  Response DenyMount(const Request& req, const WritableMount& m) const {
    auto pvc = cache_->FencedPvc(req.namespace_name, m.claim);
    std::string plan = pvc ? pvc->labels.at(std::string(dr::kFailedOverLabel)) : "";
    return Denied(OperationVerb(req.operation) + " " + Describe(req) +
                  " is refused: it mounts persistentvolumeclaim " + req.namespace_name + "/" +
                  m.claim + " writable (" + m.how + "), but that volume is fenced (failed over "
                  "by plan " + Quote(plan) + "; the live copy is on the DR site). Mount it with "
                  "readOnly: true (volumes[].persistentVolumeClaim.readOnly), or run the workload "
                  "on the DR site");
  }

  Response HandlePod(const Request& req) const {
    if (req.operation != "CREATE" && req.operation != "UPDATE") return Allowed("pod " + ToLower(req.operation));
    if (!req.sub_resource.empty() && req.sub_resource != "ephemeralcontainers") {
      return Allowed("pod subresource " + req.sub_resource);
    }
    if (!cache_->AnyFencedPvcIn(req.namespace_name)) return Allowed("no fenced pvc in namespace");
    const json* spec = Find(req.object(), "spec");
    if (spec == nullptr) return Allowed("pod without spec");
    std::vector<WritableMount> mounts = Writable(req, *spec);
    if (mounts.empty()) return Allowed("pod mounts no fenced pvc writable");
    if (req.operation == "UPDATE") {
      std::set<std::string> before;
      if (const json* old_spec = Find(req.old_object(), "spec")) {
        for (const auto& m : Writable(req, *old_spec)) before.insert(m.claim);
      }
      for (const auto& m : mounts) {
        if (!before.count(m.claim)) return DenyMount(req, m);
      }
      return Allowed("pod update adds no writable mount of a fenced pvc");
    }
    return DenyMount(req, mounts.front());
  }

  // The pod template spec of a known workload kind, or null (not a workload, or a subresource).
  static const json* PodTemplateSpec(const Request& req) {
    if (!req.sub_resource.empty()) return nullptr;
    const json& obj = req.object();
    if (req.group == "apps" || (req.group.empty() && req.resource == "replicationcontrollers")) {
      if (req.resource == "deployments" || req.resource == "statefulsets" ||
          req.resource == "daemonsets" || req.resource == "replicasets" ||
          req.resource == "replicationcontrollers") {
        return Path(obj, {"spec", "template", "spec"});
      }
    } else if (req.group == "batch") {
      if (req.resource == "jobs") return Path(obj, {"spec", "template", "spec"});
      if (req.resource == "cronjobs") {
        return Path(obj, {"spec", "jobTemplate", "spec", "template", "spec"});
      }
    }
    return nullptr;
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

  Response HandleWorkload(const Request& req, const json& pod_spec) const {
    if (req.operation != "CREATE" && req.operation != "UPDATE") return Allowed("workload " + ToLower(req.operation));
    if (!cache_->AnyFencedPvcIn(req.namespace_name)) return Allowed("no fenced pvc in namespace");
    if (!RunsPods(req)) return Allowed("workload scaled to zero or suspended");
    std::vector<WritableMount> mounts = Writable(req, pod_spec);
    if (!mounts.empty()) return DenyMount(req, mounts.front());
    if (req.resource == "statefulsets") {
      if (auto m = ClaimTemplateCollision(req)) return DenyMount(req, *m);
    }
    return Allowed("workload mounts no fenced pvc writable");
  }

  // A StatefulSet claims "<template>-<set>-<ordinal>"; one of those may be a fenced PVC.
  std::optional<WritableMount> ClaimTemplateCollision(const Request& req) const {
    const json* templates = Path(req.object(), {"spec", "volumeClaimTemplates"});
    if (templates == nullptr || !templates->is_array()) return std::nullopt;
    const json* set_name = Path(req.object(), {"metadata", "name"});
    std::string set = set_name != nullptr && set_name->is_string() ? set_name->get<std::string>() : req.name;
    std::vector<std::string> fenced = cache_->FencedPvcNames(req.namespace_name);
    for (const json& t : *templates) {
      const json* tname = Path(t, {"metadata", "name"});
      if (tname == nullptr || !tname->is_string()) continue;
      const std::string prefix = tname->get<std::string>() + "-" + set + "-";
      for (const std::string& f : fenced) {
        if (f.size() > prefix.size() && StartsWith(f, prefix) &&
            f.find_first_not_of("0123456789", prefix.size()) == std::string::npos) {
          return WritableMount{f, "volumeClaimTemplates " + Quote(tname->get<std::string>()) +
                                      " claims it for a replica"};
        }
      }
    }
    return std::nullopt;
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
