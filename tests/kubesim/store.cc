#include "store.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <random>
#include <tuple>

#include "base/clock.h"
#include "base/strings.h"
#include "bootstrap_policy.h"
#include "defaults.h"
#include "persist.h"
#include "schema.h"
#include "selector.h"
#include "validation.h"

namespace kdr::kubesim {
namespace {

using json = nlohmann::json;

std::string KeyOf(std::string_view ns, std::string_view name) {
  std::string k(ns);
  k.push_back('/');
  k.append(name);
  return k;
}

std::string Quoted(std::string_view s) { return "\"" + std::string(s) + "\""; }

Status NotFoundError(const ResourceType& t, std::string_view name) {
  return Status::NotFound(t.gr().String() + " " + Quoted(name) + " not found");
}

Status ConflictError(const ResourceType& t, std::string_view name) {
  return Status::Aborted("Operation cannot be fulfilled on " + t.gr().String() + " " +
                         Quoted(name) +
                         ": the object has been modified; please apply your changes to the "
                         "latest version and try again");
}

const json& Meta(const json& obj) {
  static const json kEmpty = json::object();  // NOLINT: immutable
  auto it = obj.find("metadata");
  return it != obj.end() && it->is_object() ? *it : kEmpty;
}

std::string MetaStr(const json& obj, const char* key) {
  const json& m = Meta(obj);
  auto it = m.find(key);
  return it != m.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// Everything but metadata and status: what a generation bump is about.
bool SpecChanged(const json& a, const json& b) {
  for (const auto& [k, v] : a.items()) {
    if (k == "metadata" || k == "status" || k == "apiVersion" || k == "kind") continue;
    auto it = b.find(k);
    if (it == b.end() || *it != v) return true;
  }
  for (const auto& [k, v] : b.items()) {
    if (k == "metadata" || k == "status" || k == "apiVersion" || k == "kind") continue;
    if (!a.contains(k)) return true;
  }
  return false;
}

// Equal but for managedFields (their timestamps change on every write, even a no-op one).
bool SameIgnoringManagedFields(const json& a, const json& b) {
  if (a.size() != b.size()) return false;
  for (const auto& [k, v] : a.items()) {
    auto it = b.find(k);
    if (it == b.end()) return false;
    if (k != "metadata") {
      if (*it != v) return false;
      continue;
    }
    if (!v.is_object() || !it->is_object()) return *it == v;
    for (const auto& [mk, mv] : v.items()) {
      if (mk == "managedFields") continue;
      auto m = it->find(mk);
      if (m == it->end() || *m != mv) return false;
    }
    for (const auto& [mk, mv] : it->items()) {
      if (mk != "managedFields" && !v.contains(mk)) return false;
    }
  }
  return true;
}

bool HasFinalizers(const json& obj) {
  auto it = Meta(obj).find("finalizers");
  return it != Meta(obj).end() && it->is_array() && !it->empty();
}

bool IsDeleting(const json& obj) { return Meta(obj).contains("deletionTimestamp"); }

const GroupResource kNamespaces{"", "namespaces"};
const GroupResource kCrds{"apiextensions.k8s.io", "customresourcedefinitions"};

// Type defaults the product or kubectl can observe.
void ApplyCreateDefaults(const ResourceType& t, json* obj, uint32_t* next_ip) {
  json& o = *obj;
  if (t.status_subresource && !t.custom) o["status"] = json::object();
  if (t.custom && t.status_subresource) o.erase("status");
  if (t.group.empty()) {
    if (t.resource == "namespaces") {
      o["metadata"]["labels"]["kubernetes.io/metadata.name"] = o["metadata"]["name"];
      o["spec"]["finalizers"] = json::array({"kubernetes"});
      o["status"] = {{"phase", "Active"}};
    } else if (t.resource == "pods") {
      o["status"] = {{"phase", "Pending"}, {"qosClass", "BestEffort"}};
      if (!o["spec"].contains("restartPolicy")) o["spec"]["restartPolicy"] = "Always";
      if (!o["spec"].contains("serviceAccountName")) o["spec"]["serviceAccountName"] = "default";
    } else if (t.resource == "persistentvolumeclaims") {
      o["status"] = {{"phase", "Pending"}};
    } else if (t.resource == "persistentvolumes") {
      o["status"] = {{"phase", "Available"}};
    } else if (t.resource == "services") {
      json& spec = o["spec"];
      if (!spec.contains("type")) spec["type"] = "ClusterIP";
      if (spec["type"] != "ExternalName" && !spec.contains("clusterIP")) {
        uint32_t n = (*next_ip)++;
        std::string ip = "10.96." + std::to_string((n >> 8) & 0xff) + "." + std::to_string(n & 0xff);
        spec["clusterIP"] = ip;
        spec["clusterIPs"] = json::array({ip});
      } else if (spec.contains("clusterIP") && spec["clusterIP"].is_string() &&
                 !spec.contains("clusterIPs")) {
        spec["clusterIPs"] = json::array({spec["clusterIP"]});
      }
      if (!spec.contains("sessionAffinity")) spec["sessionAffinity"] = "None";
      o["status"] = {{"loadBalancer", json::object()}};
    }
  } else if (t.group == "batch" && t.resource == "jobs" && !(o["spec"].value("manualSelector", false))) {
    // The Job registry's generateSelector: the template gets the job-name and controller-uid
    // labels (each unless set) and the selector the new uid (unless set: a captured one then
    // fails validation, "must be '<uid>'"); an unlabelled Job takes its template's labels.
    const json uid = o["metadata"]["uid"];
    const json name = o["metadata"]["name"];
    json& labels = o["spec"]["template"]["metadata"]["labels"];
    if (!labels.is_object()) labels = json::object();
    for (const auto& [k, v] : {std::pair<const char*, const json*>{"job-name", &name},
                               {"batch.kubernetes.io/job-name", &name},
                               {"controller-uid", &uid},
                               {"batch.kubernetes.io/controller-uid", &uid}}) {
      if (!labels.contains(k)) labels[k] = *v;
    }
    json& match = o["spec"]["selector"]["matchLabels"];
    if (!match.is_object()) match = json::object();
    if (!match.contains("batch.kubernetes.io/controller-uid")) match["batch.kubernetes.io/controller-uid"] = uid;
    json& meta = o["metadata"];
    if (!meta.contains("labels") || !meta["labels"].is_object() || meta["labels"].empty()) meta["labels"] = labels;
  } else if (t.group == "apps" && (t.resource == "deployments" || t.resource == "statefulsets" ||
                                   t.resource == "replicasets")) {
    if (!o["spec"].contains("replicas")) o["spec"]["replicas"] = 1;
  } else if (t.gr() == kCrds) {
    json names = o["spec"].value("names", json::object());
    std::string storage;
    for (const auto& v : o["spec"].value("versions", json::array())) {
      if (v.value("storage", false)) storage = v.value("name", "");
    }
    o["status"] = {
        {"acceptedNames", names},
        {"storedVersions", json::array({storage})},
        {"conditions",
         json::array({{{"type", "NamesAccepted"}, {"status", "True"}, {"reason", "NoConflicts"},
                       {"message", "no conflicts found"}},
                      {{"type", "Established"}, {"status", "True"}, {"reason", "InitialNamesAccepted"},
                       {"message", "the initial names have been accepted"}}})}};
  }
}

}  // namespace

std::string_view EventTypeName(EventType type) {
  switch (type) {
    case EventType::kAdded: return "ADDED";
    case EventType::kModified: return "MODIFIED";
    case EventType::kDeleted: return "DELETED";
    case EventType::kBookmark: return "BOOKMARK";
  }
  return "ERROR";
}

// ---- Watcher -------------------------------------------------------------------------------

struct Watcher::Filter {
  GroupResource gr;
  std::string ns;
  LabelSelector labels;
  FieldSelector fields;

