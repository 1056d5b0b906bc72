// The inventory format: generations, the pointer, index.json, the reader's refusals and the lock.
// Most tests run on an in-memory FileSystem; a fault-injecting wrapper stands in for a capture
// killed at each write. Checked-in fixtures (tests/data/inventory/) are read from disk.

#include "inventory/format.h"

#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "base/env.h"
#include "base/fs.h"
#include "testutil/testutil.h"

namespace kdr::inventory {
namespace {

using nlohmann::json;
using std::chrono::minutes;
using testutil::FakeClock;
using testutil::MemFileSystem;

constexpr char kRoot[] = "/inv";
constexpr char kLayout[] = "/inv/kubectl-dr/inventory/v1";

// Fails the Nth mutating call (1-based) and, when `kill`, every one after it: a process killed at
// that write leaves exactly what was written before.
class FaultyFileSystem final : public FileSystem {
 public:
  FaultyFileSystem(FileSystem* base, int fail_at, bool kill)
      : base_(base), fail_at_(fail_at), kill_(kill) {}

  Result<std::string> ReadFile(const std::string& p) const override { return base_->ReadFile(p); }
  Result<FileInfo> Stat(const std::string& p) const override { return base_->Stat(p); }
  Result<std::vector<std::string>> ListDir(const std::string& p) const override {
    return base_->ListDir(p);
  }
  Status WriteFile(const std::string& p, std::string_view d, int m) override {
    return Fail(p) ? Injected(p) : base_->WriteFile(p, d, m);
  }
  Status WriteFileBuffered(const std::string& p, std::string_view d, int m) override {
    return Fail(p) ? Injected(p) : base_->WriteFileBuffered(p, d, m);
  }
  Status CreateExclusive(const std::string& p, std::string_view d, int m) override {
    return Fail(p) ? Injected(p) : base_->CreateExclusive(p, d, m);
  }
  Status MakeDirs(const std::string& p, int m) override {
    return Fail(p) ? Injected(p) : base_->MakeDirs(p, m);
  }
  Status Remove(const std::string& p) override { return Fail(p) ? Injected(p) : base_->Remove(p); }
  Status SyncFileSystem(const std::string& p) override {
    return Fail(p) ? Injected(p) : base_->SyncFileSystem(p);
  }

  int calls() const { return calls_; }
  bool tripped() const { return calls_ >= fail_at_; }

 private:
  bool Fail(const std::string&) {
    int n = ++calls_;
    return n == fail_at_ || (kill_ && n > fail_at_);
  }
  static Status Injected(const std::string& p) { return Status::Unavailable("injected failure at " + p); }

  FileSystem* const base_;
  const int fail_at_;
  const bool kill_;
  std::atomic<int> calls_{0};
};

json ConfigMap(const std::string& ns, const std::string& name, const std::string& value) {
  return {{"apiVersion", "v1"},
          {"kind", "ConfigMap"},
          {"metadata", {{"name", name}, {"namespace", ns}, {"uid", "uid-" + name}}},
          {"data", {{"k", value}}}};
}

ObjectEntry Entry(std::string group, std::string resource, std::string kind, std::string ns,
                  std::string name) {
  ObjectEntry e;
  e.group = std::move(group);
  e.version = "v1";
  e.resource = std::move(resource);
  e.kind = std::move(kind);
  e.namespace_name = std::move(ns);
  e.name = std::move(name);
  return e;
}

ObjectEntry ConfigMapEntry(const std::string& ns, const std::string& name) {
  return Entry("", "configmaps", "ConfigMap", ns, name);
}

Index Header() {
  Index index;
  index.plan = {"kubectl-dr-system", "shop-to-dr"};
  index.namespaces = {"shop"};
  index.source = {"https://prod-east:6443", "kube-system-uid-1"};
  return index;
}

class FormatTest : public ::testing::Test {
 protected:
  Env env(FileSystem* fs = nullptr) { return Env{&clock_, fs ? fs : &fs_, nullptr}; }

  // One whole capture of `objects` config maps in namespace shop, with `value` as their data.
  Result<Index> Capture(FileSystem* fs, int objects, const std::string& value, int keep = kDefaultKeep,
                        const std::string& holder = "test-host pid 1") {
    WriterOptions o;
    o.plan = {"kubectl-dr-system", "shop-to-dr"};
    o.holder = holder;
    o.keep = keep;
    KDR_ASSIGN_OR_RETURN(std::unique_ptr<Writer> w, Writer::Begin(env(fs), kRoot, o));
    Index index = Header();
    index.capture_start = clock_.Now();
    for (int i = 0; i < objects; ++i) {
      const std::string name = "cm-" + std::to_string(i);
      KDR_RETURN_IF_ERROR(w->Add(ConfigMapEntry("shop", name), ConfigMap("shop", name, value)).status());
    }
    clock_.Advance(std::chrono::seconds(5));
    index.capture_end = clock_.Now();
    index.left_out = {{"events", 4}};
    return w->Commit(index);
  }

  void Corrupt(const std::string& path, const std::string& text) {
    ASSERT_TRUE(fs_.WriteFile(path, text).ok());
  }

