// --data-dir: a restarted kubesim loses nothing (objects, resourceVersion counter, CRDs and their
// custom resources, the CA, issued tokens), and a torn write-log tail is tolerated.

#include <fstream>

#include "test_support.h"

namespace kdr::kubesim {
namespace {

using testing::Client;
using json = nlohmann::json;

json WidgetCrd() {
  return {{"apiVersion", "apiextensions.k8s.io/v1"},
          {"kind", "CustomResourceDefinition"},
          {"metadata", {{"name", "widgets.example.com"}}},
          {"spec",
           {{"group", "example.com"},
            {"scope", "Namespaced"},
            {"names", {{"plural", "widgets"}, {"kind", "Widget"}}},
            {"versions", json::array({{{"name", "v1"}, {"served", true}, {"storage", true}}})}}}};
}

TEST(PersistTest, RestartWithDataDirLosesNothing) {
  testutil::TempDir dir;
  Server::Options o;
  o.data_dir = dir.path() + "/state";
  std::string rv_before, sa_token, ca;
  int port = 0;
  {
    auto s = Server::Start(o);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    Client c(**s, (*s)->admin_token());
    ASSERT_EQ(c.Post("/api/v1/namespaces", {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", "shop"}}}}).status, 201);
    ASSERT_EQ(c.Post("/api/v1/namespaces/shop/configmaps", testing::ConfigMap("keep", {{"a", "1"}})).status, 201);
    ASSERT_EQ(c.Post("/api/v1/namespaces/shop/configmaps", testing::ConfigMap("drop")).status, 201);
    ASSERT_EQ(c.Delete("/api/v1/namespaces/shop/configmaps/drop").status, 200);
    ASSERT_EQ(c.Post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", WidgetCrd()).status, 201);
    json w = {{"apiVersion", "example.com/v1"}, {"kind", "Widget"}, {"metadata", {{"name", "w"}}}, {"spec", {{"x", 1}}}};
    ASSERT_EQ(c.Post("/apis/example.com/v1/namespaces/shop/widgets", w).status, 201);
    sa_token = (*s)->IssueServiceAccountToken("shop", "agent");
    rv_before = c.Get("/api/v1/namespaces/shop/configmaps").body["metadata"]["resourceVersion"];
    ca = (*s)->ca_pem();
    port = (*s)->port();
    ASSERT_TRUE((*s)->WriteKubeconfig(dir.path() + "/kubeconfig", "sim").ok());
  }
  o.listen = "127.0.0.1:" + std::to_string(port);
  auto s = Server::Start(o);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ((*s)->ca_pem(), ca);
  Client c(**s, (*s)->admin_token());
  auto keep = c.Get("/api/v1/namespaces/shop/configmaps/keep");
  ASSERT_EQ(keep.status, 200);
  EXPECT_EQ(keep.body["data"]["a"], "1");
  EXPECT_EQ(c.Get("/api/v1/namespaces/shop/configmaps/drop").status, 404);
  EXPECT_EQ(c.Get("/apis/example.com/v1/namespaces/shop/widgets/w").body["spec"]["x"], 1);
  auto created = c.Post("/api/v1/namespaces/shop/configmaps", testing::ConfigMap("after"));
  EXPECT_GT(std::stoull(created.body["metadata"]["resourceVersion"].get<std::string>()), std::stoull(rv_before));
  EXPECT_EQ(Client(**s, sa_token).Get("/api/v1/namespaces/shop/configmaps").status, 200);
  // The kubeconfig written before the restart still works (same CA, same port).
  auto r = testing::Run("HOME=" + dir.path() + " kubectl --kubeconfig " + dir.path() + "/kubeconfig get cm keep -n shop -o name");
  EXPECT_EQ(r.output, "configmap/keep\n");
}

TEST(PersistTest, TornLastLogLineIsIgnored) {
  testutil::TempDir dir;
  Server::Options o;
  o.data_dir = dir.path();
  {
    auto s = Server::Start(o);
    ASSERT_TRUE(s.ok());
    Client c(**s, (*s)->admin_token());
    ASSERT_EQ(c.Post("/api/v1/namespaces/default/configmaps", testing::ConfigMap("kept")).status, 201);
  }
  {
    std::ofstream log(dir.path() + "/state/kubesim.log", std::ios::app);
    log << "{\"gr\":\"/configmaps\",\"key\":\"default/half";  // a crash mid-append
  }
  auto s = Server::Start(o);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  Client c(**s, (*s)->admin_token());
  EXPECT_EQ(c.Get("/api/v1/namespaces/default/configmaps/kept").status, 200);
}

TEST(PersistTest, CorruptSnapshotFailsStartWithAHint) {
  testutil::TempDir dir;
  dir.Write("state/snapshot.json", "{not json");
  Server::Options o;
  o.data_dir = dir.path();
  auto s = Server::Start(o);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("snapshot.json"), std::string::npos) << s.status().message();
  EXPECT_NE(s.status().message().find("remove the data dir"), std::string::npos);
}

}  // namespace
}  // namespace kdr::kubesim
