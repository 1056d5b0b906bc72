#include "inventory/sanitize.h"

#include <charconv>
#include <nlohmann/json.hpp>

#include "base/strings.h"
#include "inventory/sanitize_internal.h"
#include "kube/object.h"

namespace kdr::inventory {

using nlohmann::json;

namespace internal {

std::string GroupOf(const json& object) {
  std::string api_version = kube::StringField(object, {"apiVersion"});
  size_t slash = api_version.find('/');
  return slash == std::string::npos ? "" : api_version.substr(0, slash);
}

bool KindIn(std::string_view kinds, std::string_view kind) {
  if (kinds == "*") return true;
  // Every object meets every row: no allocation here.
  while (!kinds.empty()) {
    size_t comma = kinds.find(',');
    if (TrimSpace(kinds.substr(0, comma)) == kind) return true;
    if (comma == std::string_view::npos) break;
    kinds.remove_prefix(comma + 1);
  }
  return false;
}

bool GroupMatches(std::string_view want, const std::string& group) {
  return want == "*" || want == group;
}

}  // namespace internal

namespace {

using internal::GroupMatches;
using internal::GroupOf;
using internal::KindIn;

// ---- small helpers over captured objects ----------------------------------------------------

// The JSON object at object[k1][k2]..., or null when a step is missing or not an object.
json* ObjectAt(json& object, std::initializer_list<const char*> path) {
  json* cur = &object;
  for (const char* key : path) {
    if (!cur->is_object()) return nullptr;
    auto it = cur->find(key);
    if (it == cur->end()) return nullptr;
    cur = &*it;
  }
  return cur->is_object() ? cur : nullptr;
}

void EraseKeys(json* object, std::initializer_list<const char*> keys) {
  if (object == nullptr) return;
  for (const char* k : keys) object->erase(k);
}

// Erases `keys` from object[path] and then the map itself when it is left empty.
void EraseMapKeys(json& object, std::initializer_list<const char*> path,
                  std::initializer_list<const char*> keys) {
  json* map = ObjectAt(object, path);
  if (map == nullptr) return;
  EraseKeys(map, keys);
  if (map->empty()) {
    json* parent = &object;
    const char* last = nullptr;
    size_t i = 0;
    for (const char* key : path) {
      if (++i == path.size()) {
        last = key;
        break;
      }
      parent = &(*parent)[key];
    }
    if (last != nullptr) parent->erase(last);
  }
}

// ---- the sanitize table ---------------------------------------------------------------------

struct Ctx {
  const SanitizeOptions& options;
  const RestoreSet& set;
  const OwnerUidLookup& owner_uid;
  SanitizeOutcome* out;
};

struct Rule {
  std::string_view group;  // "*" = any
  SanitizeRow doc;
  void (*apply)(Ctx&, json&);
};

json& Meta(json& o) {
  if (!o["metadata"].is_object()) o["metadata"] = json::object();
  return o["metadata"];
}

void DropSystemFields(Ctx&, json& o) {
  EraseKeys(&Meta(o), {"uid", "creationTimestamp", "selfLink"});
}
void DropResourceVersion(Ctx&, json& o) { Meta(o).erase("resourceVersion"); }
void DropGeneration(Ctx&, json& o) { Meta(o).erase("generation"); }
void DropManagedFields(Ctx&, json& o) { Meta(o).erase("managedFields"); }
void DropDeletion(Ctx&, json& o) { EraseKeys(&Meta(o), {"deletionTimestamp", "deletionGracePeriodSeconds"}); }
void DropStatus(Ctx&, json& o) { o.erase("status"); }

void MapNamespace(Ctx& c, json& o) {
  json& meta = Meta(o);
  auto it = meta.find("namespace");
  if (it != meta.end() && it->is_string()) *it = TargetNamespace(c.options, it->get<std::string>());
}

void RewriteOwners(Ctx& c, json& o) {
  json& meta = Meta(o);
  if (!meta.contains("ownerReferences")) return;
  bool all_known = true;
  Result<json> refs = TargetOwnerReferences(c.set, c.owner_uid, o, &all_known);
  const json captured = meta["ownerReferences"];
  if (captured.is_array()) {
    for (const json& r : captured) {
      if (!r.is_object()) continue;
      const std::string uid = r.value("uid", "");
      if (c.set.FindByUid(uid) == nullptr) {
        c.out->notes.push_back("ownerReference to " + r.value("kind", "") + " " +
                               Quote(r.value("name", "")) + " dropped: the owner is not restored");
      } else if (!c.owner_uid || !c.owner_uid(uid)) {
        c.out->pending_owner_uids.push_back(uid);
      }
    }
  }
  if (!refs.ok() || refs->empty()) {
    meta.erase("ownerReferences");
  } else {
    meta["ownerReferences"] = std::move(*refs);
  }
}

void AddRecoveryLabel(Ctx& c, json& o) { kube::SetLabel(o, kRecoveryLabel, c.options.recovery); }

void NamespaceName(Ctx& c, json& o) {
  json& meta = Meta(o);
  const std::string name = TargetNamespace(c.options, meta.value("name", ""));
  meta["name"] = name;
  if (meta.contains("labels") && meta["labels"].is_object() &&
      meta["labels"].contains("kubernetes.io/metadata.name")) {
    meta["labels"]["kubernetes.io/metadata.name"] = name;
  }
}

void ServiceClusterIps(Ctx&, json& o) {
  json* spec = ObjectAt(o, {"spec"});
  if (spec == nullptr) return;
  if (spec->value("clusterIP", "") == "None") return;  // headless: kept, clusterIPs ["None"] too
  EraseKeys(spec, {"clusterIP", "clusterIPs"});
}

void ServiceHealthCheckNodePort(Ctx&, json& o) { EraseKeys(ObjectAt(o, {"spec"}), {"healthCheckNodePort"}); }

void ServiceNodePorts(Ctx& c, json& o) {
  if (c.options.keep_node_ports) return;
  json* spec = ObjectAt(o, {"spec"});
  if (spec == nullptr || !spec->contains("ports") || !(*spec)["ports"].is_array()) return;
  for (json& port : (*spec)["ports"]) {
    if (port.is_object()) port.erase("nodePort");
  }
}

void ServiceIpFamilies(Ctx& c, json& o) {
  if (!c.options.target_single_stack) return;
  EraseKeys(ObjectAt(o, {"spec"}), {"ipFamilies", "ipFamilyPolicy"});
}

void VolumeClaimRef(Ctx& c, json& o) {
  json* ref = ObjectAt(o, {"spec", "claimRef"});
  if (ref == nullptr) return;
  EraseKeys(ref, {"uid", "resourceVersion"});
  if (ref->contains("namespace") && (*ref)["namespace"].is_string()) {
    (*ref)["namespace"] = TargetNamespace(c.options, (*ref)["namespace"].get<std::string>());
  }
}

void VolumeBoundByController(Ctx&, json& o) {
  EraseMapKeys(o, {"metadata", "annotations"}, {"pv.kubernetes.io/bound-by-controller"});
}

void ClaimBindAnnotations(Ctx&, json& o) {
  EraseMapKeys(o, {"metadata", "annotations"},
               {"pv.kubernetes.io/bind-completed", "pv.kubernetes.io/bound-by-controller"});
}

void ClaimProvisionerAnnotations(Ctx&, json& o) {
  EraseMapKeys(o, {"metadata", "annotations"},
               {"volume.beta.kubernetes.io/storage-provisioner", "volume.kubernetes.io/storage-provisioner",
                "volume.kubernetes.io/selected-node"});
}

void ClaimVolumeName(Ctx& c, json& o) {
  json* spec = ObjectAt(o, {"spec"});
  if (spec == nullptr || !spec->value("volumeName", "").empty()) return;
  const VolumeMapEntry* entry = c.set.VolumeForClaim(kube::Namespace(o), kube::Name(o));
  if (entry == nullptr || entry->pv_name.empty() || !c.set.HasVolume(entry->pv_name)) return;
  (*spec)["volumeName"] = entry->pv_name;
  c.out->notes.push_back("spec.volumeName set to " + Quote(entry->pv_name) + " from the volume map");
}

void PodNodeName(Ctx&, json& o) { EraseKeys(ObjectAt(o, {"spec"}), {"nodeName"}); }
void PodPriority(Ctx&, json& o) { EraseKeys(ObjectAt(o, {"spec"}), {"priority", "preemptionPolicy"}); }
void PodEphemeralContainers(Ctx&, json& o) { EraseKeys(ObjectAt(o, {"spec"}), {"ephemeralContainers"}); }

void JobSelector(Ctx&, json& o) {
  if (kube::FieldAt(o, {"spec", "manualSelector"}) == true) return;
  EraseKeys(ObjectAt(o, {"spec"}), {"selector"});
  EraseMapKeys(o, {"spec", "template", "metadata", "labels"},
               {"controller-uid", "batch.kubernetes.io/controller-uid", "job-name",
                "batch.kubernetes.io/job-name"});
  EraseMapKeys(o, {"metadata", "labels"}, {"controller-uid", "batch.kubernetes.io/controller-uid"});
}

// The quiesce step's marks (dr/quiesce.h): what a stopped workload ran with before.
constexpr std::string_view kQuiescedReplicas = "dr.kubectl-dr.dev/replicas";
constexpr std::string_view kQuiescedRunStrategy = "dr.kubectl-dr.dev/run-strategy";

// A workload captured while quiesced (replicas 0 with the remembered count) comes back running
// as it ran before the quiesce: a failback's inventory is often captured after the DR site was
// quiesced. One scaled up by hand since then keeps its replicas; the mark goes either way.
void QuiescedReplicas(Ctx& c, json& o) {
  const json& mark = kube::FieldAt(o, {"metadata", "annotations", kQuiescedReplicas});
  if (!mark.is_string()) return;
  const std::string text = mark.get<std::string>();
  EraseMapKeys(o, {"metadata", "annotations"}, {kQuiescedReplicas.data()});
  const json& replicas = kube::FieldAt(o, {"spec", "replicas"});
  if (!replicas.is_number_integer() || replicas.get<int64_t>() != 0) return;
  int32_t remembered = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), remembered);
  if (ec != std::errc() || end != text.data() + text.size() || remembered < 0) {
    c.out->notes.push_back("annotation " + std::string(kQuiescedReplicas) + " " + Quote(text) +
                           " is not a replica count: restored at 0 replicas");
    return;
  }
  o["spec"]["replicas"] = remembered;
  c.out->notes.push_back("spec.replicas " + std::to_string(remembered) + " from annotation " +
                         std::string(kQuiescedReplicas) + " (captured quiesced)");
}

