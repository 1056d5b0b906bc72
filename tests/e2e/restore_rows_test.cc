// Issue 15 end to end: the ledger, an application that meets the restore pitfalls of a real
// cluster (a finished and a running Job, a headless and a NodePort Service, an owner chain, a
// custom resource of a CRD restored with it, a ResourceQuota, a PriorityClass, an OrderedReady
// StatefulSet), failed over with the agent in the plugin and driver none; the restored objects are
// compared with the source's field by field, and the order the target saw them created in is read
// back from a watch.
//
// On the real pair no kubelet runs pods. Where a pod's progress matters (the finished Job's pod
// succeeding, each StatefulSet pod becoming Ready) the test writes the pod's status through
// pods/status as a kubelet would, and the real controllers do the rest; on kubesim the simulated
// node does it.

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "base/strings.h"
#include "e2e/harness.h"
#include "e2e/webhook_fixture.h"
#include "testutil/testutil.h"

namespace kdr::e2e {
namespace {

using nlohmann::json;
using testutil::CommandResult;

std::string RowsData(const std::string& file) { return testutil::DataPath("e2e/rows/" + file); }

constexpr auto kSettleDeadline = std::chrono::seconds(60);

// One difference between a source object and its restored copy: a JSON path ("spec.ports[0].nodePort").
struct FieldDiff {
  std::string path;
  std::string source;  // JSON text, "<absent>" when missing
  std::string target;
};

void Diff(const json& a, const json& b, const std::string& path, std::vector<FieldDiff>* out) {
  if (a.is_object() && b.is_object()) {
    std::set<std::string> keys;
    for (auto it = a.begin(); it != a.end(); ++it) keys.insert(it.key());
    for (auto it = b.begin(); it != b.end(); ++it) keys.insert(it.key());
    for (const std::string& k : keys) {
      const std::string p = path.empty() ? k : path + "." + k;
      if (!a.contains(k)) {
        out->push_back({p, "<absent>", b[k].dump()});
      } else if (!b.contains(k)) {
        out->push_back({p, a[k].dump(), "<absent>"});
      } else {
        Diff(a[k], b[k], p, out);
      }
    }
    return;
  }
  if (a.is_array() && b.is_array() && a.size() == b.size()) {
    for (size_t i = 0; i < a.size(); ++i) Diff(a[i], b[i], path + "[" + std::to_string(i) + "]", out);
    return;
  }
  if (a != b) out->push_back({path, a.dump(), b.dump()});
}

// What every create assigns anew on any cluster (uid, resourceVersion, creationTimestamp,
// generation, managedFields) and status, which a restore never writes: left out of the comparison.
// The recovery label the restore adds is checked apart and left out too.
json Comparable(json o) {
  json& meta = o["metadata"];
  for (const char* k : {"uid", "resourceVersion", "creationTimestamp", "generation", "managedFields", "selfLink"}) {
    meta.erase(k);
  }
  if (meta.contains("labels")) {
    meta["labels"].erase("dr.kubectl-dr.dev/recovery");
    if (meta["labels"].empty()) meta.erase("labels");
  }
  o.erase("status");
  return o;
}

class RestoreRowsE2eTest : public WebhookE2eTest {
 protected:
  CommandResult Source(const std::string& args) const { return pair_->Kubectl(pair_->source(), args); }
  CommandResult Dr(const std::string& args) const {
    return pair_->Shell("kubectl dr --context " + target().context() + " " + args);
  }
  static json Parse(const CommandResult& r) { return json::parse(r.output, nullptr, false); }
  json SourceJson(const std::string& args) const { return Parse(Source(args + " -o json")); }
  json TargetJson(const std::string& args) const { return Parse(Kubectl(args + " -o json")); }

  // Applies a manifest read from stdin on `cluster`.
  CommandResult ApplyText(const Cluster& cluster, const std::string& yaml) const {
    const std::string file = dir_.Write("apply-" + std::to_string(++applies_) + ".yaml", yaml);
    return pair_->Kubectl(cluster, "apply -f " + file);
  }

