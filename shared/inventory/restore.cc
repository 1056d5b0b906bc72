#include "inventory/restore.h"

#include <algorithm>
#include <atomic>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <stop_token>

#include "base/clock.h"
#include "base/strings.h"
#include "inventory/format.h"
#include "inventory/replace_volume.h"
#include "inventory/restore_internal.h"
#include "kube/client.h"
#include "kube/transport.h"

namespace kdr::inventory {

RestoreInput::RestoreInput() = default;
RestoreInput::~RestoreInput() = default;
RestoreInput::RestoreInput(const RestoreInput&) = default;
RestoreInput::RestoreInput(RestoreInput&&) noexcept = default;
RestoreInput& RestoreInput::operator=(const RestoreInput&) = default;
RestoreInput& RestoreInput::operator=(RestoreInput&&) noexcept = default;

Result<RestoreInput> ReadRestoreInput(const Inventory& inventory) {
  RestoreInput in;
  in.objects.reserve(inventory.index().objects.size());
  for (const ObjectEntry& entry : inventory.index().objects) {
    KDR_ASSIGN_OR_RETURN(nlohmann::json object, inventory.ReadObject(entry));
    if (object.is_object() && !object.contains("apiVersion")) {
      object["apiVersion"] = kube::Gvk{entry.group, entry.version, entry.kind}.ApiVersion();
    }
    if (object.is_object() && !object.contains("kind")) object["kind"] = entry.kind;
    in.objects.push_back(std::move(object));
  }
  in.volumes = inventory.index().volumes;
  return in;
}

namespace {

using internal::Entry;
using internal::Existing;
using internal::Outcome;
using nlohmann::json;

constexpr std::string_view kFieldManager = "kubectl-dr";

// A create that had no answer, or a 5xx/timeout one, is sent again this many times, after
// 250ms, 500ms, 1s and 2s: a restarting API server is back within that. A repeat of a create
// that took effect is 409, and the object is then found labelled with the recovery.
constexpr int kCreateRetries = 4;
constexpr std::chrono::milliseconds kCreateBackoff{250};

// The server may or may not have done it: no answer (the connection lost after the request
// went out), a 5xx, a timeout. (A certificate that fails verification fails the same way again.)
bool Ambiguous(const Status& s) {
  return (s.code() == StatusCode::kUnavailable && !kube::IsCertificateFailure(s)) ||
         s.code() == StatusCode::kDeadlineExceeded;
}

bool OnTarget(const Entry& e) {
  return e.outcome == Outcome::kCreated || e.outcome == Outcome::kUpdated || e.outcome == Outcome::kExisting;
}

std::string OwnerRefsText(const json& object) {
  const json& refs = kube::FieldAt(object, {"metadata", "ownerReferences"});
  return refs.is_array() ? refs.dump() : "[]";
}

// The server's reason, with what to do where the reason is a known restore pitfall.
Status WithHint(const Status& s) {
  if (s.message().find("conversion webhook") != std::string::npos) {
    return Status(s.code(), s.message() + "; the CRD's conversion webhook is not serving yet (it may be among the "
                                          "restored workloads): run the restore again once it is");
  }
  return s;
}

// Fields the target allocated that a replacing PUT must carry over, as kube-apiserver itself
// would for a Service (patchAllocatedValues); immutable specs (a bound claim's, a PV's source)
// stay the target's: a claim resize there is 403 for a statically bound claim.
void CarryOver(const Entry& e, const json& current, json* desired) {
  const json& have = kube::FieldAt(current, {"spec"});
  if (!have.is_object()) return;
  const std::string& group = e.gvk.group;
  const std::string& kind = e.gvk.kind;
  if (group.empty() && kind == "Service") {
    json& spec = (*desired)["spec"];
    for (const char* f : {"clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy", "healthCheckNodePort"}) {
      if (!spec.contains(f) && have.contains(f)) spec[f] = have[f];
    }
    if (spec.contains("ports") && spec["ports"].is_array() && have.contains("ports") && have["ports"].is_array()) {
      for (json& p : spec["ports"]) {
        if (!p.is_object() || p.contains("nodePort")) continue;
        for (const json& q : have["ports"]) {
          if (q.is_object() && q.value("port", 0) == p.value("port", 0) &&
              q.value("protocol", "TCP") == p.value("protocol", "TCP") && q.contains("nodePort")) {
            p["nodePort"] = q["nodePort"];
          }
        }
      }
    }
  } else if (group.empty() && (kind == "PersistentVolumeClaim" || kind == "PersistentVolume")) {
    (*desired)["spec"] = have;
  } else if (group == "batch" && kind == "Job") {
    json& spec = (*desired)["spec"];
    if (have.contains("selector")) spec["selector"] = have["selector"];
    const json& labels = kube::FieldAt(have, {"template", "metadata", "labels"});
    if (labels.is_object()) {
      for (auto it = labels.begin(); it != labels.end(); ++it) {
        spec["template"]["metadata"]["labels"][it.key()] = it.value();
      }
    }
  } else if (group.empty() && kind == "Pod") {
    json& spec = (*desired)["spec"];
    if (!spec.contains("nodeName") && have.contains("nodeName")) spec["nodeName"] = have["nodeName"];
  }
}

class Engine {
 public:
  // objects: the input the plan was built from, sanitized in place as objects are written.
  Engine(kube::Client& target, const RestoreOptions& options, internal::Plan* plan, std::vector<json>* objects,
         std::stop_token stop)
      : target_(target), options_(options), plan_(*plan), objects_(*objects), stop_(halt_.get_token()),
        forward_stop_(std::move(stop), [this] { halt_.request_stop(); }), uid_ready_(plan->entries.size()) {
    for (const Entry& e : plan_.entries) total_ += e.outcome == Outcome::kExcluded ? 0 : 1;
    lookup_ = [this](std::string_view uid) { return TargetUid(uid); };
  }