  bool Matches(const json& obj) const {
    if (!labels.empty() && !labels.Matches(Meta(obj).value("labels", json()))) return false;
    if (!fields.empty() && !fields.Matches(obj)) return false;
    return true;
  }
};

Watcher::~Watcher() {
  if (store_) store_->Unregister(this);
}

bool Watcher::Accepts(const WatchEvent& e, WatchEvent* out) const {
  const Filter& f = *filter_;
  if (!f.gr.resource.empty() && !(e.gr == f.gr)) return false;
  if (!f.ns.empty() && MetaStr(*e.object, "namespace") != f.ns &&
      !(e.gr == kNamespaces && MetaStr(*e.object, "name") == f.ns)) {
    return false;
  }
  *out = e;
  if (f.labels.empty() && f.fields.empty()) return true;
  bool now = f.Matches(*e.object);
  if (e.type != EventType::kModified) return now;
  bool before = e.old_object && f.Matches(*e.old_object);
  if (now && before) return true;
  if (now) {
    out->type = EventType::kAdded;
    return true;
  }
  if (before) {
    // Left the selection: DELETED carrying the last matching state at the event's version.
    auto copy = std::make_shared<json>(*e.old_object);
    (*copy)["metadata"]["resourceVersion"] = std::to_string(e.resource_version);
    out->type = EventType::kDeleted;
    out->object = std::move(copy);
    return true;
  }
  return false;
}

void Watcher::Push(WatchEvent e) {
  std::lock_guard lock(mu_);
  if (closed_) return;
  queue_.push_back(std::move(e));
  cv_.notify_one();
}

std::optional<WatchEvent> Watcher::Next(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, timeout, [&] { return closed_ || !queue_.empty(); });
  if (closed_ || queue_.empty()) return std::nullopt;
  WatchEvent e = std::move(queue_.front());
  queue_.pop_front();
  return e;
}

void Watcher::Close() {
  std::lock_guard lock(mu_);
  closed_ = true;
  cv_.notify_all();
}

std::optional<uint64_t> Watcher::ProgressVersion() const {
  // Events are queued under the store's lock: an empty queue under it means all delivered.
  std::lock_guard store_lock(store_->mu_);
  std::lock_guard lock(mu_);
  if (!queue_.empty()) return std::nullopt;
  return store_->rv_;
}

bool Watcher::closed() const {
  std::lock_guard lock(mu_);
  return closed_;
}

// ---- Store ---------------------------------------------------------------------------------

Store::Store(Registry* registry, Options options)
    : registry_(registry), options_(std::move(options)), random_state_(std::random_device{}()) {}

Store::~Store() { CloseWatchers(); }

Result<std::unique_ptr<Store>> Store::Open(Registry* registry, Options options) {
  if (!options.clock) return Status::InvalidArgument("kubesim store: options.clock is required");
  auto store = std::unique_ptr<Store>(new Store(registry, std::move(options)));
  KDR_RETURN_IF_ERROR(store->Load());
  for (const char* ns : {"default", "kube-system", "kube-public", "kube-node-lease"}) {
    if (store->Get(kNamespaces, "", ns).ok()) continue;
    json obj = {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", ns}}}};
    auto r = store->Create(kNamespaces, "", std::move(obj));
    if (!r.ok()) return r.status();
  }
  // kube-apiserver's scheduling/bootstrap-system-priority-classes: pods naming these resolve.
  const GroupResource priority_classes{"scheduling.k8s.io", "priorityclasses"};
  for (const auto& [name, value, description] :
       {std::tuple{"system-node-critical", 2000001000,
                   "Used for system critical pods that must not be moved from their current node."},
        std::tuple{"system-cluster-critical", 2000000000,
                   "Used for system critical pods that must run in the cluster, but can be moved to another "
                   "node if necessary."}}) {
    if (store->Get(priority_classes, "", name).ok()) continue;
    json obj = {{"apiVersion", "scheduling.k8s.io/v1"}, {"kind", "PriorityClass"},
                {"metadata", {{"name", name}}}, {"value", value}, {"description", description}};
    auto r = store->Create(priority_classes, "", std::move(obj));
    if (!r.ok()) return r.status();
  }
  // The bootstrap RBAC policy, as kube-apiserver's rbac/bootstrap-roles hook makes it.
  for (std::string_view rest = BootstrapPolicy(); !rest.empty();) {
    const size_t end = rest.find('\n');
    json obj = json::parse(rest.substr(0, end));
    rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 1);
    const std::string kind = obj["kind"].get<std::string>();
    const GroupResource gr{"rbac.authorization.k8s.io",
                           kind == "ClusterRole" ? "clusterroles"
                           : kind == "ClusterRoleBinding" ? "clusterrolebindings"
                           : kind == "Role" ? "roles" : "rolebindings"};
    const std::string ns = obj["metadata"].value("namespace", "");
    if (store->Get(gr, ns, obj["metadata"]["name"].get<std::string>()).ok()) continue;
    auto r = store->Create(gr, ns, std::move(obj));
    if (!r.ok()) return r.status();
  }
  return store;
}

Status Store::Load() {
  if (options_.data_dir.empty()) return Status::Ok();
  Persister::State state;
  KDR_ASSIGN_OR_RETURN(persister_, Persister::Open(options_.data_dir, &state));
  rv_ = state.resource_version;
  // CRDs first, so their custom resources have a type when they load.
  for (int pass = 0; pass < 2; ++pass) {
    for (const auto& [grs, objs] : state.objects) {
      size_t slash = grs.find('/');
      GroupResource gr{grs.substr(0, slash), grs.substr(slash + 1)};
      if ((gr == kCrds) != (pass == 0)) continue;
      Bucket& bucket = data_[gr];
      for (const auto& [key, text] : objs) {
        json obj;
        try {
          obj = json::parse(text);
        } catch (const std::exception& e) {
          return Status::InvalidArgument("reading " + options_.data_dir + ": object " + key +
                                         " of " + gr.String() + ": " + e.what());
        }
        if (gr == kCrds) {
          Status s = registry_->AddCrd(obj);
          if (!s.ok()) return s.WithContext("reloading crd " + key);
        }
        bucket[key] = std::make_shared<const json>(std::move(obj));
      }
    }
  }
  return Status::Ok();
}

Result<ResourceType> Store::TypeOf(const GroupResource& gr) const {
  auto t = registry_->Find(gr);
  if (!t) return Status::NotFound("the server could not find the requested resource (" + gr.String() + ")");
  return *t;
}

std::string Store::NowString() const { return FormatRfc3339(options_.clock->Now()); }

std::string Store::NewUid() {
  std::mt19937_64 rng(random_state_++ ^ (rv_ << 20));
  uint64_t a = rng(), b = rng();
  char buf[40];
  std::snprintf(buf, sizeof(buf), "%08x-%04x-4%03x-%04x-%012llx", static_cast<unsigned>(a >> 32),
                static_cast<unsigned>((a >> 16) & 0xffff), static_cast<unsigned>(a & 0xfff),
                static_cast<unsigned>(0x8000 | ((b >> 48) & 0x3fff)),
                static_cast<unsigned long long>(b & 0xffffffffffffULL));
  return buf;
}

std::string Store::RandomSuffix(size_t n) {
  static constexpr std::string_view kAlphabet = "bcdfghjklmnpqrstvwxz2456789";
  std::mt19937_64 rng(random_state_++ * 0x9e3779b97f4a7c15ULL);
  std::string out;
  for (size_t i = 0; i < n; ++i) out.push_back(kAlphabet[rng() % kAlphabet.size()]);
  return out;
}

uint64_t Store::resource_version() const {
  std::lock_guard lock(mu_);
  return rv_;
}

uint64_t Store::oldest_watchable() const {
  std::lock_guard lock(mu_);
  if (history_.empty()) return rv_;
  return history_.front().resource_version - 1;
}

void Store::CloseWatchers() {
  std::lock_guard lock(mu_);
  for (Watcher* w : watchers_) w->Close();
}

void Store::Unregister(Watcher* w) {
  std::lock_guard lock(mu_);
  watchers_.erase(w);
}

Result<json> Store::Get(const GroupResource& gr, std::string_view ns, std::string_view name) const {
  KDR_ASSIGN_OR_RETURN(ResourceType t, TypeOf(gr));
  std::lock_guard lock(mu_);
  auto b = data_.find(gr);
  if (b != data_.end()) {
    auto it = b->second.find(KeyOf(t.namespaced ? ns : "", name));
    if (it != b->second.end()) return *it->second;
  }
  return NotFoundError(t, name);
}

Result<ListResult> Store::List(const GroupResource& gr, const ListOptions& options) const {
  KDR_ASSIGN_OR_RETURN(ResourceType t, TypeOf(gr));
  KDR_ASSIGN_OR_RETURN(LabelSelector labels, LabelSelector::Parse(options.label_selector));
  KDR_ASSIGN_OR_RETURN(FieldSelector fields, FieldSelector::Parse(options.field_selector, t.field_labels));
  std::string start;
  if (!options.continue_token.empty()) {
    auto decoded = Base64Decode(options.continue_token, "continue");
    json token;
    if (decoded.ok()) token = json::parse(*decoded, nullptr, false);
    if (!decoded.ok() || !token.is_object() || !token.contains("start")) {
      return Status::InvalidArgument("continue key is not valid: illegal base64 data");
    }
    start = token["start"].get<std::string>();
  }
  const std::string ns = t.namespaced ? options.namespace_name : "";
  std::string name_only = fields.RequiredValue("metadata.name");
  ListResult out;
  std::lock_guard lock(mu_);
  out.resource_version = rv_;
  auto b = data_.find(gr);
  if (b == data_.end()) return out;
  const Bucket& bucket = b->second;
  auto it = ns.empty() ? bucket.begin() : bucket.lower_bound(ns + "/");
  if (!start.empty()) it = bucket.upper_bound(start);
  const std::string prefix = ns.empty() ? "" : ns + "/";
  std::string last;
  for (; it != bucket.end(); ++it) {
    if (!prefix.empty() && it->first.compare(0, prefix.size(), prefix) != 0) break;
    const json& obj = *it->second;
    if (!name_only.empty() && MetaStr(obj, "name") != name_only) continue;
    if (!labels.empty() && !labels.Matches(Meta(obj).value("labels", json()))) continue;
    if (!fields.empty() && !fields.Matches(obj)) continue;
    if (options.limit > 0 && static_cast<int64_t>(out.items.size()) == options.limit) {
      // Count what is left (matching), as remainingItemCount.
      int64_t remaining = 0;
      for (; it != bucket.end(); ++it) {
        if (!prefix.empty() && it->first.compare(0, prefix.size(), prefix) != 0) break;
        const json& o = *it->second;
        if (!labels.empty() && !labels.Matches(Meta(o).value("labels", json()))) continue;
        if (!fields.empty() && !fields.Matches(o)) continue;
        ++remaining;
      }
      out.continue_token = Base64Encode(json({{"start", last}, {"rv", rv_}}).dump());
      if (labels.empty() && fields.empty()) out.remaining = remaining;
      break;
    }
    out.items.push_back(it->second);
    last = it->first;
  }
  return out;
}

void Store::CommitLocked(EventType type, const ResourceType& t, ObjectPtr object, ObjectPtr old) {
  const std::string key = KeyOf(MetaStr(*object, "namespace"), MetaStr(*object, "name"));
  Bucket& bucket = data_[t.gr()];
  if (type == EventType::kDeleted) {
    bucket.erase(key);
  } else {
    bucket[key] = object;
  }
  if (persister_) {
    Status s = type == EventType::kDeleted ? persister_->Remove(t.gr(), key, rv_)
                                           : persister_->Put(t.gr(), key, object->dump(), rv_);
    (void)s;  // The log write failing is a disk error kubesim cannot recover from: keep serving.
  }
  WatchEvent e{type, t.gr(), std::move(object), type == EventType::kModified ? std::move(old) : nullptr,
               rv_};
  WatchEvent out;
  for (Watcher* w : watchers_) {
    if (w->Accepts(e, &out)) w->Push(out);
  }
  history_.push_back(std::move(e));
  while (history_.size() > options_.watch_history) history_.pop_front();
}

Result<json> Store::Create(const GroupResource& gr, std::string_view ns_arg, json obj,
                           const WriteOptions& options) {
  KDR_ASSIGN_OR_RETURN(ResourceType t, TypeOf(gr));
  if (!obj.is_object()) return Status::InvalidArgument(t.kind + " \"\" is invalid: body must be an object");
  if (!obj.contains("metadata") || !obj["metadata"].is_object()) obj["metadata"] = json::object();
  json& meta = obj["metadata"];
  obj["apiVersion"] = t.api_version();
  obj["kind"] = t.kind;
  std::string ns;
  if (t.namespaced) {
    ns = MetaStr(obj, "namespace");
    if (ns.empty()) ns = std::string(ns_arg);
    if (ns.empty()) {
      return Status::InvalidArgument(QualifiedKind(t) + " " + Quoted(MetaStr(obj, "name")) +
                                     " is invalid: metadata.namespace: Required value");
    }
    meta["namespace"] = ns;
  } else {
    meta.erase("namespace");
  }
  std::lock_guard lock(mu_);
  std::string name = MetaStr(obj, "name");
  if (name.empty()) {
    std::string prefix = MetaStr(obj, "generateName");
    if (prefix.empty()) {
      return Status::InvalidArgument(QualifiedKind(t) +
                                     " \"\" is invalid: metadata.name: Required value: name or "
                                     "generateName is required");
    }
    if (prefix.size() > 58) prefix.resize(58);
    name = prefix + RandomSuffix(5);
    meta["name"] = name;
  }
  KDR_RETURN_IF_ERROR(ValidateObject(t, obj));
  if (t.namespaced) {
    auto nsb = data_.find(kNamespaces);
    const json* nso = nullptr;
    if (nsb != data_.end()) {
      auto it = nsb->second.find(KeyOf("", ns));
      if (it != nsb->second.end()) nso = it->second.get();
    }
    if (!nso) return Status::NotFound("namespaces " + Quoted(ns) + " not found");
    if (IsDeleting(*nso)) {
      return Status::PermissionDenied(t.gr().String() + " " + Quoted(name) +
                                      " is forbidden: unable to create new content in namespace " +
                                      ns + " because it is being terminated");
    }
  }
  const std::string key = KeyOf(ns, name);
  Bucket& bucket = data_[gr];
  if (!options.validate_only && bucket.count(key)) {
    return Status::AlreadyExists(t.gr().String() + " " + Quoted(name) + " already exists");
  }
  for (const char* k : {"deletionTimestamp", "deletionGracePeriodSeconds", "selfLink"}) meta.erase(k);
  meta["uid"] = NewUid();
  meta["creationTimestamp"] = NowString();
  if (t.tracks_generation) {
    meta["generation"] = 1;
  } else {
    meta.erase("generation");
  }
  uint32_t scratch_ip = next_ip_;  // a validation must not use up a Service IP
  ApplyCreateDefaults(t, &obj, options.validate_only ? &scratch_ip : &next_ip_);
  ApplyDefaults(t, &obj);
  KDR_RETURN_IF_ERROR(ValidateGeneratedSelector(t, obj));
  if (t.custom) {
    auto pruned = ApplySchema(t, &obj);
    if (!pruned.ok()) return pruned.status();
  }
  if (gr == kCrds) {
    auto parsed = Registry::TypeFromCrd(obj);
    if (!parsed.ok()) {
      return Status::InvalidArgument(QualifiedKind(t) + " " + Quoted(name) + " is invalid: " + parsed.status().message());
    }
  }
  if (options.dry_run || options.validate_only) {
    meta.erase("uid");  // kube-apiserver fills it; an unused uid is harmless either way
    meta["uid"] = NewUid();
    meta["resourceVersion"] = std::to_string(rv_);
    return obj;
  }
  if (gr == kCrds) {
    Status s = registry_->AddCrd(obj);
    if (!s.ok()) return Status::InvalidArgument(QualifiedKind(t) + " " + Quoted(name) + " is invalid: " + s.message());
  }
  ++rv_;
  meta["resourceVersion"] = std::to_string(rv_);
  auto ptr = std::make_shared<const json>(obj);
  CommitLocked(EventType::kAdded, t, ptr, nullptr);
  return obj;
}

Result<json> Store::Update(const GroupResource& gr, std::string_view ns, json object,
                           const WriteOptions& options) {
  KDR_ASSIGN_OR_RETURN(ResourceType t, TypeOf(gr));
  std::lock_guard lock(mu_);
  return UpdateLocked(t, ns, std::move(object), options);
}

Result<json> Store::UpdateLocked(const ResourceType& t, std::string_view ns_arg, json obj,
                                 const WriteOptions& options) {
  if (!obj.is_object()) return Status::InvalidArgument(QualifiedKind(t) + " \"\" is invalid: body must be an object");
  if (!obj.contains("metadata") || !obj["metadata"].is_object()) obj["metadata"] = json::object();
  const std::string name = MetaStr(obj, "name");
  std::string ns = t.namespaced ? MetaStr(obj, "namespace") : "";
  if (t.namespaced && ns.empty()) ns = std::string(ns_arg);
  if (name.empty()) {
    return Status::InvalidArgument(QualifiedKind(t) + " \"\" is invalid: metadata.name: Required value: name is required");
  }
  Bucket& bucket = data_[t.gr()];
  auto it = bucket.find(KeyOf(ns, name));
  if (it == bucket.end()) return NotFoundError(t, name);
  ObjectPtr old = it->second;
  const json& old_meta = (*old)["metadata"];
  const std::string want_rv = MetaStr(obj, "resourceVersion");
  if (!want_rv.empty() && want_rv != old_meta.value("resourceVersion", "")) return ConflictError(t, name);

  json next;
  if (options.subresource == "status") {
    next = *old;
    if (obj.contains("status")) {
      next["status"] = obj["status"];
    } else {
      next.erase("status");
    }
    if (t.custom) {
      auto pruned = ApplySchema(t, &next);
      if (!pruned.ok()) return pruned.status();
    }
    // Status writes may still carry managedFields bookkeeping from the REST layer.
    if (obj["metadata"].contains("managedFields")) next["metadata"]["managedFields"] = obj["metadata"]["managedFields"];
  } else if (options.subresource == "ephemeralcontainers") {
    // pods/ephemeralcontainers (kubectl debug) writes spec.ephemeralContainers and nothing else,
    // and only by appending (kube-apiserver's podEphemeralContainersStrategy).
    next = *old;
    const json none = json::array();
    const json& had = next.contains("spec") ? next["spec"].value("ephemeralContainers", none) : none;
    const json want = obj.contains("spec") && obj["spec"].is_object()
                          ? obj["spec"].value("ephemeralContainers", none) : none;
    KDR_RETURN_IF_ERROR(ValidateEphemeralContainersUpdate(t, *old, had, want));
    if (want.empty()) {
      next["spec"].erase("ephemeralContainers");
    } else {
      next["spec"]["ephemeralContainers"] = want;
    }
    if (obj["metadata"].contains("managedFields")) next["metadata"]["managedFields"] = obj["metadata"]["managedFields"];
  } else {
    // ValidateObjectMetaUpdate: the uid never changes (a patch naming another one is 422).
    if (const std::string uid = MetaStr(obj, "uid"); !uid.empty() && uid != old_meta.value("uid", "")) {
      return Status::InvalidArgument(QualifiedKind(t) + " " + Quoted(name) + " is invalid: metadata.uid: Invalid value: " +
                                     Quoted(uid) + ": field is immutable");
    }
    next = std::move(obj);
    next["apiVersion"] = t.api_version();
    next["kind"] = t.kind;
    json& meta = next["metadata"];
    for (const char* k : {"uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds",
                          "generation", "namespace"}) {
      if (old_meta.contains(k)) {
        meta[k] = old_meta[k];
      } else {
        meta.erase(k);
      }
    }
    if (t.status_subresource) {
      if (old->contains("status")) {
        next["status"] = (*old)["status"];
      } else {
        next.erase("status");
      }
    }
    // A deleting object may lose finalizers but not gain new ones.
    if (IsDeleting(*old) && HasFinalizers(next)) {
      std::vector<std::string> allowed;
      for (const auto& f : old_meta.value("finalizers", json::array())) allowed.push_back(f.get<std::string>());
      for (const auto& f : next["metadata"]["finalizers"]) {
        if (std::find(allowed.begin(), allowed.end(), f.get<std::string>()) == allowed.end()) {
          return Status::InvalidArgument(QualifiedKind(t) + " " + Quoted(name) +
                                         " is invalid: metadata.finalizers: Forbidden: no new finalizers can be "
                                         "added if the object is being deleted, found new finalizers [" +
                                         f.get<std::string>() + "]");
        }
      }
    }
    ApplyDefaults(t, &next);
    KDR_RETURN_IF_ERROR(ValidateObject(t, next));
    KDR_RETURN_IF_ERROR(ValidateUpdate(t, *old, &next));
    if (t.custom) {
      auto pruned = ApplySchema(t, &next);
      if (!pruned.ok()) return pruned.status();
    }
    if (t.tracks_generation && SpecChanged(*old, next)) {
      meta["generation"] = old_meta.value("generation", 0) + 1;
    }
  }
  next["metadata"]["resourceVersion"] = old_meta.value("resourceVersion", "");
  if (SameIgnoringManagedFields(next, *old)) return *old;  // no-op: no new version, no event
  if (t.gr() == kCrds) {
    auto parsed = Registry::TypeFromCrd(next);
    if (!parsed.ok()) return Status::InvalidArgument(QualifiedKind(t) + " " + Quoted(name) + " is invalid: " + parsed.status().message());
  }
  if (options.dry_run || options.validate_only) return next;
  if (IsDeleting(next) && !HasFinalizers(next)) {
    // The last finalizer went: the deletion completes now.
    std::vector<std::string> ns_to_check;
    ++rv_;
    next["metadata"]["resourceVersion"] = std::to_string(rv_);
    RemoveLocked(t, KeyOf(ns, name), std::make_shared<const json>(next), &ns_to_check);
    for (const auto& n : ns_to_check) MaybeFinishNamespaceLocked(n);
    return next;
  }
  if (t.gr() == kCrds) (void)registry_->AddCrd(next);
  ++rv_;
  next["metadata"]["resourceVersion"] = std::to_string(rv_);
  CommitLocked(EventType::kModified, t, std::make_shared<const json>(next), old);
  return next;
}

Result<json> Store::Modify(const GroupResource& gr, std::string_view ns, std::string_view name,
                           const std::function<Status(json*)>& mutate, const WriteOptions& options) {
  for (int attempt = 0;; ++attempt) {
    KDR_ASSIGN_OR_RETURN(json current, Get(gr, ns, name));
    KDR_RETURN_IF_ERROR(mutate(&current));
    if (!current.is_object()) return Status::InvalidArgument("the object became a non-object");
    current["metadata"]["name"] = std::string(name);
    auto r = Update(gr, ns, std::move(current), options);
    if (r.ok() || !r.status().IsConflict() || attempt >= 20) return r;
  }
}

void Store::RemoveLocked(const ResourceType& t, const std::string& key, ObjectPtr last,
                         std::vector<std::string>* ns_to_check) {
  const std::string ns = MetaStr(*last, "namespace");
  const std::string uid = MetaStr(*last, "uid");
  CommitLocked(EventType::kDeleted, t, last, nullptr);
  if (t.gr() == kCrds) {
    auto crd_type = Registry::TypeFromCrd(*last);
    if (crd_type.ok()) {
      auto b = data_.find(crd_type->gr());
      if (b != data_.end()) {
        std::vector<ObjectPtr> objs;
        for (const auto& [k, o] : b->second) objs.push_back(o);
        for (const auto& o : objs) {
          ++rv_;
          auto copy = std::make_shared<json>(*o);
          (*copy)["metadata"]["resourceVersion"] = std::to_string(rv_);
          CommitLocked(EventType::kDeleted, *crd_type, copy, nullptr);
        }
        data_.erase(crd_type->gr());
      }
      registry_->RemoveCrd(crd_type->gr());
    }
  }
  if (!uid.empty()) DeleteDependentsLocked(ns, uid, false);
  if (t.namespaced && ns_to_check) ns_to_check->push_back(ns);
}

void Store::DeleteDependentsLocked(const std::string& ns, const std::string& owner_uid, bool orphan) {
  // The garbage collector's work, done at once: dependents are found by ownerReferences uid.
  struct Dep {
    ResourceType t;
    std::string ns, name;
    bool other_owners;
  };
  std::vector<Dep> deps;
  for (auto& [gr, bucket] : data_) {
    auto t = registry_->Find(gr);
    if (!t || (!ns.empty() && !t->namespaced)) continue;
    auto it = ns.empty() ? bucket.begin() : bucket.lower_bound(ns + "/");
    for (; it != bucket.end(); ++it) {
      if (!ns.empty() && it->first.compare(0, ns.size() + 1, ns + "/") != 0) break;
      const json& m = Meta(*it->second);
      auto refs = m.find("ownerReferences");
      if (refs == m.end() || !refs->is_array()) continue;
      bool owned = false;
      size_t others = 0;
      for (const auto& r : *refs) {
        if (r.value("uid", "") == owner_uid) {
          owned = true;
        } else {
          ++others;
        }
      }
      if (owned) deps.push_back({*t, m.value("namespace", ""), m.value("name", ""), others > 0});
    }
  }
  for (const auto& d : deps) {
    if (orphan || d.other_owners) {
      auto b = data_[d.t.gr()].find(KeyOf(d.ns, d.name));
      if (b == data_[d.t.gr()].end()) continue;
      json next = *b->second;
      json kept = json::array();
      for (const auto& r : next["metadata"]["ownerReferences"]) {
        if (r.value("uid", "") != owner_uid) kept.push_back(r);
      }
      if (kept.empty()) {
        next["metadata"].erase("ownerReferences");
      } else {
        next["metadata"]["ownerReferences"] = kept;
      }
      (void)UpdateLocked(d.t, d.ns, std::move(next), {});
    } else {
      (void)DeleteLocked(d.t, d.ns, d.name, {});
    }
  }
}

Result<DeleteResult> Store::Delete(const GroupResource& gr, std::string_view ns, std::string_view name,
                                   const DeleteOptions& options) {
  KDR_ASSIGN_OR_RETURN(ResourceType t, TypeOf(gr));
  std::lock_guard lock(mu_);
  return DeleteLocked(t, t.namespaced ? ns : "", name, options);
}

Result<DeleteResult> Store::DeleteLocked(const ResourceType& t, std::string_view ns, std::string_view name,
                                         const DeleteOptions& options) {
  Bucket& bucket = data_[t.gr()];
  const std::string key = KeyOf(ns, name);
  auto it = bucket.find(key);
  if (it == bucket.end()) return NotFoundError(t, name);
  ObjectPtr cur = it->second;
  const json& meta = (*cur)["metadata"];
  if (options.precondition_uid && *options.precondition_uid != meta.value("uid", "")) {
    return Status::Aborted("Precondition failed: UID in precondition: " + *options.precondition_uid +
                           ", UID in object meta: " + meta.value("uid", ""));
  }
  if (options.precondition_resource_version &&
      *options.precondition_resource_version != meta.value("resourceVersion", "")) {
    return Status::Aborted("Precondition failed: ResourceVersion in precondition: " +
                           *options.precondition_resource_version +
                           ", ResourceVersion in object meta: " + meta.value("resourceVersion", ""));
  }
  const bool is_ns = t.gr() == kNamespaces;
  if (is_ns && (name == "default" || name == "kube-system" || name == "kube-public")) {
    return Status::PermissionDenied("namespaces " + Quoted(name) + " is forbidden: this namespace may not be deleted");
  }
  DeleteResult out;
  const bool keep = HasFinalizers(*cur) || is_ns;
  if (options.dry_run) {
    out.object = cur;
    out.deleted = !keep;
    return out;
  }
  if (IsDeleting(*cur)) {
    out.object = cur;
    return out;
  }
  if (keep) {
    json next = *cur;
    next["metadata"]["deletionTimestamp"] = NowString();
    next["metadata"]["deletionGracePeriodSeconds"] = 0;
    if (is_ns) next["status"]["phase"] = "Terminating";
    ++rv_;
    next["metadata"]["resourceVersion"] = std::to_string(rv_);
    auto ptr = std::make_shared<const json>(std::move(next));
    CommitLocked(EventType::kModified, t, ptr, cur);
    out.object = ptr;
    if (is_ns) {
      DeleteNamespaceContentsLocked(std::string(name));
      MaybeFinishNamespaceLocked(std::string(name));
      auto again = bucket.find(key);
      if (again == bucket.end()) {
        out.deleted = true;
      } else {
        out.object = again->second;
      }
    } else if (options.propagation_policy == "Orphan") {
      DeleteDependentsLocked(std::string(ns), meta.value("uid", ""), true);
    }
    return out;
  }
  if (options.propagation_policy == "Orphan") {
    DeleteDependentsLocked(std::string(ns), meta.value("uid", ""), true);
  }
  ++rv_;
  auto last = std::make_shared<json>(*cur);
  (*last)["metadata"]["resourceVersion"] = std::to_string(rv_);
  std::vector<std::string> ns_to_check;
  RemoveLocked(t, key, last, &ns_to_check);
  for (const auto& n : ns_to_check) MaybeFinishNamespaceLocked(n);
  out.object = last;
  out.deleted = true;
  return out;
}

void Store::DeleteNamespaceContentsLocked(const std::string& ns) {
  std::vector<std::pair<ResourceType, std::string>> victims;
  for (auto& [gr, bucket] : data_) {
    auto t = registry_->Find(gr);
    if (!t || !t->namespaced) continue;
    for (auto it = bucket.lower_bound(ns + "/"); it != bucket.end(); ++it) {
      if (it->first.compare(0, ns.size() + 1, ns + "/") != 0) break;
      victims.emplace_back(*t, MetaStr(*it->second, "name"));
    }
  }
  for (const auto& [t, name] : victims) (void)DeleteLocked(t, ns, name, {});
}

void Store::MaybeFinishNamespaceLocked(const std::string& ns) {
  auto nsb = data_.find(kNamespaces);
  if (nsb == data_.end()) return;
  auto it = nsb->second.find(KeyOf("", ns));
  if (it == nsb->second.end() || !IsDeleting(*it->second)) return;
  for (auto& [gr, bucket] : data_) {
    if (gr == kNamespaces) continue;
    auto b = bucket.lower_bound(ns + "/");
    if (b != bucket.end() && b->first.compare(0, ns.size() + 1, ns + "/") == 0) return;
  }
  auto t = registry_->Find(kNamespaces);
  ++rv_;
  auto last = std::make_shared<json>(*it->second);
  (*last)["metadata"]["resourceVersion"] = std::to_string(rv_);
  (*last)["spec"]["finalizers"] = json::array();
  CommitLocked(EventType::kDeleted, *t, last, nullptr);
}

Result<std::unique_ptr<Watcher>> Store::Watch(const WatchOptions& options) {
  auto filter = std::make_shared<Watcher::Filter>();
  filter->gr = options.gr;
  filter->ns = options.namespace_name;
  std::vector<std::string> field_labels;
  if (!options.gr.resource.empty()) {
    KDR_ASSIGN_OR_RETURN(ResourceType t, TypeOf(options.gr));
    field_labels = t.field_labels;
    if (!t.namespaced) filter->ns.clear();
  }
  KDR_ASSIGN_OR_RETURN(filter->labels, LabelSelector::Parse(options.label_selector));
  KDR_ASSIGN_OR_RETURN(filter->fields, FieldSelector::Parse(options.field_selector, field_labels));
  auto w = std::unique_ptr<Watcher>(new Watcher());
  w->options_ = options;
  w->filter_ = filter;
  std::lock_guard lock(mu_);
  const uint64_t from = options.resource_version.value_or(0);
  WatchEvent out;
  if (from == 0) {
    for (const auto& [gr, bucket] : data_) {
      if (!options.gr.resource.empty() && !(gr == options.gr)) continue;
      for (const auto& [key, obj] : bucket) {
        WatchEvent e{EventType::kAdded, gr, obj, nullptr, rv_};
        if (w->Accepts(e, &out)) w->queue_.push_back(out);
      }
    }
  } else {
    uint64_t oldest = history_.empty() ? rv_ : history_.front().resource_version - 1;
    if (from < oldest) {
      return Status::FailedPrecondition("too old resource version: " + std::to_string(from) + " (" +
                                        std::to_string(oldest) + ")");
    }
    for (const auto& e : history_) {
      if (e.resource_version > from && w->Accepts(e, &out)) w->queue_.push_back(out);
    }
  }
  w->store_ = this;
  w->start_version_ = rv_;
  if (from == 0) w->initial_events_ = w->queue_.size();
  watchers_.insert(w.get());
  return w;
}

}  // namespace kdr::kubesim
