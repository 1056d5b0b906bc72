#include "dr/agent_run.h"

#include <nlohmann/json.hpp>
#include <optional>

#include "base/strings.h"
#include "kube/client.h"
#include "kube/object.h"

namespace kdr::dr {
namespace {

using nlohmann::json;

const kube::Gvr kServiceAccounts{"", "v1", "serviceaccounts"};
const kube::Gvr kClusterRoles{"rbac.authorization.k8s.io", "v1", "clusterroles"};
const kube::Gvr kClusterRoleBindings{"rbac.authorization.k8s.io", "v1", "clusterrolebindings"};
const kube::Gvr kJobs{"batch", "v1", "jobs"};
const kube::Gvr kPods{"", "v1", "pods"};

std::string InstallHint(const DRPlan& plan) {
  const std::string context = plan.spec.target_context.empty() ? "TARGET" : plan.spec.target_context;
  return "install the restore agent there: kubectl dr --context " + context + " agent install --plan " +
         plan.metadata.name + " (or run the agent in the plugin: --agent local --inventory-path DIR)";
}

bool Finished(const json& job, std::string_view type) {
  for (const json& c : job.value("/status/conditions"_json_pointer, json::array())) {
    if (c.value("type", "") == type && c.value("status", "") == "True") return true;
  }
  return false;
}

}  // namespace

Result<AgentIdentity> CheckAgentIdentity(kube::Client& target, const DRPlan& plan) {
  AgentIdentity id;
  id.namespace_name = plan.spec.inventory_pvc_namespace;
  id.service_account = AgentServiceAccountName(plan.metadata.name);
  const std::string where = " on the target (context " + plan.spec.target_context + ")";
  const std::string account = id.namespace_name + "/" + id.service_account;
  Result<json> sa = target.Get(kServiceAccounts, id.namespace_name, id.service_account);
  if (!sa.ok() && !sa.status().IsNotFound()) {
    return sa.status().WithContext("reading the agent's service account " + account);
  }
  const std::string role = RestoreRoleName(plan.metadata.name);
  Result<json> binding = target.Get(kClusterRoleBindings, "", role);
  if (!binding.ok() && binding.status().IsNotFound()) {
    if (!sa.ok()) {
      return Status::FailedPrecondition("the agent's service account " + account + " is not" + where + ": " +
                                        InstallHint(plan));
    }
    return Status::FailedPrecondition("the agent's service account " + account + " may not restore anything: "
                                      "clusterrolebinding " + role + " is not" + where + "; " + InstallHint(plan));
  }
  if (!binding.ok() && binding.status().code() != StatusCode::kPermissionDenied) {
    return binding.status().WithContext("reading clusterrolebinding " + role);
  }
  // Whoever runs the failover may not read RBAC: then the account must be there, and the agent's
  // own errors will say what it may not do.
  if (!binding.ok() && !sa.ok()) {
    return Status::FailedPrecondition("the agent's service account " + account + " is not" + where + ": " +
                                      InstallHint(plan));
  }
  Result<json> cr = Status::NotFound("");
  if (binding.ok()) {
    bool binds = false;
    for (const json& s : kube::FieldAt(*binding, {"subjects"}).is_array() ? kube::FieldAt(*binding, {"subjects"})
                                                                           : json::array()) {
      binds = binds || (s.value("kind", "") == "ServiceAccount" && s.value("name", "") == id.service_account &&
                        s.value("namespace", "") == id.namespace_name);
    }
    if (!binds) {
      return Status::FailedPrecondition("clusterrolebinding " + role + where + " does not bind the agent's service "
                                        "account " + account + "; " + InstallHint(plan));
    }
    const std::string role_name = kube::StringField(*binding, {"roleRef", "name"});
    cr = target.Get(kClusterRoles, "", role_name);
    if (!cr.ok() && cr.status().IsNotFound()) {
      return Status::FailedPrecondition("clusterrole " + role_name + " (bound to the agent) is not" + where + "; " +
                                        InstallHint(plan));
    }
  }
  // Installed with its namespace not on the target yet: the account is made before the first Job.
  id.service_account_exists = sa.ok();
  std::optional<std::string> image;
  if (sa.ok()) image = kube::Annotation(*sa, kAgentImageAnnotation);
  if ((!image || image->empty()) && cr.ok()) image = kube::Annotation(*cr, kAgentImageAnnotation);
  if (image && !image->empty()) {
    id.image = *image;
  } else {
    KDR_ASSIGN_OR_RETURN(id.image, AgentImage());
  }
  return id;
}

Status EnsureAgentServiceAccount(kube::Client& target, const DRPlan& plan, const AgentIdentity& id) {
  if (id.service_account_exists) return Status::Ok();
  AgentOptions o;
  o.image = id.image;
  KDR_ASSIGN_OR_RETURN(json sa, AgentServiceAccount(plan, o));
  Result<json> made = target.Create(kServiceAccounts, id.namespace_name, sa);
  if (!made.ok() && !made.status().IsAlreadyExists()) {
    return made.status().WithContext("creating the agent's service account " + id.namespace_name + "/" +
                                     id.service_account + " (agent install left it to the failover: its namespace "
                                     "was not on the target)");
  }
  return Status::Ok();
}

Result<AgentJobRun> RunAgentJob(kube::Client& target, Clock& clock, const json& job, const storage::Deadline& deadline,
                                const AgentJobOptions& options) {
  const std::string ns = kube::Namespace(job), name = kube::Name(job);
  if (ns.empty() || name.empty()) return Status::InvalidArgument("the agent's Job has no namespace or name");
  const std::string want_uid = kube::Annotation(job, kRecoveryUidAnnotation).value_or("");
  AgentJobRun run;
  run.job = ns + "/" + name;
  const std::string what = "agent job " + run.job;

  Result<json> found = target.Get(kJobs, ns, name);
  if (!found.ok() && !found.status().IsNotFound()) return found.status().WithContext("reading " + what);
  if (found.ok()) {
    const std::string got_uid = kube::Annotation(*found, kRecoveryUidAnnotation).value_or("");
    const bool stale = !want_uid.empty() && got_uid != want_uid;
    if (stale || Finished(*found, "Failed")) {
      // A new attempt (or another recovery's leftover): its pods go with it, in the background.
      kube::DeleteOptions d;
      d.propagation_policy = "Background";
      d.precondition_uid = kube::Uid(*found);
      Result<json> del = target.Delete(kJobs, ns, name, d);
      if (!del.ok() && !del.status().IsNotFound() && del.status().code() != StatusCode::kAborted) {
        return del.status().WithContext("replacing the " + std::string(stale ? "stale" : "failed") + " " + what);
      }
      storage::Backoff backoff(options.poll_interval);
      for (;;) {
        Result<json> again = target.Get(kJobs, ns, name);
        if (!again.ok() && again.status().IsNotFound()) break;
        if (!again.ok()) return again.status().WithContext("reading " + what);
        if (kube::Uid(*again) != kube::Uid(*found)) break;  // made anew meanwhile: judged below
        KDR_RETURN_IF_ERROR(storage::Pause(clock, deadline, backoff.Next(), "replacing " + what,
                                           what + " is still being deleted at the deadline"));
      }
      found = Status::NotFound(what);
    } else {
      run.reused = true;
    }
  }
  if (!found.ok()) {
    Result<json> made = target.Create(kJobs, ns, job);
    if (!made.ok() && made.status().IsAlreadyExists()) {
      // Another run made it between our read and create: the lease should prevent this, so it
      // is only ever our own earlier request that the client retried.
      run.reused = true;
    } else if (!made.ok()) {
      return made.status().WithContext("creating " + what);
    }
  }

  storage::Backoff backoff(options.poll_interval);
  for (;;) {
    Result<json> now = target.Get(kJobs, ns, name);
    if (!now.ok()) {
      if (now.status().IsNotFound()) {
        return Status::Aborted(what + " was deleted while it ran; run again to start it anew");
      }
      return now.status().WithContext("reading " + what);
    }
    kube::ListOptions lo;
    lo.label_selector = "job-name=" + name;
    Result<json> pods = target.List(kPods, ns, lo);
    if (!pods.ok()) return pods.status().WithContext("reading the pods of " + what);
    run.state = ReadAgentJobState(*now, kube::FieldAt(*pods, {"items"}));
    if (run.state.phase != AgentJobState::Phase::kRunning) return run;
    if (options.on_poll) options.on_poll();
    KDR_RETURN_IF_ERROR(storage::Pause(
        clock, deadline, backoff.Next(), "waiting for " + what,
        what + " has not finished (" + run.state.detail + "); " + options.left_running + ": kubectl -n " + ns +
            " logs job/" + name + " shows what it does"));
  }
}

}  // namespace kdr::dr
