#include "transform/vm.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "transform/apply.h"

namespace kdr::transform {
namespace {

using nlohmann::json;

json Vm(json spec) {
  return {{"apiVersion", "kubevirt.io/v1"},
          {"kind", "VirtualMachine"},
          {"metadata", {{"name", "db"}, {"namespace", "shop"}}},
          {"spec", std::move(spec)}};
}

TEST(VmPowerTest, SetsRunStrategyAndDropsLegacyRunning) {
  struct Case {
    const char* name;
    json spec;
    bool power_on;
    json want_spec;
    bool want_changed;
  } cases[] = {
      {"legacy running false, power on", {{"running", false}, {"template", json::object()}}, true,
       {{"runStrategy", "Always"}, {"template", json::object()}}, true},
      {"legacy running true, power off", {{"running", true}}, false, {{"runStrategy", "Halted"}}, true},
      {"runStrategy Always, power off", {{"runStrategy", "Always"}}, false,
       {{"runStrategy", "Halted"}}, true},
      {"runStrategy Halted, power on", {{"runStrategy", "Halted"}}, true,
       {{"runStrategy", "Always"}}, true},
      {"already on", {{"runStrategy", "Always"}}, true, {{"runStrategy", "Always"}}, false},
      {"RerunOnFailure, power off", {{"runStrategy", "RerunOnFailure"}}, false,
       {{"runStrategy", "Halted"}}, true},
      {"no spec fields", json::object(), true, {{"runStrategy", "Always"}}, true},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    json vm = Vm(c.spec);
    auto changed = ApplyVmPowerOn(c.power_on, &vm);
    ASSERT_TRUE(changed.ok()) << changed.status().message();
    EXPECT_EQ(*changed, c.want_changed);
    EXPECT_EQ(vm["spec"], c.want_spec);
  }
}

TEST(VmPowerTest, LeavesOtherKindsAlone) {
  json vmi = {{"apiVersion", "kubevirt.io/v1"}, {"kind", "VirtualMachineInstance"},
              {"spec", {{"running", true}}}};
  json other_group = {{"apiVersion", "example.com/v1"}, {"kind", "VirtualMachine"},
                      {"spec", json::object()}};
  for (json* obj : {&vmi, &other_group}) {
    json before = *obj;
    auto changed = ApplyVmPowerOn(false, obj);
    ASSERT_TRUE(changed.ok());
    EXPECT_FALSE(*changed);
    EXPECT_EQ(*obj, before);
  }
}

TEST(VmPowerTest, RejectsNonObjectSpec) {
  json vm = Vm("oops");
  auto changed = ApplyVmPowerOn(true, &vm);
  ASSERT_FALSE(changed.ok());
  EXPECT_EQ(changed.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(changed.status().message().find("spec must be an object"), std::string::npos);
}

TEST(VmPowerTest, TransformAppliesVmOptionsAfterModifiers) {
  // A modifier sets running: true; the recovery's powerOn: false still wins, atomically.
  auto m = ResourceModifiers::Parse(R"(version: v1
resourceModifierRules:
- conditions: {groupResource: virtualmachines.kubevirt.io}
  mergePatches: [{patchData: '{"spec": {"running": true}, "metadata": {"labels": {"dr": "yes"}}}'}]
)",
                                    "m");
  ASSERT_TRUE(m.ok()) << m.status().message();
  json vm = Vm({{"runStrategy", "Always"}});
  ApplyTrace trace;
  ASSERT_TRUE(TransformObject({&*m, false, nullptr}, &vm, std::nullopt, &trace).ok());
  EXPECT_EQ(vm["spec"], json({{"runStrategy", "Halted"}}));
  EXPECT_EQ(vm["metadata"]["labels"]["dr"], "yes");
  EXPECT_TRUE(trace.vm_power_changed);
}

}  // namespace
}  // namespace kdr::transform
