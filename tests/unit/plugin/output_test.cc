// plugin/output: the table, age, json/yaml and name printers every command shares.

#include "output.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "base/yaml.h"

namespace kdr::plugin {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

TEST(FormatTableTest, UppercaseHeadersTwoSpacesAndNone) {
  Table t;
  t.headers = {"name", "Phase", "SPENT-BY", "AGE"};
  t.rows = {{"shop-to-dr", "Spent", "shop-failover", "3h"},
            {"orders-to-dr-longer", "Ready", "", "5m"},
            {"short"}};
  EXPECT_EQ(FormatTable(t),
            "NAME                 PHASE   SPENT-BY       AGE\n"
            "shop-to-dr           Spent   shop-failover  3h\n"
            "orders-to-dr-longer  Ready   <none>         5m\n"
            "short                <none>  <none>         <none>\n");
}

TEST(FormatTableTest, HeaderOnlyWhenNoRows) {
  Table t;
  t.headers = {"NAME", "AGE"};
  EXPECT_EQ(FormatTable(t), "NAME  AGE\n");
}

TEST(HumanDurationTest, MatchesKubectl) {
  struct Case {
    std::chrono::nanoseconds d;
    const char* want;
  };
  const Case cases[] = {
      {-5s, "<invalid>"},        {-1500ms, "0s"},         {0s, "0s"},          {45s, "45s"},
      {119s, "119s"},            {120s, "2m"},            {330s, "5m30s"},     {9min, "9m"},
      {42min, "42m"},            {179min, "179m"},        {3h, "3h"},          {5h + 12min, "5h12m"},
      {8h, "8h"},                {47h, "47h"},            {48h, "2d"},         {76h, "3d4h"},
      {24h * 8, "8d"},           {24h * 400, "400d"},     {24h * 760, "2y30d"}, {24h * 365 * 10, "10y"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.want);
    EXPECT_EQ(HumanDuration(c.d), c.want);
  }
}

TEST(FormatAgeTest, FromCreationTimestamp) {
  Clock::WallTime now;
  ASSERT_TRUE(ParseRfc3339("2026-11-21T11:19:00Z", &now));
  EXPECT_EQ(FormatAge("2026-11-21T08:19:00Z", now), "3h");
  EXPECT_EQ(FormatAge("2026-11-19T08:19:00Z", now), "2d3h");
  EXPECT_EQ(FormatAge("", now), "<unknown>");
  EXPECT_EQ(FormatAge("yesterday", now), "<unknown>");
}

TEST(ParseOutputFormatTest, AcceptsAllowedAndDefaults) {
  auto f = ParseOutputFormat("", "plan get", {OutputFormat::kTable, OutputFormat::kJson});
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(*f, OutputFormat::kTable);
  f = ParseOutputFormat("json", "plan get", {OutputFormat::kTable, OutputFormat::kJson});
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(*f, OutputFormat::kJson);
}

TEST(ParseOutputFormatTest, RejectsOthersListingTheAllowed) {
  struct Case {
    const char* value;
    std::initializer_list<OutputFormat> allowed;
    const char* want;
  };
  const Case cases[] = {
      {"xml", {OutputFormat::kTable, OutputFormat::kWide, OutputFormat::kJson, OutputFormat::kYaml, OutputFormat::kName},
       "-o \"xml\" is not supported by plan get: use one of table, wide, json, yaml, name"},
      {"wide", {OutputFormat::kYaml}, "-o \"wide\" is not supported by plan get: use yaml"},
      {"JSON", {OutputFormat::kJson}, "-o \"JSON\" is not supported by plan get: use json"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.value);
    auto f = ParseOutputFormat(c.value, "plan get", c.allowed);
    ASSERT_FALSE(f.ok());
    EXPECT_EQ(f.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(f.status().message(), c.want);
  }
}

json Obj(const std::string& name) {
  return {{"apiVersion", "dr.kubectl-dr.dev/v1alpha1"},
          {"kind", "DRPlan"},
          {"metadata", {{"name", name}, {"managedFields", json::array({{{"manager", "kubectl-dr"}}})}}}};
}

TEST(PrintObjectsTest, SeveralAreAListWithoutManagedFields) {
  std::ostringstream out;
  PrintObjects({Obj("a"), Obj("b")}, OutputFormat::kJson, false, out);
  json doc = json::parse(out.str());
  EXPECT_EQ(doc["apiVersion"], "v1");
  EXPECT_EQ(doc["kind"], "List");
  EXPECT_EQ(doc["metadata"], json({{"resourceVersion", ""}}));
  ASSERT_EQ(doc["items"].size(), 2u);
  EXPECT_EQ(doc["items"][1]["metadata"], json({{"name", "b"}}));
  EXPECT_NE(out.str().find("\n    \"apiVersion\""), std::string::npos) << "kubectl indents by 4";
}

TEST(PrintObjectsTest, OneIsItselfUnlessAList) {
  std::ostringstream one, list, none;
  PrintObjects({Obj("a")}, OutputFormat::kYaml, false, one);
  EXPECT_EQ(one.str(),
            "apiVersion: dr.kubectl-dr.dev/v1alpha1\n"
            "kind: DRPlan\n"
            "metadata:\n"
            "  name: a\n");
  PrintObjects({Obj("a")}, OutputFormat::kYaml, true, list);
  auto doc = YamlToJson(list.str(), "output");
  ASSERT_TRUE(doc.ok()) << doc.status().message();
  EXPECT_EQ((*doc)["kind"], "List");
  EXPECT_EQ((*doc)["items"].size(), 1u);
  PrintObjects({}, OutputFormat::kJson, false, none);
  EXPECT_EQ(json::parse(none.str())["items"], json::array());
}

TEST(PrintNamesTest, BareNamesOnePerLine) {
  std::ostringstream out;
  PrintNames({Obj("shop-to-dr"), Obj("orders-to-dr")}, out);
  EXPECT_EQ(out.str(), "shop-to-dr\norders-to-dr\n");
}

}  // namespace
}  // namespace kdr::plugin
