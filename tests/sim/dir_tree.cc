#include "dir_tree.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <system_error>
#include <vector>

namespace kdr::sim {
namespace {

namespace fs = std::filesystem;

Status IoError(const std::string& what, const std::error_code& ec) {
  return Status::Unavailable(what + ": " + ec.message());
}

}  // namespace

bool IsTreeName(std::string_view name) {
  return !name.empty() && name.size() <= 255 && name != "." && name != ".." && name.front() != '.' &&
         name.find('/') == std::string_view::npos;
}

Status RemoveTree(const std::string& path) {
  std::error_code ec;
  fs::remove_all(path, ec);
  if (ec && ec != std::errc::no_such_file_or_directory) return IoError("removing " + path, ec);
  return Status::Ok();
}

Status ReplaceTree(const std::string& from, const std::string& to) {
  std::error_code ec;
  const fs::file_status st = fs::symlink_status(from, ec);
  if (!fs::exists(st)) return Status::NotFound("cannot copy " + from + ": it does not exist");
  if (!fs::is_directory(st)) return Status::InvalidArgument("cannot copy " + from + ": not a directory");
  const fs::path dest = fs::path(to).lexically_normal();
  const fs::path src = fs::path(from).lexically_normal();
  const std::string src_prefix = src.string() + "/";
  if (dest == src || dest.string().rfind(src_prefix, 0) == 0) {
    return Status::InvalidArgument("cannot copy " + from + " to " + to + ": the destination is inside the source");
  }
  const fs::path parent = dest.parent_path();
  fs::create_directories(parent, ec);
  if (ec) return IoError("creating " + parent.string(), ec);

  std::string tmpl = (parent / ("." + dest.filename().string() + ".tmp-XXXXXX")).string();
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  if (::mkdtemp(buf.data()) == nullptr) {
    return Status::Unavailable("creating a temporary copy beside " + to + ": " + std::strerror(errno));
  }
  const std::string tmp = buf.data();
  fs::copy(src, tmp, fs::copy_options::recursive | fs::copy_options::copy_symlinks, ec);
  if (ec) {
    (void)RemoveTree(tmp);
    return IoError("copying " + from + " to " + tmp, ec);
  }
  // mkdtemp made the copy's root 0700; the volume keeps its own mode.
  fs::permissions(tmp, fs::status(src).permissions(), ec);

  if (::renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, dest.c_str(), RENAME_EXCHANGE) == 0) {
    return RemoveTree(tmp);  // the old tree, now under the temporary name
  }
  if (errno != ENOENT) {
    const int err = errno;
    (void)RemoveTree(tmp);
    return Status::Unavailable("swapping " + tmp + " with " + to + ": " + std::strerror(err));
  }
  if (::rename(tmp.c_str(), dest.c_str()) != 0) {  // no old tree
    const int err = errno;
    (void)RemoveTree(tmp);
    return Status::Unavailable("renaming " + tmp + " to " + to + ": " + std::strerror(err));
  }
  return Status::Ok();
}

Result<std::unique_ptr<ScopedTree>> ScopedTree::Make(std::string_view prefix) {
  const char* tmp = std::getenv("TMPDIR");
  std::string tmpl = std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/" + std::string(prefix) + "-XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  if (::mkdtemp(buf.data()) == nullptr) {
    return Status::Unavailable("creating a directory " + tmpl + ": " + std::strerror(errno));
  }
  return std::unique_ptr<ScopedTree>(new ScopedTree(buf.data()));
}

ScopedTree::~ScopedTree() { (void)RemoveTree(path_); }

}  // namespace kdr::sim
