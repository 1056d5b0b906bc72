#include "testutil/testutil.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>

#include <cstdlib>
#include <filesystem>
#include <set>
#include <thread>

#include "base/strings.h"

namespace kdr::testutil {

std::string DataPath(const std::string& relative) {
  return std::string(KDR_TEST_DATA_DIR) + "/" + relative;
}

std::string SourcePath(const std::string& relative) {
  return std::string(KDR_TEST_DATA_DIR) + "/../../" + relative;
}

std::string BinaryDir() { return KDR_BINARY_DIR; }

std::string ReadData(const std::string& relative) {
  PosixFileSystem fs;
  auto r = fs.ReadFile(DataPath(relative));
  if (!r.ok()) {
    ADD_FAILURE() << "missing fixture " << relative << ": " << r.status().message();
    return "";
  }
  return *r;
}

CommandResult RunCommand(const std::string& command) {
  CommandResult r;
  FILE* p = ::popen((command + " 2>&1").c_str(), "r");
  if (p == nullptr) return r;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) r.output.append(buf.data(), n);
  int status = ::pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl = std::string(base && *base ? base : "/tmp") + "/kdr-test-XXXXXX";
  char* p = ::mkdtemp(tmpl.data());
  if (p == nullptr) std::abort();
  path_ = p;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::string TempDir::Write(const std::string& name, const std::string& content, int mode) const {
  std::string path = path_ + "/" + name;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  PosixFileSystem fs;
  Status s = fs.WriteFile(path, content, mode);
  if (!s.ok()) ADD_FAILURE() << s.message();
  ::chmod(path.c_str(), static_cast<mode_t>(mode));
  return path;
}

FakeClock::FakeClock() {
  ParseRfc3339("2026-01-01T00:00:00Z", &wall_start_);
}

Clock::WallTime FakeClock::Now() const {
  std::lock_guard l(mu_);
  return wall_start_ + std::chrono::duration_cast<std::chrono::system_clock::duration>(offset_);
}

Clock::MonoTime FakeClock::Monotonic() const {
  std::lock_guard l(mu_);
  return MonoTime(std::chrono::duration_cast<std::chrono::steady_clock::duration>(offset_));
}

bool FakeClock::SleepFor(std::chrono::nanoseconds d, std::stop_token stop) {
  if (stop.stop_requested()) return false;
  std::lock_guard l(mu_);
  offset_ += d;
  slept_ += d;
  return true;
}

bool YieldingClock::SleepFor(std::chrono::nanoseconds d, std::stop_token stop) {
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  return fake_.SleepFor(d, stop);
}

void FakeClock::Advance(std::chrono::nanoseconds d) {
  std::lock_guard l(mu_);
  offset_ += d;
}

std::chrono::nanoseconds FakeClock::slept() const {
  std::lock_guard l(mu_);
  return slept_;
}

Result<std::string> MemFileSystem::ReadFile(const std::string& path) const {
  std::lock_guard l(mu_);
  auto it = files_.find(path);
  if (it == files_.end()) return Status::NotFound("cannot read " + path + ": No such file or directory");
  return it->second;
}

Status MemFileSystem::WriteFile(const std::string& path, std::string_view data, int) {
  std::lock_guard l(mu_);
  files_[path] = std::string(data);
  ++generation_[path];
  return Status::Ok();
}

Result<FileInfo> MemFileSystem::Stat(const std::string& path) const {
  std::lock_guard l(mu_);
  FileInfo info;
  auto it = files_.find(path);
  if (it != files_.end()) {
    info.size = it->second.size();
    info.change_key = std::to_string(generation_.at(path));
    return info;
  }
  // Paths under the directory sort together, right after the prefix.
  std::string prefix = path.empty() || path.back() == '/' ? path : path + "/";
  auto under = files_.lower_bound(prefix);
  if (under != files_.end() && StartsWith(under->first, prefix)) {
    info.is_dir = true;
    return info;
  }
  return Status::NotFound("cannot stat " + path + ": No such file or directory");
}

Result<std::vector<std::string>> MemFileSystem::ListDir(const std::string& path) const {
  std::lock_guard l(mu_);
  std::string prefix = path.empty() || path.back() == '/' ? path : path + "/";
  std::set<std::string> names;
  for (auto it = files_.lower_bound(prefix); it != files_.end() && StartsWith(it->first, prefix);) {
    std::string_view rest = std::string_view(it->first).substr(prefix.size());
    const size_t slash = rest.find('/');
    names.emplace(rest.substr(0, slash));
    if (slash == std::string_view::npos) {
      ++it;
    } else {
      // Past everything under that folder ('0' follows '/'): a listing costs what the folder
      // holds, as on a real file system, not what its whole subtree holds.
      it = files_.lower_bound(prefix + std::string(rest.substr(0, slash)) + "0");
    }
  }
  if (names.empty()) return Status::NotFound("cannot list " + path + ": No such file or directory");
  return std::vector<std::string>(names.begin(), names.end());
}

Status MemFileSystem::MakeDirs(const std::string&, int) { return Status::Ok(); }

Status MemFileSystem::Remove(const std::string& path) {
  std::lock_guard l(mu_);
  if (files_.erase(path) == 0) return Status::NotFound("cannot remove " + path + ": No such file or directory");
  return Status::Ok();
}

Status MemFileSystem::CreateExclusive(const std::string& path, std::string_view data, int) {
  std::lock_guard l(mu_);
  if (!files_.emplace(path, std::string(data)).second) return Status::AlreadyExists(path + " exists");
  ++generation_[path];
  return Status::Ok();
}

}  // namespace kdr::testutil
