#pragma once

// Directory trees as the simulators' volume contents: a simulated Longhorn volume, a backup in a
// Longhorn backup store and an alletra-sim volume are each a directory on this machine, and
// replication copies one tree over another. Copies are never seen half made: a tree is built
// beside its destination under a temporary name (".NAME.tmp-XXXXXX", which no volume or backup
// name can take: they do not begin with a dot) and then swapped in with one rename, so a reader
// of the destination path (an agent process, a restore) finds the old tree or the new one.
//
// Symbolic links are copied as links; other special files are skipped. Not thread-safe against
// writers of the same destination: the simulators call these from one thread per cluster or
// array, under their own locks.

#include <memory>
#include <string>
#include <string_view>

#include "base/status.h"

namespace kdr::sim {

// True when `name` may name a volume's directory: not empty, not "." or "..", no '/', no leading
// dot (those are the temporary names), at most 255 bytes.
bool IsTreeName(std::string_view name);

// Makes `to` a copy of the tree `from`: the copy is made beside `to` and swapped in atomically
// (renameat2 RENAME_EXCHANGE when `to` exists, a plain rename when it does not), then the old tree
// is removed. `to`'s parent directory is created when missing. NotFound when `from` does not
// exist; InvalidArgument when `from` is not a directory or `to` is inside `from`; Unavailable
// for an I/O error (the destination is then left as it was and the temporary copy removed).
Status ReplaceTree(const std::string& from, const std::string& to);

// Removes the tree at `path`. Ok when it does not exist.
Status RemoveTree(const std::string& path);

// A new directory under $TMPDIR (else /tmp) named PREFIX-XXXXXX, removed with everything in it
// when destroyed: the default home of volumes nobody asked to keep.
class ScopedTree {
 public:
  // Unavailable when the directory cannot be made.
  static Result<std::unique_ptr<ScopedTree>> Make(std::string_view prefix);
  ~ScopedTree();
  ScopedTree(const ScopedTree&) = delete;
  ScopedTree& operator=(const ScopedTree&) = delete;
  const std::string& path() const { return path_; }

 private:
  explicit ScopedTree(std::string path) : path_(std::move(path)) {}
  const std::string path_;
};

}  // namespace kdr::sim
