// Files that aborted kubectl-dr (an escaped JSON exception, exit 134) or drove it past 3 GB (a
// YAML alias bomb), and the guard that turns any exception escaping a command into one line.

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "base/fs.h"
#include "base/json.h"
#include "cli/cli.h"
#include "cli_fixture.h"
#include "testutil/testutil.h"

namespace kdr::plugin {
namespace {

using nlohmann::json;
using testing::CliRun;

CliRun RunCli(std::vector<std::string> args) {
  PosixFileSystem fs;
  Env env;
  env.fs = &fs;
  return testing::RunCli(std::move(args), env);
}

std::string Seed(const std::string& p) { return testutil::DataPath("fuzz-seeds/" + p); }
std::string Modifiers() { return testutil::DataPath("transforms/dr-site.yaml"); }

// One line: "error: ...\n", nothing on stdout.
void ExpectOneLineError(const CliRun& r, int code, const std::string& want) {
  EXPECT_EQ(r.code, code) << r.err;
  EXPECT_TRUE(r.out.empty()) << r.out.substr(0, 200);
  EXPECT_EQ(r.err.rfind("error: ", 0), 0u) << r.err;
  EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << r.err;
  EXPECT_NE(r.err.find(want), std::string::npos) << r.err;
}

TEST(HostileInputTest, BadObjectFilesAreOneLineErrorsWithExitTwo) {
  testutil::TempDir dir;
  // One level past the limit; generated, 20 KB.
  const std::string too_deep = dir.Write(
      "too-deep.json", R"({"apiVersion": "v1", "kind": "ConfigMap", "x": )" +
                           std::string(kMaxJsonDepth, '[') + std::string(kMaxJsonDepth, ']') + "}");
  struct Case {
    const char* name;
    std::string file;
    std::string want;
  } cases[] = {
      {"invalid utf-8 in yaml", Seed("yaml/bad-utf8.yaml"),
       "bad-utf8.yaml: invalid YAML at line 3, column 18: invalid UTF-8 (byte \\xff at offset 0 "
       "of a scalar); YAML must be UTF-8"},
      {"invalid utf-8 in json", Seed("json/bad-utf8.json"),
       "bad-utf8.json is not valid JSON at line 1, column 65: syntax error while parsing value - "
       "invalid string: ill-formed UTF-8 byte"},
      {"number overflow", Seed("json/number-overflow.json"),
       "number-overflow.json is not valid JSON: number overflow parsing '1e99999'"},
      {"alias bomb", Seed("yaml/alias-bomb.yaml"),
       "alias-bomb.yaml: invalid YAML at line 12, column 27: aliases expand the document past"},
      {"nested too deep", too_deep, "too-deep.json nests deeper than 10000 levels"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    ExpectOneLineError(RunCli({"transforms", "apply", "--modifiers", Modifiers(), "-f", c.file}),
                       2, c.want);
  }
}

TEST(HostileInputTest, AnAliasBombAsModifiersOrKubeconfigIsRefused) {
  ExpectOneLineError(RunCli({"transforms", "apply", "--modifiers", Seed("yaml/alias-bomb.yaml"),
                             "-f", testutil::DataPath("transforms/objects/shop.yaml")}),
                     2, "aliases expand the document past");
  ExpectOneLineError(RunCli({"transforms", "validate", Seed("yaml/alias-bomb.yaml")}), 2,
                     "aliases expand the document past");
  CliRun r = RunCli({"version", "--kubeconfig", Seed("yaml/alias-bomb.yaml")});
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find("aliases expand the document past"), std::string::npos) << r.err;
}

TEST(HostileInputTest, TheDeepestObjectAcceptedIsTransformedAndPrinted) {
  testutil::TempDir dir;
  // kMaxJsonDepth levels in all: the object, then x's arrays.
  const int x = kMaxJsonDepth - 1;
  const std::string object = dir.Write(
      "deep.json", R"({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "deep"}, )"
                   R"("x": )" + std::string(x, '[') + "1" + std::string(x, ']') + "}");
  std::string bottom = "/x";
  for (int i = 0; i < x; ++i) bottom += "/0";
  const std::string modifiers = dir.Write(
      "m.yaml", "version: v1\nresourceModifierRules:\n- conditions: {groupResource: configmaps}\n"
                "  patches:\n  - {operation: replace, path: " + bottom + ", value: \"2\"}\n"
                "  - {operation: copy, from: /x, path: /metadata/labels}\n");
  // The copy would nest x one level deeper than kube-apiserver allows: the object fails whole.
  CliRun refused = RunCli({"transforms", "apply", "--modifiers", modifiers, "-f", object});
  EXPECT_EQ(refused.code, 1) << refused.err.substr(0, 300);
  EXPECT_NE(refused.err.find("the value would nest deeper than 10000 levels at /metadata/labels"),
            std::string::npos) << refused.err.substr(0, 300);

  const std::string replace_only = dir.Write(
      "m2.yaml", "version: v1\nresourceModifierRules:\n- conditions: {groupResource: configmaps}\n"
                 "  patches:\n  - {operation: replace, path: " + bottom + ", value: \"2\"}\n");
  // YAML prints levels past 64 in flow style, so the text stays linear in the depth. (-o json
  // indents every level, as kubectl does: 200 MB of spaces for this object.)
  CliRun r = RunCli({"transforms", "apply", "--modifiers", replace_only, "-f", object, "-o", "yaml"});
  EXPECT_EQ(r.code, 0) << r.err.substr(0, 300);
  EXPECT_LT(r.out.size(), 40000u);
  EXPECT_NE(r.out.find("[[[[2]]]]"), std::string::npos);
}

TEST(HostileInputTest, AnExceptionEscapingACommandIsOneInternalErrorNamingTheInput) {
  const char* argv[] = {"kubectl-dr", "transforms", "apply", "-f", "objects.yaml"};
  Status st = RunGuarded([]() -> Status { throw std::runtime_error("boom \xff"); }, 5, argv);
  EXPECT_EQ(st.code(), StatusCode::kInternal);
  EXPECT_EQ(st.message(),
            "internal error in kubectl dr transforms apply -f objects.yaml: boom \\xff; please "
            "report it with that input");
  EXPECT_EQ(st.ExitCode(), 1);
  st = RunGuarded([]() -> Status { throw 42; }, 1, argv);
  EXPECT_EQ(st.message(), "internal error in kubectl dr: unknown exception; please report it with "
                          "that input");
  EXPECT_TRUE(RunGuarded([] { return Status::Ok(); }, 1, argv).ok());
}

}  // namespace
}  // namespace kdr::plugin
