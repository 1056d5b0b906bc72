// kubesim over HTTPS, as kube-apiserver answers: discovery, CRUD, Status bodies, concurrency,
// authentication, subresources, selectors, paging, watch, finalizers and namespaces.

#include <thread>

#include "test_support.h"

namespace kdr::kubesim {
namespace {

using testing::Client;
using testing::ConfigMap;
using testing::Deployment;
using json = nlohmann::json;

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Server::Options o;
    o.watch_history = 50;
    o.bookmark_interval = std::chrono::milliseconds(50);
    auto s = Server::Start(o);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    server_ = std::move(*s);
    client_ = std::make_unique<Client>(*server_, server_->admin_token());
  }
  Client& c() { return *client_; }

  std::unique_ptr<Server> server_;
  std::unique_ptr<Client> client_;
};

constexpr const char* kCms = "/api/v1/namespaces/default/configmaps";

TEST_F(ServerTest, ServesVersionAndDiscovery) {
  auto v = c().Get("/version");
  EXPECT_EQ(v.status, 200);
  EXPECT_EQ(v.body["major"], "1");
  auto api = c().Get("/api");
  EXPECT_EQ(api.body["versions"], json::array({"v1"}));
  auto groups = c().Get("/apis");
  bool apps = false;
  for (const auto& g : groups.body["groups"]) apps = apps || g["name"] == "apps";
  EXPECT_TRUE(apps);
  auto core = c().Get("/api/v1");
  bool pods = false;
  for (const auto& r : core.body["resources"]) {
    if (r["name"] == "pods") {
      pods = true;
      EXPECT_TRUE(r["namespaced"].get<bool>());
      EXPECT_EQ(r["kind"], "Pod");
    }
  }
  EXPECT_TRUE(pods);
  auto apps_v1 = c().Get("/apis/apps/v1");
  bool scale = false;
  for (const auto& r : apps_v1.body["resources"]) scale = scale || r["name"] == "deployments/scale";
  EXPECT_TRUE(scale);
  EXPECT_EQ(c().Get("/apis/nope.example.com/v1").status, 404);
}

TEST_F(ServerTest, CreatesWithServerAssignedFields) {
  auto r = c().Post(kCms, ConfigMap("a", {{"k", "v"}}));
  ASSERT_EQ(r.status, 201) << r.raw;
  const json& m = r.body["metadata"];
  EXPECT_EQ(m["namespace"], "default");
  EXPECT_EQ(m["uid"].get<std::string>().size(), 36u);
  EXPECT_FALSE(m["resourceVersion"].get<std::string>().empty());
  EXPECT_FALSE(m["creationTimestamp"].get<std::string>().empty());
  auto d = c().Post("/apis/apps/v1/namespaces/default/deployments", Deployment("web", 2));
  ASSERT_EQ(d.status, 201) << d.raw;
  EXPECT_EQ(d.body["metadata"]["generation"], 1);
  json gen = ConfigMap("");
  gen["metadata"] = {{"generateName", "job-"}};
  auto g = c().Post(kCms, gen);
  ASSERT_EQ(g.status, 201) << g.raw;
  EXPECT_EQ(g.body["metadata"]["name"].get<std::string>().rfind("job-", 0), 0u);
  EXPECT_EQ(g.body["metadata"]["name"].get<std::string>().size(), 9u);
}

TEST_F(ServerTest, ResourceVersionIsClusterWideAndIncreasing) {
  auto a = c().Post(kCms, ConfigMap("a"));
  auto b = c().Post("/api/v1/namespaces/kube-system/configmaps", ConfigMap("b"));
  EXPECT_LT(std::stoull(a.body["metadata"]["resourceVersion"].get<std::string>()),
            std::stoull(b.body["metadata"]["resourceVersion"].get<std::string>()));
}

struct ErrorCase {
  const char* name;
  const char* method;
  std::string path;
  std::string body;
  const char* content_type;
  int code;
  const char* reason;
  const char* message;
};