  FakeClock clock_;
  MemFileSystem fs_;
};

TEST_F(FormatTest, RoundTripsIndexAndObjects) {
  WriterOptions o;
  o.plan = {"kubectl-dr-system", "shop-to-dr"};
  auto w = Writer::Begin(env(), kRoot, o);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  EXPECT_EQ((*w)->generation(), 1);
  const std::string long_name(240, 'a');
  const json pv = {{"apiVersion", "v1"}, {"kind", "PersistentVolume"},
                   {"metadata", {{"name", "pv-1"}}}, {"spec", {{"capacity", {{"storage", "1Gi"}}}}}};
  const json role = {{"apiVersion", "rbac.authorization.k8s.io/v1"}, {"kind", "ClusterRole"},
                     {"metadata", {{"name", "system:shop:reader"}}}};
  auto a = (*w)->Add(ConfigMapEntry("shop", "web"), ConfigMap("shop", "web", "1"));
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(a->file, "objects/core/configmaps/shop/web.json");
  ASSERT_TRUE((*w)->Add(Entry("", "persistentvolumes", "PersistentVolume", "", "pv-1"), pv).ok());
  ASSERT_TRUE((*w)->Add(Entry("rbac.authorization.k8s.io", "clusterroles", "ClusterRole", "",
                               "system:shop:reader"), role).ok());
  auto l = (*w)->Add(ConfigMapEntry("shop", long_name), ConfigMap("shop", long_name, "2"));
  ASSERT_TRUE(l.ok());
  EXPECT_LT(l->file.size() - std::string("objects/core/configmaps/shop/").size(), 255u) << l->file;

  Index header = Header();
  header.capture_start = clock_.Now();
  clock_.Advance(std::chrono::seconds(42));
  header.capture_end = clock_.Now();
  VolumeMapEntry vol;
  vol.pvc_namespace = "shop";
  vol.pvc_name = "data";
  vol.pv_name = "pv-1";
  vol.storage_class = "fast";
  vol.capacity = "1Gi";
  vol.access_modes = {"ReadWriteOnce"};
  vol.volume_mode = "Filesystem";
  vol.reclaim_policy = "Retain";
  vol.csi_driver = "driver.longhorn.io";
  vol.volume_handle = "pvc-123";
  vol.fs_type = "ext4";
  vol.volume_attributes = {{"numberOfReplicas", "3"}};
  vol.storage = {{"volume", "pvc-123"}};
  header.volumes = {vol};
  header.left_out = {{"owned-by-controller", 3}, {"events", 7}};
  header.unlisted = {{"example.com", "v1", "widgets", "shop", "", "permission denied", "forbidden"}};
  header.warnings = {"storageclass \"slow\" does not exist"};
  auto written = (*w)->Commit(header);
  ASSERT_TRUE(written.ok()) << written.status().ToString();

  auto inv = Inventory::Open(fs_, kRoot);
  ASSERT_TRUE(inv.ok()) << inv.status().ToString();
  const Index& got = inv->index();
  EXPECT_TRUE(inv->current());
  EXPECT_EQ(got.format_version, 1);
  EXPECT_EQ(got.generation, 1);
  EXPECT_EQ(got.plan, header.plan);
  EXPECT_EQ(got.namespaces, header.namespaces);
  EXPECT_EQ(got.source, header.source);
  EXPECT_EQ(FormatRfc3339(got.capture_start), "2026-01-01T00:00:00Z");
  EXPECT_EQ(FormatRfc3339(got.capture_end), "2026-01-01T00:00:42Z");
  EXPECT_FALSE(got.kubectl_dr_version.empty());
  EXPECT_EQ(got.left_out, header.left_out);
  EXPECT_EQ(got.unlisted, header.unlisted);
  EXPECT_EQ(got.warnings, header.warnings);
  ASSERT_EQ(got.volumes.size(), 1u);
  EXPECT_EQ(ToJson(got.volumes[0]), ToJson(vol));
  ASSERT_EQ(got.objects.size(), 4u);
  EXPECT_EQ(got.objects, written->objects);
  for (const ObjectEntry& e : got.objects) {
    auto obj = inv->ReadObject(e);
    ASSERT_TRUE(obj.ok()) << obj.status().ToString();
    EXPECT_EQ((*obj)["metadata"]["name"], e.name);
    EXPECT_EQ(e.sha256.size(), 64u);
  }
  // Sorted by file, cluster-scoped objects under _cluster.
  EXPECT_EQ(got.objects[0].file, "objects/core/configmaps/shop/" + l->file.substr(29));
  EXPECT_EQ(got.objects[2].file, "objects/core/persistentvolumes/_cluster/pv-1.json");
  EXPECT_EQ(got.objects[3].file,
            "objects/rbac.authorization.k8s.io/clusterroles/_cluster/system:shop:reader.json");
  // index.json is ToJson's document (written faster, one line per object).
  auto index_text = fs_.ReadFile(std::string(kLayout) + "/generations/00000001/index.json");
  ASSERT_TRUE(index_text.ok());
  EXPECT_EQ(json::parse(*index_text), ToJson(got));
  // The lock is released and the pointer names the index.
  EXPECT_FALSE(fs_.Exists(std::string(kLayout) + "/lock"));
  auto pointer = fs_.ReadFile(std::string(kLayout) + "/current");
  ASSERT_TRUE(pointer.ok());
  EXPECT_NE(pointer->find("generations/00000001/index.json"), std::string::npos);
}

TEST_F(FormatTest, ObjectsReadBackEqualWhateverTheyHold) {
  const json tricky = json::parse(R"({
    "apiVersion": "v1", "kind": "ConfigMap",
    "metadata": {"name": "tricky", "namespace": "shop", "annotations": {"a\"b\\c": "x"}},
    "data": {"quote": "say \"hi\"", "backslash": "C:\\dir", "controls": "tab\tnl\ncr\r\u0001\u001f",
             "unicode": "grüße 日本 \ud83d\ude80", "slash": "a/b", "empty": ""},
    "numbers": [0, -5, 9223372036854775807, -9223372036854775808, 18446744073709551615, 1.5, -0.25,
                1e300, 3.141592653589793],
    "literals": [true, false, null], "nested": {"o": {}, "a": [], "aa": [[[]]], "oo": {"x": {"y": {}}}}
  })");
  auto w = Writer::Begin(env(), kRoot, {});
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE((*w)->Add(ConfigMapEntry("shop", "tricky"), tricky).ok());
  ASSERT_TRUE((*w)->Commit(Header()).ok());
  auto inv = Inventory::Open(fs_, kRoot);
  ASSERT_TRUE(inv.ok()) << inv.status().ToString();
  auto back = inv->ReadObject(inv->index().objects[0]);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, tricky) << back->dump();
}

