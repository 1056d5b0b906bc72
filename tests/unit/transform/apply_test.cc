#include "transform/apply.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "base/fs.h"
#include "base/yaml.h"
#include "testutil/testutil.h"

namespace kdr::transform {
namespace {

using nlohmann::json;

json Yaml(const std::string& text) {
  auto v = YamlToJson(text, "test");
  EXPECT_TRUE(v.ok()) << v.status().message();
  return v.ok() ? *v : json();
}

ResourceModifiers Modifiers(const std::string& text) {
  auto m = ResourceModifiers::Parse(text, "modifiers");
  EXPECT_TRUE(m.ok()) << m.status().message();
  return m.ok() ? std::move(m).value() : ResourceModifiers();
}

// Every file in tests/data/transforms/cases/ is one case: a modifier file, an input object, and
// the object wanted or the error wanted (substrings); the input must stay untouched on error.
TEST(ApplyModifiersTest, FixtureCases) {
  PosixFileSystem fs;
  auto names = fs.ListDir(testutil::DataPath("transforms/cases"));
  ASSERT_TRUE(names.ok()) << names.status().message();
  ASSERT_GE(names->size(), 10u);
  for (const auto& name : *names) {
    SCOPED_TRACE(name);
    json c = Yaml(testutil::ReadData("transforms/cases/" + name));
    auto m = ResourceModifiers::Parse(c["modifiers"].get<std::string>(), name);
    ASSERT_TRUE(m.ok()) << m.status().message();
    json obj = c["input"];
    TransformOptions options;
    options.modifiers = &*m;
    Status s = TransformObject(options, &obj);
    if (c.contains("error")) {
      ASSERT_FALSE(s.ok());
      EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
      for (const auto& want : c["error"]) {
        EXPECT_NE(s.message().find(want.get<std::string>()), std::string::npos)
            << "want " << want << " in: " << s.message();
      }
      EXPECT_EQ(obj, c["input"]) << "a failed object must be left exactly as it was";
    } else {
      ASSERT_TRUE(s.ok()) << s.message();
      EXPECT_EQ(obj, c["want"]) << obj.dump(2);
    }
  }
}

TEST(ApplyModifiersTest, NothingIsHalfApplied) {
  // Rule 0 would change replicas; rule 1 fails: the object keeps its replicas.
  auto m = Modifiers(R"(version: v1
resourceModifierRules:
- conditions: {groupResource: deployments.apps}
  patches: [{operation: replace, path: /spec/replicas, value: "1"}]
- conditions: {groupResource: deployments.apps}
  mergePatches: [{patchData: '{"metadata": {"labels": {"a": "b"}}}'}]
- conditions: {groupResource: deployments.apps}
  patches:
  - {operation: add, path: /metadata/labels/x, value: y}
  - {operation: remove, path: /spec/missing}
)");
  json obj = Yaml("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec: {replicas: 3}\n");
  const json before = obj;
  Status s = ApplyModifiers(m, "deployments.apps", &obj);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("rule 2 (patches, line 7): operation 1 (remove /spec/missing)"),
            std::string::npos)
      << s.message();
  EXPECT_EQ(obj, before);
}

TEST(ApplyModifiersTest, TraceNamesAppliedAndTestSkippedRules) {
  auto m = Modifiers(R"(version: v1
resourceModifierRules:
- conditions: {groupResource: services}
  patches:
  - {operation: test, path: /spec/type, value: LoadBalancer}
  - {operation: replace, path: /spec/type, value: ClusterIP}
- conditions: {groupResource: pods}
  patches: [{operation: add, path: /x, value: "1"}]
- conditions: {groupResource: services}
  patches: [{operation: add, path: /metadata/labels, value: '{"dr": "yes"}'}]
)");
  json obj = Yaml("apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec: {type: NodePort}\n");
  ApplyTrace trace;
  ASSERT_TRUE(TransformObject({&m, std::nullopt, nullptr}, &obj, std::nullopt, &trace).ok());
  EXPECT_EQ(trace.group_resource, "services");
  EXPECT_EQ(trace.applied, std::vector<size_t>{2});
  EXPECT_EQ(trace.skipped_by_test, std::vector<size_t>{0});
  EXPECT_EQ(obj["metadata"]["labels"]["dr"], "yes");
  EXPECT_EQ(obj["spec"]["type"], "NodePort");
}

TEST(ApplyModifiersTest, GivenGroupResourceOverridesTheBuiltInMapping) {
  auto m = Modifiers(R"(version: v1
resourceModifierRules:
- conditions: {groupResource: widgets.example.com}
  patches: [{operation: add, path: /spec/dr, value: "true"}]
)");
  json obj = Yaml("apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\nspec: {}\n");
  // The naive plural ("widgets") already matches; a REST mapper's answer wins when given.
  ASSERT_TRUE(TransformObject({&m, std::nullopt, nullptr}, &obj).ok());
  EXPECT_EQ(obj["spec"]["dr"], true);
  json other = Yaml("apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\nspec: {}\n");
  ASSERT_TRUE(TransformObject({&m, std::nullopt, nullptr}, &other, "widgetz.example.com").ok());
  EXPECT_FALSE(other["spec"].contains("dr"));
}

TEST(TransformObjectTest, RejectsObjectsWithoutApiVersionOrKind) {
  struct Case {
    const char* name;
    const char* yaml;
    const char* want;
  } cases[] = {
      {"no apiVersion", "kind: Pod\nmetadata: {name: p}\n", "object has no apiVersion:"},
      {"no kind", "apiVersion: v1\nmetadata: {name: p}\n", "object has no kind:"},
      {"neither", "metadata: {name: p}\n", "object has no apiVersion and kind"},
      {"not an object", "[1, 2]\n", "not a Kubernetes object"},
  };
  auto m = Modifiers("version: v1\nresourceModifierRules:\n- conditions: {groupResource: '**'}\n"
                     "  patches: [{operation: add, path: /x, value: y}]\n");
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    json obj = Yaml(c.yaml);
    Status s = TransformObject({&m, true, nullptr}, &obj);
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
    EXPECT_NE(s.message().find(c.want), std::string::npos) << s.message();
  }
}

TEST(ResourceMapperTest, MapsKindsToGroupResources) {
  struct Case {
    const char* api_version;
    const char* kind;
    const char* want;
  } cases[] = {
      {"v1", "PersistentVolumeClaim", "persistentvolumeclaims"},
      {"v1", "Endpoints", "endpoints"},
      {"v1", "Service", "services"},
      {"apps/v1", "Deployment", "deployments.apps"},
      {"networking.k8s.io/v1", "Ingress", "ingresses.networking.k8s.io"},
      {"networking.k8s.io/v1", "NetworkPolicy", "networkpolicies.networking.k8s.io"},
      {"storage.k8s.io/v1", "StorageClass", "storageclasses.storage.k8s.io"},
      {"kubevirt.io/v1", "VirtualMachine", "virtualmachines.kubevirt.io"},
      {"example.com/v1", "Widget", "widgets.example.com"},
      {"example.com/v1", "Policy", "policies.example.com"},
      {"example.com/v1", "Class", "classes.example.com"},
  };
  ResourceMapper mapper;
  for (const auto& c : cases) {
    SCOPED_TRACE(c.kind);
    auto gr = mapper.GroupResource(c.api_version, c.kind);
    ASSERT_TRUE(gr.ok());
    EXPECT_EQ(*gr, c.want);
  }
  EXPECT_EQ(mapper.GroupResource("", "Pod").status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace kdr::transform
