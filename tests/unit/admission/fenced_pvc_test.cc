#include <gtest/gtest.h>

#include <functional>
#include <nlohmann/json.hpp>

#include "admission/cache.h"
#include "admission/policy.h"
#include "admission_testing.h"
#include "base/strings.h"
#include "dr/types.h"

namespace kdr::admission {
namespace {

using nlohmann::json;
using testing::Decide;
using testing::Fixture;

constexpr char kDrAccount[] = "system:serviceaccount:kubectl-dr-system:kubectl-dr";

class FencedPvcPolicyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cache_.UpsertPvc({"shop", "shop-inventory", {{std::string(dr::kFailedOverLabel), "shop-to-dr"}}, {}});
    cache_.UpsertPvc({"shop", "data", {}, {}});  // not fenced: forgotten
    policy_ = NewFencedPvcPolicy(&cache_, "kubectl-dr-system");
  }
  void StartFailback() {
    dr::DRRecovery r;
    r.metadata.name = "shop-failback";
    r.metadata.namespace_name = "kubectl-dr-system";
    r.spec.action = dr::RecoveryAction::kFailback;
    r.status.phase = dr::RecoveryPhase::kRunning;
    cache_.UpsertRecovery(r);
  }
  StateCache cache_;
  std::unique_ptr<Policy> policy_;
};

struct Case {
  const char* name;
  std::function<void(json&)> edit;  // edits the fixture review
  bool allowed;
  const char* want_substr;  // in the denial message
};

void RunCases(const Policy& policy, const char* fixture, const std::vector<Case>& cases) {
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    json review = Fixture(fixture);
    c.edit(review);
    Response r = Decide(policy, review);
    EXPECT_EQ(r.allowed, c.allowed) << r.message;
    if (!c.allowed) {
      EXPECT_EQ(r.code, 403);
      EXPECT_NE(r.message.find(c.want_substr), std::string::npos) << r.message;
      EXPECT_EQ(r.policy, "fenced-pvc");
    }
  }
}

json& Obj(json& review) { return review["request"]["object"]; }
json& Old(json& review) { return review["request"]["oldObject"]; }

TEST_F(FencedPvcPolicyTest, PvcUpdatesAndDeletes) {
  const std::string label(dr::kFailedOverLabel);
  std::vector<Case> cases = {
      {"metadata-only update allowed", [](json& r) { Obj(r)["metadata"]["annotations"] = {{"note", "x"}}; },
       true, ""},
      {"spec change denied",
       [](json& r) { Obj(r)["spec"]["resources"]["requests"]["storage"] = "2Gi"; }, false,
       "updating the spec of persistentvolumeclaim shop/shop-inventory is refused"},
      {"label removal denied",
       [&](json& r) { Obj(r)["metadata"]["labels"].erase(label); }, false,
       "removing the label dr.kubectl-dr.dev/failed-over"},
      {"label change denied",
       [&](json& r) { Obj(r)["metadata"]["labels"][label] = "other"; }, false,
       "changing the label"},
      {"label removal by dr account without failback denied",
       [&](json& r) {
         Obj(r)["metadata"]["labels"].erase(label);
         r["request"]["userInfo"]["username"] = kDrAccount;
       },
       false, "run kubectl dr failback"},
      {"unfenced pvc spec change allowed",
       [&](json& r) {
         Old(r)["metadata"]["labels"].erase(label);
         Obj(r)["metadata"]["labels"].erase(label);
         Obj(r)["spec"]["storageClassName"] = "fast";
       },
       true, ""},
      {"create of a labelled pvc allowed (restore)",
       [](json& r) {
         r["request"]["operation"] = "CREATE";
         r["request"]["oldObject"] = nullptr;
       },
       true, ""},
      {"status subresource allowed",
       [](json& r) {
         r["request"]["subResource"] = "status";
         Obj(r)["status"] = {{"phase", "Bound"}};
       },
       true, ""},
      {"delete without annotation denied",
       [](json& r) {
         r["request"]["operation"] = "DELETE";
         r["request"]["object"] = nullptr;
       },
       false, "kubectl annotate pvc -n shop shop-inventory dr.kubectl-dr.dev/allow-delete=true"},
      {"delete with annotation allowed",
       [](json& r) {
         r["request"]["operation"] = "DELETE";
         r["request"]["object"] = nullptr;
         Old(r)["metadata"]["annotations"] = {{"dr.kubectl-dr.dev/allow-delete", "true"}};
       },
       true, ""},
      {"delete with annotation not true denied",
       [](json& r) {
         r["request"]["operation"] = "DELETE";
         r["request"]["object"] = nullptr;
         Old(r)["metadata"]["annotations"] = {{"dr.kubectl-dr.dev/allow-delete", "yes"}};
       },
       false, "fenced inventory volume"},
      {"delete without oldObject falls back to the cache",
       [](json& r) {
         r["request"]["operation"] = "DELETE";
         r["request"]["object"] = nullptr;
         r["request"]["oldObject"] = nullptr;
       },
       false, "deleting persistentvolumeclaim shop/shop-inventory is refused"},
      {"delete of an unfenced pvc allowed",
       [&](json& r) {
         r["request"]["operation"] = "DELETE";
         r["request"]["name"] = "data";
         r["request"]["object"] = nullptr;
         Old(r)["metadata"]["labels"].erase(label);
       },
       true, ""},
  };
  RunCases(*policy_, "pvc-update.json", cases);
}