TEST_F(FormatTest, EachCaptureIsANewGenerationAndOlderOnesStayReadable) {
  ASSERT_TRUE(Capture(nullptr, 2, "one").ok());
  auto second = Capture(nullptr, 3, "two");
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_EQ(second->generation, 2);
  auto current = Inventory::Open(fs_, kRoot);
  ASSERT_TRUE(current.ok());
  EXPECT_EQ(current->generation(), 2);
  EXPECT_EQ(current->index().objects.size(), 3u);
  auto first = Inventory::Open(fs_, kRoot, 1);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_FALSE(first->current());
  auto obj = first->ReadObject(first->index().objects[0]);
  ASSERT_TRUE(obj.ok());
  EXPECT_EQ((*obj)["data"]["k"], "one");
}

TEST_F(FormatTest, KeepsTheLastNGenerations) {
  struct Case {
    int keep;
    int captures;
    std::vector<int64_t> want;  // newest first
  };
  const Case cases[] = {{3, 5, {5, 4, 3}}, {1, 3, {3}}, {2, 2, {2, 1}}, {3, 1, {1}}};
  for (const Case& c : cases) {
    SCOPED_TRACE("keep " + std::to_string(c.keep) + ", captures " + std::to_string(c.captures));
    MemFileSystem fs;
    for (int i = 0; i < c.captures; ++i) ASSERT_TRUE(Capture(&fs, 1, "v", c.keep).ok());
    auto gens = Inventory::ListGenerations(fs, kRoot);
    ASSERT_TRUE(gens.ok()) << gens.status().ToString();
    std::vector<int64_t> got;
    for (const GenerationInfo& g : *gens) {
      got.push_back(g.generation);
      EXPECT_TRUE(g.state.ok()) << g.state.ToString();
      EXPECT_EQ(g.current, g.generation == c.captures);
    }
    EXPECT_EQ(got, c.want);
  }
  // A pruned generation is refused by number, naming the kept ones.
  auto old = Inventory::Open(fs_, kRoot, 1);
  EXPECT_EQ(old.status().code(), StatusCode::kNotFound);
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(Capture(nullptr, 1, "v").ok());
  old = Inventory::Open(fs_, kRoot, 1);
  ASSERT_EQ(old.status().code(), StatusCode::kNotFound);
  EXPECT_NE(old.status().message().find("generation 1 is not kept"), std::string::npos);
  EXPECT_NE(old.status().message().find("kept: 4, 3, 2"), std::string::npos) << old.status().message();
}

