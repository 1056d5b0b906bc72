#pragma once

// alletra-sim: a simulated pair of HPE Alletra arrays serving the WSAPI over HTTPS, one listener
// per array (each array is its own WSAPI endpoint with its own session keys), plus an admin
// listener for the controls a test needs and a real array does not have.
//
// WSAPI served on each array (https://HOST:PORT):
//   GET    /api                               version (no session), {"major","minor","revision","build"}
//   POST   /api/v1/credentials                {"user","password"} -> 201 {"key"} + Location
//   DELETE /api/v1/credentials/<key>          200, empty body
//   GET    /api/v1/system                     {"id","name","model","serialNumber","systemVersion",...}
//   GET    /api/v1/volumes[/<name>]           {"total","members":[...]} / one volume
//   POST   /api/v1/volumes/<name>             {"action": "createSnapshot", "parameters":
//                                              {"name", "readOnly", "comment"}} -> 201: a
//                                              virtual copy (copyType 3, copyOf <name>)
//   DELETE /api/v1/volumes/<name>             409 IN_USE for a volume in a group or with copies
//   GET    /api/v1/remotecopygroups[/<name>]  {"total","members":[...]} / one group
//   PUT    /api/v1/remotecopygroups/<name>    {"action": 3 start | 4 stop | 5 synchronize}
//   POST   /api/v1/remotecopygroups/<name>    {"action": 7 failover | 9 recover | 10 restore,
//                                              "skipStart", "skipSync", ...}
// Every call but the first three needs the X-HP3PAR-WSAPI-SessionKey header. Errors are
// {"code","desc"[,"ref"]} with the array's HTTP status (wsapi_errors.h says which are verified).
// Responses carry "Server: hp3par-wsapi" and "Connection: close", as the guide shows.
// Not simulated (501, code 9 UNSUP_OP): group creation/modification/deletion, admitting and
// dismissing volumes, the reverse (6), switchover (8) and override-failsafe (11) actions, volume
// creation and volume actions other than createSnapshot.
//
// A group's JSON on an array:
//   {"id", "name", "role": 1 primary side | 2 secondary side, "roleReversed": bool,
//    "targets": [{"targetName": peer, "mode", "state": 3 started | 5 stopped, "roleReversed",
//                 "groupLastSyncTime", "policies": {...}}],
//    "volumes": [{"localVolumeName", "localVolumeID",
//                 "remoteVolumes": [{"targetName", "remoteVolumeName", "syncStatus"}]}]}
//
// Admin (https://HOST:ADMIN_PORT, no session, same CA):
//   GET  /sim/v1/state                               arrays (up/down, URLs), groups (phase...,
//                                                    dataError when a sync's copy failed) and
//                                                    dataDir (volume contents, alletra_model.h)
//   GET  /sim/v1/arrays/<name>/volumes/<volume>      {"array","name","writable"}: may hosts of
//                                                    that array write it (AlletraPair::Writable)
//   POST /sim/v1/arrays/<name>/down | /up            take an array off the network / back
//   POST /sim/v1/remotecopygroups/<name>/complete-sync
//   POST /sim/v1/complete-syncs                      finish every sync in progress
//   POST /sim/v1/remotecopygroups/<name>/report-role {"array": NAME, "role": N}: that array
//                                                    reports role number N (0: the real one)
//   POST /sim/v1/sessions/expire                     drop every session key of both arrays
//
// A down array closes its listener (clients get connection refused) and its groups stop
// replicating; up listens again on the same port. Thread-safe.

#include <array>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "alletra_config.h"
#include "alletra_model.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/status.h"
#include "dir_tree.h"

namespace kdr::sim {

struct AlletraSimOptions {
  PairSpec spec = DefaultPairSpec();
  std::string host = "127.0.0.1";
  // 0: any free port. Otherwise array 0 listens on port, array 1 on port + 1, admin on port + 2.
  int port = 0;
  bool admin = true;
  // Session expiry and sync timestamps; null: the process clock. Not owned; must outlive the sim.
  Clock* clock = nullptr;
  // One debug line per request (session keys never appear); null: silent. Not owned.
  Logger* logger = nullptr;
  // Where the arrays keep their volumes' contents, a directory per array and volume
  // (ArrayVolumeDir, alletra_model.h). "" = a new temporary directory, removed with the sim.
  std::string data_dir;
};

class AlletraSim {
 public:
  // Makes a CA and a serving certificate (127.0.0.1, ::1, localhost and the system names), binds
  // every listener and starts serving before returning. InvalidArgument for a bad spec;
  // Unavailable when a port cannot be bound or the certificates cannot be made.
  static Result<std::unique_ptr<AlletraSim>> Start(AlletraSimOptions options);
  ~AlletraSim();  // stops every listener
  AlletraSim(const AlletraSim&) = delete;
  AlletraSim& operator=(const AlletraSim&) = delete;

  // The CA (PEM) that signed the serving certificate; clients verify against it.
  const std::string& ca_pem() const { return ca_pem_; }
  // System name of array 0 / 1.
  const std::string& name(int index) const { return pair_->array(index).name; }
  // "https://127.0.0.1:PORT" of the array with that system name ("" when unknown).
  std::string url(std::string_view array) const;
  int port(std::string_view array) const;  // 0 when unknown
  std::string admin_url() const;           // "" without admin
  // "alletra-sim ready array-a=https://... array-b=https://... admin=https://... data=DIR"
  std::string ReadyLine() const;
  // The data dir: DIR/ARRAY/VOLUME is a volume's contents.
  const std::string& data_dir() const { return pair_->data_dir(); }

  // Takes the array off the network (listener closed, replication stopped) or brings it back on
  // the same port. NotFound for an unknown name (with the nearest match); Unavailable when the
  // port cannot be bound again. Idempotent.
  Status SetDown(std::string_view array);
  Status SetUp(std::string_view array);
  bool IsUp(std::string_view array) const;

  // The state behind both arrays: read a group's state, seed groups, finish syncs, drop sessions.
  AlletraPair& pair() { return *pair_; }

 private:
  struct Listener;
  AlletraSim() = default;
  Status StartListener(int which, int port);  // which: 0, 1 arrays; 2 admin
  void StopListener(int which);
  Result<int> Index(std::string_view array) const;

  AlletraSimOptions options_;
  std::unique_ptr<ScopedTree> own_data_;  // the default data dir, removed after the pair
  std::unique_ptr<Clock> own_clock_;
  Clock* clock_ = nullptr;
  std::unique_ptr<AlletraPair> pair_;
  std::string ca_pem_;
  std::string cert_pem_;
  std::string key_pem_;
  mutable std::mutex mu_;  // guards listeners_ and ports_
  std::array<std::unique_ptr<Listener>, 3> listeners_;
  std::array<int, 3> ports_{0, 0, 0};
};

}  // namespace kdr::sim
