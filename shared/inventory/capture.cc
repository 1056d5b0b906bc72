#include "inventory/capture.h"

#include <algorithm>
#include <array>
#include <condition_variable>
#include <deque>
#include <future>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <thread>
#include <utility>

#include "base/clock.h"
#include "base/json.h"
#include "base/log.h"
#include "base/strings.h"
#include "kube/client.h"
#include "kube/discovery.h"
#include "kube/object.h"
#include "kube/raw_list.h"

namespace kdr::inventory {
namespace {

using nlohmann::json;

const kube::Gvr kNamespaces{"", "v1", "namespaces"};
const kube::Gvr kClaims{"", "v1", "persistentvolumeclaims"};
const kube::Gvr kVolumes{"", "v1", "persistentvolumes"};
const kube::Gvr kStorageClasses{"storage.k8s.io", "v1", "storageclasses"};
const kube::Gvr kPriorityClasses{"scheduling.k8s.io", "v1", "priorityclasses"};
const kube::Gvr kRuntimeClasses{"node.k8s.io", "v1", "runtimeclasses"};
const kube::Gvr kCrds{"apiextensions.k8s.io", "v1", "customresourcedefinitions"};
const kube::Gvr kClusterRoles{"rbac.authorization.k8s.io", "v1", "clusterroles"};
const kube::Gvr kClusterRoleBindings{"rbac.authorization.k8s.io", "v1", "clusterrolebindings"};
constexpr std::string_view kRbacGroup = "rbac.authorization.k8s.io";
constexpr int kWriteThreads = 4;

bool Has(const std::vector<std::string>& v, std::string_view s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

// Left out as a whole: the reason, or "" when the resource's objects are looked at one by one.
std::string_view ResourceLeftOutReason(std::string_view group, std::string_view resource) {
  if (group.empty() && resource == "endpoints") return kLeftOutEndpoints;
  if (group == "discovery.k8s.io" && resource == "endpointslices") return kLeftOutEndpointSlice;
  if ((group.empty() || group == "events.k8s.io") && resource == "events") return kLeftOutEvent;
  if (group == "coordination.k8s.io" && resource == "leases") return kLeftOutLease;
  if (group == "apps" && resource == "controllerrevisions") return kLeftOutControllerRevision;
  return "";
}

// What LeftOutReason reads, from a parsed object or from a raw list item (kube/raw_list.h),
// which must agree.
bool HasControllerOwner(const json& object) {
  const json& refs = kube::FieldAt(object, {"metadata", "ownerReferences"});
  if (!refs.is_array()) return false;
  for (const json& r : refs) {
    // Only true counts (json::value would throw on a controller that is not a boolean).
    if (kube::FieldAt(r, {"controller"}) == true) return true;
  }
  return false;
}
bool HasControllerOwner(const kube::RawListItem& item) { return item.controller_owner; }
std::string LabelOf(const json& object, std::string_view key) {
  return kube::StringField(object, {"metadata", "labels", key});
}
std::string_view LabelOf(const kube::RawListItem& item, std::string_view key) {
  return item.Label(key).value_or("");
}
std::string TypeOf(const json& object) { return kube::StringField(object, {"type"}); }
std::string_view TypeOf(const kube::RawListItem& item) { return item.type; }
std::string NameOf(const json& object) { return kube::Name(object); }
std::string_view NameOf(const kube::RawListItem& item) { return item.name; }

template <typename Object>
std::string_view LeftOutReasonOf(std::string_view group, std::string_view resource, const Object& object) {
  if (std::string_view whole = ResourceLeftOutReason(group, resource); !whole.empty()) return whole;
  if (LabelOf(object, kExcludeLabel) == "true") return kLeftOutExcludeLabel;
  if (LabelOf(object, "app.kubernetes.io/name") == "kubectl-dr" &&
      LabelOf(object, "app.kubernetes.io/component") == "agent") {
    return kLeftOutKubectlDrAgent;
  }
  if (((group.empty() && resource == "pods") || (group == "apps" && resource == "replicasets") ||
       (group == "batch" && resource == "jobs")) &&
      HasControllerOwner(object)) {
    return kLeftOutOwnedByController;
  }
  if (group.empty() && resource == "secrets" && TypeOf(object) == "kubernetes.io/service-account-token") {
    return kLeftOutServiceAccountToken;
  }
  if (group.empty() && resource == "configmaps" && NameOf(object) == "kube-root-ca.crt") {
    return kLeftOutKubeRootCa;
  }
  if (group == kRbacGroup && (resource == "clusterroles" || resource == "clusterrolebindings") &&
      LabelOf(object, "kubernetes.io/bootstrapping") == "rbac-defaults") {
    return kLeftOutBuiltIn;
  }
  if (group == "scheduling.k8s.io" && resource == "priorityclasses" &&
      StartsWith(NameOf(object), "system-")) {
    return kLeftOutBuiltIn;
  }
  return "";
}

// The members a list item lacks, as JSON text: "\"apiVersion\":\"v1\"" and "\"kind\":\"ConfigMap\"".
struct TypeMembers {
  std::string api_version;
  std::string kind;
};

TypeMembers TypeMembersOf(const kube::ApiResource& r) {
  return {"\"apiVersion\":" + json(r.gvr.ApiVersion()).dump(), "\"kind\":" + json(r.kind).dump()};
}

// The file's text of a list item: the server's bytes, with apiVersion and kind put first where
// the item lacks them (typed lists of built-in kinds leave them out), and a newline. Parsed, it
// is the object Writer::Add would have written; the bytes differ (the server's member order and
// escapes are kept).
std::string ObjectText(std::string_view text, const kube::RawListItem& item, const TypeMembers& m) {
  std::string out;
  out.reserve(text.size() + m.api_version.size() + m.kind.size() + 3);
  out += '{';
  if (!item.has_api_version) out += m.api_version + ",";
  if (!item.has_kind) out += m.kind + ",";
  const bool empty = text.find_first_not_of(" \t\r\n", 1) == text.size() - 1;  // "{ }"
  if (empty && out.size() > 1) out.pop_back();
  out += text.substr(1);
  out += '\n';
  return out;
}

// A list or get failure that leaves a hole in the inventory but not a wrong one: recorded, and
// the capture goes on. Anything else (the server unreachable) fails the capture.
bool IsRecordable(const Status& s) {
  return s.code() == StatusCode::kPermissionDenied || s.code() == StatusCode::kNotFound ||
         s.code() == StatusCode::kUnimplemented;
}

// The pod specs an object carries: a Pod's own, a workload's template, a CronJob's job template.
// KubeVirt VirtualMachines keep theirs at spec.template.spec too.
std::array<const json*, 3> PodSpecs(const json& object) {
  return {&kube::FieldAt(object, {"spec"}), &kube::FieldAt(object, {"spec", "template", "spec"}),
          &kube::FieldAt(object, {"spec", "jobTemplate", "spec", "template", "spec"})};
}

// A cluster-scoped resource read by name (discovery is not needed for these).
kube::ApiResource ClusterResource(const kube::Gvr& gvr, std::string kind) {
  kube::ApiResource r;
  r.gvr = gvr;
  r.kind = std::move(kind);
  r.namespaced = false;
  return r;
}

// Writes objects on a few threads, so that serializing, hashing and creating files (75-200 us a
// file on ext4 here, more than reading the object took: BENCHMARKS.md) overlap the fetch and
// scan of the next page instead of following them. Objects are handed over in batches: a listed
// object costs a few microseconds to hash and store in memory, no more than waking a thread for
// it did.
class WritePool {
 public:
  WritePool(Writer* writer, int threads) : writer_(writer) {
    for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { Work(); });
  }
  ~WritePool() {
    {
      std::lock_guard l(mu_);
      stopping_ = true;
      queue_.clear();
    }
    ready_.notify_all();
    space_.notify_all();
  }
  WritePool(const WritePool&) = delete;
  WritePool& operator=(const WritePool&) = delete;

  // Queues one object: a parsed object (Writer::Add) or the file's text (Writer::AddSerialized).
  // Waits while the queue is full. Returns the first write error, once one happened (the capture
  // then stops). Submit and Finish are called from one thread.
  Status Submit(ObjectEntry entry, json object) {
    batch_.push_back(Job{std::move(entry), std::move(object), {}});
    return batch_.size() < kBatch ? Status::Ok() : Flush();
  }
  Status Submit(ObjectEntry entry, std::string text) {
    batch_.push_back(Job{std::move(entry), nullptr, std::move(text)});
    return batch_.size() < kBatch ? Status::Ok() : Flush();
  }

  // Waits until everything submitted is written; the first error, if any.
  Status Finish() {
    KDR_RETURN_IF_ERROR(Flush());
    std::unique_lock l(mu_);
    idle_.wait(l, [this] { return (queue_.empty() && busy_ == 0) || !error_.ok(); });
    return error_;
  }

 private:
  struct Job {
    ObjectEntry entry;
    json object;       // written with Writer::Add when text is empty
    std::string text;  // the file's text (never empty: it ends with a newline)
  };
  static constexpr size_t kBatch = 64;
  static constexpr size_t kMaxQueued = 2048;  // objects

  Status Flush() {
    std::unique_lock l(mu_);
    if (batch_.empty()) return error_;
    space_.wait(l, [this] { return queued_ < kMaxQueued || !error_.ok() || stopping_; });
    if (!error_.ok()) return error_;
    queued_ += batch_.size();
    queue_.push_back(std::move(batch_));
    batch_ = {};
    batch_.reserve(kBatch);
    ready_.notify_one();
    return Status::Ok();
  }

  void Work() {
    std::unique_lock l(mu_);
    for (;;) {
      ready_.wait(l, [this] { return !queue_.empty() || stopping_; });
      if (stopping_) return;
      std::vector<Job> batch = std::move(queue_.front());
      queue_.pop_front();
      queued_ -= batch.size();
      ++busy_;
      space_.notify_one();
      l.unlock();
      Status failed;
      for (Job& job : batch) {
        ObjectEntry& entry = job.entry;
        const std::string what = entry.resource + " " +
                                 (entry.namespace_name.empty() ? entry.name : entry.namespace_name + "/" + entry.name);
        Result<ObjectEntry> added =
            job.text.empty() ? writer_->Add(std::move(entry), job.object)
                             : writer_->AddSerialized(std::move(entry), job.text);
        // Seen twice (a list restarted after 410): kept once.
        if (!added.ok() && !added.status().IsAlreadyExists()) {
          failed = added.status().WithContext("writing " + what);
          break;
        }
      }
      l.lock();
      --busy_;
      if (!failed.ok() && error_.ok()) {
        error_ = std::move(failed);
        space_.notify_all();
      }
      if ((queue_.empty() && busy_ == 0) || !error_.ok()) idle_.notify_all();
    }
  }

  Writer* const writer_;
  std::vector<Job> batch_;  // the submitting thread's, not yet queued
  std::mutex mu_;
  std::condition_variable ready_;  // work queued, or stopping
  std::condition_variable space_;  // room in the queue, or an error
  std::condition_variable idle_;   // everything written, or an error
  std::deque<std::vector<Job>> queue_;  // guarded by mu_
  size_t queued_ = 0;                   // guarded by mu_: objects in queue_
  int busy_ = 0;                        // guarded by mu_
  bool stopping_ = false;               // guarded by mu_
  Status error_;                        // guarded by mu_
  std::vector<std::jthread> threads_;  // last: joined first
};

class Capturer {
 public:
  Capturer(kube::Client& client, const Env& env, const CaptureOptions& options)
      : client_(client), env_(env), options_(options) {}

