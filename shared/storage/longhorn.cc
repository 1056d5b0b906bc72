#include "storage/longhorn.h"

#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <set>

#include "base/clock.h"
#include "base/log.h"
#include "base/strings.h"
#include "dr/types.h"
#include "kube/client.h"
#include "kube/object.h"
#include "storage/common.h"
#include "storage/longhorn_objects.h"

namespace kdr::storage {
namespace {

using nlohmann::json;
using namespace longhorn;

const kube::Gvr kPvcs{"", "v1", "persistentvolumeclaims"};
const kube::Gvr kPvs{"", "v1", "persistentvolumes"};
constexpr std::string_view kDefaultNamespace = "longhorn-system";
// Longhorn volume names are Kubernetes names, used as label values too.
constexpr size_t kMaxName = 63;
// Sync re-asks the target's Longhorn to read the backup store every this many polls.
constexpr int kResyncEvery = 5;

// The Longhorn volume of a claim on each site ("" when not discovered).
std::string Source(const Volume& v) {
  auto it = v.source.find("volume");
  return it == v.source.end() ? "" : it->second;
}

std::string Target(const Volume& v) {
  auto it = v.target.find("volume");
  return it == v.target.end() ? "" : it->second;
}

std::string RandomHex() {
  std::random_device rd;
  char buf[8];
  std::snprintf(buf, sizeof(buf), "%06x", static_cast<unsigned>(rd()) & 0xffffffu);
  return buf;
}

std::string DrillName(const std::string& replica) {
  return BoundedName(replica, "-drill", kMaxName);
}

class LonghornDriver final : public Driver {
 public:
  LonghornDriver(std::string ns, const DriverOptions& options)
      : ns_(std::move(ns)), options_(options), clock_(*options.env.clock) {}

  std::string_view name() const override { return "longhorn"; }

  Status ValidateParameters(const std::map<std::string, std::string>& parameters,
                            const Credentials* credentials) const override {
    return ValidateLonghornParameters(parameters, credentials);
  }

  Result<Identity> Identify(const inventory::VolumeMapEntry& e, const Deadline& d) override {
    KDR_RETURN_IF_ERROR(CheckDeadline(clock_, d, "identifying pvc " + PvcName(e)));
    auto it = e.storage.find("volume");
    if (it != e.storage.end() && !it->second.empty()) return Identity{{"volume", it->second}};
    if (e.csi_driver != kLonghornCsiDriver || e.volume_handle.empty()) {
      return Status::FailedPrecondition(
          "pvc " + PvcName(e) + " (pv " + Quote(e.pv_name) + ") is not a Longhorn volume (csi " +
          "driver " + Quote(e.csi_driver) + "); a longhorn plan fails over only volumes of "
          "driver.longhorn.io: move the claim to a Longhorn storage class or out of the plan");
    }
    return Identity{{"volume", e.volume_handle}};
  }

  Result<std::vector<ConsistencyGroup>> Discover(const dr::DRPlan& plan,
                                                 const inventory::VolumeMap& map,
                                                 const Deadline& d) override {
    KDR_RETURN_IF_ERROR(CheckDeadline(clock_, d, "discovering the Longhorn volumes"));
    KDR_ASSIGN_OR_RETURN(auto cgs, SplitInventoryAndWorkloads(plan, map));
    KDR_ASSIGN_OR_RETURN(View target, ReadView(*options_.target, ns_, "target", false));
    std::vector<std::string> problems;
    for (ConsistencyGroup& cg : cgs) {
      for (Volume& v : cg.volumes) {
        auto id = Identify(v.captured, d);
        if (!id.ok()) {
          problems.push_back(id.status().message());
          continue;
        }
        const std::string src = (*id)["volume"];
        v.source = *id;
        std::string replica = FindReplica(target, src, plan.metadata.name);
        if (replica.empty()) {
          problems.push_back("pvc " + v.pvc() + ": no DR volume on the target follows Longhorn "
                             "volume " + Quote(src) + " (namespace " + ns_ + "); create it with "
                             "kubectl dr plan create, or in Longhorn as a DR volume of backup "
                             "volume " + Quote(src));
          continue;
        }
        v.target = {{"volume", replica}};
      }
    }
    if (!problems.empty()) {
      return Status::FailedPrecondition("plan " + Quote(plan.metadata.name) + ": " +
                                        Join(problems, "; "));
    }
    return cgs;
  }