TEST_F(ServerTest, AnswersBadRequestsLikeKubeApiserver) {
  ASSERT_EQ(c().Post(kCms, ConfigMap("taken")).status, 201);
  const std::string cms = kCms;
  const ErrorCase cases[] = {
      {"get missing", "GET", cms + "/nope", "", "application/json", 404, "NotFound",
       "configmaps \"nope\" not found"},
      {"get missing grouped", "GET", "/apis/apps/v1/namespaces/default/deployments/web", "", "application/json", 404,
       "NotFound", "deployments.apps \"web\" not found"},
      {"unknown resource", "GET", "/api/v1/widgets", "", "application/json", 404, "NotFound",
       "the server could not find the requested resource"},
      {"create existing", "POST", cms, ConfigMap("taken").dump(), "application/json", 409, "AlreadyExists",
       "configmaps \"taken\" already exists"},
      {"invalid name", "POST", cms, ConfigMap("Bad_Name").dump(), "application/json", 422, "Invalid",
       "ConfigMap \"Bad_Name\" is invalid: metadata.name: Invalid value: \"Bad_Name\": a lowercase RFC 1123"},
      {"no name", "POST", cms, json({{"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"metadata", json::object()}}).dump(),
       "application/json", 422, "Invalid", "metadata.name: Required value: name or generateName is required"},
      {"missing namespace", "POST", "/api/v1/namespaces/nope/configmaps", ConfigMap("x").dump(), "application/json",
       404, "NotFound", "namespaces \"nope\" not found"},
      {"namespace mismatch", "POST", cms,
       json({{"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"metadata", {{"name", "x"}, {"namespace", "other"}}}}).dump(),
       "application/json", 400, "BadRequest", "does not match the namespace sent on the request"},
      {"malformed json", "POST", cms, "{not json", "application/json", 400, "BadRequest", "json parse error"},
      {"missing kind", "POST", cms, json({{"apiVersion", "v1"}, {"metadata", {{"name", "x"}}}}).dump(),
       "application/json", 400, "BadRequest", "Object 'Kind' is missing"},
      {"unsupported body type", "POST", cms, "x", "text/plain", 415, "UnsupportedMediaType", "unknown format"},
      {"name mismatch on update", "PUT", cms + "/taken", ConfigMap("other").dump(), "application/json", 400,
       "BadRequest", "the name of the object (other) does not match the name on the URL (taken)"},
      {"update missing", "PUT", cms + "/ghost", ConfigMap("ghost").dump(), "application/json", 404, "NotFound",
       "configmaps \"ghost\" not found"},
      {"delete missing", "DELETE", cms + "/ghost", "", "application/json", 404, "NotFound",
       "configmaps \"ghost\" not found"},
      {"bad label selector", "GET", cms + "?labelSelector=a%20in%20x", "", "application/json", 400, "BadRequest",
       "unable to parse requirement"},
      {"unsupported field selector", "GET", cms + "?fieldSelector=spec.foo%3Dx", "", "application/json", 400,
       "BadRequest", "field label not supported: spec.foo"},
      {"bad merge patch", "PATCH", cms + "/taken", "{", "application/merge-patch+json", 400, "BadRequest", "decoding"},
      {"bad json patch op", "PATCH", cms + "/taken", R"([{"op":"rename","path":"/data"}])",
       "application/json-patch+json", 400, "BadRequest", "unknown op"},
      {"json patch missing path", "PATCH", cms + "/taken", R"([{"op":"remove","path":"/data/nope"}])",
       "application/json-patch+json", 422, "Invalid", "path not found"},
      {"unsupported patch type", "PATCH", cms + "/taken", "{}", "application/xml", 415, "UnsupportedMediaType",
       "accepted media types include"},
      {"delete default namespace", "DELETE", "/api/v1/namespaces/default", "", "application/json", 403, "Forbidden",
       "namespaces \"default\" is forbidden: this namespace may not be deleted"},
  };
  for (const auto& tc : cases) {
    SCOPED_TRACE(tc.name);
    auto r = c().Do(tc.method, tc.path, tc.body, tc.content_type);
    EXPECT_EQ(r.status, tc.code) << r.raw;
    EXPECT_EQ(r.body["kind"], "Status");
    EXPECT_EQ(r.body["status"], "Failure");
    EXPECT_EQ(r.body["code"], tc.code);
    EXPECT_EQ(r.body["reason"], tc.reason);
    EXPECT_NE(r.body.value("message", "").find(tc.message), std::string::npos) << r.body.value("message", "");
  }
}

TEST_F(ServerTest, StaleUpdateConflicts) {
  auto created = c().Post(kCms, ConfigMap("x", {{"a", "1"}}));
  json first = created.body;
  first["data"]["a"] = "2";
  ASSERT_EQ(c().Put(std::string(kCms) + "/x", first).status, 200);
  json stale = created.body;
  stale["data"]["a"] = "3";
  auto r = c().Put(std::string(kCms) + "/x", stale);
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(r.body["reason"], "Conflict");
  EXPECT_EQ(r.body["message"],
            "Operation cannot be fulfilled on configmaps \"x\": the object has been modified; please apply your "
            "changes to the latest version and try again");
  EXPECT_EQ(r.body["details"]["name"], "x");
  EXPECT_EQ(r.body["details"]["kind"], "configmaps");
}

TEST_F(ServerTest, GenerationFollowsSpecAndStatusSubresourceIsSeparate) {
  const std::string path = "/apis/apps/v1/namespaces/default/deployments/web";
  auto d = c().Post("/apis/apps/v1/namespaces/default/deployments", Deployment("web", 1));
  json obj = d.body;
  obj["metadata"]["labels"]["x"] = "y";
  obj["status"] = {{"replicas", 7}};
  auto u = c().Put(path, obj);
  ASSERT_EQ(u.status, 200) << u.raw;
  EXPECT_EQ(u.body["metadata"]["generation"], 1) << "metadata-only change";
  EXPECT_FALSE(u.body["status"].contains("replicas")) << "main resource ignores status";
  auto s = c().Patch(path + "/status", R"({"status":{"readyReplicas":1},"spec":{"replicas":9}})",
                     "application/merge-patch+json");
  ASSERT_EQ(s.status, 200) << s.raw;
  EXPECT_EQ(s.body["status"]["readyReplicas"], 1);
  EXPECT_EQ(s.body["spec"]["replicas"], 1) << "status subresource ignores spec";
  auto p = c().Patch(path, R"({"spec":{"replicas":3}})", "application/merge-patch+json");
  EXPECT_EQ(p.body["metadata"]["generation"], 2);
  EXPECT_EQ(p.body["status"]["readyReplicas"], 1);
}

TEST_F(ServerTest, NoOpUpdateKeepsResourceVersion) {
  auto created = c().Post(kCms, ConfigMap("x", {{"a", "1"}}));
  auto again = c().Put(std::string(kCms) + "/x", created.body);
  EXPECT_EQ(again.body["metadata"]["resourceVersion"], created.body["metadata"]["resourceVersion"]);
}

TEST_F(ServerTest, ScaleSubresource) {
  c().Post("/apis/apps/v1/namespaces/default/deployments", Deployment("web", 2));
  const std::string scale = "/apis/apps/v1/namespaces/default/deployments/web/scale";
  auto s = c().Get(scale);
  ASSERT_EQ(s.status, 200) << s.raw;
  EXPECT_EQ(s.body["kind"], "Scale");
  EXPECT_EQ(s.body["apiVersion"], "autoscaling/v1");
  EXPECT_EQ(s.body["spec"]["replicas"], 2);
  EXPECT_EQ(s.body["status"]["selector"], "app=web");
  auto p = c().Patch(scale, R"({"spec":{"replicas":5}})", "application/merge-patch+json");
  ASSERT_EQ(p.status, 200) << p.raw;
  EXPECT_EQ(c().Get("/apis/apps/v1/namespaces/default/deployments/web").body["spec"]["replicas"], 5);
  auto bad = c().Patch(scale, R"({"spec":{"replicas":-1}})", "application/merge-patch+json");
  EXPECT_EQ(bad.status, 422);
}

TEST_F(ServerTest, PatchTypes) {
  c().Post("/apis/apps/v1/namespaces/default/deployments", Deployment("web", 1));
  const std::string path = "/apis/apps/v1/namespaces/default/deployments/web";
  auto smp = c().Patch(path,
                       R"({"spec":{"template":{"spec":{"containers":[{"name":"side","image":"busybox"}]}}}})",
                       "application/strategic-merge-patch+json");
  ASSERT_EQ(smp.status, 200) << smp.raw;
  EXPECT_EQ(smp.body["spec"]["template"]["spec"]["containers"].size(), 2u) << "merged by name";
  auto jp = c().Patch(path, R"([{"op":"replace","path":"/spec/replicas","value":4}])", "application/json-patch+json");
  ASSERT_EQ(jp.status, 200) << jp.raw;
  EXPECT_EQ(jp.body["spec"]["replicas"], 4);
  auto stale = c().Patch(path, R"({"metadata":{"resourceVersion":"1"},"spec":{"replicas":2}})",
                         "application/merge-patch+json");
  EXPECT_EQ(stale.status, 409) << "a patch carrying a resourceVersion is a precondition";
}

TEST_F(ServerTest, DryRunStoresNothing) {
  auto r = c().Do("POST", std::string(kCms) + "?dryRun=All", ConfigMap("dry").dump());
  EXPECT_EQ(r.status, 201) << r.raw;
  EXPECT_EQ(c().Get(std::string(kCms) + "/dry").status, 404);
  c().Post(kCms, ConfigMap("x"));
  EXPECT_EQ(c().Do("DELETE", std::string(kCms) + "/x?dryRun=All").status, 200);
  EXPECT_EQ(c().Get(std::string(kCms) + "/x").status, 200);
}

TEST_F(ServerTest, LabelAndFieldSelectorsAndPaging) {
  for (int i = 0; i < 5; ++i) {
    json cm = ConfigMap("cm" + std::to_string(i));
    cm["metadata"]["labels"] = {{"app", i % 2 ? "odd" : "even"}};
    ASSERT_EQ(c().Post(kCms, cm).status, 201);
  }
  EXPECT_EQ(c().Get(std::string(kCms) + "?labelSelector=app%3Deven").body["items"].size(), 3u);
  EXPECT_EQ(c().Get(std::string(kCms) + "?labelSelector=app%20in%20(odd)").body["items"].size(), 2u);
  EXPECT_EQ(c().Get(std::string(kCms) + "?labelSelector=app!%3Dodd").body["items"].size(), 3u);
  EXPECT_EQ(c().Get(std::string(kCms) + "?fieldSelector=metadata.name%3Dcm3").body["items"].size(), 1u);
  EXPECT_EQ(c().Get("/api/v1/configmaps?fieldSelector=metadata.namespace%3Ddefault").body["items"].size(), 5u);
  std::vector<std::string> names;
  std::string cont;
  int pages = 0;
  do {
    auto page = c().Get(std::string(kCms) + "?limit=2" + (cont.empty() ? "" : "&continue=" + cont));
    ASSERT_EQ(page.status, 200) << page.raw;
    for (const auto& it : page.body["items"]) names.push_back(it["metadata"]["name"]);
    cont = page.body["metadata"].value("continue", "");
    ++pages;
  } while (!cont.empty() && pages < 10);
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(names, (std::vector<std::string>{"cm0", "cm1", "cm2", "cm3", "cm4"}));
  EXPECT_EQ(c().Get(std::string(kCms) + "?limit=2&continue=%%%").status, 400);
}

TEST_F(ServerTest, BuiltinListItemsOmitTypeMeta) {
  c().Post(kCms, ConfigMap("x"));
  auto l = c().Get(kCms);
  EXPECT_EQ(l.body["kind"], "ConfigMapList");
  EXPECT_FALSE(l.body["items"][0].contains("kind"));
}

TEST_F(ServerTest, WatchResumesFromResourceVersion) {
  auto a = c().Post(kCms, ConfigMap("a"));
  const std::string rv = a.body["metadata"]["resourceVersion"];
  c().Post(kCms, ConfigMap("b"));
  json upd = c().Get(std::string(kCms) + "/b").body;
  upd["data"] = {{"k", "v"}};
  c().Put(std::string(kCms) + "/b", upd);
  c().Delete(std::string(kCms) + "/a");
  Client w(*server_, server_->admin_token());
  auto events = w.Watch(std::string(kCms) + "?watch=true&resourceVersion=" + rv + "&timeoutSeconds=5",
                        [](const std::vector<json>& e) { return e.size() >= 3; });
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0]["type"], "ADDED");
  EXPECT_EQ(events[0]["object"]["metadata"]["name"], "b");
  EXPECT_EQ(events[1]["type"], "MODIFIED");
  EXPECT_EQ(events[2]["type"], "DELETED");
  EXPECT_EQ(events[2]["object"]["metadata"]["name"], "a");
}

TEST_F(ServerTest, WatchWithoutVersionStartsWithCurrentStateThenLiveEvents) {
  c().Post(kCms, ConfigMap("a"));
  std::thread writer;
  Client w(*server_, server_->admin_token());
  auto events = w.Watch(std::string(kCms) + "?watch=1&timeoutSeconds=10", [&](const std::vector<json>& e) {
    if (e.size() == 1) writer = std::thread([this] { Client(*server_, server_->admin_token()).Post(kCms, ConfigMap("live")); });
    return e.size() >= 2;
  });
  writer.join();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0]["object"]["metadata"]["name"], "a");
  EXPECT_EQ(events[1]["type"], "ADDED");
  EXPECT_EQ(events[1]["object"]["metadata"]["name"], "live");
}

TEST_F(ServerTest, WatchSelectorTransitionsBecomeAddedAndDeleted) {
  auto a = c().Post(kCms, ConfigMap("a"));
  const std::string rv = a.body["metadata"]["resourceVersion"];
  c().Patch(std::string(kCms) + "/a", R"({"metadata":{"labels":{"app":"x"}}})", "application/merge-patch+json");
  c().Patch(std::string(kCms) + "/a", R"({"metadata":{"labels":{"app":null}}})", "application/merge-patch+json");
  Client w(*server_, server_->admin_token());
  auto events = w.Watch(std::string(kCms) + "?watch=1&labelSelector=app%3Dx&resourceVersion=" + rv + "&timeoutSeconds=5",
                        [](const std::vector<json>& e) { return e.size() >= 2; });
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0]["type"], "ADDED");
  EXPECT_EQ(events[1]["type"], "DELETED");
}

