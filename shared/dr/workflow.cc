#include "dr/workflow.h"

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <utility>

#include "base/strings.h"
#include "dr/agent_restore.h"
#include "dr/agent_run.h"
#include "dr/drill_copies.h"
#include "dr/fence.h"
#include "dr/inventory_volume.h"
#include "dr/journal.h"
#include "dr/quiesce.h"
#include "dr/recovery_volumes.h"
#include "dr/readiness.h"
#include "dr/verify.h"
#include "inventory/format.h"
#include "inventory/replace_volume.h"
#include "kube/client.h"
#include "kube/lease.h"
#include "kube/object.h"
#include "storage/registry.h"

namespace kdr::dr {
namespace {

using nlohmann::json;

const kube::Gvr kPlans{std::string(kGroup), std::string(kVersion), std::string(kPlanResource)};
const kube::Gvr kRecoveries{std::string(kGroup), std::string(kVersion), std::string(kRecoveryResource)};
const kube::Gvr kClaims{"", "v1", "persistentvolumeclaims"};
const kube::Gvr kVolumes{"", "v1", "persistentvolumes"};
const kube::Gvr kNamespaces{"", "v1", "namespaces"};
const kube::Gvr kLeases{"coordination.k8s.io", "v1", "leases"};
const kube::Gvr kJobs{"batch", "v1", "jobs"};

std::string LeaseName(const DRPlan& plan) { return "kubectl-dr-plan-" + plan.metadata.name; }

// One run: the state every step reads, rebuilt at the start of each run (each piece is cheap and
// idempotent to rebuild), and the journal written after every change.
class Run {
 public:
  Run(kube::Client& target, kube::Client* source, const Env& env, const WorkflowOptions& o,
      WorkflowReport* report, std::stop_token stop)
      : target_(target), source_(source), env_(env), o_(o), report_(report), stop_(std::move(stop)) {}

  Status Execute();
  // PlanRecovery: reads only.
  Status DryRun(DryRunReport* d);

 private:
  std::optional<std::string> LiveLeaseHolder();
  PlannedStep Planned(std::string_view name, const DryRunReport& d) const;
  Status Load();
  Status Prepare();
  Status PrepareForJob();
  Status DiscoverGroups(const inventory::VolumeMap& volumes);
  bool job() const { return o_.agent == WorkflowOptions::Agent::kJob; }
  Status SaveStatus();
  Status RunStep(std::string_view name);
  Status Step(std::string_view name, std::string* message, bool* skipped);
  void Warn(std::string message);
  storage::Deadline Deadline() const { return storage::Deadline::After(*env_.clock, o_.timeout, stop_); }
  std::vector<std::string> Namespaces() const {
    return recovery_.spec.namespaces.empty() ? plan_.spec.namespaces : recovery_.spec.namespaces;
  }
  std::vector<std::string> TargetNamespaces() const {
    std::vector<std::string> out;
    for (const std::string& n : Namespaces()) {
      auto it = recovery_.spec.namespace_mapping.find(n);
      out.push_back(it == recovery_.spec.namespace_mapping.end() ? n : it->second);
    }
    return out;
  }
  // The groups of a role, in discovery order: the inventory has one; the workloads one per
  // backend group (an Alletra remote-copy group each).
  std::vector<const storage::ConsistencyGroup*> Groups(storage::CgRole role) const {
    std::vector<const storage::ConsistencyGroup*> out;
    for (const auto& cg : groups_) {
      if (cg.role == role) out.push_back(&cg);
    }
    return out;
  }
  static size_t VolumeCount(const std::vector<const storage::ConsistencyGroup*>& groups) {
    size_t n = 0;
    for (const auto* cg : groups) n += cg->volumes.size();
    return n;
  }

  Status Preflight(std::string* message);
  Status QuiesceSource(std::string* message, bool* skipped);
  Status SyncGroup(storage::CgRole role, std::string* message, bool* skipped);
  Status SpendPlan(std::string* message);
  Status FailoverGroup(storage::CgRole role, std::string* message, bool* skipped);
  Status RestoreInventoryVolume(std::string* message, bool* skipped);
  Status RestoreDrillInventoryVolume(std::string* message);
  // The PV named `name` as the inventory (or, --agent job, the inventory's own volume) holds it;
  // null when it holds none.
  json CapturedPv(const std::string& name) const {
    for (const json& obj : input_.objects) {
      if (kube::StringField(obj, {"kind"}) == "PersistentVolume" && kube::StringField(obj, {"metadata", "name"}) == name) {
        return obj;
      }
    }
    return nullptr;
  }
  // A drill's copies: the inventory's too when the agent runs as Jobs (drill_copies.h).
  DrillCopies drill_copies() const { return job() ? DrillCopies::kWithInventory : DrillCopies::kWorkloads; }
  bool drill() const { return recovery_.spec.action == RecoveryAction::kTest; }
  // Warns of every workload drill copy that holds no data (driver none); returns how many copies.
  size_t WarnCopiesWithoutData();
  Status PrepareDrill(std::string* message);
  Status RestoreObjects(std::string* message);
  Status StartAgent(std::string* message);
  Status RestoreObjectsByAgent(std::string* message);
  Result<json> AgentJob(const AgentIdentity& id, bool describe);
  Status EnsureClaimNamespace(const std::string& name);
  Result<AgentJobRun> RunAgent(bool describe, std::function<void()> on_poll);
  Result<DRRecovery> ReadRecovery();
  Status FenceSource(std::string* message, bool* skipped);
  Status RecoverGroups(storage::CgRole role, std::string* message, bool* skipped);
  Status RestoreGroups(storage::CgRole role, std::string* message, bool* skipped);
  Status UnfenceTarget(std::string* message);
  bool failback() const { return recovery_.spec.action == RecoveryAction::kFailback; }
  std::string RecordRunner();
  Status Verify(std::string* message, bool* skipped);
  ObjectRestoreOptions ObjectRestoreOptionsFor() const;
  void FillReport();

  kube::Client& target_;
  kube::Client* source_;
  const Env& env_;
  const WorkflowOptions& o_;
  WorkflowReport* report_;
  std::stop_token stop_;

