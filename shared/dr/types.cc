#include "dr/types.h"

#include <nlohmann/json.hpp>

#include "base/strings.h"
#include "inventory/format.h"

namespace kdr::dr {
namespace {

using nlohmann::json;

template <typename E, size_t N>
Result<E> ParseEnum(const json& v, std::string_view field, const std::pair<std::string_view, E> (&table)[N]) {
  if (!v.is_string()) {
    return Status::InvalidArgument(std::string(field) + ": must be a string");
  }
  const auto& s = v.get_ref<const std::string&>();
  std::vector<std::string> names;
  for (const auto& [name, value] : table) {
    if (s == name) return value;
    names.emplace_back(name);
  }
  std::string supported;
  for (const auto& n : names) supported += (supported.empty() ? "" : ", ") + Quote(n);
  return Status::InvalidArgument(std::string(field) + ": unsupported value " + Quote(s) +
                                 ": supported values: " + supported + DidYouMean(s, names));
}

constexpr std::pair<std::string_view, StorageDriver> kDrivers[] = {
    {"longhorn", StorageDriver::kLonghorn}, {"alletra", StorageDriver::kAlletra}, {"none", StorageDriver::kNone}};
constexpr std::pair<std::string_view, PlanPhase> kPlanPhases[] = {{"Ready", PlanPhase::kReady},
                                                                  {"Spent", PlanPhase::kSpent}};
constexpr std::pair<std::string_view, RecoveryAction> kActions[] = {
    {"Failover", RecoveryAction::kFailover}, {"Failback", RecoveryAction::kFailback}, {"Test", RecoveryAction::kTest}};
constexpr std::pair<std::string_view, RecoveryPhase> kRecoveryPhases[] = {
    {"Pending", RecoveryPhase::kPending}, {"Running", RecoveryPhase::kRunning},
    {"Succeeded", RecoveryPhase::kSucceeded}, {"Failed", RecoveryPhase::kFailed}};
constexpr std::pair<std::string_view, StepState> kStepStates[] = {
    {"Pending", StepState::kPending}, {"Running", StepState::kRunning}, {"Succeeded", StepState::kSucceeded},
    {"Failed", StepState::kFailed}, {"Skipped", StepState::kSkipped}};

template <typename E, size_t N>
std::string_view NameOf(E v, const std::pair<std::string_view, E> (&table)[N]) {
  for (const auto& [name, value] : table) {
    if (value == v) return name;
  }
  return "";
}

// Typed field access that names the path on a type mismatch.
class Reader {
 public:
  Reader(const json& obj, std::string path) : obj_(obj), path_(std::move(path)) {}

  Status Required(const char* key) const {
    if (!obj_.is_object() || !obj_.contains(key) || obj_[key].is_null()) {
      return Status::InvalidArgument(Field(key) + ": required value");
    }
    return Status::Ok();
  }
  Result<std::string> String(const char* key) const {
    if (!Has(key)) return std::string();
    if (!obj_[key].is_string()) return Status::InvalidArgument(Field(key) + ": must be a string");
    return obj_[key].get<std::string>();
  }
  Result<long long> Int(const char* key) const {
    if (!Has(key)) return 0LL;
    if (!obj_[key].is_number_integer()) return Status::InvalidArgument(Field(key) + ": must be an integer");
    return obj_[key].get<long long>();
  }
  Result<std::vector<std::string>> Strings(const char* key) const {
    std::vector<std::string> out;
    if (!Has(key)) return out;
    if (!obj_[key].is_array()) return Status::InvalidArgument(Field(key) + ": must be a list of strings");
    for (size_t i = 0; i < obj_[key].size(); ++i) {
      if (!obj_[key][i].is_string()) {
        return Status::InvalidArgument(Field(key) + "[" + std::to_string(i) + "]: must be a string");
      }
      out.push_back(obj_[key][i].get<std::string>());
    }
    return out;
  }
  Result<std::map<std::string, std::string>> StringMap(const char* key) const {
    std::map<std::string, std::string> out;
    if (!Has(key)) return out;
    if (!obj_[key].is_object()) return Status::InvalidArgument(Field(key) + ": must be a map of strings");
    for (auto it = obj_[key].begin(); it != obj_[key].end(); ++it) {
      if (!it.value().is_string()) {
        return Status::InvalidArgument(Field(key) + "." + it.key() + ": must be a string");
      }
      out[it.key()] = it.value().get<std::string>();
    }
    return out;
  }
  Result<Reader> Object(const char* key) const {
    static const json kEmpty = json::object();
    if (!Has(key)) return Reader(kEmpty, Field(key));
    if (!obj_[key].is_object()) return Status::InvalidArgument(Field(key) + ": must be an object");
    return Reader(obj_[key], Field(key));
  }
  bool Has(const char* key) const { return obj_.is_object() && obj_.contains(key) && !obj_[key].is_null(); }
  const json& Get(const char* key) const { return obj_[key]; }
  std::string Field(const char* key) const { return path_.empty() ? key : path_ + "." + key; }

