#pragma once

// Persister: kubesim's --data-dir. Every committed write is appended as one line to
// DIR/kubesim.log (and flushed to the kernel before the write returns, so a killed process loses
// nothing); Open() replays DIR/snapshot.json then the log, writes a fresh snapshot atomically
// (temp file + rename) and starts an empty log. A torn last line (a crash mid-append) is
// ignored. Not thread-safe: the Store calls it under its lock.

#include <cstdint>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>

#include "base/status.h"
#include "registry.h"

namespace kdr::kubesim {

class Persister {
 public:
  // The state found in the directory: "group/resource" -> "ns/name" -> object (JSON text).
  struct State {
    std::map<std::string, std::map<std::string, std::string>> objects;
    uint64_t resource_version = 0;
  };

  // Creates dir when absent. Errors name the file and the reason.
  static Result<std::unique_ptr<Persister>> Open(const std::string& dir, State* state);
  ~Persister();
  Persister(const Persister&) = delete;
  Persister& operator=(const Persister&) = delete;

  Status Put(const GroupResource& gr, const std::string& key, const std::string& object_json,
             uint64_t rv);
  Status Remove(const GroupResource& gr, const std::string& key, uint64_t rv);

 private:
  Persister() = default;
  Status AppendLine(const std::string& line);
  std::string dir_;
  std::FILE* log_ = nullptr;
};

}  // namespace kdr::kubesim