TEST_F(FencedPvcPolicyTest, DrServiceAccountUnfencesDuringFailback) {
  StartFailback();
  json review = Fixture("pvc-update.json");
  Obj(review)["metadata"]["labels"].erase(std::string(dr::kFailedOverLabel));
  review["request"]["userInfo"]["username"] = kDrAccount;
  EXPECT_TRUE(Decide(*policy_, review).allowed);
  review["request"]["userInfo"]["username"] = "alice";
  Response r = Decide(*policy_, review);
  EXPECT_FALSE(r.allowed);
  EXPECT_NE(r.message.find(kDrAccount), std::string::npos) << r.message;
}

TEST_F(FencedPvcPolicyTest, PodMounts) {
  std::vector<Case> cases = {
      {"writable mount denied", [](json&) {}, false,
       "creating pod shop/web-0 is refused: it mounts persistentvolumeclaim shop/shop-inventory "
       "writable (container \"app\" mounts volume \"inv\" without readOnly: true)"},
      {"volume readOnly allowed",
       [](json& r) { Obj(r)["spec"]["volumes"][0]["persistentVolumeClaim"]["readOnly"] = true; },
       true, ""},
      {"every mount readOnly allowed",
       [](json& r) { Obj(r)["spec"]["containers"][0]["volumeMounts"][0]["readOnly"] = true; },
       true, ""},
      {"one of two containers writable denied",
       [](json& r) {
         Obj(r)["spec"]["containers"][0]["volumeMounts"][0]["readOnly"] = true;
         Obj(r)["spec"]["containers"].push_back(
             {{"name", "sidecar"}, {"volumeMounts", {{{"name", "inv"}, {"mountPath", "/x"}}}}});
       },
       false, "container \"sidecar\" mounts volume \"inv\""},
      {"init container writable denied",
       [](json& r) {
         Obj(r)["spec"]["containers"][0]["volumeMounts"][0]["readOnly"] = true;
         Obj(r)["spec"]["initContainers"] = {
             {{"name", "restore"}, {"volumeMounts", {{{"name", "inv"}, {"mountPath", "/x"}}}}}};
       },
       false, "container \"restore\""},
      {"raw block device denied",
       [](json& r) {
         Obj(r)["spec"]["containers"][0].erase("volumeMounts");
         Obj(r)["spec"]["containers"][0]["volumeDevices"] = {{{"name", "inv"}, {"devicePath", "/dev/x"}}};
       },
       false, "raw block device"},
      {"declared but not mounted allowed",
       [](json& r) { Obj(r)["spec"]["containers"][0].erase("volumeMounts"); }, true, ""},
      {"unfenced claim allowed",
       [](json& r) { Obj(r)["spec"]["volumes"][0]["persistentVolumeClaim"]["claimName"] = "data"; },
       true, ""},
      {"fenced name in another namespace allowed",
       [](json& r) {
         r["request"]["namespace"] = "other";
         Obj(r)["metadata"]["namespace"] = "other";
       },
       true, ""},
      {"generateName pod named in the denial",
       [](json& r) {
         r["request"]["name"] = "";
         Obj(r)["metadata"].erase("name");
         Obj(r)["metadata"]["generateName"] = "web-";
       },
       false, "creating pod shop/web-*"},
      {"update keeping an existing writable mount allowed",
       [](json& r) {
         r["request"]["operation"] = "UPDATE";
         r["request"]["oldObject"] = Obj(r);
         Obj(r)["metadata"]["labels"] = {{"x", "y"}};
       },
       true, ""},
      {"update adding a writable mount denied",
       [](json& r) {
         r["request"]["operation"] = "UPDATE";
         r["request"]["subResource"] = "ephemeralcontainers";
         r["request"]["oldObject"] = Obj(r);
         Old(r)["spec"]["containers"][0]["volumeMounts"][0]["readOnly"] = true;
         Obj(r)["spec"]["containers"][0]["volumeMounts"][0]["readOnly"] = true;
         Obj(r)["spec"]["ephemeralContainers"] = {
             {{"name", "debug"}, {"volumeMounts", {{{"name", "inv"}, {"mountPath", "/x"}}}}}};
       },
       false, "updating pod shop/web-0 is refused"},
      {"delete allowed",
       [](json& r) {
         r["request"]["operation"] = "DELETE";
         r["request"]["oldObject"] = Obj(r);
         r["request"]["object"] = nullptr;
       },
       true, ""},
  };
  RunCases(*policy_, "pod-create.json", cases);
}