  Result<CgState> State(const ConsistencyGroup& cg, const Deadline& d) override {
    KDR_RETURN_IF_ERROR(CheckDeadline(clock_, d, "reading the state of " + cg.name));
    CgState s;
    auto target = ReadView(*options_.target, ns_, "target", true);
    if (!target.ok()) {
      if (!target.status().IsRetryable()) return target.status();
      s.replication = Replication::kUnknown;
      s.backend = target.status().message();
      return s;
    }
    std::optional<View> source;
    std::string source_note = "source cluster unreachable";
    if (options_.source != nullptr) {
      auto got = ReadView(*options_.source, ns_, "source", false);
      if (got.ok()) {
        source = std::move(*got);
      } else {
        source_note = got.status().message();
      }
    }
    std::vector<std::string> words;
    std::set<Replication> seen;
    bool all_caught_up = true;
    for (const Volume& v : cg.volumes) {
      KDR_ASSIGN_OR_RETURN(json t, Find(*target, v));
      VolumeState vs = VolumeStateOf(v, t, *target, source ? &*source : nullptr);
      all_caught_up = all_caught_up && vs.caught_up;
      if (vs.last_sync && (!s.last_sync || *vs.last_sync < *s.last_sync)) s.last_sync = vs.last_sync;
      seen.insert(vs.replication);
      words.push_back(vs.backend);
      s.volumes.push_back(std::move(vs));
    }
    if (seen.size() == 1) {
      s.replication = *seen.begin();
    } else if (seen.empty()) {
      s.replication = Replication::kReplicating;
    } else {
      s.replication = Replication::kFailingOver;  // some volumes activated, some not
    }
    s.running = s.replication == Replication::kReplicating ||
                s.replication == Replication::kReversed;
    s.caught_up = s.running && all_caught_up;
    if (s.running && !s.caught_up && s.last_sync) {
      s.behind = std::chrono::duration_cast<std::chrono::seconds>(clock_.Now() - *s.last_sync);
    }
    if (!source) words.push_back(source_note);
    s.backend = Join(words, "; ");
    return s;
  }

  Status Sync(const ConsistencyGroup& cg, const Deadline& d) override {
    KDR_RETURN_IF_ERROR(CheckDeadline(clock_, d, "syncing " + cg.name));
    KDR_ASSIGN_OR_RETURN(View target, ReadView(*options_.target, ns_, "target", false));
    for (const Volume& v : cg.volumes) {
      KDR_ASSIGN_OR_RETURN(json t, Find(target, v));
      // An active DR volume follows no backup any more: nothing can reach it.
      if (!Flag(t, {"spec", "standby"})) {
        return Status::FailedPrecondition("DR volume " + Quote(Target(v)) + " of pvc " + v.pvc() +
                                          " is already activated (failed over): there is "
                                          "nothing to sync it to");
      }
    }
    std::map<std::string, std::string> want;  // DR volume -> backup it must restore
    Status source_status;
    if (options_.source == nullptr) {
      source_status = Status::Unavailable("the source cluster is unreachable: no new backup was "
                                          "taken");
    } else {
      bool unreachable = false;
      auto made = BackUp(*options_.source, cg, d, &unreachable);
      if (made.ok()) {
        for (const Volume& v : cg.volumes) want[Target(v)] = (*made)[Source(v)];
      } else if (unreachable) {
        source_status = made.status();
      } else {
        return made.status();
      }
    }
    KDR_RETURN_IF_ERROR(CatchUp(cg, want, d));
    if (!source_status.ok()) {
      return Status(source_status.code(), source_status.message() + "; the DR volumes of " +
                                              cg.name + " have restored the newest backups in "
                                              "the backup store");
    }
    return Status::Ok();
  }

  Status Failover(const ConsistencyGroup& cg, const Deadline& d) override {
    KDR_RETURN_IF_ERROR(CheckDeadline(clock_, d, "failing over " + cg.name));
    KDR_ASSIGN_OR_RETURN(View target, ReadView(*options_.target, ns_, "target", false));
    for (const Volume& v : cg.volumes) {
      KDR_ASSIGN_OR_RETURN(json t, Find(target, v));
      if (!Flag(t, {"spec", "standby"})) continue;  // activated already (maybe still catching up)
      json patch = {{"spec", {{"standby", false}}}};
      // Longhorn's activate action also gives a DR volume created without one its frontend.
      if (Str(t, {"spec", "frontend"}).empty()) patch["spec"]["frontend"] = "blockdev";
      auto p = options_.target->Patch(kVolumes, ns_, Target(v), kube::PatchType::kMergePatch,
                                      patch);
      if (!p.ok()) {
        return p.status().WithContext("activating DR volume " + Quote(Target(v)) + " of pvc " +
                                      v.pvc());
      }
      Log("activating longhorn DR volume", {{"volume", Target(v)}, {"pvc", v.pvc()}});
    }
    return WaitActive(cg.volumes, d, "DR volume");
  }

  Status Recover(const ConsistencyGroup& cg, const Deadline& d) override { return Sync(cg, d); }
  Status Restore(const ConsistencyGroup& cg, const Deadline& d) override {
    return Failover(cg, d);
  }

