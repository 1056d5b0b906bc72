// Quiesce and Unquiesce against an in-process kubesim whose controllers make the pods and take
// them away again.

#include "dr/quiesce.h"

#include <gtest/gtest.h>

#include <functional>
#include <nlohmann/json.hpp>
#include <stop_token>

#include "kube/credentials.h"
#include "kube/transport_https.h"
#include "workloads_fixture.h"

namespace kdr::dr {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using namespace testing;

const std::string kReplicas(kReplicasAnnotation);
const std::string kRunStrategy(kRunStrategyAnnotation);

std::string Changes(const QuiesceResult& r) {
  std::string out;
  for (const QuiesceChange& c : r.changes) out += c.object + ": " + c.change + "\n";
  return out;
}

// Records the writes a client sends ("PATCH /apis/apps/v1/namespaces/shop/deployments/web"), and
// runs `before` once, just before the first request with the given method and path.
class RecordingTransport final : public kube::Transport {
 public:
  explicit RecordingTransport(std::unique_ptr<kube::Transport> inner) : inner_(std::move(inner)) {}

  void Before(std::string method, std::string path, std::function<void()> hook) {
    method_ = std::move(method);
    path_ = std::move(path);
    before_ = std::move(hook);
  }

  Result<kube::HttpResponse> Send(const kube::HttpRequest& request) override {
    const std::string path = request.path.substr(0, request.path.find('?'));
    if (before_ && request.method == method_ && path == path_) {
      std::function<void()> once = std::move(before_);
      before_ = nullptr;
      once();
    }
    if (request.method != "GET") writes_.push_back(request.method + " " + path);
    return inner_->Send(request);
  }
  const std::string& base_url() const override { return inner_->base_url(); }

  // The writes whose path contains `part`.
  std::vector<std::string> Writes(const std::string& part = "") const {
    std::vector<std::string> out;
    for (const std::string& w : writes_) {
      if (w.find(part) != std::string::npos) out.push_back(w);
    }
    return out;
  }

 private:
  std::unique_ptr<kube::Transport> inner_;
  std::string method_;
  std::string path_;
  std::function<void()> before_;
  std::vector<std::string> writes_;  // one client, one thread: no lock
};

class QuiesceTest : public DrOnKubesimTest {
 protected:
  // Claims bind and pods go within milliseconds of real time, but the clock's sleeps return at
  // once: a long timeout keeps the poll going until they do.
  QuiesceOptions Options(std::vector<std::string> namespaces = {"shop"}) {
    QuiesceOptions o;
    o.namespaces = std::move(namespaces);
    o.pod_timeout = 1h;
    return o;
  }

  // A client of this cluster whose requests *recorder sees. Controllers write statuses all the
  // time, so what Quiesce wrote is told by its requests, not by resourceVersions.
  std::unique_ptr<kube::Client> Recorded(RecordingTransport** recorder) {
    kube::RestConfig c = client_->config();
    auto https = kube::HttpsTransport::Create(c);
    EXPECT_TRUE(https.ok()) << https.status().ToString();
    if (!https.ok()) return nullptr;
    auto recording = std::make_unique<RecordingTransport>(std::move(https).value());
    *recorder = recording.get();
    return std::make_unique<kube::Client>(c, std::move(recording), kube::MakeCredentialProvider(c, env()), env());
  }