TEST_F(FormatTest, RejectsKeepBelowOne) {
  WriterOptions o;
  o.keep = 0;
  auto w = Writer::Begin(env(), kRoot, o);
  ASSERT_EQ(w.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(w.status().message().find("--keep must be at least 1"), std::string::npos);
}

// A capture killed at each of its writes in turn: the previous generation stays current and
// whole, the lock stays behind until stale, and the next capture cleans up.
TEST_F(FormatTest, CaptureKilledAtAnyWriteLeavesThePreviousGenerationCurrent) {
  ASSERT_TRUE(Capture(nullptr, 3, "before").ok());
  bool completed = false;
  for (int fail_at = 1; !completed && fail_at < 100; ++fail_at) {
    SCOPED_TRACE("killed at write " + std::to_string(fail_at));
    MemFileSystem fs;
    ASSERT_TRUE(Capture(&fs, 3, "before").ok());
    FaultyFileSystem faulty(&fs, fail_at, /*kill=*/true);
    Result<Index> killed = Capture(&faulty, 4, "after");
    if (!faulty.tripped()) {
      ASSERT_TRUE(killed.ok()) << killed.status().ToString();
      completed = true;
      continue;
    }
    auto inv = Inventory::Open(fs, kRoot);
    ASSERT_TRUE(inv.ok()) << inv.status().ToString();
    if (killed.ok()) {
      // Killed after the pointer moved (while pruning or releasing the lock): the new one is
      // current and whole.
      EXPECT_EQ(inv->generation(), 2);
    } else {
      EXPECT_EQ(inv->generation(), 1);
      EXPECT_EQ(inv->index().objects.size(), 3u);
      auto obj = inv->ReadObject(inv->index().objects[0]);
      ASSERT_TRUE(obj.ok());
      EXPECT_EQ((*obj)["data"]["k"], "before");
    }
    // The dead capture's lock holds until stale; then the next capture breaks it and removes
    // the leftover generation.
    if (fs.Exists(std::string(kLayout) + "/lock")) {
      auto refused = Capture(&fs, 1, "next", kDefaultKeep, "other-host pid 2");
      EXPECT_EQ(refused.status().code(), StatusCode::kAborted) << refused.status().ToString();
      clock_.Advance(kDefaultStaleLockAfter + std::chrono::seconds(1));
    }
    auto next = Capture(&fs, 1, "next", kDefaultKeep, "other-host pid 2");
    ASSERT_TRUE(next.ok()) << next.status().ToString();
    auto gens = Inventory::ListGenerations(fs, kRoot);
    ASSERT_TRUE(gens.ok());
    for (const GenerationInfo& g : *gens) EXPECT_TRUE(g.state.ok()) << g.generation << ": " << g.state.ToString();
  }
  EXPECT_TRUE(completed) << "the capture never got past the injected failures";
}

TEST_F(FormatTest, FailedWriteRemovesThePartialGenerationAndReleasesTheLock) {
  ASSERT_TRUE(Capture(nullptr, 1, "before").ok());
  FaultyFileSystem faulty(&fs_, 6, /*kill=*/false);  // lock, dirs, then an object write fails
  auto failed = Capture(&faulty, 4, "after");
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.status().code(), StatusCode::kUnavailable);
  EXPECT_FALSE(fs_.Exists(std::string(kLayout) + "/lock"));
  EXPECT_FALSE(fs_.Exists(std::string(kLayout) + "/generations/00000002"));
  auto next = Capture(nullptr, 1, "next");  // no wait: the lock was released
  ASSERT_TRUE(next.ok()) << next.status().ToString();
  EXPECT_EQ(next->generation, 2);
}

TEST_F(FormatTest, NextCaptureRemovesTempFilesOfAKilledPointerWrite) {
  ASSERT_TRUE(Capture(nullptr, 1, "v").ok());
  ASSERT_TRUE(fs_.WriteFile(std::string(kLayout) + "/current.tmp.999", "{").ok());
  ASSERT_TRUE(Capture(nullptr, 1, "v").ok());
  EXPECT_FALSE(fs_.Exists(std::string(kLayout) + "/current.tmp.999"));
}

