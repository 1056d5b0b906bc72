#include "alletra_config.h"

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "base/strings.h"
#include "base/yaml.h"

namespace kdr::sim {
namespace {

using nlohmann::json;

// Reads one document; every accessor names the field in its error.
class Reader {
 public:
  explicit Reader(std::string_view what) : what_(what) {}

  Status Fail(const std::string& field, const std::string& why) const {
    return Status::InvalidArgument(std::string(what_) + ": " + field + " " + why);
  }

  Status CheckKeys(const json& obj, const std::string& field,
                   const std::vector<std::string>& known) const {
    if (!obj.is_object()) return Fail(field.empty() ? "document" : field, "must be a mapping");
    for (const auto& [key, value] : obj.items()) {
      bool ok = false;
      for (const std::string& k : known) ok = ok || k == key;
      if (!ok) {
        return Fail(field.empty() ? key : field + "." + key,
                    "is not a known key" + DidYouMean(key, known));
      }
    }
    return Status::Ok();
  }

  Status String(const json& obj, const std::string& field, const char* key,
                std::string* out) const {
    if (!obj.contains(key)) return Status::Ok();
    const json& v = obj.at(key);
    if (v.is_string()) {
      *out = v.get<std::string>();
    } else if (v.is_number_integer()) {
      // YAML reads an unquoted serial number like 1234567 as an integer.
      *out = std::to_string(v.get<long long>());
    } else {
      return Fail(Join(field, key), "must be a string");
    }
    return Status::Ok();
  }

  Status Integer(const json& obj, const std::string& field, const char* key,
                 long long* out) const {
    if (!obj.contains(key)) return Status::Ok();
    const json& v = obj.at(key);
    if (!v.is_number_integer()) return Fail(Join(field, key), "must be an integer");
    *out = v.get<long long>();
    return Status::Ok();
  }

  template <typename E>
  Status Enum(const json& obj, const std::string& field, const char* key,
              const std::vector<std::pair<std::string, E>>& values, E* out) const {
    if (!obj.contains(key)) return Status::Ok();
    const json& v = obj.at(key);
    std::vector<std::string> names;
    for (const auto& [name, value] : values) names.push_back(name);
    if (v.is_string()) {
      for (const auto& [name, value] : values) {
        if (name == v.get<std::string>()) {
          *out = value;
          return Status::Ok();
        }
      }
      return Fail(Join(field, key), "\"" + v.get<std::string>() + "\" is not one of " +
                                        kdr::Join(names, ", ") +
                                        DidYouMean(v.get<std::string>(), names));
    }
    return Fail(Join(field, key), "must be one of " + kdr::Join(names, ", "));
  }

  static std::string Join(const std::string& field, const char* key) {
    return field.empty() ? std::string(key) : field + "." + key;
  }

