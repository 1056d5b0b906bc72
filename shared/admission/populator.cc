#include "admission/populator.h"

#include <nlohmann/json.hpp>

#include "base/clock.h"
#include "base/env.h"
#include "base/log.h"
#include "base/yaml.h"
#include "dr/types.h"
#include "kube/client.h"
#include "kube/object.h"
#include "kube/watch.h"

namespace kdr::admission {
namespace {

using nlohmann::json;

std::string NameOf(const json& object) {
  if (!kube::FieldAt(object, {"metadata"}).is_object()) return "<unnamed>";
  return kube::StringField(object, {"metadata", "namespace"}) + "/" + kube::StringField(object, {"metadata", "name"});
}

kube::Gvr GvrOf(CacheKind kind) {
  switch (kind) {
    case CacheKind::kPlans: return {std::string(dr::kGroup), std::string(dr::kVersion), std::string(dr::kPlanResource)};
    case CacheKind::kRecoveries: return {std::string(dr::kGroup), std::string(dr::kVersion), std::string(dr::kRecoveryResource)};
    case CacheKind::kPvcs: return {"", "v1", "persistentvolumeclaims"};
    case CacheKind::kConfigMaps: return {"", "v1", "configmaps"};
    case CacheKind::kPvs: return {"", "v1", "persistentvolumes"};
    case CacheKind::kDeployments:
    case CacheKind::kStatefulSets:
    case CacheKind::kReplicaSets: return {"apps", "v1", std::string(CacheKindName(kind))};
    case CacheKind::kReplicationControllers: return {"", "v1", "replicationcontrollers"};
  }
  return {};
}

// The name parts of a watched object, for deletes (which need nothing else).
std::pair<std::string, std::string> NamespaceAndName(const json& object) {
  const json& md = object.at("metadata");
  return {md.value("namespace", ""), md.value("name", "")};
}

// Parses every item of a relist with `parse`, noting the ones that cannot be read.
template <typename T, typename Parse, typename Note>
std::vector<T> ParseAll(const json& list, const Parse& parse, const Note& note) {
  std::vector<T> out;
  for (const json& item : list) {
    Result<T> r = parse(item);
    r.ok() ? out.push_back(std::move(r).value()) : note(r.status(), item);
  }
  return out;
}

}  // namespace

std::optional<CacheKind> CacheKindOf(const json& object) {
  if (!object.is_object()) return std::nullopt;
  // Mistyped fields read as absent: a seed file or event with `kind: 7` is "another kind".
  const std::string api_version = kube::StringField(object, {"apiVersion"});
  const std::string kind = kube::StringField(object, {"kind"});
  if (api_version == dr::kApiVersion && kind == dr::kPlanKind) return CacheKind::kPlans;
  if (api_version == dr::kApiVersion && kind == dr::kRecoveryKind) return CacheKind::kRecoveries;
  if (api_version == "v1" && kind == "PersistentVolumeClaim") return CacheKind::kPvcs;
  if (api_version == "v1" && kind == "ConfigMap") return CacheKind::kConfigMaps;
  if (api_version == "v1" && kind == "PersistentVolume") return CacheKind::kPvs;
  if (api_version == "v1" && kind == "ReplicationController") return CacheKind::kReplicationControllers;
  if (api_version == "apps/v1" && kind == "Deployment") return CacheKind::kDeployments;
  if (api_version == "apps/v1" && kind == "StatefulSet") return CacheKind::kStatefulSets;
  if (api_version == "apps/v1" && kind == "ReplicaSet") return CacheKind::kReplicaSets;
  return std::nullopt;
}

Status ApplyEvent(StateCache* cache, CacheKind kind, std::string_view type, const json& object) {
  const bool deleted = type == "DELETED";
  try {
    if (deleted) {
      auto [ns, name] = NamespaceAndName(object);
      switch (kind) {
        case CacheKind::kPlans: cache->DeletePlan(ns, name); break;
        case CacheKind::kRecoveries: cache->DeleteRecovery(ns, name); break;
        case CacheKind::kPvcs: cache->DeletePvc(ns, name); break;
        case CacheKind::kConfigMaps: cache->DeleteConfigMap(ns, name); break;
        case CacheKind::kPvs: cache->DeletePv(name); break;
        default: cache->DeleteWorkload(CacheKindName(kind), ns, name); break;
      }
      return Status::Ok();
    }
    switch (kind) {
      case CacheKind::kPlans: {
        KDR_ASSIGN_OR_RETURN(dr::DRPlan plan, dr::DRPlanFromJson(object));
        cache->UpsertPlan(std::move(plan));
        break;
      }
      case CacheKind::kRecoveries: {
        KDR_ASSIGN_OR_RETURN(dr::DRRecovery r, dr::DRRecoveryFromJson(object));
        cache->UpsertRecovery(std::move(r));
        break;
      }
      case CacheKind::kPvcs: {
        KDR_ASSIGN_OR_RETURN(PvcInfo pvc, PvcInfoFromJson(object));
        cache->UpsertPvc(std::move(pvc));
        break;
      }
      case CacheKind::kConfigMaps: {
        KDR_ASSIGN_OR_RETURN(ConfigMapInfo cm, ConfigMapInfoFromJson(object));
        cache->UpsertConfigMap(std::move(cm));
        break;
      }
      case CacheKind::kPvs: {
        KDR_ASSIGN_OR_RETURN(PvInfo pv, PvInfoFromJson(object));
        cache->UpsertPv(std::move(pv));
        break;
      }
      default: {
        KDR_ASSIGN_OR_RETURN(WorkloadInfo w, WorkloadInfoFromJson(CacheKindName(kind), object));
        cache->UpsertWorkload(std::move(w));
        break;
      }
    }
  } catch (const json::exception& e) {
    return Status::InvalidArgument(std::string(CacheKindName(kind)) + " " + NameOf(object) +
                                   ": malformed object: " + e.what());
  }
  return Status::Ok();
}

Status ReplaceKind(StateCache* cache, CacheKind kind, const json& items) {
  std::vector<std::string> problems;
  auto note = [&](const Status& s, const json& item) {
    problems.push_back(std::string(CacheKindName(kind)) + " " + NameOf(item) + ": " + s.message());
  };
  const json empty = json::array();
  const json& list = items.is_array() ? items : empty;
  switch (kind) {
    case CacheKind::kPlans:
      cache->ReplacePlans(ParseAll<dr::DRPlan>(list, dr::DRPlanFromJson, note));
      break;
    case CacheKind::kRecoveries:
      cache->ReplaceRecoveries(ParseAll<dr::DRRecovery>(list, dr::DRRecoveryFromJson, note));
      break;
    case CacheKind::kPvcs:
      cache->ReplacePvcs(ParseAll<PvcInfo>(list, PvcInfoFromJson, note));
      break;
    case CacheKind::kConfigMaps:
      cache->ReplaceConfigMaps(ParseAll<ConfigMapInfo>(list, ConfigMapInfoFromJson, note));
      break;
    case CacheKind::kPvs:
      cache->ReplacePvs(ParseAll<PvInfo>(list, PvInfoFromJson, note));
      break;
    default: {
      const std::string_view resource = CacheKindName(kind);
      auto parse = [resource](const json& item) { return WorkloadInfoFromJson(resource, item); };
      cache->ReplaceWorkloads(resource, ParseAll<WorkloadInfo>(list, parse, note));
      break;
    }
  }
  cache->MarkSynced(kind);
  if (problems.empty()) return Status::Ok();
  std::string msg = "skipped " + std::to_string(problems.size()) + " unreadable object(s):";
  for (const auto& p : problems) msg += "\n  " + p;
  return Status::InvalidArgument(msg);
}

Status SeedCache(StateCache* cache, std::string_view text, std::string_view what) {
  KDR_ASSIGN_OR_RETURN(std::vector<json> docs, YamlDocumentsToJson(text, what));
  std::map<CacheKind, json> by_kind;
  for (CacheKind k : kAllCacheKinds) by_kind[k] = json::array();
  std::vector<json> objects;
  for (json& doc : docs) {
    if (doc.is_null()) continue;
    if (doc.is_array()) {
      for (json& o : doc) objects.push_back(std::move(o));
    } else if (doc.is_object() && doc.contains("items") && doc["items"].is_array()) {
      for (json& o : doc["items"]) objects.push_back(std::move(o));
    } else {
      objects.push_back(std::move(doc));
    }
  }
  for (size_t i = 0; i < objects.size(); ++i) {
    std::optional<CacheKind> kind = CacheKindOf(objects[i]);
    if (!kind) {
      return Status::InvalidArgument(
          std::string(what) + ": object " + std::to_string(i) + " (" +
          (!objects[i].is_object() ? std::string("not an object")
                                   : objects[i].contains("kind") && objects[i]["kind"].is_string()
                                         ? objects[i]["kind"].get<std::string>()
                                         : std::string("no kind")) +
          " " + NameOf(objects[i]) + ") is not a DRPlan, DRRecovery, PersistentVolumeClaim, "
          "PersistentVolume, ConfigMap, Deployment, StatefulSet, ReplicaSet or "
          "ReplicationController");
    }
    by_kind[*kind].push_back(std::move(objects[i]));
  }
  for (auto& [kind, items] : by_kind) {
    KDR_RETURN_IF_ERROR(ReplaceKind(cache, kind, items).WithContext(what));
  }
  return Status::Ok();
}

CachePopulator::CachePopulator(kube::Client* client, StateCache* cache, std::string dr_namespace,
                               Logger* logger)
    : client_(client), cache_(cache), dr_namespace_(std::move(dr_namespace)), logger_(logger) {}

CachePopulator::~CachePopulator() { Stop(); }

void CachePopulator::Start() {
  for (CacheKind kind : kAllCacheKinds) {
    threads_.emplace_back([this, kind](std::stop_token stop) { Run(kind, stop); });
  }
}

void CachePopulator::Stop() {
  for (auto& t : threads_) t.request_stop();
  threads_.clear();  // joins
}

void CachePopulator::Run(CacheKind kind, std::stop_token stop) {
  kube::ListWatchOptions o;
  o.gvr = GvrOf(kind);
  // Plans, recoveries and their modifier ConfigMaps live in the DR namespace; fenced PVCs and the
  // workloads that mount them can be anywhere.
  const bool dr_only = kind == CacheKind::kPlans || kind == CacheKind::kRecoveries ||
                       kind == CacheKind::kConfigMaps;
  o.namespace_name = dr_only ? dr_namespace_ : "";
  const std::string name(CacheKindName(kind));
  kube::ListWatchHandler h;
  h.on_replace = [&](const json& items, const std::string& rv) {
    Status st = ReplaceKind(cache_, kind, items);
    if (!st.ok()) logger_->Warning("cache relist skipped objects", {{"kind", name}, {"error", st.message()}});
    logger_->Info("cache listed", {{"kind", name}, {"resource_version", rv},
                                   {"items", std::to_string(items.size())}});
  };
  h.on_event = [&](std::string_view type, const json& object) {
    Status st = ApplyEvent(cache_, kind, type, object);
    if (!st.ok()) logger_->Warning("cache event skipped", {{"kind", name}, {"error", st.message()}});
  };
  // Until the next list is applied, decisions may rest on what changed meanwhile: readiness
  // fails and every decision says so (NewCacheFreshnessGuard).
  const Clock* clock = client_->env().clock;
  h.on_error = [&](const Status& s) {
    cache_->MarkStale(kind, FormatRfc3339(clock->Now()), s.ToString());
    logger_->Warning("cache watch failed; relisting", {{"kind", name}, {"error", s.ToString()}});
  };
  Status st = kube::RunListWatch(*client_, o, h, stop);
  if (!st.ok()) {
    cache_->MarkStale(kind, FormatRfc3339(clock->Now()), "watch stopped: " + st.ToString());
    logger_->Error("cache watch stopped; the webhook stays unready",
                   {{"kind", name}, {"error", st.ToString()}});
  }
}

}  // namespace kdr::admission