TEST_F(FormatTest, RefusesToCommitAnEmptyGeneration) {
  auto w = Writer::Begin(env(), kRoot, {});
  ASSERT_TRUE(w.ok());
  auto c = (*w)->Commit(Header());
  ASSERT_EQ(c.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(c.status().message().find("nothing was captured"), std::string::npos);
  EXPECT_FALSE(fs_.Exists(std::string(kLayout) + "/current"));
}

TEST_F(FormatTest, RefusesTheSameObjectTwice) {
  auto w = Writer::Begin(env(), kRoot, {});
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE((*w)->Add(ConfigMapEntry("shop", "a"), ConfigMap("shop", "a", "1")).ok());
  auto again = (*w)->Add(ConfigMapEntry("shop", "a"), ConfigMap("shop", "a", "1"));
  ASSERT_EQ(again.status().code(), StatusCode::kAlreadyExists);
  EXPECT_NE(again.status().message().find("captured twice"), std::string::npos);
}

TEST_F(FormatTest, SecondCaptureIsRefusedNamingTheFirstUntilItsLockIsStale) {
  WriterOptions first_opts;
  first_opts.plan = {"kubectl-dr-system", "shop-to-dr"};
  first_opts.holder = "agent-7f9c pid 12";
  auto first = Writer::Begin(env(), kRoot, first_opts);
  ASSERT_TRUE(first.ok());

  WriterOptions second_opts;
  second_opts.plan = {"kubectl-dr-system", "shop-to-dr"};
  second_opts.holder = "laptop pid 99";
  auto second = Writer::Begin(env(), kRoot, second_opts);
  ASSERT_EQ(second.status().code(), StatusCode::kAborted);
  for (const char* want : {"being captured by agent-7f9c pid 12", "plan kubectl-dr-system/shop-to-dr",
                           "started 2026-01-01T00:00:00Z", "wait for that capture to finish",
                           "/inv/kubectl-dr/inventory/v1/lock", "10m"}) {
    EXPECT_NE(second.status().message().find(want), std::string::npos)
        << want << " not in: " << second.status().message();
  }

  // While the first renews its lock (on Add), it is never stale.
  clock_.Advance(minutes(9));
  ASSERT_TRUE((*first)->Add(ConfigMapEntry("shop", "a"), ConfigMap("shop", "a", "1")).ok());
  clock_.Advance(minutes(9));
  second = Writer::Begin(env(), kRoot, second_opts);
  ASSERT_EQ(second.status().code(), StatusCode::kAborted);
  EXPECT_NE(second.status().message().find("renewed 2026-01-01T00:09:00Z"), std::string::npos)
      << second.status().message();

  // Not renewed for 10 minutes: a dead capture's lock, broken by the next one.
  clock_.Advance(minutes(2));
  second = Writer::Begin(env(), kRoot, second_opts);
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_EQ((*second)->generation(), 2);  // past the first's folder

  // The first finds its lock gone and makes nothing current.
  auto late = (*first)->Commit(Header());
  ASSERT_EQ(late.status().code(), StatusCode::kAborted);
  EXPECT_NE(late.status().message().find("was broken while this capture ran"), std::string::npos);
  EXPECT_NE(late.status().message().find("laptop pid 99"), std::string::npos) << late.status().message();
  EXPECT_FALSE(fs_.Exists(std::string(kLayout) + "/current"));
  first->reset();
  // The first's cleanup leaves the second's lock alone.
  EXPECT_TRUE(fs_.Exists(std::string(kLayout) + "/lock"));
  ASSERT_TRUE((*second)->Add(ConfigMapEntry("shop", "b"), ConfigMap("shop", "b", "1")).ok());
  ASSERT_TRUE((*second)->Commit(Header()).ok());
  EXPECT_FALSE(fs_.Exists(std::string(kLayout) + "/lock"));
}

// Writers on several threads, each object in a folder that may not exist yet: none writes into a
// folder another thread is still creating.
TEST_F(FormatTest, ConcurrentAddsIntoNewFoldersAllLand) {
  testutil::TempDir dir;
  PosixFileSystem posix;
  Env e{&clock_, &posix, nullptr};
  for (int round = 0; round < 5; ++round) {
    auto w = Writer::Begin(e, dir.path(), {});
    ASSERT_TRUE(w.ok()) << w.status().ToString();
    std::vector<std::thread> threads;
    std::atomic<int> failures{0};
    for (int t = 0; t < 8; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < 40; ++i) {
          const std::string ns = "ns-" + std::to_string(i % 10);
          const std::string name = "cm-" + std::to_string(t) + "-" + std::to_string(i);
          if (!(*w)->Add(ConfigMapEntry(ns, name), ConfigMap(ns, name, "v")).ok()) ++failures;
        }
      });
    }
    for (std::thread& th : threads) th.join();
    ASSERT_EQ(failures.load(), 0);
    ASSERT_TRUE((*w)->Commit(Header()).ok());
  }
  auto inv = Inventory::Open(posix, dir.path());
  ASSERT_TRUE(inv.ok()) << inv.status().ToString();
  EXPECT_EQ(inv->index().objects.size(), 320u);
}

TEST_F(FormatTest, PosixLockIsExclusiveAcrossWriters) {
  testutil::TempDir dir;
  PosixFileSystem posix;
  Env e{&clock_, &posix, nullptr};
  WriterOptions o;
  o.holder = "first";
  auto first = Writer::Begin(e, dir.path(), o);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  o.holder = "second";
  auto second = Writer::Begin(e, dir.path(), o);
  ASSERT_EQ(second.status().code(), StatusCode::kAborted);
  EXPECT_NE(second.status().message().find("being captured by first"), std::string::npos);
  ASSERT_TRUE((*first)->Add(ConfigMapEntry("shop", "a"), ConfigMap("shop", "a", "1")).ok());
  ASSERT_TRUE((*first)->Commit(Header()).ok());
  auto inv = Inventory::Open(posix, dir.path());
  ASSERT_TRUE(inv.ok()) << inv.status().ToString();
  EXPECT_EQ(inv->index().objects.size(), 1u);
}

struct RefusalCase {
  const char* name;
  // Breaks the inventory (two generations of cm-0..cm-2 written, generation 2 current).
  std::function<void(FormatTest*, MemFileSystem&)> breakit;
  std::optional<int64_t> generation;
  StatusCode want_code;
  std::vector<std::string> want;
};

class RefusalTest : public FormatTest {};

