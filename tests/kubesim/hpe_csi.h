#pragma once

// The HPE CSI driver's view of a cluster, simulated: which HPE Alletra array this cluster's hosts
// are attached to, and whether a volume on it may be written from here, as alletra-sim knows
// (GET /sim/v1/arrays/<array>/volumes/<volume> on its admin listener, tests/sim/alletra_sim.h).
// The PVC controller (controllers.h) binds a PV of driver csi.hpe.com only once its
// csi.volumeHandle (the volume's name on the array) is writable on this cluster's array: the
// secondary side of a remote-copy group is read-only until a failover, so a PV restored on the
// wrong site stays Pending, as attaching it would fail on a real cluster.
//
//   kubesim --hpe-array array-b --alletra-sim-url https://127.0.0.1:P --alletra-sim-ca ca.pem
//
// Without --hpe-array kubesim knows no array, and HPE CSI PVs bind like any other.
//
// With --alletra-sim-data-dir (alletra-sim's --data-dir, the data= of its ready line) the node
// also knows where the array keeps its volumes' contents (DATA/ARRAY/VOLUME, alletra_model.h),
// and mounts an HPE CSI PV in the agent's pods as its volume's directory (agent_node.h).
//
// Against a real API server (kubesim-controllers --hpe-array ..., sim_node.h) the rule applies
// where a real cluster applies it: kube-controller-manager binds the PV, and the pods mounting it
// do not start while the volume is not writable here (the CSI attach fails: a FailedAttachVolume
// Event on the pod, containers waiting in ContainerCreating). Nothing keeps a PV from binding
// there, because no real server would.

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"

namespace kdr {
class FileSystem;
}
namespace kdr::kube {
class Transport;
}

namespace kdr::kubesim {

// The HPE CSI driver's name in PVs and StorageClasses.
inline constexpr std::string_view kHpeCsiDriver = "csi.hpe.com";

struct HpeArrayOptions {
  std::string array;        // the array's system name ("array-b")
  std::string alletra_url;  // alletra-sim's admin listener, "https://127.0.0.1:PORT"
  std::string ca_pem;       // the CA that signed alletra-sim's certificate
  bool insecure = false;    // do not verify it (a loopback URL only)
  std::chrono::milliseconds timeout{std::chrono::seconds(5)};  // per request
  std::string data_dir;     // alletra-sim's data dir ("" = volumes' contents unknown)
};

// The flags as given on the command line.
struct HpeArrayFlags {
  std::string array;          // --hpe-array
  std::string alletra_url;    // --alletra-sim-url
  std::string ca_file;        // --alletra-sim-ca
  bool insecure = false;      // --alletra-sim-insecure
  std::string data_dir;       // --alletra-sim-data-dir
};

// Validates the flags and reads the CA file. nullopt when none is given (no array: HPE CSI PVs
// bind like any other). InvalidArgument naming the flag: an array without a URL or the reverse,
// a URL that is not https://HOST:PORT, neither or both of --alletra-sim-ca and
// --alletra-sim-insecure, --alletra-sim-insecure with a host that is not loopback, an unreadable
// or empty CA file, an --alletra-sim-data-dir without the array's directory in it.
Result<std::optional<HpeArrayOptions>> HpeArrayOptionsFromFlags(const HpeArrayFlags& flags,
                                                                const FileSystem& fs);

// A client of alletra-sim's admin listener for one array. Thread-safe.
class HpeArray {
 public:
  // Connects and checks that alletra-sim serves `options.array` (GET /sim/v1/state), so a typo
  // does not leave every HPE PV Pending. InvalidArgument for a bad URL or CA; Unavailable when
  // alletra-sim cannot be reached (naming the URL); NotFound for an array it does not serve,
  // listing the ones it does.
  static Result<std::unique_ptr<HpeArray>> Connect(HpeArrayOptions options);
  ~HpeArray();
  HpeArray(const HpeArray&) = delete;
  HpeArray& operator=(const HpeArray&) = delete;

  const std::string& array() const { return options_.array; }

  // Whether hosts of this array may write `volume`. NotFound when the array has no such volume;
  // Unavailable when alletra-sim cannot be reached; Internal for an answer it cannot read.
  Result<bool> Writable(std::string_view volume) const;

  // The directory holding `volume`'s contents on this array (nothing is checked: ask Writable
  // first). FailedPrecondition when no data dir was given.
  Result<std::string> VolumeDir(std::string_view volume) const;

 private:
  HpeArray(HpeArrayOptions options, std::unique_ptr<kube::Transport> transport);

  const HpeArrayOptions options_;
  const std::unique_ptr<kube::Transport> transport_;
};

}  // namespace kdr::kubesim