  Result<Index> Run(const std::string& root) {
    KDR_RETURN_IF_ERROR(Validate());
    KDR_ASSIGN_OR_RETURN(std::vector<json> namespaces, ReadNamespaces());
    index_.plan = options_.plan;
    index_.namespaces = namespaces_;
    index_.source.server = client_.config().server;
    if (Result<json> ks = client_.Get(kNamespaces, "", "kube-system"); ks.ok()) {
      index_.source.kube_system_uid = kube::Uid(*ks);
    } else {
      Warn("cannot read namespace kube-system (" + ks.status().message() +
           "): the inventory names its source by URL only");
    }
    KDR_ASSIGN_OR_RETURN(std::vector<kube::ApiResource> resources, SelectResources());

    WriterOptions wo;
    wo.plan = options_.plan;
    wo.holder = options_.holder;
    wo.keep = options_.keep;
    wo.stale_lock_after = options_.stale_lock_after;
    KDR_ASSIGN_OR_RETURN(writer_, Writer::Begin(env_, root, wo));
    pool_ = std::make_unique<WritePool>(writer_.get(), kWriteThreads);
    index_.capture_start = env_.clock->Now();

    const kube::ApiResource ns_resource = ClusterResource(kNamespaces, "Namespace");
    for (json& ns : namespaces) KDR_RETURN_IF_ERROR(Consider(ns_resource, std::move(ns)));
    for (const std::string& ns : namespaces_) {
      for (const kube::ApiResource& r : resources) {
        KDR_RETURN_IF_ERROR(CaptureResource(r, ns));
      }
    }
    KDR_RETURN_IF_ERROR(CaptureDependencies());
    index_.capture_end = env_.clock->Now();
    KDR_RETURN_IF_ERROR(pool_->Finish());
    KDR_RETURN_IF_ERROR(BuildVolumeMap());
    return writer_->Commit(index_);
  }