TEST_F(ServerTest, WatchFromCompactedVersionIsGone) {
  for (int i = 0; i < 60; ++i) c().Post(kCms, ConfigMap("cm" + std::to_string(i)));
  Client w(*server_, server_->admin_token());
  auto events = w.Watch(std::string(kCms) + "?watch=1&resourceVersion=2&timeoutSeconds=5",
                        [](const std::vector<json>& e) { return !e.empty(); });
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0]["type"], "ERROR");
  EXPECT_EQ(events[0]["object"]["code"], 410);
  EXPECT_EQ(events[0]["object"]["reason"], "Expired");
  EXPECT_NE(events[0]["object"]["message"].get<std::string>().find("too old resource version: 2"), std::string::npos);
}

TEST_F(ServerTest, WatchSendsBookmarksAndEndsAtTimeout) {
  auto a = c().Post(kCms, ConfigMap("a"));
  Client w(*server_, server_->admin_token());
  auto events = w.Watch(std::string(kCms) + "?watch=1&allowWatchBookmarks=true&timeoutSeconds=1&resourceVersion=" +
                            a.body["metadata"]["resourceVersion"].get<std::string>(),
                        [](const std::vector<json>&) { return false; });
  ASSERT_FALSE(events.empty()) << "the stream ends by itself after timeoutSeconds";
  EXPECT_EQ(events[0]["type"], "BOOKMARK");
  EXPECT_EQ(events[0]["object"]["kind"], "ConfigMap");
  EXPECT_EQ(events[0]["object"]["metadata"]["resourceVersion"], a.body["metadata"]["resourceVersion"]);
}

TEST_F(ServerTest, FinalizersDelayDeletion) {
  json cm = ConfigMap("f");
  cm["metadata"]["finalizers"] = json::array({"example.com/hold"});
  c().Post(kCms, cm);
  auto d = c().Delete(std::string(kCms) + "/f");
  ASSERT_EQ(d.status, 200) << d.raw;
  EXPECT_TRUE(d.body["metadata"].contains("deletionTimestamp"));
  auto still = c().Get(std::string(kCms) + "/f");
  ASSERT_EQ(still.status, 200);
  auto p = c().Patch(std::string(kCms) + "/f", R"({"metadata":{"finalizers":null}})", "application/merge-patch+json");
  EXPECT_EQ(p.status, 200) << p.raw;
  EXPECT_EQ(c().Get(std::string(kCms) + "/f").status, 404);
}

TEST_F(ServerTest, DeleteReturnsSuccessStatusAndHonoursPreconditions) {
  auto cm = c().Post(kCms, ConfigMap("x"));
  auto bad = c().Delete(std::string(kCms) + "/x", {{"preconditions", {{"uid", "not-the-uid"}}}});
  EXPECT_EQ(bad.status, 409);
  EXPECT_NE(bad.body["message"].get<std::string>().find("Precondition failed: UID in precondition: not-the-uid"),
            std::string::npos);
  auto ok = c().Delete(std::string(kCms) + "/x", {{"preconditions", {{"uid", cm.body["metadata"]["uid"]}}}});
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(ok.body["kind"], "Status");
  EXPECT_EQ(ok.body["status"], "Success");
  EXPECT_EQ(ok.body["details"]["uid"], cm.body["metadata"]["uid"]);
}