  Result<ConsistencyGroup> PrepareDrill(const ConsistencyGroup& cg, const Deadline& d) override {
    KDR_RETURN_IF_ERROR(CheckDeadline(clock_, d, "preparing a drill of " + cg.name));
    KDR_ASSIGN_OR_RETURN(View target, ReadView(*options_.target, ns_, "target", true));
    ConsistencyGroup drill = cg;
    for (Volume& v : drill.volumes) {
      KDR_ASSIGN_OR_RETURN(json replica, Find(target, v));
      const std::string copy = DrillName(Target(v));
      auto existing = target.volumes.find(copy);
      if (existing != target.volumes.end()) {
        if (!kube::Label(existing->second, kDrillLabel)) {
          return Status::FailedPrecondition("volume " + Quote(copy) + " exists on the target "
                                            "but was not made by a kubectl-dr drill; rename or "
                                            "delete it");
        }
      } else {
        KDR_ASSIGN_OR_RETURN(std::string url, LastBackupUrl(v, replica, target));
        json vol = NewVolume(ns_, copy, replica, url, /*standby=*/false);
        kube::SetLabel(vol, kDrillLabel, cg.plan.empty() ? "drill" : cg.plan);
        kube::SetLabel(vol, kSourceVolumeLabel, Source(v));
        auto c = options_.target->Create(kVolumes, ns_, vol);
        if (!c.ok() && !c.status().IsAlreadyExists()) {
          return c.status().WithContext("creating drill volume " + Quote(copy) + " for pvc " +
                                        v.pvc());
        }
        Log("restoring a longhorn drill volume", {{"volume", copy}, {"fromBackup", url}});
      }
      v.target = {{"volume", copy}};
      v.drill = true;
    }
    KDR_RETURN_IF_ERROR(WaitActive(drill.volumes, d, "drill volume"));
    return drill;
  }

  Status CleanupDrill(const ConsistencyGroup& cg, const Deadline& d) override {
    KDR_RETURN_IF_ERROR(CheckDeadline(clock_, d, "cleaning up the drill of " + cg.name));
    KDR_ASSIGN_OR_RETURN(View target, ReadView(*options_.target, ns_, "target", false));
    for (const Volume& v : cg.volumes) {
      const std::string copy = v.drill ? Target(v) : DrillName(Target(v));
      auto it = target.volumes.find(copy);
      if (it == target.volumes.end()) continue;
      if (!kube::Label(it->second, kDrillLabel)) {
        return Status::FailedPrecondition("volume " + Quote(copy) + " was not made by a "
                                          "kubectl-dr drill (no " + std::string(kDrillLabel) +
                                          " label); not deleting it");
      }
      auto del = options_.target->Delete(kVolumes, ns_, copy);
      if (!del.ok() && !del.status().IsNotFound()) {
        return del.status().WithContext("deleting drill volume " + Quote(copy));
      }
      Log("deleted a longhorn drill volume", {{"volume", copy}});
    }
    return Status::Ok();
  }

  Result<std::optional<json>> VolumeSourceFor(const Volume& v, const json& captured_pv,
                                              const Deadline& d) override {
    KDR_RETURN_IF_ERROR(CheckDeadline(clock_, d, "building the PV of pvc " + v.pvc()));
    const std::string handle = Target(v);
    if (handle.empty()) {
      return Status::FailedPrecondition("pvc " + v.pvc() + " has no Longhorn volume on the "
                                        "target; discover the plan's volumes first");
    }
    // A drill's PV must not take the name the real failover's PV will need.
    std::string pv_name = v.drill || v.captured.pv_name.empty() ? handle : v.captured.pv_name;
    json pv = CsiPv(v.captured, pv_name, kLonghornCsiDriver, handle);
    json attrs = json::object();
    for (const auto& [k, val] : v.captured.volume_attributes) {
      if (k != "fromBackup") attrs[k] = val;  // the PV names the volume, not how it was made
    }
    if (!attrs.empty()) pv["spec"]["csi"]["volumeAttributes"] = attrs;
    const json& mount = kube::FieldAt(captured_pv, {"spec", "mountOptions"});
    if (mount.is_array()) pv["spec"]["mountOptions"] = mount;
    return std::optional<json>(std::move(pv));
  }