TEST_F(RefusalTest, RefusesTornFutureAndEmptyInventoriesSayingWhatToDo) {
  const std::string gen2 = std::string(kLayout) + "/generations/00000002";
  const std::string obj = gen2 + "/objects/core/configmaps/shop/cm-1.json";
  auto set_pointer_to_index = [](MemFileSystem& fs, const std::string& index_path, int64_t g) {
    auto text = fs.ReadFile(index_path);
    ASSERT_TRUE(text.ok());
    json p = {{"formatVersion", 1}, {"generation", g}, {"index", "x"}, {"indexSha256", Sha256Hex(*text)}};
    ASSERT_TRUE(fs.WriteFile(std::string(kLayout) + "/current", p.dump()).ok());
  };
  auto edit_index = [&](MemFileSystem& fs, const std::function<void(json&)>& edit) {
    auto text = fs.ReadFile(gen2 + "/index.json");
    ASSERT_TRUE(text.ok());
    json j = json::parse(*text);
    edit(j);
    ASSERT_TRUE(fs.WriteFile(gen2 + "/index.json", j.dump()).ok());
    set_pointer_to_index(fs, gen2 + "/index.json", 2);
  };
  const std::vector<RefusalCase> cases = {
      {"object file missing",
       [&](FormatTest*, MemFileSystem& fs) { ASSERT_TRUE(fs.Remove(obj).ok()); },
       std::nullopt, StatusCode::kFailedPrecondition,
       {"generation 2 of the inventory in /inv is torn", obj + " is missing",
        "use the previous generation: --generation 1"}},
      {"object changed",
       [&](FormatTest*, MemFileSystem& fs) { ASSERT_TRUE(fs.WriteFile(obj, "{\"tampered\":1}\n").ok()); },
       std::nullopt, StatusCode::kFailedPrecondition,
       {"is torn", obj + " differs from " + gen2 + "/index.json", "sha256", "--generation 1"}},
      {"same size, other bytes",
       [&](FormatTest*, MemFileSystem& fs) {
         auto text = fs.ReadFile(obj);
         std::string t = *text;
         t[t.find("two")] = 'T';
         ASSERT_TRUE(fs.WriteFile(obj, t).ok());
       },
       std::nullopt, StatusCode::kFailedPrecondition, {"differs", "--generation 1"}},
      {"index missing",
       [&](FormatTest*, MemFileSystem& fs) { ASSERT_TRUE(fs.Remove(gen2 + "/index.json").ok()); },
       std::nullopt, StatusCode::kFailedPrecondition,
       {"is torn", gen2 + "/index.json is missing", "--generation 1"}},
      {"index replaced",
       [&](FormatTest*, MemFileSystem& fs) {
         auto text = fs.ReadFile(gen2 + "/index.json");
         ASSERT_TRUE(fs.WriteFile(gen2 + "/index.json", *text + " ").ok());
       },
       std::nullopt, StatusCode::kFailedPrecondition, {"is not the index", "current names", "--generation 1"}},
      {"index not JSON (opened by number)",
       [&](FormatTest*, MemFileSystem& fs) {
         ASSERT_TRUE(fs.WriteFile(gen2 + "/index.json", "{\"formatV").ok());
         set_pointer_to_index(fs, gen2 + "/index.json", 2);
       },
       2, StatusCode::kFailedPrecondition, {"is torn", "not valid JSON", "--generation 1"}},
      {"index field mistyped",
       [&](FormatTest*, MemFileSystem& fs) {
         edit_index(fs, [](json& j) { j["objects"][1]["sha256"] = 7; });
       },
       std::nullopt, StatusCode::kFailedPrecondition, {"is torn", "objects[1].sha256: expected a string"}},
      {"index names a file outside its folder",
       [&](FormatTest*, MemFileSystem& fs) {
         edit_index(fs, [](json& j) { j["objects"][0]["file"] = "../00000001/index.json"; });
       },
       std::nullopt, StatusCode::kFailedPrecondition, {"outside its generation folder"}},
      {"pointer names a missing generation",
       [&](FormatTest*, MemFileSystem& fs) {
         json p = {{"formatVersion", 1}, {"generation", 9}, {"indexSha256", "x"}};
         ASSERT_TRUE(fs.WriteFile(std::string(kLayout) + "/current", p.dump()).ok());
       },
       std::nullopt, StatusCode::kFailedPrecondition,
       {"generation 9", "names it but", "/generations/00000009 is missing", "--generation 2"}},
      {"pointer unreadable",
       [&](FormatTest*, MemFileSystem& fs) { ASSERT_TRUE(fs.WriteFile(std::string(kLayout) + "/current", "gar").ok()); },
       std::nullopt, StatusCode::kFailedPrecondition,
       {"pointer to the current generation is unreadable", "--generation N", "kept: 2, 1"}},
      {"pointer missing",
       [&](FormatTest*, MemFileSystem& fs) { ASSERT_TRUE(fs.Remove(std::string(kLayout) + "/current").ok()); },
       std::nullopt, StatusCode::kFailedPrecondition, {"has no current generation", "kept: 2, 1"}},
      {"future index version",
       [&](FormatTest*, MemFileSystem& fs) { edit_index(fs, [](json& j) { j["formatVersion"] = 2; }); },
       std::nullopt, StatusCode::kFailedPrecondition,
       {gen2 + "/index.json is inventory format version 2", "reads version 1", "upgrade kubectl-dr"}},
      {"future pointer version",
       [&](FormatTest*, MemFileSystem& fs) {
         json p = {{"formatVersion", 2}, {"generation", 2}, {"indexSha256", "x"}};
         ASSERT_TRUE(fs.WriteFile(std::string(kLayout) + "/current", p.dump()).ok());
       },
       std::nullopt, StatusCode::kFailedPrecondition, {"current is inventory format version 2", "upgrade"}},
      {"index lists no object",
       [&](FormatTest*, MemFileSystem& fs) { edit_index(fs, [](json& j) { j["objects"] = json::array(); }); },
       std::nullopt, StatusCode::kFailedPrecondition,
       {"generation 2 of the inventory in /inv is empty", "lists no object", "--generation 1"}},
      {"generation not kept",
       [&](FormatTest*, MemFileSystem&) {}, 7, StatusCode::kNotFound,
       {"generation 7 is not kept in /inv", "kept: 2, 1"}},
  };
  for (const RefusalCase& c : cases) {
    SCOPED_TRACE(c.name);
    MemFileSystem fs;
    ASSERT_TRUE(Capture(&fs, 3, "one").ok());
    ASSERT_TRUE(Capture(&fs, 3, "two").ok());
    c.breakit(this, fs);
    if (HasFatalFailure()) return;
    auto inv = Inventory::Open(fs, kRoot, c.generation);
    ASSERT_FALSE(inv.ok());
    EXPECT_EQ(inv.status().code(), c.want_code) << inv.status().ToString();
    for (const std::string& w : c.want) {
      EXPECT_NE(inv.status().message().find(w), std::string::npos)
          << "want \"" << w << "\" in: " << inv.status().message();
    }
    // The previous generation still opens.
    if (c.want_code == StatusCode::kFailedPrecondition &&
        c.want.back().find("--generation 1") != std::string::npos) {
      auto prev = Inventory::Open(fs, kRoot, 1);
      EXPECT_TRUE(prev.ok()) << prev.status().ToString();
    }
  }
}