// The same for a KubeVirt VirtualMachine halted by the quiesce: "runStrategy=Always" or
// "running=true" (the older field).
void QuiescedRunStrategy(Ctx& c, json& o) {
  const json& mark = kube::FieldAt(o, {"metadata", "annotations", kQuiescedRunStrategy});
  if (!mark.is_string()) return;
  const std::string text = mark.get<std::string>();
  EraseMapKeys(o, {"metadata", "annotations"}, {kQuiescedRunStrategy.data()});
  json* spec = ObjectAt(o, {"spec"});
  if (spec == nullptr) return;
  const size_t eq = text.find('=');
  const std::string field = eq == std::string::npos ? "" : text.substr(0, eq);
  const std::string value = eq == std::string::npos ? "" : text.substr(eq + 1);
  if (field == "runStrategy" && !value.empty()) {
    if (spec->value("runStrategy", "") != "Halted") return;
    (*spec)["runStrategy"] = value;
  } else if (field == "running" && (value == "true" || value == "false")) {
    if (!spec->contains("running") || (*spec)["running"] != false) return;
    (*spec)["running"] = value == "true";
  } else {
    c.out->notes.push_back("annotation " + std::string(kQuiescedRunStrategy) + " " + Quote(text) +
                           " is not runStrategy=S or running=B: restored halted");
    return;
  }
  c.out->notes.push_back("spec." + field + " " + value + " from annotation " + std::string(kQuiescedRunStrategy) +
                         " (captured quiesced)");
}

