#include "longhorn.h"

#include <chrono>
#include <map>
#include <optional>

#include "base/clock.h"
#include "base/fs.h"
#include "base/log.h"
#include "base/strings.h"
#include "cluster_view.h"
#include "controllers_internal.h"
#include "sim/dir_tree.h"

namespace kdr::kubesim {
namespace {

using nlohmann::json;
using namespace ctl;

const GroupResource kCrds{"apiextensions.k8s.io", "customresourcedefinitions"};
const GroupResource kBackups{"longhorn.io", "backups"};
const GroupResource kBackupVolumes{"longhorn.io", "backupvolumes"};
const GroupResource kBackupTargets{"longhorn.io", "backuptargets"};
constexpr const char* kBackupVolumeLabel = "backup-volume";

json Column(const std::string& name, const std::string& type, const std::string& path) {
  return {{"name", name}, {"type", type}, {"jsonPath", path}};
}

json Crd(const std::string& plural, const std::string& kind, const std::string& short_name,
         json columns) {
  json open = {{"type", "object"}, {"x-kubernetes-preserve-unknown-fields", true}};
  return {{"apiVersion", "apiextensions.k8s.io/v1"},
          {"kind", "CustomResourceDefinition"},
          {"metadata", {{"name", plural + ".longhorn.io"}}},
          {"spec",
           {{"group", "longhorn.io"},
            {"scope", "Namespaced"},
            {"names",
             {{"plural", plural},
              {"singular", ToLower(kind)},
              {"kind", kind},
              {"listKind", kind + "List"},
              {"shortNames", {short_name}}}},
            {"versions",
             json::array({{{"name", "v1beta2"},
                           {"served", true},
                           {"storage", true},
                           {"subresources", {{"status", json::object()}}},
                           {"additionalPrinterColumns", columns},
                           {"schema",
                            {{"openAPIV3Schema",
                              {{"type", "object"},
                               {"properties",
                                {{"apiVersion", {{"type", "string"}}},
                                 {"kind", {{"type", "string"}}},
                                 {"metadata", {{"type", "object"}}},
                                 {"spec", open},
                                 {"status", open}}}}}}}}})}}}};
}

// "2Gi" -> "2147483648"; plain numbers unchanged; anything else kept as given.
std::string QuantityBytes(const std::string& q) {
  static const std::pair<const char*, long long> kUnits[] = {
      {"Ki", 1LL << 10}, {"Mi", 1LL << 20}, {"Gi", 1LL << 30}, {"Ti", 1LL << 40},
      {"k", 1000LL},     {"M", 1000000LL},  {"G", 1000000000LL}, {"T", 1000000000000LL}};
  for (const auto& [suffix, mult] : kUnits) {
    if (EndsWith(q, suffix)) {
      std::string num = q.substr(0, q.size() - std::string_view(suffix).size());
      if (num.empty() || num.find_first_not_of("0123456789") != std::string::npos) return q;
      return std::to_string(std::stoll(num) * mult);
    }
  }
  return q;
}

// backup=NAME and volume=VOL of a backup URL "PREFIX?backup=NAME&volume=VOL".
struct BackupUrl {
  std::string target;
  std::string backup;
  std::string volume;
};

std::optional<BackupUrl> ParseBackupUrl(const std::string& url) {
  size_t q = url.find('?');
  if (q == std::string::npos) return std::nullopt;
  BackupUrl out;
  out.target = url.substr(0, q);
  for (const auto& kv : Split(url.substr(q + 1), '&')) {
    size_t eq = kv.find('=');
    if (eq == std::string::npos) continue;
    std::string k = kv.substr(0, eq), v = kv.substr(eq + 1);
    if (k == "backup") out.backup = v;
    if (k == "volume") out.volume = v;
  }
  if (out.backup.empty() || out.volume.empty()) return std::nullopt;
  return out;
}

std::string TrimSlash(std::string s) {
  while (s.size() > 7 && s.back() == '/') s.pop_back();
  return s;
}

json Condition(const std::string& type, bool status, const std::string& reason,
               const std::string& message, const json& old_conditions, const std::string& now) {
  json c = {{"type", type},
            {"status", status ? "True" : "False"},
            {"reason", reason},
            {"message", message},
            {"lastProbeTime", ""},
            {"lastTransitionTime", now}};
  if (old_conditions.is_array()) {
    for (const auto& o : old_conditions) {
      if (o.value("type", "") == type && o.value("status", "") == c["status"]) {
        c["lastTransitionTime"] = o.value("lastTransitionTime", now);
      }
    }
  }
  return c;
}

// The backup store: DIR/volumes/VOL/volume.cfg, DIR/volumes/VOL/backups/backup_NAME.cfg and the
// backup's copy of the volume's directory, DIR/volumes/VOL/backups/backup_NAME.data/.
class BackupStore {
 public:
  BackupStore(FileSystem* fs, std::string dir) : fs_(fs), dir_(std::move(dir)) {}
  bool configured() const { return !dir_.empty(); }
  // An NFS target that is unmounted or gone: the store's directory cannot be read.
  bool reachable() const { return configured() && fs_->Stat(dir_).ok(); }
  std::string target_url() const { return dir_.empty() ? "" : "file://" + dir_; }

