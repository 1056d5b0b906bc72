#include "dr/agent_restore.h"

#include <nlohmann/json.hpp>

#include "base/strings.h"
#include "dr/drill_copies.h"
#include "dr/readiness.h"
#include "dr/recovery_volumes.h"
#include "inventory/format.h"
#include "kube/client.h"
#include "kube/object.h"
#include "storage/deadline.h"
#include "storage/driver.h"
#include "storage/registry.h"

namespace kdr::dr {
namespace {

using nlohmann::json;

const kube::Gvr kPlans{std::string(kGroup), std::string(kVersion), std::string(kPlanResource)};
const kube::Gvr kRecoveries{std::string(kGroup), std::string(kVersion), std::string(kRecoveryResource)};

const storage::Volume* VolumeOf(const std::vector<storage::ConsistencyGroup>& groups,
                                const inventory::VolumeMapEntry& entry) {
  for (const auto& cg : groups) {
    for (const auto& v : cg.volumes) {
      if (v.captured.pvc_namespace == entry.pvc_namespace && v.captured.pvc_name == entry.pvc_name) return &v;
    }
  }
  return nullptr;
}

// Writes the restore's progress to the recovery's status.progress, where the workflow waiting for
// the agent's Job reads it: at each tier, at the end, and otherwise every kEvery at most (a write
// per object would double the restore's requests). Called by the restore one call at a time.
class ProgressWriter {
 public:
  static constexpr std::chrono::seconds kEvery{2};
  ProgressWriter(kube::Client& target, const Clock& clock, std::string ns, std::string recovery)
      : target_(target), clock_(clock), ns_(std::move(ns)), recovery_(std::move(recovery)) {}

  void On(const inventory::RestoreProgress& p) {
    const Clock::MonoTime now = clock_.Monotonic();
    if (written_ && p.tier == tier_ && p.done < p.total && now - last_ < kEvery) return;
    written_ = true;
    tier_ = p.tier;
    last_ = now;
    json patch = {{"status",
                   {{"progress",
                     {{"done", p.done}, {"total", p.total}, {"tier", std::string(inventory::TierName(p.tier))}}}}}};
    kube::PatchOptions po;
    po.subresource = "status";
    // Best effort: progress is a view, the restore goes on without it.
    (void)target_.Patch(kRecoveries, ns_, recovery_, kube::PatchType::kMergePatch, patch, po);
  }

