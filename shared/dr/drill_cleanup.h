#pragma once

// Drill cleanup (`kubectl dr drill cleanup NAME`): removes from the DR site everything a drill (a
// Test recovery, DESIGN.md section 3) made there, so the next drill, or a real failover, finds the
// site as it was:
//
//   1. the objects labelled dr.kubectl-dr.dev/recovery=NAME in the drill's target namespaces (the
//      plan's or the recovery's namespaces, through its namespaceMapping), workloads first;
//      objects a controller owns are left to go with their owner; and, of a drill whose agent ran
//      as Jobs, its own inventory claim (DrillInventoryClaimName, agent_job.h) and any agent Job
//      kept after a failure, in the inventory claim's namespace
//   2. those namespaces themselves when the drill created them (labelled with it), waited for
//      until gone
//   3. the cluster-scoped objects labelled with it (PVs, RBAC, classes), and the PVs bound to
//      claims in the namespaces it created (provisioned for its claims); a CRD it created is kept
//      while objects of its kind remain anywhere (deleting it would delete them), and reported so
//   4. the drill copies of the plan's volumes (the workloads', and the inventory's when the
//      agent ran as Jobs: dr/drill_copies.h), through the storage driver's CleanupDrill, once no
//      PV of the drill refers to them any more (waited for)
//
// Nothing else is touched: an object of the same name not labelled with this recovery, a
// namespace the drill did not create, the live DR volumes.
//
// Idempotent and resumable: every removal treats "already gone" as done, so a cleanup killed
// anywhere is finished by running it again, and a cleanup of a cleaned drill removes nothing. It
// holds the plan's Lease (kube/lease.h) while it works, so it does not run beside the drill itself
// or a failover of the same plan.
//
// Errors: FailedPrecondition for a recovery that is not a Test ("... is a Failover ..."), for a
// plan whose driver makes drill copies without options.inventory_path when the agent recorded no
// volume map in the recovery (a drill with --agent local; its volume map names the volumes;
// nothing is removed then), and for a lease held by a live run (naming it). NotFound for
// a missing recovery. DeadlineExceeded naming what did not go within options.timeout. The report
// holds what was removed before an error.

#include <chrono>
#include <functional>
#include <optional>
#include <stop_token>
#include <string>
#include <vector>

#include "base/env.h"
#include "base/status.h"

namespace kdr::kube {
class Client;
}

namespace kdr::dr {

struct RemovedObject {
  std::string api_version;
  std::string kind;
  std::string namespace_name;  // "" for cluster-scoped objects
  std::string name;
  // "Deployment shop-drtest/web", "Namespace shop-drtest".
  std::string ToString() const;
};

struct DrillCleanupOptions {
  std::string recovery;  // REQUIRED: the Test DRRecovery's name
  std::string dr_namespace = "kubectl-dr-system";
  // The inventory the drill restored (its --inventory-path): its volume map names the volumes
  // whose drill copies are removed. May be empty when the plan's driver makes none (none), or
  // when the drill's agent ran as Jobs (the recovery's status.inventory holds the volume map).
  std::string inventory_path;
  std::optional<int64_t> generation;  // default: the current one
  // How long namespaces and PVs may take to go, and each storage call.
  std::chrono::nanoseconds timeout{std::chrono::minutes(5)};
  std::string holder;    // REQUIRED unless dry_run: the Lease's holder identity
  bool dry_run = false;  // lists what would be removed (report.removed); changes nothing
  // Called after each removal, on the caller's thread. May be empty.
  std::function<void(const RemovedObject&)> on_removed;
};

struct DrillCleanupReport {
  std::string recovery;
  std::string plan;
  std::vector<RemovedObject> removed;  // in the order removed (dry run: would be removed)
  // Claims ("shop/data", as captured) whose drill copies the driver removed (or found gone).
  std::vector<std::string> drill_volumes;
  // Objects labelled with the drill but kept, with the reason.
  std::vector<std::string> kept;
  std::vector<std::string> warnings;
};

// Removes what the drill named in options made on `target` (the plan's target cluster, holding the
// recovery and its plan). `report` (not null) is filled as far as the cleanup went.
Status CleanupDrill(kube::Client& target, const Env& env, const DrillCleanupOptions& options,
                    DrillCleanupReport* report, std::stop_token stop = {});

}  // namespace kdr::dr