  std::string VolumeDir(const std::string& vol) const {
    return JoinPath(JoinPath(dir_, "volumes"), vol);
  }
  std::string BackupPath(const std::string& vol, const std::string& backup) const {
    return JoinPath(JoinPath(VolumeDir(vol), "backups"), "backup_" + backup + ".cfg");
  }
  std::string DataPath(const std::string& vol, const std::string& backup) const {
    return JoinPath(JoinPath(VolumeDir(vol), "backups"), "backup_" + backup + ".data");
  }

  // Copies `contents` (the volume's directory) into the store, then records the backup: its
  // data is whole before its .cfg makes it visible.
  Status Write(const std::string& vol, const json& backup, const std::string& contents) {
    KDR_RETURN_IF_ERROR(fs_->MakeDirs(JoinPath(VolumeDir(vol), "backups")));
    KDR_RETURN_IF_ERROR(sim::ReplaceTree(contents, DataPath(vol, backup["name"])));
    KDR_RETURN_IF_ERROR(fs_->WriteFile(BackupPath(vol, backup["name"]), backup.dump(2)));
    json cfg = ReadJson(JoinPath(VolumeDir(vol), "volume.cfg")).value_or(json::object());
    if (!cfg.contains("createdAt")) cfg["createdAt"] = backup["createdAt"];
    cfg["name"] = vol;
    cfg["size"] = backup["volumeSize"];
    cfg["lastBackupName"] = backup["name"];
    cfg["lastBackupAt"] = backup["createdAt"];
    cfg["dataStored"] = backup["size"];
    return fs_->WriteFile(JoinPath(VolumeDir(vol), "volume.cfg"), cfg.dump(2));
  }

  std::optional<json> Volume(const std::string& vol) const {
    return ReadJson(JoinPath(VolumeDir(vol), "volume.cfg"));
  }
  std::optional<json> Backup(const std::string& vol, const std::string& name) const {
    return ReadJson(BackupPath(vol, name));
  }
  std::vector<std::string> Volumes() const {
    auto names = fs_->ListDir(JoinPath(dir_, "volumes"));
    return names.ok() ? *names : std::vector<std::string>{};
  }
  std::vector<json> Backups(const std::string& vol) const {
    std::vector<json> out;
    auto names = fs_->ListDir(JoinPath(VolumeDir(vol), "backups"));
    if (!names.ok()) return out;
    for (const auto& n : *names) {
      if (!StartsWith(n, "backup_") || !EndsWith(n, ".cfg")) continue;
      if (auto b = ReadJson(JoinPath(JoinPath(VolumeDir(vol), "backups"), n))) out.push_back(*b);
    }
    return out;
  }