TEST_F(RefusalTest, RefusesAMissingNewerOrEmptyInventory) {
  struct Case {
    const char* name;
    std::vector<std::string> files;  // created (with "{}") before opening
    StatusCode want_code;
    std::vector<std::string> want;
  };
  const Case cases[] = {
      {"no directory", {}, StatusCode::kNotFound,
       {"inventory directory /inv does not exist", "is the inventory volume mounted there?"}},
      {"no layout", {"/inv/lost+found/x"}, StatusCode::kNotFound,
       {"no inventory in /inv", "/inv/kubectl-dr/inventory/v1 is missing",
        "kubectl dr inventory capture --plan PLAN --agent local --inventory-path /inv"}},
      {"v2 layout", {"/inv/kubectl-dr/inventory/v2/current"}, StatusCode::kFailedPrecondition,
       {"the inventory in /inv is format v2", "/inv/kubectl-dr/inventory/v2", "cannot read (it reads v1)",
        "upgrade kubectl-dr"}},
      {"nothing ever completed", {std::string(kLayout) + "/lock"}, StatusCode::kFailedPrecondition,
       {"the inventory in /inv is empty: no capture has completed", "current is missing"}},
      {"only a torn generation", {std::string(kLayout) + "/generations/00000001/objects/x.json"},
       StatusCode::kFailedPrecondition, {"has no current generation", "kept: 1"}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    MemFileSystem fs;
    for (const std::string& f : c.files) ASSERT_TRUE(fs.WriteFile(f, "{}").ok());
    auto inv = Inventory::Open(fs, kRoot);
    ASSERT_FALSE(inv.ok());
    EXPECT_EQ(inv.status().code(), c.want_code) << inv.status().ToString();
    for (const std::string& w : c.want) {
      EXPECT_NE(inv.status().message().find(w), std::string::npos)
          << "want \"" << w << "\" in: " << inv.status().message();
    }
  }
}

TEST_F(RefusalTest, TornOnlyGenerationSaysNoEarlierOneIsKept) {
  ASSERT_TRUE(Capture(nullptr, 2, "v").ok());
  ASSERT_TRUE(fs_.Remove(std::string(kLayout) + "/generations/00000001/objects/core/configmaps/shop/cm-0.json").ok());
  auto inv = Inventory::Open(fs_, kRoot);
  ASSERT_EQ(inv.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(inv.status().message().find("no earlier generation is kept: capture again"), std::string::npos)
      << inv.status().message();
}

TEST_F(RefusalTest, ReadObjectRefusesAFileChangedAfterOpen) {
  ASSERT_TRUE(Capture(nullptr, 1, "v").ok());
  auto inv = Inventory::Open(fs_, kRoot);
  ASSERT_TRUE(inv.ok());
  const ObjectEntry& e = inv->index().objects[0];
  ASSERT_TRUE(fs_.WriteFile(inv->dir() + "/" + e.file, "{}").ok());
  auto obj = inv->ReadObject(e);
  ASSERT_EQ(obj.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(obj.status().message().find("changed since generation 1 was opened"), std::string::npos);
}

// The checked-in fixtures, read from disk with the real file system.
TEST(InventoryFixtureTest, TornFixtureIsRefusedAndItsPreviousGenerationOpens) {
  PosixFileSystem fs;
  const std::string root = testutil::DataPath("inventory/torn");
  auto inv = Inventory::Open(fs, root);
  ASSERT_EQ(inv.status().code(), StatusCode::kFailedPrecondition) << inv.status().ToString();
  EXPECT_NE(inv.status().message().find(
                "generation 2 of the inventory in " + root + " is torn: " + root +
                "/kubectl-dr/inventory/v1/generations/00000002/objects/core/configmaps/shop/web.json differs"),
            std::string::npos)
      << inv.status().message();
  EXPECT_NE(inv.status().message().find("use the previous generation: --generation 1"), std::string::npos);
  auto prev = Inventory::Open(fs, root, 1);
  ASSERT_TRUE(prev.ok()) << prev.status().ToString();
  EXPECT_EQ(prev->index().plan.name, "shop-to-dr");
  ASSERT_EQ(prev->index().objects.size(), 2u);
  auto obj = prev->ReadObject(prev->index().objects[1]);
  ASSERT_TRUE(obj.ok()) << obj.status().ToString();
  EXPECT_EQ((*obj)["kind"], "ConfigMap");
}

TEST(InventoryFixtureTest, FutureVersionFixtureIsRefused) {
  PosixFileSystem fs;
  const std::string root = testutil::DataPath("inventory/future-version");
  for (std::optional<int64_t> g : {std::optional<int64_t>(), std::optional<int64_t>(1)}) {
    auto inv = Inventory::Open(fs, root, g);
    ASSERT_EQ(inv.status().code(), StatusCode::kFailedPrecondition) << inv.status().ToString();
    EXPECT_NE(inv.status().message().find("is format v2"), std::string::npos) << inv.status().message();
    EXPECT_NE(inv.status().message().find("upgrade kubectl-dr"), std::string::npos);
  }
  auto gens = Inventory::ListGenerations(fs, root);
  EXPECT_EQ(gens.status().code(), StatusCode::kFailedPrecondition);
}

TEST(IndexJsonTest, RejectsMalformedIndexNamingTheField) {
  Index good = Header();
  good.generation = 1;
  good.objects = {{"", "v1", "configmaps", "ConfigMap", "shop", "a", "objects/core/configmaps/shop/a.json", 3, "abc"}};
  struct Case {
    const char* name;
    std::function<void(json&)> edit;
    StatusCode want_code;
    std::string want;
  };
  const Case cases[] = {
      {"not an object", [](json& j) { j = json::array(); }, StatusCode::kInvalidArgument,
       "index.json: expected an object"},
      {"no version", [](json& j) { j.erase("formatVersion"); }, StatusCode::kInvalidArgument,
       "index.json: formatVersion: missing"},
      {"future version", [](json& j) { j["formatVersion"] = 2; }, StatusCode::kFailedPrecondition,
       "format version 2"},
      {"plan without name", [](json& j) { j["plan"].erase("name"); }, StatusCode::kInvalidArgument,
       "index.json: plan.name: missing"},
      {"bad time", [](json& j) { j["captureEnd"] = "yesterday"; }, StatusCode::kInvalidArgument,
       "captureEnd: expected an RFC 3339 time"},
      {"size not a number", [](json& j) { j["objects"][0]["size"] = "3"; }, StatusCode::kInvalidArgument,
       "objects[0].size: expected an integer"},
      {"volume without claim", [](json& j) { j["volumes"] = json::array({json::object()}); },
       StatusCode::kInvalidArgument, "volumes[0].pvcNamespace: missing"},
      {"left-out count not a number", [](json& j) { j["leftOut"] = {{"events", "many"}}; },
       StatusCode::kInvalidArgument, "leftOut.events: expected an integer"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    json j = ToJson(good);
    c.edit(j);
    auto got = IndexFromJson(j, "index.json");
    ASSERT_FALSE(got.ok());
    EXPECT_EQ(got.status().code(), c.want_code);
    EXPECT_NE(got.status().message().find(c.want), std::string::npos) << got.status().message();
  }
  auto back = IndexFromJson(ToJson(good), "index.json");
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->objects, good.objects);
}

TEST(Sha256Test, MatchesKnownVectors) {
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(ObjectFileTest, PathsByGroupResourceNamespaceName) {
  struct Case {
    const char* group;
    const char* resource;
    const char* ns;
    const char* name;
    const char* want;
  };
  const Case cases[] = {
      {"", "configmaps", "shop", "web", "objects/core/configmaps/shop/web.json"},
      {"apps", "deployments", "shop", "web", "objects/apps/deployments/shop/web.json"},
      {"", "persistentvolumes", "", "pv-1", "objects/core/persistentvolumes/_cluster/pv-1.json"},
      {"example.com", "widgets", "shop", "w.1", "objects/example.com/widgets/shop/w.1.json"},
  };
  for (const Case& c : cases) EXPECT_EQ(ObjectFile(c.group, c.resource, c.ns, c.name), c.want);
  const std::string long_name(253, 'x');
  const std::string f = ObjectFile("", "configmaps", "shop", long_name);
  EXPECT_NE(f, ObjectFile("", "configmaps", "shop", long_name.substr(0, 252) + "y"));
  EXPECT_LE(f.size() - f.rfind('/') - 1, 255u);
}

}  // namespace
}  // namespace kdr::inventory
