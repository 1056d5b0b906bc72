// Replays every seed of every fuzz target (tests/fuzz/seeds.txt), and every input a fuzzer once
// crashed on (tests/data/fuzz-seeds/<target>/), through the target's function, as scripts/fuzz
// would: each must come back without a crash, an escaped exception or a broken invariant
// (KDR_FUZZ_CHECK aborts the test binary). Runs in every build, the sanitized ones included.

#include <glob.h>
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "fuzz_target.h"
#include "testutil/testutil.h"

namespace kdr::fuzz {
namespace {

using Target = int (*)(const uint8_t*, size_t);

const std::map<std::string, Target>& Targets() {
  static const auto* targets = new std::map<std::string, Target>{
      {"admission_review", FuzzAdmissionReview}, {"exec_credential", FuzzExecCredential},
      {"http", FuzzHttp},                         {"inventory", FuzzInventory},
      {"json", FuzzJson},                         {"json_patch", FuzzJsonPatch},
      {"kubeconfig", FuzzKubeconfig},             {"merge_patch", FuzzMergePatch},
      {"modifiers", FuzzModifiers},               {"strategic_patch", FuzzStrategicPatch},
      {"wsapi", FuzzWsapi},                       {"yaml", FuzzYaml},
  };
  return *targets;
}

// target -> its globs under tests/data/, as seeds.txt lists them.
std::map<std::string, std::vector<std::string>> SeedGlobs() {
  std::ifstream in(KDR_FUZZ_SEEDS_FILE);
  std::map<std::string, std::vector<std::string>> globs;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream words(line);
    std::string target, glob;
    words >> target;
    globs[target].push_back("fuzz-seeds/" + target + "/*");
    while (words >> glob) globs[target].push_back(glob);
  }
  return globs;
}

std::vector<std::string> Files(const std::vector<std::string>& patterns) {
  std::vector<std::string> files;
  for (const std::string& p : patterns) {
    glob_t g{};
    if (glob(testutil::DataPath(p).c_str(), 0, nullptr, &g) == 0) {
      for (size_t i = 0; i < g.gl_pathc; ++i) files.push_back(g.gl_pathv[i]);
    }
    globfree(&g);
  }
  return files;
}

TEST(FuzzSeedsTest, EveryTargetIsListedInSeedsFile) {
  const auto globs = SeedGlobs();
  for (const auto& [name, fn] : Targets()) EXPECT_TRUE(globs.count(name)) << name;
  for (const auto& [name, g] : globs) EXPECT_TRUE(Targets().count(name)) << name;
}

class FuzzReplayTest : public ::testing::TestWithParam<std::string> {};

TEST_P(FuzzReplayTest, SeedsAndPastFindingsRunClean) {
  const auto globs = SeedGlobs();
  ASSERT_TRUE(globs.count(GetParam()));
  const std::vector<std::string> files = Files(globs.at(GetParam()));
  EXPECT_FALSE(files.empty()) << "no seed for " << GetParam() << ": add some under "
                              << "tests/data/fuzz-seeds/" << GetParam() << "/";
  const Target fn = Targets().at(GetParam());
  for (const std::string& file : files) {
    SCOPED_TRACE(file);
    std::ifstream in(file, std::ios::binary);
    const std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_EQ(fn(reinterpret_cast<const uint8_t*>(data.data()), data.size()), 0);
  }
  // An empty input too: every target must take it.
  EXPECT_EQ(fn(nullptr, 0), 0);
}

INSTANTIATE_TEST_SUITE_P(Targets, FuzzReplayTest,
                         ::testing::Values("admission_review", "exec_credential", "http",
                                           "inventory", "json", "json_patch", "kubeconfig",
                                           "merge_patch", "modifiers", "strategic_patch", "wsapi",
                                           "yaml"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace kdr::fuzz