 private:
  std::optional<json> ReadJson(const std::string& path) const {
    auto text = fs_->ReadFile(path);
    if (!text.ok()) return std::nullopt;
    try {
      return json::parse(*text);
    } catch (const json::exception&) {
      return std::nullopt;  // a torn or foreign file: not a backup
    }
  }

  FileSystem* const fs_;
  const std::string dir_;
};

class LonghornController : public Reconciler {
 public:
  LonghornController(ClusterView* view, const ControllerOptions& options,
                     std::unique_ptr<FileSystem> own_fs)
      : view_(view),
        options_(options),
        own_fs_(std::move(own_fs)),
        backups_(own_fs_ ? own_fs_.get() : options.fs, options.longhorn_backupstore),
        ns_(options.longhorn_namespace),
        data_dir_(options.longhorn_data_dir) {}

  std::string_view name() const override { return "longhorn"; }

  Status Init() {
    if (data_dir_.empty()) {
      return Status::InvalidArgument("the longhorn data dir is not set: volumes need a directory for their contents");
    }
    if (backups_.configured()) {
      const std::string store = TrimSlash(options_.longhorn_backupstore);
      const std::string data = TrimSlash(data_dir_);
      if (data == store || StartsWith(data, store + "/") || StartsWith(store, data + "/")) {
        return Status::InvalidArgument("the longhorn data dir " + Quote(data_dir_) + " and the backup store " +
                                       Quote(options_.longhorn_backupstore) +
                                       " overlap: the store is shared between clusters, a volume's contents are "
                                       "its cluster's; give them separate directories");
      }
    }
    KDR_RETURN_IF_ERROR((own_fs_ ? own_fs_.get() : options_.fs)
                            ->MakeDirs(data_dir_)
                            .WithContext("preparing the longhorn data dir"));
    if (backups_.configured()) {
      KDR_RETURN_IF_ERROR(
          (own_fs_ ? own_fs_.get() : options_.fs)
              ->MakeDirs(JoinPath(options_.longhorn_backupstore, "volumes"))
              .WithContext("preparing the longhorn backup store"));
    }
    return Status::Ok();
  }

  void Observe(const WatchEvent& e) override {
    if (e.gr.group != "longhorn.io" && e.gr != kPvs && !(e.gr.group.empty() &&
                                                        e.gr.resource == "namespaces")) {
      return;
    }
    dirty_ = true;
    if ((e.gr == kBackupVolumes || e.gr == kBackupTargets) && e.object) {
      std::string want = Str(*e.object, "/spec/syncRequestedAt"_json_pointer);
      std::string old = e.old_object ? Str(*e.old_object, "/spec/syncRequestedAt"_json_pointer)
                                     : std::string();
      if (!want.empty() && want != old) sync_now_ = true;
    }
  }

  void Resync() override { dirty_ = true; }

  void Reconcile() override {
    auto now = std::chrono::steady_clock::now();
    if (sync_now_ || now - last_poll_ >= options_.longhorn_poll_interval) {
      sync_now_ = false;
      last_poll_ = now;
      dirty_ = true;
      Poll();
    }
    if (!dirty_) return;
    dirty_ = false;
    EnsureNamespaceAndTarget();
    for (const auto& b : ListAll(view_, kBackups, ns_)) ReconcileBackup(b);
    for (const auto& v : ListAll(view_, kLonghornVolumes, ns_)) ReconcileVolume(v);
  }

 private:
  std::string Now() const { return FormatRfc3339(options_.clock->Now()); }

  void Warn(std::string_view what, const Status& s) {
    if (!s.ok() && options_.logger) {
      options_.logger->Warning(what, {{"error", s.message()}});
    }
  }

