// kubectl dr transforms validate|apply, run in-process with string streams.

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "base/fs.h"
#include "base/yaml.h"
#include "cli/cli.h"
#include "cli_fixture.h"
#include "testutil/testutil.h"

namespace kdr {
namespace {

using nlohmann::json;

using plugin::testing::CliRun;

// The transforms commands need no cluster, only files.
CliRun RunCli(std::vector<std::string> args, const std::string& stdin_text = "") {
  PosixFileSystem fs;
  Env env;
  env.fs = &fs;
  return plugin::testing::RunCli(std::move(args), env, stdin_text);
}

std::string Data(const std::string& p) { return testutil::DataPath("transforms/" + p); }

TEST(TransformsCliTest, ValidateAcceptsAGoodFile) {
  CliRun r = RunCli({"transforms", "validate", Data("dr-site.yaml")});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("dr-site.yaml: valid (4 rules)"), std::string::npos) << r.out;
}

TEST(TransformsCliTest, ValidateListsEveryProblemAndExits2) {
  CliRun r = RunCli({"transforms", "validate", Data("invalid.yaml")});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("invalid.yaml is invalid: 4 problems:"), std::string::npos) << r.err;
  for (const char* want : {"line 1, column 10", "unknown key \"groupKind\"", "line 4, column 5",
                           "invalid regular expression", "unknown operation \"rename\""}) {
    EXPECT_NE(r.err.find(want), std::string::npos) << want << " in " << r.err;
  }
  EXPECT_TRUE(r.out.empty());
}

TEST(TransformsCliTest, ValidateOfMissingFileFails) {
  CliRun r = RunCli({"transforms", "validate", Data("nope.yaml")});
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("cannot read modifier file"), std::string::npos) << r.err;
}

TEST(TransformsCliTest, ApplyPrintsAListOfTransformedObjects) {
  CliRun r = RunCli({"transforms", "apply", "--modifiers", Data("dr-site.yaml"), "-f",
                  Data("objects/shop.yaml"), "-o", "json"});
  ASSERT_EQ(r.code, 0) << r.err;
  json list = json::parse(r.out);
  EXPECT_EQ(list["kind"], "List");
  ASSERT_EQ(list["items"].size(), 3u);
  EXPECT_EQ(list["items"][0]["spec"]["storageClassName"], "dr-replicated");
  EXPECT_EQ(list["items"][1]["spec"]["replicas"], 1);
  EXPECT_EQ(list["items"][1]["metadata"]["labels"]["dr"], "true");
  EXPECT_EQ(list["items"][2]["spec"]["type"], "ClusterIP");
}

TEST(TransformsCliTest, ApplyReadsStdinAndPrintsOneObjectAsYaml) {
  std::string pvc =
      "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: data, namespace: shop}\n"
      "spec: {storageClassName: fast-ssd}\n";
  CliRun r = RunCli({"transforms", "apply", "--modifiers", Data("dr-site.yaml"), "-f", "-"}, pvc);
  ASSERT_EQ(r.code, 0) << r.err;
  auto obj = YamlToJson(r.out, "out");
  ASSERT_TRUE(obj.ok()) << r.out;
  EXPECT_EQ((*obj)["kind"], "PersistentVolumeClaim");
  EXPECT_EQ((*obj)["spec"]["storageClassName"], "dr-replicated");
}

TEST(TransformsCliTest, ApplyReadsADirectoryAndJsonLists) {
  testutil::TempDir dir;
  dir.Write("a.json", R"({"apiVersion": "v1", "kind": "List", "items": [
      {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "a", "namespace": "shop"},
       "spec": {"type": "LoadBalancer"}},
      {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "b", "namespace": "shop"},
       "spec": {"type": "NodePort"}}]})");
  dir.Write("b.yml", "apiVersion: v1\nkind: Service\nmetadata: {name: c}\nspec: {type: LoadBalancer}\n");
  dir.Write("notes.txt", "ignored");
  CliRun r = RunCli({"transforms", "apply", "--modifiers", Data("dr-site.yaml"), "-f", dir.path(),
                  "-o", "json"});
  ASSERT_EQ(r.code, 0) << r.err;
  json list = json::parse(r.out);
  ASSERT_EQ(list["items"].size(), 3u);
  EXPECT_EQ(list["items"][0]["spec"]["type"], "ClusterIP");
  EXPECT_EQ(list["items"][1]["spec"]["type"], "NodePort");
  EXPECT_EQ(list["items"][2]["spec"]["type"], "ClusterIP");
}

