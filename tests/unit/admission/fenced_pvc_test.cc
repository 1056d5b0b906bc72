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
    cache_.UpsertPvc({"shop", "shop-inventory", {{std::string(dr::kFailedOverLabel), "shop-to-dr"}}, {}, ""});
    cache_.UpsertPvc({"shop", "data", {}, {}, ""});  // not fenced: forgotten
    policy_ = NewFencedPvcPolicy(&cache_, "kubectl-dr-system");
  }
  void StartFailback(std::string started_by = "", dr::RecoveryAction action = dr::RecoveryAction::kFailback,
                     dr::RecoveryPhase phase = dr::RecoveryPhase::kRunning) {
    dr::DRRecovery r;
    r.metadata.name = "shop-failback";
    r.metadata.namespace_name = "kubectl-dr-system";
    r.spec.action = action;
    r.status.phase = phase;
    r.status.started_by = std::move(started_by);
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

TEST_F(FencedPvcPolicyTest, TheUserRunningAFailbackUnfencesAndNobodyElse) {
  json review = Fixture("pvc-update.json");
  Obj(review)["metadata"]["labels"].erase(std::string(dr::kFailedOverLabel));
  review["request"]["userInfo"]["username"] = "bob";
  StartFailback("bob", dr::RecoveryAction::kFailover);
  EXPECT_FALSE(Decide(*policy_, review).allowed) << "a failover does not unfence";
  StartFailback("bob", dr::RecoveryAction::kFailback, dr::RecoveryPhase::kSucceeded);
  EXPECT_FALSE(Decide(*policy_, review).allowed) << "a finished failback no longer unfences";
  StartFailback("bob");
  EXPECT_TRUE(Decide(*policy_, review).allowed);
  review["request"]["userInfo"]["username"] = "alice";
  EXPECT_FALSE(Decide(*policy_, review).allowed) << "another user while bob's failback runs";
  review["request"]["userInfo"]["username"] = "";
  StartFailback("");
  EXPECT_FALSE(Decide(*policy_, review).allowed) << "an anonymous request never matches an empty startedBy";
}

// Edits applied to a pod spec (of a Pod or of a workload's template): each is a way of using
// the fenced claim that the node still attaches and mounts read-write, or one that is safe.
struct SpecCase {
  const char* name;
  std::function<void(json&)> edit;
  bool allowed;
  const char* want_substr;
};

const std::vector<SpecCase>& PodSpecCases() {
  static const std::vector<SpecCase> cases = {
      {"writable mount", [](json&) {}, false,
       "its volume \"inv\" (SPEC.volumes[0]) is persistentvolumeclaim shop/shop-inventory, which "
       "is fenced (failed over by plan \"shop-to-dr\"; the live copy is on the DR site); "
       "container \"app\" mounts it, but the node attaches and mounts the volume read-write"},
      {"volume declared and unused",
       [](json& spec) { spec["containers"][0].erase("volumeMounts"); }, false,
       "no container mounts it, but the node attaches every volume a pod declares read-write "
       "unless the volume source says read-only"},
      {"every container mounting read-only under a read-write source",
       [](json& spec) {
         spec["containers"][0]["volumeMounts"][0]["readOnly"] = true;
         spec["containers"].push_back({{"name", "sidecar"},
                                       {"volumeMounts", {{{"name", "inv"}, {"mountPath", "/x"}, {"readOnly", true}}}}});
       },
       false,
       "container \"app\" mounts it read-only, container \"sidecar\" mounts it read-only, but the "
       "node attaches and mounts the volume read-write"},
      {"init container",
       [](json& spec) {
         spec["containers"][0].erase("volumeMounts");
         spec["initContainers"] = {
             {{"name", "restore"}, {"volumeMounts", {{{"name", "inv"}, {"mountPath", "/x"}, {"readOnly", true}}}}}};
       },
       false, "init container \"restore\" mounts it read-only"},
      {"raw block device",
       [](json& spec) {
         spec["containers"][0].erase("volumeMounts");
         spec["containers"][0]["volumeDevices"] = {{{"name", "inv"}, {"devicePath", "/dev/x"}}};
       },
       false, "container \"app\" uses it as a raw block device"},
      {"volume source readOnly",
       [](json& spec) { spec["volumes"][0]["persistentVolumeClaim"]["readOnly"] = true; }, true, ""},
      {"volume source readOnly with a raw block device",
       [](json& spec) {
         spec["volumes"][0]["persistentVolumeClaim"]["readOnly"] = true;
         spec["containers"][0]["volumeDevices"] = {{{"name", "inv"}, {"devicePath", "/dev/x"}}};
       },
       true, ""},
      {"second volume of the fenced claim",
       [](json& spec) {
         spec["volumes"][0]["persistentVolumeClaim"]["readOnly"] = true;
         spec["volumes"].push_back(
             {{"name", "again"}, {"persistentVolumeClaim", {{"claimName", "shop-inventory"}}}});
       },
       false, "its volume \"again\" (SPEC.volumes[1])"},
      {"unfenced claim",
       [](json& spec) { spec["volumes"][0]["persistentVolumeClaim"]["claimName"] = "data"; }, true, ""},
  };
  return cases;
}

std::string Replace(std::string s, const std::string& from, const std::string& to) {
  for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size())) {
    s.replace(at, from.size(), to);
  }
  return s;
}

