#pragma once

// The workflow's agent Jobs on the target (failover|failback|drill --agent job, DESIGN.md step 7
// and 9): the identity they run as, and one Job run to its end.
//
//   KDR_ASSIGN_OR_RETURN(AgentIdentity id, CheckAgentIdentity(target, plan));
//   AgentOptions ao; ao.image = id.image;
//   KDR_ASSIGN_OR_RETURN(json job, RestoreJob(plan, recovery, ao, {.describe = true, ...}));
//   KDR_ASSIGN_OR_RETURN(AgentJobRun run, RunAgentJob(target, clock, job, deadline));
//   if (run.state.phase == AgentJobState::Phase::kFailed) ... run.state.result, run.state.detail
//
// A Job is idempotent by name (RestoreJobName / DescribeJobName of the recovery): a run that
// finds the Job of the same recovery (kRecoveryUidAnnotation) running or complete waits for it
// or reads it, so a plugin that died while the agent worked never starts a second agent. A Job
// that failed is replaced, being a new attempt of its step; so is one left by an earlier recovery
// of the same name.

#include <chrono>
#include <functional>
#include <nlohmann/json_fwd.hpp>
#include <string>

#include "base/clock.h"
#include "base/status.h"
#include "dr/agent_job.h"
#include "dr/types.h"
#include "storage/deadline.h"

namespace kdr::kube {
class Client;
}

namespace kdr::dr {

struct AgentIdentity {
  std::string namespace_name;   // the inventory claim's: where the Jobs run
  std::string service_account;  // AgentServiceAccountName(plan)
  std::string image;            // kAgentImageAnnotation of the account, else of the ClusterRole, else AgentImage()
  // False when agent install found the inventory claim's namespace missing on the target (it is
  // one of the plan's, made by the failover): EnsureAgentServiceAccount makes the account then.
  bool service_account_exists = true;
};

// Checks that `kubectl dr agent install` left the restore identity on `target` (the plan's
// target): the ClusterRole RestoreRoleName and the ClusterRoleBinding of that name binding it to
// the agent's ServiceAccount in the inventory claim's namespace, and that account unless the
// binding is there without it (see service_account_exists). FailedPrecondition naming what is
// missing and the command that installs it; the client's error otherwise (a binding the caller
// may not read is not held against the agent, but then the account must be there).
Result<AgentIdentity> CheckAgentIdentity(kube::Client& target, const DRPlan& plan);

// Makes the agent's ServiceAccount (AgentServiceAccount, with id.image) when `id` says it is not
// there; an account made meanwhile is taken. REQUIRES: the claim's namespace exists on `target`.
Status EnsureAgentServiceAccount(kube::Client& target, const DRPlan& plan, const AgentIdentity& id);

struct AgentJobOptions {
  // The longest pause between two reads of the Job (the first ones are shorter).
  std::chrono::milliseconds poll_interval{std::chrono::seconds(1)};
  // Called between reads while the Job runs (to report progress). May be empty.
  std::function<void()> on_poll;
  // What becomes of a Job still running at the deadline, for the DeadlineExceeded message.
  std::string left_running = "it is left to run, and the next run waits for it";
};

struct AgentJobRun {
  std::string job;      // "namespace/name"
  bool reused = false;  // the Job was there already, running or complete
  AgentJobState state;  // kSucceeded or kFailed
};

// Creates `job` on `target` (or takes the one of that name, see above) and waits until it is
// Complete or Failed. The Job's failure is not an error: the state says what its pod reported.
// Errors: DeadlineExceeded at deadline.at naming what the pod is doing (the Job is left to run:
// the next run waits for it), Cancelled on deadline.stop, Aborted when the Job is deleted under
// the wait, the client's errors. REQUIRES: job is a Job object with namespace and name.
Result<AgentJobRun> RunAgentJob(kube::Client& target, Clock& clock, const nlohmann::json& job,
                                const storage::Deadline& deadline, const AgentJobOptions& options = {});

}  // namespace kdr::dr