 private:
  kube::Client& target_;
  const Clock& clock_;
  const std::string ns_;
  const std::string recovery_;
  bool written_ = false;
  inventory::Tier tier_ = inventory::Tier::kCustomResourceDefinitions;
  Clock::MonoTime last_{};
};

Result<AgentResult> Describe(kube::Client& target, const AgentRestoreOptions& o, const DRPlan& plan,
                             const DRRecovery& recovery, const inventory::Index& index,
                             const inventory::RestoreInput& input) {
  Result<std::vector<inventory::Conflict>> conflicts =
      inventory::ListConflicts(target, input, RecoveryRestoreOptions(plan, recovery, o.restore));
  if (!conflicts.ok()) return conflicts.status().WithContext("listing what would conflict on the target");
  if (!conflicts->empty() && o.restore.existing == inventory::ExistingPolicy::kFail) {
    // Past the storage failover already (the inventory is read where it failed over): what is
    // refused here is the restore, before its first write.
    return Status::FailedPrecondition(std::to_string(conflicts->size()) + " object(s) on the target were not created "
                                      "by recovery " + Quote(o.recovery) + " (no object was restored; choose "
                                      "--existing skip or update, or remove them, and run again):" +
                                      DescribeConflicts(*conflicts));
  }
  json volumes = json::array();
  for (const inventory::VolumeMapEntry& e : index.volumes) volumes.push_back(inventory::ToJson(e));
  json patch = {{"status",
                 {{"inventory",
                   {{"generation", index.generation},
                    {"capturedAt", FormatRfc3339(index.capture_end)},
                    {"objects", static_cast<int64_t>(index.objects.size())},
                    {"volumes", std::move(volumes)}}}}}};
  kube::PatchOptions po;
  po.subresource = "status";
  Result<json> saved = target.Patch(kRecoveries, o.dr_namespace, o.recovery, kube::PatchType::kMergePatch, patch, po);
  if (!saved.ok()) return saved.status().WithContext("recording the inventory in drrecovery " + o.recovery);
  AgentResult result;
  result.ok = true;
  result.generation = index.generation;
  result.captured_at = FormatRfc3339(index.capture_end);
  result.objects = static_cast<int64_t>(index.objects.size());
  result.message = "inventory generation " + std::to_string(index.generation) + " captured " + result.captured_at +
                   ": " + std::to_string(index.objects.size()) + " objects, " + std::to_string(index.volumes.size()) +
                   " volume(s)";
  if (!conflicts->empty()) {
    result.message += "; " + std::to_string(conflicts->size()) + " existing object(s) will be " +
                      std::string(inventory::ToString(o.restore.existing));
  }
  return result;
}

}  // namespace

inventory::RestoreOptions RecoveryRestoreOptions(const DRPlan& plan, const DRRecovery& recovery,
                                                 const ObjectRestoreOptions& options) {
  inventory::RestoreOptions ro;
  ro.recovery = recovery.metadata.name;
  ro.namespaces = recovery.spec.namespaces.empty() ? plan.spec.namespaces : recovery.spec.namespaces;
  ro.namespace_mapping = recovery.spec.namespace_mapping;
  ro.existing = options.existing;
  ro.parallel = options.parallel;
  ro.rerun_finished_jobs = options.rerun_finished_jobs;
  ro.claim_bound_timeout = std::chrono::duration_cast<std::chrono::milliseconds>(options.timeout);
  ro.progress = options.progress;
  return ro;
}

std::vector<std::string> RestoreWarnings(const inventory::RestoreResult& result) {
  std::vector<std::string> out;
  for (const auto& d : result.differences) {
    out.push_back(d.object.ToString() + " differs on the target: " + d.field + " is " + d.target + " there, " +
                  d.source + " in the inventory");
  }
  return out;
}

inventory::RestoreResult RestoreRecoveryObjects(kube::Client& target, const Env& env, const DRPlan& plan,
                                                const DRRecovery& recovery, inventory::RestoreInput input,
                                                storage::Driver& driver,
                                                const std::vector<storage::ConsistencyGroup>& groups,
                                                const ObjectRestoreOptions& options, std::stop_token stop) {
  inventory::RestoreOptions ro = RecoveryRestoreOptions(plan, recovery, options);
  // The PVs of failed-over volumes come from the storage driver.
  ro.rewrite_volume = [&](const inventory::VolumeMapEntry& entry, json* pv) -> Status {
    const storage::Volume* v = VolumeOf(groups, entry);
    if (v == nullptr) return Status::Ok();
    KDR_ASSIGN_OR_RETURN(std::optional<json> source,
                         driver.VolumeSourceFor(*v, *pv, storage::Deadline::After(*env.clock, options.timeout, stop)));
    if (!source) {
      return Status::FailedPrecondition(v->note.empty() ? "the storage gives no volume for claim " + v->pvc() : v->note);
    }
    json labels = kube::FieldAt(*pv, {"metadata", "labels"});
    *pv = std::move(*source);
    if (labels.is_object()) {
      for (const auto& [k, val] : labels.items()) (*pv)["metadata"]["labels"][k] = val;
    }
    return Status::Ok();
  };
  inventory::RestoreResult r = inventory::Restore(target, std::move(input), ro, std::move(stop));
  if (!r.status.ok() && !r.conflicts.empty()) {
    r.status = Status(r.status.code(), r.status.message() + DescribeConflicts(r.conflicts));
  }
  return r;
}

Result<AgentResult> RunAgentRestore(kube::Client& target, const Env& env, const AgentRestoreOptions& o,
                                    std::stop_token stop) {
  if (o.recovery.empty()) return Status::InvalidArgument("--recovery is required");
  if (o.inventory_path.empty()) return Status::InvalidArgument("--inventory-path is required: where the inventory volume is mounted");
  if (env.clock == nullptr || env.fs == nullptr) return Status::Internal("the environment has no clock or file system");
  const std::string& ns = o.dr_namespace;
  Result<json> obj = target.Get(kRecoveries, ns, o.recovery);
  if (!obj.ok()) return obj.status().WithContext("reading drrecovery " + ns + "/" + o.recovery);
  KDR_ASSIGN_OR_RETURN(DRRecovery recovery, DRRecoveryFromJson(*obj));
  if (recovery.finished()) {
    return Status::FailedPrecondition("recovery " + Quote(o.recovery) + " finished (" +
                                      std::string(ToString(*recovery.status.phase)) + "): a finished recovery is never re-run");
  }
  Result<json> plan_obj = target.Get(kPlans, ns, recovery.spec.plan_name);
  if (!plan_obj.ok()) return plan_obj.status().WithContext("reading drplan " + ns + "/" + recovery.spec.plan_name);
  KDR_ASSIGN_OR_RETURN(DRPlan plan, DRPlanFromJson(*plan_obj));

  Result<inventory::Inventory> inv = inventory::Inventory::Open(*env.fs, o.inventory_path, o.generation);
  if (!inv.ok()) return inv.status().WithContext("reading the inventory at " + o.inventory_path);
  const inventory::Index& index = inv->index();
  if (index.plan.name != plan.metadata.name) {
    return Status::FailedPrecondition("the inventory at " + o.inventory_path + " was captured for plan " +
                                      Quote(index.plan.name) + ", not " + Quote(plan.metadata.name) +
                                      ": the agent mounts the wrong claim");
  }
  KDR_ASSIGN_OR_RETURN(inventory::RestoreInput input, inventory::ReadRestoreInput(*inv));
  kube::PatchOptions po;
  po.subresource = "status";
  if (o.describe) return Describe(target, o, plan, recovery, index, input);

  storage::DriverOptions d;
  d.env = env;
  d.target = &target;  // the source is not the agent's business: it runs on the target
  KDR_ASSIGN_OR_RETURN(std::unique_ptr<storage::Driver> driver, storage::NewDriver(plan, d));
  auto deadline = [&] { return storage::Deadline::After(*env.clock, o.restore.timeout, stop); };
  // The volumes the workflow moves, as it picks them (a subset recovery moves its own only).
  KDR_ASSIGN_OR_RETURN(inventory::VolumeMap moved,
                       RecoveryVolumes(index.volumes, recovery.spec.namespaces.empty() ? plan.spec.namespaces
                                                                                      : recovery.spec.namespaces));
  Result<std::vector<storage::ConsistencyGroup>> groups = driver->Discover(plan, moved, deadline());
  if (!groups.ok()) return groups.status().WithContext(std::string(driver->name()) + " storage");
  if (recovery.spec.action == RecoveryAction::kTest) {
    // A drill restores onto copies, never the live DR volumes; PrepareDrill finds the workflow's.
    KDR_ASSIGN_OR_RETURN(*groups, PrepareDrillCopies(*driver, *groups, deadline));
  }

  ObjectRestoreOptions ro = o.restore;
  ProgressWriter progress(target, *env.clock, ns, o.recovery);
  ro.progress = [&](const inventory::RestoreProgress& p) {
    if (o.restore.progress) o.restore.progress(p);
    progress.On(p);
  };
  inventory::RestoreResult r = RestoreRecoveryObjects(target, env, plan, recovery, std::move(input), *driver,
                                                      *groups, ro, stop);
  if (!r.status.ok()) return r.status;
  AgentResult result;
  result.generation = index.generation;
  result.captured_at = FormatRfc3339(index.capture_end);
  result.objects = r.counts.created + r.counts.updated + r.counts.existing;
  result.created = r.counts.created;
  result.updated = r.counts.updated;
  result.existing = r.counts.existing;
  result.skipped = r.counts.skipped;
  result.failed = r.counts.failed;
  result.ok = r.counts.failed == 0;
  result.message = std::to_string(result.objects) + " restored, " + std::to_string(result.skipped) + " skipped, " +
                   std::to_string(result.failed) + " failed from inventory generation " +
                   std::to_string(result.generation);
  for (size_t i = 0; i < r.failures.size() && i < 5; ++i) {
    result.message += "; " + r.failures[i].object.ToString() + ": " + r.failures[i].status.message();
  }
  json failures = json::array();
  for (size_t i = 0; i < r.failures.size() && i < kMaxRecordedFailures; ++i) {
    failures.push_back({{"object", r.failures[i].object.ToString()},
                        {"tier", std::string(inventory::TierName(r.failures[i].tier))},
                        {"code", std::string(StatusCodeName(r.failures[i].status.code()))},
                        {"message", r.failures[i].status.message()}});
  }
  // The warnings go back as the failures do: the workflow puts them in its report.
  std::vector<std::string> warnings = RestoreWarnings(r);
  if (warnings.size() > kMaxRecordedFailures) warnings.resize(kMaxRecordedFailures);
  json patch = {{"status",
                 {{"restored", {{"created", result.objects}, {"skipped", result.skipped}, {"failed", result.failed}}},
                  {"failures", failures.empty() ? json(nullptr) : failures},
                  {"warnings", warnings.empty() ? json(nullptr) : json(warnings)},
                  {"progress", nullptr}}}};
  Result<json> saved = target.Patch(kRecoveries, ns, o.recovery, kube::PatchType::kMergePatch, patch, po);
  if (!saved.ok()) return saved.status().WithContext("recording the restored counts in drrecovery " + o.recovery);
  return result;
}

}  // namespace kdr::dr
