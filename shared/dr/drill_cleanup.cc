#include "dr/drill_cleanup.h"

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "base/clock.h"
#include "base/strings.h"
#include "dr/agent_job.h"
#include "dr/drill_copies.h"
#include "dr/types.h"
#include "inventory/format.h"
#include "inventory/restore.h"
#include "kube/client.h"
#include "kube/discovery.h"
#include "kube/lease.h"
#include "kube/object.h"
#include "storage/registry.h"

namespace kdr::dr {
namespace {

using nlohmann::json;

const kube::Gvr kPlans{std::string(kGroup), std::string(kVersion), std::string(kPlanResource)};
const kube::Gvr kRecoveries{std::string(kGroup), std::string(kVersion), std::string(kRecoveryResource)};
const kube::Gvr kNamespaces{"", "v1", "namespaces"};
const kube::Gvr kVolumes{"", "v1", "persistentvolumes"};
const kube::Gvr kClaims{"", "v1", "persistentvolumeclaims"};
const kube::Gvr kJobs{"batch", "v1", "jobs"};

struct Found {
  kube::Gvr gvr;
  RemovedObject ref;
  int tier = 0;
};

RemovedObject RefOf(const json& o) {
  return {kube::StringField(o, {"apiVersion"}), kube::Kind(o), kube::Namespace(o), kube::Name(o)};
}

// Owned by a controller (a ReplicaSet of a Deployment, its pods): the garbage collector removes it
// with its owner, and deleting it first would only make the controller recreate it.
bool ControllerOwned(const json& o) {
  const json& refs = kube::FieldAt(o, {"metadata", "ownerReferences"});
  if (!refs.is_array()) return false;
  return std::any_of(refs.begin(), refs.end(), [](const json& r) { return r.is_object() && r.value("controller", false); });
}

class Cleanup {
 public:
  Cleanup(kube::Client& target, const Env& env, const DrillCleanupOptions& o, DrillCleanupReport* report,
          std::stop_token stop)
      : target_(target), env_(env), o_(o), report_(*report), stop_(std::move(stop)) {}

  Status Execute();

 private:
  Status Load();
  Status PrepareVolumes();
  Result<std::vector<kube::ApiResource>> Resources();
  Status Collect(const std::vector<kube::ApiResource>& resources, const std::string& ns, std::vector<Found>* out);
  Status Remove(const Found& f);
  Status RemoveAll(std::vector<Found> found);
  Status WaitGone(const kube::Gvr& gvr, const std::vector<std::string>& names, const std::string& what);
  Status RemoveDrillCopies();
  Status CollectAgentObjects(std::vector<Found>* out);
  std::string Selector() const { return std::string(kRecoveryLabel) + "=" + o_.recovery; }

  kube::Client& target_;
  const Env& env_;
  const DrillCleanupOptions& o_;
  DrillCleanupReport& report_;
  std::stop_token stop_;

