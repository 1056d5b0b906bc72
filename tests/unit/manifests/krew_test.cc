// The krew package: the archive krew downloads and the manifest that names its checksum.

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "base/fs.h"
#include "base/yaml.h"
#include "testutil/testutil.h"

namespace kdr {
namespace {

using nlohmann::json;

std::string Sh(const std::string& cmd, int* exit_code) {
  testutil::CommandResult r = testutil::RunCommand(cmd);
  *exit_code = r.exit_code;
  return r.output;
}

TEST(KrewPackageTest, ManifestNamesTheArchiveChecksumAndBinary) {
  testutil::TempDir dir;
  int rc = 0;
  std::string out = Sh("KDR_BUILD_DIR=" + testutil::BinaryDir() + " " +
                            testutil::SourcePath("scripts/package") + " " + dir.path(),
                        &rc);
  ASSERT_EQ(rc, 0) << out;
  PosixFileSystem fs;
  auto manifest_text = fs.ReadFile(dir.path() + "/dr.yaml");
  ASSERT_TRUE(manifest_text.ok());
  auto manifest = YamlToJson(*manifest_text, "dr.yaml");
  ASSERT_TRUE(manifest.ok()) << manifest.status().message();
  EXPECT_EQ((*manifest)["kind"], "Plugin");
  EXPECT_EQ((*manifest)["metadata"]["name"], "dr");
  const json& platform = (*manifest)["spec"]["platforms"][0];
  EXPECT_EQ(platform["bin"], "kubectl-dr");
  std::string version = (*manifest)["spec"]["version"];
  std::string archive = dir.path() + "/kubectl-dr_" + version + "_linux_amd64.tar.gz";
  std::string sha = Sh("sha256sum " + archive + " | cut -d' ' -f1", &rc);
  ASSERT_EQ(rc, 0);
  EXPECT_EQ(platform["sha256"].get<std::string>() + "\n", sha);
  EXPECT_NE(platform["uri"].get<std::string>().find("kubectl-dr_" + version + "_linux_amd64.tar.gz"),
            std::string::npos);
  std::string listing = Sh("tar -tzf " + archive, &rc);
  EXPECT_EQ(listing, "kubectl-dr\nLICENSE\n");
  // The packaged binary runs.
  std::string unpacked = Sh("cd " + dir.path() + " && tar -xzf " + archive + " && ./kubectl-dr version --client", &rc);
  EXPECT_EQ(rc, 0) << unpacked;
  EXPECT_NE(unpacked.find("Client Version: " + version), std::string::npos) << unpacked;
}

TEST(KrewPackageTest, PackagingIsReproducible) {
  testutil::TempDir a, b;
  int rc = 0;
  std::string env = "KDR_BUILD_DIR=" + testutil::BinaryDir() + " ";
  Sh(env + testutil::SourcePath("scripts/package") + " " + a.path(), &rc);
  ASSERT_EQ(rc, 0);
  Sh(env + testutil::SourcePath("scripts/package") + " " + b.path(), &rc);
  ASSERT_EQ(rc, 0);
  PosixFileSystem fs;
  EXPECT_EQ(*fs.ReadFile(a.path() + "/dr.yaml"), *fs.ReadFile(b.path() + "/dr.yaml"));
}

}  // namespace
}  // namespace kdr
