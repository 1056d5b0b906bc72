// The in-process Store API the simulated controllers build on: CRUD, Modify, watchers across
// resources, status semantics and closing.

#include <nlohmann/json.hpp>

#include "store.h"
#include "testutil/testutil.h"
#include <gtest/gtest.h>

namespace kdr::kubesim {
namespace {

using json = nlohmann::json;

const GroupResource kConfigMaps{"", "configmaps"};
const GroupResource kDeployments{"apps", "deployments"};

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Store::Options o;
    o.clock = &clock_;
    auto s = Store::Open(&registry_, o);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(*s);
  }
  json Cm(const std::string& name) {
    return {{"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"metadata", {{"name", name}, {"namespace", "default"}}}};
  }

  testutil::FakeClock clock_;
  Registry registry_;
  std::unique_ptr<Store> store_;
};

TEST_F(StoreTest, CreatesDefaultNamespaces) {
  auto l = store_->List({"", "namespaces"}, {});
  ASSERT_TRUE(l.ok());
  std::vector<std::string> names;
  for (const auto& ns : l->items) names.push_back((*ns)["metadata"]["name"]);
  EXPECT_EQ(names, (std::vector<std::string>{"default", "kube-node-lease", "kube-public", "kube-system"}));
}

TEST_F(StoreTest, ModifyRetriesOnConflictAndReturnsTheStoredObject) {
  ASSERT_TRUE(store_->Create(kConfigMaps, "default", Cm("x")).ok());
  int calls = 0;
  auto r = store_->Modify(kConfigMaps, "default", "x", [&](json* obj) {
    if (++calls == 1) {
      // A concurrent writer sneaks in between the read and the write.
      auto other = store_->Get(kConfigMaps, "default", "x");
      (*other)["data"] = {{"other", "1"}};
      EXPECT_TRUE(store_->Update(kConfigMaps, "default", *other).ok());
    }
    (*obj)["data"]["mine"] = "1";
    return Status::Ok();
  });
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(calls, 2);
  EXPECT_EQ((*r)["data"], json({{"other", "1"}, {"mine", "1"}}));
  auto aborted = store_->Modify(kConfigMaps, "default", "x", [](json*) { return Status::FailedPrecondition("no"); });
  EXPECT_EQ(aborted.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_TRUE(store_->Modify(kConfigMaps, "default", "ghost", [](json*) { return Status::Ok(); }).status().IsNotFound());
}

TEST_F(StoreTest, WatcherOfEveryResourceSeesWritesInOrder) {
  auto w = store_->Watch({{}, "", "", "", store_->resource_version()});
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE(store_->Create(kConfigMaps, "default", Cm("a")).ok());
  json d = {{"apiVersion", "apps/v1"}, {"kind", "Deployment"}, {"metadata", {{"name", "web"}}},
            {"spec", {{"selector", {{"matchLabels", {{"app", "web"}}}}}}}};
  ASSERT_TRUE(store_->Create(kDeployments, "default", d).ok());
  ASSERT_TRUE(store_->Delete(kConfigMaps, "default", "a").ok());
  std::vector<std::string> seen;
  while (auto e = (*w)->Next(std::chrono::milliseconds(0))) {
    seen.push_back(std::string(EventTypeName(e->type)) + " " + e->gr.resource);
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"ADDED configmaps", "ADDED deployments", "DELETED configmaps"}));
  store_->CloseWatchers();
  EXPECT_TRUE((*w)->closed());
  EXPECT_FALSE((*w)->Next(std::chrono::milliseconds(0)));
}

TEST_F(StoreTest, StatusWritesGoThroughTheStatusSubresourceOnly) {
  json d = {{"apiVersion", "apps/v1"}, {"kind", "Deployment"}, {"metadata", {{"name", "web"}, {"namespace", "default"}}},
            {"spec", {{"replicas", 2}, {"selector", {{"matchLabels", {{"app", "web"}}}}}}}};
  ASSERT_TRUE(store_->Create(kDeployments, "default", d).ok());
  auto r = store_->Modify(kDeployments, "default", "web", [](json* o) {
    (*o)["status"]["readyReplicas"] = 2;
    return Status::Ok();
  }, {false, "status"});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)["status"]["readyReplicas"], 2);
  EXPECT_EQ((*r)["metadata"]["generation"], 1);
  auto main = store_->Modify(kDeployments, "default", "web", [](json* o) {
    (*o)["status"]["readyReplicas"] = 0;
    return Status::Ok();
  });
  EXPECT_EQ((*main)["status"]["readyReplicas"], 2) << "the main resource ignores status";
}

TEST_F(StoreTest, UnknownResourceIsNotFound) {
  auto r = store_->Get({"example.com", "widgets"}, "default", "x");
  EXPECT_TRUE(r.status().IsNotFound());
}

}  // namespace
}  // namespace kdr::kubesim
