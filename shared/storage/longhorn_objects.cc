#include "storage/longhorn_objects.h"

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>

#include "base/strings.h"
#include "kube/client.h"

namespace kdr::storage::longhorn {

using nlohmann::json;

namespace {

// The values Longhorn 1.5-1.7 documents for volume status.state and status.robustness
// (longhorn-manager types.VolumeState / VolumeRobustness).
constexpr std::string_view kStates[] = {"", "creating", "attached", "detached", "attaching",
                                        "detaching", "deleting"};
constexpr std::string_view kRobustness[] = {"", "healthy", "degraded", "faulted", "unknown"};

template <size_t N>
bool Known(std::string_view x, const std::string_view (&list)[N]) {
  return std::find(std::begin(list), std::end(list), x) != std::end(list);
}

}  // namespace

bool Flag(const json& o, std::initializer_list<std::string_view> path) {
  const json& v = kube::FieldAt(o, path);
  return v.is_boolean() && v.get<bool>();
}

std::string Str(const json& o, std::initializer_list<std::string_view> path) {
  return kube::StringField(o, path);
}

BackupRef ParseBackupUrl(const std::string& url) {
  BackupRef out;
  size_t q = url.find('?');
  out.target = url.substr(0, q);
  if (q == std::string::npos) return out;
  for (const std::string& kv : Split(url.substr(q + 1), '&')) {
    size_t eq = kv.find('=');
    if (eq == std::string::npos) continue;
    if (kv.compare(0, eq, "backup") == 0) out.backup = kv.substr(eq + 1);
    if (kv.compare(0, eq, "volume") == 0) out.volume = kv.substr(eq + 1);
  }
  return out;
}

std::string TrimSlashes(std::string s) {
  while (!s.empty() && s.back() == '/') s.pop_back();
  return s;
}

bool Active(const json& v) {
  return !Flag(v, {"spec", "standby"}) && !Str(v, {"status", "state"}).empty() &&
         !Flag(v, {"status", "isStandby"}) && !Flag(v, {"status", "restoreRequired"});
}

std::string RestoreFailure(const json& v) {
  const json& conds = kube::FieldAt(v, {"status", "conditions"});
  if (!conds.is_array()) return "";
  for (const json& c : conds) {
    if (c.value("type", "") == "Restore" && c.value("reason", "") == "RestoreFailure") {
      return c.value("message", "restore failed");
    }
  }
  return "";
}

std::string FollowedBackupVolume(const json& v) {
  return ParseBackupUrl(Str(v, {"spec", "fromBackup"})).volume;
}

Status CheckKnown(const json& v, std::string_view site) {
  for (const auto& [field, value] : {std::pair<std::string, std::string>{"state", Str(v, {"status", "state"})},
                                     {"robustness", Str(v, {"status", "robustness"})}}) {
    bool known = field == "state" ? Known(value, kStates) : Known(value, kRobustness);
    if (!known) {
      return Status::FailedPrecondition("Longhorn volume " + Quote(kube::Name(v)) + " on the " +
                                        std::string(site) + " reports " + field + " " +
                                        Quote(value) + ", which kubectl-dr does not know; "
                                        "stopping rather than guessing what it means");
    }
  }
  return Status::Ok();
}

std::optional<Clock::WallTime> ParseTime(const std::string& s) {
  Clock::WallTime t;
  if (s.empty() || !ParseRfc3339(s, &t)) return std::nullopt;
  return t;
}

std::string Compact(Clock::WallTime t) {
  std::string out;
  for (char c : FormatRfc3339(t)) {  // 2026-01-01T00:00:00Z
    if (std::isdigit(static_cast<unsigned char>(c))) out += c;
    if (c == 'T') out += 't';
  }
  return out;
}

Result<View> ReadView(kube::Client& client, const std::string& ns, std::string_view site,
                      bool with_backup_volumes) {
  View view;
  for (const kube::Gvr* gvr : {&kVolumes, &kBackupVolumes}) {
    if (gvr == &kBackupVolumes && !with_backup_volumes) break;
    auto list = client.List(*gvr, ns);
    if (!list.ok()) {
      std::string hint = list.status().IsNotFound() ? "; is Longhorn installed there?" : "";
      return Status(list.status().code(), "listing Longhorn " + gvr->resource + " in namespace " +
                                              ns + " on the " + std::string(site) + " cluster: " +
                                              list.status().message() + hint);
    }
    auto& into = gvr == &kVolumes ? view.volumes : view.backup_volumes;
    const json& items = kube::FieldAt(*list, {"items"});
    if (!items.is_array()) continue;
    for (const json& item : items) into[kube::Name(item)] = item;
  }
  return view;
}

json NewVolume(const std::string& ns, const std::string& name, const json& like,
               const std::string& url, bool standby) {
  json spec = {{"size", Str(like, {"spec", "size"})},
               {"frontend", "blockdev"},
               {"fromBackup", url},
               {"standby", standby}};
  const json& replicas = kube::FieldAt(like, {"spec", "numberOfReplicas"});
  spec["numberOfReplicas"] = replicas.is_number_integer() ? replicas : json(3);
  for (const char* f : {"dataEngine", "accessMode"}) {
    std::string val = Str(like, {"spec", f});
    if (!val.empty()) spec[f] = val;
  }
  return {{"apiVersion", "longhorn.io/v1beta2"},
          {"kind", "Volume"},
          {"metadata", {{"name", name}, {"namespace", ns}}},
          {"spec", spec}};
}

}  // namespace kdr::storage::longhorn