  Result<std::vector<Volume>> Protect(const dr::DRPlan& plan, const Deadline& d) override {
    KDR_RETURN_IF_ERROR(CheckDeadline(clock_, d, "protecting plan " + plan.metadata.name));
    if (options_.source == nullptr) {
      return Status::Unavailable("protecting plan " + Quote(plan.metadata.name) + " reads the "
                                 "source cluster's Longhorn volumes, and the source is "
                                 "unreachable");
    }
    kube::Client& src = *options_.source;
    KDR_ASSIGN_OR_RETURN(std::vector<Volume> volumes, PlanVolumes(plan));
    KDR_ASSIGN_OR_RETURN(View source, ReadView(src, ns_, "source", false));
    // Every source volume needs a backup to restore from: its last one when the source knows
    // it as a Completed Backup (a volume that was itself restored names the backup it restored,
    // which its cluster may never have seen), else one taken now.
    std::map<std::string, std::string> url_of;  // source volume -> backup URL
    ConsistencyGroup unbacked;
    unbacked.plan = plan.metadata.name;
    unbacked.name = "protect";
    for (const Volume& v : volumes) {
      auto it = source.volumes.find(Source(v));
      if (it == source.volumes.end()) {
        return Status::FailedPrecondition("pvc " + v.pvc() + " is bound to Longhorn volume " +
                                          Quote(Source(v)) + ", which does not exist on the "
                                          "source");
      }
      const std::string last = Str(it->second, {"status", "lastBackup"});
      auto b = last.empty() ? Result<json>(Status::NotFound("no backup"))
                            : src.Get(kBackups, ns_, last);
      if (b.ok() && Str(*b, {"status", "state"}) == "Completed" &&
          !Str(*b, {"status", "url"}).empty()) {
        url_of[Source(v)] = Str(*b, {"status", "url"});
      } else {
        unbacked.volumes.push_back(v);
      }
    }
    if (!unbacked.volumes.empty()) {
      bool unreachable = false;
      KDR_ASSIGN_OR_RETURN(auto made, BackUp(src, unbacked, d, &unreachable));
      for (const auto& [vol, backup] : made) {
        auto b = src.Get(kBackups, ns_, backup);
        if (!b.ok()) return b.status().WithContext("reading backup " + Quote(backup));
        url_of[vol] = Str(*b, {"status", "url"});
      }
    }
    KDR_ASSIGN_OR_RETURN(View target, ReadView(*options_.target, ns_, "target", false));
    KDR_ASSIGN_OR_RETURN(std::string target_url, BackupTargetUrl(*options_.target, "target"));
    std::vector<Volume> created;
    for (Volume& v : volumes) {
      std::string replica = FindReplica(target, Source(v), plan.metadata.name);
      if (!replica.empty()) {
        v.target = {{"volume", replica}};
        continue;
      }
      const json& sv = source.volumes.at(Source(v));
      const std::string& url = url_of[Source(v)];
      if (TrimSlashes(ParseBackupUrl(url).target) != TrimSlashes(target_url)) {
        return Status::FailedPrecondition(
            "the backups of volume " + Quote(Source(v)) + " are on backup target " +
            Quote(ParseBackupUrl(url).target) + " but the target cluster's backup target is " +
            Quote(target_url) + "; both clusters must use the same backup target");
      }
      KDR_ASSIGN_OR_RETURN(std::string name, ReplicaName(target, Source(v)));
      json vol = NewVolume(ns_, name, sv, url, /*standby=*/true);
      kube::SetLabel(vol, kPlanLabel, plan.metadata.name);
      kube::SetLabel(vol, kSourceVolumeLabel, Source(v));
      auto c = options_.target->Create(kVolumes, ns_, vol);
      if (!c.ok() && !c.status().IsAlreadyExists()) {
        return c.status().WithContext("creating DR volume " + Quote(name) + " for pvc " + v.pvc());
      }
      Log("created a longhorn DR volume", {{"volume", name}, {"fromBackup", url}});
      v.target = {{"volume", name}};
      target.volumes[name] = vol;
      created.push_back(v);
    }
    // Wait until every new DR volume has made its first restore.
    Backoff backoff(options_.poll_interval);
    for (;;) {
      KDR_ASSIGN_OR_RETURN(View now, ReadView(*options_.target, ns_, "target", false));
      std::vector<std::string> pending;
      for (const Volume& v : created) {
        KDR_ASSIGN_OR_RETURN(json t, Find(now, v));
        std::string failure = RestoreFailure(t);
        if (!failure.empty()) {
          return Status::FailedPrecondition("DR volume " + Quote(Target(v)) + " of pvc " +
                                            v.pvc() + " cannot restore: " + failure);
        }
        if (!Flag(t, {"status", "isStandby"}) || Str(t, {"status", "lastBackup"}).empty()) {
          pending.push_back(Quote(Target(v)) + " (pvc " + v.pvc() + ")");
        }
      }
      if (pending.empty()) break;
      KDR_RETURN_IF_ERROR(Pause(clock_, d, backoff.Next(), "protecting the volumes",
                                "DR volumes still making their first restore at the deadline: " +
                                    Join(pending, ", ")));
    }
    return volumes;
  }

 private:
  void Log(std::string_view what, LogFields fields) const {
    if (options_.env.logger != nullptr) options_.env.logger->Info(what, std::move(fields));
  }

  // The replica of v in a view of the target, checked for states Longhorn does not document.
  Result<json> Find(const View& view, const Volume& v) const {
    auto it = view.volumes.find(Target(v));
    if (Target(v).empty() || it == view.volumes.end()) {
      return Status::NotFound("Longhorn volume " + Quote(Target(v)) + " of pvc " + v.pvc() +
                              " does not exist on the target (namespace " + ns_ + ")");
    }
    KDR_RETURN_IF_ERROR(CheckKnown(it->second, "target"));
    return it->second;
  }