TEST_F(ServerTest, NamespaceDeletionRemovesItsObjects) {
  c().Post("/api/v1/namespaces", {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", "shop"}}}});
  c().Post("/api/v1/namespaces/shop/configmaps", ConfigMap("a"));
  json held = ConfigMap("held");
  held["metadata"]["finalizers"] = json::array({"example.com/hold"});
  c().Post("/api/v1/namespaces/shop/configmaps", held);
  auto d = c().Delete("/api/v1/namespaces/shop");
  ASSERT_EQ(d.status, 200);
  auto ns = c().Get("/api/v1/namespaces/shop");
  EXPECT_EQ(ns.body["status"]["phase"], "Terminating");
  EXPECT_EQ(c().Get("/api/v1/namespaces/shop/configmaps/a").status, 404);
  auto create = c().Post("/api/v1/namespaces/shop/configmaps", ConfigMap("late"));
  EXPECT_EQ(create.status, 403);
  EXPECT_NE(create.body["message"].get<std::string>().find("because it is being terminated"), std::string::npos);
  c().Patch("/api/v1/namespaces/shop/configmaps/held", R"({"metadata":{"finalizers":[]}})",
            "application/merge-patch+json");
  EXPECT_EQ(c().Get("/api/v1/namespaces/shop").status, 404);
}

TEST_F(ServerTest, BackgroundDeletionRemovesDependentsAndOrphanKeepsThem) {
  auto owner = c().Post(kCms, ConfigMap("owner"));
  json dep = ConfigMap("dep");
  dep["metadata"]["ownerReferences"] = json::array(
      {{{"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"name", "owner"}, {"uid", owner.body["metadata"]["uid"]}}});
  c().Post(kCms, dep);
  c().Delete(std::string(kCms) + "/owner", {{"propagationPolicy", "Background"}});
  EXPECT_EQ(c().Get(std::string(kCms) + "/dep").status, 404);

  auto owner2 = c().Post(kCms, ConfigMap("owner2"));
  dep["metadata"]["ownerReferences"][0]["uid"] = owner2.body["metadata"]["uid"];
  dep["metadata"]["name"] = "dep2";
  c().Post(kCms, dep);
  c().Delete(std::string(kCms) + "/owner2", {{"propagationPolicy", "Orphan"}});
  auto kept = c().Get(std::string(kCms) + "/dep2");
  ASSERT_EQ(kept.status, 200);
  EXPECT_FALSE(kept.body["metadata"].contains("ownerReferences"));
}

TEST_F(ServerTest, RejectsUnauthenticatedAndAcceptsClientCertsAndServiceAccountTokens) {
  Client anon(*server_, "");
  EXPECT_EQ(anon.Get("/version").status, 200);
  auto r = anon.Get(kCms);
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.body["reason"], "Unauthorized");
  Client wrong(*server_, "not-a-token");
  EXPECT_EQ(wrong.Get(kCms).status, 401);

  c().Post("/api/v1/namespaces/default/serviceaccounts",
           {{"apiVersion", "v1"}, {"kind", "ServiceAccount"}, {"metadata", {{"name", "bot"}}}});
  auto tr = c().Post("/api/v1/namespaces/default/serviceaccounts/bot/token",
                     {{"apiVersion", "authentication.k8s.io/v1"}, {"kind", "TokenRequest"}, {"spec", json::object()}});
  ASSERT_EQ(tr.status, 201) << tr.raw;
  Client bot(*server_, tr.body["status"]["token"]);
  EXPECT_EQ(bot.Get(kCms).status, 200);
  EXPECT_EQ(c().Post("/api/v1/namespaces/default/serviceaccounts/ghost/token", json::object()).status, 404);

  // Client certificate: through kubectl, which uses the kubeconfig's admin certificate.
  testutil::TempDir dir;
  ASSERT_TRUE(server_->WriteKubeconfig(dir.path() + "/kc", "sim").ok());
  auto out = testing::Run("HOME=" + dir.path() + " kubectl --kubeconfig " + dir.path() +
                          "/kc auth whoami -o jsonpath='{.status.userInfo.username} {.status.userInfo.groups}'");
  EXPECT_EQ(out.output, "kubernetes-admin [\"system:masters\",\"system:authenticated\"]");
  auto can = testing::Run("HOME=" + dir.path() + " kubectl --kubeconfig " + dir.path() + "/kc auth can-i delete pods");
  EXPECT_EQ(can.output, "yes\n");
}

TEST_F(ServerTest, CustomResourceDefinitionServesNewResource) {
  json crd = {
      {"apiVersion", "apiextensions.k8s.io/v1"},
      {"kind", "CustomResourceDefinition"},
      {"metadata", {{"name", "widgets.example.com"}}},
      {"spec",
       {{"group", "example.com"},
        {"scope", "Namespaced"},
        {"names", {{"plural", "widgets"}, {"singular", "widget"}, {"kind", "Widget"}, {"shortNames", {"wd"}}}},
        {"versions",
         json::array({{{"name", "v1"},
                       {"served", true},
                       {"storage", true},
                       {"schema", {{"openAPIV3Schema", {{"type", "object"}, {"x-kubernetes-preserve-unknown-fields", true}}}}},
                       {"subresources", {{"status", json::object()}}},
                       {"additionalPrinterColumns",
                        json::array({{{"name", "Phase"}, {"type", "string"}, {"jsonPath", ".status.phase"}}})}}})}}}};
  auto r = c().Post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd);
  ASSERT_EQ(r.status, 201) << r.raw;
  bool established = false;
  for (const auto& cond : r.body["status"]["conditions"]) established = established || cond["type"] == "Established";
  EXPECT_TRUE(established);
  auto disc = c().Get("/apis/example.com/v1");
  ASSERT_EQ(disc.status, 200);
  EXPECT_EQ(disc.body["resources"][0]["shortNames"], json::array({"wd"}));
  json w = {{"apiVersion", "example.com/v1"}, {"kind", "Widget"}, {"metadata", {{"name", "w1"}}}, {"spec", {{"size", 1}}}};
  auto cw = c().Post("/apis/example.com/v1/namespaces/default/widgets", w);
  ASSERT_EQ(cw.status, 201) << cw.raw;
  EXPECT_EQ(cw.body["metadata"]["generation"], 1);
  auto smp = c().Patch("/apis/example.com/v1/namespaces/default/widgets/w1", "{}", "application/strategic-merge-patch+json");
  EXPECT_EQ(smp.status, 415);
  auto st = c().Patch("/apis/example.com/v1/namespaces/default/widgets/w1/status", R"({"status":{"phase":"Ready"}})",
                      "application/merge-patch+json");
  EXPECT_EQ(st.status, 200) << st.raw;
  auto table = c().Do("GET", "/apis/example.com/v1/namespaces/default/widgets", "", "application/json",
                      {{"Accept", "application/json;as=Table;v=v1;g=meta.k8s.io"}});
  ASSERT_EQ(table.body["kind"], "Table") << table.raw;
  EXPECT_EQ(table.body["columnDefinitions"][1]["name"], "Phase");
  EXPECT_EQ(table.body["rows"][0]["cells"][1], "Ready");
  auto list = c().Get("/apis/example.com/v1/widgets");
  EXPECT_EQ(list.body["items"][0]["kind"], "Widget") << "custom resource lists keep type meta";
  ASSERT_EQ(c().Delete("/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com").status, 200);
  EXPECT_EQ(c().Get("/apis/example.com/v1/namespaces/default/widgets/w1").status, 404);
}

TEST_F(ServerTest, InvalidCustomResourceDefinitionIsRejected) {
  json crd = {{"apiVersion", "apiextensions.k8s.io/v1"},
              {"kind", "CustomResourceDefinition"},
              {"metadata", {{"name", "wrong.example.com"}}},
              {"spec", {{"group", "example.com"}, {"scope", "Namespaced"}, {"names", {{"plural", "gadgets"}}}}}};
  auto r = c().Post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd);
  EXPECT_EQ(r.status, 422) << r.raw;
  EXPECT_NE(r.body["message"].get<std::string>().find("spec.names.kind: Required value"), std::string::npos);
}

TEST_F(ServerTest, ServerSideApplyCreatesThenMerges) {
  const std::string path = std::string(kCms) + "/applied?fieldManager=tester";
  auto a = c().Patch(path, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: applied\ndata:\n  a: '1'\n",
                     "application/apply-patch+yaml");
  ASSERT_EQ(a.status, 201) << a.raw;
  EXPECT_EQ(a.body["metadata"]["managedFields"][0]["manager"], "tester");
  EXPECT_EQ(a.body["metadata"]["managedFields"][0]["operation"], "Apply");
  auto b = c().Patch(path, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: applied\ndata:\n  b: '2'\n",
                     "application/apply-patch+yaml");
  ASSERT_EQ(b.status, 200) << b.raw;
  EXPECT_EQ(b.body["data"]["b"], "2");
}

}  // namespace
}  // namespace kdr::kubesim

namespace kdr::kubesim {
namespace {

TEST_F(ServerTest, AppliesKubeDefaults) {
  json d = Deployment("web", 1);
  d["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:1.27";
  d["spec"]["template"]["spec"]["containers"][0]["ports"] = json::array({{{"containerPort", 80}}});
  auto r = c().Post("/apis/apps/v1/namespaces/default/deployments", d);
  ASSERT_EQ(r.status, 201) << r.raw;
  EXPECT_EQ(r.body["spec"]["strategy"]["type"], "RollingUpdate");
  const json& ctr = r.body["spec"]["template"]["spec"]["containers"][0];
  EXPECT_EQ(ctr["imagePullPolicy"], "IfNotPresent");
  EXPECT_EQ(ctr["ports"][0]["protocol"], "TCP");
  EXPECT_EQ(r.body["spec"]["template"]["spec"]["dnsPolicy"], "ClusterFirst");
  json svc = {{"apiVersion", "v1"}, {"kind", "Service"}, {"metadata", {{"name", "web"}}},
              {"spec", {{"selector", {{"app", "web"}}}, {"ports", json::array({{{"port", 80}}})}}}};
  auto s = c().Post("/api/v1/namespaces/default/services", svc);
  ASSERT_EQ(s.status, 201) << s.raw;
  EXPECT_EQ(s.body["spec"]["type"], "ClusterIP");
  EXPECT_EQ(s.body["spec"]["clusterIP"].get<std::string>().rfind("10.96.", 0), 0u);
  EXPECT_EQ(s.body["spec"]["ports"][0]["targetPort"], 80);
}

}  // namespace
}  // namespace kdr::kubesim

namespace kdr::kubesim {
namespace {

TEST_F(ServerTest, CustomResourcesFollowTheirStructuralSchema) {
  json schema = {{"type", "object"},
                 {"required", {"spec"}},
                 {"properties",
                  {{"spec",
                    {{"type", "object"},
                     {"properties",
                      {{"size", {{"type", "integer"}}},
                       {"mode", {{"type", "string"}, {"enum", {"Fast", "Safe"}}}},
                       {"extra", {{"type", "object"}, {"x-kubernetes-preserve-unknown-fields", true}}}}}}},
                   {"status", {{"type", "object"}, {"properties", {{"phase", {{"type", "string"}}}}}}}}}};
  json crd = {{"apiVersion", "apiextensions.k8s.io/v1"},
              {"kind", "CustomResourceDefinition"},
              {"metadata", {{"name", "gadgets.example.com"}}},
              {"spec",
               {{"group", "example.com"},
                {"scope", "Namespaced"},
                {"names", {{"plural", "gadgets"}, {"kind", "Gadget"}}},
                {"versions", json::array({{{"name", "v1"}, {"served", true}, {"storage", true},
                                           {"schema", {{"openAPIV3Schema", schema}}},
                                           {"subresources", {{"status", json::object()}}}}})}}}};
  ASSERT_EQ(c().Post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd).status, 201);
  const std::string path = "/apis/example.com/v1/namespaces/default/gadgets";
  auto gadget = [](const json& spec) {
    return json{{"apiVersion", "example.com/v1"}, {"kind", "Gadget"}, {"metadata", {{"name", "g"}}}, {"spec", spec}};
  };
  struct Case {
    const char* name;
    json spec;
    int code;
    const char* message;
  } cases[] = {
      {"wrong type", {{"size", "big"}}, 422,
       "Gadget.example.com \"g\" is invalid: spec.size: Invalid value: \"string\": spec.size in body must be of type integer"},
      {"not in enum", {{"mode", "Reckless"}}, 422, "spec.mode: Unsupported value: \"Reckless\": supported values: \"Fast\", \"Safe\""},
  };
  for (const auto& tc : cases) {
    SCOPED_TRACE(tc.name);
    auto r = c().Post(path, gadget(tc.spec));
    EXPECT_EQ(r.status, tc.code) << r.raw;
    EXPECT_NE(r.body.value("message", "").find(tc.message), std::string::npos) << r.body.value("message", "");
  }
  json no_spec = gadget({});
  no_spec.erase("spec");
  auto missing = c().Post(path, no_spec);
  EXPECT_EQ(missing.status, 422);
  EXPECT_NE(missing.body.value("message", "").find("spec: Required value"), std::string::npos) << missing.raw;

  auto strict = c().Do("POST", path + "?fieldValidation=Strict", gadget({{"size", 1}, {"colour", "red"}}).dump());
  EXPECT_EQ(strict.status, 400) << strict.raw;
  EXPECT_NE(strict.body.value("message", "").find("strict decoding error: unknown field \"spec.colour\""), std::string::npos);

  auto pruned = c().Post(path, gadget({{"size", 1}, {"colour", "red"}, {"extra", {{"anything", 1}}}}));
  ASSERT_EQ(pruned.status, 201) << pruned.raw;
  EXPECT_FALSE(pruned.body["spec"].contains("colour")) << "unknown fields are pruned";
  EXPECT_EQ(pruned.body["spec"]["extra"]["anything"], 1) << "preserved subtree";
  auto status = c().Patch(path + "/g/status", R"({"status":{"phase":"Up","bogus":true}})", "application/merge-patch+json");
  ASSERT_EQ(status.status, 200) << status.raw;
  EXPECT_EQ(status.body["status"], json({{"phase", "Up"}}));
}

}  // namespace
}  // namespace kdr::kubesim

namespace kdr::kubesim {
namespace {

TEST_F(ServerTest, ServerSideApplyTracksOwnershipRemovesDroppedFieldsAndReportsConflicts) {
  const std::string path = std::string(kCms) + "/ssa";
  auto apply = [&](const std::string& manager, const std::string& yaml, bool force = false) {
    return c().Patch(path + "?fieldManager=" + manager + (force ? "&force=true" : ""),
                     "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ssa\n" + yaml, "application/apply-patch+yaml");
  };
  ASSERT_EQ(apply("alice", "data:\n  a: '1'\n  b: '2'\n").status, 201);
  auto dropped = apply("alice", "data:\n  a: '1'\n");
  ASSERT_EQ(dropped.status, 200) << dropped.raw;
  EXPECT_EQ(dropped.body["data"], json({{"a", "1"}})) << "a field no longer applied is removed";
  auto shared = apply("bob", "data:\n  a: '1'\n");
  EXPECT_EQ(shared.status, 200) << "same value: shared ownership, no conflict";
  auto conflict = apply("bob", "data:\n  a: '9'\n");
  EXPECT_EQ(conflict.status, 409) << conflict.raw;
  EXPECT_EQ(conflict.body["message"], "Apply failed with 1 conflict: conflict with \"alice\" using v1: .data.a");
  EXPECT_EQ(conflict.body["details"]["causes"][0]["reason"], "FieldManagerConflict");
  auto forced = apply("bob", "data:\n  a: '9'\n", true);
  ASSERT_EQ(forced.status, 200) << forced.raw;
  EXPECT_EQ(forced.body["data"]["a"], "9");
  // An Update by another manager takes the fields it changes.
  auto upd = c().Patch(path + "?fieldManager=carol", R"({"data":{"c":"3"}})", "application/merge-patch+json");
  ASSERT_EQ(upd.status, 200);
  std::map<std::string, json> by_manager;
  for (const auto& e : upd.body["metadata"]["managedFields"]) by_manager[e["manager"]] = e["fieldsV1"];
  EXPECT_EQ(by_manager["carol"], json({{"f:data", {{"f:c", json::object()}}}}));
  EXPECT_EQ(by_manager["bob"], json({{"f:data", {{"f:a", json::object()}}}}));
  EXPECT_EQ(by_manager.count("alice"), 0u) << "alice lost her only field to bob's forced apply";
}

// A captured object applied to another cluster (issue "What a restore meets on a real cluster"),
// as kube-apiserver 1.37 answers each case on the real pair.
TEST_F(ServerTest, ServerSideApplyRefusesWhatACapturedObjectCarries) {
  ASSERT_EQ(c().Post(kCms, ConfigMap("live", {{"a", "1"}})).status, 201);
  const std::string apply = "application/apply-patch+yaml";
  auto cm = [](const std::string& name, const std::string& meta, const std::string& data) {
    return "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: " + name + "\n" + meta + "data: {" + data + "}\n";
  };
  struct Case {
    const char* name;
    std::string method;
    std::string path;
    std::string body;
    std::string content_type;
    int code;
    const char* message;
  } cases[] = {
      {"apply without fieldManager", "PATCH", std::string(kCms) + "/live", cm("live", "", "b: '2'"), apply, 422,
       "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch"},
      {"apply carrying managedFields", "PATCH", std::string(kCms) + "/live?fieldManager=dr",
       cm("live", "  managedFields:\n  - manager: kubectl\n    operation: Apply\n", "b: '2'"), apply, 400,
       "metadata.managedFields must be nil"},
      {"apply carrying an empty managedFields", "PATCH", std::string(kCms) + "/live?fieldManager=dr",
       cm("live", "  managedFields: []\n", "b: '2'"), apply, 400, "metadata.managedFields must be nil"},
      {"apply creating with managedFields", "PATCH", std::string(kCms) + "/fresh?fieldManager=dr",
       cm("fresh", "  managedFields: []\n", "b: '2'"), apply, 400, "metadata.managedFields must be nil"},
      {"apply creating with a foreign uid", "PATCH", std::string(kCms) + "/gone?fieldManager=dr",
       cm("gone", "  uid: 0000-1111\n", "b: '2'"), apply, 409,
       "Operation cannot be fulfilled on configmaps \"gone\": uid mismatch: the provided object specified uid "
       "0000-1111, and no existing object was found"},
      {"apply with a foreign uid and a field another manager owns", "PATCH", std::string(kCms) + "/live?fieldManager=dr",
       cm("live", "  uid: 0000-1111\n", "a: '9'"), apply, 409, "Apply failed with 1 conflict: conflict with"},
      {"apply with a foreign uid", "PATCH", std::string(kCms) + "/live?fieldManager=dr",
       cm("live", "  uid: 0000-1111\n", "b: '2'"), apply, 422,
       "ConfigMap \"live\" is invalid: metadata.uid: Invalid value: \"0000-1111\": field is immutable"},
      {"merge patch of the uid", "PATCH", std::string(kCms) + "/live", R"({"metadata":{"uid":"0000-1111"}})",
       "application/merge-patch+json", 422, "metadata.uid: Invalid value: \"0000-1111\": field is immutable"},
      {"update with a foreign uid", "PUT", std::string(kCms) + "/live",
       R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"live","uid":"0000-1111"}})", "application/json",
       409, "Precondition failed: UID in precondition: 0000-1111, UID in object meta: "},
      {"apply with a null managedFields", "PATCH", std::string(kCms) + "/live?fieldManager=dr",
       cm("live", "  managedFields: null\n", "b: '2'"), apply, 200, ""},
  };
  for (const auto& tc : cases) {
    SCOPED_TRACE(tc.name);
    auto r = tc.method == "PUT" ? c().Put(tc.path, json::parse(tc.body)) : c().Patch(tc.path, tc.body, tc.content_type);
    EXPECT_EQ(r.status, tc.code) << r.raw;
    if (tc.code >= 400) {
      EXPECT_NE(r.body.value("message", "").find(tc.message), std::string::npos) << r.body.value("message", "");
    }
  }
  EXPECT_EQ(c().Get(std::string(kCms) + "/fresh").status, 404);
  EXPECT_EQ(c().Get(std::string(kCms) + "/gone").status, 404);
}

}  // namespace
}  // namespace kdr::kubesim