  void EnsureNamespaceAndTarget() {
    if (target_ready_) return;
    json ns = {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", ns_}}}};
    auto n = view_->Create({"", "namespaces"}, "", ns);
    if (!n.ok() && !n.status().IsAlreadyExists()) return Warn("creating longhorn namespace", n.status());
    json target = {{"apiVersion", "longhorn.io/v1beta2"},
                   {"kind", "BackupTarget"},
                   {"metadata", {{"name", "default"}, {"namespace", ns_}}},
                   {"spec",
                    {{"backupTargetURL", backups_.target_url()},
                     {"credentialSecret", ""},
                     {"pollInterval",
                      std::to_string(options_.longhorn_poll_interval.count() / 1000) + "s"}}}};
    auto t = view_->Create(kBackupTargets, ns_, target);
    if (!t.ok() && !t.status().IsAlreadyExists()) return Warn("creating backup target", t.status());
    json status = {{"available", backups_.configured()}, {"lastSyncedAt", Now()}};
    Warn("backup target status", WriteStatus(view_, kBackupTargets, ns_, "default", status));
    target_available_ = backups_.configured();
    target_ready_ = true;
  }

  // BackupTarget status.available and its Unavailable condition follow the store, as Longhorn's
  // backup target controller reports a target it cannot reach.
  void UpdateTargetAvailability() {
    bool available = backups_.reachable();
    if (available == target_available_) return;
    json status = {{"available", available}, {"lastSyncedAt", Now()}};
    if (!available) {
      status["conditions"] = json::array(
          {{{"type", "Unavailable"},
            {"status", "True"},
            {"reason", "Unavailable"},
            {"message", "cannot reach backup target " + backups_.target_url()},
            {"lastTransitionTime", Now()}}});
    }
    Status w = WriteStatus(view_, kBackupTargets, ns_, "default", status);
    Warn("backup target status", w);
    if (w.ok()) target_available_ = available;
  }

  // Reads the backup store: BackupVolumes and Backups for what is there; remembers each
  // volume's newest backup for the DR volumes that follow it.
  void Poll() {
    if (!backups_.configured()) return;
    EnsureNamespaceAndTarget();
    UpdateTargetAvailability();
    if (!target_available_) return;
    for (const auto& vol : backups_.Volumes()) {
      auto cfg = backups_.Volume(vol);
      if (!cfg) continue;
      newest_[vol] = cfg->value("lastBackupName", "");
      json bv = {{"apiVersion", "longhorn.io/v1beta2"},
                 {"kind", "BackupVolume"},
                 {"metadata", {{"name", vol}, {"namespace", ns_}}},
                 {"spec", {{"volumeName", vol}, {"backupTargetName", "default"}}}};
      auto c = view_->Create(kBackupVolumes, ns_, bv);
      if (!c.ok() && !c.status().IsAlreadyExists()) {
        Warn("creating backup volume", c.status());
        continue;
      }
      json status = {{"lastBackupName", cfg->value("lastBackupName", "")},
                     {"lastBackupAt", cfg->value("lastBackupAt", "")},
                     {"size", cfg->value("size", "")},
                     {"dataStored", cfg->value("dataStored", "")},
                     {"createdAt", cfg->value("createdAt", "")},
                     {"lastSyncedAt", Now()}};
      Warn("backup volume status", WriteStatus(view_, kBackupVolumes, ns_, vol, status));
      for (const auto& b : backups_.Backups(vol)) {
        std::string name = b.value("name", "");
        if (name.empty() || view_->Get(kBackups, ns_, name).ok()) continue;
        json obj = {{"apiVersion", "longhorn.io/v1beta2"},
                    {"kind", "Backup"},
                    {"metadata",
                     {{"name", name}, {"namespace", ns_}, {"labels", {{kBackupVolumeLabel, vol}}}}},
                    {"spec", {{"snapshotName", b.value("snapshotName", "")},
                              {"labels", b.value("labels", json::object())}}}};
        auto created = view_->Create(kBackups, ns_, obj);
        if (!created.ok()) continue;
        Warn("backup status", WriteStatus(view_, kBackups, ns_, name, BackupStatus(b)));
      }
    }
  }

  json BackupStatus(const json& b) const {
    return {{"state", "Completed"},
            {"progress", 100},
            {"url", backups_.target_url() + "?backup=" + b.value("name", "") +
                        "&volume=" + b.value("volumeName", "")},
            {"volumeName", b.value("volumeName", "")},
            {"volumeSize", b.value("volumeSize", "")},
            {"snapshotName", b.value("snapshotName", "")},
            {"snapshotCreatedAt", b.value("createdAt", "")},
            {"backupCreatedAt", b.value("createdAt", "")},
            {"size", b.value("size", "0")},
            {"labels", b.value("labels", json::object())},
            {"lastSyncedAt", Now()}};
  }

  void FailBackup(const json& b, const std::string& error) {
    json status = b.value("status", json::object());
    status["state"] = "Error";
    status["error"] = error;
    status["lastSyncedAt"] = Now();
    Warn("backup status", WriteStatus(view_, kBackups, ns_, Name(b), status));
  }

  void ReconcileBackup(const json& b) {
    std::string state = Str(b, "/status/state"_json_pointer);
    if (Deleting(b) || state == "Completed" || state == "Error") return;
    std::string vol = Str(b, json::json_pointer("/metadata/labels/" + std::string(kBackupVolumeLabel)));
    if (vol.empty()) vol = Str(b, "/status/volumeName"_json_pointer);
    if (vol.empty()) {
      return FailBackup(b, "backup has no backup-volume label naming the volume to back up");
    }
    if (!backups_.configured()) {
      return FailBackup(b, "backup target is not set (start kubesim with --longhorn-backupstore)");
    }
    if (!backups_.reachable()) {
      UpdateTargetAvailability();
      return FailBackup(b, "cannot reach backup target " + backups_.target_url() +
                               ": the backup store is unavailable");
    }
    auto v = view_->Get(kLonghornVolumes, ns_, vol);
    if (!v.ok()) return FailBackup(b, "volume " + Quote(vol) + " not found");
    auto flag = [&](const char* p) {
      json::json_pointer ptr(p);
      return v->contains(ptr) && v->at(ptr).is_boolean() && v->at(ptr).get<bool>();
    };
    if (flag("/spec/standby") || flag("/status/isStandby")) {
      return FailBackup(b, "cannot back up volume " + Quote(vol) + ": it is a standby (DR) volume");
    }
    if (!LonghornVolumeActive(*v)) return;  // not ready yet (new or restoring): a later pass

    std::string now = Now();
    std::string snapshot = Str(b, "/spec/snapshotName"_json_pointer);
    if (snapshot.empty()) snapshot = "snapshot-" + ShortHash(Name(b) + now);
    json record = {{"name", Name(b)},
                   {"volumeName", vol},
                   {"volumeSize", Str(*v, "/spec/size"_json_pointer)},
                   {"snapshotName", snapshot},
                   {"createdAt", now},
                   {"size", Str(*v, "/spec/size"_json_pointer)},
                   {"labels", b.contains("/spec/labels"_json_pointer)
                                  ? b.at("/spec/labels"_json_pointer)
                                  : json::object()}};
    const std::string contents = LonghornVolumeDir(data_dir_, vol);
    Status w = (own_fs_ ? own_fs_.get() : options_.fs)->MakeDirs(contents);
    if (w.ok()) w = backups_.Write(vol, record, contents);
    if (!w.ok()) return FailBackup(b, "writing the backup store: " + w.message());
    newest_[vol] = Name(b);
    Warn("backup status", WriteStatus(view_, kBackups, ns_, Name(b), BackupStatus(record)));
    // The backed-up volume names its last backup.
    json vs = v->value("status", json::object());
    vs["lastBackup"] = Name(b);
    vs["lastBackupAt"] = now;
    Warn("volume status", WriteStatus(view_, kLonghornVolumes, ns_, vol, vs));
    if (options_.logger) {
      options_.logger->Info("longhorn backup completed", {{"backup", Name(b)}, {"volume", vol}});
    }
  }

  // Restores backup `name` of backup volume `vol` into volume v: its directory becomes a copy
  // of the backup's data. False with *error when the backup or its data is not in the store.
  bool Restore(const json& v, const std::string& vol, const std::string& name,
               std::string* error) {
    auto b = backups_.Backup(vol, name);
    if (!b) {
      *error = "backup " + Quote(name) + " of volume " + Quote(vol) +
               " not found in the backup store " + backups_.target_url();
      return false;
    }
    Status copied = sim::ReplaceTree(backups_.DataPath(vol, name), LonghornVolumeDir(data_dir_, Name(v)));
    if (copied.code() == StatusCode::kNotFound) {
      *error = "backup " + Quote(name) + " of volume " + Quote(vol) + " has no data in the backup store " +
               backups_.target_url() + " (" + backups_.DataPath(vol, name) + " is missing)";
      return false;
    }
    if (!copied.ok()) {
      *error = "restoring backup " + Quote(name) + " into volume " + Quote(Name(v)) + ": " + copied.message();
      return false;
    }
    if (options_.logger) {
      options_.logger->Info("longhorn backup restored", {{"backup", name}, {"volume", Name(v)}});
    }
    return true;
  }

  void ReconcileVolume(const json& v) {
    if (Deleting(v)) return;
    const json old = v.value("status", json::object());
    json st = old;
    std::string now = Now();
    bool want_standby = v.contains("/spec/standby"_json_pointer) &&
                        v.at("/spec/standby"_json_pointer).is_boolean() &&
                        v.at("/spec/standby"_json_pointer).get<bool>();
    std::string from = Str(v, "/spec/fromBackup"_json_pointer);
    json conditions = old.value("conditions", json::array());
    std::string restore_error;

    if (!st.contains("state")) {  // first sight
      st["isStandby"] = want_standby && !from.empty();
      st["restoreRequired"] = !from.empty();
      st["restoreInitiated"] = !from.empty();
      st["lastBackup"] = "";
      st["lastBackupAt"] = "";
    }
    bool standby = st.value("isStandby", false);
    bool restoring = st.value("restoreRequired", false);

    if (restoring) {
      auto url = ParseBackupUrl(from);
      if (!url) {
        restore_error = "spec.fromBackup " + Quote(from) +
                        " is not a backup URL (TARGET?backup=NAME&volume=VOLUME)";
      } else if (TrimSlash(url->target) != TrimSlash(backups_.target_url())) {
        restore_error = "spec.fromBackup " + Quote(from) + " is not on this cluster's backup target " +
                        Quote(backups_.target_url());
      } else {
        std::string restored = st.value("lastBackup", "");
        std::string next;
        if (restored.empty()) {
          next = url->backup;  // the initial restore: the backup named
        } else if (standby) {
          if (!want_standby) {  // activation: catch up with the store first
            if (auto cfg = backups_.Volume(url->volume)) {
              newest_[url->volume] = cfg->value("lastBackupName", "");
            }
          }
          auto it = newest_.find(url->volume);
          if (it != newest_.end() && !it->second.empty() && it->second != restored) {
            next = it->second;  // incremental restore of the newest backup
          }
        }
        if (!next.empty()) {
          if (Restore(v, url->volume, next, &restore_error)) {
            auto b = backups_.Backup(url->volume, next);
            st["lastBackup"] = next;
            st["lastBackupAt"] = b ? b->value("createdAt", now) : now;
            restored = next;
          }
        }
        bool caught_up = !restored.empty() &&
                         (newest_.count(url->volume) == 0 || newest_[url->volume].empty() ||
                          newest_[url->volume] == restored);
        // A plain restore (never standby) is done with the backup it names; a DR volume
        // activates only once caught up with the newest.
        bool done = standby ? caught_up : restored == url->backup;
        if (restore_error.empty() && !want_standby && done) {
          standby = false;
          restoring = false;
        }
      }
    } else if (want_standby && !standby && options_.logger) {
      // One way: an active volume does not become standby again.
      options_.logger->Debug("ignoring standby on an active longhorn volume", {{"volume", Name(v)}});
    }
    if (!restoring) {
      // An active volume has its (maybe empty) directory; a restored one got it from its backup.
      Warn("longhorn volume directory",
           (own_fs_ ? own_fs_.get() : options_.fs)->MakeDirs(LonghornVolumeDir(data_dir_, Name(v))));
    }

    st["isStandby"] = standby;
    st["restoreRequired"] = restoring;
    st["frontendDisabled"] = standby;
    if (!restore_error.empty()) {
      conditions = json::array({Condition("Restore", false, "RestoreFailure", restore_error,
                                          conditions, now)});
    } else if (restoring) {
      conditions = json::array({Condition("Restore", true, "RestoreInProgress",
                                          standby ? "the DR volume follows its backup volume" : "",
                                          conditions, now)});
    } else {
      conditions = json::array({Condition("Restore", false, "", "", conditions, now)});
    }
    st["conditions"] = conditions;

    // Attachment: DR volumes stay attached to restore; others are attached while a bound PV
    // uses them.
    json kstatus = json::object();
    for (const auto& pv : ListAll(view_, kPvs, "")) {
      if (Str(pv, "/spec/csi/volumeHandle"_json_pointer) != Name(v)) continue;
      kstatus = {{"pvName", Name(pv)},
                 {"pvStatus", Str(pv, "/status/phase"_json_pointer)},
                 {"namespace", Str(pv, "/spec/claimRef/namespace"_json_pointer)},
                 {"pvcName", Str(pv, "/spec/claimRef/name"_json_pointer)}};
    }
    bool attached = standby || restoring || kstatus.value("pvStatus", "") == "Bound";
    if (!restore_error.empty()) {
      st["state"] = "detached";
      st["robustness"] = "faulted";
    } else {
      st["state"] = attached ? "attached" : "detached";
      st["robustness"] = attached ? "healthy" : "unknown";
    }
    st["currentNodeID"] = attached ? "kubesim-node" : "";
    st["kubernetesStatus"] = kstatus;
    st["actualSize"] = 0;
    if (st != old) {
      // Computed from `v`: a change made since (a status written meanwhile) is reconciled anew.
      Status written = WriteStatus(view_, kLonghornVolumes, ns_, Name(v), st,
                                   Str(v, "/metadata/resourceVersion"_json_pointer));
      if (written.code() == StatusCode::kAborted) return;
      Warn("volume status", written);
      if (options_.logger && old.value("isStandby", false) && !standby) {
        options_.logger->Info("longhorn volume activated",
                              {{"volume", Name(v)}, {"lastBackup", st.value("lastBackup", "")}});
      }
    }
  }

  ClusterView* const view_;
  ControllerOptions options_;
  std::unique_ptr<FileSystem> own_fs_;
  BackupStore backups_;
  const std::string ns_;
  const std::string data_dir_;
  bool dirty_ = true;
  bool sync_now_ = true;
  bool target_ready_ = false;
  bool target_available_ = false;
  std::chrono::steady_clock::time_point last_poll_{};
  std::map<std::string, std::string> newest_;  // backup volume -> newest backup in the store
};

}  // namespace

Status InstallLonghornCrds(ClusterView* view) {
  const json crds[] = {
      Crd("volumes", "Volume", "lhv",
          json::array({Column("Data Engine", "string", ".spec.dataEngine"),
                       Column("State", "string", ".status.state"),
                       Column("Robustness", "string", ".status.robustness"),
                       Column("Size", "string", ".spec.size"),
                       Column("Node", "string", ".status.currentNodeID"),
                       Column("Age", "date", ".metadata.creationTimestamp")})),
      Crd("backups", "Backup", "lhb",
          json::array({Column("SnapshotName", "string", ".status.snapshotName"),
                       Column("SnapshotSize", "string", ".status.size"),
                       Column("SnapshotCreatedAt", "string", ".status.snapshotCreatedAt"),
                       Column("State", "string", ".status.state"),
                       Column("LastSyncedAt", "string", ".status.lastSyncedAt")})),
      Crd("backupvolumes", "BackupVolume", "lhbv",
          json::array({Column("CreatedAt", "string", ".status.createdAt"),
                       Column("LastBackupName", "string", ".status.lastBackupName"),
                       Column("LastBackupAt", "string", ".status.lastBackupAt"),
                       Column("LastSyncedAt", "string", ".status.lastSyncedAt")})),
      Crd("backuptargets", "BackupTarget", "lhbt",
          json::array({Column("URL", "string", ".spec.backupTargetURL"),
                       Column("Available", "boolean", ".status.available"),
                       Column("LastSyncedAt", "string", ".status.lastSyncedAt")})),
  };
  for (const auto& crd : crds) {
    auto r = view->Create(kCrds, "", crd);
    if (!r.ok() && !r.status().IsAlreadyExists()) {
      return r.status().WithContext("installing crd " + Name(crd));
    }
  }
  return Status::Ok();
}

std::string LonghornVolumeDir(std::string_view data_dir, std::string_view volume) {
  return JoinPath(data_dir, volume);
}

bool LonghornVolumeActive(const json& v) {
  auto flag = [&](const char* p) {
    json::json_pointer ptr(p);
    return v.contains(ptr) && v.at(ptr).is_boolean() && v.at(ptr).get<bool>();
  };
  return !flag("/spec/standby") && v.contains("/status/state"_json_pointer) &&
         !flag("/status/isStandby") && !flag("/status/restoreRequired");
}

Status CreateLonghornVolume(ClusterView* view, const std::string& ns, const std::string& name,
                            const std::string& size, const json& parameters) {
  json spec = {{"size", QuantityBytes(size)},
               {"frontend", "blockdev"},
               {"dataEngine", "v1"},
               {"accessMode", "rwo"},
               {"standby", false},
               {"fromBackup", parameters.value("fromBackup", "")}};
  if (parameters.contains("numberOfReplicas") && parameters["numberOfReplicas"].is_string()) {
    try {
      spec["numberOfReplicas"] = std::stoi(parameters["numberOfReplicas"].get<std::string>());
    } catch (const std::exception&) {
      return Status::InvalidArgument("storage class parameter numberOfReplicas " +
                                     Quote(parameters["numberOfReplicas"].get<std::string>()) +
                                     " is not a number");
    }
  } else {
    spec["numberOfReplicas"] = 3;
  }
  json vol = {{"apiVersion", "longhorn.io/v1beta2"},
              {"kind", "Volume"},
              {"metadata", {{"name", name}, {"namespace", ns}}},
              {"spec", spec}};
  auto r = view->Create(kLonghornVolumes, ns, vol);
  if (!r.ok() && !r.status().IsAlreadyExists()) return r.status();
  return Status::Ok();
}

Status ValidateLonghornVolumeUpdate(const json& old_volume, const json& new_volume) {
  auto flag = [](const json& v, const char* p) {
    json::json_pointer ptr(p);
    return v.contains(ptr) && v.at(ptr).is_boolean() && v.at(ptr).get<bool>();
  };
  bool was_active = !flag(old_volume, "/spec/standby");
  if (was_active && flag(new_volume, "/spec/standby")) {
    return Status::InvalidArgument(
        "volume " + Quote(Name(new_volume)) +
        " is active: a volume cannot be made a standby (DR) volume again; create a new DR "
        "volume from its backup instead");
  }
  return Status::Ok();
}

Result<std::unique_ptr<Reconciler>> NewLonghornController(ClusterView* view,
                                                          const ControllerOptions& options) {
  std::unique_ptr<FileSystem> own_fs;
  if (options.fs == nullptr) own_fs = std::make_unique<PosixFileSystem>();
  auto c = std::make_unique<LonghornController>(view, options, std::move(own_fs));
  KDR_RETURN_IF_ERROR(c->Init());
  return std::unique_ptr<Reconciler>(std::move(c));
}

}  // namespace kdr::kubesim
