#pragma once

// Shared plumbing of the simulated controllers (controllers*.cc, longhorn*.cc): the reconciler
// interface the runner drives, and JSON helpers for Kubernetes objects.

#include <nlohmann/json.hpp>
#include <memory>
#include <chrono>
#include <set>
#include <stop_token>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "controllers.h"
#include "store.h"

namespace kdr::kubesim {

// One controller. The runner calls Observe for every store event (cheap: note what is dirty)
// and then Reconcile once the queue is drained, and Resync every resync_interval. All calls come
// from the controller's own thread.
class Reconciler {
 public:
  virtual ~Reconciler() = default;
  virtual std::string_view name() const = 0;
  virtual void Observe(const WatchEvent& event) = 0;
  virtual void Reconcile() = 0;
  // Marks everything dirty (periodic resync); Reconcile follows.
  virtual void Resync() = 0;
};

class ClusterView;

// Drives `r` on the calling thread until `stop`: Observe for every event of `resources` on `view`
// (every resource when empty, for an in-process view), Reconcile after each batch and every
// 50 ms, Resync every `resync`. A watch that fails or ends is started again.
void RunReconciler(std::stop_token stop, ClusterView* view, std::vector<GroupResource> resources,
                   Reconciler* r, std::chrono::milliseconds resync, Logger* logger);

std::unique_ptr<Reconciler> NewPvcController(Store* store, const ControllerOptions& options);
std::unique_ptr<Reconciler> NewWorkloadController(Store* store, const ControllerOptions& options);
std::unique_ptr<Reconciler> NewNamespaceController(Store* store, const ControllerOptions& options);

namespace ctl {

inline const GroupResource kPvcs{"", "persistentvolumeclaims"};
inline const GroupResource kPvs{"", "persistentvolumes"};
inline const GroupResource kPods{"", "pods"};
inline const GroupResource kStorageClasses{"storage.k8s.io", "storageclasses"};
inline const GroupResource kDeployments{"apps", "deployments"};
inline const GroupResource kReplicaSets{"apps", "replicasets"};
inline const GroupResource kStatefulSets{"apps", "statefulsets"};
inline const GroupResource kDaemonSets{"apps", "daemonsets"};
inline const GroupResource kJobs{"batch", "jobs"};
inline const GroupResource kLonghornVolumes{"longhorn.io", "volumes"};

// "ns/name" keys.
using Key = std::pair<std::string, std::string>;

inline std::string Str(const nlohmann::json& j, const nlohmann::json::json_pointer& p) {
  if (!j.contains(p)) return "";
  const auto& v = j.at(p);
  return v.is_string() ? v.get<std::string>() : "";
}
inline std::string Name(const nlohmann::json& o) { return Str(o, "/metadata/name"_json_pointer); }
inline std::string Ns(const nlohmann::json& o) { return Str(o, "/metadata/namespace"_json_pointer); }
inline std::string Uid(const nlohmann::json& o) { return Str(o, "/metadata/uid"_json_pointer); }
inline bool Deleting(const nlohmann::json& o) {
  return o.contains("metadata") && o["metadata"].contains("deletionTimestamp");
}
inline std::string Annotation(const nlohmann::json& o, const std::string& key) {
  if (!o.contains("metadata") || !o["metadata"].contains("annotations")) return "";
  const auto& a = o["metadata"]["annotations"];
  return a.is_object() && a.contains(key) && a[key].is_string() ? a[key].get<std::string>() : "";
}
inline long long Int(const nlohmann::json& j, const nlohmann::json::json_pointer& p,
                     long long fallback) {
  if (!j.contains(p)) return fallback;
  const auto& v = j.at(p);
  return v.is_number_integer() ? v.get<long long>() : fallback;
}

// The uid of the controller owner (ownerReferences with controller: true), or "".
inline std::string ControllerUid(const nlohmann::json& o) {
  if (!o.contains("metadata") || !o["metadata"].contains("ownerReferences")) return "";
  for (const auto& r : o["metadata"]["ownerReferences"]) {
    if (r.value("controller", false)) return r.value("uid", "");
  }
  return "";
}
inline std::string ControllerKind(const nlohmann::json& o) {
  if (!o.contains("metadata") || !o["metadata"].contains("ownerReferences")) return "";
  for (const auto& r : o["metadata"]["ownerReferences"]) {
    if (r.value("controller", false)) return r.value("kind", "");
  }
  return "";
}
inline std::string ControllerName(const nlohmann::json& o) {
  if (!o.contains("metadata") || !o["metadata"].contains("ownerReferences")) return "";
  for (const auto& r : o["metadata"]["ownerReferences"]) {
    if (r.value("controller", false)) return r.value("name", "");
  }
  return "";
}

inline nlohmann::json OwnerRef(const nlohmann::json& owner) {
  return {{"apiVersion", owner.value("apiVersion", "")},
          {"kind", owner.value("kind", "")},
          {"name", Name(owner)},
          {"uid", Uid(owner)},
          {"controller", true},
          {"blockOwnerDeletion", true}};
}

// Every object of gr in ns ("" = all namespaces); an unknown type lists nothing.
inline std::vector<nlohmann::json> ListAll(Store* store, const GroupResource& gr,
                                           const std::string& ns) {
  std::vector<nlohmann::json> out;
  ListOptions o;
  o.namespace_name = ns;
  auto r = store->List(gr, o);
  if (!r.ok()) return out;
  for (const auto& p : r->items) out.push_back(*p);
  return out;
}

// Sets status (the status subresource when the type has one) unless it is already equal.
// Conflicts are retried by Store::Modify.
inline Status WriteStatus(Store* store, const GroupResource& gr, const std::string& ns,
                          const std::string& name, const nlohmann::json& status) {
  auto t = store->registry()->Find(gr);
  WriteOptions wo;
  if (t && t->status_subresource) wo.subresource = "status";
  auto r = store->Modify(gr, ns, name,
                         [&](nlohmann::json* obj) {
                           (*obj)["status"] = status;
                           return Status::Ok();
                         },
                         wo);
  return r.ok() ? Status::Ok() : r.status();
}

// A short stable hash of text ([a-z0-9], 10 chars), like pod-template-hash.
inline std::string ShortHash(const std::string& text) {
  uint32_t h = 2166136261u;  // FNV-1a
  for (unsigned char c : text) {
    h ^= c;
    h *= 16777619u;
  }
  static constexpr std::string_view kAlphabet = "bcdfghjklmnpqrstvwxz2456789";
  std::string out;
  uint64_t v = h * 0x9e3779b97f4a7c15ULL;
  for (int i = 0; i < 10; ++i) {
    out.push_back(kAlphabet[v % kAlphabet.size()]);
    v /= kAlphabet.size();
    if (v == 0) v = h + i + 1;
  }
  return out;
}

}  // namespace ctl
}  // namespace kdr::kubesim