  // Why the restore stopped before its end although nobody asked it to: the target stopped
  // answering (Ok when it did not). The objects not done are left pending for the next run.
  Status Interrupted() const {
    std::lock_guard lock(interrupted_mu_);
    return interrupted_;
  }

  // Runs the tiers in order and fills result (but status).
  void Run(RestoreResult* result) {
    std::vector<std::vector<Entry*>> tiers(kTierCount);
    for (Entry& e : plan_.entries) {
      if (e.outcome != Outcome::kExcluded) tiers[static_cast<int>(e.tier)].push_back(&e);
    }
    Clock& clock = *target_.env().clock;
    for (int t = 0; t < kTierCount && !stop_.stop_requested(); ++t) {
      const Tier tier = static_cast<Tier>(t);
      std::vector<Entry*>& list = tiers[t];
      const auto start = clock.Monotonic();
      internal::RunParallel(list.size(), options_.parallel, stop_, [&](size_t i) { Handle(*list[i]); });
      if (tier == Tier::kCustomResourceDefinitions && !stop_.stop_requested()) {
        auto failures = internal::WaitEstablished(target_, list, options_.crd_established_timeout, stop_);
        internal::ResolveAwaitingCrds(&plan_, failures);
      }
      if (tier == Tier::kPersistentVolumeClaims && !stop_.stop_requested()) {
        internal::WaitBound(target_, list, options_.claim_bound_timeout, stop_);
      }
      // A stopped run leaves them to the next one (which patches what it finds restored).
      if (!stop_.stop_requested()) PatchOwners();
      if (!list.empty()) {
        result->tiers.push_back({tier, static_cast<int64_t>(list.size()), clock.Monotonic() - start});
      }
    }
  }