void BindingSubjects(Ctx& c, json& o) {
  if (!o.contains("subjects") || !o["subjects"].is_array()) return;
  for (json& s : o["subjects"]) {
    if (s.is_object() && s.contains("namespace") && s["namespace"].is_string()) {
      s["namespace"] = TargetNamespace(c.options, s["namespace"].get<std::string>());
    }
  }
}

// Each row: the kube-apiserver or controller behaviour it answers, with the source. Rows apply in
// order; the recovery label comes last so no row can remove it.
const Rule kRules[] = {
    // apiserver rest.FillObjectMetaSystemFields: uid and creationTimestamp are replaced on create;
    // selfLink is no longer set (1.20+).
    {"*", {"*", "drop metadata.uid, creationTimestamp, selfLink", "assigned by the target on create"},
     DropSystemFields},
    // apiserver storage/etcd3/store.go Create: 500 "resourceVersion should not be set on objects
    // to be created".
    {"*", {"*", "drop metadata.resourceVersion", "create with it set is 500 on kube-apiserver"},
     DropResourceVersion},
    // Each strategy's PrepareForCreate sets generation 1.
    {"*", {"*", "drop metadata.generation", "the target counts its own generations"}, DropGeneration},
    // apiserver fieldmanager: server-side apply refuses them (400 "metadata.managedFields must be
    // nil"); on create the server records its own.
    {"*", {"*", "drop metadata.managedFields", "server-side apply refuses them (400)"}, DropManagedFields},
    // apiserver rest.BeforeCreate: an object is created alive.
    {"*", {"*", "drop metadata.deletionTimestamp, deletionGracePeriodSeconds", "an object is created alive"},
     DropDeletion},
    // Each strategy's PrepareForCreate resets status; what a status held is the source's.
    {"*", {"*", "drop status", "dropped on create; written through /status by controllers"}, DropStatus},
    // Drills restore into mapped namespaces; a create in a missing namespace is 404.
    {"*", {"*", "map metadata.namespace", "objects go to the mapped namespace"}, MapNamespace},
    // garbagecollector.go attemptToDeleteItem: a dependent whose owner uid is absent is deleted.
    {"*", {"*", "rewrite ownerReferences to restored owners' uids; drop others",
           "the garbage collector deletes dependents of a missing or different uid"},
     RewriteOwners},
    // Namespace strategy (1.21+) sets kubernetes.io/metadata.name to the name on create.
    {"", {"Namespace", "map metadata.name and kubernetes.io/metadata.name", "drills: the namespace is renamed"},
     NamespaceName},
    // Service REST allocator: 422 "already allocated" / "not in the valid range" /
    // "clusterIPs[0] must match clusterIP"; a headless "None" is fine.
    {"", {"Service", "drop spec.clusterIP, clusterIPs unless None", "the target allocates (422 otherwise)"},
     ServiceClusterIps},
    // Service REST allocator: 422 on a clash or on a type without external traffic policy Local.
    {"", {"Service", "drop spec.healthCheckNodePort", "the target allocates (422 on clash or type)"},
     ServiceHealthCheckNodePort},
    // Service REST port allocator: 422 "provided port is already allocated" / out of range.
    {"", {"Service", "drop spec.ports[].nodePort (keep_node_ports: keep)", "the target allocates (422)"},
     ServiceNodePorts},
    // Service validation on a single-stack cluster: 422 "not configured on this cluster".
    {"", {"Service", "drop ipFamilies, ipFamilyPolicy (target_single_stack)", "422 on a single-stack target"},
     ServiceIpFamilies},
    // pv_controller.go syncVolume: a claimRef uid that is not the claim's leaves the PV Released
    // and the claim Pending; namespace/name without uid pre-binds on both.
    {"", {"PersistentVolume", "drop spec.claimRef.uid, resourceVersion; map its namespace",
          "a stale claim uid leaves the PV Released"},
     VolumeClaimRef},
    // pv_controller.go: bound-by-controller marks a binding the controller may undo; the
    // restored binding is a user's pre-binding.
    {"", {"PersistentVolume", "drop annotation pv.kubernetes.io/bound-by-controller",
          "a pre-bound PV is the user's binding"},
     VolumeBoundByController},
    // pv_controller.go syncClaim: bind-completed with a PV whose claimRef uid differs is Lost
    // (ClaimMisbound), terminal.
    {"", {"PersistentVolumeClaim", "drop annotations pv.kubernetes.io/bind-completed, bound-by-controller",
          "a stale bind-completed makes the claim Lost"},
     ClaimBindAnnotations},
    // The PV controller and the scheduler write these for dynamic provisioning: a stale node or
    // provisioner sends provisioning to the source's.
    {"", {"PersistentVolumeClaim",
          "drop annotations volume.(beta.)kubernetes.io/storage-provisioner, selected-node",
          "they name the source's provisioner and node"},
     ClaimProvisionerAnnotations},
    // A claim without volumeName binds to any Available PV of its class that fits.
    {"", {"PersistentVolumeClaim", "set spec.volumeName from the volume map when missing",
          "else it may bind to the wrong PV"},
     ClaimVolumeName},
    // The source's node does not exist on the target: the pod would never run.
    {"", {"Pod", "drop spec.nodeName", "the source's node is not on the target"}, PodNodeName},
    // plugin/pkg/admission/priority: 403 when priority or preemptionPolicy is set and differs from
    // what the class gives; it computes both.
    {"", {"Pod", "drop spec.priority, preemptionPolicy", "Priority admission computes them (403)"},
     PodPriority},
    // pod validation ValidatePodCreate: 422 "ephemeralContainers: Forbidden: cannot be set on create".
    {"", {"Pod", "drop spec.ephemeralContainers", "cannot be set on create (422)"}, PodEphemeralContainers},
    // batch validation ValidateGeneratedSelector: 422 "must be '<new uid>'" unless manualSelector.
    {"batch", {"Job", "drop generated selector and controller-uid/job-name labels unless manualSelector",
               "the selector must name the new uid (422)"},
     JobSelector},
    // dr/quiesce.h: a capture taken after the quiesce (a failback's, on the DR site) holds the
    // workloads stopped; restored so, the application would stay down at the new primary.
    {"apps", {"Deployment, StatefulSet",
              "spec.replicas from annotation dr.kubectl-dr.dev/replicas when captured at 0; drop it",
              "captured quiesced: the workload runs again as before the quiesce"},
     QuiescedReplicas},
    {"kubevirt.io", {"VirtualMachine",
                     "spec.runStrategy (or running) from annotation dr.kubectl-dr.dev/run-strategy when halted; drop it",
                     "captured quiesced: the VM runs again as before the quiesce"},
     QuiescedRunStrategy},
    // Drills: subjects naming a mapped namespace follow it.
    {"rbac.authorization.k8s.io", {"RoleBinding, ClusterRoleBinding", "map subjects[].namespace",
                                   "service accounts moved with their namespace"},
     BindingSubjects},
    // The mutating webhook's objectSelector (DESIGN section 4): transforms apply as it is created.
    {"*", {"*", "add label dr.kubectl-dr.dev/recovery=<recovery>", "the webhook transforms it server-side"},
     AddRecoveryLabel},
};

