// The persistent-volume binder, the pvc-protection and pv-protection controllers and a hostPath
// provisioner, as kube-controller-manager and an external provisioner would run them.
// Level-triggered: any change to claims, volumes, classes or Longhorn volumes re-examines every
// claim that is not Bound; any change to claims, volumes or pods re-examines what is being
// deleted.

#include <map>

#include "base/clock.h"
#include "base/log.h"
#include "base/strings.h"
#include "builtin_admission.h"
#include "cluster_view.h"
#include "controllers_internal.h"
#include "hpe_csi.h"
#include "longhorn.h"

namespace kdr::kubesim {
namespace {

using nlohmann::json;
using namespace ctl;

constexpr const char* kLonghornDriver = "driver.longhorn.io";
constexpr std::string_view kPvcProtection = "kubernetes.io/pvc-protection";
constexpr std::string_view kPvProtection = "kubernetes.io/pv-protection";
const GroupResource kEvents{"", "events"};

bool HasFinalizer(const json& o, std::string_view f) {
  for (const auto& x : o.value("/metadata/finalizers"_json_pointer, json::array())) {
    if (x == f) return true;
  }
  return false;
}

class PvcController : public Reconciler {
 public:
  PvcController(Store* store, const ControllerOptions& options)
      : store_(store), options_(options) {}

  std::string_view name() const override { return "pvc"; }

  void Observe(const WatchEvent& e) override {
    if (e.gr == kPvcs && e.type == EventType::kDeleted && e.object) {
      released_.push_back(*e.object);
      dirty_ = true;
    } else if (e.gr == kPvcs || e.gr == kPvs || e.gr == kStorageClasses ||
               e.gr == kLonghornVolumes) {
      dirty_ = true;
    }
    if (e.gr == kPvcs || e.gr == kPvs || e.gr == kPods) protection_dirty_ = true;
  }

  void Resync() override { dirty_ = protection_dirty_ = true; }

  void Reconcile() override {
    for (const auto& claim : released_) Release(claim);
    released_.clear();
    if (protection_dirty_) {
      protection_dirty_ = false;
      Protect();
    }
    if (!dirty_) return;
    dirty_ = false;
    std::set<std::string> pending;
    hpe_unreachable_ = Status::Ok();
    for (const auto& pvc : ListAll(store_, kPvcs, "")) {
      if (Deleting(pvc)) continue;
      if (Str(pvc, "/status/phase"_json_pointer) == "Bound" &&
          !Str(pvc, "/spec/volumeName"_json_pointer).empty()) {
        continue;
      }
      pending.insert(Uid(pvc));
      Status s = Bind(pvc);
      if (!s.ok() && options_.logger) {
        options_.logger->Warning("pvc binding failed", {{"pvc", Ns(pvc) + "/" + Name(pvc)},
                                                        {"error", s.message()}});
      }
    }
    // Forget what was reported about claims bound or gone since.
    std::erase_if(reported_, [&](const auto& r) { return !pending.contains(r.first); });
  }

 private:
  // A Longhorn CSI volume is usable for a claim only once active (not a standby DR volume); an
  // HPE CSI volume only while this cluster's array may write it (the primary side of its
  // remote-copy group), which a real cluster would learn when attaching it. A claim kept
  // Pending for the HPE volume is told why in an Event.
  bool VolumeUsable(const json& pv, const json& pvc) {
    const std::string driver = Str(pv, "/spec/csi/driver"_json_pointer);
    const std::string handle = Str(pv, "/spec/csi/volumeHandle"_json_pointer);
    if (driver == kLonghornDriver && options_.longhorn) {
      auto vol = store_->Get(kLonghornVolumes, options_.longhorn_namespace, handle);
      return vol.ok() && LonghornVolumeActive(*vol);
    }
    if (driver != kHpeCsiDriver || !options_.hpe_array) return true;
    const HpeArray& array = *options_.hpe_array;
    // One unreachable alletra-sim per pass, not one timeout per pending claim.
    Result<bool> writable = hpe_unreachable_.ok() ? array.Writable(handle) : Result<bool>(hpe_unreachable_);
    if (!writable.ok() && (writable.status().code() == StatusCode::kUnavailable ||
                           writable.status().code() == StatusCode::kDeadlineExceeded)) {
      hpe_unreachable_ = writable.status();
    }
    if (writable.ok() && *writable) return true;
    if (writable.ok()) {
      Report(pvc, "VolumeNotWritable",
             "volume " + Quote(handle) + " of persistentvolume " + Quote(Name(pv)) +
                 " is not writable on array " + array.array() +
                 ", this cluster's (a remote-copy secondary is read-only): the claim binds once "
                 "the volume is failed over to this array");
    } else {
      Report(pvc, "VolumeCheckFailed",
             "cannot tell whether volume " + Quote(handle) + " of persistentvolume " +
                 Quote(Name(pv)) + " is writable on array " + array.array() + ": " +
                 writable.status().message());
    }
    return false;
  }