 private:
  void Handle(Entry& e) {
    try {
      if (e.skip) {
        e.outcome = Outcome::kSkipped;
        e.reason = *e.skip;
      } else if (!e.resolved) {
        Fail(e, e.resolve_error);
      } else if (e.found) {
        HandleExisting(e, *e.found);
      } else {
        Create(e);
      }
    } catch (const std::exception& ex) {
      // nlohmann throws on a field of an unexpected type; the object fails, the rest go on.
      Fail(e, Status::InvalidArgument(std::string("malformed object: ") + ex.what()));
    }
    // A call cut short by the stop (the caller's, or the halt of an unreachable target) says
    // nothing of the object: it stays pending, for the next run to settle.
    if (e.outcome == Outcome::kFailed && stop_.stop_requested() && e.status.code() == StatusCode::kCancelled) {
      e.outcome = Outcome::kPending;
    }
    if (e.outcome == Outcome::kPending && stop_.stop_requested()) return;
    Done(e);
  }

  // The target stopped answering: nothing more is written (every other object would wait out
  // the same retries to fail the same way); e stays pending and the restore ends resumable.
  void Halt(Entry& e, const Status& s) {
    e.outcome = Outcome::kPending;
    {
      std::lock_guard lock(interrupted_mu_);
      if (interrupted_.ok()) interrupted_ = s.WithContext(e.Ref().ToString());
    }
    halt_.request_stop();
  }

  void Fail(Entry& e, Status s) {
    e.outcome = Outcome::kFailed;
    e.status = std::move(s);
  }

  // The object as it is written, sanitized in place (no copy per object: the input is ours).
  // After this, *e.captured is sanitized too: what later steps read of it (names, specs,
  // imagePullSecrets) Sanitize leaves alone, and the owner references were kept in e.owners.
  json& Sanitized(Entry& e) {
    json& obj = objects_[e.index];
    if (!e.sanitized) {
      SanitizeOutcome out = Sanitize(plan_.sanitize, *plan_.set, lookup_, &obj);
      e.notes = std::move(out.notes);
      e.owners_pending = !out.pending_owner_uids.empty();
      e.sanitized = true;
      if (e.gvk.group.empty() && e.gvk.kind == "PersistentVolumeClaim") FollowRenamedVolume(e, &obj);
    }
    return obj;
  }

  // A claim whose PV the storage driver names otherwise (a drill copy's PV) is bound to that
  // name: a claim's spec.volumeName naming a PV that never comes stays Pending for good.
  void FollowRenamedVolume(Entry& e, json* claim) {
    auto it = plan_.renamed_volumes.find(kube::StringField(*claim, {"spec", "volumeName"}));
    if (it == plan_.renamed_volumes.end()) return;
    e.notes.push_back("spec.volumeName set to " + Quote(it->second) + ", the storage driver's PV for " +
                      Quote(it->first));
    (*claim)["spec"]["volumeName"] = it->second;
  }

  // The PV the storage driver gives for e's volume (RestoreOptions::rewrite_volume) in place of
  // the captured one. The driver's claimRef names the claim as captured: its namespace is mapped
  // as Sanitize maps the captured PV's (a drill's claim is in the mapped namespace, and a PV
  // reserved for another claim never binds).
  Status DriverVolume(const Entry& e, json* pv) {
    if (!options_.rewrite_volume || e.volume == nullptr) return Status::Ok();
    Status s = options_.rewrite_volume(*e.volume, pv);
    if (!s.ok()) return s.WithContext("the storage driver's volume source");
    json* ref = pv->contains("spec") ? &(*pv)["spec"] : nullptr;
    ref = ref != nullptr && ref->is_object() && ref->contains("claimRef") ? &(*ref)["claimRef"] : nullptr;
    if (ref != nullptr && ref->is_object() && ref->value("namespace", "") == e.volume->pvc_namespace) {
      (*ref)["namespace"] = TargetNamespace(plan_.sanitize, e.volume->pvc_namespace);
      ref->erase("uid");
      ref->erase("resourceVersion");
    }
    return Status::Ok();
  }

