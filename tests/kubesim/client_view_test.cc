#include "kubesim/client_view.h"

#include <gtest/gtest.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "base/clock.h"
#include "kube/client.h"
#include "kubesim/controllers_internal.h"
#include "kubesim/longhorn.h"
#include "kubesim/server.h"
#include "testutil/testutil.h"

namespace kdr::kubesim {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

const GroupResource kConfigMaps{"", "configmaps"};
const GroupResource kPods{"", "pods"};
const GroupResource kVolumes{"longhorn.io", "volumes"};
const GroupResource kBackups{"longhorn.io", "backups"};

json ConfigMap(const std::string& name, const std::string& value) {
  return {{"apiVersion", "v1"},
          {"kind", "ConfigMap"},
          {"metadata", {{"name", name}, {"namespace", "default"}}},
          {"data", {{"k", value}}}};
}

json Pod(const std::string& name) {
  return {{"apiVersion", "v1"},
          {"kind", "Pod"},
          {"metadata", {{"name", name}, {"namespace", "default"}}},
          {"spec", {{"containers", json::array({{{"name", "c"}, {"image", "nginx"}}})}}}};
}

// A bare kubesim (no controllers) reached over HTTPS through kube::Client, as kubesim-controllers
// reaches a real API server.
class ClientViewTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server = Server::Start({});
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(*server);
    kube::RestConfig c;
    c.server = server_->url();
    c.ca_pem = server_->ca_pem();
    c.bearer_token = server_->admin_token();
    c.qps = 0;
    auto client = kube::Client::Create(c, env_);
    ASSERT_TRUE(client.ok()) << client.status().ToString();
    client_ = std::move(*client);
    view_ = std::make_unique<ClientView>(client_.get(), 20ms);
  }

  // Events until `n` have come or 10 s passed.
  static std::vector<WatchEvent> Events(EventSource& source, size_t n) {
    std::vector<WatchEvent> out;
    auto deadline = std::chrono::steady_clock::now() + 10s;
    while (out.size() < n && std::chrono::steady_clock::now() < deadline) {
      if (auto e = source.Next(50ms)) out.push_back(*e);
    }
    return out;
  }

  RealClock clock_;
  Env env_{&clock_, nullptr, nullptr};
  std::unique_ptr<Server> server_;
  std::unique_ptr<kube::Client> client_;
  std::unique_ptr<ClientView> view_;
};

TEST_F(ClientViewTest, PollingWatchReportsWhatExistsThenEachChange) {
  ASSERT_TRUE(view_->Create(kConfigMaps, "default", ConfigMap("before", "1")).ok());
  auto source = view_->Watch({kConfigMaps});
  ASSERT_TRUE(source.ok()) << source.status().message();
  std::vector<WatchEvent> first = Events(**source, 1);
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].type, EventType::kAdded);
  EXPECT_EQ((*first[0].object)["metadata"]["name"], "before");

  ASSERT_TRUE(view_->Modify(kConfigMaps, "default", "before", [](json* o) {
                      (*o)["data"]["k"] = "2";
                      return Status::Ok();
                    }).ok());
  std::vector<WatchEvent> modified = Events(**source, 1);
  ASSERT_EQ(modified.size(), 1u);
  EXPECT_EQ(modified[0].type, EventType::kModified);
  EXPECT_EQ((*modified[0].object)["data"]["k"], "2");
  ASSERT_TRUE(modified[0].old_object);
  EXPECT_EQ((*modified[0].old_object)["data"]["k"], "1");

  ASSERT_TRUE(view_->Delete(kConfigMaps, "default", "before").ok());
  std::vector<WatchEvent> deleted = Events(**source, 1);
  ASSERT_EQ(deleted.size(), 1u);
  EXPECT_EQ(deleted[0].type, EventType::kDeleted);
}

TEST_F(ClientViewTest, ListedItemsCarryTheirApiVersionAndKind) {
  ASSERT_TRUE(view_->Create(kConfigMaps, "default", ConfigMap("one", "1")).ok());
  auto items = view_->List(kConfigMaps, "default");
  ASSERT_TRUE(items.ok()) << items.status().message();
  ASSERT_EQ(items->size(), 1u);
  EXPECT_EQ((*items)[0].value("apiVersion", ""), "v1");
  EXPECT_EQ((*items)[0].value("kind", ""), "ConfigMap");
}

TEST_F(ClientViewTest, ModifyRetriesAConflictAndAbortsOnTheMutatorsError) {
  ASSERT_TRUE(view_->Create(kConfigMaps, "default", ConfigMap("c", "0")).ok());
  int calls = 0;
  auto r = view_->Modify(kConfigMaps, "default", "c", [&](json* o) {
    // The first read is stale by the time it is written: another writer got there first.
    if (calls++ == 0) {
      EXPECT_TRUE(client_->Update({"", "v1", "configmaps"}, "default", ConfigMap("c", "other")).ok());
    }
    (*o)["data"]["k"] = "mine";
    return Status::Ok();
  });
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(calls, 2);
  EXPECT_EQ((*view_->Get(kConfigMaps, "default", "c"))["data"]["k"], "mine");

  auto refused = view_->Modify(kConfigMaps, "default", "c",
                               [](json*) { return Status::FailedPrecondition("not now"); });
  EXPECT_EQ(refused.status().code(), StatusCode::kFailedPrecondition);
}