 private:
  Status Validate() {
    if (options_.namespaces.empty()) {
      return Status::InvalidArgument("plan " + PlanName() + " names no namespace to capture");
    }
    for (const std::string& ns : options_.namespaces) {
      if (!kube::IsDns1123Label(ns)) {
        return Status::InvalidArgument("namespace " + Quote(ns) + " of plan " + PlanName() +
                                       " is not a valid namespace name (a DNS-1123 label)");
      }
      if (!Has(namespaces_, ns)) namespaces_.push_back(ns);
    }
    if (options_.page_size < 1) {
      return Status::InvalidArgument("the page size must be at least 1, not " +
                                     std::to_string(options_.page_size));
    }
    if (options_.keep < 1) {
      return Status::InvalidArgument("--keep must be at least 1, not " + std::to_string(options_.keep));
    }
    return Status::Ok();
  }

  std::string PlanName() const {
    return Quote(options_.plan.namespace_name.empty()
                     ? options_.plan.name
                     : options_.plan.namespace_name + "/" + options_.plan.name);
  }

  // Every plan namespace, or NotFound naming all that are missing: checked before anything is
  // written.
  Result<std::vector<json>> ReadNamespaces() {
    std::vector<json> found;
    std::vector<std::string> missing;
    for (const std::string& ns : namespaces_) {
      Result<json> obj = client_.Get(kNamespaces, "", ns);
      if (obj.ok()) {
        found.push_back(std::move(obj).value());
      } else if (obj.status().IsNotFound()) {
        missing.push_back(Quote(ns));
      } else {
        return obj.status().WithContext("reading namespace " + ns + " on the source cluster");
      }
    }
    if (missing.empty()) return found;
    std::string names = Join(missing, ", ");
    return Status::NotFound(
        (missing.size() == 1 ? "namespace " + names + " of plan " + PlanName() + " does not exist"
                             : "namespaces " + names + " of plan " + PlanName() + " do not exist") +
        " on the source cluster (" + client_.config().server +
        "): create them there or remove them from the plan's spec.namespaces; nothing was captured");
  }