// Wraps the fixture pod's spec into a workload of the given kind.
json Workload(const json& pod_review, const std::string& group, const std::string& kind,
              const std::string& resource) {
  json review = pod_review;
  json spec = pod_review["request"]["object"]["spec"];
  json obj = {{"apiVersion", group.empty() ? "v1" : group + "/v1"},
              {"kind", kind},
              {"metadata", {{"name", "web"}, {"namespace", "shop"}}}};
  json tmpl = {{"metadata", {{"labels", {{"app", "web"}}}}}, {"spec", spec}};
  if (kind == "CronJob") {
    obj["spec"] = {{"schedule", "* * * * *"}, {"jobTemplate", {{"spec", {{"template", tmpl}}}}}};
  } else {
    obj["spec"] = {{"template", tmpl}};
  }
  review["request"]["kind"] = {{"group", group}, {"version", "v1"}, {"kind", kind}};
  review["request"]["resource"] = {{"group", group}, {"version", "v1"}, {"resource", resource}};
  review["request"]["name"] = "web";
  review["request"]["object"] = obj;
  return review;
}

TEST_F(FencedPvcPolicyTest, WorkloadTemplates) {
  const json pod = Fixture("pod-create.json");
  struct W {
    const char* group;
    const char* kind;
    const char* resource;
  } kinds[] = {{"apps", "Deployment", "deployments"},   {"apps", "StatefulSet", "statefulsets"},
               {"apps", "DaemonSet", "daemonsets"},     {"apps", "ReplicaSet", "replicasets"},
               {"batch", "Job", "jobs"},                {"batch", "CronJob", "cronjobs"},
               {"", "ReplicationController", "replicationcontrollers"}};
  for (const W& w : kinds) {
    SCOPED_TRACE(w.kind);
    json review = Workload(pod, w.group, w.kind, w.resource);
    Response denied = Decide(*policy_, review);
    EXPECT_FALSE(denied.allowed);
    EXPECT_NE(denied.message.find("creating " + ToLower(w.kind) + " shop/web is refused"),
              std::string::npos) << denied.message;
    EXPECT_NE(denied.message.find("readOnly: true"), std::string::npos);

    json ro = review;
    json& spec = std::string(w.kind) == "CronJob"
                     ? ro["request"]["object"]["spec"]["jobTemplate"]["spec"]["template"]["spec"]
                     : ro["request"]["object"]["spec"]["template"]["spec"];
    spec["volumes"][0]["persistentVolumeClaim"]["readOnly"] = true;
    EXPECT_TRUE(Decide(*policy_, ro).allowed);

    json update = review;
    update["request"]["operation"] = "UPDATE";
    update["request"]["oldObject"] = update["request"]["object"];
    EXPECT_FALSE(Decide(*policy_, update).allowed);
  }
}

TEST_F(FencedPvcPolicyTest, WorkloadsThatRunNoPodsAreAllowed) {
  const json pod = Fixture("pod-create.json");
  json deploy = Workload(pod, "apps", "Deployment", "deployments");
  deploy["request"]["object"]["spec"]["replicas"] = 0;
  EXPECT_TRUE(Decide(*policy_, deploy).allowed);
  deploy["request"]["object"]["spec"]["replicas"] = 2;
  EXPECT_FALSE(Decide(*policy_, deploy).allowed);
  json job = Workload(pod, "batch", "Job", "jobs");
  job["request"]["object"]["spec"]["suspend"] = true;
  EXPECT_TRUE(Decide(*policy_, job).allowed);
  json scale = deploy;
  scale["request"]["subResource"] = "scale";
  EXPECT_TRUE(Decide(*policy_, scale).allowed);
}

TEST_F(FencedPvcPolicyTest, StatefulSetClaimTemplateCollidingWithFencedPvcDenied) {
  cache_.UpsertPvc({"shop", "inv-web-1", {{std::string(dr::kFailedOverLabel), "p"}}, {}});
  json review = Workload(Fixture("pod-create.json"), "apps", "StatefulSet", "statefulsets");
  json& spec = review["request"]["object"]["spec"];
  spec["template"]["spec"]["volumes"] = json::array();
  spec["template"]["spec"]["containers"][0].erase("volumeMounts");
  spec["volumeClaimTemplates"] = {{{"metadata", {{"name", "inv"}}}}};
  Response r = Decide(*policy_, review);
  EXPECT_FALSE(r.allowed);
  EXPECT_NE(r.message.find("shop/inv-web-1"), std::string::npos) << r.message;
  spec["volumeClaimTemplates"][0]["metadata"]["name"] = "logs";
  EXPECT_TRUE(Decide(*policy_, review).allowed);
}

TEST_F(FencedPvcPolicyTest, UnknownKindsAndUnfencedNamespacesAreAllowedUntouched) {
  Response r = Decide(*policy_, Fixture("unknown-kind.json"));
  EXPECT_TRUE(r.allowed);
  EXPECT_TRUE(r.patch.empty());
  EXPECT_EQ(r.policy, "");
  cache_.DeletePvc("shop", "shop-inventory");
  EXPECT_TRUE(Decide(*policy_, Fixture("pod-create.json")).allowed);
}

}  // namespace
}  // namespace kdr::admission
