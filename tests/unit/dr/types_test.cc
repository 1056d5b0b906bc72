#include "dr/types.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "base/yaml.h"
#include "kube/schema.h"
#include "testutil/testutil.h"

namespace kdr::dr {
namespace {

using nlohmann::json;

json Load(const std::string& fixture) {
  auto r = YamlToJson(testutil::ReadData(fixture), fixture);
  EXPECT_TRUE(r.ok()) << r.status().message();
  return r.ok() ? *r : json();
}

// The fixture with the value at pointer replaced, or removed when value is null.
json Changed(const std::string& fixture, const std::string& pointer, const json& value) {
  json obj = Load(fixture);
  json::json_pointer ptr(pointer);
  if (value.is_null()) {
    obj[ptr.parent_pointer()].erase(ptr.back());
  } else {
    obj[ptr] = value;
  }
  return obj;
}

// The openAPIV3Schema of the CRD in manifests/crds/.
json CrdSchema(const std::string& file) {
  auto crd = YamlToJson(testutil::ReadData("../../manifests/crds/" + file), file);
  EXPECT_TRUE(crd.ok()) << crd.status().message();
  return (*crd)["spec"]["versions"][0]["schema"]["openAPIV3Schema"];
}

TEST(DRPlanTest, RoundTripsThroughJsonAndMatchesCrdSchema) {
  json in = Load("dr/plan.yaml");
  auto plan = DRPlanFromJson(in);
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  EXPECT_TRUE(plan->spent());
  EXPECT_EQ(plan->spec.driver, StorageDriver::kLonghorn);
  EXPECT_EQ(plan->spec.namespaces, (std::vector<std::string>{"shop", "payments"}));
  EXPECT_EQ(plan->status.conditions.at(0).observed_generation, 2);
  json out = ToJson(*plan);
  EXPECT_EQ(out, in);
  kube::SchemaOptions strict{.reject_unknown_fields = true};
  EXPECT_EQ(kube::ValidateSchema(CrdSchema("dr.kubectl-dr.dev_drplans.yaml"), out, strict),
            std::vector<std::string>{});
}

TEST(DRRecoveryTest, RoundTripsThroughJsonAndMatchesCrdSchema) {
  json in = Load("dr/recovery.yaml");
  auto rec = DRRecoveryFromJson(in);
  ASSERT_TRUE(rec.ok()) << rec.status().message();
  EXPECT_EQ(rec->spec.action, RecoveryAction::kTest);
  EXPECT_TRUE(rec->finished());
  EXPECT_EQ(rec->spec.vm_power_on, std::optional<bool>(false));
  EXPECT_EQ(rec->status.steps.at(1).state, StepState::kSkipped);
  json out = ToJson(*rec);
  EXPECT_EQ(out, in);
  kube::SchemaOptions strict{.reject_unknown_fields = true};
  EXPECT_EQ(kube::ValidateSchema(CrdSchema("dr.kubectl-dr.dev_drrecoveries.yaml"), out, strict),
            std::vector<std::string>{});
}

// --agent job: the inventory the agent read and the objects it failed to restore, kept through the
// workflow's journal writes (which write the whole status) and allowed by the CRD.
TEST(DRRecoveryTest, WhatTheAgentRecordsRoundTripsAndMatchesCrdSchema) {
  json in = Load("dr/recovery-agent-job.yaml");
  auto rec = DRRecoveryFromJson(in);
  ASSERT_TRUE(rec.ok()) << rec.status().message();
  ASSERT_TRUE(rec->status.inventory.has_value());
  EXPECT_EQ(rec->status.inventory->generation, 4);
  EXPECT_EQ(rec->status.inventory->captured_at, "2026-11-21T08:00:00Z");
  ASSERT_EQ(rec->status.inventory->volumes.size(), 2u);
  EXPECT_TRUE(rec->status.inventory->volumes[0].inventory);
  EXPECT_EQ(rec->status.inventory->volumes[1].storage.at("volume"), "pvc-1");
  ASSERT_EQ(rec->status.failures.size(), 1u);
  EXPECT_EQ(rec->status.failures[0].object, "Ingress shop/web");
  EXPECT_EQ(rec->status.failures[0].code, "invalid argument");
  EXPECT_EQ(rec->status.warnings,
            std::vector<std::string>{"PriorityClass shop-critical differs on the target: value is 10 there, 1000 in the "
                                     "inventory"});
  json out = ToJson(*rec);
  EXPECT_EQ(out, in);
  kube::SchemaOptions strict{.reject_unknown_fields = true};
  EXPECT_EQ(kube::ValidateSchema(CrdSchema("dr.kubectl-dr.dev_drrecoveries.yaml"), out, strict),
            std::vector<std::string>{});
  // The agent's progress, written as it restores, is allowed too (and not kept by the workflow).
  out["status"]["progress"] = {{"done", 3}, {"total", 12}, {"tier", "pvcs"}};
  EXPECT_EQ(kube::ValidateSchema(CrdSchema("dr.kubectl-dr.dev_drrecoveries.yaml"), out, strict),
            std::vector<std::string>{});

  json bad = in;
  bad["status"]["inventory"]["volumes"][1].erase("pvcName");
  auto refused = DRRecoveryFromJson(bad);
  EXPECT_EQ(refused.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(refused.status().message().find("status.inventory.volumes[1]"), std::string::npos)
      << refused.status().message();
  bad = in;
  bad["status"]["failures"] = "Ingress shop/web";
  EXPECT_EQ(DRRecoveryFromJson(bad).status().message(), "status.failures: must be a list");
  bad = in;
  bad["status"]["warnings"] = json::array({1});
  EXPECT_EQ(DRRecoveryFromJson(bad).status().message(), "status.warnings[0]: must be a string");
}

TEST(DRPlanTest, RejectsBadPlansNamingTheField) {
  struct Case {
    std::string name;
    std::string pointer;  // JSON pointer to change
    json value;           // nullptr removes
    std::string want;
  } cases[] = {
      {"wrong kind", "/kind", "DRRecovery", "expected dr.kubectl-dr.dev/v1alpha1, Kind=DRPlan"},
      {"no spec", "/spec", nullptr, "spec: required value"},
      {"no source", "/spec/sourceContext", nullptr, "spec.sourceContext: required value"},
      {"empty namespaces", "/spec/namespaces", json::array(), "spec.namespaces: must name at least one"},
      {"namespace not string", "/spec/namespaces/0", 7, "spec.namespaces[0]: must be a string"},
      {"no pvc name", "/spec/inventory/pvcName", nullptr, "spec.inventory.pvcName: required value"},
      {"unknown driver", "/spec/storage/driver", "longhorm",
       "spec.storage.driver: unsupported value \"longhorm\": supported values: \"longhorn\", \"alletra\", "
       "\"none\"; did you mean \"longhorn\"?"},
      {"bad phase", "/status/phase", "Used", "status.phase: unsupported value \"Used\""},
      {"parameters not strings", "/spec/storage/parameters/x", 3, "spec.storage.parameters.x: must be a string"},
      {"no name", "/metadata/name", nullptr, "metadata.name: required value"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    json obj = Changed("dr/plan.yaml", c.pointer, c.value);
    auto r = DRPlanFromJson(obj);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(r.status().message().find(c.want), std::string::npos) << r.status().message();
  }
}

TEST(DRRecoveryTest, RejectsBadRecoveriesNamingTheField) {
  struct Case {
    std::string name;
    std::string pointer;
    json value;
    std::string want;
  } cases[] = {
      {"unknown action", "/spec/action", "Failback2", "spec.action: unsupported value \"Failback2\""},
      {"no plan", "/spec/planRef", nullptr, "spec.planRef: required value"},
      {"power not bool", "/spec/transforms/vm/powerOn", "yes", "spec.transforms.vm.powerOn: must be true or false"},
      {"mapping on failover", "/spec/action", "Failover", "spec.namespaceMapping: only a Test"},
      {"bad step state", "/status/steps/0/state", "Done", "status.steps[0].state: unsupported value \"Done\""},
      {"configmap without name", "/spec/transforms/resourceModifiers/configMapRef/name", nullptr,
       "spec.transforms.resourceModifiers.configMapRef.name: required value"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    json obj = Changed("dr/recovery.yaml", c.pointer, c.value);
    auto r = DRRecoveryFromJson(obj);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(r.status().message().find(c.want), std::string::npos) << r.status().message();
  }
}

TEST(CrdSchemaTest, RejectsWhatTheApiServerWouldReject) {
  json schema = CrdSchema("dr.kubectl-dr.dev_drplans.yaml");
  struct Case {
    std::string name;
    std::string pointer;
    json value;
    std::string want;
  } cases[] = {
      {"enum", "/spec/storage/driver", "nfs",
       "spec.storage.driver: Unsupported value: \"nfs\": supported values: \"longhorn\", \"alletra\", \"none\""},
      {"required", "/spec/inventory", nullptr, "spec.inventory: Required value"},
      {"pattern", "/spec/namespaces/0", "Shop_1",
       "spec.namespaces[0]: Invalid value: \"Shop_1\": spec.namespaces[0] in body should match"},
      {"type", "/spec/sourceContext", 5,
       "spec.sourceContext: Invalid value: \"integer\": spec.sourceContext in body must be of type string"},
      {"min items", "/spec/namespaces", json::array(), "spec.namespaces in body should have at least 1 items"},
      {"date-time", "/status/spentAt", "yesterday", "status.spentAt in body must be of type date-time"},
      {"schedule pattern", "/spec/schedule", "every day", "spec.schedule in body should match"},
      {"unknown field", "/spec/sourceCluster", "x", "spec.sourceCluster: unknown field"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    json obj = Changed("dr/plan.yaml", c.pointer, c.value);
    auto errors = kube::ValidateSchema(schema, obj, {.reject_unknown_fields = true});
    ASSERT_FALSE(errors.empty());
    bool found = false;
    for (const auto& e : errors) found = found || e.find(c.want) != std::string::npos;
    EXPECT_TRUE(found) << errors[0];
  }
}

}  // namespace
}  // namespace kdr::dr