  DRRecovery recovery_;
  DRPlan plan_;
  std::optional<inventory::Inventory> inventory_;
  inventory::RestoreInput input_;
  std::unique_ptr<storage::Driver> driver_;
  std::vector<storage::ConsistencyGroup> groups_;
  // The groups as discovered (in a drill, groups_ holds the copies PrepareDrill made of them).
  std::vector<storage::ConsistencyGroup> live_groups_;
  std::map<std::string, std::chrono::nanoseconds> elapsed_;
  // When this run started the recovery and finished it (unset: an earlier run did, or none yet).
  std::optional<Clock::WallTime> started_, finished_;
  // The agent Job the step in flight ran to success ("namespace/name"), deleted once the journal
  // records the step: until then a rerun reads its result from it.
  std::string succeeded_job_;
};

void Run::Warn(std::string message) {
  report_->warnings.push_back(message);
  if (o_.on_event) o_.on_event({WorkflowEvent::Kind::kWarning, "", StepState::kRunning, std::move(message), {}});
}

Status Run::Load() {
  Result<json> obj = target_.Get(kRecoveries, o_.dr_namespace, o_.recovery);
  if (!obj.ok()) {
    if (obj.status().IsNotFound()) {
      return Status::NotFound("drrecovery " + Quote(o_.recovery) + " not found in namespace " + o_.dr_namespace +
                              " of the target; create it first: kubectl dr recovery create " + o_.recovery +
                              " --plan PLAN");
    }
    return obj.status().WithContext("reading drrecovery " + o_.dr_namespace + "/" + o_.recovery);
  }
  KDR_ASSIGN_OR_RETURN(recovery_, DRRecoveryFromJson(*obj));
  Result<json> plan = target_.Get(kPlans, o_.dr_namespace, recovery_.spec.plan_name);
  if (!plan.ok()) return plan.status().WithContext("reading drplan " + recovery_.spec.plan_name);
  KDR_ASSIGN_OR_RETURN(plan_, DRPlanFromJson(*plan));
  report_->recovery = o_.recovery;
  report_->plan = plan_.metadata.name;
  report_->action = recovery_.spec.action;
  return Status::Ok();
}

// What every step reads, rebuilt at each run: the inventory, the driver and the storage groups.
Status Run::Prepare() {
  Result<inventory::Inventory> inv = inventory::Inventory::Open(*env_.fs, o_.inventory_path, o_.generation);
  if (!inv.ok()) return inv.status().WithContext("reading the inventory at " + o_.inventory_path);
  inventory_.emplace(std::move(*inv));
  const inventory::Index& index = inventory_->index();
  if (index.plan.name != plan_.metadata.name) {
    return Status::FailedPrecondition("the inventory at " + o_.inventory_path + " was captured for plan " +
                                      Quote(index.plan.name) + ", not " + Quote(plan_.metadata.name) +
                                      ": point --inventory-path at this plan's inventory");
  }
  report_->inventory_captured_at = FormatRfc3339(index.capture_end);
  report_->inventory_generation = index.generation;
  KDR_ASSIGN_OR_RETURN(input_, inventory::ReadRestoreInput(*inventory_));
  return DiscoverGroups(index.volumes);
}

Status Run::DiscoverGroups(const inventory::VolumeMap& volumes) {
  if (driver_ == nullptr) {
    storage::DriverOptions d;
    d.env = env_;
    d.source = source_;
    d.target = &target_;
    KDR_ASSIGN_OR_RETURN(driver_, storage::NewDriver(plan_, d));
  }
  // A subset recovery moves its own namespaces' volumes only (and the inventory's).
  KDR_ASSIGN_OR_RETURN(inventory::VolumeMap moved, RecoveryVolumes(volumes, Namespaces()));
  Result<std::vector<storage::ConsistencyGroup>> groups = driver_->Discover(plan_, moved, Deadline());
  if (!groups.ok()) return groups.status().WithContext(std::string(driver_->name()) + " storage");
  groups_ = std::move(*groups);
  live_groups_ = groups_;
  for (const auto& cg : groups_) {
    for (const std::string& w : cg.warnings) Warn(w);
  }
  return Status::Ok();
}

// --agent job: the inventory is on its volume, readable by the agent once that volume is failed
// over and restored. Until the agent has read it (StartAgent, recorded in status.inventory), the
// only volume known is the inventory's own: from the source when it answers (the freshest), else
// as `kubectl dr agent install` recorded it in the plan. input_ then holds that volume alone, which
// is all RestoreInventoryVolume reads of it.
Status Run::PrepareForJob() {
  if (recovery_.status.inventory) {
    const RecoveryInventory& ri = *recovery_.status.inventory;
    report_->inventory_captured_at = ri.captured_at;
    report_->inventory_generation = ri.generation;
    return DiscoverGroups(ri.volumes);
  }
  std::string from_source;
  if (source_ != nullptr) {
    Result<inventory::RestoreInput> live = ReadInventoryVolume(*source_, plan_);
    if (live.ok()) {
      input_ = std::move(*live);
      return DiscoverGroups(input_.volumes);
    }
    from_source = live.status().message();
  }
  Result<json> plan = target_.Get(kPlans, o_.dr_namespace, plan_.metadata.name);
  if (!plan.ok()) return plan.status().WithContext("reading drplan " + plan_.metadata.name);
  Result<inventory::RestoreInput> recorded = RecordedInventoryVolume(*plan);
  if (!recorded.ok()) {
    if (!recorded.status().IsNotFound()) return recorded.status().WithContext("drplan " + plan_.metadata.name);
    return Status::FailedPrecondition(
        "the agent runs on the target (--agent job) and reads the inventory from its volume, which must be restored "
        "there first; the source " +
        (source_ == nullptr ? "does not answer" : "cannot say which volume it is (" + from_source + ")") +
        " and plan " + Quote(plan_.metadata.name) + " records none: record it while the source answers (kubectl dr "
        "--context " + plan_.spec.target_context + " agent install --plan " + plan_.metadata.name +
        "), or run the agent here: --agent local --inventory-path DIR");
  }
  if (source_ != nullptr) Warn("the source cannot say which volume holds the inventory (" + from_source +
                               "): using the one drplan " + plan_.metadata.name + " records");
  input_ = std::move(*recorded);
  return DiscoverGroups(input_.volumes);
}

Status Run::SaveStatus() {
  recovery_.status.type = "DISASTER_RECOVERY";
  for (int attempt = 0; attempt < 5; ++attempt) {
    Result<json> cur = target_.Get(kRecoveries, o_.dr_namespace, o_.recovery);
    if (!cur.ok()) return cur.status().WithContext("reading drrecovery " + o_.recovery + " to record its journal");
    json next = ToJson(recovery_);
    (*cur)["status"] = next.value("status", json::object());
    Result<json> r = target_.UpdateStatus(kRecoveries, o_.dr_namespace, *cur);
    if (r.ok()) return Status::Ok();
    if (r.status().code() != StatusCode::kAborted) {
      return r.status().WithContext("recording the journal of drrecovery " + o_.recovery);
    }
  }
  return Status::Aborted("the status of drrecovery " + o_.recovery + " kept changing under this run");
}

Status Run::Preflight(std::string* message) {
  KDR_RETURN_IF_ERROR(CheckPlanNotSpent(plan_, o_.recovery));
  // Restored objects are transformed, and the old primary fenced, by the webhook: it must be there
  // and answering the target's API server, not merely configured.
  KDR_RETURN_IF_ERROR(CheckWebhook(target_, o_.dr_namespace, plan_.metadata.name, "target", plan_.spec.target_context));
  // The agent's identity before the point of no return, where installing it is still simple.
  if (job()) KDR_RETURN_IF_ERROR(CheckAgentIdentity(target_, plan_).status());
  if (failback() && source_ == nullptr) {
    return Status::FailedPrecondition("a failback needs both sites, and its source (the DR site, context " +
                                      plan_.spec.source_context + ") cannot be reached: its workloads must be "
                                      "quiesced and its storage must replicate back before anything moves");
  }
  std::vector<std::string> states;
  for (const auto& cg : groups_) {
    Result<storage::CgState> st = driver_->State(cg, Deadline());
    if (!st.ok()) return st.status().WithContext(std::string(storage::ToString(cg.role)) + " storage group");
    if (failback() && st->replication == storage::Replication::kUnknown) {
      return Status::FailedPrecondition("a failback needs both sites' storage, and the " +
                                        std::string(storage::ToString(cg.role)) + " group " + Quote(cg.name) +
                                        " cannot be read: " + st->backend);
    }
    states.push_back(std::string(storage::ToString(cg.role)) + ": " + std::string(storage::ToString(st->replication)) +
                     (st->backend.empty() ? "" : " (" + st->backend + ")"));
    if (st->last_sync) report_->storage_last_sync = FormatRfc3339(*st->last_sync);
  }
  if (job()) {
    // No inventory here to compare the target with: the agent lists the conflicts when it has read
    // it (StartAgent), before anything is restored.
    *message = (report_->inventory_captured_at.empty()
                    ? std::string("the inventory is read by the agent on the target (--agent job)")
                    : "inventory generation " + std::to_string(report_->inventory_generation) + " captured " +
                          report_->inventory_captured_at) +
               "; " + Join(states, "; ") + "; conflicts are listed by the agent once it reads the inventory";
    return Status::Ok();
  }
  inventory::RestoreOptions ro = RecoveryRestoreOptions(plan_, recovery_, ObjectRestoreOptionsFor());
  Result<std::vector<inventory::Conflict>> conflicts = inventory::ListConflicts(target_, input_, ro);
  if (!conflicts.ok()) return conflicts.status().WithContext("listing what would conflict on the target");
  if (o_.existing == inventory::ExistingPolicy::kFail) KDR_RETURN_IF_ERROR(RefuseConflicts(*conflicts));
  *message = "inventory generation " + std::to_string(inventory_->generation()) + " captured " +
             report_->inventory_captured_at + "; " + Join(states, "; ");
  if (!conflicts->empty()) *message += "; " + std::to_string(conflicts->size()) + " existing object(s) will be " +
                                       std::string(inventory::ToString(o_.existing));
  return Status::Ok();
}

Status Run::QuiesceSource(std::string* message, bool* skipped) {
  if (source_ == nullptr && failback()) {
    return Status::Unavailable("the DR site (context " + plan_.spec.source_context + ") cannot be reached: a "
                               "failback quiesces it first; run again when it answers");
  }
  if (o_.skip_quiesce) {
    *skipped = true;
    *message = "--skip-quiesce: the source's workloads were left running";
    Warn("quiesce skipped (--skip-quiesce): the workloads of namespace(s) " + Join(Namespaces(), ", ") + " on the " +
         (failback() ? "DR site" : "source") + " (context " + plan_.spec.source_context +
         ") were left running; what they write after the storage's last sync is not in the volumes that move");
    return Status::Ok();
  }
  if (source_ == nullptr) {
    *skipped = true;
    *message = "the source is unreachable: nothing was quiesced there";
    Warn(*message);
    return Status::Ok();
  }
  QuiesceOptions q;
  q.namespaces = Namespaces();
  q.pod_timeout = o_.timeout;
  KDR_ASSIGN_OR_RETURN(QuiesceResult r, Quiesce(*source_, env_, q, stop_));
  *message = std::to_string(r.changes.size()) + " workload(s) quiesced on the source";
  return Status::Ok();
}

Status Run::SyncGroup(storage::CgRole role, std::string* message, bool* skipped) {
  const std::vector<const storage::ConsistencyGroup*> groups = Groups(role);
  if (groups.empty()) {
    *skipped = true;
    *message = "no " + std::string(storage::ToString(role)) + " volumes";
    return Status::Ok();
  }
  // Best effort (DESIGN.md step 3): a group that fails to sync fails over with what the DR site
  // holds; the others are still synced.
  std::vector<std::string> failed;
  size_t synced = 0;
  for (const storage::ConsistencyGroup* cg : groups) {
    Status st = driver_->Sync(*cg, Deadline());
    if (st.code() == StatusCode::kCancelled) return st;
    if (st.ok()) {
      synced += cg->volumes.size();
      continue;
    }
    failed.push_back((groups.size() > 1 ? "group " + cg->name + ": " : std::string()) + st.message());
  }
  if (!failed.empty()) {
    *skipped = synced == 0;
    *message = std::string(synced > 0 ? std::to_string(synced) + " volume(s) synced; " : "") +
               "sync failed, going on with what the DR site holds: " + Join(failed, "; ");
    Warn(std::string(storage::ToString(role)) + " " + *message);
    return Status::Ok();
  }
  *message = std::to_string(synced) + " volume(s) synced" +
             (groups.size() > 1 ? " in " + std::to_string(groups.size()) + " groups" : "");
  return Status::Ok();
}

Status Run::SpendPlan(std::string* message) {
  // Before the point of no return: no second recovery can start from this plan.
  Result<json> cur = target_.Get(kPlans, o_.dr_namespace, plan_.metadata.name);
  if (!cur.ok()) return cur.status().WithContext("reading drplan " + plan_.metadata.name);
  KDR_ASSIGN_OR_RETURN(DRPlan plan, DRPlanFromJson(*cur));
  if (plan.spent()) {
    if (plan.status.spent_by != o_.recovery) {
      return Status::FailedPrecondition("plan " + Quote(plan.metadata.name) + " was spent by " +
                                        Quote(plan.status.spent_by) + " meanwhile; this recovery stops");
    }
    *message = "already spent by this recovery";
    return Status::Ok();
  }
  // Only the phase changes: the rest of the status (the last capture, the inventory volume a
  // resumed --agent job run needs) stays as the server has it.
  json& status = (*cur)["status"];
  status["phase"] = "Spent";
  status["spentBy"] = o_.recovery;
  status["spentAt"] = FormatRfc3339(env_.clock->Now());
  Result<json> r = target_.UpdateStatus(kPlans, o_.dr_namespace, *cur);
  if (!r.ok()) return r.status().WithContext("marking plan " + plan_.metadata.name + " spent");
  plan_.status.phase = PlanPhase::kSpent;
  plan_.status.spent_by = o_.recovery;
  *message = "plan " + Quote(plan_.metadata.name) + " spent by " + Quote(o_.recovery);
  return Status::Ok();
}

Status Run::FailoverGroup(storage::CgRole role, std::string* message, bool* skipped) {
  const std::vector<const storage::ConsistencyGroup*> groups = Groups(role);
  if (groups.empty()) {
    *skipped = true;
    *message = "no " + std::string(storage::ToString(role)) + " volumes";
    return Status::Ok();
  }
  std::string sync_message;
  if (role == storage::CgRole::kWorkloads) {
    bool sync_skipped = false;
    KDR_RETURN_IF_ERROR(SyncGroup(role, &sync_message, &sync_skipped));
  }
  // Every group, in order; a group already failed over is Ok again (drivers are idempotent), so
  // a run that stopped between two groups repeats the first and goes on.
  for (const storage::ConsistencyGroup* cg : groups) {
    Status st = driver_->Failover(*cg, Deadline());
    if (!st.ok()) return groups.size() > 1 ? st.WithContext("group " + cg->name) : st;
  }
  *message = std::to_string(VolumeCount(groups)) + " volume(s) failed over" +
             (groups.size() > 1 ? " in " + std::to_string(groups.size()) + " groups" : "");
  return Status::Ok();
}

// The inventory claim's namespace may be one of the plan's (not restored yet): made now, from the
// inventory when it holds it, labelled so that the restore counts it as its own (and a drill's
// cleanup removes it).
Status Run::EnsureClaimNamespace(const std::string& name) {
  Result<json> ns = target_.Get(kNamespaces, "", name);
  if (ns.ok()) return Status::Ok();
  if (!ns.status().IsNotFound()) return ns.status().WithContext("reading namespace " + name);
  json made_ns = {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", name}}}};
  for (const json& obj : input_.objects) {
    if (kube::StringField(obj, {"kind"}) != "Namespace" || kube::StringField(obj, {"metadata", "name"}) != name) {
      continue;
    }
    for (const char* k : {"labels", "annotations"}) {
      const json& v = kube::FieldAt(obj, {"metadata", k});
      if (v.is_object()) made_ns["metadata"][k] = v;
    }
  }
  made_ns["metadata"]["labels"][std::string(kRecoveryLabel)] = o_.recovery;
  Result<json> r = target_.Create(kNamespaces, "", made_ns);
  if (!r.ok() && !r.status().IsAlreadyExists()) return r.status().WithContext("creating namespace " + name);
  return Status::Ok();
}

// The inventory's own claim and volume on the target, for the agent and later captures. Built
// from the volume map (the claim usually lives in the DR namespace, which is not captured).
Status Run::RestoreInventoryVolume(std::string* message, bool* skipped) {
  const std::vector<const storage::ConsistencyGroup*> groups = Groups(storage::CgRole::kInventory);
  const storage::ConsistencyGroup* cg = groups.empty() ? nullptr : groups.front();
  if (cg == nullptr || cg->volumes.empty()) {
    *skipped = true;
    *message = "the inventory's claim has no volume in the volume map";
    return Status::Ok();
  }
  const storage::Volume& v = cg->volumes.front();
  const inventory::VolumeMapEntry& e = v.captured;
  KDR_ASSIGN_OR_RETURN(std::optional<json> pv, driver_->VolumeSourceFor(v, CapturedPv(e.pv_name), Deadline()));
  if (!pv) {
    *skipped = true;
    *message = v.note.empty() ? "the storage gives no volume for the inventory's claim" : v.note;
    return Status::Ok();
  }
  KDR_RETURN_IF_ERROR(EnsureClaimNamespace(e.pvc_namespace));
  (*pv)["metadata"]["labels"][std::string(kRecoveryLabel)] = o_.recovery;
  const std::string pv_name = kube::StringField(*pv, {"metadata", "name"});
  const std::string claim_name = e.pvc_namespace + "/" + e.pvc_name;
  const auto timeout = std::chrono::duration_cast<std::chrono::milliseconds>(o_.timeout);
  // A PV or claim already there may point at another volume: a failback's old primary keeps its
  // inventory claim bound to the stale original, and the agent would read a stale inventory.
  std::string replaced;
  Result<json> made = target_.Create(kVolumes, "", *pv);
  if (!made.ok() && !made.status().IsAlreadyExists()) {
    return made.status().WithContext("creating persistentvolume " + pv_name);
  }
  if (!made.ok()) {
    Result<json> found = target_.Get(kVolumes, "", pv_name);
    if (!found.ok()) return found.status().WithContext("reading persistentvolume " + pv_name);
    const std::string have = inventory::VolumeIdentity(*found);
    const std::string want = inventory::VolumeIdentity(*pv);
    if (have != want) {
      if (o_.existing != inventory::ExistingPolicy::kUpdate) {
        return Status::FailedPrecondition(
            "persistentvolume " + pv_name + " on the target names volume " + have + ", not " + want +
            ", which the storage gives for the inventory's claim " + claim_name + " (existing: " +
            std::string(inventory::ToString(o_.existing)) + "); the agent would read a stale inventory: run again "
            "with --existing update to make the PV and its claim anew on " + want + " (the stale volume is kept: "
            "reclaim policy Retain), or delete them");
      }
      inventory::VolumeReplacement r;
      Result<json> anew = inventory::ReplaceVolume(target_, *found, *pv, timeout, stop_, &r);
      if (!anew.ok()) return anew.status().WithContext("replacing persistentvolume " + pv_name + " (the inventory's)");
      replaced = "; " + r.Note();
    }
  }
  json claim = {{"apiVersion", "v1"},
                {"kind", "PersistentVolumeClaim"},
                {"metadata",
                 {{"name", e.pvc_name},
                  {"namespace", e.pvc_namespace},
                  {"labels", {{std::string(kRecoveryLabel), o_.recovery}}}}},
                {"spec",
                 {{"accessModes", e.access_modes},
                  {"resources", {{"requests", {{"storage", e.capacity}}}}},
                  {"volumeName", kube::StringField(*pv, {"metadata", "name"})},
                  {"storageClassName", e.storage_class}}}};
  if (!e.volume_mode.empty()) claim["spec"]["volumeMode"] = e.volume_mode;
  Result<json> pvc = target_.Create(kClaims, e.pvc_namespace, claim);
  if (!pvc.ok() && !pvc.status().IsAlreadyExists()) {
    return pvc.status().WithContext("creating persistentvolumeclaim " + claim_name + " (the inventory's claim)");
  }
  if (!pvc.ok()) {
    // A claim's spec.volumeName is immutable once set: one naming another PV is made anew.
    Result<json> found = target_.Get(kClaims, e.pvc_namespace, e.pvc_name);
    if (!found.ok()) return found.status().WithContext("reading persistentvolumeclaim " + claim_name);
    const std::string bound_to = kube::StringField(*found, {"spec", "volumeName"});
    if (!bound_to.empty() && bound_to != pv_name) {
      if (o_.existing != inventory::ExistingPolicy::kUpdate) {
        return Status::FailedPrecondition(
            "persistentvolumeclaim " + claim_name + " (the inventory's claim) on the target is bound to "
            "persistentvolume " + bound_to + ", not " + pv_name + " on the volume the storage gives (existing: " +
            std::string(inventory::ToString(o_.existing)) + "); the agent would read a stale inventory: run again "
            "with --existing update to make the claim anew (its volume is kept), or delete it");
      }
      KDR_RETURN_IF_ERROR(inventory::DeleteClaim(target_, *found, "bound to persistentvolume " + bound_to, timeout,
                                                 stop_));
      pvc = target_.Create(kClaims, e.pvc_namespace, claim);
      if (!pvc.ok()) {
        return pvc.status().WithContext("creating persistentvolumeclaim " + claim_name + " (the inventory's claim) anew");
      }
      replaced += "; its claim made anew (it was bound to persistentvolume " + bound_to + ")";
    }
  }
  // DESIGN.md step 6: Bound before the agent mounts it (a claim on a volume that is not writable
  // here yet stays Pending, and an agent Job would hang on it).
  Status bound = inventory::WaitClaimBound(target_, e.pvc_namespace, e.pvc_name, timeout, stop_);
  if (!bound.ok()) return bound.WithContext("the inventory's claim");
  *message = "persistentvolumeclaim " + claim_name + " bound to volume " + pv_name + replaced;
  return Status::Ok();
}

size_t Run::WarnCopiesWithoutData() {
  size_t volumes = 0;
  for (const storage::ConsistencyGroup* cg : Groups(storage::CgRole::kWorkloads)) {
    for (const auto& v : cg->volumes) {
      if (v.without_data && !v.note.empty()) Warn(v.pvc() + ": " + v.note);
    }
    volumes += cg->volumes.size();
  }
  return volumes;
}

// --agent job, a drill: the agent's Jobs mount a claim of the drill's own (DrillInventoryClaimName)
// in the inventory claim's namespace, on the drill copy of the inventory's volume or, when the
// storage's copies hold no data (driver none), on that volume as captured, which the Jobs mount
// read-only (reading the inventory in place, as --agent local does). Never the plan's inventory
// claim or PV, which a failover restores. Both are labelled with the recovery for drill cleanup,
// and the PV's reclaim policy is Retain: removing it never deletes a volume (the copies go through
// the driver's CleanupDrill).
Status Run::RestoreDrillInventoryVolume(std::string* message) {
  const std::string inventory_claim = plan_.spec.inventory_pvc_namespace + "/" + plan_.spec.inventory_pvc_name;
  const auto copies = Groups(storage::CgRole::kInventory);
  if (copies.empty() || copies.front()->volumes.empty()) {
    return Status::FailedPrecondition(
        "the inventory's claim " + inventory_claim + " has no volume in the volume map, so the agent's Jobs have no "
        "inventory to mount; capture the inventory again once its claim is bound, or run the drill with --agent "
        "local --inventory-path DIR");
  }
  storage::Volume v = copies.front()->volumes.front();
  const bool in_place = v.without_data;
  if (in_place) {
    const storage::Volume* live = nullptr;
    for (const auto& cg : live_groups_) {
      if (cg.role == storage::CgRole::kInventory && !cg.volumes.empty()) live = &cg.volumes.front();
    }
    if (live == nullptr) return Status::Internal("the inventory's group was copied but not discovered");
    v = *live;
  }
  KDR_ASSIGN_OR_RETURN(std::optional<json> pv, driver_->VolumeSourceFor(v, CapturedPv(v.captured.pv_name), Deadline()));
  if (!pv) {
    return Status::FailedPrecondition("the storage gives no volume for the inventory's claim " + inventory_claim +
                                      (v.note.empty() ? "" : ": " + v.note) +
                                      "; run the drill with --agent local --inventory-path DIR");
  }
  const std::string name = DrillInventoryClaimName(o_.recovery);
  const std::string& ns = plan_.spec.inventory_pvc_namespace;
  const std::string claim_name = ns + "/" + name;
  json labels = kube::FieldAt(*pv, {"metadata", "labels"});
  if (!labels.is_object()) labels = json::object();
  labels[std::string(kRecoveryLabel)] = o_.recovery;
  (*pv)["metadata"]["name"] = name;
  (*pv)["metadata"]["labels"] = std::move(labels);
  (*pv)["spec"]["claimRef"] = {{"apiVersion", "v1"}, {"kind", "PersistentVolumeClaim"}, {"namespace", ns}, {"name", name}};
  (*pv)["spec"]["persistentVolumeReclaimPolicy"] = "Retain";
  const std::string leftover = "; it was left by an earlier drill named " + Quote(o_.recovery) +
                               ": run kubectl dr drill cleanup " + o_.recovery + ", then a new drill";
  KDR_RETURN_IF_ERROR(EnsureClaimNamespace(ns));
  Result<json> made = target_.Create(kVolumes, "", *pv);
  if (!made.ok() && !made.status().IsAlreadyExists()) return made.status().WithContext("creating persistentvolume " + name);
  if (!made.ok()) {
    Result<json> found = target_.Get(kVolumes, "", name);
    if (!found.ok()) return found.status().WithContext("reading persistentvolume " + name);
    const std::string have = inventory::VolumeIdentity(*found);
    const std::string want = inventory::VolumeIdentity(*pv);
    if (have != want) {
      return Status::FailedPrecondition("persistentvolume " + name + " on the target names volume " + have + ", not " +
                                        want + ", which the storage gives this drill for the inventory" + leftover);
    }
  }
  const inventory::VolumeMapEntry& e = v.captured;
  json claim = {{"apiVersion", "v1"},
                {"kind", "PersistentVolumeClaim"},
                {"metadata", {{"name", name}, {"namespace", ns}, {"labels", {{std::string(kRecoveryLabel), o_.recovery}}}}},
                {"spec",
                 {{"accessModes", e.access_modes},
                  {"resources", {{"requests", {{"storage", e.capacity}}}}},
                  {"volumeName", name},
                  {"storageClassName", kube::StringField(*pv, {"spec", "storageClassName"})}}}};
  if (!e.volume_mode.empty()) claim["spec"]["volumeMode"] = e.volume_mode;
  Result<json> pvc = target_.Create(kClaims, ns, claim);
  if (!pvc.ok() && !pvc.status().IsAlreadyExists()) {
    return pvc.status().WithContext("creating persistentvolumeclaim " + claim_name + " (the drill's inventory claim)");
  }
  if (!pvc.ok()) {
    Result<json> found = target_.Get(kClaims, ns, name);
    if (!found.ok()) return found.status().WithContext("reading persistentvolumeclaim " + claim_name);
    const std::string bound_to = kube::StringField(*found, {"spec", "volumeName"});
    if (bound_to != name) {
      return Status::FailedPrecondition("persistentvolumeclaim " + claim_name + " on the target is bound to " +
                                        (bound_to.empty() ? std::string("no volume") : "persistentvolume " + bound_to) +
                                        ", not " + name + leftover);
    }
  }
  const auto timeout = std::chrono::duration_cast<std::chrono::milliseconds>(o_.timeout);
  Status bound = inventory::WaitClaimBound(target_, ns, name, timeout, stop_);
  if (!bound.ok()) return bound.WithContext("the drill's inventory claim");
  *message = "persistentvolumeclaim " + claim_name + " bound to " +
             (in_place ? "the inventory's volume as captured, read in place (the storage's drill copies hold no data)"
                       : "a drill copy of the inventory's volume") +
             ", for the agent's Jobs to mount read-only";
  return Status::Ok();
}

// The drill runs on copies of the workloads' volumes (dr/drill_copies.h). With --agent local the
// inventory is read in place and nothing is copied or said about its volume; with --agent job its
// volume is copied for the agent's Jobs to mount (RestoreInventoryVolume), and the workloads'
// volumes, known once the agent has read the volume map (StartAgent), are copied then.
Status Run::PrepareDrill(std::string* message) {
  KDR_ASSIGN_OR_RETURN(groups_, PrepareDrillCopies(*driver_, groups_, [this] { return Deadline(); }, drill_copies()));
  const size_t volumes = WarnCopiesWithoutData();
  const std::string copies = std::to_string(volumes) + " drill cop" + (volumes == 1 ? "y" : "ies");
  if (!job()) {
    *message = copies + " of the replicated volumes (the inventory is read in place)";
    return Status::Ok();
  }
  const auto inv = Groups(storage::CgRole::kInventory);
  const bool copied = !inv.empty() && !inv.front()->volumes.empty() && !inv.front()->volumes.front().without_data;
  const std::string inventory = copied ? "a drill copy of the inventory's volume for the agent's Jobs"
                                       : "no copy of the inventory's volume (the storage's drill copies hold no "
                                         "data): the agent's Jobs read it in place, read-only";
  *message = recovery_.status.inventory
                 ? copies + " of the workloads' volumes; " + inventory
                 : inventory + "; the workloads' volumes are copied once the agent has read the volume map (StartAgent)";
  return Status::Ok();
}

ObjectRestoreOptions Run::ObjectRestoreOptionsFor() const {
  ObjectRestoreOptions ro;
  ro.existing = o_.existing;
  ro.parallel = o_.parallel;
  ro.rerun_finished_jobs = o_.rerun_finished_jobs;
  ro.timeout = o_.timeout;
  return ro;
}

Status Run::RestoreObjects(std::string* message) {
  if (job()) return RestoreObjectsByAgent(message);
  // The same restore as the agent's (agent_restore.h): the same options, labels and PVs.
  ObjectRestoreOptions ro = ObjectRestoreOptionsFor();
  ro.progress = [this](const inventory::RestoreProgress& p) {
    if (o_.on_event) o_.on_event({WorkflowEvent::Kind::kRestoreProgress, std::string(step::kRestoreObjects),
                                  StepState::kRunning, "", p});
  };
  inventory::RestoreResult r =
      RestoreRecoveryObjects(target_, env_, plan_, recovery_, std::move(input_), *driver_, groups_, ro, stop_);
  report_->counts = r.counts;
  report_->failures = r.failures;
  for (std::string& w : RestoreWarnings(r)) Warn(std::move(w));
  if (!r.status.ok()) return r.status;
  RestoredCounts& rc = recovery_.status.restored.emplace();
  rc.created = static_cast<int>(r.counts.created + r.counts.updated + r.counts.existing);
  rc.skipped = static_cast<int>(r.counts.skipped);
  rc.failed = static_cast<int>(r.counts.failed);
  *message = std::to_string(rc.created) + " restored, " + std::to_string(rc.skipped) + " skipped, " +
             std::to_string(rc.failed) + " failed";
  return Status::Ok();
}

Result<DRRecovery> Run::ReadRecovery() {
  Result<json> cur = target_.Get(kRecoveries, o_.dr_namespace, o_.recovery);
  if (!cur.ok()) return cur.status().WithContext("reading drrecovery " + o_.recovery);
  return DRRecoveryFromJson(*cur);
}

// One of the agent's Jobs for this recovery, as the run's flags ask (agent_job.h).
Result<json> Run::AgentJob(const AgentIdentity& id, bool describe) {
  AgentOptions ao;
  ao.image = id.image;
  ao.dr_namespace = o_.dr_namespace;
  RestoreJobOptions jo;
  jo.describe = describe;
  jo.existing = std::string(inventory::ToString(o_.existing));
  jo.parallel = o_.parallel;
  jo.generation = o_.generation;
  jo.rerun_finished_jobs = o_.rerun_finished_jobs;
  jo.timeout = std::chrono::ceil<std::chrono::seconds>(o_.timeout);
  jo.recovery_uid = recovery_.metadata.uid;
  if (drill()) jo.claim = DrillInventoryClaimName(o_.recovery);
  return RestoreJob(plan_, o_.recovery, ao, jo);
}

// Runs an agent Job to its end; a Job whose agent failed (or ended without a result) is this
// step's failure, with the agent's own words.
Result<AgentJobRun> Run::RunAgent(bool describe, std::function<void()> on_poll) {
  KDR_ASSIGN_OR_RETURN(AgentIdentity id, CheckAgentIdentity(target_, plan_));
  KDR_RETURN_IF_ERROR(EnsureAgentServiceAccount(target_, plan_, id));
  KDR_ASSIGN_OR_RETURN(json job, AgentJob(id, describe));
  AgentJobOptions ao;
  ao.poll_interval = o_.agent_poll_interval;
  ao.on_poll = std::move(on_poll);
  KDR_ASSIGN_OR_RETURN(AgentJobRun run, RunAgentJob(target_, *env_.clock, job, Deadline(), ao));
  const std::string& ns = plan_.spec.inventory_pvc_namespace;
  const std::string logs = "kubectl -n " + ns + " logs job/" + kube::Name(job);
  const std::optional<AgentResult>& r = run.state.result;
  if (run.state.phase == AgentJobState::Phase::kFailed || !r) {
    Warn("agent job " + run.job + " failed; it is kept for diagnosis: " + logs);
  }
  if (!r) {
    return Status::FailedPrecondition("the agent (job " + run.job + ") ended without a result (" + run.state.detail +
                                      "); " + logs + " shows what it did");
  }
  if (run.state.phase == AgentJobState::Phase::kFailed && !r->finished()) {
    return Status::FailedPrecondition("the agent (job " + run.job + ") failed: " + r->message);
  }
  return run;
}

// --agent job, DESIGN.md step 7: the agent on the target reads the restored inventory (its first
// Job, `agent restore --describe`), which proves it can run there (identity, image, claim) before
// the workloads' volumes move, and tells the plugin what it cannot read itself: the recovery
// point and the volume map of the workloads' storage (recorded in status.inventory).
Status Run::StartAgent(std::string* message) {
  KDR_ASSIGN_OR_RETURN(AgentJobRun run, RunAgent(/*describe=*/true, nullptr));
  KDR_ASSIGN_OR_RETURN(DRRecovery now, ReadRecovery());
  if (!now.status.inventory) {
    return Status::FailedPrecondition("the agent (job " + run.job + ") recorded no inventory in drrecovery " +
                                      o_.recovery + ": is its image older than this kubectl-dr? reinstall it: "
                                      "kubectl dr agent install --plan " + plan_.metadata.name + " --image IMAGE");
  }
  recovery_.status.inventory = now.status.inventory;
  succeeded_job_ = run.job;
  const RecoveryInventory& ri = *recovery_.status.inventory;
  report_->inventory_captured_at = ri.captured_at;
  report_->inventory_generation = ri.generation;
  KDR_RETURN_IF_ERROR(DiscoverGroups(ri.volumes));
  *message = "agent job " + run.job + (run.reused ? " (reused)" : "") + ": " +
             run.state.result.value_or(AgentResult{}).message;
  if (drill()) {
    // The workloads' volumes are known now: their drill copies, made here (the agent's restore
    // asks for the same ones: PrepareDrill reuses them).
    KDR_ASSIGN_OR_RETURN(groups_, PrepareDrillCopies(*driver_, groups_, [this] { return Deadline(); }, drill_copies()));
    const size_t volumes = WarnCopiesWithoutData();
    *message += "; " + std::to_string(volumes) + " drill cop" + (volumes == 1 ? "y" : "ies") + " of the workloads' volumes";
  }
  return Status::Ok();
}

namespace {

std::optional<inventory::Tier> TierNamed(std::string_view name) {
  for (int t = 0; t < inventory::kTierCount; ++t) {
    if (inventory::TierName(static_cast<inventory::Tier>(t)) == name) return static_cast<inventory::Tier>(t);
  }
  return std::nullopt;
}

StatusCode CodeNamed(std::string_view name) {
  for (int c = static_cast<int>(StatusCode::kInvalidArgument); c <= static_cast<int>(StatusCode::kInternal); ++c) {
    if (StatusCodeName(static_cast<StatusCode>(c)) == name) return static_cast<StatusCode>(c);
  }
  return StatusCode::kInternal;
}

// A failure the agent recorded, back in the report's terms ("Deployment shop/web").
inventory::ObjectFailure FailureOf(const RecoveryFailure& f) {
  inventory::ObjectFailure out;
  std::string_view text = f.object;
  size_t space = text.find(' ');
  out.object.kind = std::string(text.substr(0, space));
  if (space != std::string_view::npos) {
    std::string_view rest = text.substr(space + 1);
    size_t slash = rest.find('/');
    if (slash == std::string_view::npos) {
      out.object.name = std::string(rest);
    } else {
      out.object.namespace_name = std::string(rest.substr(0, slash));
      out.object.name = std::string(rest.substr(slash + 1));
    }
  }
  out.tier = TierNamed(f.tier).value_or(inventory::Tier::kOther);
  out.status = Status(CodeNamed(f.code), f.message);
  return out;
}

}  // namespace

// --agent job, DESIGN.md step 9: the agent's second Job restores, as the local path does
// (agent_restore.h); its progress is read from the recovery's status.progress while it runs.
Status Run::RestoreObjectsByAgent(std::string* message) {
  std::string last;
  auto on_poll = [&] {
    if (!o_.on_event) return;
    Result<json> cur = target_.Get(kRecoveries, o_.dr_namespace, o_.recovery);
    if (!cur.ok()) return;  // a view only: the Job's end decides
    const json& p = kube::FieldAt(*cur, {"status", "progress"});
    if (!p.is_object() || p.dump() == last) return;
    last = p.dump();
    inventory::RestoreProgress rp;
    rp.done = p.value("done", int64_t{0});
    rp.total = p.value("total", int64_t{0});
    rp.tier = TierNamed(p.value("tier", "")).value_or(inventory::Tier::kOther);
    o_.on_event({WorkflowEvent::Kind::kRestoreProgress, std::string(step::kRestoreObjects), StepState::kRunning, "", rp});
  };
  KDR_ASSIGN_OR_RETURN(AgentJobRun run, RunAgent(/*describe=*/false, on_poll));
  // RunAgent returns only runs with a result.
  const AgentResult r = run.state.result.value_or(AgentResult{});
  inventory::RestoreCounts& c = report_->counts;
  c.created = r.created;
  c.updated = r.updated;
  c.existing = r.existing;
  if (c.created + c.updated + c.existing != r.objects) c.created = r.objects - c.updated - c.existing;
  c.skipped = r.skipped;
  c.failed = r.failed;
  KDR_ASSIGN_OR_RETURN(DRRecovery now, ReadRecovery());
  recovery_.status.failures = now.status.failures;
  recovery_.status.warnings = now.status.warnings;
  for (const std::string& w : now.status.warnings) Warn(w);
  report_->failures.clear();
  for (const RecoveryFailure& f : recovery_.status.failures) report_->failures.push_back(FailureOf(f));
  if (r.generation > 0) {
    report_->inventory_generation = r.generation;
    report_->inventory_captured_at = r.captured_at;
  }
  if (run.state.phase == AgentJobState::Phase::kSucceeded) succeeded_job_ = run.job;
  RestoredCounts& rc = recovery_.status.restored.emplace();
  rc.created = static_cast<int>(r.objects);
  rc.skipped = static_cast<int>(r.skipped);
  rc.failed = static_cast<int>(r.failed);
  *message = std::to_string(rc.created) + " restored, " + std::to_string(rc.skipped) + " skipped, " +
             std::to_string(rc.failed) + " failed by agent job " + run.job + (run.reused ? " (reused)" : "");
  return Status::Ok();
}

// Failback, first half: the DR site's changes replicate back to the old primary (Alletra: Recover
// of each group; Longhorn: backups restored into the old primary's DR volumes), waited for until
// synced. Not best effort: a failback without it would bring back stale data.
Status Run::RecoverGroups(storage::CgRole role, std::string* message, bool* skipped) {
  const std::vector<const storage::ConsistencyGroup*> groups = Groups(role);
  if (groups.empty()) {
    *skipped = true;
    *message = "no " + std::string(storage::ToString(role)) + " volumes";
    return Status::Ok();
  }
  for (const storage::ConsistencyGroup* cg : groups) {
    Status st = driver_->Recover(*cg, Deadline());
    if (!st.ok()) return st.WithContext("recovering " + std::string(storage::ToString(role)) + " group " + Quote(cg->name));
  }
  *message = std::to_string(VolumeCount(groups)) + " volume(s) replicated back";
  return Status::Ok();
}

// Failback, second half: the old primary's volumes writable again (Alletra: Restore; Longhorn:
// its DR volumes activated).
Status Run::RestoreGroups(storage::CgRole role, std::string* message, bool* skipped) {
  const std::vector<const storage::ConsistencyGroup*> groups = Groups(role);
  if (groups.empty()) {
    *skipped = true;
    *message = "no " + std::string(storage::ToString(role)) + " volumes";
    return Status::Ok();
  }
  std::string recovered;
  if (role == storage::CgRole::kWorkloads) {
    bool none = false;
    KDR_RETURN_IF_ERROR(RecoverGroups(role, &recovered, &none));
  }
  for (const storage::ConsistencyGroup* cg : groups) {
    Status st = driver_->Restore(*cg, Deadline());
    if (!st.ok()) return st.WithContext("restoring " + std::string(storage::ToString(role)) + " group " + Quote(cg->name));
  }
  *message = std::to_string(VolumeCount(groups)) + " volume(s) back on the primary" +
             (groups.size() > 1 ? " in " + std::to_string(groups.size()) + " groups" : "");
  return Status::Ok();
}

// Failback: what the failover fenced on the old primary (the claims and namespaces of the plan's
// namespaces) is unfenced before the workloads that mount it are restored.
Status Run::UnfenceTarget(std::string* message) {
  KDR_ASSIGN_OR_RETURN(std::vector<FenceChange> changes, Unfence(target_, TargetNamespaces()));
  size_t changed = 0;
  for (const auto& c : changes) changed += c.changed;
  *message = std::to_string(changed) + " object(s) unfenced on the primary";
  return Status::Ok();
}

Status Run::FenceSource(std::string* message, bool* skipped) {
  if (source_ == nullptr) {
    *skipped = true;
    *message = "the source is unreachable: fence it when it is back: kubectl dr fence --plan " + plan_.metadata.name;
    Warn(*message);
    return Status::Ok();
  }
  std::vector<ClaimRef> claims = {{plan_.spec.inventory_pvc_namespace, plan_.spec.inventory_pvc_name}};
  for (const storage::ConsistencyGroup* cg : Groups(storage::CgRole::kWorkloads)) {
    for (const auto& v : cg->volumes) claims.push_back({v.captured.pvc_namespace, v.captured.pvc_name});
  }
  KDR_ASSIGN_OR_RETURN(std::vector<FenceChange> changes, Fence(*source_, plan_.metadata.name, claims));
  size_t changed = 0;
  for (const auto& c : changes) changed += c.changed;
  *message = std::to_string(changed) + " object(s) fenced on the source";
  return Status::Ok();
}

Status Run::Verify(std::string* message, bool* skipped) {
  if (o_.no_wait) {
    *skipped = true;
    *message = "not waited for (--no-wait)";
    return Status::Ok();
  }
  VerifyOptions v;
  v.namespaces = TargetNamespaces();
  v.recovery = o_.recovery;
  v.timeout = o_.timeout;
  KDR_ASSIGN_OR_RETURN(std::vector<WorkloadReadiness> ready, WaitReady(target_, env_, v, stop_));
  *message = std::to_string(ready.size()) + " workload(s) ready";
  return Status::Ok();
}

Status Run::Step(std::string_view name, std::string* message, bool* skipped) {
  using namespace step;
  if (name == kPreflight) return Preflight(message);
  if (name == kQuiesceSource) return QuiesceSource(message, skipped);
  if (name == kSyncInventory) {
    if (failback()) return RecoverGroups(storage::CgRole::kInventory, message, skipped);
    return SyncGroup(storage::CgRole::kInventory, message, skipped);
  }
  if (name == kFailbackInventory) return RestoreGroups(storage::CgRole::kInventory, message, skipped);
  if (name == kUnfence) return UnfenceTarget(message);
  if (name == kSpendPlan) return SpendPlan(message);
  if (name == kFailoverInventory) return FailoverGroup(storage::CgRole::kInventory, message, skipped);
  if (name == kRestoreInventoryVolume) {
    if (drill()) {
      if (job()) return RestoreDrillInventoryVolume(message);
      *skipped = true;
      *message = "a drill reads the inventory in place";
      return Status::Ok();
    }
    return RestoreInventoryVolume(message, skipped);
  }
  if (name == kStartAgent) {
    if (job()) return StartAgent(message);
    *skipped = true;
    *message = "the agent runs in this process (--agent local)";
    return Status::Ok();
  }
  if (name == kWorkloadVolumes) {
    if (failback()) return RestoreGroups(storage::CgRole::kWorkloads, message, skipped);
    return FailoverGroup(storage::CgRole::kWorkloads, message, skipped);
  }
  if (name == kPrepareDrill) return PrepareDrill(message);
  if (name == kRestoreObjects) return RestoreObjects(message);
  if (name == kFenceSource) return FenceSource(message, skipped);
  if (name == kVerify) return Verify(message, skipped);
  return Status::Internal("no code for step " + Quote(name));
}

Status Run::RunStep(std::string_view name) {
  Journal journal(recovery_.spec.action, &recovery_.status.steps, env_.clock);
  KDR_RETURN_IF_ERROR(journal.Start(name));
  KDR_RETURN_IF_ERROR(SaveStatus());
  if (o_.on_event) o_.on_event({WorkflowEvent::Kind::kStepStarted, std::string(name), StepState::kRunning, "", {}});
  const Clock::MonoTime began = env_.clock->Monotonic();
  std::string message;
  bool skipped = false;
  Status st = Step(name, &message, &skipped);
  elapsed_[std::string(name)] = env_.clock->Monotonic() - began;
  if (!st.ok()) {
    KDR_RETURN_IF_ERROR(journal.Fail(name, st.message()));
  } else if (skipped) {
    KDR_RETURN_IF_ERROR(journal.Skip(name, message));
  } else {
    KDR_RETURN_IF_ERROR(journal.Succeed(name, message));
  }
  const RecoveryStep* s = journal.Find(name);
  if (o_.on_event) o_.on_event({WorkflowEvent::Kind::kStepFinished, std::string(name), s->state, s->message, {}});
  Status saved = SaveStatus();
  std::string job = std::exchange(succeeded_job_, "");
  if (st.ok() && saved.ok() && !job.empty()) {
    // Its result is in the journal now: the Job and (in the background) its pod go. A Job left
    // behind is harmless (the next recovery of this name replaces it), so this only warns.
    const size_t slash = job.find('/');
    kube::DeleteOptions d;
    d.propagation_policy = "Background";
    Result<json> del = target_.Delete(kJobs, job.substr(0, slash), job.substr(slash + 1), d);
    if (!del.ok() && !del.status().IsNotFound()) {
      Warn("agent job " + job + " succeeded but could not be deleted (" + del.status().message() +
           "): kubectl -n " + job.substr(0, slash) + " delete job " + job.substr(slash + 1));
    }
  }
  if (!st.ok()) return st.WithContext(std::string(name));
  return saved;
}

void Run::FillReport() {
  const DRRecoveryStatus& s = recovery_.status;
  report_->phase = s.phase;
  report_->started_at = s.started_at;
  report_->finished_at = s.finished_at;
  // The journal's times are to the second; this run's own start and end are known to the clock's
  // precision (a failover of a few seconds is not rounded to whole ones).
  Clock::WallTime start, end = finished_.value_or(env_.clock->Now());
  if (started_) {
    report_->rto = end - *started_;
  } else if (ParseRfc3339(s.started_at, &start)) {
    if (!finished_ && !s.finished_at.empty()) (void)ParseRfc3339(s.finished_at, &end);
    report_->rto = end - start;
  }
  report_->steps.clear();
  for (const RecoveryStep& step : s.steps) {
    StepReport r{step.name, step.state, step.attempts, {}, step.message};
    Clock::WallTime a, b;
    if (auto it = elapsed_.find(step.name); it != elapsed_.end()) {
      r.elapsed = it->second;
    } else if (ParseRfc3339(step.started_at, &a) && ParseRfc3339(step.finished_at, &b)) {
      r.elapsed = b - a;  // an earlier run's, to the second
    }
    report_->steps.push_back(std::move(r));
  }
  // A resumed run that did not restore this time reports what the journal recorded.
  if (report_->counts.total() == 0 && s.restored) {
    report_->counts.created = s.restored->created;
    report_->counts.skipped = s.restored->skipped;
    report_->counts.failed = s.restored->failed;
    for (const RecoveryFailure& f : s.failures) report_->failures.push_back(FailureOf(f));
    for (const std::string& w : s.warnings) report_->warnings.push_back(w);
  }
}

// Who this run is, as the target's API server authenticates it (a SelfSubjectReview): recorded in
// the recovery so that the webhook lets a running failback unfence. Empty, with a warning, when
// the server cannot say (a failback's unfencing is then refused, naming who may do it).
std::string Run::RecordRunner() {
  static const kube::Gvr kSelfSubjectReviews{"authentication.k8s.io", "v1", "selfsubjectreviews"};
  json review = {{"apiVersion", "authentication.k8s.io/v1"}, {"kind", "SelfSubjectReview"}};
  Result<json> r = target_.Create(kSelfSubjectReviews, "", review);
  std::string user = r.ok() ? kube::StringField(*r, {"status", "userInfo", "username"}) : "";
  if (user.empty() && failback()) {
    Warn("the target cannot say who runs this failback (SelfSubjectReview: " +
         (r.ok() ? std::string("no username") : r.status().message()) +
         "): the webhook may refuse to unfence; run it as the DR service account instead");
  }
  return user;
}

// A live holder of the plan's Lease (another run at work): what Acquire would refuse.
std::optional<std::string> Run::LiveLeaseHolder() {
  Result<json> lease = target_.Get(kLeases, o_.dr_namespace, LeaseName(plan_));
  if (!lease.ok()) return std::nullopt;  // none (or unreadable: the run's Acquire will say)
  const std::string holder = kube::StringField(*lease, {"spec", "holderIdentity"});
  const std::string renewed = kube::StringField(*lease, {"spec", "renewTime"});
  const json& seconds = kube::FieldAt(*lease, {"spec", "leaseDurationSeconds"});
  Clock::WallTime at;
  if (holder.empty() || !ParseRfc3339(renewed, &at) || !seconds.is_number_integer()) return std::nullopt;
  if (at + std::chrono::seconds(seconds.get<int64_t>()) <= env_.clock->Now()) return std::nullopt;  // expired
  return holder + " (renewed " + renewed + ")";
}

PlannedStep Run::Planned(std::string_view name, const DryRunReport& d) const {
  using namespace step;
  PlannedStep p{std::string(name), "run", ""};
  auto skip = [&p](std::string why) {
    p.state = "skip";
    p.what = std::move(why);
    return p;
  };
  auto groups_of = [this](storage::CgRole role) {
    const auto groups = Groups(role);
    return std::to_string(VolumeCount(groups)) + " volume(s)" +
           (groups.size() > 1 ? " in " + std::to_string(groups.size()) + " groups" : "");
  };
  const bool volume_map_known = !job() || recovery_.status.inventory.has_value();
  const std::string target_namespaces = Join(TargetNamespaces(), ", ");
  if (name == kPreflight) {
    p.what = "the checks of this dry run";
  } else if (name == kQuiesceSource) {
    if (o_.skip_quiesce) return skip("--skip-quiesce: the source's workloads are left running");
    if (source_ == nullptr) return skip("the source is unreachable: nothing is quiesced there");
    p.what = d.quiesce.empty() ? "nothing to stop: no workload runs in " + Join(Namespaces(), ", ")
                               : "stop " + std::to_string(d.quiesce.size()) + " workload(s) on the source and wait "
                                                                               "for their pods to go";
  } else if (name == kSyncInventory) {
    if (Groups(storage::CgRole::kInventory).empty()) return skip("no inventory volumes");
    p.what = failback() ? "replicate the inventory's " + groups_of(storage::CgRole::kInventory) + " back (Recover)"
                        : "sync the inventory's " + groups_of(storage::CgRole::kInventory) + " (best effort)";
  } else if (name == kSpendPlan) {
    p.what = "mark plan " + plan_.metadata.name + " Spent by " + o_.recovery + ": the point of no return";
  } else if (name == kFailoverInventory) {
    if (Groups(storage::CgRole::kInventory).empty()) return skip("no inventory volumes");
    p.what = "fail over the inventory's " + groups_of(storage::CgRole::kInventory);
  } else if (name == kFailbackInventory) {
    if (Groups(storage::CgRole::kInventory).empty()) return skip("no inventory volumes");
    p.what = "bring the inventory's " + groups_of(storage::CgRole::kInventory) + " back to the primary (Restore)";
  } else if (name == kUnfence) {
    p.what = "lift the fence on the primary's claims and namespaces " + target_namespaces;
  } else if (name == kRestoreInventoryVolume) {
    if (drill() && !job()) return skip("a drill reads the inventory in place");
    if (drill()) {
      p.what = "make persistentvolumeclaim " + plan_.spec.inventory_pvc_namespace + "/" +
               DrillInventoryClaimName(o_.recovery) + " on the drill copy of the inventory's volume (or on the "
               "volume, read in place, when the storage's copies hold no data) and wait until it is Bound";
      return p;
    }
    p.what = "make persistentvolumeclaim " + plan_.spec.inventory_pvc_namespace + "/" + plan_.spec.inventory_pvc_name +
             " on the target and wait until it is Bound";
  } else if (name == kStartAgent) {
    if (!job()) return skip("the agent runs in this process (--agent local)");
    p.what = "run agent job " + plan_.spec.inventory_pvc_namespace + "/" + DescribeJobName(o_.recovery) +
             ": read the inventory, refuse conflicts (existing: " + d.existing + "), record the volume map";
  } else if (name == kWorkloadVolumes) {
    if (!volume_map_known) {
      p.what = "move the workloads' volumes the agent finds in the inventory's volume map (StartAgent)";
    } else if (Groups(storage::CgRole::kWorkloads).empty()) {
      return skip("no workloads volumes");
    } else {
      p.what = failback() ? "replicate the workloads' " + groups_of(storage::CgRole::kWorkloads) +
                                " back and restore them on the primary (Recover, Restore)"
                          : "sync and fail over the workloads' " + groups_of(storage::CgRole::kWorkloads);
    }
  } else if (name == kPrepareDrill) {
    p.what = !volume_map_known ? "copy the inventory's volume for the agent's Jobs, then (StartAgent) the workloads' "
                                 "volumes the agent finds in the inventory's volume map (the live replicas are not "
                                 "touched)"
             : "copy the workloads' " + groups_of(storage::CgRole::kWorkloads) +
                   (job() ? " and the inventory's volume" : "") + " for the drill (the live replicas are not touched)";
  } else if (name == kRestoreObjects) {
    int64_t objects = 0;
    for (const auto& [_, n] : d.objects_by_kind) objects += n;
    p.what = job() ? "run agent job " + plan_.spec.inventory_pvc_namespace + "/" + RestoreJobName(o_.recovery) +
                         ": restore the inventory into " + target_namespaces
                   : "restore the inventory's " + std::to_string(objects) + " object(s) of " +
                         Join(Namespaces(), ", ") + " into " + target_namespaces + " (existing: " + d.existing + ")";
  } else if (name == kFenceSource) {
    if (source_ == nullptr) return skip("the source is unreachable: fence it when it is back: kubectl dr fence --plan " +
                                        plan_.metadata.name);
    p.what = "label the inventory's claim" +
             std::string(volume_map_known ? " and " + std::to_string(VolumeCount(Groups(storage::CgRole::kWorkloads))) +
                                                " workload claim(s)"
                                          : " and the workloads' claims") +
             " failed over, and their namespaces fenced, on the source";
  } else if (name == kVerify) {
    if (o_.no_wait) return skip("not waited for (--no-wait)");
    p.what = "wait until the restored workloads in " + target_namespaces + " are ready";
  }
  return p;
}

Status Run::DryRun(DryRunReport* d) {
  KDR_RETURN_IF_ERROR(Load());
  d->recovery = o_.recovery;
  d->plan = plan_.metadata.name;
  d->action = recovery_.spec.action;
  d->source_context = plan_.spec.source_context;
  d->target_context = plan_.spec.target_context;
  d->source_reachable = source_ != nullptr;
  d->existing = std::string(inventory::ToString(o_.existing));
  auto problem = [d](const Status& st) { d->problems.push_back(st.message()); };
  const bool drill = recovery_.spec.action == RecoveryAction::kTest;

  if (recovery_.finished()) {
    problem(Status::FailedPrecondition("recovery " + Quote(o_.recovery) + " finished (" +
                                       std::string(ToString(*recovery_.status.phase)) + ") at " +
                                       recovery_.status.finished_at + " and is never re-run: create a new one "
                                       "(kubectl dr recovery create)"));
  }
  if (std::optional<std::string> holder = LiveLeaseHolder()) {
    problem(Status::FailedPrecondition("another run holds plan " + plan_.metadata.name + "'s lease " + o_.dr_namespace +
                                       "/" + LeaseName(plan_) + ": " + *holder + "; wait for it to end"));
  }
  std::vector<RecoveryStep> steps = recovery_.status.steps;
  Journal journal(recovery_.spec.action, &steps, env_.clock);
  if (Status st = journal.Reconcile(); !st.ok()) problem(st);

  // The preflight's checks, every one of them.
  if (Status st = CheckPlanNotSpent(plan_, o_.recovery); !st.ok()) problem(st);
  if (Status st = CheckWebhook(target_, o_.dr_namespace, plan_.metadata.name, "target", plan_.spec.target_context);
      !st.ok()) {
    problem(st);
  }
  if (job()) {
    if (Result<AgentIdentity> id = CheckAgentIdentity(target_, plan_); !id.ok()) problem(id.status());
  }
  if (failback() && source_ == nullptr) {
    problem(Status::FailedPrecondition("a failback needs both sites, and its source (the DR site, context " +
                                       plan_.spec.source_context + ") cannot be reached"));
  }
  if (Status st = job() ? PrepareForJob() : Prepare(); !st.ok()) {
    problem(st);
  } else {
    d->inventory_generation = report_->inventory_generation;
    d->inventory_captured_at = report_->inventory_captured_at;
    for (const auto& cg : groups_) {
      PlannedGroup g{std::string(storage::ToString(cg.role)), cg.name, {}, ""};
      for (const auto& v : cg.volumes) g.claims.push_back(v.captured.pvc_namespace + "/" + v.captured.pvc_name);
      Result<storage::CgState> state = driver_->State(cg, Deadline());
      if (!state.ok()) {
        problem(state.status().WithContext(g.role + " storage group " + Quote(cg.name)));
      } else {
        g.replication = std::string(storage::ToString(state->replication)) +
                        (state->backend.empty() ? "" : " (" + state->backend + ")");
        if (failback() && state->replication == storage::Replication::kUnknown) {
          problem(Status::FailedPrecondition("a failback needs both sites' storage, and the " + g.role + " group " +
                                             Quote(cg.name) + " cannot be read: " + state->backend));
        }
      }
      d->groups.push_back(std::move(g));
    }
    if (job()) {
      d->notes.push_back("the inventory is read by the agent on the target (--agent job): the objects by kind, the "
                         "workloads' volumes and what would conflict are known once its first Job (StartAgent) has "
                         "read it; to see them now, run the dry run with --agent local --inventory-path DIR");
    } else {
      const std::vector<std::string> namespaces = Namespaces();
      for (const json& obj : input_.objects) {
        const std::string ns = kube::StringField(obj, {"metadata", "namespace"});
        if (!ns.empty() && std::find(namespaces.begin(), namespaces.end(), ns) == namespaces.end()) continue;
        const std::string api = kube::StringField(obj, {"apiVersion"});
        const size_t slash = api.find('/');
        const std::string kind = kube::StringField(obj, {"kind"});
        ++d->objects_by_kind[slash == std::string::npos ? kind : kind + "." + api.substr(0, slash)];
      }
      inventory::RestoreOptions ro = RecoveryRestoreOptions(plan_, recovery_, ObjectRestoreOptionsFor());
      Result<std::vector<inventory::Conflict>> conflicts = inventory::ListConflicts(target_, input_, ro);
      if (!conflicts.ok()) {
        problem(conflicts.status().WithContext("listing what would conflict on the target"));
      } else {
        d->conflicts = std::move(*conflicts);
        if (o_.existing == inventory::ExistingPolicy::kFail) {
          if (Status st = RefuseConflicts(d->conflicts); !st.ok()) problem(st);
        }
      }
    }
  }
  // What QuiesceSource would stop, asked of the source as server-side dry runs.
  const RecoveryStep* quiesced = journal.Find(step::kQuiesceSource);
  if (!drill && source_ != nullptr && !o_.skip_quiesce && quiesced != nullptr &&
      quiesced->state != StepState::kSucceeded && quiesced->state != StepState::kSkipped) {
    QuiesceOptions q;
    q.namespaces = Namespaces();
    q.dry_run = true;
    Result<QuiesceResult> r = Quiesce(*source_, env_, q, stop_);
    if (!r.ok()) {
      problem(r.status().WithContext("quiescing the source"));
    } else {
      for (const QuiesceChange& c : r->changes) d->quiesce.push_back(c.object + ": " + c.change);
    }
  }
  for (std::string_view name : StepsOf(recovery_.spec.action)) {
    const RecoveryStep* s = journal.Find(name);
    if (s != nullptr && (s->state == StepState::kSucceeded || s->state == StepState::kSkipped)) {
      d->steps.push_back({std::string(name), "done", s->message});
    } else {
      d->steps.push_back(Planned(name, *d));
    }
  }
  if (!drill && source_ == nullptr && !failback()) {
    d->warnings.push_back("the source (context " + plan_.spec.source_context + ") does not answer: a run would "
                          "neither quiesce nor fence it (kubectl dr fence --plan " + plan_.metadata.name +
                          " when it is back)");
  }
  if (o_.skip_quiesce && !drill) {
    d->warnings.push_back("--skip-quiesce: the source's workloads would be left running");
  }
  for (const std::string& w : report_->warnings) d->warnings.push_back(w);
  return Status::Ok();
}

Status Run::Execute() {
  KDR_RETURN_IF_ERROR(Load());
  if (recovery_.finished()) {
    return Status::FailedPrecondition("recovery " + Quote(o_.recovery) + " finished (" +
                                      std::string(ToString(*recovery_.status.phase)) + ") at " +
                                      recovery_.status.finished_at + "; a finished recovery is never re-run: "
                                      "create a new one (kubectl dr recovery create)");
  }
  kube::LeaseSpec ls{o_.dr_namespace, LeaseName(plan_), o_.holder, std::chrono::seconds(30)};
  KDR_ASSIGN_OR_RETURN(std::unique_ptr<kube::Lease> lease, kube::Lease::Acquire(&target_, ls, env_.clock));
  lease->KeepAlive(stop_);

  Journal journal(recovery_.spec.action, &recovery_.status.steps, env_.clock);
  KDR_RETURN_IF_ERROR(journal.Reconcile());
  if (recovery_.status.started_at.empty()) {
    started_ = env_.clock->Now();
    recovery_.status.started_at = FormatRfc3339(*started_);
  }
  recovery_.status.started_by = RecordRunner();
  recovery_.status.phase = RecoveryPhase::kRunning;
  recovery_.status.message.clear();
  KDR_RETURN_IF_ERROR(SaveStatus());

  Status st = job() ? PrepareForJob() : Prepare();
  if (st.ok() && recovery_.spec.action == RecoveryAction::kTest) {
    // A drill resumed after PrepareDrill: Prepare discovered the live groups, and the drill's are
    // the copies PrepareDrill made. Asked again (it is idempotent: the copies are reused), never
    // the live replicas, which a drill must not touch.
    const RecoveryStep* prepared = journal.Find(step::kPrepareDrill);
    if (prepared != nullptr && prepared->state == StepState::kSucceeded) {
      Result<std::vector<storage::ConsistencyGroup>> copies =
          PrepareDrillCopies(*driver_, groups_, [this] { return Deadline(); }, drill_copies());
      if (copies.ok()) {
        groups_ = std::move(*copies);
      } else {
        st = copies.status().WithContext("finding the drill's copies again");
      }
    }
  }
  if (st.ok()) {
    while (auto next = journal.Next()) {
      if (stop_.stop_requested()) {
        st = Status::Cancelled("stopped before step " + std::string(*next) + "; run again to resume there");
        break;
      }
      if (lease->lost()) {
        st = Status::Aborted("the lease on plan " + plan_.metadata.name + " was lost; another run may be working");
        break;
      }
      st = RunStep(*next);
      if (!st.ok()) break;
    }
  }
  if (st.ok()) {
    recovery_.status.phase = RecoveryPhase::kSucceeded;
    finished_ = env_.clock->Now();
    recovery_.status.finished_at = FormatRfc3339(*finished_);
    recovery_.status.message = report_->counts.failed > 0
                                   ? std::to_string(report_->counts.failed) + " object(s) failed to restore"
                                   : "done";
  } else {
    // Left Running: the next run resumes at the step that failed.
    recovery_.status.message = st.message() + "; run again to resume";
  }
  Status saved = SaveStatus();
  Status released = lease->Release();
  FillReport();
  if (!st.ok()) return st;
  if (!saved.ok()) return saved;
  return released;
}

}  // namespace

Status PlanRecovery(kube::Client& target, kube::Client* source, const Env& env, const WorkflowOptions& options,
                    DryRunReport* report, std::stop_token stop) {
  if (report == nullptr) return Status::Internal("no report to fill");
  if (options.recovery.empty()) return Status::InvalidArgument("the recovery's name is empty");
  if (env.clock == nullptr || env.fs == nullptr) return Status::Internal("the environment has no clock or file system");
  if (options.agent == WorkflowOptions::Agent::kLocal && options.inventory_path.empty()) {
    return Status::InvalidArgument("the agent in this process (--agent local) reads the inventory from "
                                   "--inventory-path DIR: give the directory holding the replicated inventory");
  }
  WorkflowReport scratch;
  Run run(target, source, env, options, &scratch, std::move(stop));
  return run.DryRun(report);
}

Status RunRecovery(kube::Client& target, kube::Client* source, const Env& env, const WorkflowOptions& options,
                   WorkflowReport* report, std::stop_token stop) {
  WorkflowReport local;
  WorkflowReport* out = report != nullptr ? report : &local;
  if (options.recovery.empty()) return Status::InvalidArgument("the recovery's name is empty");
  if (env.clock == nullptr || env.fs == nullptr) return Status::Internal("the environment has no clock or file system");
  if (options.holder.empty()) return Status::InvalidArgument("the run's holder identity is empty");
  if (options.agent == WorkflowOptions::Agent::kLocal && options.inventory_path.empty()) {
    return Status::InvalidArgument("the agent in this process (--agent local) reads the inventory from "
                                   "--inventory-path DIR: give the directory holding the replicated inventory");
  }
  Run run(target, source, env, options, out, std::move(stop));
  Status st = run.Execute();
  return st;
}

}  // namespace kdr::dr
