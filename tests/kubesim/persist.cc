#include "persist.h"

#include "base/fs.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace kdr::kubesim {
namespace {

using json = nlohmann::json;

std::string GrKey(const GroupResource& gr) { return gr.group + "/" + gr.resource; }

Result<std::string> ReadAll(const std::string& path, bool* exists) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    *exists = false;
    return std::string();
  }
  *exists = true;
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The data dir holds Secrets and tokens: owner-only, written atomically.
Status WriteAtomically(const std::string& path, const std::string& data) {
  return PosixFileSystem().WriteFile(path, data, 0600);
}

}  // namespace

Result<std::unique_ptr<Persister>> Persister::Open(const std::string& dir, State* state) {
  if (mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
    return Status::Internal("creating data dir " + dir + ": " + std::strerror(errno));
  }
  const std::string snap_path = dir + "/snapshot.json";
  const std::string log_path = dir + "/kubesim.log";
  bool exists = false;
  KDR_ASSIGN_OR_RETURN(std::string snap, ReadAll(snap_path, &exists));
  if (exists) {
    try {
      json s = json::parse(snap);
      state->resource_version = s.at("resourceVersion").get<uint64_t>();
      for (const auto& [gr, objs] : s.at("objects").items()) {
        for (const auto& [key, obj] : objs.items()) state->objects[gr][key] = obj.dump();
      }
    } catch (const std::exception& e) {
      return Status::InvalidArgument("reading " + snap_path + ": " + e.what() +
                                     "; remove the data dir to start afresh");
    }
  }
  KDR_ASSIGN_OR_RETURN(std::string log, ReadAll(log_path, &exists));
  std::istringstream lines(log);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty()) continue;
    json rec;
    try {
      rec = json::parse(line);
      const std::string gr = rec.at("gr").get<std::string>();
      const std::string key = rec.at("key").get<std::string>();
      const uint64_t rv = rec.at("rv").get<uint64_t>();
      if (rec.contains("obj")) {
        state->objects[gr][key] = rec["obj"].dump();
      } else {
        state->objects[gr].erase(key);
      }
      if (rv > state->resource_version) state->resource_version = rv;
    } catch (const std::exception&) {
      // A torn last line from a crash mid-append: everything before it is intact.
      if (lines.peek() == EOF) break;
      return Status::InvalidArgument("reading " + log_path + ": corrupt record \"" +
                                     line.substr(0, 80) + "\"; remove the data dir to start afresh");
    }
  }
  json snapshot = {{"resourceVersion", state->resource_version}, {"objects", json::object()}};
  for (const auto& [gr, objs] : state->objects) {
    json& bucket = snapshot["objects"][gr];
    bucket = json::object();
    for (const auto& [key, obj] : objs) bucket[key] = json::parse(obj);
  }
  KDR_RETURN_IF_ERROR(WriteAtomically(snap_path, snapshot.dump()));
  auto p = std::unique_ptr<Persister>(new Persister());
  p->dir_ = dir;
  p->log_ = std::fopen(log_path.c_str(), "wb");
  if (!p->log_) return Status::Internal("opening " + log_path + ": " + std::strerror(errno));
  return p;
}

Persister::~Persister() {
  if (log_) std::fclose(log_);
}

Status Persister::AppendLine(const std::string& line) {
  if (std::fwrite(line.data(), 1, line.size(), log_) != line.size() || std::fflush(log_) != 0) {
    return Status::Internal("appending to " + dir_ + "/kubesim.log: " + std::strerror(errno));
  }
  return Status::Ok();
}

Status Persister::Put(const GroupResource& gr, const std::string& key,
                      const std::string& object_json, uint64_t rv) {
  // The object is already JSON text; splice it in instead of re-serializing.
  std::string line = "{\"gr\":" + json(GrKey(gr)).dump() + ",\"key\":" + json(key).dump() +
                     ",\"rv\":" + std::to_string(rv) + ",\"obj\":" + object_json + "}\n";
  return AppendLine(line);
}

Status Persister::Remove(const GroupResource& gr, const std::string& key, uint64_t rv) {
  std::string line = "{\"gr\":" + json(GrKey(gr)).dump() + ",\"key\":" + json(key).dump() +
                     ",\"rv\":" + std::to_string(rv) + "}\n";
  return AppendLine(line);
}

}  // namespace kdr::kubesim
