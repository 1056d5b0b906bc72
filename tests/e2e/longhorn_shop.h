#pragma once

// The Longhorn shop of the e2e tests on kubesim: tests/data/e2e/storage/longhorn-shop.yaml on the
// source (its claims bound to Longhorn volumes), the plan shop-to-dr (driver longhorn) on the
// target, a first backup of each volume, and on the target a standby (DR) volume of the same name
// restored from it, as Longhorn's DR volume setup makes them. Needs kubesim's Longhorn simulation
// (ClusterPair::Simulated()).

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "base/fs.h"
#include "base/strings.h"
#include "e2e/harness.h"
#include "testutil/testutil.h"

namespace kdr::e2e {

// Writes `data` as file `file` of Longhorn volume `volume` on `cluster`, as the application
// mounting it would.
inline void WriteLonghornFile(const ClusterPair& pair, const Cluster& cluster, const std::string& volume,
                              const std::string& file, const std::string& data) {
  const std::string dir = pair.LonghornVolumeDir(cluster, volume);
  ASSERT_FALSE(dir.empty()) << "the harness does not run this cluster's simulators";
  PosixFileSystem fs;
  ASSERT_TRUE(fs.MakeDirs(dir).ok());
  ASSERT_TRUE(fs.WriteFile(dir + "/" + file, data).ok());
}

// File `file` of Longhorn volume `volume` on `cluster`; "<missing: ...>" when it cannot be read.
inline std::string LonghornFile(const ClusterPair& pair, const Cluster& cluster, const std::string& volume,
                                const std::string& file) {
  auto r = PosixFileSystem().ReadFile(pair.LonghornVolumeDir(cluster, volume) + "/" + file);
  return r.ok() ? *r : "<missing: " + r.status().message() + ">";
}

// The orders the shop's database wrote on the primary before its first backup.
inline void SeedLonghornShopVolumes(const ClusterPair& pair) {
  WriteLonghornFile(pair, pair.source(), "shop-orders-vol", "orders", "orders up to 41");
}

inline void SetUpLonghornShop(const ClusterPair& pair, const testutil::TempDir& dir) {
  auto storage = [](const std::string& f) { return testutil::DataPath("e2e/storage/" + f); };
  auto source = [&](const std::string& args) { return pair.Kubectl(pair.source(), args); };
  testutil::CommandResult shop = source("apply -f " + storage("longhorn-shop.yaml"));
  ASSERT_EQ(shop.exit_code, 0) << shop.output;
  testutil::CommandResult bound = source("-n shop wait --for=jsonpath={.status.phase}=Bound pvc --all --timeout=60s");
  ASSERT_EQ(bound.exit_code, 0) << bound.output;
  SeedLonghornShopVolumes(pair);
  if (::testing::Test::HasFatalFailure()) return;
  testutil::CommandResult plan = pair.Kubectl(pair.target(), "apply -f " + storage("longhorn-plan.yaml"));
  ASSERT_EQ(plan.exit_code, 0) << plan.output;
  testutil::CommandResult backups = source("apply -f " + storage("longhorn-backups.yaml"));
  ASSERT_EQ(backups.exit_code, 0) << backups.output;
  testutil::CommandResult done =
      source("-n longhorn-system wait --for=jsonpath={.status.state}=Completed backups.longhorn.io --all --timeout=60s");
  ASSERT_EQ(done.exit_code, 0) << done.output;
  std::string docs;
  for (const std::string volume : {"shop-inventory-vol", "shop-orders-vol"}) {
    std::string url =
        source("-n longhorn-system get backups.longhorn.io " + volume + "-first -o jsonpath={.status.url}").output;
    ASSERT_TRUE(StartsWith(url, "file://")) << url;
    std::string size = source("-n longhorn-system get volumes.longhorn.io " + volume + " -o jsonpath={.spec.size}").output;
    nlohmann::json standby = {
        {"apiVersion", "longhorn.io/v1beta2"},
        {"kind", "Volume"},
        {"metadata", {{"name", volume}, {"namespace", "longhorn-system"}}},
        {"spec", {{"size", size}, {"numberOfReplicas", 3}, {"frontend", "blockdev"}, {"fromBackup", url}, {"standby", true}}}};
    docs += standby.dump() + "\n";  // a JSON stream
  }
  testutil::CommandResult made = pair.Kubectl(pair.target(), "apply -f " + dir.Write("standby.json", docs));
  ASSERT_EQ(made.exit_code, 0) << made.output;
}

}  // namespace kdr::e2e