TEST_F(ClientViewTest, GroupsTheSimulatorsDoNotUseAreRefusedByName) {
  auto r = view_->Get({"example.com", "widgets"}, "default", "w");
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("example.com"), std::string::npos) << r.status().message();
  auto w = view_->Watch({});
  EXPECT_EQ(w.status().code(), StatusCode::kInvalidArgument);
}

// The Longhorn controller, unchanged, over the API: a backup of an active volume completes and
// the volume names it, as in process (longhorn_test.cc).
TEST_F(ClientViewTest, LonghornControllerOverTheApiCompletesABackup) {
  testutil::TempDir dir;
  ControllerOptions o;
  o.clock = &clock_;
  o.longhorn_backupstore = dir.path() + "/backupstore";
  o.longhorn_data_dir = dir.path() + "/volumes";
  PosixFileSystem fs;
  ASSERT_TRUE(fs.MakeDirs(LonghornVolumeDir(o.longhorn_data_dir, "data")).ok());
  ASSERT_TRUE(fs.WriteFile(LonghornVolumeDir(o.longhorn_data_dir, "data") + "/greeting", "hello").ok());
  ASSERT_TRUE(InstallLonghornCrds(view_.get()).ok());
  auto lh = NewLonghornController(view_.get(), o);
  ASSERT_TRUE(lh.ok()) << lh.status().message();
  std::jthread runner(RunReconciler, view_.get(),
                      std::vector<GroupResource>{kVolumes, kBackups, {"longhorn.io", "backupvolumes"},
                                                 {"longhorn.io", "backuptargets"}, {"", "persistentvolumes"}},
                      lh->get(), 200ms, nullptr);

  json vol = {{"apiVersion", "longhorn.io/v1beta2"},
              {"kind", "Volume"},
              {"metadata", {{"name", "data"}, {"namespace", "longhorn-system"}}},
              {"spec", {{"size", "1073741824"}, {"numberOfReplicas", 3}, {"frontend", "blockdev"}}}};
  json backup = {{"apiVersion", "longhorn.io/v1beta2"},
                 {"kind", "Backup"},
                 {"metadata", {{"name", "b1"}, {"namespace", "longhorn-system"}, {"labels", {{"backup-volume", "data"}}}}},
                 {"spec", {{"snapshotName", "s1"}}}};
  // The namespace is the controller's to create; the objects follow once it is there.
  bool created = false;
  for (auto deadline = std::chrono::steady_clock::now() + 10s; !created && std::chrono::steady_clock::now() < deadline;) {
    created = view_->Create(kVolumes, "longhorn-system", vol).ok();
    if (!created) std::this_thread::sleep_for(50ms);
  }
  ASSERT_TRUE(created);
  ASSERT_TRUE(view_->Create(kBackups, "longhorn-system", backup).ok());

  std::string state, last;
  for (auto deadline = std::chrono::steady_clock::now() + 15s; std::chrono::steady_clock::now() < deadline;) {
    auto b = view_->Get(kBackups, "longhorn-system", "b1");
    auto v = view_->Get(kVolumes, "longhorn-system", "data");
    state = b.ok() ? b->value("/status/state"_json_pointer, std::string()) : "";
    last = v.ok() ? v->value("/status/lastBackup"_json_pointer, std::string()) : "";
    if (state == "Completed" && last == "b1") break;
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_EQ(state, "Completed");
  EXPECT_EQ(last, "b1");
  EXPECT_TRUE(fs.Exists(dir.path() + "/backupstore/volumes/data/backups/backup_b1.cfg"));
  EXPECT_EQ(fs.ReadFile(dir.path() + "/backupstore/volumes/data/backups/backup_b1.data/greeting").value_or(""),
            "hello");
}

TEST(StoreViewTest, BindingSetsTheNodeOnceAndRefusesAnother) {
  Registry registry;
  testutil::FakeClock clock;
  auto store = Store::Open(&registry, Store::Options{&clock, 100, ""});
  ASSERT_TRUE(store.ok()) << store.status().message();
  StoreView view(store->get());
  ASSERT_TRUE(view.Create(kPods, "default", Pod("p")).ok());
  json binding = {{"apiVersion", "v1"}, {"kind", "Binding"}, {"metadata", {{"name", "p"}}},
                  {"target", {{"apiVersion", "v1"}, {"kind", "Node"}, {"name", "node-a"}}}};
  ASSERT_TRUE(view.CreateSubresource(kPods, "default", "p", "binding", binding).ok());
  EXPECT_EQ((*view.Get(kPods, "default", "p"))["spec"]["nodeName"], "node-a");
  binding["target"]["name"] = "node-b";
  auto again = view.CreateSubresource(kPods, "default", "p", "binding", binding);
  EXPECT_EQ(again.status().code(), StatusCode::kAborted);
  EXPECT_NE(again.status().message().find("already assigned to node \"node-a\""), std::string::npos);
  auto token = view.CreateSubresource({"", "serviceaccounts"}, "default", "default", "token", json::object());
  EXPECT_EQ(token.status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace kdr::kubesim