  // Plays the kubelet on the real pair: writes `pod`'s status as running and Ready, or as
  // succeeded.
  CommandResult SetPodStatus(const Cluster& cluster, const std::string& pod, const std::string& container,
                             const std::string& image, bool succeeded) const {
    const std::string now(TrimSpace(pair_->Shell("date -u +%Y-%m-%dT%H:%M:%SZ").output));
    json status;
    if (succeeded) {
      status = {{"phase", "Succeeded"},
                {"containerStatuses",
                 {{{"name", container}, {"image", image}, {"imageID", ""}, {"ready", false}, {"restartCount", 0},
                   {"state", {{"terminated", {{"exitCode", 0}, {"reason", "Completed"}, {"startedAt", now},
                                              {"finishedAt", now}}}}}}}}};
    } else {
      status = {{"phase", "Running"},
                {"conditions", {{{"type", "Ready"}, {"status", "True"}, {"lastTransitionTime", now}}}},
                {"containerStatuses",
                 {{{"name", container}, {"image", image}, {"imageID", ""}, {"ready", true}, {"restartCount", 0},
                   {"started", true}, {"state", {{"running", {{"startedAt", now}}}}}}}}};
    }
    const std::string file = dir_.Write("status-" + std::to_string(++applies_) + ".json", json{{"status", status}}.dump());
    return pair_->Kubectl(cluster, "-n ledger patch pod " + pod + " --subresource=status --type=merge --patch-file " +
                                       file);
  }

  bool Exists(const Cluster& cluster, const std::string& what) const {
    return pair_->Kubectl(cluster, "-n ledger get " + what + " -o name").exit_code == 0;
  }
  std::string Field(const Cluster& cluster, const std::string& what, const std::string& jsonpath) const {
    return pair_->Kubectl(cluster, "-n ledger get " + what + " -o 'jsonpath=" + jsonpath + "'").output;
  }

  // The events of one resource since `rv`, as a watch from that resourceVersion replays them
  // (kube-apiserver's watch cache and kubesim's history both do): {type, object} in order.
  std::vector<json> EventsSince(const std::string& path, const std::string& rv) const {
    CommandResult r = Kubectl("get --raw '" + path + "?watch=1&allowWatchBookmarks=false&timeoutSeconds=1&resourceVersion=" +
                              rv + "'");
    std::vector<json> events;
    for (const std::string& line : Split(r.output, '\n')) {
      json e = json::parse(line, nullptr, false);
      if (e.is_object() && e.contains("object")) events.push_back(std::move(e));
    }
    return events;
  }

  // The ledger on the primary, ledger-migrate finished, ledger-worker running, the quota's usage
  // computed.
  void MakeLedgerOnThePrimary() {
    const Cluster& source = pair_->source();
    const bool real = !target().simulated();
    CommandResult app = Source("apply -f " + RowsData("ledger.yaml"));
    ASSERT_EQ(app.exit_code, 0) << app.output;
    CommandResult established =
        Source("wait --for=condition=Established --timeout=60s crd/widgets.ledger.example.dev");
    ASSERT_EQ(established.exit_code, 0) << established.output;
    // The owner chain: Widget main <- ConfigMap widget-settings <- Secret widget-token.
    ASSERT_EQ(ApplyText(source, "apiVersion: ledger.example.dev/v1\nkind: Widget\nmetadata: {name: main, namespace: "
                                "ledger}\nspec: {size: 3, colour: blue}\n")
                  .exit_code,
              0);
    const std::string widget_uid = Field(source, "widget main", "{.metadata.uid}");
    ASSERT_FALSE(widget_uid.empty());
    CommandResult settings = ApplyText(
        source, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: widget-settings\n  namespace: ledger\n"
                "  ownerReferences:\n  - {apiVersion: ledger.example.dev/v1, kind: Widget, name: main, uid: " +
                    widget_uid + "}\ndata: {colour: blue}\n");
    ASSERT_EQ(settings.exit_code, 0) << settings.output;
    const std::string settings_uid = Field(source, "configmap widget-settings", "{.metadata.uid}");
    CommandResult token = ApplyText(
        source, "apiVersion: v1\nkind: Secret\nmetadata:\n  name: widget-token\n  namespace: ledger\n"
                "  ownerReferences:\n  - {apiVersion: v1, kind: ConfigMap, name: widget-settings, uid: " +
                    settings_uid + ", blockOwnerDeletion: true}\nstringData: {token: s3cr3t}\n");
    ASSERT_EQ(token.exit_code, 0) << token.output;

    // ledger-migrate finishes (real pair: its pod succeeds, written as the kubelet would write it).
    if (real) {
      std::string pod;
      ASSERT_TRUE(Eventually(
          [&] {
            pod = Field(source, "pods -l batch.kubernetes.io/job-name=ledger-migrate", "{.items[0].metadata.name}");
            return !pod.empty();
          },
          kSettleDeadline));
      CommandResult done = SetPodStatus(source, pod, "migrate", "busybox:1.36", /*succeeded=*/true);
      ASSERT_EQ(done.exit_code, 0) << done.output;
    }
    ASSERT_TRUE(Eventually(
        [&] { return Field(source, "job ledger-migrate", "{.status.conditions[?(@.type==\"Complete\")].status}") == "True"; },
        kSettleDeadline))
        << Source("-n ledger get job ledger-migrate -o yaml").output;
    EXPECT_EQ(Field(source, "job ledger-worker", "{.status.active}"), "1");

    // The quota last on the primary too (a count/ quota answers 403 "status unknown" to creates of
    // what it counts until the quota controller has computed its usage).
    CommandResult quota = Source("apply -f " + RowsData("quota.yaml"));
    ASSERT_EQ(quota.exit_code, 0) << quota.output;
    ASSERT_TRUE(Eventually([&] { return !Field(source, "resourcequota ledger-quota", "{.status.used.services}").empty(); },
                           kSettleDeadline));
  }