std::string KeyOf(std::string_view ns, std::string_view name) {
  return std::string(ns) + "/" + std::string(name);
}

}  // namespace

std::string TargetNamespace(const SanitizeOptions& options, std::string_view source_namespace) {
  auto it = options.namespace_mapping.find(std::string(source_namespace));
  return it == options.namespace_mapping.end() ? std::string(source_namespace) : it->second;
}

RestoreSet::RestoreSet(const std::vector<json>& objects, const VolumeMap& volumes) {
  members_.reserve(objects.size());
  for (size_t i = 0; i < objects.size(); ++i) {
    const json& o = objects[i];
    Member m{kube::StringField(o, {"apiVersion"}), kube::Kind(o), kube::Namespace(o), kube::Name(o), i};
    const std::string uid = kube::Uid(o);
    if (!uid.empty()) by_uid_.emplace(uid, members_.size());
    if (m.kind == "Service" && GroupOf(o).empty()) {
      const json& selector = kube::FieldAt(o, {"spec", "selector"});
      if (selector.is_object() && !selector.empty()) selector_services_.insert(KeyOf(m.namespace_name, m.name));
    }
    if (m.kind == "PersistentVolume" && GroupOf(o).empty()) volumes_.insert(m.name);
    members_.push_back(std::move(m));
  }
  for (const VolumeMapEntry& v : volumes) {
    claim_volumes_[KeyOf(v.pvc_namespace, v.pvc_name)] = &v;
    if (!v.pv_name.empty()) pv_volumes_[v.pv_name] = &v;
  }
}