  // The volume on the target that replicates `src`: labelled for it (this plan's first), else a
  // volume of the same name following backup volume `src`. Drill copies never count.
  static std::string FindReplica(const View& target, const std::string& src,
                                 const std::string& plan) {
    std::string labelled, labelled_other, same_name;
    for (const auto& [name, v] : target.volumes) {
      if (kube::Label(v, kDrillLabel)) continue;
      auto sv = kube::Label(v, kSourceVolumeLabel);
      if (sv && *sv == src) {
        if (kube::Label(v, kPlanLabel).value_or("") == plan) {
          labelled = name;
        } else if (labelled_other.empty()) {
          labelled_other = name;
        }
      } else if (name == src && FollowedBackupVolume(v) == src) {
        same_name = name;
      }
    }
    if (!labelled.empty()) return labelled;
    if (!labelled_other.empty()) return labelled_other;
    return same_name;
  }

  // A free name for a new DR volume of `src` on the target.
  static Result<std::string> ReplicaName(const View& target, const std::string& src) {
    if (!target.volumes.count(src)) return src;
    std::string alt = BoundedName(src, "-dr", kMaxName);
    if (!target.volumes.count(alt)) return alt;
    return Status::FailedPrecondition("volumes " + Quote(src) + " and " + Quote(alt) +
                                      " already exist on the target and neither follows the "
                                      "source volume; delete the stale one");
  }

  VolumeState VolumeStateOf(const Volume& v, const json& t, const View& target,
                            const View* source) const {
    VolumeState vs;
    vs.pvc = v.pvc();
    const std::string restored = Str(t, {"status", "lastBackup"});
    vs.last_sync = ParseTime(Str(t, {"status", "lastBackupAt"}));
    const std::string failure = RestoreFailure(t);
    const std::string where = Str(t, {"status", "state"}) + "/" + Str(t, {"status", "robustness"});
    if (Active(t)) {
      vs.replication = Replication::kFailedOver;
      vs.backend = Target(v) + ": active (" + where + ")";
      if (source == nullptr) return vs;
      // Reversed: a DR volume on the source follows the backups of this (now primary) volume.
      for (const auto& [name, s] : source->volumes) {
        if (!Flag(s, {"spec", "standby"}) || FollowedBackupVolume(s) != Target(v)) continue;
        const std::string followed = Str(s, {"status", "lastBackup"});
        vs.replication = Replication::kReversed;
        vs.caught_up = !followed.empty() && followed == restored;
        vs.last_sync = ParseTime(Str(s, {"status", "lastBackupAt"}));
        vs.backend += ", followed by DR volume " + name + " on the source (restored " +
                      Quote(followed) + ")";
      }
      return vs;
    }
    if (!Flag(t, {"spec", "standby"})) {
      vs.replication = Replication::kFailingOver;
      vs.backend = Target(v) + ": activating, restored " + Quote(restored) + " (" + where + ")";
      if (!failure.empty()) vs.backend += ", restore failed: " + failure;
      return vs;
    }
    // The newest backup: what the source last took, else what the target's store shows.
    std::string newest;
    if (source != nullptr) {
      auto it = source->volumes.find(Source(v));
      if (it != source->volumes.end()) newest = Str(it->second, {"status", "lastBackup"});
    }
    if (newest.empty()) newest = NewestInStore(v, t, target);
    vs.replication = Replication::kReplicating;
    vs.caught_up = failure.empty() && !restored.empty() && restored == newest;
    vs.backend = Target(v) + ": standby, restored " + Quote(restored) +
                 (newest.empty() || newest == restored ? std::string()
                                                       : " of newest " + Quote(newest)) +
                 " (" + where + ")";
    if (!failure.empty()) vs.backend += ", restore failed: " + failure;
    return vs;
  }

  // The last backup the target's BackupVolume for this replica names ("" when none yet).
  static std::string NewestInStore(const Volume& v, const json& replica, const View& target) {
    std::string bv = FollowedBackupVolume(replica);
    auto it = target.backup_volumes.find(bv.empty() ? Source(v) : bv);
    return it == target.backup_volumes.end() ? "" : Str(it->second, {"status", "lastBackupName"});
  }