  void Create(Entry& e) {
    json& obj = Sanitized(e);
    if (e.gvk.group.empty() && e.gvk.kind == "PersistentVolume") {
      if (Status s = DriverVolume(e, &obj); !s.ok()) return Fail(e, s);
    }
    if (Status s = CheckSizeLimits(obj); !s.ok()) return Fail(e, s);
    Result<json> created = target_.Create(e.gvr, e.namespace_name, obj);
    std::chrono::milliseconds backoff = kCreateBackoff;
    for (int retry = 0; !created.ok() && Ambiguous(created.status()) && retry < kCreateRetries; ++retry) {
      if (!target_.env().clock->SleepFor(backoff, stop_)) break;
      backoff *= 2;
      created = target_.Create(e.gvr, e.namespace_name, obj);
    }
    if (!created.ok() && Ambiguous(created.status())) return Settle(e, created.status());
    if (created.ok()) {
      e.outcome = Outcome::kCreated;
      e.owner_refs = OwnerRefsText(*created);
      RecordUid(e, kube::Uid(*created));
      return;
    }
    if (!created.status().IsAlreadyExists()) return Fail(e, WithHint(created.status()));
    // Made since the survey (a controller's default ServiceAccount, a second run): read it.
    Result<json> current = target_.Get(e.gvr, e.namespace_name, e.name);
    if (!current.ok()) return Fail(e, current.status().WithContext("reading it after 409 AlreadyExists"));
    e.found = std::make_shared<const json>(std::move(*current));
    HandleExisting(e, *e.found);
  }

  // A create still without a clear answer: whether it took effect is read back. An object there
  // carries on as found (ours by its label); one not there failed with the server's answer; no
  // answer to the read either means the target is gone, and the restore halts.
  void Settle(Entry& e, const Status& create_status) {
    Result<json> current = target_.Get(e.gvr, e.namespace_name, e.name);
    if (current.ok()) {
      e.found = std::make_shared<const json>(std::move(*current));
      return HandleExisting(e, *e.found);
    }
    if (current.status().IsNotFound()) return Fail(e, WithHint(create_status));
    if (Ambiguous(current.status())) return Halt(e, create_status);
    Fail(e, create_status);
  }

  void HandleExisting(Entry& e, const json& found) {
    switch (internal::Classify(e, &found, options_.recovery)) {
      case Existing::kNone:
        return Create(e);
      case Existing::kOurs:
        e.outcome = Outcome::kExisting;
        e.owner_refs = OwnerRefsText(found);
        e.owners_pending = e.owners != nullptr;
        RecordUid(e, kube::Uid(found));
        return;
      case Existing::kMadeByTarget:
        e.outcome = Outcome::kExisting;
        RecordUid(e, kube::Uid(found));
        return MergeServiceAccount(e, found);
      case Existing::kShared:
        e.outcome = Outcome::kExisting;
        RecordUid(e, kube::Uid(found));
        e.differences = internal::Differences(e, found);
        return;
      case Existing::kConflict:
        break;
    }
    const std::string why = "exists on the target and was not created by recovery " + Quote(options_.recovery);
    switch (options_.existing) {
      case ExistingPolicy::kSkip:
        e.outcome = Outcome::kSkipped;
        e.reason = why + " (existing: skip)";
        return;
      case ExistingPolicy::kUpdate:
        return Update(e, found);
      case ExistingPolicy::kFail:
        return Fail(e, Status::AlreadyExists(why + " (existing: fail); restore with existing skip or update, "
                                                   "or delete it"));
    }
  }

