#include "sim/dir_tree.h"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "base/fs.h"
#include "testutil/testutil.h"

namespace kdr::sim {
namespace {

class DirTreeTest : public ::testing::Test {
 protected:
  void Put(const std::string& path, const std::string& data) {
    ASSERT_TRUE(fs_.MakeDirs(DirName(path)).ok());
    ASSERT_TRUE(fs_.WriteFile(path, data).ok());
  }
  std::string Get(const std::string& path) const { return fs_.ReadFile(path).value_or("<none>"); }

  PosixFileSystem fs_;
  testutil::TempDir dir_;
};

TEST_F(DirTreeTest, ReplaceTreeMakesTheDestinationAnExactCopyAndLeavesNoTemporaryName) {
  const std::string from = dir_.path() + "/from", to = dir_.path() + "/parent/to";
  Put(from + "/a", "new a");
  Put(from + "/sub/b", "new b");
  ASSERT_TRUE(ReplaceTree(from, to).ok());  // no destination yet: made, parent included
  EXPECT_EQ(Get(to + "/a"), "new a");
  EXPECT_EQ(Get(to + "/sub/b"), "new b");

  Put(to + "/stale", "only in the old tree");
  Put(from + "/a", "newer a");
  ASSERT_TRUE(ReplaceTree(from, to).ok());
  EXPECT_EQ(Get(to + "/a"), "newer a");
  EXPECT_FALSE(fs_.Exists(to + "/stale")) << "replaced, not merged";
  EXPECT_EQ(fs_.ListDir(dir_.path() + "/parent").value_or(std::vector<std::string>{}),
            std::vector<std::string>{"to"});
  EXPECT_EQ(Get(from + "/sub/b"), "new b") << "the source is left as it was";
}

TEST_F(DirTreeTest, BadCopiesAreRefusedAndChangeNothing) {
  Put(dir_.path() + "/file", "x");
  Put(dir_.path() + "/src/a", "a");
  Put(dir_.path() + "/dest/keep", "kept");
  struct Case {
    std::string name, from, to;
    StatusCode code;
    std::string want;
  } cases[] = {
      {"missing source", dir_.path() + "/nope", dir_.path() + "/dest", StatusCode::kNotFound, "does not exist"},
      {"source not a directory", dir_.path() + "/file", dir_.path() + "/dest", StatusCode::kInvalidArgument,
       "not a directory"},
      {"destination inside the source", dir_.path() + "/src", dir_.path() + "/src/inner",
       StatusCode::kInvalidArgument, "inside the source"},
      {"destination is the source", dir_.path() + "/src", dir_.path() + "/src/", StatusCode::kInvalidArgument,
       "inside the source"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Status s = ReplaceTree(c.from, c.to);
    EXPECT_EQ(s.code(), c.code) << s.message();
    EXPECT_NE(s.message().find(c.want), std::string::npos) << s.message();
  }
  EXPECT_EQ(Get(dir_.path() + "/dest/keep"), "kept");
  EXPECT_EQ(fs_.ListDir(dir_.path() + "/src").value_or(std::vector<std::string>{}), std::vector<std::string>{"a"});
}

// A reader of the destination path, all the while it is replaced, finds every file, whole: the
// tree is never absent, emptied or half copied (as a delete-then-copy would leave it).
TEST_F(DirTreeTest, AReaderNeverSeesAHalfReplacedTree) {
  const std::string to = dir_.path() + "/volume";
  const std::string v1 = dir_.path() + "/v1", v2 = dir_.path() + "/v2";
  for (const auto& [src, tag] : {std::pair{v1, '1'}, {v2, '2'}}) {
    for (int i = 0; i < 20; ++i) Put(src + "/f" + std::to_string(i), std::string(4096, tag));
  }
  ASSERT_TRUE(ReplaceTree(v1, to).ok());
  std::atomic<bool> done{false};
  std::atomic<int> torn{0}, reads{0};
  std::thread reader([&] {
    PosixFileSystem fs;
    while (!done.load()) {
      for (const char* f : {"/f0", "/f19"}) {
        auto r = fs.ReadFile(to + f);
        if (!r.ok() || r->size() != 4096 || r->find_first_not_of(r->front()) != std::string::npos) ++torn;
        ++reads;
      }
    }
  });
  for (int i = 0; i < 200; ++i) ASSERT_TRUE(ReplaceTree(i % 2 == 0 ? v2 : v1, to).ok());
  done = true;
  reader.join();
  EXPECT_EQ(torn.load(), 0) << "a file of the tree was missing or partial while it was replaced";
  EXPECT_GT(reads.load(), 0);
}

TEST_F(DirTreeTest, TreeNamesRefuseTemporaryAndPathLikeNames) {
  for (const char* ok : {"pvc-1234", "shop-db-a", "a.b"}) EXPECT_TRUE(IsTreeName(ok)) << ok;
  for (const char* bad : {"", ".", "..", ".hidden", "a/b", "/abs"}) EXPECT_FALSE(IsTreeName(bad)) << bad;
}

TEST_F(DirTreeTest, AScopedTreeIsRemovedWithItsContents) {
  std::string path;
  {
    auto t = ScopedTree::Make("dir-tree-test");
    ASSERT_TRUE(t.ok()) << t.status().message();
    path = (*t)->path();
    Put(path + "/sub/file", "x");
  }
  EXPECT_FALSE(fs_.Exists(path));
}

}  // namespace
}  // namespace kdr::sim