  // A Warning Event on the claim, once per distinct reason and message (the resync re-checks
  // every few seconds; an event recorder would aggregate the repeats).
  void Report(const json& pvc, const std::string& reason, const std::string& message) {
    std::string& last = reported_[Uid(pvc)];
    if (last == reason + ": " + message) return;
    last = reason + ": " + message;
    const std::string now = FormatRfc3339(options_.clock->Now());
    json event = {
        {"apiVersion", "v1"},
        {"kind", "Event"},
        {"metadata",
         {{"name", Name(pvc) + "." + ShortHash(Uid(pvc) + last)}, {"namespace", Ns(pvc)}}},
        {"involvedObject",
         {{"apiVersion", "v1"},
          {"kind", "PersistentVolumeClaim"},
          {"namespace", Ns(pvc)},
          {"name", Name(pvc)},
          {"uid", Uid(pvc)},
          {"resourceVersion", Str(pvc, "/metadata/resourceVersion"_json_pointer)}}},
        {"reason", reason},
        {"message", message},
        {"type", "Warning"},
        {"count", 1},
        {"firstTimestamp", now},
        {"lastTimestamp", now},
        {"source", {{"component", std::string(kHpeCsiDriver)}}},
        {"reportingComponent", std::string(kHpeCsiDriver)}};
    auto made = store_->Create(kEvents, Ns(pvc), event);
    if (!made.ok() && options_.logger) {
      options_.logger->Warning("recording an event", {{"pvc", Ns(pvc) + "/" + Name(pvc)},
                                                      {"error", made.status().message()}});
    }
    if (options_.logger) {
      options_.logger->Info("pvc pending", {{"pvc", Ns(pvc) + "/" + Name(pvc)},
                                            {"reason", reason}});
    }
  }

  // The PV's claimRef names this claim (and, when it has a uid, this very claim).
  static bool ClaimRefMatches(const json& pv, const json& pvc) {
    if (!pv.contains("spec") || !pv["spec"].contains("claimRef")) return false;
    const json& ref = pv["spec"]["claimRef"];
    if (ref.value("namespace", "") != Ns(pvc) || ref.value("name", "") != Name(pvc)) return false;
    std::string uid = ref.value("uid", "");
    return uid.empty() || uid == Uid(pvc);
  }
  static bool ClaimedByOther(const json& pv, const json& pvc) {
    return pv.contains("spec") && pv["spec"].contains("claimRef") && !ClaimRefMatches(pv, pvc);
  }

  Status Bind(const json& pvc) {
    std::string volume = Str(pvc, "/spec/volumeName"_json_pointer);
    if (!volume.empty()) {
      auto pv = store_->Get(kPvs, "", volume);
      if (!pv.ok() || ClaimedByOther(*pv, pvc) || Deleting(*pv) || !VolumeUsable(*pv, pvc)) {
        return Status::Ok();  // stays Pending until the volume appears or becomes usable
      }
      return BindTo(pvc, *pv, false);
    }
    // A volume pre-bound to this claim by its claimRef (a restored PV).
    for (const auto& pv : ListAll(store_, kPvs, "")) {
      if (ClaimRefMatches(pv, pvc) && !Deleting(pv) &&
          Str(pv, "/status/phase"_json_pointer) != "Released") {
        if (!VolumeUsable(pv, pvc)) return Status::Ok();
        return BindTo(pvc, pv, true);
      }
    }
    // Dynamic provisioning.
    std::string class_name = Str(pvc, "/spec/storageClassName"_json_pointer);
    std::optional<json> sc;
    if (pvc.contains("spec") && pvc["spec"].contains("storageClassName") &&
        pvc["spec"]["storageClassName"].is_string()) {
      auto got = store_->Get(kStorageClasses, "", class_name);
      if (got.ok()) sc = *got;
    } else {
      for (const auto& c : ListAll(store_, kStorageClasses, "")) {
        if (Annotation(c, "storageclass.kubernetes.io/is-default-class") == "true") sc = c;
      }
    }
    if (!sc) return Status::Ok();
    std::string provisioner = sc->value("provisioner", "");
    bool ours = provisioner == kHostpathProvisioner ||
                Annotation(*sc, std::string(kProvisionAnnotation)) == "true";
    bool longhorn = provisioner == kLonghornDriver && options_.longhorn;
    if (!ours && !longhorn) return Status::Ok();
    return Provision(pvc, *sc, longhorn);
  }

