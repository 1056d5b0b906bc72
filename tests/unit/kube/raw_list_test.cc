// Raw list pages: the scan finds each item's bytes and the fields capture decides by, refuses
// what ParseJson refuses (and what is not a List), and agrees with ParseJson on every input of a
// table and of a deterministic mutation run. Client::ListRaw against a TLS server.

#include "kube/raw_list.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "base/json.h"
#include "kube/client.h"
#include "kube/object.h"
#include "kube/transport_https.h"
#include "testutil/testutil.h"
#include "testutil/tls_server.h"

namespace kdr::kube {
namespace {

using nlohmann::json;

const Gvr kConfigMaps{"", "v1", "configmaps"};

// The fields a scan reports, read from a parsed item as capture read them before.
struct Fields {
  std::string name, namespace_name, type, exclude, app_name;
  bool controller = false, api_version = false, kind = false, spec = false;
  friend bool operator==(const Fields&, const Fields&) = default;
};

std::ostream& operator<<(std::ostream& os, const Fields& f) {
  return os << "{name=" << f.name << " ns=" << f.namespace_name << " type=" << f.type
            << " exclude=" << f.exclude << " app=" << f.app_name << " controller=" << f.controller
            << " apiVersion=" << f.api_version << " kind=" << f.kind << " spec=" << f.spec << "}";
}

Fields FromJson(const json& item) {
  Fields f;
  f.name = Name(item);
  f.namespace_name = Namespace(item);
  f.type = StringField(item, {"type"});
  f.exclude = StringField(item, {"metadata", "labels", "dr.kubectl-dr.dev/exclude"});
  f.app_name = StringField(item, {"metadata", "labels", "app.kubernetes.io/name"});
  const json& refs = FieldAt(item, {"metadata", "ownerReferences"});
  if (refs.is_array()) {
    for (const json& r : refs) f.controller = f.controller || FieldAt(r, {"controller"}) == true;
  }
  f.api_version = item.contains("apiVersion");
  f.kind = item.contains("kind");
  f.spec = item.contains("spec");
  return f;
}

Fields FromRaw(const RawListItem& item) {
  Fields f;
  f.name = item.name;
  f.namespace_name = item.namespace_name;
  f.type = item.type;
  f.exclude = std::string(item.Label("dr.kubectl-dr.dev/exclude").value_or(""));
  f.app_name = std::string(item.Label("app.kubernetes.io/name").value_or(""));
  f.controller = item.controller_owner;
  f.api_version = item.has_api_version;
  f.kind = item.has_kind;
  f.spec = item.has_spec;
  return f;
}

// What a List's reader needs of a parsed document: an object whose items (absent, null or an
// array) hold objects only.
bool IsList(const json& doc) {
  if (!doc.is_object()) return false;
  auto items = doc.find("items");
  if (items == doc.end() || items->is_null()) return true;
  if (!items->is_array()) return false;
  for (const json& i : *items) {
    if (!i.is_object()) return false;
  }
  return true;
}

// The scan and ParseJson agree on `text`: the scan accepts exactly the Lists ParseJson accepts,
// and then each item's bytes parse to the parsed List's item, with the same fields.
void ExpectAgrees(const std::string& text, int max_depth = kMaxJsonDepth + 2, bool* accepted = nullptr) {
  Result<json> parsed = ParseJson(text, "page", max_depth);
  Result<RawListPage> page = ScanListPage(text, "page", max_depth);
  const bool want = parsed.ok() && IsList(*parsed);
  if (accepted != nullptr) *accepted = want;
  ASSERT_EQ(page.ok(), want) << "scan: " << (page.ok() ? "ok" : page.status().ToString())
                             << "\nParseJson: " << (parsed.ok() ? "ok" : parsed.status().ToString());
  if (!want) return;
  const json& items = FieldAt(*parsed, {"items"});
  ASSERT_EQ(page->items.size(), items.is_array() ? items.size() : 0u);
  for (size_t i = 0; i < page->items.size(); ++i) {
    SCOPED_TRACE("items[" + std::to_string(i) + "]");
    Result<json> item = ParseJson(page->Text(page->items[i]), "item", kMaxJsonDepth);
    ASSERT_TRUE(item.ok()) << item.status().ToString();
    EXPECT_EQ(*item, items[i]);
    EXPECT_EQ(FromRaw(page->items[i]), FromJson(items[i]));
  }
  EXPECT_EQ(page->continue_token, StringField(*parsed, {"metadata", "continue"}));
  EXPECT_EQ(page->resource_version, StringField(*parsed, {"metadata", "resourceVersion"}));
}

std::string Nested(int levels, std::string_view inner = "1") {
  std::string s;
  for (int i = 0; i < levels; ++i) s += "[";
  s += inner;
  for (int i = 0; i < levels; ++i) s += "]";
  return s;
}

TEST(ScanListPageTest, FindsEachItemsBytesAndTheFieldsCaptureReads) {
  const std::string body =
      R"({"kind":"PodList","apiVersion":"v1","metadata":{"resourceVersion":"42","continue":"tok",)"
      R"("remainingItemCount":7},"items":[)"
      R"({"metadata":{"name":"web-1","namespace":"shop","labels":{"app":"web","dr.kubectl-dr.dev/exclude":"true"},)"
      R"("ownerReferences":[{"kind":"ReplicaSet","controller":false},{"kind":"ReplicaSet","controller":true}]},)"
      R"("spec":{"containers":[]}}, )"
      "\n"
      R"({"apiVersion":"v1","kind":"Secret","metadata":{"name":"db","namespace":"shop"},"type":"Opaque","data":{}}]})";
  Result<RawListPage> page = ScanListPage(body, "page");
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  EXPECT_EQ(page->resource_version, "42");
  EXPECT_EQ(page->continue_token, "tok");
  EXPECT_EQ(page->remaining_item_count, 7);
  ASSERT_EQ(page->items.size(), 2u);
  const RawListItem& pod = page->items[0];
  EXPECT_EQ(page->Text(pod), body.substr(body.find("{\"metadata\":{\"name\":\"web-1\""),
                                         page->Text(pod).size()));
  EXPECT_EQ(page->Text(pod).back(), '}');
  EXPECT_EQ(pod.name, "web-1");
  EXPECT_EQ(pod.namespace_name, "shop");
  EXPECT_EQ(pod.Label("app"), "web");
  EXPECT_EQ(pod.Label("dr.kubectl-dr.dev/exclude"), "true");
  EXPECT_EQ(pod.Label("missing"), std::nullopt);
  EXPECT_TRUE(pod.controller_owner);
  EXPECT_TRUE(pod.has_spec);
  EXPECT_FALSE(pod.has_api_version);
  EXPECT_FALSE(pod.has_kind);
  const RawListItem& secret = page->items[1];
  EXPECT_EQ(page->Text(secret),
            R"({"apiVersion":"v1","kind":"Secret","metadata":{"name":"db","namespace":"shop"},"type":"Opaque","data":{}})");
  EXPECT_EQ(secret.type, "Opaque");
  EXPECT_TRUE(secret.has_api_version);
  EXPECT_TRUE(secret.has_kind);
  EXPECT_FALSE(secret.has_spec);
  EXPECT_FALSE(secret.controller_owner);
  ExpectAgrees(body);
}

TEST(ScanListPageTest, DecodesEscapesAndCountsRepeatedKeysAsNlohmannDoes) {
  const std::string body =
      R"({"items":[{"metadata":{"name":"a\u0062c\n\"\u00e9\ud83d\ude00","namespace":"s\/p",)"
      R"("labels":{"k\u0065y":"v1","key":"v2","other":5}}},)"
      // Repeated metadata: the last one is the object's.
      R"({"metadata":{"name":"first","labels":{"dr.kubectl-dr.dev/exclude":"true"},)"
      R"("ownerReferences":[{"controller":true}]},"metadata":{"name":"second"}},)"
      R"({"metadata":{"name":"x","name":7,"ownerReferences":[{"controller":true,"controller":false}]},"type":1}]})";
  Result<RawListPage> page = ScanListPage(body, "page");
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  ASSERT_EQ(page->items.size(), 3u);
  EXPECT_EQ(page->items[0].name, "abc\n\"\xc3\xa9\xf0\x9f\x98\x80");
  EXPECT_EQ(page->items[0].namespace_name, "s/p");
  EXPECT_EQ(page->items[0].Label("key"), "v2");
  EXPECT_EQ(page->items[0].Label("other"), "");
  EXPECT_EQ(page->items[1].name, "second");
  EXPECT_EQ(page->items[1].Label("dr.kubectl-dr.dev/exclude"), std::nullopt);
  EXPECT_FALSE(page->items[1].controller_owner);
  EXPECT_EQ(page->items[2].name, "");
  EXPECT_FALSE(page->items[2].controller_owner);
  EXPECT_EQ(page->items[2].type, "");
  ExpectAgrees(body);
}

TEST(ScanListPageTest, ItemsWithoutMetadataHaveNoName) {
  for (const std::string& body : std::vector<std::string>{R"({"items":[{}]})", R"({"items":[{"metadata":null}]})",
                                 R"({"items":[{"metadata":"web"}]})", R"({"items":[{"metadata":{"name":{"x":1}}}]})",
                                 R"({"items":[ { } ]})"}) {
    SCOPED_TRACE(body);
    Result<RawListPage> page = ScanListPage(body, "page");
    ASSERT_TRUE(page.ok()) << page.status().ToString();
    ASSERT_EQ(page->items.size(), 1u);
    EXPECT_EQ(page->items[0].name, "");
    EXPECT_EQ(page->items[0].namespace_name, "");
    ExpectAgrees(body);
  }
}

TEST(ScanListPageTest, AListWithoutItemsIsEmpty) {
  for (const std::string& body : std::vector<std::string>{R"({})", R"({"items":null})", R"({"items":[]})",
                                 "\xEF\xBB\xBF{\"items\":[]}", " \r\n\t{\"kind\":\"List\"}\n"}) {
    SCOPED_TRACE(body);
    Result<RawListPage> page = ScanListPage(body, "page");
    ASSERT_TRUE(page.ok()) << page.status().ToString();
    EXPECT_TRUE(page->items.empty());
    ExpectAgrees(body);
  }
}

TEST(ScanListPageTest, RefusesWhatIsNotJsonOrNotAList) {
  struct Case {
    std::string name;
    std::string body;
    std::string want;
  };
  const std::vector<Case> cases = {
      {"empty", "", "not valid JSON"},
      {"html", "<html>proxy login</html>", "not valid JSON"},
      {"truncated", R"({"items":[{"metadata":{"name":"a"})", "not valid JSON"},
      {"truncated string", R"({"items":[{"metadata":{"name":"a)", "not valid JSON"},
      {"trailing garbage", R"({"items":[]} x)", "not valid JSON"},
      {"two documents", R"({"items":[]}{})", "not valid JSON"},
      {"trailing comma", R"({"items":[{},]})", "not valid JSON"},
      {"trailing comma in object", R"({"items":[{"a":1,}]})", "not valid JSON"},
      {"missing colon", R"({"items" []})", "not valid JSON"},
      {"unquoted key", R"({items:[]})", "not valid JSON"},
      {"single quotes", R"({'items':[]})", "not valid JSON"},
      {"comment", R"({"items":[]/* c */})", "not valid JSON"},
      {"unknown escape", R"({"items":[{"a":"\x"}]})", "not valid JSON"},
      {"short \\u", R"({"items":[{"a":"\u12"}]})", "not valid JSON"},
      {"lone low surrogate", R"({"items":[{"a":"\udc00"}]})", "not valid JSON"},
      {"high surrogate alone", R"({"items":[{"a":"\ud800x"}]})", "not valid JSON"},
      {"control character", "{\"items\":[{\"a\":\"x\ty\"}]}", "not valid JSON"},
      {"ill-formed UTF-8", "{\"items\":[{\"a\":\"\xC3\x28\"}]}", "not valid JSON"},
      {"overlong UTF-8", "{\"items\":[{\"a\":\"\xC0\xAF\"}]}", "not valid JSON"},
      {"surrogate in UTF-8", "{\"items\":[{\"a\":\"\xED\xA0\x80\"}]}", "not valid JSON"},
      {"NUL byte", std::string("{\"items\":[]}\0{}", 15), "NUL byte"},
      {"NUL in a string", std::string("{\"items\":[{\"a\":\"\0\"}]}", 20), "NUL byte"},
      {"number overflow", R"({"items":[{"a":1e400}]})", "number overflow"},
      {"huge integer", R"({"items":[{"a":)" + std::string(400, '9') + "}]}", "number overflow"},
      {"leading zero", R"({"items":[{"a":01}]})", "not valid JSON"},
      {"bare minus", R"({"items":[{"a":-}]})", "not valid JSON"},
      {"bare dot", R"({"items":[{"a":1.}]})", "not valid JSON"},
      {"bare exponent", R"({"items":[{"a":1e}]})", "not valid JSON"},
      {"plus sign", R"({"items":[{"a":+1}]})", "not valid JSON"},
      {"NaN", R"({"items":[{"a":NaN}]})", "not valid JSON"},
      {"bad literal", R"({"items":[{"a":tru}]})", "not valid JSON"},
      {"top-level array", R"([{"metadata":{}}])", "not a List: expected an object"},
      {"top-level string", R"("items")", "not a List"},
      {"items an object", R"({"items":{"a":{}}})", "not a List: items is not an array"},
      {"items a string", R"({"items":"none"})", "not a List: items is not an array"},
      {"items a number", R"({"items":0})", "not a List: items is not an array"},
      {"items true", R"({"items":true})", "not a List: items is not an array"},
      {"item a number", R"({"items":[{},1]})", "not a List: items[1] is not an object"},
      {"item a string", R"({"items":["{}"]})", "not a List: items[0] is not an object"},
      {"item null", R"({"items":[null]})", "not a List: items[0] is not an object"},
      {"item an array", R"({"items":[[{}]]})", "not a List: items[0] is not an object"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Result<RawListPage> page = ScanListPage(c.body, "the answer");
    ASSERT_FALSE(page.ok());
    EXPECT_EQ(page.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(page.status().message().find("the answer"), std::string::npos) << page.status().message();
    EXPECT_NE(page.status().message().find(c.want), std::string::npos) << page.status().message();
    ExpectAgrees(c.body);
  }
}

TEST(ScanListPageTest, RefusesWhatNestsDeeperThanParseJsonAllows) {
  // An item at kMaxJsonDepth levels is the deepest kube-apiserver stores; its List adds 2.
  const std::string deepest = R"({"items":[{"a":)" + Nested(kMaxJsonDepth - 1) + "}]}";
  Result<RawListPage> ok = ScanListPage(deepest, "page");
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  ASSERT_EQ(ok->items.size(), 1u);
  EXPECT_TRUE(ParseJson(ok->Text(ok->items[0]), "item", kMaxJsonDepth).ok());
  ExpectAgrees(deepest);

  const std::string deeper = R"({"items":[{"a":)" + Nested(kMaxJsonDepth) + "}]}";
  Result<RawListPage> refused = ScanListPage(deeper, "page");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(refused.status().message().find("nests deeper than 10002 levels"), std::string::npos)
      << refused.status().message();
  ExpectAgrees(deeper);
  // Far deeper than any stack would survive recursing: refused without recursing.
  ExpectAgrees(R"({"items":[{"a":)" + Nested(1'000'000) + "}]}");
  // A smaller cap counts the same levels as ParseJson's.
  for (int depth = 1; depth <= 6; ++depth) {
    SCOPED_TRACE(depth);
    ExpectAgrees(R"({"items":[{"a":[[{"b":[]}]]}]})", depth);
  }
}

TEST(ScanListPageTest, AcceptsNumbersParseJsonAccepts) {
  for (const std::string& n : std::vector<std::string>{"0", "-0", "12", "-12.5e-3", "1E5", "1e+5", "0.000001", "1e-400",
                              "0e99999", std::string(30, '9'), "-" + std::string(300, '9'),
                              "9223372036854775808", "18446744073709551616", "1.7976931348623157e308",
                              "0." + std::string(400, '0') + "1e400", "1e308", "10e307"}) {
    SCOPED_TRACE(n);
    const std::string body = R"({"items":[{"a":)" + n + "}]}";
    EXPECT_TRUE(ScanListPage(body, "page").ok()) << ScanListPage(body, "page").status().ToString();
    ExpectAgrees(body);
  }
  for (const std::string& n : std::vector<std::string>{"1.8e308", "-1e309", "100e307", std::string(310, '9'), "1" + std::string(400, '0') + "e-50"}) {
    SCOPED_TRACE(n.substr(0, 20));
    ExpectAgrees(R"({"items":[{"a":)" + n + "}]}");
  }
}

// Random edits of a real List page: whatever the scan accepts, ParseJson accepts with the same
// items and fields; whatever it refuses, ParseJson refuses or reads as something not a List.
TEST(ScanListPageTest, AgreesWithParseJsonOnMutatedPages) {
  const std::string seed =
      R"({"kind":"ConfigMapList","apiVersion":"v1","metadata":{"resourceVersion":"9","continue":"c1"},)"
      R"("items":[{"metadata":{"name":"a\u00e9","namespace":"shop","labels":{"app.kubernetes.io/name":"kubectl-dr"},)"
      R"("ownerReferences":[{"controller":true}]},"data":{"k":"v\n","n":[1,-2.5e3,true,null]}},)"
      R"({"apiVersion":"v1","kind":"Secret","metadata":{"name":"b"},"type":"kubernetes.io/service-account-token","spec":{}}]})";
  const std::string alphabet = "{}[]\",:\\/ -.0123456789eEtrufalsn\xC3\xA9\x80\xFF\x01\tu";
  std::mt19937 rng(20261203);  // fixed: the same inputs every run
  int accepted = 0, refused = 0;
  for (int round = 0; round < 20000; ++round) {
    std::string text = seed;
    const int edits = 1 + static_cast<int>(rng() % 3);
    for (int e = 0; e < edits && !text.empty(); ++e) {
      const size_t at = rng() % text.size();
      const char c = alphabet[rng() % alphabet.size()];
      switch (rng() % 3) {
        case 0: text[at] = c; break;
        case 1: text.insert(text.begin() + static_cast<std::ptrdiff_t>(at), c); break;
        default: text.erase(at, 1 + rng() % 4); break;
      }
    }
    SCOPED_TRACE(PrintableBytes(text));
    bool ok = false;
    ExpectAgrees(text, kMaxJsonDepth + 2, &ok);
    if (HasFatalFailure() || HasFailure()) return;
    ++(ok ? accepted : refused);
  }
  // Both sides of the line are exercised.
  EXPECT_GT(accepted, 2000);
  EXPECT_GT(refused, 2000);
}

// Client::ListRaw against a TLS server.
class ListRawTest : public ::testing::Test {
 protected:
  std::unique_ptr<Client> MakeClient() {
    RestConfig c;
    c.server = server_.url();
    c.ca_pem = server_.ca().cert_pem;
    c.qps = 0;
    auto transport = HttpsTransport::Create(c);
    EXPECT_TRUE(transport.ok()) << transport.status().ToString();
    return std::make_unique<Client>(c, std::move(transport).value(), nullptr, env_);
  }

  testutil::TlsServer server_;
  testutil::FakeClock clock_;
  Env env_{&clock_, nullptr, nullptr};
};

TEST_F(ListRawTest, ReadsThePagesListReads) {
  // Five config maps served two per page.
  server_.SetHandler([](const testutil::ServerRequest& req) {
    int start = req.Param("continue").empty() ? 0 : std::stoi(req.Param("continue"));
    int limit = std::stoi(req.Param("limit"));
    json items = json::array();
    for (int i = start; i < std::min(start + limit, 5); ++i) {
      items.push_back({{"metadata", {{"name", "cm" + std::to_string(i)}, {"namespace", "shop"}}},
                       {"data", {{"v", std::string(i, 'x')}}}});
    }
    json meta = {{"resourceVersion", "rv" + std::to_string(start)}};
    if (start + limit < 5) meta["continue"] = std::to_string(start + limit);
    return testutil::Reply::Json(200, json{{"kind", "ConfigMapList"}, {"metadata", meta}, {"items", items}}.dump());
  });
  auto client = MakeClient();
  ListOptions o;
  o.limit = 2;
  o.label_selector = "app=web";
  std::vector<std::string> names;
  for (;;) {
    Result<RawListPage> raw = client->ListRaw(kConfigMaps, "shop", o);
    ASSERT_TRUE(raw.ok()) << raw.status().ToString();
    Result<json> list = client->List(kConfigMaps, "shop", o);
    ASSERT_TRUE(list.ok()) << list.status().ToString();
    ExpectAgrees(raw->body);
    EXPECT_EQ(raw->resource_version, StringField(*list, {"metadata", "resourceVersion"}));
    ASSERT_EQ(raw->items.size(), (*list)["items"].size());
    for (size_t i = 0; i < raw->items.size(); ++i) {
      names.push_back(raw->items[i].name);
      EXPECT_EQ(ParseJson(raw->Text(raw->items[i]), "item").value(), (*list)["items"][i]);
    }
    o.continue_token = raw->continue_token;
    if (o.continue_token.empty()) break;
  }
  EXPECT_EQ(names, (std::vector<std::string>{"cm0", "cm1", "cm2", "cm3", "cm4"}));
  auto reqs = server_.requests();
  ASSERT_FALSE(reqs.empty());
  EXPECT_EQ(reqs[0].path, "/api/v1/namespaces/shop/configmaps");
  EXPECT_EQ(reqs[0].Param("labelSelector"), "app=web");
  EXPECT_EQ(reqs[0].Param("limit"), "2");
}

TEST_F(ListRawTest, ErrorsAreListsAndAnAnswerNotAListIsUnavailable) {
  server_.Enqueue(testutil::Reply::Json(
      403, R"({"kind":"Status","apiVersion":"v1","status":"Failure","reason":"Forbidden","code":403,)"
           R"("message":"configmaps is forbidden"})"));
  server_.Enqueue(testutil::Reply::Json(200, "<html>proxy login</html>"));
  server_.Enqueue(testutil::Reply::Json(200, R"({"items":[{"metadata":{}},"x"]})"));
  server_.Enqueue(testutil::Reply::Json(200, ""));
  auto client = MakeClient();
  Result<RawListPage> forbidden = client->ListRaw(kConfigMaps, "shop");
  EXPECT_EQ(forbidden.status().code(), StatusCode::kPermissionDenied) << forbidden.status().ToString();
  Result<RawListPage> html = client->ListRaw(kConfigMaps, "shop");
  EXPECT_EQ(html.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(html.status().message().find("is not a List (the answer is not valid JSON"), std::string::npos)
      << html.status().message();
  EXPECT_NE(html.status().message().find("<html>proxy login"), std::string::npos) << html.status().message();
  Result<RawListPage> not_object = client->ListRaw(kConfigMaps, "shop");
  EXPECT_EQ(not_object.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(not_object.status().message().find("items[1] is not an object"), std::string::npos)
      << not_object.status().message();
  Result<RawListPage> empty = client->ListRaw(kConfigMaps, "shop");
  ASSERT_TRUE(empty.ok()) << empty.status().ToString();
  EXPECT_TRUE(empty->items.empty());
}

}  // namespace
}  // namespace kdr::kube