  // Backs up every source volume of cg now; returns source volume -> backup name. Waits until
  // every backup is Completed. *unreachable is set when the source cluster cannot be reached.
  Result<std::map<std::string, std::string>> BackUp(kube::Client& src, const ConsistencyGroup& cg,
                                                    const Deadline& d, bool* unreachable) {
    auto view = ReadView(src, ns_, "source", false);
    if (!view.ok()) {
      *unreachable = view.status().IsRetryable();
      if (*unreachable) {
        return Status::Unavailable("the source cluster is unreachable (" +
                                   view.status().message() + "): no new backup was taken");
      }
      return view.status();
    }
    std::map<std::string, std::string> names;  // source volume -> backup
    const std::string stamp = Compact(clock_.Now());
    for (const Volume& v : cg.volumes) {
      auto it = view->volumes.find(Source(v));
      if (it == view->volumes.end()) {
        return Status::FailedPrecondition("Longhorn volume " + Quote(Source(v)) + " of pvc " +
                                          v.pvc() + " does not exist on the source");
      }
      KDR_RETURN_IF_ERROR(CheckKnown(it->second, "source"));
      if (Flag(it->second, {"spec", "standby"}) || Flag(it->second, {"status", "isStandby"})) {
        return Status::FailedPrecondition("Longhorn volume " + Quote(Source(v)) + " of pvc " +
                                          v.pvc() + " is a standby (DR) volume on the source; "
                                          "only an active volume can be backed up");
      }
      // Both clusters write into one backup store (and see each other's Backups there): the
      // random part keeps a name taken on one side in the same second from meeting the other.
      const std::string name =
          "kdr-" + BoundedName(Source(v), "", 36) + "-" + stamp + "-" + RandomHex();
      MaybeSnapshot(src, Source(v), name);
      json backup = {{"apiVersion", "longhorn.io/v1beta2"},
                     {"kind", "Backup"},
                     {"metadata",
                      {{"name", name},
                       {"namespace", ns_},
                       {"labels", {{std::string(kBackupVolumeLabel), Source(v)}}}}},
                     {"spec", {{"snapshotName", name}, {"labels", json::object()}}}};
      auto c = src.Create(kBackups, ns_, backup);
      if (!c.ok() && !c.status().IsAlreadyExists()) {
        return c.status().WithContext("creating backup " + Quote(name) + " of volume " +
                                      Quote(Source(v)));
      }
      names[Source(v)] = name;
    }
    Backoff backoff(options_.poll_interval);
    for (;;) {
      auto list = src.List(kBackups, ns_);
      if (!list.ok()) return list.status().WithContext("listing backups on the source");
      std::map<std::string, const json*> by_name;
      for (const json& b : kube::FieldAt(*list, {"items"})) by_name[kube::Name(b)] = &b;
      std::vector<std::string> pending, failed;
      for (const auto& [vol, name] : names) {
        auto it = by_name.find(name);
        const std::string state = it == by_name.end() ? "" : Str(*it->second, {"status", "state"});
        if (state == "Completed") continue;
        if (state == "Error") {
          failed.push_back("backup " + Quote(name) + " of volume " + Quote(vol) + ": " +
                           Str(*it->second, {"status", "error"}));
          continue;
        }
        // New, Pending, InProgress or not picked up yet: Longhorn is still working.
        pending.push_back(Quote(name) + " of volume " + Quote(vol) + " (state " +
                          Quote(state.empty() ? "<none>" : state) + ")");
      }
      if (!failed.empty()) {
        KDR_ASSIGN_OR_RETURN(std::string url, BackupTargetUrl(src, "source"));
        return Status::Unavailable("Longhorn could not back up to backup target " + Quote(url) +
                                   ": " + Join(failed, "; ") + "; check the backup target");
      }
      if (pending.empty()) break;
      KDR_RETURN_IF_ERROR(Pause(clock_, d, backoff.Next(), "waiting for backups",
                                "backups not completed at the deadline: " + Join(pending, ", ")));
    }
    return names;
  }

  // Longhorn >= 1.5 backs up a named snapshot; create it when the cluster serves Snapshots (the
  // simulator does not, and there a Backup takes its own).
  void MaybeSnapshot(kube::Client& src, const std::string& volume, const std::string& name) {
    if (!snapshots_served_) return;
    json snap = {{"apiVersion", "longhorn.io/v1beta2"},
                 {"kind", "Snapshot"},
                 {"metadata", {{"name", name}, {"namespace", ns_}}},
                 {"spec", {{"volume", volume}, {"createSnapshot", true}}}};
    auto c = src.Create(kSnapshots, ns_, snap);
    if (!c.ok() && c.status().IsNotFound()) snapshots_served_ = false;
  }

  Result<std::string> BackupTargetUrl(kube::Client& client, std::string_view site) {
    auto t = client.Get(kBackupTargets, ns_, kDefaultTarget);
    if (!t.ok()) {
      return t.status().WithContext("reading Longhorn backup target \"default\" on the " +
                                    std::string(site) + " cluster");
    }
    return Str(*t, {"spec", "backupTargetURL"});
  }

  // Asks the target's Longhorn to read the backup store now: the BackupVolume's
  // spec.syncRequestedAt, or the BackupTarget's for a backup volume it has not seen yet. A new
  // value is what counts, so it moves on by a second when the clock has not.
  Status RequestSync(const View& target, const std::string& backup_volume) {
    kube::Gvr gvr = kBackupVolumes;
    std::string name = backup_volume;
    json current;
    auto it = target.backup_volumes.find(backup_volume);
    if (it != target.backup_volumes.end()) {
      current = it->second;
    } else {
      gvr = kBackupTargets;
      name = std::string(kDefaultTarget);
      auto t = options_.target->Get(kBackupTargets, ns_, name);
      if (!t.ok()) return t.status().WithContext("reading the target's backup target");
      current = *t;
    }
    Clock::WallTime when = clock_.Now();
    Clock::WallTime prev;
    if (ParseRfc3339(Str(current, {"spec", "syncRequestedAt"}), &prev) && prev >= when) {
      when = prev + std::chrono::seconds(1);
    }
    json patch = {{"spec", {{"syncRequestedAt", FormatRfc3339(when)}}}};
    auto p = options_.target->Patch(gvr, ns_, name, kube::PatchType::kMergePatch, patch);
    if (!p.ok()) return p.status().WithContext("requesting a backup store sync of " + Quote(name));
    return Status::Ok();
  }

