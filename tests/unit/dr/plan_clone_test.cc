#include "dr/plan_clone.h"

#include <gtest/gtest.h>

#include <functional>
#include <nlohmann/json.hpp>

#include "base/yaml.h"
#include "kube/schema.h"
#include "testutil/testutil.h"

namespace kdr::dr {
namespace {

using nlohmann::json;
using Names = std::vector<std::string>;

json Load(const std::string& fixture) {
  auto r = YamlToJson(testutil::ReadData(fixture), fixture);
  EXPECT_TRUE(r.ok()) << r.status().message();
  return r.ok() ? *r : json();
}

DRPlan Plan(const std::string& fixture) {
  auto p = DRPlanFromJson(Load(fixture));
  EXPECT_TRUE(p.ok()) << fixture << ": " << p.status().message();
  return p.ok() ? *p : DRPlan();
}

DRRecovery Recovery(const std::string& fixture) {
  auto r = DRRecoveryFromJson(Load(fixture));
  EXPECT_TRUE(r.ok()) << fixture << ": " << r.status().message();
  return r.ok() ? *r : DRRecovery();
}

CloneRequest Request(std::string name = "shop-to-dr-2", std::string pvc = "shop-inventory-2") {
  CloneRequest r;
  r.new_name = std::move(name);
  r.inventory_pvc_name = std::move(pvc);
  return r;
}

TEST(ValidateCloneRequestTest, RejectsBadFlagsNamingThem) {
  struct Case {
    const char* name;
    std::function<void(CloneRequest&)> edit;
    const char* want;
  };
  const Case cases[] = {
      {"no name", [](CloneRequest& r) { r.new_name.clear(); }, "--name is required"},
      {"upper case name", [](CloneRequest& r) { r.new_name = "Shop"; }, "--name \"Shop\": must consist of lower case"},
      {"underscore", [](CloneRequest& r) { r.new_name = "shop_2"; }, "DNS-1123 subdomain"},
      {"leading dash", [](CloneRequest& r) { r.new_name = "-shop"; }, "start and end with an alphanumeric"},
      {"empty dot part", [](CloneRequest& r) { r.new_name = "shop..2"; }, "DNS-1123 subdomain"},
      {"too long", [](CloneRequest& r) { r.new_name = std::string(254, 'a'); }, "no more than 253 characters"},
      {"no inventory pvc", [](CloneRequest& r) { r.inventory_pvc_name.clear(); },
       "--inventory-pvc is required: a clone needs its own inventory PVC"},
      {"bad inventory pvc", [](CloneRequest& r) { r.inventory_pvc_name = "Inv"; }, "--inventory-pvc \"Inv\""},
      {"bad inventory namespace", [](CloneRequest& r) { r.inventory_pvc_namespace = "dr.system"; },
       "--inventory-namespace \"dr.system\": must consist of lower case alphanumeric characters or '-'"},
      {"both namespace flags",
       [](CloneRequest& r) {
         r.namespaces = {"shop"};
         r.exclude_namespaces = {"billing"};
       },
       "--namespaces and --exclude-namespaces cannot be used together"},
      {"bad namespace", [](CloneRequest& r) { r.namespaces = {"Shop"}; }, "--namespaces \"Shop\""},
      {"empty namespace", [](CloneRequest& r) { r.namespaces = {"shop", ""}; }, "--namespaces must not name an empty"},
      {"long namespace", [](CloneRequest& r) { r.namespaces = {std::string(64, 'n')}; }, "no more than 63"},
      {"duplicate namespace", [](CloneRequest& r) { r.namespaces = {"shop", "shop"}; },
       "--namespaces names \"shop\" twice"},
      {"bad exclusion", [](CloneRequest& r) { r.exclude_namespaces = {"a b"}; }, "--exclude-namespaces \"a b\""},
  };
  EXPECT_TRUE(ValidateCloneRequest(Request()).ok());
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    CloneRequest r = Request();
    c.edit(r);
    Status s = ValidateCloneRequest(r);
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
    EXPECT_NE(s.message().find(c.want), std::string::npos) << s.message();
  }
}

TEST(ClonePlanTest, KeepsWhatThePartialFailoverLeftOnTheSource) {
  DRPlan source = Plan("plan/spent-plan.yaml");
  auto r = ClonePlan(source, Recovery("plan/partial-failover.yaml"), {source}, Request());
  ASSERT_TRUE(r.ok()) << r.status().message();
  const DRPlan& p = r->plan;
  EXPECT_EQ(p.spec.namespaces, (Names{"payments", "billing"}));
  EXPECT_EQ(r->failed_over, Names{"shop"});
  EXPECT_EQ(r->left_out, Names{"shop"});
  EXPECT_TRUE(r->added.empty());
  EXPECT_EQ(p.metadata.name, "shop-to-dr-2");
  EXPECT_EQ(p.metadata.namespace_name, "kubectl-dr-system");
  EXPECT_EQ(p.metadata.annotations, (std::map<std::string, std::string>{{"dr.kubectl-dr.dev/cloned-from", "shop-to-dr"}}));
  EXPECT_EQ(p.metadata.labels, source.metadata.labels);
  EXPECT_EQ(p.spec.source_context, "prod-east");
  EXPECT_EQ(p.spec.target_context, "dr-west");
  EXPECT_EQ(p.spec.driver, StorageDriver::kLonghorn);
  EXPECT_EQ(p.spec.storage_parameters, source.spec.storage_parameters);
  EXPECT_EQ(p.spec.credentials_secret, "longhorn-creds");
  EXPECT_EQ(p.spec.schedule, source.spec.schedule);
  EXPECT_EQ(p.spec.inventory_pvc_namespace, "kubectl-dr-system");
  EXPECT_EQ(p.spec.inventory_pvc_name, "shop-inventory-2");
  EXPECT_FALSE(p.status.phase.has_value());
  EXPECT_TRUE(p.metadata.uid.empty() && p.metadata.resource_version.empty());

  json out = ToJson(p);
  EXPECT_FALSE(out.contains("status"));
  auto crd = YamlToJson(testutil::ReadData("../../manifests/crds/dr.kubectl-dr.dev_drplans.yaml"), "crd");
  ASSERT_TRUE(crd.ok());
  kube::SchemaOptions strict{.reject_unknown_fields = true};
  EXPECT_EQ(kube::ValidateSchema((*crd)["spec"]["versions"][0]["schema"]["openAPIV3Schema"], out, strict),
            std::vector<std::string>{});
}

TEST(ClonePlanTest, ChoosesNamespaces) {
  const DRPlan spent = Plan("plan/spent-plan.yaml");
  DRPlan ready = Plan("plan/ready-plan.yaml");
  const DRRecovery partial = Recovery("plan/partial-failover.yaml");
  const DRRecovery full = Recovery("plan/full-failover.yaml");
  struct Case {
    const char* name;
    const DRPlan* source;
    std::optional<DRRecovery> spending;
    Names namespaces;
    Names exclude;
    Names want;
    Names want_added;
  };
  const Case cases[] = {
      {"partial failover, default", &spent, partial, {}, {}, {"payments", "billing"}, {}},
      {"partial failover, exclusion", &spent, partial, {}, {"payments"}, {"billing"}, {}},
      {"excluding a failed-over namespace changes nothing", &spent, partial, {}, {"shop"},
       {"payments", "billing"}, {}},
      {"explicit subset", &spent, partial, {"billing"}, {}, {"billing"}, {}},
      {"explicit namespace outside the plan is added", &spent, partial, {"billing", "reports"}, {},
       {"billing", "reports"}, {"reports"}},
      {"all failed over, explicit new namespaces", &spent, full, {"reports"}, {}, {"reports"}, {"reports"}},
      {"ready plan keeps all", &ready, std::nullopt, {}, {}, {"orders"}, {}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    CloneRequest req = Request();
    req.namespaces = c.namespaces;
    req.exclude_namespaces = c.exclude;
    ASSERT_TRUE(ValidateCloneRequest(req).ok());
    auto r = ClonePlan(*c.source, c.spending, {spent, ready}, req);
    ASSERT_TRUE(r.ok()) << r.status().message();
    EXPECT_EQ(r->plan.spec.namespaces, c.want);
    EXPECT_EQ(r->added, c.want_added);
  }
}

TEST(ClonePlanTest, RefusesBeforeAnyWrite) {
  const DRPlan spent = Plan("plan/spent-plan.yaml");
  const DRPlan ready = Plan("plan/ready-plan.yaml");
  const DRRecovery partial = Recovery("plan/partial-failover.yaml");
  const DRRecovery full = Recovery("plan/full-failover.yaml");
  DRPlan spent_by_nobody = spent;
  spent_by_nobody.status.spent_by.clear();
  struct Case {
    const char* name;
    const DRPlan* source;
    std::optional<DRRecovery> spending;
    std::function<void(CloneRequest&)> edit;
    StatusCode want_code;
    std::vector<const char*> want;
  };
  const Case cases[] = {
      {"all failed over", &spent, full, [](CloneRequest&) {}, StatusCode::kFailedPrecondition,
       {"every namespace of plan \"shop-to-dr\" (\"shop\", \"payments\", \"billing\") was failed over by "
        "recovery \"shop-failover\"",
        "name the namespaces the clone protects with --namespaces"}},
      {"spending recovery gone", &spent, std::nullopt, [](CloneRequest&) {}, StatusCode::kFailedPrecondition,
       {"cannot tell which namespaces of plan \"shop-to-dr\" were failed over",
        "\"shop-failover\", no longer exists", "--namespaces"}},
      {"spent by nobody", &spent_by_nobody, std::nullopt, [](CloneRequest&) {}, StatusCode::kFailedPrecondition,
       {"status.spentBy is empty", "--namespaces"}},
      {"explicit failed-over namespace", &spent, partial, [](CloneRequest& r) { r.namespaces = {"billing", "shop"}; },
       StatusCode::kInvalidArgument,
       {"--namespaces \"shop\" was failed over by recovery \"shop-failover\"", "runs on the target \"dr-west\""}},
      {"reused inventory pvc", &spent, partial, [](CloneRequest& r) { r.inventory_pvc_name = "shop-inventory"; },
       StatusCode::kInvalidArgument,
       {"--inventory-pvc \"shop-inventory\" is the inventory PVC of plan \"shop-to-dr\"",
        "can no longer be written", "name a new PVC"}},
      {"reused inventory pvc named with its namespace", &spent, partial,
       [](CloneRequest& r) {
         r.inventory_pvc_name = "shop-inventory";
         r.inventory_pvc_namespace = "kubectl-dr-system";
       },
       StatusCode::kInvalidArgument, {"is the inventory PVC of plan \"shop-to-dr\""}},
      {"another plan's inventory pvc", &spent, partial, [](CloneRequest& r) { r.inventory_pvc_name = "orders-inventory"; },
       StatusCode::kInvalidArgument,
       {"PVC kubectl-dr-system/orders-inventory is already the inventory of plan \"orders-to-dr\""}},
      {"name taken", &spent, partial, [](CloneRequest& r) { r.new_name = "orders-to-dr"; }, StatusCode::kAlreadyExists,
       {"drplan \"orders-to-dr\" already exists in namespace kubectl-dr-system", "choose another --name"}},
      {"name of the source", &spent, partial, [](CloneRequest& r) { r.new_name = "shop-to-dr"; },
       StatusCode::kAlreadyExists, {"drplan \"shop-to-dr\" already exists"}},
      {"exclusion not in the plan", &spent, partial, [](CloneRequest& r) { r.exclude_namespaces = {"paymnts"}; },
       StatusCode::kInvalidArgument,
       {"--exclude-namespaces \"paymnts\" is not a namespace of plan \"shop-to-dr\"", "did you mean \"payments\""}},
      {"exclusion leaves nothing", &spent, partial,
       [](CloneRequest& r) { r.exclude_namespaces = {"payments", "billing"}; }, StatusCode::kInvalidArgument,
       {"--exclude-namespaces leaves no namespace to protect"}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    CloneRequest req = Request();
    c.edit(req);
    ASSERT_TRUE(ValidateCloneRequest(req).ok());
    auto r = ClonePlan(*c.source, c.spending, {spent, ready}, req);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), c.want_code) << r.status().message();
    for (const char* w : c.want) EXPECT_NE(r.status().message().find(w), std::string::npos) << r.status().message();
  }
}

TEST(ClonePlanTest, SamePvcNameInAnotherNamespaceIsANewPvc) {
  const DRPlan spent = Plan("plan/spent-plan.yaml");
  CloneRequest req = Request("shop-to-dr-2", "shop-inventory");
  req.inventory_pvc_namespace = "dr-inventory";
  auto r = ClonePlan(spent, Recovery("plan/partial-failover.yaml"), {spent}, req);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->plan.spec.inventory_pvc_namespace, "dr-inventory");
  EXPECT_EQ(r->plan.spec.inventory_pvc_name, "shop-inventory");
}

TEST(RecoveredNamespacesTest, EmptyMeansAllOfThePlans) {
  const DRPlan spent = Plan("plan/spent-plan.yaml");
  EXPECT_EQ(RecoveredNamespaces(spent, Recovery("plan/full-failover.yaml")), spent.spec.namespaces);
  EXPECT_EQ(RecoveredNamespaces(spent, Recovery("plan/partial-failover.yaml")), Names{"shop"});
}

}  // namespace
}  // namespace kdr::dr