  // Namespaced resources that can be listed and created, the preferred version of each group.
  Result<std::vector<kube::ApiResource>> SelectResources() {
    KDR_ASSIGN_OR_RETURN(std::vector<kube::ApiResource> all, client_.mapper().Resources());
    std::map<std::pair<std::string, std::string>, kube::ApiResource> chosen;
    for (kube::ApiResource& r : all) {
      if (!r.namespaced || !Has(r.verbs, "list")) continue;
      if (!Has(r.verbs, "create") && ResourceLeftOutReason(r.gvr.group, r.gvr.resource).empty()) {
        continue;
      }
      auto key = std::make_pair(r.gvr.group, r.gvr.resource);
      auto it = chosen.find(key);
      if (it == chosen.end()) {
        chosen.emplace(key, std::move(r));
      } else if (r.preferred && !it->second.preferred) {
        it->second = std::move(r);
      }
    }
    std::vector<kube::ApiResource> out;
    for (auto& [_, r] : chosen) out.push_back(std::move(r));
    return out;
  }

  // Warnings and unreadable resources are returned in the index (the command that captured prints
  // them once, with the summary), not logged here as well.
  void Warn(std::string warning) { index_.warnings.push_back(std::move(warning)); }

  void Unlisted(const kube::Gvr& gvr, std::string_view ns, std::string_view name, const Status& s) {
    index_.unlisted.push_back({gvr.group, gvr.version, gvr.resource, std::string(ns),
                               std::string(name), std::string(StatusCodeName(s.code())), s.message()});
  }

  // Lists gvr in ns page by page, handing each item to fn(text, item). The next page is
  // requested while fn runs on this one: writing the objects then overlaps the server's work and
  // the scan. Pages are kept raw (kube/raw_list.h): parsing every object into json and
  // serializing it again for its file cost more than reading it (BENCHMARKS.md).
  template <typename Fn>
  Status ListPages(const kube::Gvr& gvr, const std::string& ns, Fn fn) {
    kube::ListOptions lo;
    lo.limit = options_.page_size;
    auto fetch = [this, &gvr, &ns](kube::ListOptions options) { return client_.ListRaw(gvr, ns, options); };
    Result<kube::RawListPage> page = fetch(lo);
    bool restarted = false;
    for (;;) {
      if (!page.ok()) {
        // 410 Gone: the continue token outlived etcd's compaction window (about 5 minutes on
        // kube-apiserver). List again from the start once; objects seen twice are kept once.
        if (page.status().code() == StatusCode::kFailedPrecondition && !lo.continue_token.empty() &&
            !restarted) {
          restarted = true;
          lo.continue_token.clear();
          page = fetch(lo);
          continue;
        }
        return page.status();
      }
      lo.continue_token = page->continue_token;
      std::future<Result<kube::RawListPage>> next;
      if (!lo.continue_token.empty()) next = std::async(std::launch::async, fetch, lo);
      for (const kube::RawListItem& item : page->items) {
        KDR_RETURN_IF_ERROR(fn(page->Text(item), item));  // ~future waits
      }
      if (!next.valid()) return Status::Ok();
      page = next.get();
    }
  }