const RestoreSet::Member* RestoreSet::FindByUid(std::string_view uid) const {
  if (uid.empty()) return nullptr;
  auto it = by_uid_.find(std::string(uid));
  return it == by_uid_.end() ? nullptr : &members_[it->second];
}

bool RestoreSet::HasSelectorService(std::string_view ns, std::string_view name) const {
  return selector_services_.count(KeyOf(ns, name)) > 0;
}

bool RestoreSet::HasVolume(std::string_view name) const { return volumes_.count(std::string(name)) > 0; }

const VolumeMapEntry* RestoreSet::VolumeForClaim(std::string_view ns, std::string_view name) const {
  auto it = claim_volumes_.find(KeyOf(ns, name));
  return it == claim_volumes_.end() ? nullptr : it->second;
}

const VolumeMapEntry* RestoreSet::VolumeForPv(std::string_view pv_name) const {
  auto it = pv_volumes_.find(std::string(pv_name));
  return it == pv_volumes_.end() ? nullptr : it->second;
}

SanitizeOutcome Sanitize(const SanitizeOptions& options, const RestoreSet& set,
                         const OwnerUidLookup& owner_uid, json* object) {
  SanitizeOutcome out;
  const std::string group = GroupOf(*object);
  const std::string kind = kube::Kind(*object);
  Ctx ctx{options, set, owner_uid, &out};
  for (const Rule& rule : kRules) {
    if (GroupMatches(rule.group, group) && KindIn(rule.doc.kinds, kind)) rule.apply(ctx, *object);
  }
  return out;
}

