#pragma once

// The HPE Alletra (9000 / MP block, Primera, 3PAR) storage driver: remote-copy groups driven
// through each array's WSAPI (wsapi.h). A plan's volume lives on the source array and is
// mirrored by a remote-copy group to a volume on the target array; the group is the consistency
// group (the inventory's volume needs a group of its own).
//
// Roles, as showrcopy names them (the WSAPI reports role 1 primary side / 2 secondary side and
// roleReversed): Primary, Secondary, Primary-Rev (a secondary that took over), Secondary-Rev (an
// old primary following the one that took over). Read on the target array (T) and, when it can
// be reached, the source array (S):
//
//   T Secondary                 replicating (caught up when started and every volume synced)
//   T Primary-Rev, S Primary    failed over (S is stale and stopped; so too when S is down)
//   T Primary-Rev, S Secondary-Rev   reversed: T is primary and S follows it
//   T Secondary-Rev, S Primary-Rev   replicating, for a failback plan (S is the DR site)
//   T Primary, S Primary-Rev    replicating but stopped, for a failback plan: S holds the data
//   T Primary, S Secondary      failed over, for a failback plan (it is back home)
//   T Primary, S unreachable    unknown: failing back needs both arrays
// A role number, target state or volume sync status outside the ones above stops the call
// (FailedPrecondition naming it).
//
//   Discover      reads the target array's groups (and the source's when reachable) and maps
//                 each claim's volume to its group and the volume it is mirrored to
//   State         the table above; last sync = the target's groupLastSyncTime
//   Sync          PUT synchronize (5) on the primary side (start 3 first when stopped), then
//                 waits until every volume is synced. Needs the source array
//   Failover      T Secondary: stop (4) when started, then POST failover (7) on T's group.
//                 T Primary / Secondary-Rev (failback plan): Recover then Restore. Already
//                 Primary-Rev (or Primary with S Secondary): Ok
//   Recover       POST recover (9) on S's group (S Primary-Rev), then waits until every volume
//                 is synced
//   Restore       waits until synced, POST restore (10) on S's group (S Primary-Rev, recovered),
//                 then waits until T is Primary
//   PrepareDrill  a virtual copy (POST volumes/<vol> createSnapshot, writable) of every target
//                 volume, named "<vol>-drill" (31 characters at most: longer names are cut and
//                 hashed); an existing copy of the same volume is reused
//   CleanupDrill  DELETE of those copies (only volumes that are copies of the group's volumes)
//   VolumeSourceFor  a PV for the HPE CSI driver (csi.hpe.com) whose volumeHandle names the
//                 volume on the target array (now primary; a drill: the copy), with the captured
//                 capacity, access modes, volume mode, fsType, reclaim policy and
//                 volumeAttributes, the HPE backend Secret as every CSI secret reference, and
//                 the annotations dr.kubectl-dr.dev/array and dr.kubectl-dr.dev/array-volume
//   Protect       nothing: remote-copy groups are set up on the arrays
// Every refusal of an array surfaces with its HTTP status, code and description.
//
// Parameters (spec.storage.parameters):
//   sourceArray, targetArray   (required) the arrays' system names; each URL must reach the
//                              array of that name (GET /api/v1/system), so a swapped URL is an
//                              error instead of a failover of the wrong array
//   csiSecretName, csiSecretNamespace  the HPE CSI driver's backend Secret on the target that
//                              created PVs reference (default hpe-backend in hpe-storage)
// Credentials: the Secret named by spec.storage.credentialsSecret, in the plan's namespace on the
// target cluster, with keys
//   sourceUrl, targetUrl       (required) https://HOST[:PORT] of each array's WSAPI
//   username, password         the WSAPI user for both arrays, or per array:
//   sourceUsername, sourcePassword, targetUsername, targetPassword
//   ca                         PEM CA bundle that signed both arrays' certificates, or per array:
//   sourceCa, targetCa         (none: the system trust store)
//   insecureSkipTlsVerify      "true": do not verify the arrays' certificates (logged as a
//                              warning at every connection); default "false"
// Volume identities: {"array", "volume", "group"}; a volume map entry without `storage` is
// identified by its PV's csi.volumeHandle as the array volume's name.

#include <map>
#include <memory>
#include <string>

#include "base/status.h"
#include "storage/driver.h"

namespace kdr::storage {

inline constexpr std::string_view kHpeCsiDriver = "csi.hpe.com";

// InvalidArgument listing bad parameters (the Secret is read when first needed).
Result<std::unique_ptr<Driver>> NewAlletraDriver(const dr::DRPlan& plan,
                                                 const DriverOptions& options);

// Driver::ValidateParameters of the Alletra driver, without a driver.
Status ValidateAlletraParameters(const std::map<std::string, std::string>& parameters,
                                 const Credentials* credentials);

}  // namespace kdr::storage
