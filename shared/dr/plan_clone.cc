#include "dr/plan_clone.h"

#include <algorithm>
#include <set>

#include "base/strings.h"
#include "kube/object.h"

namespace kdr::dr {
namespace {

bool Contains(const std::vector<std::string>& v, std::string_view s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

std::string QuotedList(const std::vector<std::string>& v) {
  std::vector<std::string> q;
  for (const auto& s : v) q.push_back(Quote(s));
  return Join(q, ", ");
}

Status CheckList(const std::vector<std::string>& values, std::string_view flag) {
  std::set<std::string> seen;
  for (const std::string& ns : values) {
    KDR_RETURN_IF_ERROR(ValidateDns1123Label(ns, flag));
    if (!seen.insert(ns).second) {
      return Status::InvalidArgument(std::string(flag) + " names " + Quote(ns) + " twice");
    }
  }
  return Status::Ok();
}

}  // namespace

Status ValidateDns1123Subdomain(std::string_view value, std::string_view field) {
  if (kube::IsDns1123Subdomain(value)) return Status::Ok();
  if (value.empty()) return Status::InvalidArgument(std::string(field) + " must not be empty");
  if (value.size() > 253) {
    return Status::InvalidArgument(std::string(field) + " " + Quote(value) +
                                   ": must be no more than 253 characters");
  }
  return Status::InvalidArgument(std::string(field) + " " + Quote(value) +
                                 ": must consist of lower case alphanumeric characters, '-' or '.', "
                                 "and must start and end with an alphanumeric character (a DNS-1123 "
                                 "subdomain)");
}

Status ValidateDns1123Label(std::string_view value, std::string_view field) {
  if (kube::IsDns1123Label(value)) return Status::Ok();
  if (value.empty()) return Status::InvalidArgument(std::string(field) + " must not name an empty namespace");
  if (value.size() > 63) {
    return Status::InvalidArgument(std::string(field) + " " + Quote(value) +
                                   ": must be no more than 63 characters");
  }
  return Status::InvalidArgument(std::string(field) + " " + Quote(value) +
                                 ": must consist of lower case alphanumeric characters or '-', and "
                                 "must start and end with an alphanumeric character (a DNS-1123 label)");
}

Status ValidateCloneRequest(const CloneRequest& r) {
  if (r.new_name.empty()) {
    return Status::InvalidArgument("--name is required: the name of the new plan");
  }
  KDR_RETURN_IF_ERROR(ValidateDns1123Subdomain(r.new_name, "--name"));
  if (r.inventory_pvc_name.empty()) {
    return Status::InvalidArgument(
        "--inventory-pvc is required: a clone needs its own inventory PVC, because a spent "
        "plan's inventory can no longer be written");
  }
  KDR_RETURN_IF_ERROR(ValidateDns1123Subdomain(r.inventory_pvc_name, "--inventory-pvc"));
  if (!r.inventory_pvc_namespace.empty()) {
    KDR_RETURN_IF_ERROR(ValidateDns1123Label(r.inventory_pvc_namespace, "--inventory-namespace"));
  }
  if (!r.namespaces.empty() && !r.exclude_namespaces.empty()) {
    return Status::InvalidArgument(
        "--namespaces and --exclude-namespaces cannot be used together: --namespaces names exactly "
        "what the clone protects");
  }
  KDR_RETURN_IF_ERROR(CheckList(r.namespaces, "--namespaces"));
  KDR_RETURN_IF_ERROR(CheckList(r.exclude_namespaces, "--exclude-namespaces"));
  return Status::Ok();
}

std::vector<std::string> RecoveredNamespaces(const DRPlan& plan, const DRRecovery& recovery) {
  return recovery.spec.namespaces.empty() ? plan.spec.namespaces : recovery.spec.namespaces;
}

Result<ClonePlanResult> ClonePlan(const DRPlan& source, const std::optional<DRRecovery>& spending,
                                  const std::vector<DRPlan>& others, const CloneRequest& request) {
  const std::string& ns = source.metadata.namespace_name;
  const std::string where = ns.empty() ? "" : " in namespace " + ns;
  for (const DRPlan& p : others) {
    if (p.metadata.name == request.new_name) {
      return Status::AlreadyExists("drplan " + Quote(request.new_name) + " already exists" + where +
                                   "; choose another --name");
    }
  }

  const std::string pvc_ns = request.inventory_pvc_namespace.empty() ? source.spec.inventory_pvc_namespace
                                                                     : request.inventory_pvc_namespace;
  const std::string pvc = pvc_ns + "/" + request.inventory_pvc_name;
  if (pvc_ns == source.spec.inventory_pvc_namespace &&
      request.inventory_pvc_name == source.spec.inventory_pvc_name) {
    return Status::InvalidArgument(
        "--inventory-pvc " + Quote(request.inventory_pvc_name) + " is the inventory PVC of plan " +
        Quote(source.metadata.name) +
        (source.spent() ? ", which was failed over and can no longer be written"
                        : ", and two plans cannot share an inventory") +
        "; name a new PVC for the clone");
  }
  for (const DRPlan& p : others) {
    if (p.metadata.name == source.metadata.name) continue;
    if (p.spec.inventory_pvc_namespace == pvc_ns && p.spec.inventory_pvc_name == request.inventory_pvc_name) {
      return Status::InvalidArgument("--inventory-pvc: PVC " + pvc + " is already the inventory of plan " +
                                     Quote(p.metadata.name) + "; two plans cannot share an inventory, "
                                     "name a new PVC for the clone");
    }
  }

  ClonePlanResult out;
  const std::vector<std::string>& theirs = source.spec.namespaces;
  if (spending) out.failed_over = RecoveredNamespaces(source, *spending);
  const std::string spender = Quote(source.status.spent_by);

  std::vector<std::string> chosen;
  if (!request.namespaces.empty()) {
    for (const std::string& n : request.namespaces) {
      if (Contains(out.failed_over, n)) {
        return Status::InvalidArgument(
            "--namespaces " + Quote(n) + " was failed over by recovery " + spender +
            " and now runs on the target " + Quote(source.spec.target_context) +
            "; a clone protects what still runs on the source " + Quote(source.spec.source_context) +
            " (to protect it from the DR site, define a plan the other way round)");
      }
    }
    chosen = request.namespaces;
  } else {
    if (source.spent() && !spending) {
      std::string why = source.status.spent_by.empty()
                            ? "it names no spending recovery (status.spentBy is empty)"
                            : "the recovery that spent it, " + spender + ", no longer exists";
      return Status::FailedPrecondition(
          "cannot tell which namespaces of plan " + Quote(source.metadata.name) +
          " were failed over: " + why + "; name the namespaces the clone protects with --namespaces");
    }
    for (const std::string& e : request.exclude_namespaces) {
      if (!Contains(theirs, e)) {
        return Status::InvalidArgument("--exclude-namespaces " + Quote(e) + " is not a namespace of plan " +
                                       Quote(source.metadata.name) + DidYouMean(e, theirs) +
                                       " (its namespaces: " + QuotedList(theirs) + ")");
      }
    }
    std::vector<std::string> remaining;
    for (const std::string& n : theirs) {
      if (!Contains(out.failed_over, n)) remaining.push_back(n);
    }
    if (remaining.empty()) {
      return Status::FailedPrecondition(
          "every namespace of plan " + Quote(source.metadata.name) + " (" + QuotedList(theirs) +
          ") was failed over by recovery " + spender +
          ", so none is left to protect from the source; name the namespaces the clone protects "
          "with --namespaces");
    }
    for (const std::string& n : remaining) {
      if (!Contains(request.exclude_namespaces, n)) chosen.push_back(n);
    }
    if (chosen.empty()) {
      return Status::InvalidArgument("--exclude-namespaces leaves no namespace to protect (remaining: " +
                                     QuotedList(remaining) + ")");
    }
  }
  for (const std::string& n : theirs) {
    if (!Contains(chosen, n)) out.left_out.push_back(n);
  }
  for (const std::string& n : chosen) {
    if (!Contains(theirs, n)) out.added.push_back(n);
  }

  DRPlan& plan = out.plan;
  plan.metadata.name = request.new_name;
  plan.metadata.namespace_name = ns;
  plan.metadata.labels = source.metadata.labels;
  plan.metadata.annotations[std::string(kClonedFromAnnotation)] = source.metadata.name;
  plan.spec = source.spec;
  plan.spec.namespaces = std::move(chosen);
  plan.spec.inventory_pvc_namespace = pvc_ns;
  plan.spec.inventory_pvc_name = request.inventory_pvc_name;
  return out;
}

}  // namespace kdr::dr
