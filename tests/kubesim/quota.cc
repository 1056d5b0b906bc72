#include "quota.h"

#include <algorithm>
#include <atomic>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "base/log.h"
#include "kube/object.h"
#include "store.h"

namespace kdr::kubesim {
namespace {

using json = nlohmann::json;

const GroupResource kPods{"", "pods"};
const GroupResource kServices{"", "services"};
const GroupResource kClaims{"", "persistentvolumeclaims"};
const GroupResource kQuotas{"", "resourcequotas"};

Quantity Zero() { return *Quantity::Parse("0"); }
Quantity One() { return *Quantity::Parse("1"); }

std::optional<Quantity> QuantityAt(const json& object, std::initializer_list<std::string_view> path) {
  const json& v = kube::FieldAt(object, path);
  return v.is_string() ? Quantity::Parse(v.get<std::string>()) : std::nullopt;
}

// apihelper.GetPersistentVolumeClaimClass: the beta annotation wins over the field.
std::string ClaimClass(const json& pvc) {
  const json& beta = kube::FieldAt(pvc, {"metadata", "annotations", "volume.beta.kubernetes.io/storage-class"});
  if (beta.is_string()) return beta.get<std::string>();
  return kube::StringField(pvc, {"spec", "storageClassName"});
}

// The compute resource a pod-level name charges ("requests.cpu" -> {requests, cpu}; the bare
// "cpu", "memory", "ephemeral-storage" are requests).
struct ComputeName {
  bool limits = false;
  std::string resource;
};
std::optional<ComputeName> ParseCompute(const std::string& name) {
  static const std::set<std::string> kResources = {"cpu", "memory", "ephemeral-storage"};
  if (kResources.count(name)) return ComputeName{false, name};
  for (const auto& [prefix, limits] : {std::pair<std::string, bool>{"requests.", false}, {"limits.", true}}) {
    if (name.rfind(prefix, 0) == 0 && kResources.count(name.substr(prefix.size()))) {
      return ComputeName{limits, name.substr(prefix.size())};
    }
  }
  return std::nullopt;
}

// A container's request (or limit) of `resource`; a request missing where the limit is set
// reads as the limit (API defaulting copies limits to requests).
std::optional<Quantity> ContainerValue(const json& container, const ComputeName& c) {
  if (c.limits) return QuantityAt(container, {"resources", "limits", c.resource});
  if (auto r = QuantityAt(container, {"resources", "requests", c.resource})) return r;
  return QuantityAt(container, {"resources", "limits", c.resource});
}

const json& Containers(const json& pod, const char* which) { return kube::FieldAt(pod, {"spec", which}); }

// resourcehelper.PodRequests/PodLimits without sidecars or overhead: the sum over containers,
// or the largest init container's value when that is more.
Quantity PodCompute(const json& pod, const ComputeName& c) {
  Quantity sum = Zero();
  for (const json& container : Containers(pod, "containers")) {
    if (auto v = ContainerValue(container, c)) sum = sum + *v;
  }
  for (const json& container : Containers(pod, "initContainers")) {
    if (auto v = ContainerValue(container, c); v && *v > sum) sum = *v;
  }
  return sum;
}

bool BestEffort(const json& pod) {
  for (const char* which : {"containers", "initContainers"}) {
    for (const json& container : Containers(pod, which)) {
      for (const char* kind : {"requests", "limits"}) {
        const json& list = kube::FieldAt(container, {"resources", kind});
        if (list.is_object() && (list.contains("cpu") || list.contains("memory"))) return false;
      }
    }
  }
  return true;
}

bool MatchesScope(const std::string& scope, const std::string& op, const std::vector<std::string>& values,
                  const json& pod) {
  if (scope == "Terminating") return kube::FieldAt(pod, {"spec", "activeDeadlineSeconds"}).is_number();
  if (scope == "NotTerminating") return !kube::FieldAt(pod, {"spec", "activeDeadlineSeconds"}).is_number();
  if (scope == "BestEffort") return BestEffort(pod);
  if (scope == "NotBestEffort") return !BestEffort(pod);
  if (scope == "PriorityClass") {
    const json& cls = kube::FieldAt(pod, {"spec", "priorityClassName"});
    const bool has = cls.is_string() && !cls.get<std::string>().empty();
    const std::string name = has ? cls.get<std::string>() : "";
    const bool in = std::find(values.begin(), values.end(), name) != values.end();
    if (op == "Exists") return has;
    if (op == "DoesNotExist") return !has;
    if (op == "In") return has && in;
    if (op == "NotIn") return !has || !in;
    return false;
  }
  return false;  // CrossNamespacePodAffinity and unknown scopes: not simulated, select nothing
}

bool Terminal(const json& pod) {
  const json& phase = kube::FieldAt(pod, {"status", "phase"});
  return phase == "Succeeded" || phase == "Failed";
}

}  // namespace

std::optional<Quantity> QuotaCharge(const std::string& name, const GroupResource& gr, const json& object) {
  if (gr == kPods && Terminal(object)) {
    // The quota stops charging a pod once it has ended (QuotaV1Pod).
    if (name == "pods" || name == "count/pods" || ParseCompute(name)) return Zero();
  }
  if (name == "count/" + gr.String()) return One();
  static constexpr std::string_view kCounted[] = {"pods", "services", "configmaps", "secrets",
                                                  "persistentvolumeclaims", "replicationcontrollers",
                                                  "resourcequotas"};
  if (gr.group.empty() && name == gr.resource &&
      std::find(std::begin(kCounted), std::end(kCounted), gr.resource) != std::end(kCounted)) {
    return One();
  }
  if (gr == kPods) {
    if (auto c = ParseCompute(name)) return PodCompute(object, *c);
  }
  if (gr == kClaims) {
    const std::string cls = ClaimClass(object);
    const std::string per_class = cls + ".storageclass.storage.k8s.io/";
    if (name == "requests.storage" || (!cls.empty() && name == per_class + "requests.storage")) {
      auto q = QuantityAt(object, {"spec", "resources", "requests", "storage"});
      return q ? *q : Zero();
    }
    if (!cls.empty() && name == per_class + "persistentvolumeclaims") return One();
  }
  if (gr == kServices) {
    const std::string type = kube::StringField(object, {"spec", "type"});
    if (name == "services.loadbalancers") return type == "LoadBalancer" ? One() : Zero();
    if (name == "services.nodeports") {
      const json& ports = kube::FieldAt(object, {"spec", "ports"});
      const size_t n = (type == "NodePort" || type == "LoadBalancer") && ports.is_array() ? ports.size() : 0;
      return Quantity::Parse(std::to_string(n));
    }
  }
  return std::nullopt;
}

bool QuotaSelects(const json& quota, const GroupResource& gr, const json& object) {
  const json& scopes = kube::FieldAt(quota, {"spec", "scopes"});
  const json& selector = kube::FieldAt(quota, {"spec", "scopeSelector", "matchExpressions"});
  const bool scoped = (scopes.is_array() && !scopes.empty()) || (selector.is_array() && !selector.empty());
  if (!scoped) return true;
  if (!(gr == kPods)) return false;
  if (scopes.is_array()) {
    for (const json& s : scopes) {
      if (!s.is_string() || !MatchesScope(s.get<std::string>(), "Exists", {}, object)) return false;
    }
  }
  if (selector.is_array()) {
    for (const json& e : selector) {
      std::vector<std::string> values;
      for (const json& v : e.value("values", json::array())) {
        if (v.is_string()) values.push_back(v.get<std::string>());
      }
      const std::string scope = e.value("scopeName", "");
      const std::string op = e.value("operator", "");
      // A selector on the other scopes is Exists (or DoesNotExist: the opposite scope).
      bool match = MatchesScope(scope, op, values, object);
      if (scope != "PriorityClass" && op == "DoesNotExist") match = !MatchesScope(scope, "Exists", {}, object);
      if (!match) return false;
    }
  }
  return true;
}

std::optional<GroupResource> QuotaCountedResource(const std::string& name) {
  if (name.rfind("count/", 0) == 0) {
    const std::string rest = name.substr(6);
    const size_t dot = rest.find('.');
    if (dot == std::string::npos) return GroupResource{"", rest};
    return GroupResource{rest.substr(dot + 1), rest.substr(0, dot)};
  }
  if (name == "pods" || ParseCompute(name)) return kPods;
  if (name == "services" || name == "services.nodeports" || name == "services.loadbalancers") return kServices;
  if (name == "persistentvolumeclaims" || name == "requests.storage" ||
      name.find(".storageclass.storage.k8s.io/") != std::string::npos) {
    return kClaims;
  }
  for (const char* core : {"configmaps", "secrets", "replicationcontrollers", "resourcequotas"}) {
    if (name == core) return GroupResource{"", core};
  }
  return std::nullopt;
}

std::string QuotaMissingRequirements(const json& quota, const json& pod) {
  if (!QuotaSelects(quota, kPods, pod)) return "";
  const json& hard = kube::FieldAt(quota, {"spec", "hard"});
  if (!hard.is_object()) return "";
  std::string out;
  for (const auto& [name, unused] : hard.items()) {  // sorted, as kube sorts them
    auto c = ParseCompute(name);
    if (!c || c->resource == "ephemeral-storage") continue;
    std::set<std::string> missing;
    for (const char* which : {"containers", "initContainers"}) {
      for (const json& container : Containers(pod, which)) {
        if (!ContainerValue(container, *c)) missing.insert(container.value("name", ""));
      }
    }
    if (missing.empty()) continue;
    std::string names;
    for (const auto& m : missing) names += (names.empty() ? "" : ",") + m;
    out += (out.empty() ? "" : "; ") + name + " for: " + names;
  }
  return out;
}

json QuotaUsage(const Store& store, const json& quota) {
  json used = json::object();
  const json& hard = kube::FieldAt(quota, {"spec", "hard"});
  if (!hard.is_object()) return used;
  ListOptions in_ns;
  in_ns.namespace_name = kube::StringField(quota, {"metadata", "namespace"});
  std::map<GroupResource, std::vector<ObjectPtr>> listed;
  for (const auto& [name, unused] : hard.items()) {
    auto gr = QuotaCountedResource(name);
    if (!gr || !store.registry()->Find(*gr)) continue;
    auto it = listed.find(*gr);
    if (it == listed.end()) {
      auto list = store.List(*gr, in_ns);
      if (!list.ok()) continue;
      it = listed.emplace(*gr, list->items).first;
    }
    Quantity sum = Zero();
    for (const ObjectPtr& o : it->second) {
      if (!QuotaSelects(quota, *gr, *o)) continue;
      if (auto c = QuotaCharge(name, *gr, *o)) sum = sum + *c;
    }
    used[name] = sum.ToString();
  }
  return used;
}

struct QuotaController::State {
  Store* store = nullptr;
  Logger* logger = nullptr;
  std::unique_ptr<Watcher> watcher;
  std::jthread thread;

