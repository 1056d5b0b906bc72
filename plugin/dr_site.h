#pragma once

// What the commands that work on plans and recoveries share: plans and recoveries live in the DR
// namespace of the plan's target cluster (the cluster of --context, else the current context);
// the two sites are reached through the plan's spec.sourceContext and spec.targetContext in the
// same kubeconfig.

#include <memory>
#include <string>

#include "base/env.h"
#include "base/status.h"
#include "cli/cli.h"
#include "dr/types.h"
#include "kube/client.h"

namespace kdr::plugin {

extern const kube::Gvr kPlanGvr;      // drplans.dr.kubectl-dr.dev/v1alpha1
extern const kube::Gvr kRecoveryGvr;  // drrecoveries.dr.kubectl-dr.dev/v1alpha1

// The DR namespace: -n, else kubectl-dr-system (not the context's namespace, which is the
// workloads' business).
std::string DrNamespace(const GlobalOptions& globals);

// "context \"dr-west\"", or the server URL when the config has no context name.
std::string ContextName(const kube::Client& client);

// The plan `name` in `ns`. NotFound says plans live on the target cluster and offers the nearest
// name; a cluster that does not serve DRPlans is FailedPrecondition saying to install there or to
// choose the target with --context; a plan that does not parse is InvalidArgument naming it.
Result<dr::DRPlan> ReadPlan(kube::Client& target, const std::string& ns, const std::string& name);

// A client for one of the plan's sites: `context` in the same kubeconfig as the global flags.
// Errors name the site ("the source cluster (context \"prod-east\")").
Result<std::unique_ptr<kube::Client>> SiteClient(const GlobalOptions& globals, const Env& env,
                                                 const std::string& context, const std::string& site);

}  // namespace kdr::plugin