Result<json> TargetOwnerReferences(const RestoreSet& set, const OwnerUidLookup& owner_uid,
                                   const json& captured, bool* all_known) {
  *all_known = true;
  json out = json::array();
  const json& refs = kube::FieldAt(captured, {"metadata", "ownerReferences"});
  if (refs.is_null()) return out;
  if (!refs.is_array()) {
    return Status::InvalidArgument("metadata.ownerReferences of " + kube::NamespacedName(captured) +
                                   " is not a list");
  }
  for (const json& r : refs) {
    if (!r.is_object()) continue;
    const std::string uid = r.value("uid", "");
    if (set.FindByUid(uid) == nullptr) continue;  // owner not restored: dropped
    std::optional<std::string> target = owner_uid ? owner_uid(uid) : std::nullopt;
    if (!target) {
      *all_known = false;
      continue;
    }
    json ref = r;
    ref["uid"] = *target;
    out.push_back(std::move(ref));
  }
  return out;
}

namespace {

// The size of object.dump() but for string escapes, without building the string (a dump per
// object costs as much as sanitizing it).
size_t EncodedSize(const json& v) {
  switch (v.type()) {
    case json::value_t::object: {
      size_t n = 2 + (v.empty() ? 0 : v.size() - 1);  // braces, commas
      for (auto it = v.begin(); it != v.end(); ++it) n += it.key().size() + 3 + EncodedSize(it.value());
      return n;
    }
    case json::value_t::array: {
      size_t n = 2 + (v.empty() ? 0 : v.size() - 1);
      for (const json& e : v) n += EncodedSize(e);
      return n;
    }
    case json::value_t::string: return v.get_ref<const std::string&>().size() + 2;
    case json::value_t::boolean: return v.get<bool>() ? 4 : 5;
    case json::value_t::null: return 4;
    case json::value_t::number_integer:
    case json::value_t::number_unsigned: {
      const int64_t i = v.get<int64_t>();
      uint64_t u = i < 0 ? 0 - static_cast<uint64_t>(i) : static_cast<uint64_t>(i);
      size_t n = i < 0 ? 2 : 1;
      while (u >= 10) u /= 10, ++n;
      return n;
    }
    default: return 24;  // a double: at most 24 characters
  }
}

}  // namespace

