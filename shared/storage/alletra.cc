#include "storage/alletra.h"

#include <algorithm>
#include <array>
#include <nlohmann/json.hpp>
#include <set>

#include "base/clock.h"
#include "base/log.h"
#include "base/strings.h"
#include "dr/types.h"
#include "kube/client.h"
#include "kube/object.h"
#include "storage/alletra_groups.h"
#include "storage/common.h"
#include "storage/registry.h"
#include "storage/wsapi.h"

namespace kdr::storage {
namespace {

using nlohmann::json;
using namespace alletra;

// The array refuses a synchronize while one runs (RCOPY_GROUP_INVOLVED_IN_SYNCHRONIZATION).
constexpr std::string_view kAlreadySyncing = "code 223 ";
// 3PAR volume names have at most 31 characters.
constexpr size_t kMaxVolumeName = 31;

enum Site { kSource = 0, kTarget = 1 };
const char* SiteName(Site s) { return s == kSource ? "source" : "target"; }

// The value of `key` in an identity, "" when absent (a CG built by hand, or from an older
// capture).
std::string Id(const Identity& id, const std::string& key) {
  auto it = id.find(key);
  return it == id.end() ? "" : it->second;
}

std::string ParamOr(const std::map<std::string, std::string>& m, const std::string& key,
                    const std::string& fallback) {
  auto it = m.find(key);
  return it == m.end() || it->second.empty() ? fallback : it->second;
}

// A Kubernetes object name for an array volume name (which may hold '_' and capitals).
std::string PvNameFor(const std::string& volume) {
  std::string out;
  for (char c : volume) {
    out += c == '_' ? '-' : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

class AlletraDriver final : public Driver {
 public:
  AlletraDriver(const dr::DRPlan& plan, const DriverOptions& options)
      : plan_(plan.metadata.name),
        secret_ns_(plan.metadata.namespace_name.empty() ? std::string(dr::kSystemNamespace)
                                                        : plan.metadata.namespace_name),
        secret_name_(plan.spec.credentials_secret),
        params_(plan.spec.storage_parameters),
        options_(options),
        clock_(*options.env.clock) {
    array_names_ = {params_.at("sourceArray"), params_.at("targetArray")};
  }

  ~AlletraDriver() override {
    // Sessions count against the array's limit: end them (a destructor cannot report).
    for (auto& a : arrays_) {
      if (a) (void)a->Close(Deadline::After(clock_, std::chrono::seconds(10)));
    }
  }

  std::string_view name() const override { return "alletra"; }

  Status ValidateParameters(const std::map<std::string, std::string>& parameters,
                            const Credentials* credentials) const override {
    return ValidateAlletraParameters(parameters, credentials);
  }

  Result<Identity> Identify(const inventory::VolumeMapEntry& e, const Deadline& d) override {
    std::string vol = VolumeOf(e);
    if (vol.empty()) {
      return Status::FailedPrecondition("pvc " + PvcName(e) + " (pv " + Quote(e.pv_name) +
                                        ") names no array volume (no csi volumeHandle)");
    }
    auto g = e.storage.find("group");
    if (g != e.storage.end() && !g->second.empty()) {
      return Identity{{"array", array_names_[kSource]}, {"volume", vol}, {"group", g->second}};
    }
    KDR_ASSIGN_OR_RETURN(WsapiClient * src, Array(kSource, d));
    KDR_ASSIGN_OR_RETURN(json groups, src->Get("remotecopygroups", d));
    for (const json& m : Members(groups)) {
      for (const json& v : Members(m, "volumes")) {
        if (kube::StringField(v, {"localVolumeName"}) == vol) {
          return Identity{{"array", array_names_[kSource]}, {"volume", vol},
                          {"group", kube::StringField(m, {"name"})}};
        }
      }
    }
    return Status::FailedPrecondition("pvc " + PvcName(e) + ": volume " + Quote(vol) + " of " +
                                      array_names_[kSource] + " is in no remote-copy group; add " +
                                      "it to one that replicates to " + array_names_[kTarget]);
  }

  Result<std::vector<ConsistencyGroup>> Discover(const dr::DRPlan& plan,
                                                 const inventory::VolumeMap& map,
                                                 const Deadline& d) override {
    KDR_ASSIGN_OR_RETURN(WsapiClient * tgt, Array(kTarget, d));
    KDR_ASSIGN_OR_RETURN(json tgroups, tgt->Get("remotecopygroups", d));
    struct Mirror {
      std::string group;   // on the target
      std::string volume;  // on the target
    };
    std::map<std::string, Mirror> by_source;                  // source volume -> mirror
    std::map<std::string, std::vector<std::string>> members;  // target group -> source volumes
    for (const json& m : Members(tgroups)) {
      const json& targets = kube::FieldAt(m, {"targets"});
      if (!targets.is_array() || targets.empty() ||
          kube::StringField(targets[0], {"targetName"}) != array_names_[kSource]) {
        continue;  // replicates with some other array
      }
      for (const json& v : Members(m, "volumes")) {
        const json& r = kube::FieldAt(v, {"remoteVolumes"});
        if (!r.is_array() || r.empty()) continue;
        std::string remote = kube::StringField(r[0], {"remoteVolumeName"});
        by_source[remote] = {kube::StringField(m, {"name"}),
                             kube::StringField(v, {"localVolumeName"})};
        members[kube::StringField(m, {"name"})].push_back(remote);
      }
    }
    // The groups' names on the source, when it can be read. A failover never needs the source:
    // whatever keeps it from being read is only reported.
    std::map<std::string, std::string> source_group;  // source volume -> group there
    std::string source_note;
    Result<json> sgroups = Status::Unavailable("not read");
    auto src = Array(kSource, d);
    if (src.ok()) sgroups = (*src)->Get("remotecopygroups", d);
    if (!src.ok() || !sgroups.ok()) {
      source_note = "the source array was not read: " +
                    (src.ok() ? sgroups.status() : src.status()).message();
    } else {
      for (const json& m : Members(*sgroups)) {
        for (const json& v : Members(m, "volumes")) {
          source_group[kube::StringField(v, {"localVolumeName"})] = kube::StringField(m, {"name"});
        }
      }
    }

    std::vector<std::string> problems;
    std::map<std::string, ConsistencyGroup> groups;  // by target group
    std::string inventory_group;
    for (const auto& e : map) {
      Volume v;
      v.captured = e;
      const std::string vol = VolumeOf(e);
      auto it = by_source.find(vol);
      if (vol.empty() || it == by_source.end()) {
        problems.push_back("pvc " + PvcName(e) + ": volume " + Quote(vol) + " of " +
                           array_names_[kSource] + " is in no remote-copy group replicating to " +
                           array_names_[kTarget]);
        continue;
      }
      std::string sgroup = source_group.count(vol) ? source_group[vol] : "";
      if (sgroup.empty() && e.storage.count("group")) sgroup = e.storage.at("group");
      v.source = {{"array", array_names_[kSource]}, {"volume", vol}, {"group", sgroup}};
      v.target = {{"array", array_names_[kTarget]}, {"volume", it->second.volume},
                  {"group", it->second.group}};
      ConsistencyGroup& cg = groups[it->second.group];
      cg.plan = plan.metadata.name;
      cg.name = sgroup.empty() ? it->second.group : sgroup;
      cg.source = {{"array", array_names_[kSource]}, {"group", sgroup}};
      cg.target = {{"array", array_names_[kTarget]}, {"group", it->second.group}};
      if (IsInventory(plan, e)) {
        cg.role = CgRole::kInventory;
        inventory_group = it->second.group;
      }
      cg.volumes.push_back(std::move(v));
    }
    if (!problems.empty()) {
      return Status::FailedPrecondition("plan " + Quote(plan.metadata.name) + ": " +
                                        Join(problems, "; "));
    }
    if (inventory_group.empty()) {
      return Status::FailedPrecondition("the volume map has no entry for the plan's inventory pvc " +
                                        plan.spec.inventory_pvc_namespace + "/" +
                                        plan.spec.inventory_pvc_name);
    }
    const ConsistencyGroup& inv = groups[inventory_group];
    if (inv.volumes.size() > 1) {
      std::vector<std::string> others;
      for (const Volume& v : inv.volumes) {
        if (!IsInventory(plan, v.captured)) others.push_back(v.pvc());
      }
      return Status::FailedPrecondition(
          "the inventory's volume shares remote-copy group " + Quote(inv.name) +
          " with workload claims (" + Join(others, ", ") + "): failing over the inventory would "
          "fail them over too; give the inventory volume a remote-copy group of its own");
    }
    std::vector<ConsistencyGroup> out;
    out.push_back(std::move(groups[inventory_group]));
    for (auto& [tgroup, cg] : groups) {
      if (tgroup == inventory_group) continue;
      out.push_back(std::move(cg));
    }
    for (ConsistencyGroup& cg : out) {
      if (!source_note.empty()) cg.warnings.push_back(source_note);
      std::set<std::string> in_plan;
      for (const Volume& v : cg.volumes) in_plan.insert(Id(v.source, "volume"));
      std::vector<std::string> extra;
      for (const std::string& vol : members[Id(cg.target, "group")]) {
        if (!in_plan.count(vol)) extra.push_back(Quote(vol));
      }
      if (!extra.empty()) {
        cg.warnings.push_back("remote-copy group " + Quote(cg.name) + " also holds " +
                              Join(extra, ", ") + ", which no claim of the plan uses: they fail "
                              "over with the group");
      }
    }
    return out;
  }

  Result<CgState> State(const ConsistencyGroup& cg, const Deadline& d) override {
    CgState s;
    auto t = ReadGroup(kTarget, cg, d);
    if (!t.ok()) {
      if (t.status().code() != StatusCode::kUnavailable) return t.status();
      s.replication = Replication::kUnknown;
      s.backend = t.status().message();
      return s;
    }
    std::string why;
    KDR_ASSIGN_OR_RETURN(std::optional<Group> src, ReadSourceIfReachable(cg, d, &why));
    s.backend = t->Words() + (src ? "; " + src->Words() : "; " + why);
    Clock::WallTime last;
    if (ParseRfc3339(t->last_sync, &last)) s.last_sync = last;
    const bool synced = t->AllSynced();
    switch (t->role) {
      case Role::kSecondary:
      case Role::kSecondaryRev:
        s.replication = Replication::kReplicating;
        s.running = t->started;
        s.caught_up = t->started && synced;
        break;
      case Role::kPrimaryRev:
        if (src && src->role == Role::kSecondaryRev) {
          s.replication = Replication::kReversed;
          s.running = t->started;
          s.caught_up = t->started && synced;
        } else {
          s.replication = Replication::kFailedOver;
        }
        break;
      case Role::kPrimary:
        if (!src) {
          s.replication = Replication::kUnknown;  // failed back, or the source holds the data?
        } else if (src->role == Role::kSecondary) {
          s.replication = Replication::kFailedOver;
        } else if (src->role == Role::kPrimaryRev) {
          s.replication = Replication::kReplicating;  // the source took over; nothing flows yet
          s.running = false;
        } else {
          return Status::FailedPrecondition("remote copy group " + Quote(cg.name) +
                                            " has roles kubectl-dr cannot combine: " + s.backend);
        }
        break;
    }
    if ((s.replication == Replication::kReplicating || s.replication == Replication::kReversed) &&
        !s.caught_up && s.last_sync) {
      s.behind = std::chrono::duration_cast<std::chrono::seconds>(clock_.Now() - *s.last_sync);
    }
    for (const Volume& v : cg.volumes) {
      VolumeState vs;
      vs.pvc = v.pvc();
      vs.replication = s.replication;
      vs.last_sync = s.last_sync;
      for (const Group::Vol& gv : t->volumes) {
        if (gv.local != Id(v.target, "volume")) continue;
        vs.caught_up = s.running && gv.sync == kSynced;
        vs.backend = array_names_[kTarget] + ": " + gv.local + " sync status " +
                     std::to_string(gv.sync);
      }
      s.volumes.push_back(std::move(vs));
    }
    return s;
  }

  Status Sync(const ConsistencyGroup& cg, const Deadline& d) override {
    KDR_ASSIGN_OR_RETURN(Group t, ReadGroup(kTarget, cg, d));
    if (t.role == Role::kPrimaryRev) {
      return Status::FailedPrecondition("remote copy group " + Quote(t.name) + " is failed over (" +
                                        t.Words() + "): there is nothing to sync it to");
    }
    std::string why;
    auto src = ReadSourceIfReachable(cg, d, &why);
    if (!src.ok()) return src.status();
    if (!*src) {
      return Status::Unavailable("cannot synchronize remote copy group " + Quote(cg.name) + ": " +
                                 why + "; the target holds the last sync" +
                                 (t.last_sync.empty() ? "" : " of " + t.last_sync));
    }
    Group& s = **src;
    if (s.role != Role::kPrimary && s.role != Role::kPrimaryRev) {
      return Status::FailedPrecondition("remote copy group " + Quote(cg.name) + " is failed over (" +
                                        s.Words() + "; " + t.Words() + "): nothing to sync");
    }
    if (t.role == Role::kPrimary) {
      return Status::FailedPrecondition("remote copy group " + Quote(cg.name) + " is failed over "
                                        "and not recovered (" + s.Words() + "; " + t.Words() +
                                        "): run Recover to replicate again");
    }
    KDR_ASSIGN_OR_RETURN(WsapiClient * a, Array(kSource, d));
    const std::string path = "remotecopygroups/" + s.name;
    if (!s.started) {
      KDR_RETURN_IF_ERROR(Act(a, path, false, kStart, "start", d));
    } else if (!s.AnySyncing()) {
      auto r = a->Put(path, {{"action", kSynchronize}}, d);
      if (!r.ok() && r.status().message().find(kAlreadySyncing) == std::string::npos) {
        return r.status().WithContext("synchronizing remote copy group " + Quote(s.name));
      }
    }
    Log("synchronizing remote copy group", {{"group", s.name}, {"array", s.array}});
    return WaitSynced(kSource, s.name, d);
  }

  Status Failover(const ConsistencyGroup& cg, const Deadline& d) override {
    // Each pass reads both sides and takes one step; a repeated or resumed call continues from
    // wherever the group is.
    for (int step = 0; step < 6; ++step) {
      KDR_ASSIGN_OR_RETURN(Group t, ReadGroup(kTarget, cg, d));
      switch (t.role) {
        case Role::kPrimaryRev:
          return Status::Ok();  // failed over (perhaps reversed since): nothing to do
        case Role::kSecondary: {
          KDR_ASSIGN_OR_RETURN(WsapiClient * a, Array(kTarget, d));
          const std::string path = "remotecopygroups/" + t.name;
          if (t.started) {
            // The array fails over a stopped group only (RCOPY_GROUP_NOT_STOPPED).
            KDR_RETURN_IF_ERROR(Act(a, path, false, kStop, "stop", d));
          } else {
            KDR_RETURN_IF_ERROR(Act(a, path, true, kFailover, "failover", d));
            Log("failed over remote copy group", {{"group", t.name}, {"array", t.array}});
          }
          continue;
        }
        case Role::kSecondaryRev:
          return Restore(cg, d);
        case Role::kPrimary: {
          std::string why;
          KDR_ASSIGN_OR_RETURN(std::optional<Group> s, ReadSourceIfReachable(cg, d, &why));
          if (!s) {
            return Status::Unavailable("remote copy group " + Quote(t.name) + " is Primary on " +
                                       t.array + ": failing back to it needs the other array too, "
                                       "and " + why);
          }
          if (s->role == Role::kSecondary) return Status::Ok();  // failed back already
          KDR_RETURN_IF_ERROR(Recover(cg, d));
          return Restore(cg, d);
        }
      }
    }
    return Status::Internal("failover of remote copy group " + Quote(cg.name) +
                            " did not settle after six steps");
  }

  Status Recover(const ConsistencyGroup& cg, const Deadline& d) override {
    KDR_ASSIGN_OR_RETURN(Group t, ReadGroup(kTarget, cg, d));
    KDR_ASSIGN_OR_RETURN(Group s, ReadSourceRequired(cg, d, "recover"));
    if (t.role == Role::kSecondaryRev && s.role == Role::kPrimaryRev) {
      return WaitSynced(kSource, s.name, d);  // recovered already
    }
    if (t.role == Role::kPrimary && s.role == Role::kSecondary) return Status::Ok();  // restored
    if (t.role == Role::kPrimary && s.role == Role::kPrimaryRev) {
      KDR_ASSIGN_OR_RETURN(WsapiClient * a, Array(kSource, d));
      KDR_RETURN_IF_ERROR(Act(a, "remotecopygroups/" + s.name, true, kRecover, "recover", d));
      Log("recovered remote copy group", {{"group", s.name}, {"array", s.array}});
      return WaitSynced(kSource, s.name, d);
    }
    return Status::FailedPrecondition("remote copy group " + Quote(cg.name) + " has nothing to "
                                      "recover (" + s.Words() + "; " + t.Words() + "): recover "
                                      "runs on a group that failed over to the source's array");
  }

  Status Restore(const ConsistencyGroup& cg, const Deadline& d) override {
    for (int step = 0; step < 4; ++step) {
      KDR_ASSIGN_OR_RETURN(Group t, ReadGroup(kTarget, cg, d));
      KDR_ASSIGN_OR_RETURN(Group s, ReadSourceRequired(cg, d, "restore"));
      if (t.role == Role::kPrimary && s.role == Role::kSecondary) return Status::Ok();
      if (t.role == Role::kPrimary && s.role == Role::kPrimaryRev) {
        return Status::FailedPrecondition("remote copy group " + Quote(cg.name) + " is not "
                                          "recovered (" + s.Words() + "; " + t.Words() +
                                          "): run Recover first");
      }
      if (t.role != Role::kSecondaryRev || s.role != Role::kPrimaryRev) {
        return Status::FailedPrecondition("remote copy group " + Quote(cg.name) + " cannot be "
                                          "restored from its roles (" + s.Words() + "; " +
                                          t.Words() + ")");
      }
      KDR_ASSIGN_OR_RETURN(WsapiClient * a, Array(kSource, d));
      const std::string path = "remotecopygroups/" + s.name;
      if (!s.started) {
        // Restore pushes the last changes back, so the group must run (RCOPY_GROUP_NOT_STARTED).
        KDR_RETURN_IF_ERROR(Act(a, path, false, kStart, "start", d));
      }
      KDR_RETURN_IF_ERROR(WaitSynced(kSource, s.name, d));
      KDR_RETURN_IF_ERROR(Act(a, path, true, kRestore, "restore", d));
      Log("restored remote copy group", {{"group", s.name}, {"array", s.array}});
    }
    return Status::Internal("restore of remote copy group " + Quote(cg.name) +
                            " did not settle after four steps");
  }

  Result<ConsistencyGroup> PrepareDrill(const ConsistencyGroup& cg, const Deadline& d) override {
    KDR_ASSIGN_OR_RETURN(WsapiClient * a, Array(kTarget, d));
    ConsistencyGroup drill = cg;
    for (Volume& v : drill.volumes) {
      const std::string parent = Id(v.target, "volume");
      if (parent.empty()) {
        return Status::FailedPrecondition("pvc " + v.pvc() + " has no volume on the target array; "
                                          "discover the plan's volumes first");
      }
      const std::string copy = DrillName(parent);
      json body = {{"action", "createSnapshot"},
                   {"parameters",
                    {{"name", copy},
                     {"readOnly", false},
                     {"comment", "kubectl-dr drill of plan " + cg.plan}}}};
      auto r = a->Post("volumes/" + parent, body, d);
      if (!r.ok()) {
        if (r.status().code() != StatusCode::kAlreadyExists) {
          return r.status().WithContext("making a virtual copy of " + Quote(parent) + " for pvc " +
                                        v.pvc());
        }
        KDR_RETURN_IF_ERROR(CheckCopyOf(a, copy, parent, d));  // a copy from an earlier run
      }
      Log("made a virtual copy for a drill", {{"volume", copy}, {"of", parent}});
      v.target = {{"array", array_names_[kTarget]}, {"volume", copy}, {"copyOf", parent}};
      v.drill = true;
    }
    return drill;
  }

  Status CleanupDrill(const ConsistencyGroup& cg, const Deadline& d) override {
    KDR_ASSIGN_OR_RETURN(WsapiClient * a, Array(kTarget, d));
    for (const Volume& v : cg.volumes) {
      const std::string parent = v.drill ? Id(v.target, "copyOf") : Id(v.target, "volume");
      const std::string copy = v.drill ? Id(v.target, "volume") : DrillName(parent);
      if (parent.empty() || copy.empty()) continue;  // nothing was ever copied for it
      Status own = CheckCopyOf(a, copy, parent, d);
      if (own.IsNotFound()) continue;
      KDR_RETURN_IF_ERROR(own);
      Status del = a->Delete("volumes/" + copy, d);
      if (!del.ok() && !del.IsNotFound()) {
        return del.WithContext("deleting drill copy " + Quote(copy));
      }
      Log("deleted a drill copy", {{"volume", copy}});
    }
    return Status::Ok();
  }

  Result<std::optional<json>> VolumeSourceFor(const Volume& v, const json& captured_pv,
                                              const Deadline& d) override {
    KDR_RETURN_IF_ERROR(CheckDeadline(clock_, d, "building the PV of pvc " + v.pvc()));
    auto it = v.target.find("volume");
    if (it == v.target.end() || it->second.empty()) {
      return Status::FailedPrecondition("pvc " + v.pvc() + " has no volume on the target array; "
                                        "discover the plan's volumes first");
    }
    const std::string& volume = it->second;
    std::string pv_name = v.drill || v.captured.pv_name.empty() ? PvNameFor(volume)
                                                                : v.captured.pv_name;
    json pv = CsiPv(v.captured, pv_name, kHpeCsiDriver, volume);
    json attrs = json::object();
    for (const auto& [k, val] : v.captured.volume_attributes) attrs[k] = val;
    if (!attrs.empty()) pv["spec"]["csi"]["volumeAttributes"] = attrs;
    json secret = {{"name", ParamOr(params_, "csiSecretName", "hpe-backend")},
                   {"namespace", ParamOr(params_, "csiSecretNamespace", "hpe-storage")}};
    for (const char* ref : {"controllerPublishSecretRef", "nodePublishSecretRef",
                            "nodeStageSecretRef", "controllerExpandSecretRef"}) {
      pv["spec"]["csi"][ref] = secret;
    }
    kube::SetAnnotation(pv, "dr.kubectl-dr.dev/array", array_names_[kTarget]);
    kube::SetAnnotation(pv, "dr.kubectl-dr.dev/array-volume", volume);
    const json& mount = kube::FieldAt(captured_pv, {"spec", "mountOptions"});
    if (mount.is_array()) pv["spec"]["mountOptions"] = mount;
    return std::optional<json>(std::move(pv));
  }

  Result<std::vector<Volume>> Protect(const dr::DRPlan& plan, const Deadline& d) override {
    KDR_RETURN_IF_ERROR(CheckDeadline(clock_, d, "protecting plan " + plan.metadata.name));
    return std::vector<Volume>{};  // remote-copy groups are configured on the arrays
  }

 private:
  static std::string DrillName(const std::string& volume) {
    return BoundedName(volume, "-drill", kMaxVolumeName);
  }

  static std::string VolumeOf(const inventory::VolumeMapEntry& e) {
    auto it = e.storage.find("volume");
    if (it != e.storage.end() && !it->second.empty()) return it->second;
    return e.volume_handle;
  }

  static std::vector<json> Members(const json& list, std::string_view key = "members") {
    const json& m = kube::FieldAt(list, {key});
    return m.is_array() ? m.get<std::vector<json>>() : std::vector<json>{};
  }

  void Log(std::string_view what, LogFields fields) const {
    if (options_.env.logger != nullptr) options_.env.logger->Info(what, std::move(fields));
  }

  Status LoadCredentials() {
    if (creds_) return Status::Ok();
    if (secret_name_.empty()) {
      return Status::InvalidArgument("spec.storage.credentialsSecret is not set: driver alletra "
                                     "needs the arrays' URLs and credentials from a Secret");
    }
    KDR_ASSIGN_OR_RETURN(Credentials c, ReadCredentials(*options_.target, secret_ns_, secret_name_));
    KDR_RETURN_IF_ERROR(ValidateAlletraParameters(params_, &c));
    creds_ = std::move(c);
    return Status::Ok();
  }

  // The value of the per-site key ("sourceUsername") or else the shared one ("username"), and
  // which key it came from.
  std::pair<std::string, std::string> Pick(Site s, const std::string& suffix,
                                           const std::string& shared) const {
    std::string specific = std::string(SiteName(s)) + suffix;
    auto it = creds_->data.find(specific);
    if (it != creds_->data.end() && !it->second.empty()) return {it->second, specific};
    auto sh = creds_->data.find(shared);
    return {sh == creds_->data.end() ? "" : sh->second, shared};
  }

  // The session with the array of a site, logged in and checked to be the array the plan names.
  Result<WsapiClient*> Array(Site s, const Deadline& d) {
    if (arrays_[s]) return arrays_[s].get();
    KDR_RETURN_IF_ERROR(LoadCredentials());
    WsapiEndpoint e;
    e.label = std::string(SiteName(s)) + " array " + array_names_[s];
    e.secret = creds_->secret;
    std::tie(e.url, e.url_key) = Pick(s, "Url", std::string(SiteName(s)) + "Url");
    std::tie(e.user, e.user_key) = Pick(s, "Username", "username");
    std::tie(e.password, e.password_key) = Pick(s, "Password", "password");
    std::tie(e.ca_pem, e.ca_key) = Pick(s, "Ca", "ca");
    e.insecure_skip_tls_verify = ParamOr(creds_->data, "insecureSkipTlsVerify", "false") == "true";
    if (e.insecure_skip_tls_verify && options_.env.logger != nullptr) {
      options_.env.logger->Warning(
          "the array's TLS certificate is not verified (insecureSkipTlsVerify in the storage "
          "Secret): anyone on the path can impersonate it",
          {{"array", e.label}, {"secret", e.secret}});
    }
    KDR_ASSIGN_OR_RETURN(auto client, WsapiClient::Create(e, options_.env));
    auto system = client->Get("system", d);
    if (!system.ok()) {
      (void)client->Close(d);
      return system.status();
    }
    const std::string name = kube::StringField(*system, {"name"});
    if (name != array_names_[s]) {
      (void)client->Close(d);
      return Status::FailedPrecondition(
          "the " + std::string(SiteName(s)) + " array URL " + Quote(e.url) + " (key " +
          Quote(e.url_key) + " of Secret " + e.secret + ") reaches array " + Quote(name) +
          ", but spec.storage.parameters." + SiteName(s) + "Array says " +
          Quote(array_names_[s]) + "; fix whichever is wrong");
    }
    arrays_[s] = std::move(client);
    return arrays_[s].get();
  }

  // The group as the array of site s reports it. Unavailable when the array cannot be reached.
  Result<Group> ReadGroup(Site s, const ConsistencyGroup& cg, const Deadline& d) {
    std::string name = Id(s == kTarget ? cg.target : cg.source, "group");
    KDR_ASSIGN_OR_RETURN(WsapiClient * a, Array(s, d));
    if (name.empty()) {
      // The source's name for the group was not known at discovery (the source was down).
      KDR_ASSIGN_OR_RETURN(json groups, a->Get("remotecopygroups", d));
      const std::string vol = cg.volumes.empty() ? "" : Id(cg.volumes[0].source, "volume");
      for (const json& m : Members(groups)) {
        for (const json& v : Members(m, "volumes")) {
          if (kube::StringField(v, {"localVolumeName"}) == vol) {
            name = kube::StringField(m, {"name"});
          }
        }
      }
      if (name.empty()) {
        return Status::NotFound("no remote-copy group on " + array_names_[s] + " holds volume " +
                                Quote(vol));
      }
    }
    KDR_ASSIGN_OR_RETURN(json g, a->Get("remotecopygroups/" + name, d));
    return ParseGroup(g, array_names_[s]);
  }

  // The source's view, or nullopt with *why when its array cannot be reached.
  Result<std::optional<Group>> ReadSourceIfReachable(const ConsistencyGroup& cg, const Deadline& d,
                                                     std::string* why) {
    auto g = ReadGroup(kSource, cg, d);
    if (g.ok()) return std::optional<Group>(std::move(*g));
    if (g.status().code() == StatusCode::kUnavailable) {
      *why = g.status().message();
      return std::optional<Group>();
    }
    return g.status();
  }

  Result<Group> ReadSourceRequired(const ConsistencyGroup& cg, const Deadline& d,
                                   std::string_view action) {
    auto g = ReadGroup(kSource, cg, d);
    if (!g.ok() && g.status().code() == StatusCode::kUnavailable) {
      return Status::Unavailable(std::string(action) + " of remote copy group " + Quote(cg.name) +
                                 " runs on the source array and needs both arrays: " +
                                 g.status().message());
    }
    return g;
  }

  Status Act(WsapiClient* a, const std::string& path, bool post, int action,
             std::string_view what, const Deadline& d) {
    json body = {{"action", action}};
    auto r = post ? a->Post(path, body, d) : a->Put(path, body, d);
    if (!r.ok()) return r.status().WithContext(std::string(what) + " (action " + std::to_string(action) + ")");
    return Status::Ok();
  }

  // Waits until every volume of the group is synced, as the array of site s reports it.
  Status WaitSynced(Site s, const std::string& group, const Deadline& d) {
    KDR_ASSIGN_OR_RETURN(WsapiClient * a, Array(s, d));
    Backoff backoff(options_.poll_interval);
    for (;;) {
      KDR_ASSIGN_OR_RETURN(json raw, a->Get("remotecopygroups/" + group, d));
      KDR_ASSIGN_OR_RETURN(Group g, ParseGroup(raw, array_names_[s]));
      if (g.AllSynced()) return Status::Ok();
      if (!g.started) {
        return Status::FailedPrecondition("remote copy group " + Quote(group) + " stopped before "
                                          "its volumes synced (" + g.Words() + ")");
      }
      std::vector<std::string> pending;
      for (const Group::Vol& v : g.volumes) {
        if (v.sync != kSynced) pending.push_back(Quote(v.local));
      }
      KDR_RETURN_IF_ERROR(Pause(clock_, d, backoff.Next(),
                                "waiting for " + group + " to sync",
                                "remote copy group " + Quote(group) + " on " + g.array +
                                    " still syncing at the deadline: " + Join(pending, ", ")));
    }
  }

  // Ok when `copy` is a virtual copy of `parent` on the target; NotFound when it does not exist;
  // FailedPrecondition when it is something else (never deleted or reused).
  Status CheckCopyOf(WsapiClient* a, const std::string& copy, const std::string& parent,
                     const Deadline& d) {
    auto got = a->Get("volumes/" + copy, d);
    if (!got.ok()) return got.status();
    if (got->value("copyOf", "") != parent) {
      return Status::FailedPrecondition("volume " + Quote(copy) + " on " + array_names_[kTarget] +
                                        " is not a copy of " + Quote(parent) + "; kubectl-dr "
                                        "leaves it alone: rename or remove it");
    }
    return Status::Ok();
  }

  const std::string plan_;
  const std::string secret_ns_;
  const std::string secret_name_;
  const std::map<std::string, std::string> params_;
  const DriverOptions options_;
  Clock& clock_;
  std::array<std::string, 2> array_names_;
  std::optional<Credentials> creds_;
  std::array<std::unique_ptr<WsapiClient>, 2> arrays_;
};

}  // namespace

Status ValidateAlletraParameters(const std::map<std::string, std::string>& parameters,
                                 const Credentials* credentials) {
  std::vector<std::string> problems;
  CheckKeys("spec.storage.parameters", parameters,
            {{"sourceArray", true}, {"targetArray", true}, {"csiSecretName", false},
             {"csiSecretNamespace", false}},
            &problems);
  auto s = parameters.find("sourceArray");
  auto t = parameters.find("targetArray");
  if (s != parameters.end() && t != parameters.end() && !s->second.empty() &&
      s->second == t->second) {
    problems.push_back("spec.storage.parameters: sourceArray and targetArray are both " +
                       Quote(s->second) + "; they name the two arrays of the pair");
  }
  if (credentials != nullptr) {
    const std::string where = "Secret " + credentials->secret;
    const auto& data = credentials->data;
    CheckKeys(where, data,
              {{"sourceUrl", true}, {"targetUrl", true}, {"username", false},
               {"password", false}, {"sourceUsername", false}, {"sourcePassword", false},
               {"targetUsername", false}, {"targetPassword", false}, {"ca", false},
               {"sourceCa", false}, {"targetCa", false}, {"insecureSkipTlsVerify", false}},
              &problems);
    auto has = [&](const std::string& k) {
      auto it = data.find(k);
      return it != data.end() && !it->second.empty();
    };
    for (const char* site : {"source", "target"}) {
      for (const auto& [suffix, shared] : {std::pair<std::string, std::string>{"Username", "username"},
                                           {"Password", "password"}}) {
        if (!has(site + suffix) && !has(shared)) {
          problems.push_back(where + ": missing key " + Quote(shared) + " (or " +
                             Quote(site + suffix) + ")");
        }
      }
      const std::string url_key = std::string(site) + "Url";
      if (has(url_key) && !StartsWith(data.at(url_key), "https://")) {
        problems.push_back(where + ": key " + Quote(url_key) + " is " + Quote(data.at(url_key)) +
                           ", not an https:// URL (the WSAPI is served over HTTPS)");
      }
    }
    auto insecure = data.find("insecureSkipTlsVerify");
    if (insecure != data.end() && insecure->second != "true" && insecure->second != "false") {
      problems.push_back(where + ": key \"insecureSkipTlsVerify\" is " + Quote(insecure->second) +
                         "; use \"true\" or \"false\"");
    }
  }
  return Problems("storage driver alletra", problems);
}

Result<std::unique_ptr<Driver>> NewAlletraDriver(const dr::DRPlan& plan,
                                                 const DriverOptions& options) {
  KDR_RETURN_IF_ERROR(ValidateAlletraParameters(plan.spec.storage_parameters, nullptr));
  return std::unique_ptr<Driver>(std::make_unique<AlletraDriver>(plan, options));
}

}  // namespace kdr::storage