  void Sync(const std::string& ns) {
    ListOptions in_ns;
    in_ns.namespace_name = ns;
    auto quotas = store->List(kQuotas, in_ns);
    if (!quotas.ok()) return;
    for (const ObjectPtr& q : quotas->items) {
      json status = {{"hard", kube::FieldAt(*q, {"spec", "hard"})}, {"used", QuotaUsage(*store, *q)}};
      if (kube::FieldAt(*q, {"status"}) == status) continue;
      WriteOptions wo;
      wo.subresource = "status";
      auto m = store->Modify(kQuotas, ns, kube::StringField(*q, {"metadata", "name"}), [&](json* o) {
        (*o)["status"] = status;
        return Status::Ok();
      }, wo);
      if (!m.ok() && logger != nullptr && m.status().code() != StatusCode::kNotFound) {
        logger->Warning("updating resourcequota status", {{"namespace", ns}, {"error", m.status().message()}});
      }
    }
  }

  void Run(std::stop_token stop) {
    while (!stop.stop_requested()) {
      std::set<std::string> dirty;
      auto e = watcher->Next(std::chrono::milliseconds(200));
      while (e) {
        if (e->object) {
          const std::string ns = kube::StringField(*e->object, {"metadata", "namespace"});
          if (!ns.empty()) dirty.insert(ns);
        }
        e = watcher->Next(std::chrono::milliseconds(0));
      }
      if (watcher->closed()) return;
      for (const std::string& ns : dirty) Sync(ns);
    }
  }
};

std::unique_ptr<QuotaController> QuotaController::Start(Store* store, Logger* logger) {
  auto state = std::make_unique<State>();
  state->store = store;
  state->logger = logger;
  WatchOptions wo;  // every resource, from the current state
  auto w = store->Watch(wo);
  if (w.ok()) state->watcher = std::move(*w);
  std::unique_ptr<QuotaController> c(new QuotaController(std::move(state)));
  State* s = c->state_.get();
  if (s->watcher) s->thread = std::jthread([s](std::stop_token stop) { s->Run(stop); });
  return c;
}

QuotaController::QuotaController(std::unique_ptr<State> state) : state_(std::move(state)) {}

QuotaController::~QuotaController() { Stop(); }

void QuotaController::Stop() {
  if (!state_->thread.joinable()) return;
  state_->thread.request_stop();
  state_->thread.join();
}

}  // namespace kdr::kubesim