 private:
  std::string_view what_;
};

Status ParseArray(const Reader& r, const json& obj, const std::string& field, ArraySpec* a) {
  KDR_RETURN_IF_ERROR(
      r.CheckKeys(obj, field, {"name", "id", "serialNumber", "model", "systemVersion"}));
  KDR_RETURN_IF_ERROR(r.String(obj, field, "name", &a->name));
  KDR_RETURN_IF_ERROR(r.Integer(obj, field, "id", &a->id));
  KDR_RETURN_IF_ERROR(r.String(obj, field, "serialNumber", &a->serial_number));
  KDR_RETURN_IF_ERROR(r.String(obj, field, "model", &a->model));
  KDR_RETURN_IF_ERROR(r.String(obj, field, "systemVersion", &a->system_version));
  if (a->serial_number.empty()) a->serial_number = "4UW000" + std::to_string(a->id);
  return Status::Ok();
}

Status ParseGroup(const Reader& r, const json& obj, const std::string& field, GroupSpec* g) {
  KDR_RETURN_IF_ERROR(r.CheckKeys(obj, field,
                                  {"name", "remoteName", "primary", "mode", "syncReads", "phase",
                                   "replication", "sync", "volumes"}));
  KDR_RETURN_IF_ERROR(r.String(obj, field, "name", &g->name));
  KDR_RETURN_IF_ERROR(r.String(obj, field, "remoteName", &g->remote_name));
  KDR_RETURN_IF_ERROR(r.String(obj, field, "primary", &g->primary_array));
  if (g->name.empty()) return r.Fail(field + ".name", "is required");
  if (g->primary_array.empty()) return r.Fail(field + ".primary", "is required");
  if (obj.contains("mode") && obj.at("mode").is_number_integer()) {
    long long mode = 0;
    KDR_RETURN_IF_ERROR(r.Integer(obj, field, "mode", &mode));
    g->mode = static_cast<int>(mode);
  } else {
    KDR_RETURN_IF_ERROR(r.Enum<int>(obj, field, "mode",
                                    {{"sync", 1}, {"periodic", 3}, {"async", 4}}, &g->mode));
  }
  long long reads = g->sync_reads;
  KDR_RETURN_IF_ERROR(r.Integer(obj, field, "syncReads", &reads));
  g->sync_reads = static_cast<int>(reads);
  KDR_RETURN_IF_ERROR(r.Enum<Phase>(obj, field, "phase",
                                    {{"natural", Phase::kNatural},
                                     {"failedover", Phase::kFailedOver},
                                     {"recovered", Phase::kRecovered}},
                                    &g->phase));
  KDR_RETURN_IF_ERROR(
      r.Enum<bool>(obj, field, "replication", {{"started", true}, {"stopped", false}}, &g->started));
  KDR_RETURN_IF_ERROR(r.Enum<SyncStatus>(obj, field, "sync",
                                         {{"synced", SyncStatus::kSynced},
                                          {"syncing", SyncStatus::kSyncing},
                                          {"stopped", SyncStatus::kStopped}},
                                         &g->sync));
  if (obj.contains("volumes")) {
    const json& vols = obj.at("volumes");
    if (!vols.is_array()) return r.Fail(field + ".volumes", "must be a list");
    for (size_t i = 0; i < vols.size(); ++i) {
      const std::string vf = field + ".volumes[" + std::to_string(i) + "]";
      VolumePairSpec v;
      KDR_RETURN_IF_ERROR(r.CheckKeys(vols[i], vf, {"primary", "secondary", "sizeMiB"}));
      KDR_RETURN_IF_ERROR(r.String(vols[i], vf, "primary", &v.primary_volume));
      KDR_RETURN_IF_ERROR(r.String(vols[i], vf, "secondary", &v.secondary_volume));
      KDR_RETURN_IF_ERROR(r.Integer(vols[i], vf, "sizeMiB", &v.size_mib));
      if (v.primary_volume.empty()) return r.Fail(vf + ".primary", "is required");
      if (v.secondary_volume.empty()) return r.Fail(vf + ".secondary", "is required");
      g->volumes.push_back(std::move(v));
    }
  }
  return Status::Ok();
}

}  // namespace

PairSpec DefaultPairSpec() {
  PairSpec spec;
  spec.arrays[0] = ArraySpec{"array-a", 188150, "4UW0001001", "HPE Alletra 9060", "9.5.3"};
  spec.arrays[1] = ArraySpec{"array-b", 188151, "4UW0001002", "HPE Alletra 9060", "9.5.3"};
  return spec;
}

Result<PairSpec> ParsePairSpec(std::string_view text, std::string_view what) {
  KDR_ASSIGN_OR_RETURN(json doc, YamlToJson(text, what));
  if (doc.is_null()) return DefaultPairSpec();  // an empty file: the default pair
  Reader r(what);
  KDR_RETURN_IF_ERROR(r.CheckKeys(doc, "",
                                  {"user", "password", "sessionIdleTimeoutSeconds", "arrays",
                                   "groups", "volumes"}));
  PairSpec spec = DefaultPairSpec();
  KDR_RETURN_IF_ERROR(r.String(doc, "", "user", &spec.user));
  KDR_RETURN_IF_ERROR(r.String(doc, "", "password", &spec.password));
  long long timeout = spec.session_idle_timeout.count();
  KDR_RETURN_IF_ERROR(r.Integer(doc, "", "sessionIdleTimeoutSeconds", &timeout));
  spec.session_idle_timeout = std::chrono::seconds(timeout);
  if (doc.contains("arrays")) {
    const json& arrays = doc.at("arrays");
    if (!arrays.is_array() || arrays.size() != 2) {
      return r.Fail("arrays", "must list exactly two arrays (the replication pair)");
    }
    for (int i = 0; i < 2; ++i) {
      spec.arrays[i] = ArraySpec{};
      KDR_RETURN_IF_ERROR(
          ParseArray(r, arrays[i], "arrays[" + std::to_string(i) + "]", &spec.arrays[i]));
    }
  }
  if (doc.contains("groups")) {
    const json& groups = doc.at("groups");
    if (!groups.is_array()) return r.Fail("groups", "must be a list");
    for (size_t i = 0; i < groups.size(); ++i) {
      GroupSpec g;
      KDR_RETURN_IF_ERROR(ParseGroup(r, groups[i], "groups[" + std::to_string(i) + "]", &g));
      spec.groups.push_back(std::move(g));
    }
  }
  if (doc.contains("volumes")) {
    const json& vols = doc.at("volumes");
    if (!vols.is_array()) return r.Fail("volumes", "must be a list");
    for (size_t i = 0; i < vols.size(); ++i) {
      const std::string vf = "volumes[" + std::to_string(i) + "]";
      VolumeSpec v;
      KDR_RETURN_IF_ERROR(r.CheckKeys(vols[i], vf, {"array", "name", "sizeMiB"}));
      KDR_RETURN_IF_ERROR(r.String(vols[i], vf, "array", &v.array));
      KDR_RETURN_IF_ERROR(r.String(vols[i], vf, "name", &v.name));
      KDR_RETURN_IF_ERROR(r.Integer(vols[i], vf, "sizeMiB", &v.size_mib));
      spec.volumes.push_back(std::move(v));
    }
  }
  return spec;
}

}  // namespace kdr::sim