Status CheckSizeLimits(const json& object) {
  constexpr size_t kAnnotations = 256 << 10;  // apimachinery TotalAnnotationSizeLimitB
  constexpr size_t kData = 1 << 20;           // core.MaxSecretSize, for ConfigMaps too
  constexpr size_t kEtcd = 3 << 19;           // etcd's default --max-request-bytes, 1.5 MiB
  constexpr size_t kBody = 3 << 20;           // kube-apiserver's request body limit, 3 MiB
  const std::string what = kube::Kind(object) + " " + kube::NamespacedName(object);
  const json& annotations = kube::FieldAt(object, {"metadata", "annotations"});
  if (annotations.is_object()) {
    size_t total = 0;
    for (auto it = annotations.begin(); it != annotations.end(); ++it) {
      total += it.key().size() + (it->is_string() ? it->get_ref<const std::string&>().size() : 0);
    }
    if (total > kAnnotations) {
      return Status::InvalidArgument(what + ": metadata.annotations hold " + std::to_string(total) +
                                     " bytes, over kube-apiserver's limit of " + std::to_string(kAnnotations) +
                                     " (422); shorten them or the transforms that add them");
    }
  }
  const std::string kind = kube::Kind(object);
  if (GroupOf(object).empty() && (kind == "ConfigMap" || kind == "Secret")) {
    size_t total = 0;
    for (const char* field : {"data", "binaryData", "stringData"}) {
      const json& map = kube::FieldAt(object, {field});
      if (!map.is_object()) continue;
      for (const json& v : map) {
        if (!v.is_string()) continue;
        size_t n = v.get_ref<const std::string&>().size();
        // data of a Secret and binaryData are base64 in JSON; the limit counts decoded bytes.
        const bool base64 = std::string_view(field) == "binaryData" || (kind == "Secret" && std::string_view(field) == "data");
        total += base64 ? n / 4 * 3 : n;
      }
    }
    if (total > kData) {
      return Status::InvalidArgument(what + ": data holds " + std::to_string(total) +
                                     " bytes, over kube-apiserver's limit of " + std::to_string(kData) + " (422)");
    }
  }
  const size_t size = EncodedSize(object);
  const std::string group = GroupOf(object);
  // Custom resources are stored as JSON, so their JSON size meets etcd's limit; built-in types
  // are stored as protobuf (smaller), so only the request body limit applies to them.
  const bool custom = group.find('.') != std::string::npos && !EndsWith(group, ".k8s.io");
  if (custom && size > kEtcd) {
    return Status::InvalidArgument(what + " is " + std::to_string(size) + " bytes, over etcd's default " +
                                   "request limit of " + std::to_string(kEtcd) +
                                   " (kube-apiserver answers 500 \"etcdserver: request is too large\")");
  }
  if (size > kBody) {
    return Status::InvalidArgument(what + " is " + std::to_string(size) +
                                   " bytes, over kube-apiserver's request body limit of " +
                                   std::to_string(kBody) + " (413)");
  }
  return Status::Ok();
}

std::span<const SanitizeRow> SanitizeTable() {
  static const std::vector<SanitizeRow> rows = [] {  // immutable after first use
    std::vector<SanitizeRow> out;
    for (const Rule& r : kRules) out.push_back(r.doc);
    return out;
  }();
  return rows;
}

}  // namespace kdr::inventory