  // Replaces a conflicting object with the captured one (PUT at the version read), carrying over
  // what the target allocated; a 409 Conflict re-reads and tries again.
  void Update(Entry& e, const json& found) {
    if (e.gvk.group.empty() && e.gvk.kind == "PersistentVolume") {
      json want = Sanitized(e);
      if (Status s = DriverVolume(e, &want); !s.ok()) return Fail(e, s);
      if (VolumeIdentity(want) != VolumeIdentity(found)) return ReplaceVolume(e, found, std::move(want));
    }
    const json desired = Sanitized(e);
    json current = found;
    for (int attempt = 0;; ++attempt) {
      json obj = desired;
      obj["metadata"]["resourceVersion"] = kube::ResourceVersion(current);
      CarryOver(e, current, &obj);
      if (Status s = CheckSizeLimits(obj); !s.ok()) return Fail(e, s);
      Result<json> updated = target_.Update(e.gvr, e.namespace_name, obj);
      if (updated.ok()) {
        e.outcome = Outcome::kUpdated;
        e.owner_refs = OwnerRefsText(*updated);
        RecordUid(e, kube::Uid(*updated));
        return;
      }
      if (!updated.status().IsConflict() || attempt == 3) return Fail(e, WithHint(updated.status()));
      Result<json> again = target_.Get(e.gvr, e.namespace_name, e.name);
      if (!again.ok()) return Fail(e, again.status().WithContext("reading it again after 409 Conflict"));
      current = std::move(*again);
    }
  }

  // A PV on the target naming another volume than the restore's (a failback's old primary: the
  // stale original beside the volume that took over) is made anew with its claim, the stale
  // volume kept (inventory/replace_volume.h). A claim still used by a pod is not deleted while it
  // is (pvc-protection): the wait ends at claim_bound_timeout with the PV failed, naming the pods.
  void ReplaceVolume(Entry& e, const json& found, json want) {
    if (Status s = CheckSizeLimits(want); !s.ok()) return Fail(e, s);
    VolumeReplacement replaced;
    Result<json> made = inventory::ReplaceVolume(target_, found, want, options_.claim_bound_timeout, stop_, &replaced);
    if (!replaced.claim_name.empty()) {
      // Its entry (a later tier) creates it again instead of updating it.
      for (Entry& c : plan_.entries) {
        if (c.gvk.group.empty() && c.gvk.kind == "PersistentVolumeClaim" &&
            c.namespace_name == replaced.claim_namespace && c.name == replaced.claim_name) {
          c.found.reset();
        }
      }
    }
    if (!made.ok()) return Fail(e, made.status());
    e.found.reset();
    e.outcome = Outcome::kUpdated;
    e.owner_refs = OwnerRefsText(*made);
    RecordUid(e, kube::Uid(*made));
    e.notes.push_back(replaced.Note());
  }

  // The default ServiceAccount is the target's: the captured imagePullSecrets (and
  // automountServiceAccountToken) are merged into it.
  void MergeServiceAccount(Entry& e, const json& found) {
    if (!(e.gvk.group.empty() && e.gvk.kind == "ServiceAccount")) return;
    json patch = json::object();
    const json& want = kube::FieldAt(*e.captured, {"imagePullSecrets"});
    json have = kube::FieldAt(found, {"imagePullSecrets"});
    if (!have.is_array()) have = json::array();
    const size_t before = have.size();
    if (want.is_array()) {
      for (const json& s : want) {
        if (std::find(have.begin(), have.end(), s) == have.end()) have.push_back(s);
      }
    }
    if (have.size() > before) patch["imagePullSecrets"] = have;
    const json& automount = kube::FieldAt(*e.captured, {"automountServiceAccountToken"});
    if (automount.is_boolean() && kube::FieldAt(found, {"automountServiceAccountToken"}) != automount) {
      patch["automountServiceAccountToken"] = automount;
    }
    if (patch.empty()) return;
    kube::PatchOptions po;
    po.field_manager = std::string(kFieldManager);
    Result<json> r = target_.Patch(e.gvr, e.namespace_name, e.name, kube::PatchType::kMergePatch, patch, po);
    if (!r.ok()) return Fail(e, r.status().WithContext("merging imagePullSecrets into the target's ServiceAccount"));
    e.notes.push_back("merged the captured imagePullSecrets/automountServiceAccountToken into the target's");
  }