  // web (3 replicas), db (a StatefulSet of 2), a DaemonSet and a bare pod, all running.
  void Shop() {
    MustCreate(kDeployments, "shop", Deployment("web", 3));
    MustCreate(kStatefulSets, "shop", StatefulSet("db", 2));
    MustCreate(kDaemonSets, "shop", DaemonSet("agent"));
    MustCreate(kPods, "shop", BarePod("debug"));
    ASSERT_TRUE(ReadyEventually(kDeployments, "web", 3));
    ASSERT_TRUE(ReadyEventually(kStatefulSets, "db", 2));
    ASSERT_TRUE(ReadyEventually(kDaemonSets, "agent", 1));
  }
};

TEST_F(QuiesceTest, ScalesToZeroRemembersTheReplicasAndWaitsForThePodsToGo) {
  Shop();
  ASSERT_EQ(Pods("web-").size(), 3u);
  Result<QuiesceResult> r = Quiesce(*client_, env(), Options());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(Changes(*r),
            "deployment shop/web: 3 -> 0 replicas\n"
            "statefulset shop/db: 2 -> 0 replicas\n");
  EXPECT_EQ(Replicas(kDeployments, "web"), 0);
  EXPECT_EQ(AnnotationOf(kDeployments, "web", kReplicas), "3");
  EXPECT_EQ(Replicas(kStatefulSets, "db"), 0);
  EXPECT_EQ(AnnotationOf(kStatefulSets, "db", kReplicas), "2");
  // Returned once the workloads' pods were gone; the DaemonSet's and the bare pod stay.
  EXPECT_TRUE(Pods("web-").empty());
  EXPECT_TRUE(Pods("db-").empty());
  EXPECT_EQ(Pods("agent-").size(), 1u);
  EXPECT_EQ(Pods("debug").size(), 1u);
  EXPECT_EQ(AnnotationOf(kDaemonSets, "agent", kReplicas), "<none>");
}

TEST_F(QuiesceTest, ASecondRunKeepsTheRememberedCountAndAHandScaleIsRememberedAgain) {
  Shop();
  ASSERT_TRUE(Quiesce(*client_, env(), Options()).ok());
  RecordingTransport* recorder = nullptr;
  std::unique_ptr<kube::Client> recorded = Recorded(&recorder);
  ASSERT_NE(recorded, nullptr);
  Result<QuiesceResult> again = Quiesce(*recorded, env(), Options());
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(Changes(*again), "");
  EXPECT_EQ(AnnotationOf(kDeployments, "web", kReplicas), "3");
  EXPECT_EQ(recorder->Writes(), std::vector<std::string>()) << "nothing written";

  // Scaled up by hand since: what runs now is what a later unquiesce brings back.
  ASSERT_TRUE(client_->SetScale(kDeployments, "shop", "web", 5).ok());
  Result<QuiesceResult> third = Quiesce(*client_, env(), Options());
  ASSERT_TRUE(third.ok()) << third.status().ToString();
  EXPECT_EQ(Changes(*third), "deployment shop/web: 5 -> 0 replicas\n");
  EXPECT_EQ(AnnotationOf(kDeployments, "web", kReplicas), "5");
  EXPECT_EQ(AnnotationOf(kStatefulSets, "db", kReplicas), "2");
}

TEST_F(QuiesceTest, AWorkloadScaledBetweenTheReadAndTheWriteIsRememberedAtItsNewCount) {
  MustCreate(kDeployments, "shop", Deployment("web", 3));
  ASSERT_TRUE(ReadyEventually(kDeployments, "web", 3));
  // Someone scales web to 4 after Quiesce listed it at 3, before it writes the annotation.
  RecordingTransport* recorder = nullptr;
  std::unique_ptr<kube::Client> raced = Recorded(&recorder);
  ASSERT_NE(raced, nullptr);
  recorder->Before("PATCH", "/apis/apps/v1/namespaces/shop/deployments/web",
                   [&] { ASSERT_TRUE(client_->SetScale(kDeployments, "shop", "web", 4).ok()); });

  Result<QuiesceResult> r = Quiesce(*raced, env(), Options());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(Changes(*r), "deployment shop/web: 4 -> 0 replicas\n");
  EXPECT_EQ(AnnotationOf(kDeployments, "web", kReplicas), "4");
  EXPECT_EQ(Replicas(kDeployments, "web"), 0);
  // The annotation was written again after a 409 (more than once when the controller's status
  // writes also moved the resourceVersion on), then the scale.
  std::vector<std::string> writes = recorder->Writes("/deployments/web");
  ASSERT_GE(writes.size(), 3u);
  EXPECT_EQ(writes.back(), "PATCH /apis/apps/v1/namespaces/shop/deployments/web/scale");
  writes.pop_back();
  for (const std::string& w : writes) EXPECT_EQ(w, "PATCH /apis/apps/v1/namespaces/shop/deployments/web");
}

TEST_F(QuiesceTest, UnquiesceRestoresTheRememberedReplicasAndForgetsThem) {
  Shop();
  MustCreate(kDeployments, "shop", Deployment("idle", 0));
  MustCreate(kDeployments, "shop", Deployment("batch", 1));
  ASSERT_TRUE(Quiesce(*client_, env(), Options()).ok());
  ASSERT_TRUE(client_->SetScale(kDeployments, "shop", "batch", 2).ok());  // started by hand since

  RecordingTransport* recorder = nullptr;
  std::unique_ptr<kube::Client> recorded = Recorded(&recorder);
  ASSERT_NE(recorded, nullptr);
  Result<QuiesceResult> r = Unquiesce(*recorded, env(), Options());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  // StatefulSets (the databases) first, then Deployments.
  EXPECT_EQ(Changes(*r),
            "statefulset shop/db: 0 -> 2 replicas\n"
            "deployment shop/batch: left at 2 replicas (scaled since the quiesce; remembered 1)\n"
            "deployment shop/web: 0 -> 3 replicas\n");
  EXPECT_EQ(Replicas(kDeployments, "web"), 3);
  EXPECT_EQ(Replicas(kStatefulSets, "db"), 2);
  EXPECT_EQ(Replicas(kDeployments, "batch"), 2);
  for (const char* name : {"web", "batch", "idle"}) {
    EXPECT_EQ(AnnotationOf(kDeployments, name, kReplicas), "<none>") << name;
  }
  EXPECT_EQ(AnnotationOf(kStatefulSets, "db", kReplicas), "<none>");
  EXPECT_EQ(recorder->Writes("/idle"), std::vector<std::string>()) << "a workload without the annotation is left alone";
  EXPECT_TRUE(ReadyEventually(kDeployments, "web", 3));

  Result<QuiesceResult> again = Unquiesce(*client_, env(), Options());
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(Changes(*again), "");
}

TEST_F(QuiesceTest, UnquiesceFinishesARunThatDiedBetweenTheScaleAndTheAnnotation) {
  MustCreate(kDeployments, "shop", Deployment("web", 3));
  ASSERT_TRUE(client_->Patch(kDeployments, "shop", "web", kube::PatchType::kMergePatch,
                             {{"metadata", {{"annotations", {{kReplicas, "3"}}}}}}).ok());
  Result<QuiesceResult> r = Unquiesce(*client_, env(), Options());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(Changes(*r), "deployment shop/web: already at 3 replicas\n");
  EXPECT_EQ(AnnotationOf(kDeployments, "web", kReplicas), "<none>");
}

TEST_F(QuiesceTest, TimesOutNamingTheWorkloadsPodsThatStay) {
  // The pods carry a finalizer nothing removes: deleted, they stay (terminating).
  MustCreate(kDeployments, "shop",
             Deployment("web", 2, json::object(),
                        PodTemplate("web", json::object(), {{"finalizers", {"example.com/hold"}}})));
  json held = BarePod("debug");
  held["metadata"]["finalizers"] = {"example.com/hold"};
  MustCreate(kPods, "shop", held);  // owned by nothing: not waited for
  ASSERT_TRUE(ReadyEventually(kDeployments, "web", 2));
  const std::vector<std::string> pods = Pods("web-");
  ASSERT_EQ(pods.size(), 2u);

  QuiesceOptions o = Options();
  o.pod_timeout = 30s;
  Result<QuiesceResult> r = Quiesce(*client_, env(), o);
  ASSERT_EQ(r.status().code(), StatusCode::kDeadlineExceeded) << r.status().ToString();
  EXPECT_NE(r.status().message().find("timed out after 30s waiting for the pods of the quiesced workloads to go; "
                                      "2 pod(s) still there: "),
            std::string::npos)
      << r.status().message();
  for (const std::string& p : pods) EXPECT_NE(r.status().message().find("shop/" + p), std::string::npos) << p;
  EXPECT_EQ(r.status().message().find("debug"), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("; the workloads stay scaled down (a pod kept by a finalizer goes once whatever set the "
                                      "finalizer removes it): run quiesce again to keep waiting"), std::string::npos);
  EXPECT_GE(clock_.slept(), 30s);
  EXPECT_EQ(Replicas(kDeployments, "web"), 0) << "the workload stays scaled down";
  EXPECT_EQ(AnnotationOf(kDeployments, "web", kReplicas), "2");

  // Once the controller has deleted them, a second run says why they stay.
  ASSERT_TRUE(Eventually([&] {
    Result<json> p = client_->Get(kPods, "shop", pods[0]);
    return p.ok() && (*p)["metadata"].contains("deletionTimestamp");
  }));
  o.pod_timeout = 5s;
  Result<QuiesceResult> again = Quiesce(*client_, env(), o);
  ASSERT_EQ(again.status().code(), StatusCode::kDeadlineExceeded) << again.status().ToString();
  EXPECT_NE(again.status().message().find("shop/" + pods[0] + " (terminating, finalizers: example.com/hold)"),
            std::string::npos)
      << again.status().message();
  EXPECT_EQ(AnnotationOf(kDeployments, "web", kReplicas), "2") << "still the count it ran with";
}

TEST_F(QuiesceTest, LooksForThePodsAgainSoonThenBacksOffToThePollInterval) {
  // The pod carries a finalizer nothing removes: it stays, and every pause until the deadline is
  // recorded.
  MustCreate(kDeployments, "shop",
             Deployment("web", 1, json::object(),
                        PodTemplate("web", json::object(), {{"finalizers", {"example.com/hold"}}})));
  ASSERT_TRUE(ReadyEventually(kDeployments, "web", 1));
  PauseRecordingClock clock;
  Env env{&clock, &fs_, nullptr};
  QuiesceOptions o = Options();
  o.pod_timeout = 5s;
  Result<QuiesceResult> r = Quiesce(*client_, env, o);
  ASSERT_EQ(r.status().code(), StatusCode::kDeadlineExceeded) << r.status().ToString();
  const std::vector<std::chrono::nanoseconds> want = {62500us, 125ms, 250ms, 500ms, 1s, 1s, 1s, 1s, 62500us};
  EXPECT_EQ(clock.pauses(), want) << Pauses(clock.pauses());
}

TEST_F(QuiesceTest, HaltsVirtualMachinesRemembersHowTheyRanAndWaitsForTheirLauncherPods) {
  InstallKubeVirt();
  json a = MustCreate(kVms, "shop", VirtualMachine("vm-a", {{"runStrategy", "RerunOnFailure"}}));
  MustCreate(kVms, "shop", VirtualMachine("vm-b", {{"running", true}}));
  MustCreate(kVms, "shop", VirtualMachine("vm-c", {{"runStrategy", "Halted"}}));
  // What KubeVirt would run for vm-a: its instance and the instance's virt-launcher pod, which
  // nothing here stops.
  json vmi = {{"apiVersion", "kubevirt.io/v1"}, {"kind", "VirtualMachineInstance"},
              {"metadata", {{"name", "vm-a"}, {"namespace", "shop"}}}, {"spec", json::object()}};
  vmi["metadata"]["ownerReferences"] = BarePod("x", a)["metadata"]["ownerReferences"];
  json instance = MustCreate(kVmis, "shop", vmi);
  MustCreate(kPods, "shop", BarePod("virt-launcher-vm-a-x7k2p", instance));

  QuiesceOptions o = Options();
  o.pod_timeout = 10s;
  Result<QuiesceResult> r = Quiesce(*client_, env(), o);
  ASSERT_EQ(r.status().code(), StatusCode::kDeadlineExceeded) << r.status().ToString();
  EXPECT_NE(r.status().message().find("1 pod(s) still there: shop/virt-launcher-vm-a-x7k2p"), std::string::npos)
      << r.status().message();
  EXPECT_EQ(Get(kVms, "vm-a")["spec"]["runStrategy"], "Halted");
  EXPECT_EQ(AnnotationOf(kVms, "vm-a", kRunStrategy), "runStrategy=RerunOnFailure");
  EXPECT_EQ(Get(kVms, "vm-b")["spec"]["running"], false);
  EXPECT_FALSE(Get(kVms, "vm-b")["spec"].contains("runStrategy")) << "KubeVirt refuses both fields";
  EXPECT_EQ(AnnotationOf(kVms, "vm-b", kRunStrategy), "running=true");
  EXPECT_EQ(AnnotationOf(kVms, "vm-c", kRunStrategy), "<none>");

  // KubeVirt stops the instance; the second run finds nothing left to halt.
  ASSERT_TRUE(client_->Delete(kPods, "shop", "virt-launcher-vm-a-x7k2p").ok());
  Result<QuiesceResult> again = Quiesce(*client_, env(), o);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(Changes(*again), "");

  const std::string c = Version(kVms, "vm-c");
  Result<QuiesceResult> back = Unquiesce(*client_, env(), o);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(Changes(*back),
            "virtualmachine shop/vm-a: runStrategy Halted -> RerunOnFailure\n"
            "virtualmachine shop/vm-b: running false -> true\n");
  EXPECT_EQ(Get(kVms, "vm-a")["spec"]["runStrategy"], "RerunOnFailure");
  EXPECT_EQ(Get(kVms, "vm-b")["spec"]["running"], true);
  EXPECT_EQ(AnnotationOf(kVms, "vm-a", kRunStrategy), "<none>");
  EXPECT_EQ(AnnotationOf(kVms, "vm-b", kRunStrategy), "<none>");
  EXPECT_EQ(Version(kVms, "vm-c"), c);
}

TEST_F(QuiesceTest, DryRunChangesNothingAndDoesNotWait) {
  Shop();
  QuiesceOptions o = Options();
  o.dry_run = true;
  Result<QuiesceResult> r = Quiesce(*client_, env(), o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(Changes(*r),
            "deployment shop/web: 3 -> 0 replicas\n"
            "statefulset shop/db: 2 -> 0 replicas\n");
  EXPECT_EQ(Replicas(kDeployments, "web"), 3);
  EXPECT_EQ(AnnotationOf(kDeployments, "web", kReplicas), "<none>");
  EXPECT_EQ(clock_.slept(), 0ns);

  ASSERT_TRUE(Quiesce(*client_, env(), Options()).ok());
  Result<QuiesceResult> back = Unquiesce(*client_, env(), o);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(Changes(*back),
            "statefulset shop/db: 0 -> 2 replicas\n"
            "deployment shop/web: 0 -> 3 replicas\n");
  EXPECT_EQ(Replicas(kDeployments, "web"), 0);
  EXPECT_EQ(AnnotationOf(kDeployments, "web", kReplicas), "3");
}

TEST_F(QuiesceTest, BadRequestsChangeNothing) {
  MustCreate(kDeployments, "shop", Deployment("web", 3));
  struct Case {
    const char* name;
    std::vector<std::string> namespaces;
    std::chrono::nanoseconds timeout;
    StatusCode want_code;
    const char* want_substr;
  } cases[] = {
      {"no namespaces", {}, 1h, StatusCode::kInvalidArgument, "quiesce: no namespaces given"},
      {"not a namespace name", {"shop", "Shop"}, 1h, StatusCode::kInvalidArgument,
       "quiesce: \"Shop\" is not a namespace name (a lowercase RFC 1123 label)"},
      {"a missing namespace", {"shop", "shopp"}, 1h, StatusCode::kNotFound,
       "namespace \"shopp\" (did you mean \"shop\"?) does not exist on https://127.0.0.1:"},
      {"two missing namespaces", {"orders", "shop", "payments"}, 1h, StatusCode::kNotFound,
       "namespaces \"orders\", \"payments\" do not exist on "},
      {"negative timeout", {"shop"}, -1s, StatusCode::kInvalidArgument, "the pod timeout must not be negative"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    QuiesceOptions o = Options(c.namespaces);
    o.pod_timeout = c.timeout;
    Result<QuiesceResult> r = Quiesce(*client_, env(), o);
    EXPECT_EQ(r.status().code(), c.want_code) << r.status().ToString();
    EXPECT_NE(r.status().message().find(c.want_substr), std::string::npos) << r.status().message();
    Result<QuiesceResult> u = Unquiesce(*client_, env(), o);
    EXPECT_EQ(u.status().code(), c.want_code) << u.status().ToString();
    if (c.want_code == StatusCode::kNotFound) {
      EXPECT_NE(r.status().message().find("; nothing was changed"), std::string::npos) << r.status().message();
    }
  }
  EXPECT_EQ(Replicas(kDeployments, "web"), 3);
  EXPECT_EQ(AnnotationOf(kDeployments, "web", kReplicas), "<none>");

  // Cancelled before the first write.
  std::stop_source stop;
  stop.request_stop();
  Result<QuiesceResult> r = Quiesce(*client_, env(), Options(), stop.get_token());
  EXPECT_EQ(r.status().code(), StatusCode::kCancelled) << r.status().ToString();
  EXPECT_NE(r.status().message().find("quiesce interrupted before deployment shop/web"), std::string::npos);
  EXPECT_EQ(Replicas(kDeployments, "web"), 3);
}

TEST_F(QuiesceTest, UnquiesceRefusesAnnotationsItCannotReadBeforeAnyWrite) {
  MustCreate(kDeployments, "shop", Deployment("web", 3));
  MustCreate(kDeployments, "shop", Deployment("api", 2));
  ASSERT_TRUE(Quiesce(*client_, env(), Options()).ok());
  ASSERT_TRUE(client_->Patch(kDeployments, "shop", "web", kube::PatchType::kMergePatch,
                             {{"metadata", {{"annotations", {{kReplicas, "three"}}}}}}).ok());
  InstallKubeVirt();
  json vm = VirtualMachine("vm", {{"runStrategy", "Halted"}});
  vm["metadata"]["annotations"][kRunStrategy] = "Always";
  MustCreate(kVms, "shop", vm);

  Result<QuiesceResult> r = Unquiesce(*client_, env(), Options());
  ASSERT_EQ(r.status().code(), StatusCode::kInvalidArgument) << r.status().ToString();
  EXPECT_NE(r.status().message().find("deployment shop/web: " + kReplicas + "=\"three\" is not a replica count"),
            std::string::npos)
      << r.status().message();
  EXPECT_NE(r.status().message().find("virtualmachine shop/vm: " + kRunStrategy +
                                      "=\"Always\" is neither runStrategy=STRATEGY nor running=true"),
            std::string::npos)
      << r.status().message();
  EXPECT_NE(r.status().message().find("nothing was changed"), std::string::npos);
  EXPECT_EQ(Replicas(kDeployments, "api"), 0) << "nothing restored";
  EXPECT_EQ(AnnotationOf(kDeployments, "api", kReplicas), "2");
}

}  // namespace
}  // namespace kdr::dr