namespace kdr::kubesim {
namespace {

TEST_F(ServerTest, ImmutableFieldsAreRejectedOnUpdate) {
  c().Post("/apis/apps/v1/namespaces/default/deployments", Deployment("web", 1));
  json pvc = {{"apiVersion", "v1"}, {"kind", "PersistentVolumeClaim"}, {"metadata", {{"name", "data"}}},
              {"spec", {{"accessModes", {"ReadWriteOnce"}}, {"resources", {{"requests", {{"storage", "1Gi"}}}}}}}};
  ASSERT_EQ(c().Post("/api/v1/namespaces/default/persistentvolumeclaims", pvc).status, 201);
  // Only a Bound claim of a class that allows expansion may grow (no controllers here to bind it).
  ASSERT_EQ(c().Patch("/api/v1/namespaces/default/persistentvolumeclaims/data/status",
                      R"({"status":{"phase":"Bound"}})", "application/merge-patch+json").status, 200);
  json fast = {{"apiVersion", "storage.k8s.io/v1"}, {"kind", "StorageClass"}, {"metadata", {{"name", "fast"}}},
               {"provisioner", "example.com/fast"}, {"allowVolumeExpansion", true}};
  ASSERT_EQ(c().Post("/apis/storage.k8s.io/v1/storageclasses", fast).status, 201);
  json svc = {{"apiVersion", "v1"}, {"kind", "Service"}, {"metadata", {{"name", "web"}}},
              {"spec", {{"ports", json::array({{{"port", 80}}})}}}};
  auto created_svc = c().Post("/api/v1/namespaces/default/services", svc);
  json cm = ConfigMap("frozen", {{"a", "1"}});
  cm["immutable"] = true;
  c().Post(kCms, cm);
  struct Case {
    const char* name;
    std::string path;
    std::string patch;
    int code;
    const char* message;
  } cases[] = {
      {"deployment selector", "/apis/apps/v1/namespaces/default/deployments/web",
       R"({"spec":{"selector":{"matchLabels":{"app":"other"}}}})", 422, "spec.selector: Invalid value"},
      {"pvc access modes", "/api/v1/namespaces/default/persistentvolumeclaims/data",
       R"({"spec":{"accessModes":["ReadWriteMany"]}})", 422, "spec is immutable after creation except resources.requests"},
      {"pvc class assigned later", "/api/v1/namespaces/default/persistentvolumeclaims/data",
       R"({"spec":{"storageClassName":"fast"}})", 200, ""},
      {"pvc resize", "/api/v1/namespaces/default/persistentvolumeclaims/data",
       R"({"spec":{"resources":{"requests":{"storage":"2Gi"}}}})", 200, ""},
      {"pvc binding", "/api/v1/namespaces/default/persistentvolumeclaims/data", R"({"spec":{"volumeName":"pv-1"}})",
       200, ""},
      {"service cluster ip", "/api/v1/namespaces/default/services/web", R"({"spec":{"clusterIP":"10.96.99.99"}})",
       422, "may not change once set"},
      {"immutable configmap", std::string(kCms) + "/frozen", R"({"data":{"a":"2"}})", 422,
       "data: Forbidden: field is immutable when `immutable` is set"},
  };
  for (const auto& tc : cases) {
    SCOPED_TRACE(tc.name);
    auto r = c().Patch(tc.path, tc.patch, "application/merge-patch+json");
    EXPECT_EQ(r.status, tc.code) << r.raw;
    if (tc.code != 200) {
      EXPECT_EQ(r.body["reason"], "Invalid");
      EXPECT_NE(r.body.value("message", "").find(tc.message), std::string::npos) << r.body.value("message", "");
    }
  }
  // A PUT without clusterIP keeps the allocated one.
  json put = created_svc.body;
  put["spec"].erase("clusterIP");
  put["spec"].erase("clusterIPs");
  auto kept = c().Put("/api/v1/namespaces/default/services/web", put);
  ASSERT_EQ(kept.status, 200) << kept.raw;
  EXPECT_EQ(kept.body["spec"]["clusterIP"], created_svc.body["spec"]["clusterIP"]);
}

}  // namespace
}  // namespace kdr::kubesim

