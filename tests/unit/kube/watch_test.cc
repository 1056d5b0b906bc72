#include "kube/watch.h"

#include <gtest/gtest.h>

#include <mutex>
#include <nlohmann/json.hpp>

#include "kube/client.h"
#include "kube/transport_https.h"
#include "testutil/testutil.h"
#include "testutil/tls_server.h"

namespace kdr::kube {
namespace {

using nlohmann::json;
using testutil::Reply;
using testutil::ServerRequest;
using testutil::TlsServer;
using namespace std::chrono_literals;

const Gvr kPods{"", "v1", "pods"};

std::string Event(const std::string& type, const std::string& name, const std::string& rv) {
  json e = {{"type", type},
            {"object", {{"apiVersion", "v1"}, {"kind", "Pod"}, {"metadata", {{"name", name}, {"resourceVersion", rv}}}}}};
  return e.dump() + "\n";
}

std::string Expired() {
  json e = {{"type", "ERROR"},
            {"object", json::parse(testutil::ReadData("kube/status_expired.json"))}};
  return e.dump() + "\n";
}

Reply Stream(std::vector<std::string> chunks) {
  Reply r;
  r.chunks = std::move(chunks);
  return r;
}

Reply PodList(const std::string& rv, const std::vector<std::string>& names) {
  json items = json::array();
  for (const auto& n : names) items.push_back({{"metadata", {{"name", n}, {"resourceVersion", rv}}}});
  return Reply::Json(200, json{{"kind", "PodList"}, {"apiVersion", "v1"}, {"metadata", {{"resourceVersion", rv}}}, {"items", items}}.dump());
}

class WatchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    RestConfig c;
    c.server = server_.url();
    c.ca_pem = server_.ca().cert_pem;
    c.qps = 0;
    auto t = HttpsTransport::Create(c);
    ASSERT_TRUE(t.ok());
    client_ = std::make_unique<Client>(c, std::move(t).value(), nullptr, env_);
  }

  std::vector<ServerRequest> Watches() {
    std::vector<ServerRequest> out;
    for (auto& r : server_.requests()) {
      if (r.Param("watch") == "true") out.push_back(r);
    }
    return out;
  }

  TlsServer server_;
  testutil::FakeClock clock_;
  Env env_{&clock_, nullptr, nullptr};
  std::unique_ptr<Client> client_;
};

TEST_F(WatchTest, StreamsEventsAndBookmarksSplitAcrossChunks) {
  std::string all = Event("ADDED", "a", "6") + Event("BOOKMARK", "", "8") + Event("MODIFIED", "a", "9");
  // Chunk boundaries fall inside events.
  server_.Enqueue(Stream({all.substr(0, 10), all.substr(10, 70), all.substr(80)}));
  std::vector<std::string> seen;
  WatchOptions o;
  o.resource_version = "5";
  o.label_selector = "app=web";
  Status s = client_->Watch(kPods, "shop", o, [&](std::string_view type, const json& obj) {
    seen.push_back(std::string(type) + ":" + ResourceVersion(obj));
    return true;
  });
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(seen, (std::vector<std::string>{"ADDED:6", "BOOKMARK:8", "MODIFIED:9"}));
  auto req = server_.requests().at(0);
  EXPECT_EQ(req.path, "/api/v1/namespaces/shop/pods");
  EXPECT_EQ(req.Param("watch"), "true");
  EXPECT_EQ(req.Param("allowWatchBookmarks"), "true");
  EXPECT_EQ(req.Param("resourceVersion"), "5");
  EXPECT_EQ(req.Param("labelSelector"), "app=web");
  EXPECT_EQ(req.Param("timeoutSeconds"), "300");
}

TEST_F(WatchTest, ErrorEventGoneIsFailedPrecondition) {
  server_.Enqueue(Stream({Event("ADDED", "a", "6") + Expired()}));
  int events = 0;
  Status s = client_->Watch(kPods, "", {}, [&](std::string_view, const json&) { return ++events > 0; });
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("too old resource version"), std::string::npos);
  EXPECT_EQ(events, 1);
}

