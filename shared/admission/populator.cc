#include "admission/populator.h"

#include <nlohmann/json.hpp>

#include "base/log.h"
#include "base/yaml.h"
#include "dr/types.h"
#include "kube/client.h"
#include "kube/watch.h"

namespace kdr::admission {
namespace {

using nlohmann::json;

std::string NameOf(const json& object) {
  const json* md = object.is_object() && object.contains("metadata") ? &object["metadata"] : nullptr;
  if (md == nullptr || !md->is_object()) return "<unnamed>";
  return md->value("namespace", "") + "/" + md->value("name", "");
}

kube::Gvr GvrOf(CacheKind kind) {
  switch (kind) {
    case CacheKind::kPlans: return {std::string(dr::kGroup), std::string(dr::kVersion), std::string(dr::kPlanResource)};
    case CacheKind::kRecoveries: return {std::string(dr::kGroup), std::string(dr::kVersion), std::string(dr::kRecoveryResource)};
    case CacheKind::kPvcs: return {"", "v1", "persistentvolumeclaims"};
    case CacheKind::kConfigMaps: return {"", "v1", "configmaps"};
  }
  return {};
}

}  // namespace

std::optional<CacheKind> CacheKindOf(const json& object) {
  if (!object.is_object()) return std::nullopt;
  const std::string api_version = object.value("apiVersion", "");
  const std::string kind = object.value("kind", "");
  if (api_version == dr::kApiVersion && kind == dr::kPlanKind) return CacheKind::kPlans;
  if (api_version == dr::kApiVersion && kind == dr::kRecoveryKind) return CacheKind::kRecoveries;
  if (api_version == "v1" && kind == "PersistentVolumeClaim") return CacheKind::kPvcs;
  if (api_version == "v1" && kind == "ConfigMap") return CacheKind::kConfigMaps;
  return std::nullopt;
}

Status ApplyEvent(StateCache* cache, CacheKind kind, std::string_view type, const json& object) {
  const bool deleted = type == "DELETED";
  try {
    switch (kind) {
      case CacheKind::kPlans: {
        if (deleted) {
          cache->DeletePlan(object["metadata"].value("namespace", ""), object["metadata"].value("name", ""));
          return Status::Ok();
        }
        KDR_ASSIGN_OR_RETURN(dr::DRPlan plan, dr::DRPlanFromJson(object));
        cache->UpsertPlan(std::move(plan));
        return Status::Ok();
      }
      case CacheKind::kRecoveries: {
        if (deleted) {
          cache->DeleteRecovery(object["metadata"].value("namespace", ""), object["metadata"].value("name", ""));
          return Status::Ok();
        }
        KDR_ASSIGN_OR_RETURN(dr::DRRecovery r, dr::DRRecoveryFromJson(object));
        cache->UpsertRecovery(std::move(r));
        return Status::Ok();
      }
      case CacheKind::kPvcs: {
        KDR_ASSIGN_OR_RETURN(PvcInfo pvc, PvcInfoFromJson(object));
        if (deleted) {
          cache->DeletePvc(pvc.namespace_name, pvc.name);
        } else {
          cache->UpsertPvc(std::move(pvc));
        }
        return Status::Ok();
      }
      case CacheKind::kConfigMaps: {
        KDR_ASSIGN_OR_RETURN(ConfigMapInfo cm, ConfigMapInfoFromJson(object));
        if (deleted) {
          cache->DeleteConfigMap(cm.namespace_name, cm.name);
        } else {
          cache->UpsertConfigMap(std::move(cm));
        }
        return Status::Ok();
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
    case CacheKind::kPlans: {
      std::vector<dr::DRPlan> out;
      for (const json& item : list) {
        auto p = dr::DRPlanFromJson(item);
        p.ok() ? out.push_back(std::move(p).value()) : note(p.status(), item);
      }
      cache->ReplacePlans(std::move(out));
      break;
    }
    case CacheKind::kRecoveries: {
      std::vector<dr::DRRecovery> out;
      for (const json& item : list) {
        auto r = dr::DRRecoveryFromJson(item);
        r.ok() ? out.push_back(std::move(r).value()) : note(r.status(), item);
      }
      cache->ReplaceRecoveries(std::move(out));
      break;
    }
    case CacheKind::kPvcs: {
      std::vector<PvcInfo> out;
      for (const json& item : list) {
        auto p = PvcInfoFromJson(item);
        p.ok() ? out.push_back(std::move(p).value()) : note(p.status(), item);
      }
      cache->ReplacePvcs(std::move(out));
      break;
    }
    case CacheKind::kConfigMaps: {
      std::vector<ConfigMapInfo> out;
      for (const json& item : list) {
        auto c = ConfigMapInfoFromJson(item);
        c.ok() ? out.push_back(std::move(c).value()) : note(c.status(), item);
      }
      cache->ReplaceConfigMaps(std::move(out));
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
          (objects[i].is_object() ? objects[i].value("kind", "no kind") : "not an object") +
          " " + NameOf(objects[i]) + ") is not a DRPlan, DRRecovery, PersistentVolumeClaim or "
          "ConfigMap");
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
  // Fenced PVCs can be in any namespace; everything else lives in the DR namespace.
  o.namespace_name = kind == CacheKind::kPvcs ? "" : dr_namespace_;
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
  h.on_error = [&](const Status& s) {
    logger_->Warning("cache watch failed; relisting", {{"kind", name}, {"error", s.ToString()}});
  };
  Status st = kube::RunListWatch(*client_, o, h, stop);
  if (!st.ok()) {
    logger_->Error("cache watch stopped; the webhook stays unready",
                   {{"kind", name}, {"error", st.ToString()}});
  }
}

}  // namespace kdr::admission