  // Waits until every DR volume of cg has restored want[volume] (when given) or else the newest
  // backup in the store. The target's BackupVolume names that newest backup only once its
  // Longhorn has read the store after our request: its status.lastSyncedAt must have moved (the
  // two clusters' clocks are not compared).
  Status CatchUp(const ConsistencyGroup& cg, const std::map<std::string, std::string>& want,
                 const Deadline& d) {
    std::map<std::string, std::string> baseline;  // backup volume -> lastSyncedAt at request
    Backoff backoff(options_.poll_interval);
    for (int poll = 0;; ++poll) {
      KDR_ASSIGN_OR_RETURN(View target, ReadView(*options_.target, ns_, "target", true));
      if (poll % kResyncEvery == 0) {
        std::set<std::string> requested;
        for (const Volume& v : cg.volumes) {
          KDR_ASSIGN_OR_RETURN(json t, Find(target, v));
          const std::string bv = BackupVolumeOf(v, t);
          if (!requested.insert(bv).second) continue;
          if (!baseline.count(bv)) {
            auto it = target.backup_volumes.find(bv);
            baseline[bv] = it == target.backup_volumes.end()
                               ? std::string("<absent>")
                               : Str(it->second, {"status", "lastSyncedAt"});
          }
          KDR_RETURN_IF_ERROR(RequestSync(target, bv));
        }
      }
      std::vector<std::string> pending;
      for (const Volume& v : cg.volumes) {
        KDR_ASSIGN_OR_RETURN(json t, Find(target, v));
        std::string failure = RestoreFailure(t);
        if (!failure.empty()) {
          return Status::Unavailable("DR volume " + Quote(Target(v)) + " of pvc " + v.pvc() +
                                     " cannot restore: " + failure);
        }
        const std::string restored = Str(t, {"status", "lastBackup"});
        std::string goal;
        auto w = want.find(Target(v));
        if (w != want.end()) {
          goal = w->second;
        } else {
          auto it = target.backup_volumes.find(BackupVolumeOf(v, t));
          if (it == target.backup_volumes.end() ||
              Str(it->second, {"status", "lastSyncedAt"}) == baseline[BackupVolumeOf(v, t)]) {
            pending.push_back("the target's Longhorn has not read backup volume " +
                              Quote(BackupVolumeOf(v, t)) + " from the store yet");
            continue;
          }
          goal = Str(it->second, {"status", "lastBackupName"});
        }
        if (!goal.empty() && restored != goal) {
          pending.push_back("DR volume " + Quote(Target(v)) + " (pvc " + v.pvc() +
                            ") has restored " + Quote(restored) + ", not yet " + Quote(goal));
        }
      }
      if (pending.empty()) return Status::Ok();
      KDR_RETURN_IF_ERROR(Pause(clock_, d, backoff.Next(), "waiting for DR volumes",
                                "DR volumes not caught up at the deadline: " +
                                    Join(pending, "; ")));
    }
  }

  static std::string BackupVolumeOf(const Volume& v, const json& replica) {
    std::string bv = FollowedBackupVolume(replica);
    return bv.empty() ? Source(v) : bv;
  }

  // Waits until the target volume of every one of `volumes` is active.
  Status WaitActive(const std::vector<Volume>& volumes, const Deadline& d, std::string_view what) {
    Backoff backoff(options_.poll_interval);
    for (;;) {
      KDR_ASSIGN_OR_RETURN(View target, ReadView(*options_.target, ns_, "target", false));
      std::vector<std::string> pending;
      for (const Volume& v : volumes) {
        KDR_ASSIGN_OR_RETURN(json t, Find(target, v));
        std::string failure = RestoreFailure(t);
        if (!failure.empty()) {
          return Status::FailedPrecondition(std::string(what) + " " + Quote(Target(v)) +
                                            " of pvc " + v.pvc() + " cannot restore: " + failure);
        }
        if (!Active(t)) {
          pending.push_back(Quote(Target(v)) + " (pvc " + v.pvc() + ": restored " +
                            Quote(Str(t, {"status", "lastBackup"})) + ", state " +
                            Quote(Str(t, {"status", "state"})) + ")");
        }
      }
      if (pending.empty()) return Status::Ok();
      KDR_RETURN_IF_ERROR(Pause(clock_, d, backoff.Next(),
                                "waiting for " + std::string(what) + "s to become active",
                                std::string(what) + "s still restoring at the deadline: " +
                                    Join(pending, ", ")));
    }
  }

