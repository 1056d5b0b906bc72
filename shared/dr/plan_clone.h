#pragma once

// Cloning a DRPlan (`kubectl dr plan clone`), without a cluster: which namespaces the clone
// protects and the object to create. A spent plan's inventory PVC can no longer be written (its
// consistency group was failed over), so a clone always gets a new inventory PVC; it keeps the
// source's contexts and storage, and protects by default the source's namespaces that the
// spending recovery did NOT fail over (they still run on the source and are unprotected now).
//
//   CloneRequest req{.new_name = "shop-to-dr-2", .inventory_pvc_name = "shop-inventory-2"};
//   KDR_RETURN_IF_ERROR(ValidateCloneRequest(req));
//   KDR_ASSIGN_OR_RETURN(ClonePlanResult r, ClonePlan(source, spending_recovery, others, req));
//   client->Create(..., ToJson(r.plan));

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "dr/types.h"

namespace kdr::dr {

// Set on every clone: the name of the plan it was cloned from.
inline constexpr std::string_view kClonedFromAnnotation = "dr.kubectl-dr.dev/cloned-from";

// Kubernetes name formats. `field` names the value in the message ("--name"):
// InvalidArgument "--name \"Shop\": must consist of lower case alphanumeric characters, '-' or
// '.', and must start and end with an alphanumeric character (a DNS-1123 subdomain)".
// Subdomain: object names (plans, PVCs), at most 253 characters. Label: namespaces, at most 63.
Status ValidateDns1123Subdomain(std::string_view value, std::string_view field);
Status ValidateDns1123Label(std::string_view value, std::string_view field);

// What the user asked for (the flags of `kubectl dr plan clone`).
struct CloneRequest {
  std::string new_name;                       // --name, required
  std::string inventory_pvc_name;             // --inventory-pvc, required
  std::string inventory_pvc_namespace;        // --inventory-namespace; "" = the source's
  std::vector<std::string> namespaces;        // --namespaces: exactly these
  std::vector<std::string> exclude_namespaces;  // --exclude-namespaces: the default minus these
};

// Checks the request on its own (no plan needed): required values, formats, duplicates, and
// --namespaces with --exclude-namespaces. InvalidArgument naming the flag (usage, exit 2).
Status ValidateCloneRequest(const CloneRequest& request);

// The namespaces of `plan` that `recovery` restored: its spec.namespaces, or all of the plan's
// when empty.
std::vector<std::string> RecoveredNamespaces(const DRPlan& plan, const DRRecovery& recovery);

struct ClonePlanResult {
  DRPlan plan;                               // the object to create: no status
  std::vector<std::string> failed_over;      // the source's namespaces the spending recovery took
  std::vector<std::string> left_out;         // the source's namespaces the clone does not protect
  std::vector<std::string> added;            // namespaces the clone protects that the source did not
};

// Builds the clone of `source`.
//   spending: the recovery named by source.status.spentBy when it could be read (nullopt when the
//             plan is not spent, names no recovery, or the recovery is gone).
//   others:   the plans already in the namespace (for name and inventory PVC collisions); may
//             include `source`.
// Namespaces: request.namespaces when given, else the source's minus those the spending
// recovery failed over, minus request.exclude_namespaces. Errors, all before any write:
//   AlreadyExists       a plan named request.new_name exists
//   InvalidArgument     the inventory PVC is the source's (it cannot be written after a
//                       failover) or another plan's; --namespaces names a namespace the spending
//                       recovery failed over (it runs on the target now); --exclude-namespaces
//                       names a namespace not in the source; nothing is left after exclusion
//   FailedPrecondition  no namespaces remain by default (all failed over, or which were is
//                       unknown because the spending recovery is gone): --namespaces is needed,
//                       and the message says why
// REQUIRES: ValidateCloneRequest(request) is Ok.
Result<ClonePlanResult> ClonePlan(const DRPlan& source, const std::optional<DRRecovery>& spending,
                                  const std::vector<DRPlan>& others, const CloneRequest& request);

}  // namespace kdr::dr