TEST(TransformsCliTest, ApplyPowersVmsOnOrOff) {
  CliRun r = RunCli({"transforms", "apply", "--vm-power-on=false", "-f", Data("objects/vm.json"),
                  "-o", "json"});
  ASSERT_EQ(r.code, 0) << r.err;
  json vm = json::parse(r.out);
  EXPECT_EQ(vm["spec"], json({{"runStrategy", "Halted"}}));
  CliRun bad = RunCli({"transforms", "apply", "--vm-power-on=maybe", "-f", Data("objects/vm.json")});
  EXPECT_EQ(bad.code, 2);
  EXPECT_NE(bad.err.find("--vm-power-on must be true or false"), std::string::npos) << bad.err;
}

TEST(TransformsCliTest, DiffShowsOnlyWhatChanged) {
  CliRun r = RunCli({"transforms", "apply", "--modifiers", Data("dr-site.yaml"), "-f",
                  Data("objects/shop.yaml"), "--diff"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("--- PersistentVolumeClaim shop/data (rules 0)\n"
                       "  ~ /spec/storageClassName: \"fast-ssd\" -> \"dr-replicated\"\n"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("  + /metadata/labels/dr: \"true\"\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("  ~ /spec/replicas: 3 -> 1\n"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("accessModes"), std::string::npos) << r.out;

  CliRun j = RunCli({"transforms", "apply", "--modifiers", Data("dr-site.yaml"), "-f",
                  Data("objects/shop.yaml"), "--diff", "-o", "json"});
  ASSERT_EQ(j.code, 0) << j.err;
  json changes = json::parse(j.out);
  ASSERT_EQ(changes.size(), 3u);
  EXPECT_EQ(changes[0]["object"]["name"], "data");
  EXPECT_EQ(changes[0]["patch"], json::parse(R"([{"op": "replace", "path":
      "/spec/storageClassName", "value": "dr-replicated"}])"));
}

TEST(TransformsCliTest, FailingRuleLeavesObjectOutAndExits1) {
  testutil::TempDir dir;
  std::string mods = dir.Write("m.yaml", R"(version: v1
resourceModifierRules:
- conditions: {groupResource: services}
  patches: [{operation: remove, path: /metadata/annotations/legacy}]
)");
  CliRun r = RunCli({"transforms", "apply", "--modifiers", mods, "-f", Data("objects/shop.yaml"),
                  "-o", "json"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("Service shop/web: rule 0 (patches, line 3): operation 0 (remove "
                       "/metadata/annotations/legacy)"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("1 of 3 objects could not be transformed"), std::string::npos) << r.err;
  json list = json::parse(r.out);
  ASSERT_EQ(list["items"].size(), 2u);  // the Service is left out, the rest printed unchanged
  for (const auto& item : list["items"]) EXPECT_NE(item["kind"], "Service");
}

// Velero skips a rule only on json-patch's "test failed"; a test whose path cannot be resolved
// fails the object, which is then left out and the command exits 1 naming rule, operation, path.
TEST(TransformsCliTest, TestWhosePathCannotBeResolvedFailsTheObject) {
  struct Case {
    const char* name;
    const char* rule;
    std::vector<std::string> want;
  } cases[] = {
      {"missing parent",
       "- conditions: {groupResource: services}\n"
       "  patches: [{operation: test, path: /metadata/annotations/team, value: payments}]\n",
       {"error: ", "Service shop/web: rule 0 (patches, line 3): operation 0 (test "
        "/metadata/annotations/team): path not found (/metadata has no member \"annotations\")",
        "to skip objects without /metadata/annotations, move the test into the rule's "
        "conditions.matches"}},
      {"index out of range",
       "- conditions: {groupResource: persistentvolumeclaims}\n"
       "  patches: [{operation: test, path: /spec/accessModes/1, value: ReadOnlyMany}]\n",
       {"PersistentVolumeClaim shop/data: rule 0 (patches, line 3): operation 0 (test "
        "/spec/accessModes/1): path not found (index 1 is out of range: /spec/accessModes has 1 "
        "elements)",
        "test an index that every object the rule matches has"}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    testutil::TempDir dir;
    std::string mods =
        dir.Write("m.yaml", std::string("version: v1\nresourceModifierRules:\n") + c.rule);
    CliRun r = RunCli({"transforms", "apply", "--modifiers", mods, "-f",
                       Data("objects/shop.yaml"), "-o", "json"});
    EXPECT_EQ(r.code, 1);
    for (const auto& want : c.want) {
      EXPECT_NE(r.err.find(want), std::string::npos) << want << " in " << r.err;
    }
    EXPECT_NE(r.err.find("1 of 3 objects could not be transformed"), std::string::npos) << r.err;
    json list = json::parse(r.out);
    EXPECT_EQ(list["items"].size(), 2u) << "the failed object is left out, the rest printed";
  }
}

// A test of a member that the object's existing parent lacks is a failed test (json-patch compares
// it as null): the rule is skipped, the object printed unchanged and the command succeeds.
TEST(TransformsCliTest, TestOfMissingMemberSkipsTheRule) {
  testutil::TempDir dir;
  std::string mods = dir.Write("m.yaml", R"(version: v1
resourceModifierRules:
- conditions: {groupResource: deployments.apps}
  patches:
  - {operation: test, path: /metadata/labels/tier, value: frontend}
  - {operation: replace, path: /spec/replicas, value: "0"}
)");
  CliRun r = RunCli({"transforms", "apply", "--modifiers", mods, "-f", Data("objects/shop.yaml"),
                     "--diff"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(r.err.empty()) << r.err;
  EXPECT_NE(r.out.find("--- Deployment shop/web: unchanged\n"), std::string::npos) << r.out;
}

TEST(TransformsCliTest, ApplyRejectsBadInputBeforePrintingAnything) {
  struct Case {
    const char* name;
    const char* objects;
    std::vector<std::string> extra;
    const char* want;
    bool with_modifiers = true;
  } cases[] = {
      {"object without kind", "apiVersion: v1\nmetadata: {name: x}\n", {}, "has no kind"},
      {"malformed yaml", "apiVersion: v1\nkind: [\n", {}, "invalid YAML at line"},
      {"bad output", "apiVersion: v1\nkind: Pod\n", {"-o", "table"}, "--output must be"},
      {"nothing to apply", "apiVersion: v1\nkind: Pod\n", {}, "nothing to apply", false},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    std::vector<std::string> args = {"transforms", "apply", "-f", "-"};
    if (c.with_modifiers) args.insert(args.end(), {"--modifiers", Data("dr-site.yaml")});
    args.insert(args.end(), c.extra.begin(), c.extra.end());
    CliRun r = RunCli(args, c.objects);
    EXPECT_EQ(r.code, 2);
    EXPECT_TRUE(r.out.empty()) << r.out;
    EXPECT_NE(r.err.find(c.want), std::string::npos) << r.err;
  }
}

TEST(TransformsCliTest, ApplyRejectsAnInvalidModifierFile) {
  CliRun r = RunCli({"transforms", "apply", "--modifiers", Data("invalid.yaml"), "-f",
                  Data("objects/shop.yaml")});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("4 problems"), std::string::npos) << r.err;
  EXPECT_TRUE(r.out.empty());
}

}  // namespace
}  // namespace kdr
