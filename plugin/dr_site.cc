#include "dr_site.h"

#include <nlohmann/json.hpp>

#include "base/strings.h"
#include "kube_context.h"

namespace kdr::plugin {

using nlohmann::json;

const kube::Gvr kPlanGvr{std::string(dr::kGroup), std::string(dr::kVersion), std::string(dr::kPlanResource)};
const kube::Gvr kRecoveryGvr{std::string(dr::kGroup), std::string(dr::kVersion),
                             std::string(dr::kRecoveryResource)};

std::string DrNamespace(const GlobalOptions& g) {
  return g.namespace_name.empty() ? std::string(dr::kSystemNamespace) : g.namespace_name;
}

std::string ContextName(const kube::Client& client) {
  const kube::RestConfig& c = client.config();
  return c.context.empty() ? c.server : "context " + Quote(c.context);
}

Result<dr::DRPlan> ReadPlan(kube::Client& target, const std::string& ns, const std::string& name) {
  Result<json> obj = target.Get(kPlanGvr, ns, name);
  if (!obj.ok()) {
    if (!obj.status().IsNotFound()) return obj.status().WithContext("reading drplan " + ns + "/" + name);
    Result<json> list = target.List(kPlanGvr, ns);
    if (!list.ok() && list.status().IsNotFound()) {
      return Status::FailedPrecondition("the cluster of " + ContextName(target) + " does not serve " +
                                        std::string(dr::kPlanResource) + "." + std::string(dr::kGroup) +
                                        ": install kubectl-dr there first (kubectl dr install), or "
                                        "choose the target cluster with --context");
    }
    std::vector<std::string> names;
    if (list.ok() && list->contains("items") && (*list)["items"].is_array()) {
      for (const json& p : (*list)["items"]) names.push_back(kube::StringField(p, {"metadata", "name"}));
    }
    return Status::NotFound("drplan " + Quote(name) + " not found in namespace " + ns +
                            " of the current context; plans live on the target cluster: choose it "
                            "with --context" + DidYouMean(name, names));
  }
  Result<dr::DRPlan> plan = dr::DRPlanFromJson(*obj);
  if (!plan.ok()) return plan.status().WithContext("reading drplan " + ns + "/" + name);
  return plan;
}

Result<std::unique_ptr<kube::Client>> SiteClient(const GlobalOptions& globals, const Env& env,
                                                 const std::string& context, const std::string& site) {
  GlobalOptions g = globals;
  g.context = context;
  Result<std::unique_ptr<kube::Client>> client = ClientFromGlobals(g, env);
  if (!client.ok()) return client.status().WithContext("reaching the " + site + " (context " + Quote(context) + ")");
  return client;
}

}  // namespace kdr::plugin
