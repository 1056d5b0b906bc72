#pragma once

// Test support shared by every suite: fixtures, temp dirs, the fake clock and an in-memory file
// system.

#include <chrono>
#include <map>
#include <mutex>
#include <string>

#include "base/clock.h"
#include "base/fs.h"

namespace kdr::testutil {

// Contents of tests/data/<relative>; fails the test (ADD_FAILURE) and returns "" when missing.
std::string ReadData(const std::string& relative);
// Absolute path of tests/data/<relative>.
std::string DataPath(const std::string& relative);
// Absolute path of <repo>/<relative> (manifests, scripts).
std::string SourcePath(const std::string& relative);
// The CMake build directory (where kubectl-dr, kubesim... are built).
std::string BinaryDir();

// Runs `command` with /bin/sh, stdout and stderr together.
struct CommandResult {
  int exit_code = -1;  // -1 when it did not exit normally
  std::string output;
};
CommandResult RunCommand(const std::string& command);

// A fresh directory removed (recursively) when the object dies.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  // Writes a file under the dir and returns its path.
  std::string Write(const std::string& name, const std::string& content, int mode = 0644) const;

 private:
  std::string path_;
};

// A clock whose sleeps advance time at once. Starts at 2026-01-01T00:00:00Z. Thread-safe.
class FakeClock final : public Clock {
 public:
  FakeClock();
  WallTime Now() const override;
  MonoTime Monotonic() const override;
  bool SleepFor(std::chrono::nanoseconds d, std::stop_token stop = {}) override;
  void Advance(std::chrono::nanoseconds d);
  // Total time slept through SleepFor.
  std::chrono::nanoseconds slept() const;

 private:
  mutable std::mutex mu_;
  std::chrono::nanoseconds offset_{0};
  std::chrono::nanoseconds slept_{0};
  WallTime wall_start_;
};

// Fake time (a FakeClock) whose sleeps also give other threads a moment of real time (5 ms): for
// code under test that waits, on fake time, for what an in-process kubesim's controllers do.
// Thread-safe.
class YieldingClock final : public Clock {
 public:
  WallTime Now() const override { return fake_.Now(); }
  MonoTime Monotonic() const override { return fake_.Monotonic(); }
  bool SleepFor(std::chrono::nanoseconds d, std::stop_token stop = {}) override;

 private:
  FakeClock fake_;
};

// An in-memory FileSystem. Thread-safe.
class MemFileSystem final : public FileSystem {
 public:
  Result<std::string> ReadFile(const std::string& path) const override;
  Status WriteFile(const std::string& path, std::string_view data, int mode = 0644) override;
  Result<FileInfo> Stat(const std::string& path) const override;
  Result<std::vector<std::string>> ListDir(const std::string& path) const override;
  Status MakeDirs(const std::string& path, int mode = 0755) override;
  Status Remove(const std::string& path) override;
  Status CreateExclusive(const std::string& path, std::string_view data, int mode = 0644) override;

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::string> files_;
  std::map<std::string, int> generation_;
};

}  // namespace kdr::testutil