  // Writes the owner references of objects whose owners came after them, once every owner in
  // the restore set is settled (restored, failed or skipped).
  void PatchOwners() {
    for (Entry& e : plan_.entries) {
      if (!e.owners_pending || !OnTarget(e)) continue;
      bool settled = true;
      if (e.owners == nullptr) continue;
      const json& refs = (*e.owners)["metadata"]["ownerReferences"];
      for (const json& r : refs) {
        const RestoreSet::Member* m = r.is_object() ? plan_.set->FindByUid(r.value("uid", "")) : nullptr;
        if (m != nullptr && plan_.entries[m->index].outcome == Outcome::kPending) settled = false;
      }
      if (!settled) continue;
      e.owners_pending = false;
      bool all_known = true;
      Result<json> want = TargetOwnerReferences(*plan_.set, lookup_, *e.owners, &all_known);
      if (!want.ok() || want->dump() == e.owner_refs) continue;
      json patch = {{"metadata", {{"ownerReferences", want->empty() ? json() : *want}}}};
      kube::PatchOptions po;
      po.field_manager = std::string(kFieldManager);
      Result<json> r = target_.Patch(e.gvr, e.namespace_name, e.name, kube::PatchType::kMergePatch, patch, po);
      if (r.ok()) {
        e.owner_refs = want->dump();
      } else {
        e.notes.push_back("ownerReferences not written: " + r.status().ToString());
      }
    }
  }

  // The target uid of a restored owner: written once by the worker that restored it, published
  // by uid_ready_. No lock: on two cores shared with the server, a worker preempted while holding
  // one stalls the rest of the pool.
  std::optional<std::string> TargetUid(std::string_view source_uid) {
    const RestoreSet::Member* m = plan_.set->FindByUid(source_uid);
    if (m == nullptr || !uid_ready_[m->index].load(std::memory_order_acquire)) return std::nullopt;
    return plan_.entries[m->index].target_uid;
  }

  void RecordUid(Entry& e, std::string target_uid) {
    if (target_uid.empty() || uid_ready_[e.index].load(std::memory_order_relaxed)) return;
    e.target_uid = std::move(target_uid);
    uid_ready_[e.index].store(true, std::memory_order_release);
  }

  void Done(const Entry& e) {
    const int64_t failed = e.outcome == Outcome::kFailed ? ++failed_ : failed_.load();
    const int64_t done = ++done_;
    if (!options_.progress) return;
    std::lock_guard lock(progress_mu_);
    options_.progress(RestoreProgress{done, total_, e.tier, failed});
  }

