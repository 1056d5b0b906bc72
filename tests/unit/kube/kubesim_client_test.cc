// The REST client against kubesim, the project's in-memory API server, over real loopback TLS.

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "base/fs.h"
#include "kube/client.h"
#include "kube/watch.h"
#include "kubesim/server.h"
#include "testutil/testutil.h"

namespace kdr::kube {
namespace {

using nlohmann::json;

const Gvr kNamespaces{"", "v1", "namespaces"};
const Gvr kConfigMaps{"", "v1", "configmaps"};
const Gvr kDeployments{"apps", "v1", "deployments"};

class KubesimClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server = kubesim::Server::Start({});
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(server).value();
    RestConfig c;
    c.server = server_->url();
    c.ca_pem = server_->ca_pem();
    c.bearer_token = server_->admin_token();
    c.qps = 0;
    auto client = Client::Create(c, env_);
    ASSERT_TRUE(client.ok()) << client.status().ToString();
    client_ = std::move(client).value();
    auto ns = client_->Create(kNamespaces, "",
                              json{{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", "shop"}}}});
    ASSERT_TRUE(ns.ok()) << ns.status().ToString();
  }

  json ConfigMap(const std::string& name, const std::string& value) {
    return {{"apiVersion", "v1"},
            {"kind", "ConfigMap"},
            {"metadata", {{"name", name}, {"labels", {{"app", "web"}}}}},
            {"data", {{"k", value}}}};
  }

  json Deployment(const std::string& name, int replicas) {
    json labels = {{"app", name}};
    return {{"apiVersion", "apps/v1"},
            {"kind", "Deployment"},
            {"metadata", {{"name", name}}},
            {"spec",
             {{"replicas", replicas},
              {"selector", {{"matchLabels", labels}}},
              {"template",
               {{"metadata", {{"labels", labels}}},
                {"spec", {{"containers", json::array({{{"name", "app"}, {"image", "nginx:1"}}})}}}}}}}};
  }

  testutil::FakeClock clock_;
  PosixFileSystem fs_;
  Env env_{&clock_, &fs_, nullptr};
  std::unique_ptr<kubesim::Server> server_;
  std::unique_ptr<Client> client_;
};

TEST_F(KubesimClientTest, CreateGetUpdateDeleteWithConflicts) {
  auto created = client_->Create(kConfigMaps, "shop", ConfigMap("cfg", "1"));
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  std::string rv = ResourceVersion(*created);
  EXPECT_FALSE(rv.empty());

  auto again = client_->Create(kConfigMaps, "shop", ConfigMap("cfg", "1"));
  EXPECT_EQ(again.status().code(), StatusCode::kAlreadyExists);
  EXPECT_NE(again.status().message().find("already exists"), std::string::npos);

  json changed = *created;
  changed["data"]["k"] = "2";
  auto updated = client_->Update(kConfigMaps, "shop", changed);
  ASSERT_TRUE(updated.ok()) << updated.status().ToString();
  EXPECT_NE(ResourceVersion(*updated), rv);

  // The same stale version again: the server has moved on.
  changed["data"]["k"] = "3";
  auto stale = client_->Update(kConfigMaps, "shop", changed);
  EXPECT_EQ(stale.status().code(), StatusCode::kAborted) << stale.status().ToString();

  auto got = client_->Get(kConfigMaps, "shop", "cfg");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ((*got)["data"]["k"], "2");

  DeleteOptions wrong_uid;
  wrong_uid.precondition_uid = "not-the-uid";
  EXPECT_EQ(client_->Delete(kConfigMaps, "shop", "cfg", wrong_uid).status().code(), StatusCode::kAborted);
  DeleteOptions right_uid;
  right_uid.precondition_uid = Uid(*got);
  ASSERT_TRUE(client_->Delete(kConfigMaps, "shop", "cfg", right_uid).ok());
  EXPECT_TRUE(client_->Get(kConfigMaps, "shop", "cfg").status().IsNotFound());
  EXPECT_TRUE(client_->Delete(kConfigMaps, "shop", "cfg").status().IsNotFound());
}

TEST_F(KubesimClientTest, ListsWithSelectorsAndPages) {
  for (int i = 0; i < 5; ++i) {
    json cm = ConfigMap("cm" + std::to_string(i), "v");
    if (i == 4) cm["metadata"]["labels"]["app"] = "db";
    ASSERT_TRUE(client_->Create(kConfigMaps, "shop", cm).ok());
  }
  ListOptions o;
  o.label_selector = "app=web";
  o.limit = 2;
  auto page = client_->List(kConfigMaps, "shop", o);
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  EXPECT_EQ((*page)["items"].size(), 2u);
  EXPECT_FALSE((*page)["metadata"].value("continue", "").empty());
  auto all = client_->ListAll(kConfigMaps, "shop", o);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ((*all)["items"].size(), 4u);
  EXPECT_FALSE((*all)["metadata"].value("resourceVersion", "").empty());
  ListOptions by_name;
  by_name.field_selector = "metadata.name=cm3";
  auto one = client_->List(kConfigMaps, "shop", by_name);
  ASSERT_TRUE(one.ok()) << one.status().ToString();
  ASSERT_EQ((*one)["items"].size(), 1u);
  EXPECT_EQ(Name((*one)["items"][0]), "cm3");
}

TEST_F(KubesimClientTest, PatchesApplyAndDryRun) {
  ASSERT_TRUE(client_->Create(kDeployments, "shop", Deployment("web", 2)).ok());
  auto merged = client_->Patch(kDeployments, "shop", "web", PatchType::kMergePatch,
                               json{{"metadata", {{"labels", {{"tier", "front"}}}}}});
  ASSERT_TRUE(merged.ok()) << merged.status().ToString();
  EXPECT_EQ(Label(*merged, "tier"), "front");
  auto jp = client_->Patch(kDeployments, "shop", "web", PatchType::kJsonPatch,
                           json::array({{{"op", "replace"}, {"path", "/spec/replicas"}, {"value", 3}}}));
  ASSERT_TRUE(jp.ok()) << jp.status().ToString();
  EXPECT_EQ((*jp)["spec"]["replicas"], 3);
  auto smp = client_->Patch(
      kDeployments, "shop", "web", PatchType::kStrategicMerge,
      json{{"spec", {{"template", {{"spec", {{"containers", json::array({{{"name", "app"}, {"image", "nginx:2"}}})}}}}}}}});
  ASSERT_TRUE(smp.ok()) << smp.status().ToString();
  EXPECT_EQ((*smp)["spec"]["template"]["spec"]["containers"][0]["image"], "nginx:2");

  PatchOptions apply;
  apply.field_manager = "kubectl-dr";
  apply.force = true;
  auto applied = client_->Apply(kConfigMaps, "shop", ConfigMap("applied", "x"), apply);
  ASSERT_TRUE(applied.ok()) << applied.status().ToString();
  EXPECT_EQ((*applied)["data"]["k"], "x");

  WriteOptions dry;
  dry.dry_run = true;
  ASSERT_TRUE(client_->Create(kConfigMaps, "shop", ConfigMap("ghost", "x"), dry).ok());
  EXPECT_TRUE(client_->Get(kConfigMaps, "shop", "ghost").status().IsNotFound());
}

TEST_F(KubesimClientTest, ScaleAndStatusSubresources) {
  ASSERT_TRUE(client_->Create(kDeployments, "shop", Deployment("web", 2)).ok());
  auto scale = client_->GetScale(kDeployments, "shop", "web");
  ASSERT_TRUE(scale.ok()) << scale.status().ToString();
  EXPECT_EQ((*scale)["spec"]["replicas"], 2);
  ASSERT_TRUE(client_->SetScale(kDeployments, "shop", "web", 0).ok());
  auto d = client_->Get(kDeployments, "shop", "web");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ((*d)["spec"]["replicas"], 0);
  json with_status = *d;
  with_status["status"] = {{"observedGeneration", 7}};
  auto st = client_->UpdateStatus(kDeployments, "shop", with_status);
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  EXPECT_EQ((*st)["status"]["observedGeneration"], 7);
}

TEST_F(KubesimClientTest, DiscoveryMapsBuiltInKinds) {
  auto d = client_->mapper().ForKind(Gvk{"apps", "v1", "Deployment"});
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(d->gvr, kDeployments);
  EXPECT_TRUE(d->namespaced);
  auto ns = client_->mapper().Resolve("ns");
  ASSERT_TRUE(ns.ok()) << ns.status().ToString();
  EXPECT_FALSE(ns->namespaced);
  EXPECT_TRUE(client_->mapper().Resolve("nosuchthings").status().IsNotFound());
}

TEST_F(KubesimClientTest, WatchResumesFromListVersion) {
  ASSERT_TRUE(client_->Create(kConfigMaps, "shop", ConfigMap("before", "1")).ok());
  auto list = client_->List(kConfigMaps, "shop");
  ASSERT_TRUE(list.ok());
  ASSERT_TRUE(client_->Create(kConfigMaps, "shop", ConfigMap("after", "1")).ok());
  WatchOptions o;
  o.resource_version = (*list)["metadata"]["resourceVersion"];
  std::vector<std::string> seen;
  Status s = client_->Watch(kConfigMaps, "shop", o, [&](std::string_view type, const json& obj) {
    if (type == "BOOKMARK") return true;
    seen.push_back(std::string(type) + ":" + Name(obj));
    return false;
  });
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(seen, (std::vector<std::string>{"ADDED:after"}));
}

TEST_F(KubesimClientTest, ListWatchDeliversSnapshotThenChanges) {
  ASSERT_TRUE(client_->Create(kConfigMaps, "shop", ConfigMap("a", "1")).ok());
  std::stop_source stop;
  std::vector<std::string> snapshot;
  std::vector<std::string> events;
  ListWatchHandler h;
  h.on_replace = [&](const json& items, const std::string&) {
    for (const auto& i : items) snapshot.push_back(Name(i));
    // A change after the snapshot arrives as an event.
    EXPECT_TRUE(client_->Create(kConfigMaps, "shop", ConfigMap("b", "1")).ok());
  };
  h.on_event = [&](std::string_view type, const json& obj) {
    events.push_back(std::string(type) + ":" + Name(obj));
    stop.request_stop();
  };
  ListWatchOptions o;
  o.gvr = kConfigMaps;
  o.namespace_name = "shop";
  Status s = RunListWatch(*client_, o, h, stop.get_token());
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(snapshot, (std::vector<std::string>{"a"}));
  EXPECT_EQ(events, (std::vector<std::string>{"ADDED:b"}));
}

}  // namespace
}  // namespace kdr::kube