TEST_F(FencedPvcPolicyTest, PodDeclaringAFencedClaimWithAReadWriteSourceIsDeniedWhateverItsContainersDo) {
  for (const SpecCase& c : PodSpecCases()) {
    SCOPED_TRACE(c.name);
    json review = Fixture("pod-create.json");
    c.edit(Obj(review)["spec"]);
    Response r = Decide(*policy_, review);
    EXPECT_EQ(r.allowed, c.allowed) << r.message;
    if (c.allowed) continue;
    EXPECT_EQ(r.code, 403);
    EXPECT_EQ(r.policy, "fenced-pvc");
    EXPECT_EQ(r.message.rfind("creating pod shop/web-0 is refused: ", 0), 0u) << r.message;
    EXPECT_NE(r.message.find(Replace(c.want_substr, "SPEC", "spec")), std::string::npos) << r.message;
    EXPECT_NE(r.message.find("Set spec.volumes["), std::string::npos) << r.message;
    EXPECT_NE(r.message.find("].persistentVolumeClaim.readOnly: true (volumeMounts[].readOnly only "
                             "makes one container's view read-only)"),
              std::string::npos) << r.message;
  }
}

TEST_F(FencedPvcPolicyTest, ClaimBoundToAReadOnlyPvIsAdmittedWithAReadWriteSource) {
  cache_.UpsertPvc({"shop", "shop-inventory", {{std::string(dr::kFailedOverLabel), "shop-to-dr"}}, {}, "pv-inv"});
  json review = Fixture("pod-create.json");
  EXPECT_FALSE(Decide(*policy_, review).allowed) << "PV not known read-only yet";
  cache_.UpsertPv({"pv-inv", true});
  EXPECT_TRUE(Decide(*policy_, review).allowed);
  cache_.UpsertPv({"pv-inv", false});  // made writable again: forgotten
  EXPECT_FALSE(Decide(*policy_, review).allowed);
  cache_.UpsertPv({"pv-other", true});
  EXPECT_FALSE(Decide(*policy_, review).allowed) << "another PV's read-only source does not count";
}

TEST_F(FencedPvcPolicyTest, PodCasesOutsideTheFence) {
  std::vector<Case> cases = {
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
       false, "creating pod shop/web-* is refused"},
      {"delete allowed",
       [](json& r) {
         r["request"]["operation"] = "DELETE";
         r["request"]["oldObject"] = Obj(r);
         r["request"]["object"] = nullptr;
       },
       true, ""},
      {"status subresource allowed",
       [](json& r) {
         r["request"]["operation"] = "UPDATE";
         r["request"]["subResource"] = "status";
         r["request"]["oldObject"] = Obj(r);
       },
       true, ""},
  };
  RunCases(*policy_, "pod-create.json", cases);
}