namespace kdr::kubesim {
namespace {

// What kube-apiserver refuses that a restore can send (issue "What a restore meets on a real
// cluster"): each row as the real server answers it.
TEST_F(ServerTest, RefusesWhatKubeApiserverRefusesOnCreate) {
  auto cm = [](const std::string& name) { return ConfigMap(name, {{"a", "1"}}); };
  json with_rv = cm("with-rv");
  with_rv["metadata"]["resourceVersion"] = "12345";
  json big_annotations = cm("big-annotations");
  big_annotations["metadata"]["annotations"] = {{"note", std::string(300 * 1024, 'x')}};
  json big_data = ConfigMap("big-data", {{"a", std::string(1100 * 1024, 'x')}});
  json huge_body = ConfigMap("huge-body", {{"a", std::string(3200 * 1024, 'x')}});
  auto pc = [](const std::string& name, int64_t value) {
    return json{{"apiVersion", "scheduling.k8s.io/v1"}, {"kind", "PriorityClass"}, {"metadata", {{"name", name}}},
                {"value", value}};
  };
  auto lease = [](json spec) {
    return json{{"apiVersion", "coordination.k8s.io/v1"}, {"kind", "Lease"}, {"metadata", {{"name", "l"}}},
                {"spec", std::move(spec)}};
  };
  struct Case {
    const char* name;
    std::string path;
    json body;
    int code;
    const char* message;
  } cases[] = {
      {"resourceVersion set", kCms, with_rv, 500, "resourceVersion should not be set on objects to be created"},
      {"annotations over 256 KiB", kCms, big_annotations, 422,
       "metadata.annotations: Too long: must have at most 262144 bytes"},
      {"configmap data over 1 MiB", kCms, big_data, 422, "Too long: must have at most 1048576 bytes"},
      {"body over 3 MiB", kCms, huge_body, 413, "Request entity too large: limit is 3145728"},
      {"system- priority class", "/apis/scheduling.k8s.io/v1/priorityclasses", pc("system-custom", 10), 422,
       "priority class names with 'system-' prefix are reserved for system use only"},
      {"priority over 1e9", "/apis/scheduling.k8s.io/v1/priorityclasses", pc("too-high", 2000000000), 422,
       "maximum allowed value of a user defined priority is 1000000000"},
      {"priority at 1e9", "/apis/scheduling.k8s.io/v1/priorityclasses", pc("highest", 1000000000), 201, ""},
      {"lease renewTime without microseconds", "/apis/coordination.k8s.io/v1/namespaces/default/leases",
       lease({{"holderIdentity", "a"}, {"renewTime", "2026-01-01T00:00:00Z"}}), 400,
       "as \"2006-01-02T15:04:05.000000Z07:00\""},
      {"lease negative duration", "/apis/coordination.k8s.io/v1/namespaces/default/leases",
       lease({{"leaseDurationSeconds", -1}}), 422, "spec.leaseDurationSeconds: Invalid value: -1"},
      {"lease as the server wants it", "/apis/coordination.k8s.io/v1/namespaces/default/leases",
       lease({{"holderIdentity", "a"}, {"leaseDurationSeconds", 30}, {"renewTime", "2026-01-01T00:00:00.000000Z"}}),
       201, ""},
  };
  for (const auto& tc : cases) {
    SCOPED_TRACE(tc.name);
    auto r = c().Post(tc.path, tc.body);
    EXPECT_EQ(r.status, tc.code) << r.raw.substr(0, 500);
    if (tc.code >= 400) {
      EXPECT_NE(r.body.value("message", "").find(tc.message), std::string::npos) << r.body.value("message", "");
    }
  }
  // Nothing refused was stored; a dry run never reaches the storage's resourceVersion check.
  EXPECT_EQ(c().Get(std::string(kCms) + "/with-rv").status, 404);
  EXPECT_EQ(c().Post(std::string(kCms) + "?dryRun=All", with_rv).status, 201);
}

// fieldValidation for built-in kinds, as the real pair answers (kubectl's default is Strict):
// duplicate keys and unknown metadata fields are 400 with Strict, Warning headers with Warn
// (the server's default) and nothing with Ignore.
TEST_F(ServerTest, FieldValidationOfBuiltInKinds) {
  const std::string dup = R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"NAME","name":"NAME"},)"
                          R"("data":{"a":"1","a":"2"}})";
  const std::string unknown = R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"NAME","colour":"red",)"
                              R"("ownerReferences":[{"apiVersion":"v1","kind":"X","name":"n","uid":"u","colour":1}]}})";
  auto named = [](std::string body, const std::string& name) {
    for (size_t at; (at = body.find("NAME")) != std::string::npos;) body.replace(at, 4, name);
    return body;
  };
  const std::string kDup = "duplicate field \"metadata.name\", duplicate field \"data.a\"";
  const std::string kUnknown =
      "unknown field \"metadata.colour\", unknown field \"metadata.ownerReferences[0].colour\"";
  struct Case {
    const char* name;
    std::string body;
    std::string mode;
    int code;
    std::string message;
    std::vector<std::string> warnings;
  } cases[] = {
      {"dup-strict", dup, "Strict", 400,
       "ConfigMap in version \"v1\" cannot be handled as a ConfigMap: strict decoding error: " + kDup, {}},
      {"dup-warn", dup, "Warn", 201, "",
       {"299 - \"duplicate field \\\"metadata.name\\\"\"", "299 - \"duplicate field \\\"data.a\\\"\""}},
      {"dup-default", dup, "", 201, "", {"299 - \"duplicate field \\\"metadata.name\\\"\"",
                                         "299 - \"duplicate field \\\"data.a\\\"\""}},
      {"dup-ignore", dup, "Ignore", 201, "", {}},
      {"unknown-strict", unknown, "Strict", 400,
       "ConfigMap in version \"v1\" cannot be handled as a ConfigMap: strict decoding error: " + kUnknown, {}},
      {"unknown-warn", unknown, "Warn", 201, "",
       {"299 - \"unknown field \\\"metadata.colour\\\"\"",
        "299 - \"unknown field \\\"metadata.ownerReferences[0].colour\\\"\""}},
      {"unknown-ignore", unknown, "Ignore", 201, "", {}},
  };
  for (const auto& tc : cases) {
    SCOPED_TRACE(tc.name);
    const std::string query = tc.mode.empty() ? "" : "?fieldValidation=" + tc.mode;
    auto r = c().Do("POST", std::string(kCms) + query, named(tc.body, tc.name));
    EXPECT_EQ(r.status, tc.code) << r.raw;
    if (tc.code == 400) {
      EXPECT_EQ(r.body.value("message", ""), tc.message);
    }
    EXPECT_EQ(r.warnings, tc.warnings);
  }
  // The last of duplicate keys wins, as in Go's decoder.
  EXPECT_EQ(c().Get(std::string(kCms) + "/dup-ignore").body["data"]["a"], "2");
  // Updates are checked the same way.
  auto put = c().Do("PUT", std::string(kCms) + "/dup-ignore?fieldValidation=Strict", named(dup, "dup-ignore"));
  EXPECT_EQ(put.status, 400) << put.raw;
}