  Status CaptureResource(const kube::ApiResource& r, const std::string& ns) {
    const std::string_view whole = ResourceLeftOutReason(r.gvr.group, r.gvr.resource);
    if (!whole.empty()) return CountLeftOut(r, ns, whole);
    int64_t seen = 0;
    const TypeMembers members = TypeMembersOf(r);
    Status s = ListPages(r.gvr, ns, [&](std::string_view text, const kube::RawListItem& item) {
      ++seen;
      return ConsiderItem(r, members, text, item);
    });
    if (!s.ok()) {
      if (!IsRecordable(s)) {
        return s.WithContext("listing " + r.gvr.GroupResource() + " in namespace " + ns +
                             " on the source cluster");
      }
      Unlisted(r.gvr, ns, "", s);
    }
    if (env_.logger != nullptr && seen > 0) {
      env_.logger->Debug("listed", {{"resource", r.gvr.GroupResource()}, {"namespace", ns},
                                    {"objects", std::to_string(seen)}});
    }
    return Status::Ok();
  }

  // Counts a resource left out as a whole without reading it all: one page of one object and
  // the server's remainingItemCount (paging on when a server does not give it).
  Status CountLeftOut(const kube::ApiResource& r, const std::string& ns, std::string_view reason) {
    kube::ListOptions lo;
    lo.limit = 1;
    int64_t count = 0;
    for (;;) {
      Result<json> page = client_.List(r.gvr, ns, lo);
      // Nothing of it would have been captured: a refusal leaves no hole.
      if (!page.ok()) return IsRecordable(page.status()) ? Status::Ok() : page.status();
      const json& items = kube::FieldAt(*page, {"items"});
      count += items.is_array() ? static_cast<int64_t>(items.size()) : 0;
      const json& remaining = kube::FieldAt(*page, {"metadata", "remainingItemCount"});
      lo.continue_token = kube::StringField(*page, {"metadata", "continue"});
      if (remaining.is_number_integer()) {
        count += remaining.get<int64_t>();
        break;
      }
      if (lo.continue_token.empty()) break;
      lo.limit = options_.page_size;
    }
    if (count > 0) index_.left_out[std::string(reason)] += count;
    return Status::Ok();
  }

  // One object read from the source: left out with its reason, or written and its dependencies
  // noted.
  Status Consider(const kube::ApiResource& r, json object) {
    std::string_view reason = LeftOutReason(r.gvr.group, r.gvr.resource, object);
    if (!reason.empty()) {
      ++index_.left_out[std::string(reason)];
      return Status::Ok();
    }
    if (!object.contains("apiVersion")) object["apiVersion"] = r.gvr.ApiVersion();
    if (!object.contains("kind")) object["kind"] = r.kind;
    ObjectEntry e = EntryOf(r, r.namespaced ? kube::Namespace(object) : "", kube::Name(object));
    if (e.name.empty()) return NoName(r, e);
    NoteDependencies(r, object);
    return pool_->Submit(std::move(e), std::move(object));
  }

  // Consider of a list item, kept as the server sent it: the same decisions, from the fields
  // the scan found; the object is parsed only when its dependencies are read from it.
  Status ConsiderItem(const kube::ApiResource& r, const TypeMembers& members, std::string_view text,
                      const kube::RawListItem& item) {
    std::string_view reason = LeftOutReasonOf(r.gvr.group, r.gvr.resource, item);
    if (!reason.empty()) {
      ++index_.left_out[std::string(reason)];
      return Status::Ok();
    }
    ObjectEntry e = EntryOf(r, r.namespaced ? item.namespace_name : "", item.name);
    if (e.name.empty()) return NoName(r, e);
    if (NeedsObject(r, item)) {
      // Scanned already: ParseJson accepts what ScanListPage accepted.
      Result<json> object = ParseJson(text, "a list item of " + r.gvr.GroupResource(), kMaxJsonDepth);
      if (!object.ok()) return object.status();
      if (!object->contains("apiVersion")) (*object)["apiVersion"] = r.gvr.ApiVersion();
      if (!object->contains("kind")) (*object)["kind"] = r.kind;
      NoteDependencies(r, *object);
    } else if (r.gvr.group.empty() && r.gvr.resource == "serviceaccounts") {
      service_accounts_.emplace(item.namespace_name, item.name);
    } else if (!r.gvr.group.empty() && r.namespaced) {
      custom_candidates_.emplace(r.gvr.group, r.gvr.resource);
    }
    return pool_->Submit(std::move(e), ObjectText(text, item, members));
  }

  // Whether NoteDependencies reads more of an object than its name: claims, volumes and role
  // bindings; of the rest, only what sits under spec (pod specs, claim templates).
  static bool NeedsObject(const kube::ApiResource& r, const kube::RawListItem& item) {
    const std::string& group = r.gvr.group;
    const std::string& resource = r.gvr.resource;
    if (group.empty() && (resource == "persistentvolumeclaims" || resource == "persistentvolumes")) {
      return true;
    }
    if (group == kRbacGroup && (resource == "rolebindings" || resource == "clusterrolebindings")) {
      return true;
    }
    return item.has_spec;
  }