  // The URL of the newest backup in the store for a drill copy of this replica.
  Result<std::string> LastBackupUrl(const Volume& v, const json& replica, const View& target) {
    std::string bv = FollowedBackupVolume(replica);
    if (bv.empty()) bv = Source(v);
    std::string backup = NewestInStore(v, replica, target);
    if (backup.empty()) backup = Str(replica, {"status", "lastBackup"});
    if (backup.empty()) {
      return Status::FailedPrecondition("no backup of volume " + Quote(bv) + " is known on the "
                                        "target: nothing to restore a drill copy of pvc " +
                                        v.pvc() + " from; run a sync first");
    }
    auto b = options_.target->Get(kBackups, ns_, backup);
    if (b.ok() && !Str(*b, {"status", "url"}).empty()) return Str(*b, {"status", "url"});
    KDR_ASSIGN_OR_RETURN(std::string store, BackupTargetUrl(*options_.target, "target"));
    return TrimSlashes(store) + "?backup=" + backup + "&volume=" + bv;
  }

  // The plan's claims on the source bound to Longhorn volumes: its inventory claim and every
  // claim of its namespaces.
  Result<std::vector<Volume>> PlanVolumes(const dr::DRPlan& plan) {
    kube::Client& src = *options_.source;
    std::vector<json> claims;
    auto inv = src.Get(kPvcs, plan.spec.inventory_pvc_namespace, plan.spec.inventory_pvc_name);
    if (!inv.ok()) {
      return inv.status().WithContext("reading the plan's inventory pvc " +
                                      plan.spec.inventory_pvc_namespace + "/" +
                                      plan.spec.inventory_pvc_name + " on the source");
    }
    claims.push_back(*inv);
    for (const std::string& ns : plan.spec.namespaces) {
      KDR_ASSIGN_OR_RETURN(json list, src.ListAll(kPvcs, ns));
      for (const json& c : kube::FieldAt(list, {"items"})) {
        if (kube::Namespace(c) == kube::Namespace(*inv) && kube::Name(c) == kube::Name(*inv)) {
          continue;
        }
        claims.push_back(c);
      }
    }
    std::vector<Volume> out;
    for (size_t i = 0; i < claims.size(); ++i) {
      const json& c = claims[i];
      const std::string pv_name = Str(c, {"spec", "volumeName"});
      if (pv_name.empty()) {
        Log("not protecting an unbound claim", {{"pvc", kube::NamespacedName(c)}});
        continue;
      }
      auto pv = src.Get(kPvs, "", pv_name);
      if (!pv.ok()) return pv.status().WithContext("reading pv " + Quote(pv_name));
      if (Str(*pv, {"spec", "csi", "driver"}) != kLonghornCsiDriver) continue;
      Volume v;
      v.captured.pvc_namespace = kube::Namespace(c);
      v.captured.pvc_name = kube::Name(c);
      v.captured.pv_name = pv_name;
      v.captured.csi_driver = std::string(kLonghornCsiDriver);
      v.captured.volume_handle = Str(*pv, {"spec", "csi", "volumeHandle"});
      v.captured.inventory = i == 0;
      v.source = {{"volume", v.captured.volume_handle}};
      out.push_back(std::move(v));
    }
    return out;
  }

  const std::string ns_;
  const DriverOptions options_;
  Clock& clock_;
  bool snapshots_served_ = true;
};

}  // namespace

Status ValidateLonghornParameters(const std::map<std::string, std::string>& parameters,
                                  const Credentials* credentials) {
  std::vector<std::string> problems;
  CheckKeys("spec.storage.parameters", parameters, {{"longhornNamespace", false}}, &problems);
  auto ns = parameters.find("longhornNamespace");
  if (ns != parameters.end() && !ns->second.empty() && !kube::IsDns1123Label(ns->second)) {
    problems.push_back("spec.storage.parameters.longhornNamespace: " + Quote(ns->second) +
                       " is not a namespace name");
  }
  if (credentials != nullptr) {
    problems.push_back("spec.storage.credentialsSecret: driver longhorn uses no credentials (it "
                       "works through the clusters' longhorn.io resources); remove it (Secret " +
                       credentials->secret + ")");
  }
  return Problems("storage driver longhorn", problems);
}

Result<std::unique_ptr<Driver>> NewLonghornDriver(const dr::DRPlan& plan,
                                                  const DriverOptions& options) {
  KDR_RETURN_IF_ERROR(ValidateLonghornParameters(plan.spec.storage_parameters, nullptr));
  auto it = plan.spec.storage_parameters.find("longhornNamespace");
  std::string ns = it == plan.spec.storage_parameters.end() || it->second.empty()
                       ? std::string(kDefaultNamespace)
                       : it->second;
  return std::unique_ptr<Driver>(std::make_unique<LonghornDriver>(ns, options));
}

}  // namespace kdr::storage