  Status Provision(const json& pvc, const json& sc, bool longhorn) {
    std::string pv_name = "pvc-" + Uid(pvc);
    std::string provisioner = sc.value("provisioner", "");
    json storage = pvc.contains("/spec/resources/requests/storage"_json_pointer)
                       ? pvc.at("/spec/resources/requests/storage"_json_pointer)
                       : json("1Gi");
    json pv = {{"apiVersion", "v1"},
               {"kind", "PersistentVolume"},
               {"metadata",
                {{"name", pv_name},
                 {"annotations", {{"pv.kubernetes.io/provisioned-by", provisioner}}}}},
               {"spec",
                {{"capacity", {{"storage", storage}}},
                 {"accessModes", pvc["spec"].value("accessModes", json::array({"ReadWriteOnce"}))},
                 {"persistentVolumeReclaimPolicy", sc.value("reclaimPolicy", "Delete")},
                 {"storageClassName", Name(sc)},
                 {"volumeMode", pvc["spec"].value("volumeMode", "Filesystem")},
                 {"claimRef",
                  {{"kind", "PersistentVolumeClaim"},
                   {"apiVersion", "v1"},
                   {"namespace", Ns(pvc)},
                   {"name", Name(pvc)},
                   {"uid", Uid(pvc)}}}}}};
    if (longhorn) {
      json params = sc.value("parameters", json::object());
      StoreView view(store_);
      KDR_RETURN_IF_ERROR(CreateLonghornVolume(&view, options_.longhorn_namespace, pv_name,
                                               storage.is_string() ? storage.get<std::string>()
                                                                   : "1Gi",
                                               params));
      pv["spec"]["csi"] = {{"driver", kLonghornDriver},
                           {"volumeHandle", pv_name},
                           {"fsType", params.value("fsType", "ext4")},
                           {"volumeAttributes", params}};
    } else {
      pv["spec"]["hostPath"] = {{"path", "/var/lib/kubesim/volumes/" + pv_name},
                                {"type", "DirectoryOrCreate"}};
    }
    // A provisioner creates its volume through the API: admission adds pv-protection.
    auto created = CreateAdmitted(store_, kPvs, "", pv);
    if (!created.ok() && !created.status().IsAlreadyExists()) return created.status();
    auto stored = store_->Get(kPvs, "", pv_name);
    if (!stored.ok()) return stored.status();
    auto annotate = store_->Modify(kPvcs, Ns(pvc), Name(pvc), [&](json* obj) {
      auto& a = (*obj)["metadata"]["annotations"];
      if (!a.is_object()) a = json::object();
      a["volume.kubernetes.io/storage-provisioner"] = provisioner;
      a["volume.beta.kubernetes.io/storage-provisioner"] = provisioner;
      if (!(*obj)["spec"].contains("storageClassName")) {
        (*obj)["spec"]["storageClassName"] = Name(sc);
      }
      return Status::Ok();
    });
    if (!annotate.ok()) return annotate.status();
    return BindTo(*annotate, *stored, true);
  }

  // Binds both ways, as the binder does: PV claimRef then PV status, PVC volumeName then status.
  Status BindTo(const json& pvc, const json& pv, bool by_controller) {
    std::string pv_name = Name(pv);
    auto p = store_->Modify(kPvs, "", pv_name, [&](json* obj) {
      json& spec = (*obj)["spec"];
      if (!spec.contains("claimRef") || spec["claimRef"].value("uid", "") != Uid(pvc)) {
        spec["claimRef"] = {{"kind", "PersistentVolumeClaim"},
                            {"apiVersion", "v1"},
                            {"namespace", Ns(pvc)},
                            {"name", Name(pvc)},
                            {"uid", Uid(pvc)},
                            {"resourceVersion", Str(pvc, "/metadata/resourceVersion"_json_pointer)}};
        (*obj)["metadata"]["annotations"]["pv.kubernetes.io/bound-by-controller"] = "yes";
      }
      return Status::Ok();
    });
    if (!p.ok()) return p.status();
    json pv_status = p->value("status", json::object());
    pv_status["phase"] = "Bound";
    KDR_RETURN_IF_ERROR(WriteStatus(store_, kPvs, "", pv_name, pv_status));
    auto c = store_->Modify(kPvcs, Ns(pvc), Name(pvc), [&](json* obj) {
      (*obj)["spec"]["volumeName"] = pv_name;
      auto& a = (*obj)["metadata"]["annotations"];
      if (!a.is_object()) a = json::object();
      a["pv.kubernetes.io/bind-completed"] = "yes";
      if (by_controller) a["pv.kubernetes.io/bound-by-controller"] = "yes";
      return Status::Ok();
    });
    if (!c.ok()) return c.status();
    json status = c->value("status", json::object());
    status["phase"] = "Bound";
    status["accessModes"] = pv["spec"].value("accessModes", json::array({"ReadWriteOnce"}));
    status["capacity"] = pv["spec"].value("capacity", json::object());
    Status s = WriteStatus(store_, kPvcs, Ns(pvc), Name(pvc), status);
    if (s.ok() && options_.logger) {
      options_.logger->Info("pvc bound", {{"pvc", Ns(pvc) + "/" + Name(pvc)}, {"pv", pv_name}});
    }
    return s;
  }