  static ObjectEntry EntryOf(const kube::ApiResource& r, std::string namespace_name, std::string name) {
    ObjectEntry e;
    e.group = r.gvr.group;
    e.version = r.gvr.version;
    e.resource = r.gvr.resource;
    e.kind = r.kind;
    e.namespace_name = std::move(namespace_name);
    e.name = std::move(name);
    return e;
  }

  Status NoName(const kube::ApiResource& r, const ObjectEntry& e) {
    Warn(r.gvr.GroupResource() + " in namespace " + e.namespace_name +
         ": an object without metadata.name was not captured");
    return Status::Ok();
  }

  // What it reads must stay what NeedsObject says it reads.
  void NoteDependencies(const kube::ApiResource& r, const json& object) {
    const std::string& group = r.gvr.group;
    const std::string& resource = r.gvr.resource;
    if (group.empty() && resource == "persistentvolumeclaims") {
      if (std::string pv = kube::StringField(object, {"spec", "volumeName"}); !pv.empty()) {
        pv_users_.emplace(pv, kube::NamespacedName(object));
      }
      NoteStorageClass(kube::StringField(object, {"spec", "storageClassName"}),
                       "claim " + kube::NamespacedName(object));
      claims_[kube::NamespacedName(object)] = object;
      return;
    }
    if (group.empty() && resource == "persistentvolumes") {
      NoteStorageClass(kube::StringField(object, {"spec", "storageClassName"}),
                       "volume " + kube::Name(object));
      volumes_.emplace(kube::Name(object), object);
      return;
    }
    if (group.empty() && resource == "serviceaccounts") {
      service_accounts_.emplace(kube::Namespace(object), kube::Name(object));
      return;
    }
    if (group == kRbacGroup && resource == "rolebindings") {
      if (kube::StringField(object, {"roleRef", "kind"}) == "ClusterRole") {
        NoteClusterRole(kube::StringField(object, {"roleRef", "name"}),
                        "rolebinding " + kube::NamespacedName(object));
      }
      return;
    }
    if (group == kRbacGroup && resource == "clusterrolebindings") {
      if (kube::StringField(object, {"roleRef", "kind"}) == "ClusterRole") {
        NoteClusterRole(kube::StringField(object, {"roleRef", "name"}),
                        "clusterrolebinding " + kube::Name(object));
      }
      return;
    }
    if (!group.empty() && r.namespaced) custom_candidates_.emplace(group, resource);
    for (const json* spec : PodSpecs(object)) {
      const json& pc = kube::FieldAt(*spec, {"priorityClassName"});
      if (pc.is_string() && !pc.get<std::string>().empty()) {
        priority_class_users_.emplace(pc.get<std::string>(), r.kind + " " + kube::NamespacedName(object));
      }
      // kube-apiserver's RuntimeClass admission refuses a pod naming a missing one (403).
      const json& rc = kube::FieldAt(*spec, {"runtimeClassName"});
      if (rc.is_string() && !rc.get<std::string>().empty()) {
        runtime_class_users_.emplace(rc.get<std::string>(), r.kind + " " + kube::NamespacedName(object));
      }
    }
    const json& templates = kube::FieldAt(object, {"spec", "volumeClaimTemplates"});
    if (templates.is_array()) {
      for (const json& t : templates) {
        NoteStorageClass(kube::StringField(t, {"spec", "storageClassName"}),
                         r.kind + " " + kube::NamespacedName(object));
      }
    }
  }

  void NoteStorageClass(const std::string& name, std::string user) {
    if (!name.empty()) storage_class_users_.emplace(name, std::move(user));
  }
  void NoteClusterRole(const std::string& name, std::string user) {
    if (!name.empty()) cluster_role_users_.emplace(name, std::move(user));
  }

  // Gets one cluster-scoped dependency and considers it. A missing one is a warning naming who
  // needs it; a refused one is recorded.
  Status CaptureNamed(const kube::Gvr& gvr, const std::string& kind, const std::string& name,
                      const std::string& user) {
    Result<json> obj = client_.Get(gvr, "", name);
    if (!obj.ok()) {
      if (obj.status().IsNotFound()) {
        Warn(ToLower(kind) + " " + Quote(name) + " used by " + user +
             " does not exist on the source cluster");
        return Status::Ok();
      }
      if (IsRecordable(obj.status())) {
        Unlisted(gvr, "", name, obj.status());
        return Status::Ok();
      }
      return obj.status().WithContext("reading " + gvr.GroupResource() + " " + name);
    }
    return Consider(ClusterResource(gvr, kind), std::move(obj).value());
  }