 private:
  const json& obj_;
  std::string path_;
};

Status CheckTypeMeta(const json& object, std::string_view kind) {
  if (!object.is_object()) return Status::InvalidArgument(std::string(kind) + ": must be a JSON object");
  std::string api_version = object.value("apiVersion", "");
  std::string got_kind = object.value("kind", "");
  if (api_version != kApiVersion || got_kind != kind) {
    return Status::InvalidArgument("expected " + std::string(kApiVersion) + ", Kind=" + std::string(kind) +
                                   ", got " + (api_version.empty() ? "<no apiVersion>" : api_version) +
                                   ", Kind=" + (got_kind.empty() ? "<no kind>" : got_kind));
  }
  return Status::Ok();
}

Result<ObjectMeta> ParseMeta(const json& object) {
  KDR_ASSIGN_OR_RETURN(Reader m, Reader(object, "").Object("metadata"));
  ObjectMeta meta;
  KDR_ASSIGN_OR_RETURN(meta.name, m.String("name"));
  KDR_ASSIGN_OR_RETURN(meta.namespace_name, m.String("namespace"));
  KDR_ASSIGN_OR_RETURN(meta.uid, m.String("uid"));
  KDR_ASSIGN_OR_RETURN(meta.resource_version, m.String("resourceVersion"));
  KDR_ASSIGN_OR_RETURN(meta.generation, m.Int("generation"));
  KDR_ASSIGN_OR_RETURN(meta.creation_timestamp, m.String("creationTimestamp"));
  KDR_ASSIGN_OR_RETURN(meta.labels, m.StringMap("labels"));
  KDR_ASSIGN_OR_RETURN(meta.annotations, m.StringMap("annotations"));
  if (meta.name.empty()) return Status::InvalidArgument("metadata.name: required value");
  return meta;
}

json MetaToJson(const ObjectMeta& m) {
  json out = {{"name", m.name}};
  if (!m.namespace_name.empty()) out["namespace"] = m.namespace_name;
  if (!m.uid.empty()) out["uid"] = m.uid;
  if (!m.resource_version.empty()) out["resourceVersion"] = m.resource_version;
  if (m.generation != 0) out["generation"] = m.generation;
  if (!m.creation_timestamp.empty()) out["creationTimestamp"] = m.creation_timestamp;
  if (!m.labels.empty()) out["labels"] = m.labels;
  if (!m.annotations.empty()) out["annotations"] = m.annotations;
  return out;
}

void SetIfNotEmpty(json* obj, const char* key, const std::string& v) {
  if (!v.empty()) (*obj)[key] = v;
}

}  // namespace

std::string_view ToString(StorageDriver v) { return NameOf(v, kDrivers); }
std::string_view ToString(PlanPhase v) { return NameOf(v, kPlanPhases); }
std::string_view ToString(RecoveryAction v) { return NameOf(v, kActions); }
std::string_view ToString(RecoveryPhase v) { return NameOf(v, kRecoveryPhases); }
std::string_view ToString(StepState v) { return NameOf(v, kStepStates); }

Result<DRPlan> DRPlanFromJson(const json& object) {
  KDR_RETURN_IF_ERROR(CheckTypeMeta(object, kPlanKind));
  DRPlan plan;
  KDR_ASSIGN_OR_RETURN(plan.metadata, ParseMeta(object));
  Reader root(object, "");
  KDR_RETURN_IF_ERROR(root.Required("spec"));
  KDR_ASSIGN_OR_RETURN(Reader spec, root.Object("spec"));
  for (const char* key : {"sourceContext", "targetContext", "namespaces", "inventory", "storage"}) {
    KDR_RETURN_IF_ERROR(spec.Required(key));
  }
  KDR_ASSIGN_OR_RETURN(plan.spec.source_context, spec.String("sourceContext"));
  KDR_ASSIGN_OR_RETURN(plan.spec.target_context, spec.String("targetContext"));
  KDR_ASSIGN_OR_RETURN(plan.spec.namespaces, spec.Strings("namespaces"));
  if (plan.spec.namespaces.empty()) {
    return Status::InvalidArgument("spec.namespaces: must name at least one namespace");
  }
  KDR_ASSIGN_OR_RETURN(Reader inv, spec.Object("inventory"));
  KDR_RETURN_IF_ERROR(inv.Required("pvcNamespace"));
  KDR_RETURN_IF_ERROR(inv.Required("pvcName"));
  KDR_ASSIGN_OR_RETURN(plan.spec.inventory_pvc_namespace, inv.String("pvcNamespace"));
  KDR_ASSIGN_OR_RETURN(plan.spec.inventory_pvc_name, inv.String("pvcName"));
  KDR_ASSIGN_OR_RETURN(Reader storage, spec.Object("storage"));
  KDR_RETURN_IF_ERROR(storage.Required("driver"));
  KDR_ASSIGN_OR_RETURN(plan.spec.driver, ParseEnum(storage.Get("driver"), "spec.storage.driver", kDrivers));
  KDR_ASSIGN_OR_RETURN(plan.spec.storage_parameters, storage.StringMap("parameters"));
  KDR_ASSIGN_OR_RETURN(plan.spec.credentials_secret, storage.String("credentialsSecret"));
  KDR_ASSIGN_OR_RETURN(plan.spec.schedule, spec.String("schedule"));

  KDR_ASSIGN_OR_RETURN(Reader status, root.Object("status"));
  if (status.Has("phase")) {
    KDR_ASSIGN_OR_RETURN(plan.status.phase, ParseEnum(status.Get("phase"), "status.phase", kPlanPhases));
  }
  KDR_ASSIGN_OR_RETURN(plan.status.spent_by, status.String("spentBy"));
  KDR_ASSIGN_OR_RETURN(plan.status.spent_at, status.String("spentAt"));
  if (status.Has("conditions")) {
    const json& conds = status.Get("conditions");
    if (!conds.is_array()) return Status::InvalidArgument("status.conditions: must be a list");
    for (size_t i = 0; i < conds.size(); ++i) {
      Reader c(conds[i], "status.conditions[" + std::to_string(i) + "]");
      Condition cond;
      KDR_RETURN_IF_ERROR(c.Required("type"));
      KDR_RETURN_IF_ERROR(c.Required("status"));
      KDR_ASSIGN_OR_RETURN(cond.type, c.String("type"));
      KDR_ASSIGN_OR_RETURN(cond.status, c.String("status"));
      KDR_ASSIGN_OR_RETURN(cond.reason, c.String("reason"));
      KDR_ASSIGN_OR_RETURN(cond.message, c.String("message"));
      KDR_ASSIGN_OR_RETURN(cond.last_transition_time, c.String("lastTransitionTime"));
      KDR_ASSIGN_OR_RETURN(cond.observed_generation, c.Int("observedGeneration"));
      plan.status.conditions.push_back(std::move(cond));
    }
  }
  return plan;
}

json ToJson(const DRPlan& plan) {
  const DRPlanSpec& s = plan.spec;
  json storage = {{"driver", ToString(s.driver)}};
  if (!s.storage_parameters.empty()) storage["parameters"] = s.storage_parameters;
  SetIfNotEmpty(&storage, "credentialsSecret", s.credentials_secret);
  json spec = {{"sourceContext", s.source_context},
               {"targetContext", s.target_context},
               {"namespaces", s.namespaces},
               {"inventory", {{"pvcNamespace", s.inventory_pvc_namespace}, {"pvcName", s.inventory_pvc_name}}},
               {"storage", storage}};
  SetIfNotEmpty(&spec, "schedule", s.schedule);
  json out = {{"apiVersion", kApiVersion}, {"kind", kPlanKind}, {"metadata", MetaToJson(plan.metadata)},
              {"spec", spec}};
  json status = json::object();
  if (plan.status.phase) status["phase"] = ToString(*plan.status.phase);
  SetIfNotEmpty(&status, "spentBy", plan.status.spent_by);
  SetIfNotEmpty(&status, "spentAt", plan.status.spent_at);
  if (!plan.status.conditions.empty()) {
    json conds = json::array();
    for (const auto& c : plan.status.conditions) {
      json cj = {{"type", c.type}, {"status", c.status}};
      SetIfNotEmpty(&cj, "reason", c.reason);
      SetIfNotEmpty(&cj, "message", c.message);
      SetIfNotEmpty(&cj, "lastTransitionTime", c.last_transition_time);
      if (c.observed_generation != 0) cj["observedGeneration"] = c.observed_generation;
      conds.push_back(std::move(cj));
    }
    status["conditions"] = std::move(conds);
  }
  if (!status.empty()) out["status"] = std::move(status);
  return out;
}

Result<DRRecovery> DRRecoveryFromJson(const json& object) {
  KDR_RETURN_IF_ERROR(CheckTypeMeta(object, kRecoveryKind));
  DRRecovery rec;
  KDR_ASSIGN_OR_RETURN(rec.metadata, ParseMeta(object));
  Reader root(object, "");
  KDR_RETURN_IF_ERROR(root.Required("spec"));
  KDR_ASSIGN_OR_RETURN(Reader spec, root.Object("spec"));
  KDR_RETURN_IF_ERROR(spec.Required("planRef"));
  KDR_RETURN_IF_ERROR(spec.Required("action"));
  KDR_ASSIGN_OR_RETURN(Reader plan_ref, spec.Object("planRef"));
  KDR_RETURN_IF_ERROR(plan_ref.Required("name"));
  KDR_ASSIGN_OR_RETURN(rec.spec.plan_name, plan_ref.String("name"));
  KDR_ASSIGN_OR_RETURN(rec.spec.action, ParseEnum(spec.Get("action"), "spec.action", kActions));
  KDR_ASSIGN_OR_RETURN(rec.spec.namespaces, spec.Strings("namespaces"));
  KDR_ASSIGN_OR_RETURN(Reader transforms, spec.Object("transforms"));
  KDR_ASSIGN_OR_RETURN(Reader modifiers, transforms.Object("resourceModifiers"));
  KDR_ASSIGN_OR_RETURN(Reader cm_ref, modifiers.Object("configMapRef"));
  if (modifiers.Has("configMapRef")) KDR_RETURN_IF_ERROR(cm_ref.Required("name"));
  KDR_ASSIGN_OR_RETURN(rec.spec.modifiers_config_map, cm_ref.String("name"));
  KDR_ASSIGN_OR_RETURN(Reader vm, transforms.Object("vm"));
  if (vm.Has("powerOn")) {
    if (!vm.Get("powerOn").is_boolean()) {
      return Status::InvalidArgument("spec.transforms.vm.powerOn: must be true or false");
    }
    rec.spec.vm_power_on = vm.Get("powerOn").get<bool>();
  }
  KDR_ASSIGN_OR_RETURN(rec.spec.namespace_mapping, spec.StringMap("namespaceMapping"));
  if (!rec.spec.namespace_mapping.empty() && rec.spec.action != RecoveryAction::kTest) {
    return Status::InvalidArgument(
        "spec.namespaceMapping: only a Test (drill) restores into other namespaces; remove it or set "
        "spec.action: Test");
  }

  KDR_ASSIGN_OR_RETURN(Reader status, root.Object("status"));
  KDR_ASSIGN_OR_RETURN(rec.status.type, status.String("type"));
  if (status.Has("phase")) {
    KDR_ASSIGN_OR_RETURN(rec.status.phase, ParseEnum(status.Get("phase"), "status.phase", kRecoveryPhases));
  }
  if (status.Has("steps")) {
    const json& steps = status.Get("steps");
    if (!steps.is_array()) return Status::InvalidArgument("status.steps: must be a list");
    for (size_t i = 0; i < steps.size(); ++i) {
      std::string path = "status.steps[" + std::to_string(i) + "]";
      Reader st(steps[i], path);
      RecoveryStep step;
      KDR_RETURN_IF_ERROR(st.Required("name"));
      KDR_RETURN_IF_ERROR(st.Required("state"));
      KDR_ASSIGN_OR_RETURN(step.name, st.String("name"));
      KDR_ASSIGN_OR_RETURN(step.state, ParseEnum(st.Get("state"), path + ".state", kStepStates));
      KDR_ASSIGN_OR_RETURN(long long attempts, st.Int("attempts"));
      step.attempts = static_cast<int>(attempts);
      KDR_ASSIGN_OR_RETURN(step.started_at, st.String("startedAt"));
      KDR_ASSIGN_OR_RETURN(step.finished_at, st.String("finishedAt"));
      KDR_ASSIGN_OR_RETURN(step.message, st.String("message"));
      rec.status.steps.push_back(std::move(step));
    }
  }
  if (status.Has("restored")) {
    KDR_ASSIGN_OR_RETURN(Reader r, status.Object("restored"));
    RestoredCounts counts;
    KDR_ASSIGN_OR_RETURN(long long created, r.Int("created"));
    KDR_ASSIGN_OR_RETURN(long long skipped, r.Int("skipped"));
    KDR_ASSIGN_OR_RETURN(long long failed, r.Int("failed"));
    counts.created = static_cast<int>(created);
    counts.skipped = static_cast<int>(skipped);
    counts.failed = static_cast<int>(failed);
    rec.status.restored = counts;
  }
  if (status.Has("inventory")) {
    KDR_ASSIGN_OR_RETURN(Reader inv, status.Object("inventory"));
    RecoveryInventory ri;
    KDR_ASSIGN_OR_RETURN(ri.generation, inv.Int("generation"));
    KDR_ASSIGN_OR_RETURN(ri.captured_at, inv.String("capturedAt"));
    KDR_ASSIGN_OR_RETURN(ri.objects, inv.Int("objects"));
    if (inv.Has("volumes")) {
      const json& volumes = inv.Get("volumes");
      if (!volumes.is_array()) return Status::InvalidArgument("status.inventory.volumes: must be a list");
      for (size_t i = 0; i < volumes.size(); ++i) {
        KDR_ASSIGN_OR_RETURN(inventory::VolumeMapEntry e,
                             inventory::VolumeMapEntryFromJson(
                                 volumes[i], "status.inventory.volumes[" + std::to_string(i) + "]"));
        ri.volumes.push_back(std::move(e));
      }
    }
    rec.status.inventory = std::move(ri);
  }
  if (status.Has("failures")) {
    const json& failures = status.Get("failures");
    if (!failures.is_array()) return Status::InvalidArgument("status.failures: must be a list");
    for (size_t i = 0; i < failures.size(); ++i) {
      Reader f(failures[i], "status.failures[" + std::to_string(i) + "]");
      RecoveryFailure rf;
      KDR_ASSIGN_OR_RETURN(rf.object, f.String("object"));
      KDR_ASSIGN_OR_RETURN(rf.tier, f.String("tier"));
      KDR_ASSIGN_OR_RETURN(rf.code, f.String("code"));
      KDR_ASSIGN_OR_RETURN(rf.message, f.String("message"));
      rec.status.failures.push_back(std::move(rf));
    }
  }
  if (status.Has("warnings")) {
    const json& warnings = status.Get("warnings");
    if (!warnings.is_array()) return Status::InvalidArgument("status.warnings: must be a list");
    for (size_t i = 0; i < warnings.size(); ++i) {
      if (!warnings[i].is_string()) {
        return Status::InvalidArgument("status.warnings[" + std::to_string(i) + "]: must be a string");
      }
      rec.status.warnings.push_back(warnings[i].get<std::string>());
    }
  }
  KDR_ASSIGN_OR_RETURN(rec.status.started_at, status.String("startedAt"));
  KDR_ASSIGN_OR_RETURN(rec.status.started_by, status.String("startedBy"));
  KDR_ASSIGN_OR_RETURN(rec.status.finished_at, status.String("finishedAt"));
  KDR_ASSIGN_OR_RETURN(rec.status.message, status.String("message"));
  return rec;
}

json ToJson(const DRRecovery& rec) {
  const DRRecoverySpec& s = rec.spec;
  json spec = {{"planRef", {{"name", s.plan_name}}}, {"action", ToString(s.action)}};
  if (!s.namespaces.empty()) spec["namespaces"] = s.namespaces;
  json transforms = json::object();
  if (!s.modifiers_config_map.empty()) {
    transforms["resourceModifiers"] = {{"configMapRef", {{"name", s.modifiers_config_map}}}};
  }
  if (s.vm_power_on) transforms["vm"] = {{"powerOn", *s.vm_power_on}};
  if (!transforms.empty()) spec["transforms"] = std::move(transforms);
  if (!s.namespace_mapping.empty()) spec["namespaceMapping"] = s.namespace_mapping;
  json out = {{"apiVersion", kApiVersion}, {"kind", kRecoveryKind}, {"metadata", MetaToJson(rec.metadata)},
              {"spec", spec}};
  json status = json::object();
  SetIfNotEmpty(&status, "type", rec.status.type);
  if (rec.status.phase) status["phase"] = ToString(*rec.status.phase);
  if (!rec.status.steps.empty()) {
    json steps = json::array();
    for (const auto& st : rec.status.steps) {
      json sj = {{"name", st.name}, {"state", ToString(st.state)}};
      if (st.attempts != 0) sj["attempts"] = st.attempts;
      SetIfNotEmpty(&sj, "startedAt", st.started_at);
      SetIfNotEmpty(&sj, "finishedAt", st.finished_at);
      SetIfNotEmpty(&sj, "message", st.message);
      steps.push_back(std::move(sj));
    }
    status["steps"] = std::move(steps);
  }
  if (rec.status.restored) {
    status["restored"] = {{"created", rec.status.restored->created},
                          {"skipped", rec.status.restored->skipped},
                          {"failed", rec.status.restored->failed}};
  }
  if (rec.status.inventory) {
    const RecoveryInventory& ri = *rec.status.inventory;
    json volumes = json::array();
    for (const inventory::VolumeMapEntry& e : ri.volumes) volumes.push_back(inventory::ToJson(e));
    status["inventory"] = {{"generation", ri.generation}, {"capturedAt", ri.captured_at},
                           {"objects", ri.objects}, {"volumes", std::move(volumes)}};
  }
  if (!rec.status.failures.empty()) {
    json failures = json::array();
    for (const RecoveryFailure& f : rec.status.failures) {
      json fj = {{"object", f.object}, {"message", f.message}};
      SetIfNotEmpty(&fj, "tier", f.tier);
      SetIfNotEmpty(&fj, "code", f.code);
      failures.push_back(std::move(fj));
    }
    status["failures"] = std::move(failures);
  }
  if (!rec.status.warnings.empty()) status["warnings"] = rec.status.warnings;
  SetIfNotEmpty(&status, "startedAt", rec.status.started_at);
  SetIfNotEmpty(&status, "startedBy", rec.status.started_by);
  SetIfNotEmpty(&status, "finishedAt", rec.status.finished_at);
  SetIfNotEmpty(&status, "message", rec.status.message);
  if (!status.empty()) out["status"] = std::move(status);
  return out;
}

}  // namespace kdr::dr