  DRRecovery recovery_;
  std::optional<DRPlan> plan_;
  std::vector<std::string> namespaces_;  // the drill's target namespaces
  std::unique_ptr<storage::Driver> driver_;
  std::vector<storage::ConsistencyGroup> groups_;
  // The drill ran its agent as Jobs: its own inventory claim (or PV) is on the DR site.
  bool inventory_claim_ = false;
};

Status Cleanup::Load() {
  Result<json> obj = target_.Get(kRecoveries, o_.dr_namespace, o_.recovery);
  if (!obj.ok()) {
    if (obj.status().IsNotFound()) {
      return Status::NotFound("drrecovery " + Quote(o_.recovery) + " not found in namespace " + o_.dr_namespace +
                              " of the DR site: nothing to clean up (kubectl dr recovery list shows the drills)");
    }
    return obj.status().WithContext("reading drrecovery " + o_.dr_namespace + "/" + o_.recovery);
  }
  KDR_ASSIGN_OR_RETURN(recovery_, DRRecoveryFromJson(*obj));
  if (recovery_.spec.action != RecoveryAction::kTest) {
    return Status::FailedPrecondition("recovery " + Quote(o_.recovery) + " is a " +
                                      std::string(ToString(recovery_.spec.action)) +
                                      ", not a drill: drill cleanup removes only what a drill (a Test recovery) "
                                      "made; a " + std::string(ToString(recovery_.spec.action)) +
                                      "'s objects are the workloads it moved");
  }
  report_.plan = recovery_.spec.plan_name;
  Result<json> plan = target_.Get(kPlans, o_.dr_namespace, recovery_.spec.plan_name);
  if (plan.ok()) {
    KDR_ASSIGN_OR_RETURN(DRPlan p, DRPlanFromJson(*plan));
    plan_ = std::move(p);
  } else if (!plan.status().IsNotFound()) {
    return plan.status().WithContext("reading drplan " + recovery_.spec.plan_name);
  }
  std::vector<std::string> source = recovery_.spec.namespaces;
  if (source.empty() && plan_) source = plan_->spec.namespaces;
  if (source.empty()) {
    for (const auto& [from, to] : recovery_.spec.namespace_mapping) source.push_back(from);
  }
  for (const std::string& ns : source) {
    auto it = recovery_.spec.namespace_mapping.find(ns);
    namespaces_.push_back(it == recovery_.spec.namespace_mapping.end() ? ns : it->second);
  }
  return Status::Ok();
}

// The driver and the plan's storage groups, found before anything is removed: a cleanup that
// cannot find the drill copies stops before it starts.
Status Cleanup::PrepareVolumes() {
  if (!plan_) {
    report_.warnings.push_back("plan " + Quote(recovery_.spec.plan_name) + " is gone: its storage driver cannot "
                               "be asked for the drill copies of its volumes; remove them by hand if it made any");
    return Status::Ok();
  }
  storage::DriverOptions d;
  d.env = env_;
  d.target = &target_;
  KDR_ASSIGN_OR_RETURN(driver_, storage::NewDriver(*plan_, d));
  auto discover = [&](const inventory::VolumeMap& volumes) -> Status {
    Result<std::vector<storage::ConsistencyGroup>> groups =
        driver_->Discover(*plan_, volumes, storage::Deadline::After(*env_.clock, o_.timeout, stop_));
    if (!groups.ok()) return groups.status().WithContext(std::string(driver_->name()) + " storage");
    groups_ = std::move(*groups);
    return Status::Ok();
  };
  if (o_.inventory_path.empty()) {
    // Driver none makes no copies: a drill restores its claims unbound.
    if (plan_->spec.driver == StorageDriver::kNone) return Status::Ok();
    // A drill whose agent ran as Jobs: the agent recorded the volume map it read.
    if (recovery_.status.inventory) return discover(recovery_.status.inventory->volumes);
    return Status::FailedPrecondition("plan " + Quote(plan_->metadata.name) + " uses the " +
                                      std::string(ToString(plan_->spec.driver)) + " driver, whose drill copies of the volumes are "
                                      "found through the inventory's volume map: add --inventory-path DIR, the "
                                      "inventory the drill restored (nothing was removed)");
  }
  Result<inventory::Inventory> inv = inventory::Inventory::Open(*env_.fs, o_.inventory_path, o_.generation);
  if (!inv.ok()) return inv.status().WithContext("reading the inventory at " + o_.inventory_path);
  if (inv->index().plan.name != plan_->metadata.name) {
    return Status::FailedPrecondition("the inventory at " + o_.inventory_path + " was captured for plan " +
                                      Quote(inv->index().plan.name) + ", not " + Quote(plan_->metadata.name) +
                                      ": point --inventory-path at the inventory the drill restored");
  }
  return discover(inv->index().volumes);
}

// What a drill with its agent as Jobs (--agent job) left in the inventory claim's namespace,
// outside the drill's namespaces: an agent Job kept after it failed, and the drill's own
// inventory claim (its PV is labelled with the drill and goes with the cluster-scoped objects).
Status Cleanup::CollectAgentObjects(std::vector<Found>* out) {
  if (!plan_) return Status::Ok();
  const std::string& ns = plan_->spec.inventory_pvc_namespace;
  kube::ListOptions lo;
  lo.label_selector = std::string(kAgentRecoveryLabel) + "=" + o_.recovery;
  Result<json> jobs = target_.ListAll(kJobs, ns, lo);
  if (!jobs.ok() && !jobs.status().IsNotFound()) return jobs.status().WithContext("listing the agent's jobs in " + ns);
  if (jobs.ok()) {
    for (json& job : (*jobs)["items"]) {
      job["apiVersion"] = "batch/v1";
      job["kind"] = "Job";
      out->push_back({kJobs, RefOf(job), static_cast<int>(inventory::Tier::kWorkloads)});
    }
  }
  Result<json> claim = target_.Get(kClaims, ns, DrillInventoryClaimName(o_.recovery));
  if (!claim.ok()) {
    if (claim.status().IsNotFound()) return Status::Ok();
    return claim.status().WithContext("reading the drill's inventory claim");
  }
  if (kube::Label(*claim, kRecoveryLabel).value_or("") != o_.recovery) return Status::Ok();  // not the drill's
  (*claim)["apiVersion"] = "v1";
  (*claim)["kind"] = "PersistentVolumeClaim";
  out->push_back({kClaims, RefOf(*claim), static_cast<int>(inventory::Tier::kPersistentVolumeClaims)});
  inventory_claim_ = true;
  return Status::Ok();
}

// Every resource that can be listed and deleted, once per group and resource (the preferred
// version first), but namespaces and events (never restored).
Result<std::vector<kube::ApiResource>> Cleanup::Resources() {
  KDR_ASSIGN_OR_RETURN(std::vector<kube::ApiResource> all, target_.mapper().Resources());
  std::stable_sort(all.begin(), all.end(),
                   [](const kube::ApiResource& a, const kube::ApiResource& b) { return a.preferred && !b.preferred; });
  std::set<std::string> seen;
  std::vector<kube::ApiResource> out;
  auto has = [](const kube::ApiResource& r, std::string_view verb) {
    return std::find(r.verbs.begin(), r.verbs.end(), verb) != r.verbs.end();
  };
  for (kube::ApiResource& r : all) {
    if (!has(r, "list") || !has(r, "delete")) continue;
    if (r.gvr.resource == "events" || (r.gvr.group.empty() && r.gvr.resource == "namespaces")) continue;
    if (!seen.insert(r.gvr.group + "/" + r.gvr.resource).second) continue;
    out.push_back(std::move(r));
  }
  return out;
}

Status Cleanup::Collect(const std::vector<kube::ApiResource>& resources, const std::string& ns,
                        std::vector<Found>* out) {
  for (const kube::ApiResource& r : resources) {
    if (r.namespaced != !ns.empty()) continue;
    if (stop_.stop_requested()) return Status::Cancelled("drill cleanup stopped; run it again to finish");
    kube::ListOptions lo;
    lo.label_selector = Selector();
    Result<json> list = target_.ListAll(r.gvr, ns, lo);
    if (!list.ok()) {
      // A resource the server lists in discovery but cannot serve now (an aggregated API down)
      // holds nothing this cleanup can reach: say so and go on.
      if (list.status().IsNotFound() || list.status().code() == StatusCode::kUnavailable) {
        report_.warnings.push_back("cannot list " + r.gvr.resource + (ns.empty() ? "" : " in " + ns) + ": " +
                                   list.status().message());
        continue;
      }
      return list.status().WithContext("listing " + r.gvr.resource + (ns.empty() ? "" : " in namespace " + ns));
    }
    for (json& item : (*list)["items"]) {
      if (ControllerOwned(item)) continue;
      // Lists leave out apiVersion and kind on items.
      item["apiVersion"] = r.gvr.ApiVersion();
      item["kind"] = r.kind;
      out->push_back({r.gvr, RefOf(item), static_cast<int>(inventory::TierOf(r.gvr.group, r.kind))});
    }
  }
  return Status::Ok();
}

Status Cleanup::Remove(const Found& f) {
  if (o_.dry_run) {
    report_.removed.push_back(f.ref);
    return Status::Ok();
  }
  kube::DeleteOptions d;
  d.propagation_policy = "Background";
  Result<json> r = target_.Delete(f.gvr, f.ref.namespace_name, f.ref.name, d);
  if (!r.ok()) {
    if (r.status().IsNotFound()) return Status::Ok();  // gone already: an earlier run, the GC
    return r.status().WithContext("deleting " + f.ref.ToString());
  }
  report_.removed.push_back(f.ref);
  if (o_.on_removed) o_.on_removed(f.ref);
  return Status::Ok();
}

// In reverse restore order: workloads before the claims and configuration they use, a quota
// before anything, claims before their volumes.
Status Cleanup::RemoveAll(std::vector<Found> found) {
  std::stable_sort(found.begin(), found.end(), [](const Found& a, const Found& b) { return a.tier > b.tier; });
  for (const Found& f : found) {
    if (stop_.stop_requested()) return Status::Cancelled("drill cleanup stopped; run it again to finish");
    KDR_RETURN_IF_ERROR(Remove(f));
  }
  return Status::Ok();
}

Status Cleanup::WaitGone(const kube::Gvr& gvr, const std::vector<std::string>& names, const std::string& what) {
  if (o_.dry_run || names.empty()) return Status::Ok();
  const Clock::MonoTime until = env_.clock->Monotonic() + o_.timeout;
  std::vector<std::string> left = names;
  for (;;) {
    std::vector<std::string> still;
    for (const std::string& n : left) {
      Result<json> got = target_.Get(gvr, "", n);
      if (got.ok()) {
        still.push_back(n);
      } else if (!got.status().IsNotFound()) {
        return got.status().WithContext("waiting for " + what + " " + n + " to go");
      }
    }
    if (still.empty()) return Status::Ok();
    left = std::move(still);
    if (env_.clock->Monotonic() >= until) {
      return Status::DeadlineExceeded(what + " " + Join(left, ", ") + " still there after the timeout (a "
                                      "finalizer waits: kubectl get " + gvr.resource + " " + left.front() +
                                      " -o yaml); run the cleanup again later");
    }
    if (!env_.clock->SleepFor(std::chrono::seconds(1), stop_)) {
      return Status::Cancelled("drill cleanup stopped; run it again to finish");
    }
  }
}

Status Cleanup::RemoveDrillCopies() {
  for (const storage::ConsistencyGroup& cg : groups_) {
    // The inventory's volume is copied by a drill whose agent ran as Jobs only (drill_copies.h);
    // asked of every drill all the same (CleanupDrill is Ok when there is no copy), as a drill
    // stopped between its copy and its claim leaves a copy and no claim to tell of it.
    const bool listed = CopiedForDrill(cg, inventory_claim_ ? DrillCopies::kWithInventory : DrillCopies::kWorkloads);
    if (!o_.dry_run) {
      Status st = driver_->CleanupDrill(cg, storage::Deadline::After(*env_.clock, o_.timeout, stop_));
      if (!st.ok()) return st.WithContext("removing the drill copies of the " + std::string(storage::ToString(cg.role)) +
                                          " volumes");
    }
    if (!listed) continue;
    for (const storage::Volume& v : cg.volumes) report_.drill_volumes.push_back(v.pvc());
  }
  return Status::Ok();
}

Status Cleanup::Execute() {
  KDR_RETURN_IF_ERROR(Load());
  KDR_RETURN_IF_ERROR(PrepareVolumes());
  std::unique_ptr<kube::Lease> lease;
  if (!o_.dry_run && plan_) {
    kube::LeaseSpec ls{o_.dr_namespace, "kubectl-dr-plan-" + plan_->metadata.name, o_.holder, std::chrono::seconds(30)};
    KDR_ASSIGN_OR_RETURN(lease, kube::Lease::Acquire(&target_, ls, env_.clock));
    lease->KeepAlive(stop_);
  }
  KDR_ASSIGN_OR_RETURN(std::vector<kube::ApiResource> resources, Resources());

  // 1. The drill's objects in its namespaces, and which of those namespaces it created.
  std::vector<Found> namespaced;
  std::vector<std::string> created_namespaces;
  for (const std::string& ns : namespaces_) {
    Result<json> got = target_.Get(kNamespaces, "", ns);
    if (!got.ok()) {
      if (got.status().IsNotFound()) continue;
      return got.status().WithContext("reading namespace " + ns);
    }
    if (kube::Label(*got, kRecoveryLabel).value_or("") == o_.recovery) created_namespaces.push_back(ns);
    KDR_RETURN_IF_ERROR(Collect(resources, ns, &namespaced));
  }
  KDR_RETURN_IF_ERROR(CollectAgentObjects(&namespaced));
  KDR_RETURN_IF_ERROR(RemoveAll(std::move(namespaced)));

  // 2. The namespaces it created, gone before their claims' volumes are.
  for (const std::string& ns : created_namespaces) {
    KDR_RETURN_IF_ERROR(Remove({kNamespaces, {"v1", "Namespace", "", ns}, 0}));
  }
  KDR_RETURN_IF_ERROR(WaitGone(kNamespaces, created_namespaces, "namespace"));

  // 3. Cluster-scoped objects: labelled with the drill, or volumes of claims in its namespaces.
  std::vector<Found> cluster;
  KDR_RETURN_IF_ERROR(Collect(resources, "", &cluster));
  {
    Result<json> pvs = target_.ListAll(kVolumes, "");
    if (!pvs.ok()) return pvs.status().WithContext("listing persistentvolumes");
    std::set<std::string> labelled;
    for (const Found& f : cluster) {
      if (f.ref.kind == "PersistentVolume") labelled.insert(f.ref.name);
    }
    const std::set<std::string> created(created_namespaces.begin(), created_namespaces.end());
    for (json& pv : (*pvs)["items"]) {
      const std::string claim_ns = kube::StringField(pv, {"spec", "claimRef", "namespace"});
      if (!created.count(claim_ns) || labelled.count(kube::Name(pv))) continue;
      pv["apiVersion"] = "v1";
      pv["kind"] = "PersistentVolume";
      cluster.push_back({kVolumes, RefOf(pv), static_cast<int>(inventory::Tier::kPersistentVolumes)});
    }
  }
  std::vector<Found> removable;
  std::vector<std::string> volumes;
  for (Found& f : cluster) {
    if (f.ref.kind == "CustomResourceDefinition") {
      // Its objects would go with it, the drill's or not: kept while any remains.
      Result<json> crd = target_.Get(f.gvr, "", f.ref.name);
      if (!crd.ok()) continue;
      const std::string group = kube::StringField(*crd, {"spec", "group"});
      const std::string plural = kube::StringField(*crd, {"spec", "names", "plural"});
      std::string version;
      for (const json& v : kube::FieldAt(*crd, {"spec", "versions"})) {
        if (v.value("served", false)) version = v.value("name", "");
      }
      kube::ListOptions one;
      one.limit = 1;
      Result<json> objs = target_.List(kube::Gvr{group, version, plural}, "", one);
      if (objs.ok() && !(*objs)["items"].empty()) {
        report_.kept.push_back(f.ref.ToString() + ": objects of its kind remain (deleting it would delete them)");
        continue;
      }
    }
    if (f.ref.kind == "PersistentVolume") volumes.push_back(f.ref.name);
    removable.push_back(std::move(f));
  }
  KDR_RETURN_IF_ERROR(RemoveAll(std::move(removable)));

  // 4. The drill copies, once no PV of the drill names them.
  KDR_RETURN_IF_ERROR(WaitGone(kVolumes, volumes, "persistentvolume"));
  KDR_RETURN_IF_ERROR(RemoveDrillCopies());
  if (lease) return lease->Release();
  return Status::Ok();
}

}  // namespace

std::string RemovedObject::ToString() const {
  return kind + " " + (namespace_name.empty() ? name : namespace_name + "/" + name);
}

Status CleanupDrill(kube::Client& target, const Env& env, const DrillCleanupOptions& options,
                    DrillCleanupReport* report, std::stop_token stop) {
  if (report == nullptr) return Status::Internal("drill cleanup: no report to fill");
  if (options.recovery.empty()) return Status::InvalidArgument("the recovery's name is empty");
  if (env.clock == nullptr || env.fs == nullptr) return Status::Internal("the environment has no clock or file system");
  if (!options.dry_run && options.holder.empty()) return Status::InvalidArgument("the run's holder identity is empty");
  report->recovery = options.recovery;
  Cleanup c(target, env, options, report, std::move(stop));
  return c.Execute();
}

}  // namespace kdr::dr
