// Spent plans: the rules are documented at NewSpentPlanPolicy in policy.h.

#include <nlohmann/json.hpp>

#include "admission/cache.h"
#include "admission/policy.h"
#include "admission/review.h"
#include "base/strings.h"
#include "dr/types.h"

namespace kdr::admission {
namespace {

using nlohmann::json;

constexpr std::string_view kPolicyName = "spent-plan";

const json& Member(const json& obj, const char* key) {
  static const json kNull;  // immutable "absent"
  if (!obj.is_object()) return kNull;
  auto it = obj.find(key);
  return it == obj.end() ? kNull : *it;
}

std::string Str(const json& v) { return v.is_string() ? v.get<std::string>() : ""; }

bool FinishedPhase(const std::string& phase) { return phase == "Succeeded" || phase == "Failed"; }

std::string CloneHint(const std::string& ns, const std::string& plan) {
  std::string hint = "kubectl dr plan clone " + plan + " --name NEW --inventory-pvc NEW-PVC";
  if (ns != dr::kSystemNamespace) hint += " -n " + ns;
  return hint;
}

std::string SpentReason(const std::string& ns, const std::string& plan,
                        const std::string& spent_by, const std::string& spent_at) {
  std::string s = "plan " + Quote(plan) + " was spent by " + Quote(spent_by);
  if (!spent_at.empty()) s += " at " + spent_at;
  return s + "; clone it: " + CloneHint(ns, plan);
}

class SpentPlanPolicy final : public Policy {
 public:
  explicit SpentPlanPolicy(const StateCache* cache) : cache_(cache) {}

  Response Handle(const Request& req) const override {
    if (req.group != dr::kGroup) return Allowed();
    Response r;
    if (req.resource == dr::kRecoveryResource) {
      r = HandleRecovery(req);
    } else if (req.resource == dr::kPlanResource) {
      r = HandlePlan(req);
    } else {
      return Allowed();
    }
    r.policy = std::string(kPolicyName);
    return r;
  }

 private:
  Response HandleRecovery(const Request& req) const {
    if (req.operation != "CREATE" && req.operation != "UPDATE") {
      return Allowed("drrecovery " + ToLower(req.operation));
    }
    const json& obj = req.object();
    const json& old_obj = req.old_object();
    const std::string what = "drrecovery " + req.namespace_name + "/" + req.name;
    const std::string verb = req.operation == "CREATE" ? "creating " : "updating ";

    if (req.operation == "UPDATE") {
      const std::string old_phase = Str(Member(Member(old_obj, "status"), "phase"));
      const std::string new_phase = Str(Member(Member(obj, "status"), "phase"));
      if (FinishedPhase(old_phase) && !FinishedPhase(new_phase)) {
        return Denied("resetting the status of " + what + " is refused: it already ran (" +
                      old_phase + ") and a finished recovery cannot be re-run; create a new "
                      "DRRecovery (from a fresh plan if this one spent its plan)");
      }
    }
    const std::string plan_name = Str(Member(Member(Member(obj, "spec"), "planRef"), "name"));
    if (plan_name.empty()) return Allowed("drrecovery without planRef");
    auto plan = cache_->Plan(req.namespace_name, plan_name);
    if (plan == nullptr) {
      return WithWarnings(Allowed("plan not in cache"),
                          {"plan " + Quote(plan_name) + " not found in namespace " +
                           req.namespace_name + "; this recovery cannot run until it exists"});
    }
    if (!plan->spent()) return Allowed("plan not spent");
    const std::string reason = SpentReason(req.namespace_name, plan_name, plan->status.spent_by,
                                           plan->status.spent_at);
    if (req.operation == "CREATE") {
      return Denied(verb + what + " is refused: " + reason);
    }
    if (req.name == plan->status.spent_by) return Allowed("the recovery that spent the plan");
    if (Member(obj, "spec") == Member(old_obj, "spec") &&
        Member(obj, "status") == Member(old_obj, "status")) {
      return Allowed("metadata-only update");
    }
    return Denied(verb + what + " is refused: " + reason);
  }

  Response HandlePlan(const Request& req) const {
    if (req.operation != "UPDATE") return Allowed("drplan " + ToLower(req.operation));
    const json& obj = req.object();
    const json& old_obj = req.old_object();
    const json& old_status = Member(old_obj, "status");
    if (Str(Member(old_status, "phase")) != "Spent") return Allowed("plan not spent");
    const std::string what = "drplan " + req.namespace_name + "/" + req.name;
    const std::string reason =
        SpentReason(req.namespace_name, req.name, Str(Member(old_status, "spentBy")),
                    Str(Member(old_status, "spentAt")));
    if (req.sub_resource.empty() && Member(obj, "spec") != Member(old_obj, "spec")) {
      return Denied("changing the spec of " + what + " is refused: a spent plan is kept as "
                    "the record of its failover; " + reason);
    }
    const json& status = Member(obj, "status");
    if (Str(Member(status, "phase")) != "Spent") {
      return Denied("un-spending " + what + " (status.phase " +
                    Quote(Str(Member(status, "phase"))) + ") is refused: its inventory volume "
                    "was failed over and cannot be written on the source again; " + reason);
    }
    for (const char* field : {"spentBy", "spentAt"}) {
      if (Member(status, field) != Member(old_status, field)) {
        return Denied("changing status." + std::string(field) + " of " + what +
                      " is refused: it records which recovery spent the plan; " + reason);
      }
    }
    return Allowed("spent plan update keeps it spent");
  }

  const StateCache* const cache_;
};

}  // namespace

std::unique_ptr<Policy> NewSpentPlanPolicy(const StateCache* cache) {
  return std::make_unique<SpentPlanPolicy>(cache);
}

}  // namespace kdr::admission