TEST_F(WatchTest, GoneAnswerIsFailedPrecondition) {
  server_.Enqueue(Reply::Json(410, testutil::ReadData("kube/status_expired.json")));
  Status s = client_->Watch(kPods, "", {}, [](std::string_view, const json&) { return true; });
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
}

TEST_F(WatchTest, MalformedEventIsUnavailable) {
  server_.Enqueue(Stream({"this is not json\n"}));
  Status s = client_->Watch(kPods, "", {}, [](std::string_view, const json&) { return true; });
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_NE(s.message().find("malformed event"), std::string::npos);
}

TEST_F(WatchTest, HandlerReturningFalseEndsWatch) {
  Reply r = Stream({Event("ADDED", "a", "6") + Event("ADDED", "b", "7")});
  r.hold_open = true;
  server_.Enqueue(r);
  int events = 0;
  Status s = client_->Watch(kPods, "", {}, [&](std::string_view, const json&) {
    ++events;
    return false;
  });
  EXPECT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(events, 1);
  server_.Release();
}

TEST_F(WatchTest, StopTokenCancelsWatch) {
  Reply r = Stream({Event("ADDED", "a", "6")});
  r.hold_open = true;
  server_.Enqueue(r);
  std::stop_source stop;
  Status s = client_->Watch(kPods, "", {}, [&](std::string_view, const json&) {
    stop.request_stop();
    return true;
  }, stop.get_token());
  EXPECT_EQ(s.code(), StatusCode::kCancelled);
  server_.Release();
}

TEST_F(WatchTest, LostStreamIsUnavailableAndNotRetried) {
  Reply r = Stream({Event("ADDED", "a", "6")});
  r.drop_after_chunks = true;
  server_.Enqueue(r);
  int events = 0;
  Status s = client_->Watch(kPods, "", {}, [&](std::string_view, const json&) { return ++events > 0; });
  EXPECT_EQ(s.code(), StatusCode::kUnavailable) << s.ToString();
  EXPECT_EQ(events, 1);
  EXPECT_EQ(server_.requests().size(), 1u);
}

// A scripted API server for RunListWatch: lists answer from `lists`, watches from `watches`.
struct Script {
  std::mutex mu;
  std::deque<Reply> lists;
  std::deque<Reply> watches;
  Reply Next(const ServerRequest& req) {
    std::lock_guard<std::mutex> lock(mu);
    auto& q = req.Param("watch") == "true" ? watches : lists;
    if (q.empty()) return Reply::KubeStatus(500, "InternalError", "script exhausted");
    Reply r = q.front();
    q.pop_front();
    return r;
  }
};

struct Recorder {
  std::vector<std::vector<std::string>> replaces;
  std::vector<std::string> events;
  std::vector<Status> errors;
  ListWatchHandler Handler(std::function<void()> on_event_hook = nullptr) {
    ListWatchHandler h;
    h.on_replace = [this](const json& items, const std::string& rv) {
      std::vector<std::string> names{"rv=" + rv};
      for (const auto& i : items) names.push_back(Name(i));
      replaces.push_back(names);
    };
    h.on_event = [this, on_event_hook](std::string_view type, const json& obj) {
      events.push_back(std::string(type) + ":" + Name(obj));
      if (on_event_hook) on_event_hook();
    };
    h.on_error = [this](const Status& s) { errors.push_back(s); };
    return h;
  }
};