// What a fresh kube-apiserver makes at start is there in a fresh kubesim, so a restore creating
// it meets 409 AlreadyExists, as on the real pair.
TEST_F(ServerTest, BootstrapObjectsExistSoACreateIsAlreadyExists) {
  const std::string rbac = "/apis/rbac.authorization.k8s.io/v1";
  auto obj = [](const std::string& api_version, const std::string& kind, const std::string& name, json rest) {
    rest["apiVersion"] = api_version;
    rest["kind"] = kind;
    rest["metadata"] = {{"name", name}};
    return rest;
  };
  const json rules = {{"rules", json::array({{{"apiGroups", {""}}, {"resources", {"pods"}}, {"verbs", {"get"}}}})}};
  const json binding = {{"roleRef", {{"apiGroup", "rbac.authorization.k8s.io"}, {"kind", "ClusterRole"}, {"name", "view"}}},
                        {"subjects", json::array({{{"kind", "User"}, {"name", "x"}}})}};
  struct Case {
    std::string path;
    json body;
    int code;
    const char* message;
  } cases[] = {
      {rbac + "/clusterroles", obj("rbac.authorization.k8s.io/v1", "ClusterRole", "cluster-admin", rules), 409,
       "clusterroles.rbac.authorization.k8s.io \"cluster-admin\" already exists"},
      {rbac + "/clusterroles", obj("rbac.authorization.k8s.io/v1", "ClusterRole", "view", rules), 409, "already exists"},
      {rbac + "/clusterroles", obj("rbac.authorization.k8s.io/v1", "ClusterRole", "system:node", rules), 409,
       "already exists"},
      {rbac + "/clusterrolebindings", obj("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "cluster-admin", binding),
       409, "clusterrolebindings.rbac.authorization.k8s.io \"cluster-admin\" already exists"},
      {rbac + "/namespaces/kube-system/roles",
       obj("rbac.authorization.k8s.io/v1", "Role", "extension-apiserver-authentication-reader", rules), 409,
       "roles.rbac.authorization.k8s.io \"extension-apiserver-authentication-reader\" already exists"},
      {rbac + "/namespaces/kube-public/rolebindings",
       obj("rbac.authorization.k8s.io/v1", "RoleBinding", "system:controller:bootstrap-signer", binding), 409,
       "already exists"},
      {"/apis/scheduling.k8s.io/v1/priorityclasses",
       obj("scheduling.k8s.io/v1", "PriorityClass", "system-node-critical", {{"value", 2000001000}}), 409,
       "priorityclasses.scheduling.k8s.io \"system-node-critical\" already exists"},
      {"/apis/scheduling.k8s.io/v1/priorityclasses",
       obj("scheduling.k8s.io/v1", "PriorityClass", "system-cluster-critical", {{"value", 5}}), 422,
       "error: value of system-cluster-critical PriorityClass must be 2000000000"},
      {"/api/v1/namespaces", obj("v1", "Namespace", "kube-node-lease", json::object()), 409,
       "namespaces \"kube-node-lease\" already exists"},
      // Not bootstrap policy: the binding of that Role is named system::extension-apiserver-...
      {rbac + "/namespaces/kube-system/rolebindings",
       obj("rbac.authorization.k8s.io/v1", "RoleBinding", "extension-apiserver-authentication-reader", binding), 201, ""},
  };
  for (const auto& tc : cases) {
    SCOPED_TRACE(tc.body["kind"].get<std::string>() + " " + tc.body["metadata"]["name"].get<std::string>());
    auto r = c().Post(tc.path, tc.body);
    EXPECT_EQ(r.status, tc.code) << r.raw.substr(0, 500);
    if (tc.code >= 400) {
      EXPECT_NE(r.body.value("message", "").find(tc.message), std::string::npos) << r.body.value("message", "");
    }
  }
  // The policy as the real server has it: cluster-admin may do everything, with the bootstrap label.
  auto admin = c().Get(rbac + "/clusterroles/cluster-admin");
  ASSERT_EQ(admin.status, 200);
  EXPECT_EQ(admin.body["metadata"]["labels"]["kubernetes.io/bootstrapping"], "rbac-defaults");
  EXPECT_EQ(admin.body["rules"][0], json({{"apiGroups", {"*"}}, {"resources", {"*"}}, {"verbs", {"*"}}}));
  EXPECT_GE(c().Get(rbac + "/clusterroles").body["items"].size(), 60u);
}

TEST_F(ServerTest, AStorageClassKeepsItsParametersProvisionerAndPolicies) {
  json sc = {{"apiVersion", "storage.k8s.io/v1"}, {"kind", "StorageClass"}, {"metadata", {{"name", "fast"}}},
             {"provisioner", "example.com/fast"}, {"parameters", {{"type", "ssd"}}}};
  ASSERT_EQ(c().Post("/apis/storage.k8s.io/v1/storageclasses", sc).status, 201);
  struct Case {
    const char* patch;
    int code;
    const char* message;
  } cases[] = {
      {R"({"parameters":{"type":"hdd"}})", 422, "parameters: Forbidden: updates to parameters are forbidden."},
      {R"({"provisioner":"example.com/slow"})", 422, "provisioner: Forbidden: updates to provisioner are forbidden."},
      {R"({"reclaimPolicy":"Retain"})", 422, "reclaimPolicy: Forbidden: updates to reclaimPolicy are forbidden."},
      {R"({"volumeBindingMode":"WaitForFirstConsumer"})", 422, "volumeBindingMode: Invalid value"},
      {R"({"allowVolumeExpansion":true,"metadata":{"labels":{"tier":"1"}}})", 200, ""},
  };
  for (const auto& tc : cases) {
    SCOPED_TRACE(tc.patch);
    auto r = c().Patch("/apis/storage.k8s.io/v1/storageclasses/fast", tc.patch, "application/merge-patch+json");
    EXPECT_EQ(r.status, tc.code) << r.raw;
    if (tc.code != 200) {
      EXPECT_NE(r.body.value("message", "").find(tc.message), std::string::npos) << r.body.value("message", "");
    }
  }
}

TEST_F(ServerTest, ClaimsWithoutAClassGetTheDefaultStorageClass) {
  json sc = {{"apiVersion", "storage.k8s.io/v1"}, {"kind", "StorageClass"},
             {"metadata", {{"name", "std"}, {"annotations", {{"storageclass.kubernetes.io/is-default-class", "true"}}}}},
             {"provisioner", "example.com/x"}};
  ASSERT_EQ(c().Post("/apis/storage.k8s.io/v1/storageclasses", sc).status, 201);
  json pvc = {{"apiVersion", "v1"}, {"kind", "PersistentVolumeClaim"}, {"metadata", {{"name", "data"}}},
              {"spec", {{"accessModes", {"ReadWriteOnce"}}, {"resources", {{"requests", {{"storage", "1Gi"}}}}}}}};
  auto r = c().Post("/api/v1/namespaces/default/persistentvolumeclaims", pvc);
  ASSERT_EQ(r.status, 201) << r.raw;
  EXPECT_EQ(r.body["spec"]["storageClassName"], "std");
  EXPECT_EQ(r.body["spec"]["volumeMode"], "Filesystem");
}

}  // namespace
}  // namespace kdr::kubesim