  Status CaptureDependencies() {
    // Volumes first: they add storage classes.
    for (const auto& [pv, claim] : pv_users_) {
      if (volumes_.count(pv) != 0) continue;
      KDR_RETURN_IF_ERROR(CaptureNamed(kVolumes, "PersistentVolume", pv, "claim " + claim));
    }
    for (const auto& [group, resource] : custom_candidates_) {
      const std::string name = resource + "." + group;
      Result<json> crd = client_.Get(kCrds, "", name);
      if (!crd.ok()) {
        if (crd.status().IsNotFound()) continue;  // a built-in or aggregated API, not a CRD
        if (!IsRecordable(crd.status())) {
          return crd.status().WithContext("reading customresourcedefinition " + name);
        }
        Unlisted(kCrds, "", name, crd.status());
        continue;
      }
      KDR_RETURN_IF_ERROR(Consider(ClusterResource(kCrds, "CustomResourceDefinition"), std::move(crd).value()));
    }
    // Cluster role bindings name their subjects inside: read them all, keep those binding ours.
    const kube::ApiResource crbs = ClusterResource(kClusterRoleBindings, "ClusterRoleBinding");
    const TypeMembers crb_members = TypeMembersOf(crbs);
    Status listed = ListPages(kClusterRoleBindings, "", [&](std::string_view text, const kube::RawListItem& item) {
      Result<json> crb = ParseJson(text, "a list item of " + kClusterRoleBindings.GroupResource(), kMaxJsonDepth);
      if (!crb.ok()) return crb.status();
      return BindsOurServiceAccounts(*crb) ? ConsiderItem(crbs, crb_members, text, item) : Status::Ok();
    });
    if (!listed.ok()) {
      if (!IsRecordable(listed)) return listed.WithContext("listing clusterrolebindings");
      Unlisted(kClusterRoleBindings, "", "", listed);
    }
    for (const auto& [name, user] : storage_class_users_) {
      KDR_RETURN_IF_ERROR(CaptureNamed(kStorageClasses, "StorageClass", name, user));
    }
    for (const auto& [name, user] : priority_class_users_) {
      KDR_RETURN_IF_ERROR(CaptureNamed(kPriorityClasses, "PriorityClass", name, user));
    }
    for (const auto& [name, user] : runtime_class_users_) {
      KDR_RETURN_IF_ERROR(CaptureNamed(kRuntimeClasses, "RuntimeClass", name, user));
    }
    for (const auto& [name, user] : cluster_role_users_) {
      KDR_RETURN_IF_ERROR(CaptureNamed(kClusterRoles, "ClusterRole", name, user));
    }
    return Status::Ok();
  }

  bool BindsOurServiceAccounts(const json& crb) const {
    const json& subjects = kube::FieldAt(crb, {"subjects"});
    if (!subjects.is_array()) return false;
    for (const json& s : subjects) {
      const std::string kind = kube::StringField(s, {"kind"});
      const std::string name = kube::StringField(s, {"name"});
      if (kind == "ServiceAccount" &&
          service_accounts_.count({kube::StringField(s, {"namespace"}), name}) != 0) {
        return true;
      }
      if (kind == "Group" && StartsWith(name, "system:serviceaccounts:") &&
          Has(namespaces_, name.substr(std::string_view("system:serviceaccounts:").size()))) {
        return true;
      }
    }
    return false;
  }

  Status BuildVolumeMap() {
    bool inventory_seen = false;
    for (const auto& [_, claim] : claims_) {
      VolumeMapEntry e = EntryFor(claim);
      if (e.pvc_namespace == options_.inventory_pvc_namespace &&
          e.pvc_name == options_.inventory_pvc_name) {
        e.inventory = inventory_seen = true;
      }
      KDR_RETURN_IF_ERROR(Describe(&e, claim));
      index_.volumes.push_back(std::move(e));
    }
    if (inventory_seen || options_.inventory_pvc_name.empty()) return Status::Ok();
    // The inventory claim usually lives in the DR namespace, outside the plan's: only its volume
    // is mapped (the storage drivers fail it over in its own consistency group).
    const std::string what = "the plan's inventory claim " + options_.inventory_pvc_namespace +
                             "/" + options_.inventory_pvc_name;
    Result<json> claim = client_.Get(kClaims, options_.inventory_pvc_namespace, options_.inventory_pvc_name);
    if (!claim.ok()) {
      Warn("cannot read " + what + " (" + claim.status().message() +
           "): the volume map has no entry for it");
      return Status::Ok();
    }
    if (std::string pv = kube::StringField(*claim, {"spec", "volumeName"});
        !pv.empty() && volumes_.count(pv) == 0) {
      if (Result<json> v = client_.Get(kVolumes, "", pv); v.ok()) {
        volumes_.emplace(pv, std::move(v).value());
      } else {
        Warn("cannot read volume " + pv + " of " + what + " (" + v.status().message() + ")");
      }
    }
    VolumeMapEntry e = EntryFor(*claim);
    e.inventory = true;
    KDR_RETURN_IF_ERROR(Describe(&e, *claim));
    index_.volumes.push_back(std::move(e));
    return Status::Ok();
  }

