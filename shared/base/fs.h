#pragma once

// FileSystem: the seam for files. PosixFileSystem is the real one; tests use
// testutil::MemFileSystem or a real temp dir.

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace kdr {

struct FileInfo {
  bool is_dir = false;
  uint64_t size = 0;
  std::chrono::system_clock::time_point mtime;
  // Changes whenever the file is replaced (inode) or rewritten (mtime, size): a cheap "did it
  // change" key for files re-read on rotation (service-account tokens, serving certificates).
  std::string change_key;
};

class FileSystem {
 public:
  virtual ~FileSystem() = default;

  // NotFound when the path does not exist, PermissionDenied when it cannot be read.
  virtual Result<std::string> ReadFile(const std::string& path) const = 0;
  // Writes atomically (temp file + rename in the same directory): readers see the old or the new
  // content, never a torn one. mode is the permission of a new file.
  virtual Status WriteFile(const std::string& path, std::string_view data, int mode = 0644) = 0;
  virtual Result<FileInfo> Stat(const std::string& path) const = 0;
  bool Exists(const std::string& path) const { return Stat(path).ok(); }
  // Names (not paths) of the entries of a directory, sorted.
  virtual Result<std::vector<std::string>> ListDir(const std::string& path) const = 0;
  // mkdir -p. Ok when it exists already.
  virtual Status MakeDirs(const std::string& path, int mode = 0755) = 0;
  // Removes a file or an empty directory. NotFound when absent.
  virtual Status Remove(const std::string& path) = 0;

  // Creates path holding data only if nothing is there (O_EXCL): AlreadyExists otherwise. The
  // primitive for lock files; durable when it returns. This default (a file system that cannot)
  // is Unimplemented.
  virtual Status CreateExclusive(const std::string& path, std::string_view data, int mode = 0644);
  // Writes path in place, without WriteFile's temp file and fsync: a crash may leave it torn or
  // empty. For many files whose integrity is checked otherwise (the inventory's sha256s) and which
  // SyncFileSystem makes durable together: one fsync per file costs 2-3 ms on a VM disk, 25 s
  // for 10,000 objects (BENCHMARKS.md, inventory capture). This default calls WriteFile.
  virtual Status WriteFileBuffered(const std::string& path, std::string_view data, int mode = 0644) {
    return WriteFile(path, data, mode);
  }
  // Makes everything written so far to the file system holding path durable (syncfs(2)). This
  // default, for file systems whose writes are durable already, does nothing.
  virtual Status SyncFileSystem(const std::string& path) { return Status::Ok(); }
};

class PosixFileSystem final : public FileSystem {
 public:
  Result<std::string> ReadFile(const std::string& path) const override;
  Status WriteFile(const std::string& path, std::string_view data, int mode = 0644) override;
  Result<FileInfo> Stat(const std::string& path) const override;
  Result<std::vector<std::string>> ListDir(const std::string& path) const override;
  Status MakeDirs(const std::string& path, int mode = 0755) override;
  Status Remove(const std::string& path) override;
  Status CreateExclusive(const std::string& path, std::string_view data, int mode = 0644) override;
  Status WriteFileBuffered(const std::string& path, std::string_view data, int mode = 0644) override;
  Status SyncFileSystem(const std::string& path) override;
};

// Joins two path parts with exactly one '/'.
std::string JoinPath(std::string_view a, std::string_view b);
// The directory part of a path ("a/b/c" -> "a/b", "c" -> ".").
std::string DirName(std::string_view path);
// "~/x" -> "$HOME/x"; other paths unchanged.
std::string ExpandHome(std::string_view path);

}  // namespace kdr
