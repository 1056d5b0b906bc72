// WaitReady against an in-process kubesim: with its controllers reporting readiness, and without
// them where a test writes the status a real controller would (the conditions that give reasons,
// KubeVirt VMs, statuses behind their generation).

#include "dr/verify.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <stop_token>

#include "dr/types.h"
#include "workloads_fixture.h"

namespace kdr::dr {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using namespace testing;

std::string Lines(const std::vector<WorkloadReadiness>& all) {
  std::string out;
  for (const WorkloadReadiness& w : all) {
    out += w.object + " " + std::to_string(w.ready) + "/" + std::to_string(w.want) + "\n";
  }
  return out;
}

VerifyOptions Options(std::chrono::nanoseconds timeout) {
  VerifyOptions o;
  o.namespaces = {"shop"};
  o.timeout = timeout;
  return o;
}

// A claim of a class nothing provisions: it stays Pending, and so do the pods mounting it.
json UnboundClaim(const std::string& name) {
  return {{"apiVersion", "v1"}, {"kind", "PersistentVolumeClaim"},
          {"metadata", {{"name", name}, {"namespace", "shop"}}},
          {"spec", {{"accessModes", {"ReadWriteOnce"}}, {"storageClassName", "foreign"},
                    {"resources", {{"requests", {{"storage", "1Gi"}}}}}}}};
}

json Mounting(const std::string& app, const std::string& claim) {
  return PodTemplate(app, {{"containers", json::array({{{"name", "main"}, {"image", "nginx"}}})},
                           {"volumes", json::array({{{"name", "data"},
                                                     {"persistentVolumeClaim", {{"claimName", claim}}}}})}});
}

class VerifyTest : public DrOnKubesimTest {};

TEST_F(VerifyTest, WaitsUntilEveryWorkloadHasItsReplicasReady) {
  MustCreate(kDeployments, "shop", Deployment("web", 2));
  MustCreate(kDeployments, "shop", Deployment("api", std::nullopt));  // spec.replicas absent: 1
  MustCreate(kStatefulSets, "shop", StatefulSet("db", 2));
  MustCreate(kDaemonSets, "shop", DaemonSet("agent"));
  std::vector<std::vector<WorkloadReadiness>> polls;
  VerifyOptions o = Options(1h);  // readiness comes in real milliseconds; the fake clock's polls are instant
  o.progress = [&](const std::vector<WorkloadReadiness>& r) { polls.push_back(r); };
  Result<std::vector<WorkloadReadiness>> r = WaitReady(*client_, env(), o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(Lines(*r),
            "daemonset shop/agent 1/1\n"
            "deployment shop/api 1/1\n"
            "deployment shop/web 2/2\n"
            "statefulset shop/db 2/2\n");
  ASSERT_FALSE(polls.empty());
  EXPECT_EQ(Lines(polls.back()), Lines(*r));
}

TEST_F(VerifyTest, TimesOutListingEveryWorkloadNotReady) {
  // web's and db's claims never bind (no provisioner for their class): their pods stay Pending.
  // api runs.
  MustCreate(kPvcs, "shop", UnboundClaim("web-data"));
  MustCreate(kDeployments, "shop", Deployment("web", 3, json::object(), Mounting("web", "web-data")));
  MustCreate(kStatefulSets, "shop", StatefulSet("db", 1, json::array({UnboundClaim("data")})));
  MustCreate(kDeployments, "shop", Deployment("api", 1));
  ASSERT_TRUE(ReadyEventually(kDeployments, "api", 1));
  ASSERT_TRUE(Eventually([&] { return Pods("web-").size() == 3 && Pods("db-0").size() == 1; }));

  Result<std::vector<WorkloadReadiness>> r = WaitReady(*client_, env(), Options(1min));
  ASSERT_EQ(r.status().code(), StatusCode::kDeadlineExceeded) << r.status().ToString();
  EXPECT_EQ(r.status().message(),
            "timed out after 1m0s waiting for the workloads of shop to be ready: "
            "deployment shop/web: 0 of 3 ready; statefulset shop/db: 0 of 1 ready");
  EXPECT_GE(clock_.slept(), 1min);
}

TEST_F(VerifyTest, LooksAgainSoonThenBacksOffToThePollInterval) {
  // web never gets ready (its claim never binds): every pause until the deadline is recorded.
  MustCreate(kPvcs, "shop", UnboundClaim("web-data"));
  MustCreate(kDeployments, "shop", Deployment("web", 1, json::object(), Mounting("web", "web-data")));
  PauseRecordingClock clock;
  Env env{&clock, &fs_, nullptr};
  Result<std::vector<WorkloadReadiness>> r = WaitReady(*client_, env, Options(5s));
  ASSERT_EQ(r.status().code(), StatusCode::kDeadlineExceeded) << r.status().ToString();
  const std::vector<std::chrono::nanoseconds> want = {62500us, 125ms, 250ms, 500ms, 1s, 1s, 1s, 1s, 62500us};
  EXPECT_EQ(clock.pauses(), want) << Pauses(clock.pauses());
}

TEST_F(VerifyTest, WaitsOnlyForTheRecoverysWorkloads) {
  MustCreate(kDeployments, "shop",
             Deployment("api", 1, {{std::string(kRecoveryLabel), "shop-failover"}}));
  MustCreate(kPvcs, "shop", UnboundClaim("web-data"));
  MustCreate(kDeployments, "shop", Deployment("web", 1, json::object(), Mounting("web", "web-data")));
  VerifyOptions o = Options(1h);
  o.recovery = "shop-failover";
  Result<std::vector<WorkloadReadiness>> r = WaitReady(*client_, env(), o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(Lines(*r), "deployment shop/api 1/1\n");

  o.recovery = "";
  o.timeout = 10s;
  EXPECT_EQ(WaitReady(*client_, env(), o).status().code(), StatusCode::kDeadlineExceeded);
}

TEST_F(VerifyTest, BadRequests) {
  struct Case {
    const char* name;
    std::vector<std::string> namespaces;
    std::string recovery;
    std::chrono::nanoseconds timeout;
    StatusCode want_code;
    const char* want_substr;
  } cases[] = {
      {"no namespaces", {}, "", 1h, StatusCode::kInvalidArgument, "verify: no namespaces given"},
      {"not a namespace name", {"shop/web"}, "", 1h, StatusCode::kInvalidArgument,
       "verify: \"shop/web\" is not a namespace name"},
      {"a missing namespace", {"shop", "shopp"}, "", 1h, StatusCode::kNotFound,
       "namespace \"shopp\" (did you mean \"shop\"?) does not exist on "},
      {"recovery not a label value", {"shop"}, "-shop-", 1h, StatusCode::kInvalidArgument,
       "verify: recovery \"-shop-\" cannot be a value of label dr.kubectl-dr.dev/recovery"},
      {"negative timeout", {"shop"}, "", -1s, StatusCode::kInvalidArgument, "the timeout must not be negative"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    VerifyOptions o = Options(c.timeout);
    o.namespaces = c.namespaces;
    o.recovery = c.recovery;
    Result<std::vector<WorkloadReadiness>> r = WaitReady(*client_, env(), o);
    EXPECT_EQ(r.status().code(), c.want_code) << r.status().ToString();
    EXPECT_NE(r.status().message().find(c.want_substr), std::string::npos) << r.status().message();
  }
}

TEST_F(VerifyTest, StopsWhenAsked) {
  MustCreate(kPvcs, "shop", UnboundClaim("web-data"));
  MustCreate(kDeployments, "shop", Deployment("web", 1, json::object(), Mounting("web", "web-data")));
  std::stop_source stop;
  VerifyOptions o = Options(1h);
  o.progress = [&](const std::vector<WorkloadReadiness>&) { stop.request_stop(); };
  Result<std::vector<WorkloadReadiness>> r = WaitReady(*client_, env(), o, stop.get_token());
  EXPECT_EQ(r.status().code(), StatusCode::kCancelled) << r.status().ToString();
  EXPECT_NE(r.status().message().find("verify interrupted; not ready yet: deployment shop/web: 0 of 1 ready"),
            std::string::npos)
      << r.status().message();
}

// Without controllers: the statuses are what the test writes.
class VerifyStatusTest : public DrOnKubesimTest {
 protected:
  VerifyStatusTest() : DrOnKubesimTest(/*controllers=*/false) {}
};

TEST_F(VerifyStatusTest, NothingToWaitForAtZeroReplicasOrHalted) {
  MustCreate(kDeployments, "shop", Deployment("idle", 0));
  MustCreate(kStatefulSets, "shop", StatefulSet("db", 0));
  InstallKubeVirt();
  MustCreate(kVms, "shop", VirtualMachine("vm", {{"runStrategy", "Halted"}}));
  Result<std::vector<WorkloadReadiness>> r = WaitReady(*client_, env(), Options(1h));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(Lines(*r),
            "deployment shop/idle 0/0\n"
            "statefulset shop/db 0/0\n"
            "virtualmachine shop/vm 0/0\n");
  EXPECT_EQ(clock_.slept(), 0ns);
}

TEST_F(VerifyStatusTest, GivesTheReasonsTheStatusGives) {
  MustCreate(kDeployments, "shop", Deployment("web", 2));
  SetStatus(kDeployments, "web",
            {{"observedGeneration", 1}, {"replicas", 2}, {"updatedReplicas", 2}, {"readyReplicas", 1},
             {"conditions", json::array({{{"type", "Progressing"}, {"status", "False"},
                                          {"reason", "ProgressDeadlineExceeded"},
                                          {"message", "ReplicaSet \"web-5d8f\" has timed out progressing."}}})}});
  MustCreate(kDeployments, "shop", Deployment("refused", 3));
  SetStatus(kDeployments, "refused",
            {{"observedGeneration", 1},
             {"conditions", json::array({{{"type", "ReplicaFailure"}, {"status", "True"}, {"reason", "FailedCreate"},
                                          {"message", "pods \"refused-7c9d-\" is forbidden: error looking up service "
                                                      "account shop/missing: serviceaccount \"missing\" not found"}},
                                         {{"type", "Progressing"}, {"status", "True"},
                                          {"reason", "ReplicaSetUpdated"}}})}});
  MustCreate(kDeployments, "shop", Deployment("rolling", 2));
  SetStatus(kDeployments, "rolling", {{"observedGeneration", 1}, {"replicas", 3}, {"updatedReplicas", 1},
                                      {"readyReplicas", 2}});
  MustCreate(kDaemonSets, "shop", DaemonSet("agent"));  // no status yet
  InstallKubeVirt();
  MustCreate(kVms, "shop", VirtualMachine("vm", {{"runStrategy", "Always"}}));
  SetStatus(kVms, "vm", {{"printableStatus", "ErrorUnschedulable"}, {"ready", false}});
  MustCreate(kVms, "shop", VirtualMachine("vm-ok", {{"running", true}}));
  SetStatus(kVms, "vm-ok", {{"printableStatus", "Running"}, {"ready", true}});

  Result<std::vector<WorkloadReadiness>> r = WaitReady(*client_, env(), Options(10s));
  ASSERT_EQ(r.status().code(), StatusCode::kDeadlineExceeded) << r.status().ToString();
  EXPECT_EQ(r.status().message(),
            "timed out after 10s waiting for the workloads of shop to be ready: "
            "daemonset shop/agent: 0 of 0 ready (its controller has not yet observed generation 1); "
            "deployment shop/refused: 0 of 3 ready (ReplicaFailure: pods \"refused-7c9d-\" is forbidden: error "
            "looking up service account shop/missing: serviceaccount \"missing\" not found); "
            "deployment shop/rolling: 2 of 2 ready (1 of 2 updated); "
            "deployment shop/web: 1 of 2 ready (ProgressDeadlineExceeded: ReplicaSet \"web-5d8f\" has timed out "
            "progressing.); "
            "virtualmachine shop/vm: 0 of 1 ready (ErrorUnschedulable)");

  // A status from an older generation does not count, even when its numbers would.
  ASSERT_TRUE(client_->Delete(kDeployments, "shop", "refused").ok());
  SetStatus(kDaemonSets, "agent", {{"observedGeneration", 1}, {"desiredNumberScheduled", 1}, {"numberReady", 1}});
  SetStatus(kDeployments, "rolling", {{"observedGeneration", 1}, {"replicas", 2}, {"updatedReplicas", 2},
                                      {"readyReplicas", 2}});
  ASSERT_TRUE(client_->Patch(kDeployments, "shop", "web", kube::PatchType::kMergePatch,
                             {{"spec", {{"replicas", 1}}}}).ok());  // generation 2; status still says 1
  SetStatus(kVms, "vm", {{"printableStatus", "Running"}, {"ready", true}});
  r = WaitReady(*client_, env(), Options(10s));
  ASSERT_EQ(r.status().code(), StatusCode::kDeadlineExceeded) << r.status().ToString();
  EXPECT_NE(r.status().message().find("ready: deployment shop/web: 1 of 1 ready (ProgressDeadlineExceeded: "
                                      "ReplicaSet \"web-5d8f\" has timed out progressing.; its controller has "
                                      "not yet observed generation 2)"),
            std::string::npos)
      << r.status().message();
  EXPECT_EQ(r.status().message().find("agent"), std::string::npos) << r.status().message();

  SetStatus(kDeployments, "web", {{"observedGeneration", 2}, {"replicas", 1}, {"updatedReplicas", 1},
                                  {"readyReplicas", 1}});
  r = WaitReady(*client_, env(), Options(10s));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(Lines(*r),
            "daemonset shop/agent 1/1\n"
            "deployment shop/rolling 2/2\n"
            "deployment shop/web 1/1\n"
            "virtualmachine shop/vm 1/1\n"
            "virtualmachine shop/vm-ok 1/1\n");
}

}  // namespace
}  // namespace kdr::dr