  Status Describe(VolumeMapEntry* e, const json& claim) {
    if (!options_.describe_volume) return Status::Ok();
    auto pv = volumes_.find(e->pv_name);
    return options_.describe_volume(e, claim, pv == volumes_.end() ? nullptr : &pv->second)
        .WithContext("describing the volume of claim " + e->pvc_namespace + "/" + e->pvc_name);
  }

  VolumeMapEntry EntryFor(const json& claim) const {
    auto it = volumes_.find(kube::StringField(claim, {"spec", "volumeName"}));
    return VolumeMapEntryFor(claim, it == volumes_.end() ? nullptr : &it->second);
  }

  kube::Client& client_;
  const Env& env_;
  const CaptureOptions& options_;
  std::vector<std::string> namespaces_;  // the plan's, without repeats
  std::unique_ptr<Writer> writer_;
  std::unique_ptr<WritePool> pool_;  // after writer_: stopped before it
  Index index_;
  // Dependencies noted while capturing, each with one object that needs it (for warnings).
  std::map<std::string, std::string> pv_users_;
  std::map<std::string, std::string> storage_class_users_;
  std::map<std::string, std::string> priority_class_users_;
  std::map<std::string, std::string> runtime_class_users_;
  std::map<std::string, std::string> cluster_role_users_;
  std::set<std::pair<std::string, std::string>> service_accounts_;  // namespace, name
  std::set<std::pair<std::string, std::string>> custom_candidates_;  // group, resource
  std::map<std::string, json> claims_;  // by namespace/name
  std::map<std::string, json> volumes_;  // by name
};

}  // namespace

VolumeMapEntry VolumeMapEntryFor(const json& claim, const json* pv_object) {
  VolumeMapEntry e;
  e.pvc_namespace = kube::Namespace(claim);
  e.pvc_name = kube::Name(claim);
  e.pv_name = kube::StringField(claim, {"spec", "volumeName"});
  e.storage_class = kube::StringField(claim, {"spec", "storageClassName"});
  e.volume_mode = kube::StringField(claim, {"spec", "volumeMode"});
  e.capacity = kube::StringField(claim, {"status", "capacity", "storage"});
  auto strings = [](const json& list) {
    std::vector<std::string> out;
    if (list.is_array()) {
      for (const json& s : list) {
        if (s.is_string()) out.push_back(s.get<std::string>());
      }
    }
    return out;
  };
  e.access_modes = strings(kube::FieldAt(claim, {"spec", "accessModes"}));
  if (e.pv_name.empty() || pv_object == nullptr) return e;
  const json& pv = *pv_object;
  if (e.storage_class.empty()) e.storage_class = kube::StringField(pv, {"spec", "storageClassName"});
  if (std::string c = kube::StringField(pv, {"spec", "capacity", "storage"}); !c.empty()) e.capacity = c;
  if (std::vector<std::string> m = strings(kube::FieldAt(pv, {"spec", "accessModes"})); !m.empty()) {
    e.access_modes = std::move(m);
  }
  if (std::string m = kube::StringField(pv, {"spec", "volumeMode"}); !m.empty()) e.volume_mode = m;
  e.reclaim_policy = kube::StringField(pv, {"spec", "persistentVolumeReclaimPolicy"});
  e.csi_driver = kube::StringField(pv, {"spec", "csi", "driver"});
  e.volume_handle = kube::StringField(pv, {"spec", "csi", "volumeHandle"});
  e.fs_type = kube::StringField(pv, {"spec", "csi", "fsType"});
  const json& attrs = kube::FieldAt(pv, {"spec", "csi", "volumeAttributes"});
  if (attrs.is_object()) {
    for (const auto& [k, v] : attrs.items()) {
      e.volume_attributes[k] = v.is_string() ? v.get<std::string>() : v.dump();
    }
  }
  return e;
}

std::string_view LeftOutReason(std::string_view group, std::string_view resource, const json& object) {
  return LeftOutReasonOf(group, resource, object);
}

Result<Index> Capture(kube::Client& source, const Env& env, const std::string& inventory_root,
                      const CaptureOptions& options) {
  Capturer c(source, env, options);
  return c.Run(inventory_root);
}

}  // namespace kdr::inventory
