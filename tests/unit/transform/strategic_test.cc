#include "transform/strategic.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "base/yaml.h"
#include "testutil/testutil.h"

namespace kdr::transform {
namespace {

using nlohmann::json;

// Every case of tests/data/patches/strategic/: `object` patched with `patch` gives `want`, or
// fails with `error.code` and a message containing `error.contains`, leaving the object as it
// was. The wants were checked against kubectl 1.32 (`kubectl patch --local`, see
// tests/data/patches/kubectl_oracle.py); `differs_from_kubectl` explains each deliberate gap.
TEST(StrategicMergePatchTest, AppliesFixtureCases) {
  std::vector<std::filesystem::path> files;
  for (const auto& entry :
       std::filesystem::directory_iterator(testutil::DataPath("patches/strategic"))) {
    if (entry.path().extension() == ".yaml") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  ASSERT_GE(files.size(), 50u);
  int errors = 0;
  for (const auto& file : files) {
    SCOPED_TRACE(file.filename().string());
    auto c = YamlToJson(testutil::ReadData("patches/strategic/" + file.filename().string()),
                        file.string());
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    json doc = (*c)["object"];
    const json original = doc;
    Status s = ApplyStrategicMergePatch(&doc, (*c)["patch"], doc["apiVersion"].get<std::string>(),
                                        doc["kind"].get<std::string>());
    if (c->contains("want")) {
      ASSERT_TRUE(s.ok()) << s.ToString();
      EXPECT_EQ(doc, (*c)["want"]) << "got:  " << doc.dump() << "\nwant: " << (*c)["want"].dump();
    } else {
      ++errors;
      ASSERT_FALSE(s.ok()) << "got: " << doc.dump();
      EXPECT_EQ(StatusCodeName(s.code()), (*c)["error"]["code"].get<std::string>()) << s.ToString();
      EXPECT_NE(s.message().find((*c)["error"]["contains"].get<std::string>()), std::string::npos)
          << s.message();
      EXPECT_EQ(doc, original) << "a failed patch changed the object";
    }
  }
  EXPECT_GE(errors, 15);
}

TEST(StrategicMergePatchTest, KnowsTheBuiltInKinds) {
  const std::pair<const char*, const char*> known[] = {
      {"v1", "Pod"}, {"v1", "Service"}, {"v1", "PersistentVolumeClaim"},
      {"v1", "PersistentVolume"}, {"v1", "ConfigMap"}, {"v1", "Secret"},
      {"v1", "ServiceAccount"}, {"v1", "Namespace"}, {"v1", "Endpoints"}, {"v1", "Event"},
      {"v1", "PodTemplate"}, {"apps/v1", "Deployment"}, {"apps/v1", "StatefulSet"},
      {"apps/v1", "DaemonSet"}, {"apps/v1", "ReplicaSet"}, {"batch/v1", "Job"},
      {"batch/v1", "CronJob"}, {"networking.k8s.io/v1", "Ingress"},
      {"rbac.authorization.k8s.io/v1", "Role"}, {"rbac.authorization.k8s.io/v1", "RoleBinding"},
      {"rbac.authorization.k8s.io/v1", "ClusterRole"},
      {"rbac.authorization.k8s.io/v1", "ClusterRoleBinding"},
      {"storage.k8s.io/v1", "StorageClass"}, {"coordination.k8s.io/v1", "Lease"},
  };
  for (const auto& [api_version, kind] : known) {
    SCOPED_TRACE(std::string(api_version) + " " + kind);
    EXPECT_TRUE(IsStrategicMergeKnownKind(api_version, kind));
    // Every kind merges metadata.finalizers as a set and labels as a map.
    json doc = {{"apiVersion", api_version}, {"kind", kind},
                {"metadata", {{"name", "x"}, {"finalizers", {"a"}}, {"labels", {{"k", "v"}}}}}};
    json patch = {{"metadata", {{"finalizers", {"b"}}, {"labels", {{"dr", "yes"}}}}}};
    ASSERT_TRUE(ApplyStrategicMergePatch(&doc, patch, api_version, kind).ok());
    EXPECT_EQ(doc["metadata"]["finalizers"], json({"b", "a"}));
    EXPECT_EQ(doc["metadata"]["labels"], json({{"k", "v"}, {"dr", "yes"}}));
  }
  const std::pair<const char*, const char*> unknown[] = {
      {"apps/v1beta1", "Deployment"}, {"v1", "Deployment"}, {"kubevirt.io/v1", "VirtualMachine"},
      {"dr.kubectl-dr.dev/v1alpha1", "DRPlan"}, {"longhorn.io/v1beta2", "Volume"}, {"", ""},
  };
  for (const auto& [api_version, kind] : unknown) {
    SCOPED_TRACE(std::string(api_version) + " " + kind);
    EXPECT_FALSE(IsStrategicMergeKnownKind(api_version, kind));
    json doc = {{"apiVersion", api_version}, {"kind", kind}, {"spec", {{"a", 1}}}};
    Status s = ApplyStrategicMergePatch(&doc, {{"spec", {{"a", 2}}}}, api_version, kind);
    EXPECT_EQ(s.code(), StatusCode::kUnimplemented);
    EXPECT_NE(s.message().find("use a JSON merge patch"), std::string::npos);
    EXPECT_EQ(doc["spec"]["a"], 1);
  }
}

TEST(StrategicMergePatchTest, RejectsNonObjectDocumentAndPatch) {
  struct Case {
    const char* name;
    json doc;
    json patch;
    const char* want;
  } cases[] = {
      {"array patch", json::object(), json::array(), "must be a JSON object, not array"},
      {"string patch", json::object(), "x", "must be a JSON object, not string"},
      {"null patch", json::object(), nullptr, "must be a JSON object, not null"},
      {"array document", json::array(), json::object(), "applies to an object, not array"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    json doc = c.doc;
    Status s = ApplyStrategicMergePatch(&doc, c.patch, "v1", "ConfigMap");
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
    EXPECT_NE(s.message().find(c.want), std::string::npos) << s.message();
  }
}

// Applying the same merge twice gives the same object: keyed merges do not duplicate items.
TEST(StrategicMergePatchTest, ReapplyingAMergePatchChangesNothing) {
  auto c = YamlToJson(testutil::ReadData("patches/strategic/containers_merge_by_name.yaml"), "case");
  ASSERT_TRUE(c.ok());
  json doc = (*c)["object"];
  ASSERT_TRUE(ApplyStrategicMergePatch(&doc, (*c)["patch"], "apps/v1", "Deployment").ok());
  json once = doc;
  ASSERT_TRUE(ApplyStrategicMergePatch(&doc, (*c)["patch"], "apps/v1", "Deployment").ok());
  EXPECT_EQ(doc, once);
}

TEST(StrategicMergePatchTest, EmptyPatchChangesNothing) {
  json doc = {{"apiVersion", "v1"}, {"kind", "Pod"},
              {"spec", {{"containers", {{{"name", "a"}}}}}}};
  const json before = doc;
  ASSERT_TRUE(ApplyStrategicMergePatch(&doc, json::object(), "v1", "Pod").ok());
  EXPECT_EQ(doc, before);
}

}  // namespace
}  // namespace kdr::transform