TEST_F(WatchTest, ListWatchRelistsAfterGone) {
  Script script;
  script.lists = {PodList("10", {"a", "b"}), PodList("20", {"b", "c"})};
  script.watches = {Stream({Event("ADDED", "c", "11") + Event("BOOKMARK", "", "15") + Expired()})};
  Reply last = Stream({Event("DELETED", "b", "21")});
  last.hold_open = true;
  script.watches.push_back(last);
  server_.SetHandler([&](const ServerRequest& req) { return script.Next(req); });

  std::stop_source stop;
  Recorder rec;
  ListWatchOptions o;
  o.gvr = kPods;
  o.namespace_name = "shop";
  Status s = RunListWatch(*client_, o, rec.Handler([&] {
    if (rec.events.size() == 2) stop.request_stop();
  }), stop.get_token());
  server_.Release();
  ASSERT_TRUE(s.ok()) << s.ToString();
  ASSERT_EQ(rec.replaces.size(), 2u);
  EXPECT_EQ(rec.replaces[0], (std::vector<std::string>{"rv=10", "a", "b"}));
  EXPECT_EQ(rec.replaces[1], (std::vector<std::string>{"rv=20", "b", "c"}));
  EXPECT_EQ(rec.events, (std::vector<std::string>{"ADDED:c", "DELETED:b"}));  // bookmarks stay inside
  ASSERT_EQ(rec.errors.size(), 1u);
  EXPECT_EQ(rec.errors[0].code(), StatusCode::kFailedPrecondition);
  auto watches = Watches();
  ASSERT_EQ(watches.size(), 2u);
  EXPECT_EQ(watches[0].Param("resourceVersion"), "10");
  EXPECT_EQ(watches[1].Param("resourceVersion"), "20");
  EXPECT_EQ(clock_.slept(), 0ns);  // a 410 relists at once
}

TEST_F(WatchTest, ListWatchResumesFromBookmarkWhenWatchEnds) {
  Script script;
  script.lists = {PodList("10", {"a"})};
  script.watches = {Stream({Event("BOOKMARK", "", "15")})};  // then the server ends the watch
  Reply second = Stream({Event("MODIFIED", "a", "16")});
  second.hold_open = true;
  script.watches.push_back(second);
  server_.SetHandler([&](const ServerRequest& req) { return script.Next(req); });

  std::stop_source stop;
  Recorder rec;
  ListWatchOptions o;
  o.gvr = kPods;
  Status s = RunListWatch(*client_, o, rec.Handler([&] { stop.request_stop(); }), stop.get_token());
  server_.Release();
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(rec.replaces.size(), 1u);  // no relist
  EXPECT_EQ(rec.events, (std::vector<std::string>{"MODIFIED:a"}));
  auto watches = Watches();
  ASSERT_EQ(watches.size(), 2u);
  EXPECT_EQ(watches[1].Param("resourceVersion"), "15");
}

TEST_F(WatchTest, ListWatchRelistsAfterDisconnectWithBackoff) {
  Script script;
  script.lists = {PodList("10", {"a"}), PodList("30", {"a", "z"})};
  Reply cut = Stream({Event("ADDED", "b", "11")});
  cut.drop_after_chunks = true;
  script.watches = {cut};
  Reply held = Stream({Event("ADDED", "y", "31")});
  held.hold_open = true;
  script.watches.push_back(held);
  server_.SetHandler([&](const ServerRequest& req) { return script.Next(req); });

  std::stop_source stop;
  Recorder rec;
  ListWatchOptions o;
  o.gvr = kPods;
  Status s = RunListWatch(*client_, o, rec.Handler([&] {
    if (rec.events.size() == 2) stop.request_stop();
  }), stop.get_token());
  server_.Release();
  ASSERT_TRUE(s.ok()) << s.ToString();
  ASSERT_EQ(rec.replaces.size(), 2u);
  EXPECT_EQ(rec.replaces[1], (std::vector<std::string>{"rv=30", "a", "z"}));
  EXPECT_EQ(rec.events, (std::vector<std::string>{"ADDED:b", "ADDED:y"}));
  ASSERT_EQ(rec.errors.size(), 1u);
  EXPECT_EQ(rec.errors[0].code(), StatusCode::kUnavailable);
  EXPECT_EQ(clock_.slept(), 500ms);
}

TEST_F(WatchTest, ListWatchStopsOnForbidden) {
  server_.SetHandler([](const ServerRequest&) {
    return Reply::KubeStatus(403, "Forbidden", "pods is forbidden: User \"x\" cannot list resource \"pods\"");
  });
  Recorder rec;
  ListWatchOptions o;
  o.gvr = kPods;
  Status s = RunListWatch(*client_, o, rec.Handler(), std::stop_token{});
  EXPECT_EQ(s.code(), StatusCode::kPermissionDenied);
  EXPECT_NE(s.message().find("listing pods: pods is forbidden"), std::string::npos) << s.message();
  EXPECT_TRUE(rec.replaces.empty());
}

}  // namespace
}  // namespace kdr::kube
