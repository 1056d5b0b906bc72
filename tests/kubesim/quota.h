#pragma once

// ResourceQuota as kube-apiserver's quota admission and kube-controller-manager's
// resourcequota controller evaluate it (pkg/quota/v1/evaluator/core, the generic count/
// evaluator, pkg/controller/resourcequota).
//
// What an object charges against a quota resource name:
//   count/<resource>[.<group>]   1 for any object of that resource
//   pods configmaps secrets services persistentvolumeclaims replicationcontrollers
//   resourcequotas               1 for an object of that core resource (pods: not Succeeded or
//                                Failed, the phases the quota stops charging)
//   services.nodeports           the ports of a NodePort or LoadBalancer Service
//   services.loadbalancers       1 for a LoadBalancer Service
//   requests.storage, <class>.storageclass.storage.k8s.io/{requests.storage,
//   persistentvolumeclaims}      a claim's spec.resources.requests.storage, or 1
//   cpu memory ephemeral-storage (= requests.*), requests.<r>, limits.<r>
//                                a pod's: the sum over its containers, or the largest init
//                                container's when more (a request missing where the limit is
//                                set reads as the limit, as API defaulting makes it)
//
// Scopes (spec.scopes and spec.scopeSelector) select pods only: Terminating (spec.
// activeDeadlineSeconds set), NotTerminating, BestEffort (no cpu or memory request or limit in any
// container), NotBestEffort, PriorityClass (In, NotIn, Exists, DoesNotExist on spec.
// priorityClassName). A scoped quota charges nothing for other resources.
//
// Thread-safe: pure functions over JSON, and a controller that owns its thread.

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "quantity.h"
#include "registry.h"

namespace kdr {
class Logger;
}

namespace kdr::kubesim {

class Store;

// What `object` (of resource gr) charges against the quota resource `name`; nullopt when `name`
// does not count objects of gr.
std::optional<Quantity> QuotaCharge(const std::string& name, const GroupResource& gr, const nlohmann::json& object);

// True when `quota`'s scopes select `object` (of resource gr): unscoped quotas select every
// object, scoped ones only pods that match every scope.
bool QuotaSelects(const nlohmann::json& quota, const GroupResource& gr, const nlohmann::json& object);

// The resource a quota name counts objects of: pods for cpu and memory names, services for
// services.*, persistentvolumeclaims for the storage names, the named resource for count/...;
// nullopt for a name kubesim does not evaluate.
std::optional<GroupResource> QuotaCountedResource(const std::string& name);

// kube's "must specify" constraint: the compute names of `quota`'s spec.hard (requests.cpu,
// limits.memory, cpu...) a pod's containers do not all set, as "cpu for: a; limits.cpu for: a,b"
// (names and containers sorted); "" when the pod sets them all or the quota does not select it.
std::string QuotaMissingRequirements(const nlohmann::json& quota, const nlohmann::json& pod);

// status.used of `quota` as the controller computes it from what the store holds: every name of
// spec.hard that kubesim evaluates and whose resource is served (a count/ of an unknown resource
// is left out, as the controller leaves it out).
nlohmann::json QuotaUsage(const Store& store, const nlohmann::json& quota);

// The resourcequota controller: keeps every quota's status.hard (spec.hard) and status.used
// (QuotaUsage) current, recomputing a namespace's quotas whenever anything in it changes.
class QuotaController {
 public:
  // Starts the controller's thread. The store must outlive it.
  static std::unique_ptr<QuotaController> Start(Store* store, Logger* logger);
  ~QuotaController();
  QuotaController(const QuotaController&) = delete;
  QuotaController& operator=(const QuotaController&) = delete;
  // Stops and joins the thread (idempotent).
  void Stop();

 private:
  struct State;
  explicit QuotaController(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace kdr::kubesim