  mutable int applies_ = 0;
};

uint64_t Rv(const json& object) {
  return std::stoull(object.value("/metadata/resourceVersion"_json_pointer, "0"));
}

// The resourceVersion at which each object of `events` was created (its ADDED event): etcd's
// revision (and kubesim's counter) is one sequence over every key, so these order creates across
// resources.
std::map<std::string, uint64_t> CreatedAt(const std::vector<json>& events) {
  std::map<std::string, uint64_t> out;
  for (const json& e : events) {
    if (e.value("type", "") != "ADDED") continue;
    const std::string name = e.value("/object/metadata/name"_json_pointer, "");
    if (!out.count(name)) out[name] = Rv(e.at("object"));
  }
  return out;
}

bool PodReady(const json& pod) {
  for (const json& c : pod.value("/status/conditions"_json_pointer, json::array())) {
    if (c.value("type", "") == "Ready" && c.value("status", "") == "True") return true;
  }
  return false;
}

TEST_F(RestoreRowsE2eTest, RestoredLedgerMatchesTheSourceAndMeetsEveryRowOnTheWayIn) {
  const Cluster& source = pair_->source();
  const bool real = !target().simulated();

  ASSERT_NO_FATAL_FAILURE(MakeLedgerOnThePrimary());
  const std::string widget_uid = Field(source, "widget main", "{.metadata.uid}");

  // --- capture, and the source as captured ----------------------------------------------------
  const std::string inventory = dir_.path() + "/inventory";
  ASSERT_EQ(Kubectl("apply -f " + RowsData("plan.yaml")).exit_code, 0);
  CommandResult capture = Dr("inventory capture --plan ledger-to-dr --agent local --inventory-path " + inventory);
  ASSERT_EQ(capture.exit_code, 0) << capture.output;
  const std::vector<std::string> kNamespaced = {"configmaps", "secrets", "services", "persistentvolumeclaims",
                                                "statefulsets.apps", "jobs.batch", "resourcequotas",
                                                "widgets.ledger.example.dev", "serviceaccounts"};
  std::map<std::string, json> captured;  // "Kind/name" -> object
  auto key = [](const json& o) { return o.value("kind", "") + "/" + o["metadata"].value("name", ""); };
  for (const std::string& resource : kNamespaced) {
    json list = SourceJson("-n ledger get " + resource);
    ASSERT_TRUE(list.is_object()) << resource;
    for (json& item : list["items"]) captured[key(item)] = item;
  }
  for (const char* one : {"namespace ledger", "priorityclass ledger-critical",
                                 "crd widgets.ledger.example.dev", "pv ledger-inventory-pv"}) {
    json o = SourceJson(std::string("get ") + one);
    ASSERT_TRUE(o.is_object()) << one;
    captured[key(o)] = o;
  }

  // --- fail over, watching the target from before ----------------------------------------------
  const std::string rv0 = Parse(Kubectl("get --raw /api/v1/namespaces"))["metadata"].value("resourceVersion", "");
  ASSERT_FALSE(rv0.empty());
  ASSERT_EQ(Dr("recovery create ledger-failover --plan ledger-to-dr").exit_code, 0);
  WaitForCache("drrecoveries", 1);
  CommandResult failover = Dr("failover ledger-failover --agent local --inventory-path " + inventory + " --yes" +
                              (real ? " --no-wait" : ""));
  ASSERT_EQ(failover.exit_code, 0) << failover.output << webhook_->Log();
  EXPECT_NE(failover.output.find("recovery ledger-failover (Failover of plan ledger-to-dr): Succeeded"),
            std::string::npos)
      << failover.output;
  const json recovery = TargetJson("-n kubectl-dr-system get drr ledger-failover");
  EXPECT_EQ(recovery.value("/status/restored/failed"_json_pointer, -1), 0) << recovery.dump(2);

  // --- OrderedReady: one pod at a time, each once the one before is Ready (asserted below from
  // the watch: each pod's create comes after the event where the one before became Ready) ------
  for (int ordinal = 0; ordinal < 3; ++ordinal) {
    const std::string pod = "ledger-db-" + std::to_string(ordinal);
    ASSERT_TRUE(Eventually([&] { return Exists(target(), "pod " + pod); }, kSettleDeadline))
        << pod << " never appeared:\n" << Kubectl("-n ledger get pods,statefulsets -o wide").output;
    if (real && !PodReady(TargetJson("-n ledger get pod " + pod))) {
      CommandResult ready = SetPodStatus(target(), pod, "db", "postgres:16", /*succeeded=*/false);
      ASSERT_EQ(ready.exit_code, 0) << ready.output;
    }
    ASSERT_TRUE(Eventually([&] { return PodReady(TargetJson("-n ledger get pod " + pod)); }, kSettleDeadline)) << pod;
  }

  // --- the order the target saw things created in ---------------------------------------------
  auto pod_events = EventsSince("/api/v1/namespaces/ledger/pods", rv0);
  std::map<std::string, uint64_t> created;
  for (const auto& [path, what] : std::vector<std::pair<std::string, std::string>>{
           {"/api/v1/namespaces/ledger/configmaps", "ConfigMap"},
           {"/api/v1/namespaces/ledger/secrets", "Secret"},
           {"/api/v1/namespaces/ledger/services", "Service"},
           {"/api/v1/namespaces/ledger/persistentvolumeclaims", "PersistentVolumeClaim"},
           {"/apis/batch/v1/namespaces/ledger/jobs", "Job"},
           {"/apis/apps/v1/namespaces/ledger/statefulsets", "StatefulSet"},
           {"/api/v1/namespaces/ledger/resourcequotas", "ResourceQuota"},
           {"/apis/scheduling.k8s.io/v1/priorityclasses", "PriorityClass"}}) {
    for (const auto& [name, rv] : CreatedAt(EventsSince(path, rv0))) created[what + "/" + name] = rv;
  }
  for (const auto& [name, rv] : CreatedAt(pod_events)) created["Pod/" + name] = rv;
  ASSERT_TRUE(created.count("ResourceQuota/ledger-quota")) << "no ADDED event of the quota since " << rv0;
  ASSERT_TRUE(created.count("PriorityClass/ledger-critical")) << "no ADDED event of the PriorityClass since " << rv0;

  // The quota came after everything it counts that the restore made (pods are made by the
  // target's controllers, whenever they like).
  const uint64_t quota_rv = created["ResourceQuota/ledger-quota"];
  for (const auto& [what, rv] : created) {
    if (StartsWith(what, "Pod/") || StartsWith(what, "ResourceQuota/") || StartsWith(what, "PriorityClass/")) continue;
    if (what == "ConfigMap/kube-root-ca.crt") continue;  // made by the target with the namespace
    EXPECT_LT(rv, quota_rv) << what << " was created after the quota that counts it";
  }
  // The PriorityClass came before the workloads and the pods that name it, and the pods got its
  // value at admission.
  const uint64_t class_rv = created["PriorityClass/ledger-critical"];
  for (const char* what : {"StatefulSet/ledger-db", "Job/ledger-worker", "Pod/ledger-db-0"}) {
    ASSERT_TRUE(created.count(what)) << what;
    EXPECT_GT(created[what], class_rv) << what << " before the PriorityClass it names";
  }
  EXPECT_EQ(Field(target(), "pod ledger-db-0", "{.spec.priority}"), "100000");
  // Each StatefulSet pod was created only once the one before had become Ready.
  for (int ordinal = 1; ordinal < 3; ++ordinal) {
    const std::string prev = "ledger-db-" + std::to_string(ordinal - 1);
    uint64_t prev_ready = 0;
    for (const json& e : pod_events) {
      if (e.value("/object/metadata/name"_json_pointer, "") == prev && PodReady(e.at("object"))) {
        prev_ready = Rv(e.at("object"));
        break;
      }
    }
    ASSERT_GT(prev_ready, 0u) << prev << " never seen Ready";
    EXPECT_GT(created["Pod/ledger-db-" + std::to_string(ordinal)], prev_ready)
        << "ledger-db-" << ordinal << " created before " << prev << " was Ready";
  }
  // The custom resource was created once its CRD was Established.
  uint64_t established_rv = 0;
  for (const json& e : EventsSince("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", rv0)) {
    if (e.value("/object/metadata/name"_json_pointer, "") != "widgets.ledger.example.dev") continue;
    for (const json& c : e.value("/object/status/conditions"_json_pointer, json::array())) {
      if (c.value("type", "") == "Established" && c.value("status", "") == "True" && established_rv == 0) {
        established_rv = Rv(e.at("object"));
      }
    }
  }
  ASSERT_GT(established_rv, 0u) << "the CRD never seen Established since " << rv0;
  // Nothing updates the Widget after its create: its resourceVersion is its create's.
  EXPECT_GT(Rv(TargetJson("-n ledger get widget main")), established_rv);

  // --- Jobs ------------------------------------------------------------------------------------
  // The finished one is not run again: not restored, no pod of it.
  EXPECT_FALSE(Exists(target(), "job ledger-migrate")) << Kubectl("-n ledger get jobs").output;
  EXPECT_EQ(Field(target(), "pods -l batch.kubernetes.io/job-name=ledger-migrate", "{.items[*].metadata.name}"), "");
  EXPECT_FALSE(created.count("Job/ledger-migrate"));
  // The running one runs again with a selector of its own new uid.
  const json worker = TargetJson("-n ledger get job ledger-worker");
  ASSERT_TRUE(worker.is_object());
  const std::string worker_uid = worker["metadata"].value("uid", "");
  EXPECT_EQ(worker.value("/spec/selector/matchLabels/batch.kubernetes.io~1controller-uid"_json_pointer, ""), worker_uid)
      << worker.dump(2);
  EXPECT_EQ(worker.value("/spec/template/metadata/labels/batch.kubernetes.io~1controller-uid"_json_pointer, ""),
            worker_uid)
      << worker.dump(2);
  EXPECT_NE(captured["Job/ledger-worker"]["metadata"].value("uid", ""), worker_uid);

  // --- every object against the source's ------------------------------------------------------
  std::map<std::string, json> restored;
  const std::string target_widget_uid = Field(target(), "widget main", "{.metadata.uid}");
  const std::string target_settings_uid = Field(target(), "configmap widget-settings", "{.metadata.uid}");
  for (const std::string& resource : kNamespaced) {
    json list = TargetJson("-n ledger get " + resource);
    ASSERT_TRUE(list.is_object()) << resource;
    for (json& item : list["items"]) restored[key(item)] = item;
  }
  for (const char* one : {"namespace ledger", "priorityclass ledger-critical",
                                 "crd widgets.ledger.example.dev", "pv ledger-inventory-pv"}) {
    json o = TargetJson(std::string("get ") + one);
    ASSERT_TRUE(o.is_object()) << one;
    restored[key(o)] = o;
  }

  // The fields that may differ, and why.
  const std::map<std::string, std::map<std::string, std::string>> kMayDiffer = {
      {"Service/ledger-web",
       {{"spec.clusterIP", "allocated by each cluster; the source's may be taken or out of range"},
        {"spec.clusterIPs[0]", "the same"},
        {"spec.ports[0].nodePort", "allocated by the target (keep_node_ports off): the source's may clash"}}},
      {"Job/ledger-worker",
       {{"spec.selector.matchLabels.batch.kubernetes.io/controller-uid", "the new Job's uid (asserted above)"},
        {"spec.selector.matchLabels.controller-uid", "the same, legacy label"},
        {"spec.template.metadata.labels.batch.kubernetes.io/controller-uid", "the same"},
        {"spec.template.metadata.labels.controller-uid", "the same"}}},
      {"ConfigMap/widget-settings", {{"metadata.ownerReferences[0].uid", "the restored Widget's uid (asserted)"}}},
      {"Secret/widget-token", {{"metadata.ownerReferences[0].uid", "the restored ConfigMap's uid (asserted)"}}},
      {"PersistentVolume/ledger-inventory-pv",
       {{"spec.claimRef.uid", "the restored claim's uid"}, {"spec.claimRef.resourceVersion", "the same"}}},
      {"PersistentVolumeClaim/ledger-inventory",
       {{"metadata.annotations.kubectl.kubernetes.io/last-applied-configuration",
         "the inventory claim is made by the failover from the volume map before the inventory can be read "
         "(dr/inventory_volume.h), not from the captured claim"}}},
      {"ConfigMap/kube-root-ca.crt", {{"data.ca.crt", "each cluster's own CA (made by the target, not restored)"}}},
  };
  // Made by each cluster with the namespace, never restored: not labelled.
  const std::set<std::string> kMadeByTarget = {"ConfigMap/kube-root-ca.crt", "ServiceAccount/default"};
  std::set<std::string> compared;
  for (const auto& [name, source_object] : captured) {
    if (name == "Job/ledger-migrate") continue;  // not restored: checked above
    SCOPED_TRACE(name);
    auto it = restored.find(name);
    if (it == restored.end()) {
      ADD_FAILURE() << name << " is on the source, not on the target";
      continue;
    }
    compared.insert(name);
    std::vector<FieldDiff> diffs;
    Diff(Comparable(source_object), Comparable(it->second), "", &diffs);
    const auto allowed = kMayDiffer.find(name);
    for (const FieldDiff& d : diffs) {
      if (allowed != kMayDiffer.end() && allowed->second.count(d.path)) continue;
      ADD_FAILURE() << name << " " << d.path << ": source " << d.source << ", target " << d.target;
    }
    if (!kMadeByTarget.count(name)) {
      EXPECT_EQ(it->second["metadata"].value("labels", json::object()).value("dr.kubectl-dr.dev/recovery", ""),
                "ledger-failover");
    }
  }
  for (const auto& [name, object] : restored) {
    EXPECT_TRUE(captured.count(name)) << name << " is on the target, not on the source";
  }
  EXPECT_GE(compared.size(), 14u);

  // Owner references name the restored owners, and the garbage collector (which has had the
  // seconds of the StatefulSet's roll-out to act) left the dependents alone.
  EXPECT_EQ(Field(target(), "configmap widget-settings", "{.metadata.ownerReferences[0].uid}"), target_widget_uid);
  EXPECT_EQ(Field(target(), "secret widget-token", "{.metadata.ownerReferences[0].uid}"), target_settings_uid);
  EXPECT_NE(target_widget_uid, widget_uid);
}

// Asked to, the failover restores the finished Job too, and it runs again on the target: a new
// Job of its own uid, not finished there (the real pair's job controller makes it a pod; kubesim's
// runs it to completion again).
TEST_F(RestoreRowsE2eTest, WithRerunFinishedJobsTheFinishedJobRunsAgain) {
  ASSERT_NO_FATAL_FAILURE(MakeLedgerOnThePrimary());
  const std::string source_uid = Field(pair_->source(), "job ledger-migrate", "{.metadata.uid}");
  const std::string inventory = dir_.path() + "/inventory";
  ASSERT_EQ(Kubectl("apply -f " + RowsData("plan.yaml")).exit_code, 0);
  ASSERT_EQ(Dr("inventory capture --plan ledger-to-dr --agent local --inventory-path " + inventory).exit_code, 0);
  ASSERT_EQ(Dr("recovery create ledger-failover --plan ledger-to-dr").exit_code, 0);
  WaitForCache("drrecoveries", 1);
  CommandResult failover = Dr("failover ledger-failover --agent local --inventory-path " + inventory +
                              " --yes --no-wait --rerun-finished-jobs");
  ASSERT_EQ(failover.exit_code, 0) << failover.output;
  const json job = TargetJson("-n ledger get job ledger-migrate");
  ASSERT_TRUE(job.is_object()) << "the finished Job was not restored:\n" << failover.output;
  const std::string uid = job["metadata"].value("uid", "");
  EXPECT_NE(uid, source_uid);
  EXPECT_EQ(job.value("/spec/selector/matchLabels/batch.kubernetes.io~1controller-uid"_json_pointer, ""), uid);
  // It runs again: the target's job controller starts it (startTime set, a pod or, on kubesim, a
  // run to completion of its own).
  ASSERT_TRUE(Eventually([&] { return !Field(target(), "job ledger-migrate", "{.status.startTime}").empty(); },
                         kSettleDeadline))
      << Kubectl("-n ledger get job ledger-migrate -o yaml").output;
  if (!target().simulated()) {
    EXPECT_TRUE(Eventually([&] { return !Field(target(), "pods -l batch.kubernetes.io/controller-uid=" + uid,
                                               "{.items[*].metadata.name}").empty(); },
                           kSettleDeadline));
  }
}

}  // namespace
}  // namespace kdr::e2e
