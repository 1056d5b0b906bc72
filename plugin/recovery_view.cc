#include "recovery_view.h"

#include <nlohmann/json.hpp>
#include <ostream>

#include "base/strings.h"
#include "dr/journal.h"
#include "dr_site.h"
#include "kube/object.h"

namespace kdr::plugin {

using nlohmann::json;

Result<std::vector<json>> ListRecoveries(kube::Client& client, const std::string& ns) {
  Result<json> list = client.ListAll(kRecoveryGvr, ns);
  if (!list.ok()) {
    if (list.status().IsNotFound()) {
      return Status::FailedPrecondition("the cluster of " + ContextName(client) + " does not serve drrecoveries." +
                                        std::string(dr::kGroup) + ": install kubectl-dr there first (kubectl dr "
                                        "install), or choose the target cluster with --context");
    }
    return list.status().WithContext("listing drrecoveries on " + ContextName(client));
  }
  std::vector<json> items;
  if ((*list)["items"].is_array()) {
    for (json& item : (*list)["items"]) items.push_back(std::move(item));
  }
  return items;
}

Result<dr::DRRecovery> ReadRecovery(kube::Client& client, const std::string& ns, const std::string& name) {
  Result<json> obj = client.Get(kRecoveryGvr, ns, name);
  if (!obj.ok()) {
    if (!obj.status().IsNotFound()) return obj.status().WithContext("reading drrecovery " + ns + "/" + name);
    // The list says whether the cluster serves recoveries at all, and offers the nearest name.
    KDR_ASSIGN_OR_RETURN(std::vector<json> all, ListRecoveries(client, ns));
    std::vector<std::string> names;
    for (const json& r : all) names.push_back(kube::StringField(r, {"metadata", "name"}));
    return Status::NotFound("drrecovery " + Quote(name) + " not found in namespace " + ns + DidYouMean(name, names));
  }
  Result<dr::DRRecovery> r = dr::DRRecoveryFromJson(*obj);
  if (!r.ok()) return r.status().WithContext("reading drrecovery " + ns + "/" + name);
  return r;
}

std::string PhaseOf(const dr::DRRecovery& r) {
  return r.status.phase ? std::string(dr::ToString(*r.status.phase)) : "Pending";
}

std::string StepOf(const dr::DRRecovery& r) {
  const std::vector<std::string_view>& all = dr::StepsOf(r.spec.action);
  for (size_t i = 0; i < r.status.steps.size(); ++i) {
    const dr::RecoveryStep& s = r.status.steps[i];
    if (s.state != dr::StepState::kSucceeded && s.state != dr::StepState::kSkipped) {
      return s.name + " (" + std::to_string(i + 1) + "/" + std::to_string(all.size()) + ")";
    }
  }
  return r.status.steps.empty() ? "" : "done";
}

std::string RestoredOf(const dr::DRRecovery& r) {
  if (!r.status.restored) return "";
  const dr::RestoredCounts& c = *r.status.restored;
  return std::to_string(c.created) + "/" + std::to_string(c.skipped) + "/" + std::to_string(c.failed);
}

std::string StepElapsed(const dr::RecoveryStep& s, Clock::WallTime now) {
  Clock::WallTime start, end = now;
  if (!ParseRfc3339(s.started_at, &start)) return "";
  if (!s.finished_at.empty() && !ParseRfc3339(s.finished_at, &end)) return "";
  // A step started but not running (Pending again after a crash) has no clock running.
  if (s.finished_at.empty() && s.state != dr::StepState::kRunning) return "";
  return HumanDuration(end - start);
}

Table JournalTable(const dr::DRRecovery& r, Clock::WallTime now, bool with_times) {
  Table t;
  t.headers = {"STEP", "STATE", "ATTEMPTS"};
  if (with_times) t.headers.insert(t.headers.end(), {"STARTED", "FINISHED"});
  t.headers.insert(t.headers.end(), {"ELAPSED", "MESSAGE"});
  for (const dr::RecoveryStep& s : r.status.steps) {
    std::vector<std::string> row = {s.name, std::string(dr::ToString(s.state)), std::to_string(s.attempts)};
    if (with_times) row.insert(row.end(), {s.started_at, s.finished_at});
    row.insert(row.end(), {StepElapsed(s, now), s.message});
    t.rows.push_back(std::move(row));
  }
  return t;
}

void DescribeRecovery(const dr::DRRecovery& r, Clock::WallTime now, std::ostream& out) {
  auto none = [](const std::string& s) { return s.empty() ? std::string("<none>") : s; };
  out << "Name:        " << r.metadata.name << "\n"
      << "Namespace:   " << r.metadata.namespace_name << "\n"
      << "Plan:        " << r.spec.plan_name << "\n"
      << "Action:      " << dr::ToString(r.spec.action) << "\n"
      << "Namespaces:  " << (r.spec.namespaces.empty() ? "all of the plan's" : Join(r.spec.namespaces, ", ")) << "\n";
  if (!r.spec.namespace_mapping.empty()) {
    std::vector<std::string> pairs;
    for (const auto& [from, to] : r.spec.namespace_mapping) pairs.push_back(from + " -> " + to);
    out << "Mapping:     " << Join(pairs, ", ") << "\n";
  }
  out << "Modifiers:   " << (r.spec.modifiers_config_map.empty() ? "<none>" : "configmap " + r.spec.modifiers_config_map)
      << "\n"
      << "VM power on: " << (r.spec.vm_power_on ? (*r.spec.vm_power_on ? "true" : "false") : "<unchanged>") << "\n"
      << "Phase:       " << PhaseOf(r) << "\n"
      << "Started:     " << none(r.status.started_at) << "\n"
      << "Finished:    " << none(r.status.finished_at) << "\n";
  if (r.status.restored) {
    out << "Restored:    " << r.status.restored->created << " created, " << r.status.restored->skipped << " skipped, "
        << r.status.restored->failed << " failed\n";
  }
  out << "Message:     " << none(r.status.message) << "\n";
  if (r.status.steps.empty()) {
    out << "Steps:       <none> (not started: kubectl dr "
        << (r.spec.action == dr::RecoveryAction::kTest ? "drill" : ToLower(std::string(dr::ToString(r.spec.action))))
        << " " << r.metadata.name << ")\n";
    return;
  }
  out << "Steps:\n";
  for (const std::string& line : Split(FormatTable(JournalTable(r, now, true)), '\n')) {
    if (!line.empty()) out << "  " << line << "\n";
  }
}

}  // namespace kdr::plugin