  // A deleted claim releases its volume (Released, claimRef kept); then Delete removes it (and
  // its Longhorn volume) while Retain keeps it, as Kubernetes does. Once Released the volume is
  // no longer in use, so its pv-protection finalizer goes at once.
  void Release(const json& claim) {
    for (const auto& pv : ListAll(store_, kPvs, "")) {
      if (Str(pv, "/spec/claimRef/uid"_json_pointer) != Uid(claim) || Uid(claim).empty()) continue;
      json status = pv.value("status", json::object());
      status["phase"] = "Released";
      (void)WriteStatus(store_, kPvs, "", Name(pv), status);
      if (Str(pv, "/spec/persistentVolumeReclaimPolicy"_json_pointer) == "Delete") {
        if (options_.longhorn && Str(pv, "/spec/csi/driver"_json_pointer) == kLonghornDriver) {
          (void)store_->Delete(kLonghornVolumes, options_.longhorn_namespace,
                               Str(pv, "/spec/csi/volumeHandle"_json_pointer));
        }
        (void)store_->Delete(kPvs, "", Name(pv));
        RemoveFinalizer(kPvs, "", Name(pv), kPvProtection);
      }
    }
  }

  // kube-controller-manager's pvc-protection controller (a claim is in use while a scheduled pod
  // of its namespace mounts it, whatever the pod's phase) and pv-protection controller (a volume
  // is in use while Bound): the finalizer of a deleted object goes once nothing uses it.
  void Protect() {
    std::vector<json> pods;
    for (const auto& pvc : ListAll(store_, kPvcs, "")) {
      if (!Deleting(pvc) || !HasFinalizer(pvc, kPvcProtection)) continue;
      if (pods.empty()) pods = ListAll(store_, kPods, "");
      bool used = false;
      for (const auto& p : pods) {
        if (Ns(p) != Ns(pvc) || Str(p, "/spec/nodeName"_json_pointer).empty()) continue;
        for (const auto& v : p.value("/spec/volumes"_json_pointer, json::array())) {
          used = used || Str(v, "/persistentVolumeClaim/claimName"_json_pointer) == Name(pvc);
        }
      }
      if (!used) RemoveFinalizer(kPvcs, Ns(pvc), Name(pvc), kPvcProtection);
    }
    for (const auto& pv : ListAll(store_, kPvs, "")) {
      if (Deleting(pv) && HasFinalizer(pv, kPvProtection) &&
          Str(pv, "/status/phase"_json_pointer) != "Bound") {
        RemoveFinalizer(kPvs, "", Name(pv), kPvProtection);
      }
    }
  }

  void RemoveFinalizer(const GroupResource& gr, const std::string& ns, const std::string& name,
                       std::string_view finalizer) {
    auto r = store_->Modify(gr, ns, name, [&](json* obj) {
      json kept = json::array();
      for (const auto& f : obj->value("/metadata/finalizers"_json_pointer, json::array())) {
        if (f != finalizer) kept.push_back(f);
      }
      (*obj)["metadata"]["finalizers"] = kept;
      return Status::Ok();
    });
    // NotFound: already gone, which is what the finalizer was waiting for.
    if (!r.ok() && !r.status().IsNotFound() && options_.logger) {
      options_.logger->Warning("removing finalizer", {{"object", gr.String() + " " + ns + "/" + name},
                                                       {"error", r.status().message()}});
    }
  }

  Store* const store_;
  const ControllerOptions options_;
  bool dirty_ = true;
  bool protection_dirty_ = true;
  std::vector<json> released_;
  std::map<std::string, std::string> reported_;  // claim uid -> the last Event's reason: message
  Status hpe_unreachable_;  // set once alletra-sim did not answer in this pass
};

}  // namespace

std::unique_ptr<Reconciler> NewPvcController(Store* store, const ControllerOptions& options) {
  return std::make_unique<PvcController>(store, options);
}

}  // namespace kdr::kubesim