  kube::Client& target_;
  const RestoreOptions& options_;
  internal::Plan& plan_;
  std::vector<json>& objects_;
  std::stop_source halt_;  // the caller's stop, or Halt's
  const std::stop_token stop_;
  std::stop_callback<std::function<void()>> forward_stop_;
  mutable std::mutex interrupted_mu_;
  Status interrupted_;
  int64_t total_ = 0;
  OwnerUidLookup lookup_;
  std::vector<std::atomic<bool>> uid_ready_;  // by entry: its target_uid is written
  std::atomic<int64_t> done_{0};
  std::atomic<int64_t> failed_{0};  // of done_, written (claims that never bind fail later)
  std::mutex progress_mu_;
};

// Counts and lists, tier by tier, in input order within a tier.
void Collect(const internal::Plan& plan, RestoreResult* result) {
  for (int t = 0; t < kTierCount; ++t) {
    for (const Entry& e : plan.entries) {
      if (static_cast<int>(e.tier) != t || e.outcome == Outcome::kExcluded) continue;
      ObjectRef ref = e.Ref();
      switch (e.outcome) {
        case Outcome::kCreated: ++result->counts.created; break;
        case Outcome::kUpdated: ++result->counts.updated; break;
        case Outcome::kExisting: ++result->counts.existing; break;
        case Outcome::kFailed:
          ++result->counts.failed;
          result->failures.push_back({ref, e.tier, e.status});
          break;
        case Outcome::kSkipped:
        case Outcome::kPending:
          ++result->counts.skipped;
          result->skipped.push_back({ref, e.outcome == Outcome::kSkipped ? e.reason
                                                                          : "not restored: the restore was stopped"});
          break;
        case Outcome::kExcluded: break;
      }
      for (const std::string& n : e.notes) result->notes.push_back({ref, n});
      for (const Difference& d : e.differences) result->differences.push_back(d);
    }
  }
}

bool IsMappingConflict(const Conflict& c, const RestoreOptions& options) {
  if (c.object.kind != "Namespace") return false;
  for (const auto& [from, to] : options.namespace_mapping) {
    if (to == c.object.name) return true;
  }
  return false;
}

std::string ConflictSummary(const std::vector<Conflict>& conflicts) {
  std::vector<std::string> names;
  for (size_t i = 0; i < conflicts.size() && i < 3; ++i) names.push_back(conflicts[i].object.ToString());
  if (conflicts.size() > 3) names.push_back("and " + std::to_string(conflicts.size() - 3) + " more");
  return Join(names, ", ");
}

}  // namespace

Result<std::vector<Conflict>> ListConflicts(kube::Client& target, const RestoreInput& input,
                                            const RestoreOptions& options) {
  internal::Plan plan;
  KDR_RETURN_IF_ERROR(internal::BuildPlan(target, input, options, &plan));
  KDR_RETURN_IF_ERROR(internal::Survey(target, &plan, options.parallel, {}));
  return internal::Conflicts(target, plan, options);
}

RestoreResult Restore(kube::Client& target, RestoreInput input, const RestoreOptions& options,
                      std::stop_token stop) {
  RestoreResult result;
  internal::Plan plan;
  result.status = internal::BuildPlan(target, input, options, &plan);
  if (!result.status.ok()) return result;
  result.excluded = plan.excluded;
  result.status = internal::Survey(target, &plan, options.parallel, stop);
  if (!result.status.ok()) return result;
  Result<std::vector<Conflict>> conflicts = internal::Conflicts(target, plan, options);
  if (!conflicts.ok()) {
    result.status = conflicts.status();
    return result;
  }
  std::vector<Conflict> mapping;
  for (const Conflict& c : *conflicts) {
    if (IsMappingConflict(c, options)) mapping.push_back(c);
  }
  if (!mapping.empty()) {
    result.conflicts = mapping;
    result.status = Status::FailedPrecondition(mapping.front().reason + " (nothing was restored)");
    return result;
  }
  if (options.existing == ExistingPolicy::kFail && !conflicts->empty()) {
    result.status = Status::FailedPrecondition(
        std::to_string(conflicts->size()) + " object(s) exist on the target and were not created by recovery " +
        Quote(options.recovery) + ": " + ConflictSummary(*conflicts) +
        "; nothing was restored: restore with existing skip or update, or delete them");
    result.conflicts = std::move(*conflicts);
    return result;
  }

  Engine engine(target, options, &plan, &input.objects, stop);
  engine.Run(&result);
  Collect(plan, &result);
  const Status lost = engine.Interrupted();
  if (!lost.ok() || stop.stop_requested()) {
    const std::string left =
        std::to_string(std::count_if(plan.entries.begin(), plan.entries.end(),
                                     [](const Entry& e) { return e.outcome == Outcome::kPending; })) +
        " of " + std::to_string(result.counts.total()) + " objects not done; run it again to resume";
    result.status = !lost.ok() ? Status::Unavailable("the target stopped answering (" + lost.message() + "): " + left)
                               : Status::Cancelled("restore stopped with " + left);
  }
  return result;
}

}  // namespace kdr::inventory
