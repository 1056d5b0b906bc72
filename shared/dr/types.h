#pragma once

// The product's API types, DRPlan and DRRecovery (dr.kubectl-dr.dev/v1alpha1), as the CRDs in
// manifests/crds/ define them, with conversion from and to their JSON form. Parsing checks what
// the CRD schema checks (required fields, enums) and names the field at fault
// ("spec.storage.driver: unsupported value \"nfs\" ..."), so a plan read back from a cluster or a
// file is either whole and valid or refused.

#include <map>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "inventory/volume_map.h"

namespace kdr::dr {

inline constexpr std::string_view kGroup = "dr.kubectl-dr.dev";
inline constexpr std::string_view kVersion = "v1alpha1";
inline constexpr std::string_view kApiVersion = "dr.kubectl-dr.dev/v1alpha1";
inline constexpr std::string_view kPlanKind = "DRPlan";
inline constexpr std::string_view kRecoveryKind = "DRRecovery";
inline constexpr std::string_view kPlanResource = "drplans";
inline constexpr std::string_view kRecoveryResource = "drrecoveries";
// The DR system namespace: webhook, plans, recovery jobs, leases.
inline constexpr std::string_view kSystemNamespace = "kubectl-dr-system";
// Labels the product sets.
inline constexpr std::string_view kRecoveryLabel = "dr.kubectl-dr.dev/recovery";
inline constexpr std::string_view kFailedOverLabel = "dr.kubectl-dr.dev/failed-over";
inline constexpr std::string_view kFencedLabel = "dr.kubectl-dr.dev/fenced";

enum class StorageDriver { kLonghorn, kAlletra, kNone };
enum class PlanPhase { kReady, kSpent };
enum class RecoveryAction { kFailover, kFailback, kTest };
enum class RecoveryPhase { kPending, kRunning, kSucceeded, kFailed };
enum class StepState { kPending, kRunning, kSucceeded, kFailed, kSkipped };

std::string_view ToString(StorageDriver v);
std::string_view ToString(PlanPhase v);
std::string_view ToString(RecoveryAction v);
std::string_view ToString(RecoveryPhase v);
std::string_view ToString(StepState v);

// The parts of metadata the product reads and writes.
struct ObjectMeta {
  std::string name;
  std::string namespace_name;
  std::string uid;
  std::string resource_version;
  long long generation = 0;
  std::string creation_timestamp;
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> annotations;
};

struct Condition {
  std::string type;
  std::string status;  // True | False | Unknown
  std::string reason;
  std::string message;
  std::string last_transition_time;
  long long observed_generation = 0;
};

struct DRPlanSpec {
  std::string source_context;
  std::string target_context;
  std::vector<std::string> namespaces;
  std::string inventory_pvc_namespace;
  std::string inventory_pvc_name;
  StorageDriver driver = StorageDriver::kNone;
  std::map<std::string, std::string> storage_parameters;
  std::string credentials_secret;
  std::string schedule;
};

struct DRPlanStatus {
  std::optional<PlanPhase> phase;
  std::string spent_by;
  std::string spent_at;
  std::vector<Condition> conditions;
};

struct DRPlan {
  ObjectMeta metadata;
  DRPlanSpec spec;
  DRPlanStatus status;

  bool spent() const { return status.phase == PlanPhase::kSpent; }
};

struct RecoveryStep {
  std::string name;
  StepState state = StepState::kPending;
  int attempts = 0;
  std::string started_at;
  std::string finished_at;
  std::string message;
};

struct RestoredCounts {
  int created = 0;
  int skipped = 0;
  int failed = 0;
};

// What the agent read from the inventory volume (--agent job: the plugin does not read the
// inventory itself), recorded by its first run so that the later steps, and a resumed run, know
// the recovery point and the volume map without mounting the volume again.
struct RecoveryInventory {
  long long generation = 0;
  std::string captured_at;  // RFC 3339: the RPO
  long long objects = 0;
  inventory::VolumeMap volumes;
};

// One object the agent could not restore (the first kMaxRecordedFailures of them).
struct RecoveryFailure {
  std::string object;  // "Deployment shop/web"
  std::string tier;    // inventory::TierName: "workloads"
  std::string code;    // StatusCodeName: "invalid argument"
  std::string message;
};
inline constexpr size_t kMaxRecordedFailures = 100;

struct DRRecoverySpec {
  std::string plan_name;
  RecoveryAction action = RecoveryAction::kFailover;
  std::vector<std::string> namespaces;  // empty: all of the plan's
  std::string modifiers_config_map;     // transforms.resourceModifiers.configMapRef.name
  std::optional<bool> vm_power_on;      // transforms.vm.powerOn
  std::map<std::string, std::string> namespace_mapping;
};

struct DRRecoveryStatus {
  std::string type;  // DISASTER_RECOVERY once started
  std::optional<RecoveryPhase> phase;
  std::vector<RecoveryStep> steps;
  std::optional<RestoredCounts> restored;
  // --agent job only: the inventory as the agent read it, and the objects it failed to restore.
  std::optional<RecoveryInventory> inventory;
  std::vector<RecoveryFailure> failures;
  // --agent job only: what the agent warned of while restoring (RestoreWarnings, the first
  // kMaxRecordedFailures), for the workflow's report.
  std::vector<std::string> warnings;
  std::string started_at;
  // The user running it now (a SelfSubjectReview's username, recorded by each run as it starts):
  // while a Failback runs, the webhook lets this user unfence the old primary.
  std::string started_by;
  std::string finished_at;
  std::string message;
};

struct DRRecovery {
  ObjectMeta metadata;
  DRRecoverySpec spec;
  DRRecoveryStatus status;

  // Finished: Succeeded or Failed. A finished recovery cannot be re-run.
  bool finished() const {
    return status.phase == RecoveryPhase::kSucceeded || status.phase == RecoveryPhase::kFailed;
  }
};

// Parse an object (as read from the API server or a file). InvalidArgument naming the field when
// apiVersion/kind are not this type's, a required field is missing, or an enum value is unknown.
Result<DRPlan> DRPlanFromJson(const nlohmann::json& object);
Result<DRRecovery> DRRecoveryFromJson(const nlohmann::json& object);

// The full object (apiVersion, kind, metadata, spec, status); empty optional parts are omitted.
nlohmann::json ToJson(const DRPlan& plan);
nlohmann::json ToJson(const DRRecovery& recovery);

}  // namespace kdr::dr