TEST_F(FencedPvcPolicyTest, PodUpdateIsDeniedOnlyWhenItAddsAUseOfAWritableFencedVolume) {
  auto update = [](json& r) {
    r["request"]["operation"] = "UPDATE";
    r["request"]["oldObject"] = Obj(r);
  };
  auto debug = [](json& r, json mount) {
    r["request"]["subResource"] = "ephemeralcontainers";
    Obj(r)["spec"]["ephemeralContainers"] = {{{"name", "debug"}, {"volumeMounts", {std::move(mount)}}}};
  };
  std::vector<Case> cases = {
      {"metadata update of a pod that predates the fence allowed",
       [&](json& r) {
         update(r);
         Obj(r)["metadata"]["labels"] = {{"x", "y"}};
       },
       true, ""},
      {"ephemeral container mounting a declared but unused fenced volume denied",
       [&](json& r) {
         Obj(r)["spec"]["containers"][0].erase("volumeMounts");
         update(r);
         debug(r, {{"name", "inv"}, {"mountPath", "/x"}});
       },
       false,
       "updating pod shop/web-0 is refused: its volume \"inv\" (spec.volumes[0]) is "
       "persistentvolumeclaim shop/shop-inventory, which is fenced (failed over by plan "
       "\"shop-to-dr\"; the live copy is on the DR site); ephemeral container \"debug\" mounts it, "
       "but the node"},
      {"ephemeral container mounting read-only under a read-write source denied",
       [&](json& r) {
         update(r);
         debug(r, {{"name", "inv"}, {"mountPath", "/x"}, {"readOnly", true}});
       },
       false, "ephemeral container \"debug\" mounts it read-only, but the node"},
      {"ephemeral container on a read-only volume source allowed",
       [&](json& r) {
         Obj(r)["spec"]["volumes"][0]["persistentVolumeClaim"]["readOnly"] = true;
         update(r);
         debug(r, {{"name", "inv"}, {"mountPath", "/x"}});
       },
       true, ""},
      {"ephemeral container mounting nothing fenced allowed",
       [&](json& r) {
         update(r);
         Obj(r)["spec"]["volumes"].push_back({{"name", "tmp"}, {"emptyDir", json::object()}});
         Old(r)["spec"]["volumes"].push_back({{"name", "tmp"}, {"emptyDir", json::object()}});
         debug(r, {{"name", "tmp"}, {"mountPath", "/x"}});
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

struct WorkloadKind {
  const char* group;
  const char* kind;
  const char* resource;
};
constexpr WorkloadKind kWorkloadKinds[] = {
    {"apps", "Deployment", "deployments"}, {"apps", "StatefulSet", "statefulsets"},
    {"apps", "DaemonSet", "daemonsets"},   {"apps", "ReplicaSet", "replicasets"},
    {"batch", "Job", "jobs"},              {"batch", "CronJob", "cronjobs"},
    {"", "ReplicationController", "replicationcontrollers"}};

json& TemplateSpec(json& review, const std::string& kind) {
  json& spec = review["request"]["object"]["spec"];
  return kind == "CronJob" ? spec["jobTemplate"]["spec"]["template"]["spec"] : spec["template"]["spec"];
}

TEST_F(FencedPvcPolicyTest, WorkloadTemplatesFollowThePodRuleForEveryKind) {
  const json pod = Fixture("pod-create.json");
  for (const WorkloadKind& w : kWorkloadKinds) {
    const std::string kind = w.kind;
    const std::string path = kind == "CronJob" ? "spec.jobTemplate.spec.template.spec" : "spec.template.spec";
    for (const SpecCase& c : PodSpecCases()) {
      SCOPED_TRACE(kind + ": " + c.name);
      json review = Workload(pod, w.group, w.kind, w.resource);
      c.edit(TemplateSpec(review, kind));
      Response r = Decide(*policy_, review);
      EXPECT_EQ(r.allowed, c.allowed) << r.message;
      if (c.allowed) continue;
      EXPECT_EQ(r.message.rfind("creating " + ToLower(kind) + " shop/web is refused: ", 0), 0u) << r.message;
      EXPECT_NE(r.message.find(Replace(c.want_substr, "SPEC", path)), std::string::npos) << r.message;
      EXPECT_NE(r.message.find("Set " + path + ".volumes["), std::string::npos) << r.message;

      json update = review;
      update["request"]["operation"] = "UPDATE";
      update["request"]["oldObject"] = update["request"]["object"];
      EXPECT_FALSE(Decide(*policy_, update).allowed);
    }
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
}

// A Scale review as kube-apiserver sends it for `resource`/scale.
json ScaleReview(const WorkloadKind& w, long long from, long long to) {
  json review = Fixture("pod-create.json");
  json& req = review["request"];
  req["operation"] = "UPDATE";
  req["kind"] = {{"group", "autoscaling"}, {"version", "v1"}, {"kind", "Scale"}};
  req["resource"] = {{"group", w.group}, {"version", "v1"}, {"resource", w.resource}};
  req["subResource"] = "scale";
  req["name"] = "web";
  auto scale = [](long long n) {
    json s = {{"apiVersion", "autoscaling/v1"},
              {"kind", "Scale"},
              {"metadata", {{"name", "web"}, {"namespace", "shop"}}},
              {"spec", json::object()}};
    if (n > 0) s["spec"]["replicas"] = n;  // omitted at 0, as kube-apiserver does
    return s;
  };
  req["object"] = scale(to);
  req["oldObject"] = scale(from);
  return review;
}

TEST_F(FencedPvcPolicyTest, ScalingUpAWorkloadWhoseTemplateWritesAFencedClaimIsDenied) {
  const json pod = Fixture("pod-create.json");
  for (const WorkloadKind& w : kWorkloadKinds) {
    if (std::string(w.resource) == "daemonsets" || std::string(w.group) == "batch") continue;
    SCOPED_TRACE(w.kind);
    // Admitted at zero replicas (a quiesced workload), then seen by the cache.
    json created = Workload(pod, w.group, w.kind, w.resource);
    created["request"]["object"]["spec"]["replicas"] = 0;
    ASSERT_TRUE(Decide(*policy_, created).allowed);
    Result<WorkloadInfo> info = WorkloadInfoFromJson(w.resource, created["request"]["object"]);
    ASSERT_TRUE(info.ok()) << info.status().ToString();
    cache_.UpsertWorkload(*info);

    Response up = Decide(*policy_, ScaleReview(w, 0, 3));
    EXPECT_FALSE(up.allowed);
    EXPECT_EQ(up.policy, "fenced-pvc");
    EXPECT_NE(up.message.find("scaling " + ToLower(w.kind) + " shop/web to 3 replicas is refused: its "
                              "pod template declares persistentvolumeclaim shop/shop-inventory "
                              "with a read-write source"),
              std::string::npos) << up.message;
    EXPECT_NE(up.message.find("persistentVolumeClaim.readOnly: true"), std::string::npos);
    EXPECT_FALSE(Decide(*policy_, ScaleReview(w, 1, 2)).allowed);
    EXPECT_TRUE(Decide(*policy_, ScaleReview(w, 3, 0)).allowed) << "scaling down quiesces";
    EXPECT_TRUE(Decide(*policy_, ScaleReview(w, 2, 2)).allowed);

    // A read-only template is forgotten by the cache, and its scale-up admitted.
    TemplateSpec(created, w.kind)["volumes"][0]["persistentVolumeClaim"]["readOnly"] = true;
    info = WorkloadInfoFromJson(w.resource, created["request"]["object"]);
    ASSERT_TRUE(info.ok());
    cache_.UpsertWorkload(*info);
    EXPECT_EQ(cache_.Workload(w.resource, "shop", "web"), nullptr);
    EXPECT_TRUE(Decide(*policy_, ScaleReview(w, 0, 3)).allowed);
  }
}

TEST_F(FencedPvcPolicyTest, ScalingUpAStatefulSetWhoseClaimTemplateHitsAFencedPvcIsDenied) {
  cache_.UpsertPvc({"shop", "inv-web-1", {{std::string(dr::kFailedOverLabel), "p"}}, {}, ""});
  WorkloadInfo set{"statefulsets", "shop", "web", {}, {"inv"}};
  cache_.UpsertWorkload(set);
  Response r = Decide(*policy_, ScaleReview(kWorkloadKinds[1], 1, 2));
  EXPECT_FALSE(r.allowed);
  EXPECT_NE(r.message.find("volumeClaimTemplates \"inv\" would claim persistentvolumeclaim shop/inv-web-1"),
            std::string::npos) << r.message;
}

TEST_F(FencedPvcPolicyTest, NamespaceFenceLabelStaysWhileItHoldsAFencedPvc) {
  const std::string label(dr::kFencedLabel);
  auto ns_review = [&](json old_labels, json new_labels, const std::string& user) {
    json review = Fixture("pod-create.json");
    json& req = review["request"];
    req["operation"] = "UPDATE";
    req["kind"] = {{"group", ""}, {"version", "v1"}, {"kind", "Namespace"}};
    req["resource"] = {{"group", ""}, {"version", "v1"}, {"resource", "namespaces"}};
    req["name"] = "shop";
    req["namespace"] = "shop";
    req["userInfo"]["username"] = user;
    auto ns = [](json labels) {
      return json{{"apiVersion", "v1"}, {"kind", "Namespace"},
                  {"metadata", {{"name", "shop"}, {"labels", std::move(labels)}}}};
    };
    req["object"] = ns(std::move(new_labels));
    req["oldObject"] = ns(std::move(old_labels));
    return review;
  };
  const json fenced = {{label, "true"}, {"team", "shop"}};
  Response removed = Decide(*policy_, ns_review(fenced, {{"team", "shop"}}, "alice"));
  EXPECT_FALSE(removed.allowed);
  EXPECT_EQ(removed.policy, "fenced-pvc");
  EXPECT_EQ(removed.message,
            "removing the label dr.kubectl-dr.dev/fenced of namespace shop is refused: it holds "
            "fenced persistentvolumeclaims (shop-inventory, failed over by plan \"shop-to-dr\"), "
            "and without the label their writable mounts are no longer checked. Only kubectl dr "
            "failback (a Failback recovery running, as its user or the service account "
            "system:serviceaccount:kubectl-dr-system:kubectl-dr) may unfence it; run kubectl dr failback");
  Response changed = Decide(*policy_, ns_review(fenced, {{label, "false"}}, "alice"));
  EXPECT_FALSE(changed.allowed);
  EXPECT_EQ(changed.message.rfind("changing the label dr.kubectl-dr.dev/fenced of namespace shop", 0), 0u);

  EXPECT_TRUE(Decide(*policy_, ns_review(fenced, {{label, "true"}}, "alice")).allowed) << "other labels change";
  EXPECT_TRUE(Decide(*policy_, ns_review({{"team", "shop"}}, fenced, "alice")).allowed) << "fencing";
  EXPECT_FALSE(Decide(*policy_, ns_review(fenced, json::object(), kDrAccount)).allowed)
      << "the DR account without a failback running";
  StartFailback();
  EXPECT_TRUE(Decide(*policy_, ns_review(fenced, json::object(), kDrAccount)).allowed);
  EXPECT_FALSE(Decide(*policy_, ns_review(fenced, json::object(), "alice")).allowed);

  cache_.DeletePvc("shop", "shop-inventory");
  EXPECT_TRUE(Decide(*policy_, ns_review(fenced, json::object(), "alice")).allowed)
      << "a namespace holding no fenced pvc may drop the label";
}

TEST_F(FencedPvcPolicyTest, StatefulSetClaimTemplateCollidingWithFencedPvcDenied) {
  cache_.UpsertPvc({"shop", "inv-web-1", {{std::string(dr::kFailedOverLabel), "p"}}, {}, ""});
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
