#include "inventory/format.h"

#include <openssl/evp.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "base/fs.h"
#include "base/json.h"
#include "base/log.h"
#include "base/strings.h"
#include "base/version.h"

namespace kdr::inventory {
namespace {

using nlohmann::json;

constexpr std::string_view kPointerFile = "current";
constexpr std::string_view kLockFile = "lock";
constexpr std::string_view kIndexFile = "index.json";
constexpr std::string_view kGenerationsDir = "generations";
// NAME_MAX is 255 on every file system we expect under a PVC; ".json" and a hash suffix must fit.
constexpr size_t kMaxNameInFile = 200;

// Reads the fields of one JSON object, remembering the first problem: the message names the
// document and the field ("index.json: objects[3].sha256: expected a string").
class FieldReader {
 public:
  FieldReader(const json& obj, std::string where, Status* error)
      : obj_(obj), where_(std::move(where)), error_(error) {
    if (!obj_.is_object()) Fail("", "expected an object");
  }

  std::string Str(const char* key, bool required = true) {
    const json* v = Find(key, required);
    if (v == nullptr) return "";
    if (!v->is_string()) return Fail(key, "expected a string"), "";
    return v->get<std::string>();
  }
  int64_t Int(const char* key, bool required = true) {
    const json* v = Find(key, required);
    if (v == nullptr) return 0;
    if (!v->is_number_integer()) return Fail(key, "expected an integer"), 0;
    return v->get<int64_t>();
  }
  bool Bool(const char* key) {
    const json* v = Find(key, false);
    if (v == nullptr) return false;
    if (!v->is_boolean()) return Fail(key, "expected true or false"), false;
    return v->get<bool>();
  }
  Clock::WallTime Time(const char* key) {
    std::string s = Str(key);
    Clock::WallTime t{};
    if (!s.empty() && !ParseRfc3339(s, &t)) Fail(key, "expected an RFC 3339 time, not " + Quote(s));
    return t;
  }
  std::vector<std::string> Strings(const char* key) {
    std::vector<std::string> out;
    const json* v = Find(key, false);
    if (v == nullptr) return out;
    if (!v->is_array()) return Fail(key, "expected an array of strings"), out;
    for (const json& e : *v) {
      if (!e.is_string()) return Fail(key, "expected an array of strings"), out;
      out.push_back(e.get<std::string>());
    }
    return out;
  }
  std::map<std::string, std::string> StringMap(const char* key) {
    std::map<std::string, std::string> out;
    const json* v = Find(key, false);
    if (v == nullptr) return out;
    if (!v->is_object()) return Fail(key, "expected an object of strings"), out;
    for (const auto& [k, e] : v->items()) {
      if (!e.is_string()) return Fail(key + std::string(".") + k, "expected a string"), out;
      out[k] = e.get<std::string>();
    }
    return out;
  }
  // The array at key (empty when absent), each element handed to fn with its path.
  template <typename Fn>
  void Each(const char* key, Fn fn) {
    const json* v = Find(key, false);
    if (v == nullptr) return;
    if (!v->is_array()) return Fail(key, "expected an array");
    for (size_t i = 0; i < v->size() && error_->ok(); ++i) {
      fn((*v)[i], Path(key) + "[" + std::to_string(i) + "]");
    }
  }
  const json* Object(const char* key) {
    const json* v = Find(key, true);
    if (v != nullptr && !v->is_object()) return Fail(key, "expected an object"), nullptr;
    return v;
  }
  std::string Path(std::string_view key) const {
    return where_.empty() ? std::string(key) : where_ + "." + std::string(key);
  }

 private:
  const json* Find(const char* key, bool required) {
    if (!error_->ok() || !obj_.is_object()) return nullptr;
    auto it = obj_.find(key);
    if (it == obj_.end() || it->is_null()) {
      if (required) Fail(key, "missing");
      return nullptr;
    }
    return &*it;
  }
  void Fail(std::string_view key, std::string why) {
    if (!error_->ok()) return;
    std::string at = key.empty() ? where_ : Path(key);
    *error_ = Status::InvalidArgument((at.empty() ? std::string() : at + ": ") + why);
  }

  const json& obj_;
  const std::string where_;
  Status* error_;
};

json EntryToJson(const ObjectEntry& e) {
  return {{"group", e.group},       {"version", e.version},     {"resource", e.resource},
          {"kind", e.kind},         {"namespace", e.namespace_name}, {"name", e.name},
          {"file", e.file},         {"size", e.size},           {"sha256", e.sha256}};
}

ObjectEntry EntryFromJson(const json& j, const std::string& where, Status* error) {
  FieldReader r(j, where, error);
  ObjectEntry e;
  e.group = r.Str("group", false);
  e.version = r.Str("version");
  e.resource = r.Str("resource");
  e.kind = r.Str("kind");
  e.namespace_name = r.Str("namespace", false);
  e.name = r.Str("name");
  e.file = r.Str("file");
  e.size = static_cast<uint64_t>(r.Int("size"));
  e.sha256 = r.Str("sha256");
  return e;
}

json UnlistedToJson(const UnlistedResource& u) {
  return {{"group", u.group},     {"version", u.version}, {"resource", u.resource},
          {"namespace", u.namespace_name}, {"name", u.name}, {"code", u.code},
          {"message", u.message}};
}

UnlistedResource UnlistedFromJson(const json& j, const std::string& where, Status* error) {
  FieldReader r(j, where, error);
  UnlistedResource u;
  u.group = r.Str("group", false);
  u.version = r.Str("version", false);
  u.resource = r.Str("resource");
  u.namespace_name = r.Str("namespace", false);
  u.name = r.Str("name", false);
  u.code = r.Str("code", false);
  u.message = r.Str("message", false);
  return u;
}

VolumeMapEntry VolumeFromJson(const json& j, const std::string& where, Status* error) {
  FieldReader r(j, where, error);
  VolumeMapEntry v;
  v.pvc_namespace = r.Str("pvcNamespace");
  v.pvc_name = r.Str("pvcName");
  v.pv_name = r.Str("pvName", false);
  v.storage_class = r.Str("storageClass", false);
  v.capacity = r.Str("capacity", false);
  v.access_modes = r.Strings("accessModes");
  v.volume_mode = r.Str("volumeMode", false);
  v.reclaim_policy = r.Str("reclaimPolicy", false);
  v.csi_driver = r.Str("csiDriver", false);
  v.volume_handle = r.Str("volumeHandle", false);
  v.fs_type = r.Str("fsType", false);
  v.volume_attributes = r.StringMap("volumeAttributes");
  v.storage = r.StringMap("storage");
  v.inventory = r.Bool("inventory");
  return v;
}

std::string GenerationName(int64_t generation) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%08lld", static_cast<long long>(generation));
  return buf;
}

// "00000007" -> 7; nullopt for anything else (temp files, strays).
std::optional<int64_t> ParseGenerationName(std::string_view name) {
  if (name.empty() || name.size() > 18) return std::nullopt;
  int64_t n = 0;
  for (char c : name) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + (c - '0');
  }
  if (n <= 0) return std::nullopt;
  return n;
}

std::string DefaultHolder() {
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0) std::snprintf(host, sizeof host, "unknown-host");
  return std::string(host) + " pid " + std::to_string(::getpid());
}

json LockToJson(const LockInfo& l) {
  return {{"holder", l.holder},
          {"plan", {{"namespace", l.plan.namespace_name}, {"name", l.plan.name}}},
          {"started", FormatRfc3339(l.started)},
          {"renewed", FormatRfc3339(l.renewed)}};
}

std::optional<LockInfo> ParseLock(std::string_view text) {
  Result<json> j = ParseJson(text, "lock", 8);
  if (!j.ok()) return std::nullopt;
  Status error;
  FieldReader r(*j, "", &error);
  LockInfo l;
  l.holder = r.Str("holder");
  if (const json* plan = r.Object("plan")) {
    FieldReader p(*plan, "plan", &error);
    l.plan.namespace_name = p.Str("namespace", false);
    l.plan.name = p.Str("name", false);
  }
  l.started = r.Time("started");
  l.renewed = r.Time("renewed");
  if (!error.ok()) return std::nullopt;
  return l;
}

std::string DescribeLock(const LockInfo& l) {
  std::string plan = l.plan.name.empty() ? std::string("?")
                                         : l.plan.namespace_name + "/" + l.plan.name;
  return l.holder + " (plan " + plan + ", started " + FormatRfc3339(l.started) + ", renewed " +
         FormatRfc3339(l.renewed) + ")";
}

std::string FormatDuration(std::chrono::seconds d) {
  if (d.count() % 3600 == 0) return std::to_string(d.count() / 3600) + "h";
  if (d.count() % 60 == 0) return std::to_string(d.count() / 60) + "m";
  return std::to_string(d.count()) + "s";
}

// Removes path and everything under it. NotFound is not an error (a file system without real
// directories reports the emptied one as absent).
Status RemoveTree(FileSystem& fs, const std::string& path) {
  Result<FileInfo> info = fs.Stat(path);
  if (!info.ok()) return info.status().IsNotFound() ? Status::Ok() : info.status();
  if (info->is_dir) {
    Result<std::vector<std::string>> names = fs.ListDir(path);
    if (!names.ok() && !names.status().IsNotFound()) return names.status();
    if (names.ok()) {
      for (const std::string& n : *names) KDR_RETURN_IF_ERROR(RemoveTree(fs, JoinPath(path, n)));
    }
  }
  Status s = fs.Remove(path);
  return s.IsNotFound() ? Status::Ok() : s;
}

struct Pointer {
  int format_version = 0;
  int64_t generation = 0;
  std::string index;
  std::string index_sha256;
};

std::string PointerText(int64_t generation, std::string_view index_sha256) {
  json p = {{"formatVersion", kFormatVersion},
            {"generation", generation},
            {"index", std::string(kGenerationsDir) + "/" + GenerationName(generation) + "/" +
                          std::string(kIndexFile)},
            {"indexSha256", std::string(index_sha256)}};
  return p.dump(2) + "\n";
}

Result<Pointer> ParsePointer(std::string_view text, const std::string& path) {
  Result<json> j = ParseJson(text, path, 8);
  if (!j.ok()) return j.status();
  Status error;
  FieldReader r(*j, path, &error);
  Pointer p;
  p.format_version = static_cast<int>(r.Int("formatVersion"));
  p.generation = r.Int("generation");
  p.index = r.Str("index", false);
  p.index_sha256 = r.Str("indexSha256");
  if (!error.ok()) return error;
  if (p.generation <= 0) return Status::InvalidArgument(path + ": generation must be positive");
  return p;
}

// The generation folders present, newest first.
std::vector<int64_t> ListGenerationNumbers(const FileSystem& fs, const std::string& layout) {
  std::vector<int64_t> out;
  Result<std::vector<std::string>> names = fs.ListDir(JoinPath(layout, kGenerationsDir));
  if (!names.ok()) return out;
  for (const std::string& n : *names) {
    if (std::optional<int64_t> g = ParseGenerationName(n)) out.push_back(*g);
  }
  std::sort(out.rbegin(), out.rend());
  return out;
}

std::string KeptList(const std::vector<int64_t>& generations) {
  if (generations.empty()) return "none";
  std::vector<std::string> s;
  for (int64_t g : generations) s.push_back(std::to_string(g));
  return Join(s, ", ");
}

// Refuses a layout this version cannot read, or reports that there is no inventory at all.
Status CheckLayout(const FileSystem& fs, const std::string& root) {
  const std::string layout = LayoutDir(root);
  if (fs.Exists(layout)) return Status::Ok();
  const std::string parent = DirName(layout);
  if (Result<std::vector<std::string>> names = fs.ListDir(parent); names.ok()) {
    for (const std::string& n : *names) {
      if (n.size() > 1 && n[0] == 'v' && n != "v1") {
        return Status::FailedPrecondition(
            "the inventory in " + root + " is format " + n + " (" + JoinPath(parent, n) +
            "), which kubectl-dr " + std::string(Version()) + " cannot read (it reads v1): "
            "upgrade kubectl-dr to the version that captured it");
      }
    }
  }
  if (!fs.Exists(root)) {
    return Status::NotFound("inventory directory " + root +
                            " does not exist: is the inventory volume mounted there?");
  }
  return Status::NotFound("no inventory in " + root + ": " + layout +
                          " is missing; capture one: kubectl dr inventory capture --plan PLAN "
                          "--agent local --inventory-path " + root);
}

Status NewerFormat(const std::string& file, int version) {
  return Status::FailedPrecondition(
      file + " is inventory format version " + std::to_string(version) + ", which kubectl-dr " +
      std::string(Version()) + " cannot read (it reads version " +
      std::to_string(kFormatVersion) + "): upgrade kubectl-dr to the version that captured it");
}

// "; use the previous generation: --generation 6", or what to do when none is kept.
std::string PreviousAdvice(const FileSystem& fs, const std::string& root, int64_t generation) {
  const std::string layout = LayoutDir(root);
  for (int64_t g : ListGenerationNumbers(fs, layout)) {
    if (g >= generation) continue;
    if (fs.Exists(JoinPath(GenerationDir(root, g), kIndexFile))) {
      return "; use the previous generation: --generation " + std::to_string(g);
    }
  }
  return "; no earlier generation is kept: capture again (kubectl dr inventory capture)";
}

Status Torn(const FileSystem& fs, const std::string& root, int64_t generation,
            const std::string& what) {
  return Status::FailedPrecondition("generation " + std::to_string(generation) +
                                    " of the inventory in " + root + " is torn: " + what +
                                    PreviousAdvice(fs, root, generation));
}

// A file named by an index must stay inside its generation folder.
bool IsSafeRelativePath(std::string_view p) {
  if (p.empty() || p.front() == '/') return false;
  for (const std::string& part : Split(p, '/')) {
    if (part.empty() || part == "." || part == "..") return false;
  }
  return true;
}

}  // namespace

// ---- JSON -----------------------------------------------------------------------------------

json ToJson(const VolumeMapEntry& v) {
  return {{"pvcNamespace", v.pvc_namespace},
          {"pvcName", v.pvc_name},
          {"pvName", v.pv_name},
          {"storageClass", v.storage_class},
          {"capacity", v.capacity},
          {"accessModes", v.access_modes},
          {"volumeMode", v.volume_mode},
          {"reclaimPolicy", v.reclaim_policy},
          {"csiDriver", v.csi_driver},
          {"volumeHandle", v.volume_handle},
          {"fsType", v.fs_type},
          {"volumeAttributes", v.volume_attributes},
          {"storage", v.storage},
          {"inventory", v.inventory}};
}

Result<VolumeMapEntry> VolumeMapEntryFromJson(const json& j, std::string_view what) {
  Status error;
  VolumeMapEntry v = VolumeFromJson(j, std::string(what), &error);
  if (!error.ok()) return error;
  return v;
}

namespace {

// Everything of index.json but "objects".
json HeaderToJson(const Index& index) {
  json volumes = json::array();
  for (const VolumeMapEntry& v : index.volumes) volumes.push_back(ToJson(v));
  json unlisted = json::array();
  for (const UnlistedResource& u : index.unlisted) unlisted.push_back(UnlistedToJson(u));
  return {{"formatVersion", index.format_version},
          {"generation", index.generation},
          {"plan", {{"namespace", index.plan.namespace_name}, {"name", index.plan.name}}},
          {"namespaces", index.namespaces},
          {"source", {{"server", index.source.server}, {"kubeSystemUID", index.source.kube_system_uid}}},
          {"captureStart", FormatRfc3339(index.capture_start)},
          {"captureEnd", FormatRfc3339(index.capture_end)},
          {"kubectlDrVersion", index.kubectl_dr_version},
          {"volumes", std::move(volumes)},
          {"leftOut", index.left_out},
          {"unlisted", std::move(unlisted)},
          {"warnings", index.warnings}};
}

void AppendJsonString(std::string* out, std::string_view s) {
  out->push_back('"');
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out->push_back('\\');
      out->push_back(c);
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
      out->append(buf);
    } else {
      out->push_back(c);
    }
  }
  out->push_back('"');
}

// Appends value as compact JSON: what json::dump() writes, without its per-character output
// adapter and UTF-8 re-validation (the value came from ParseJson, which checked it). dump() was
// the largest cost of writing an object (BENCHMARKS.md, inventory capture).
void AppendCompactJson(std::string* out, const json& value) {
  switch (value.type()) {
    case json::value_t::object: {
      out->push_back('{');
      bool first = true;
      for (const auto& [k, v] : value.items()) {
        if (!first) out->push_back(',');
        first = false;
        AppendJsonString(out, k);
        out->push_back(':');
        AppendCompactJson(out, v);
      }
      out->push_back('}');
      return;
    }
    case json::value_t::array: {
      out->push_back('[');
      bool first = true;
      for (const json& v : value) {
        if (!first) out->push_back(',');
        first = false;
        AppendCompactJson(out, v);
      }
      out->push_back(']');
      return;
    }
    case json::value_t::string:
      AppendJsonString(out, value.get_ref<const std::string&>());
      return;
    case json::value_t::number_integer:
      out->append(std::to_string(value.get<int64_t>()));
      return;
    case json::value_t::number_unsigned:
      out->append(std::to_string(value.get<uint64_t>()));
      return;
    case json::value_t::boolean:
      out->append(value.get<bool>() ? "true" : "false");
      return;
    default:  // null, floating-point numbers (nlohmann's shortest round-trip form), discarded
      out->append(value.dump());
      return;
  }
}

// index.json as written: ToJson's document, with one compact line per object. Building a json
// value of 10,000 entries and dumping it indented took a tenth of a 10,000-object capture.
std::string IndexText(const Index& index) {
  std::string text = HeaderToJson(index).dump(2);
  text.resize(text.size() - 2);  // "\n}"
  text += ",\n  \"objects\": [";
  bool first = true;
  for (const ObjectEntry& e : index.objects) {
    text += first ? "\n    " : ",\n    ";
    first = false;
    const std::pair<const char*, const std::string*> fields[] = {
        {"{\"file\":", &e.file},          {",\"group\":", &e.group},
        {",\"kind\":", &e.kind},          {",\"name\":", &e.name},
        {",\"namespace\":", &e.namespace_name}, {",\"resource\":", &e.resource},
        {",\"sha256\":", &e.sha256}};
    for (const auto& [key, value] : fields) {
      text += key;
      AppendJsonString(&text, *value);
    }
    text += ",\"size\":" + std::to_string(e.size) + ",\"version\":";
    AppendJsonString(&text, e.version);
    text += "}";
  }
  text += first ? "]\n}\n" : "\n  ]\n}\n";
  return text;
}

}  // namespace

json ToJson(const Index& index) {
  json doc = HeaderToJson(index);
  json objects = json::array();
  for (const ObjectEntry& e : index.objects) objects.push_back(EntryToJson(e));
  doc["objects"] = std::move(objects);
  return doc;
}

Result<Index> IndexFromJson(const json& j, std::string_view what) {
  const std::string where(what);
  Status error;
  Index index;
  {
    FieldReader r(j, "", &error);
    index.format_version = static_cast<int>(r.Int("formatVersion"));
    if (!error.ok()) return Status::InvalidArgument(where + ": " + error.message());
  }
  if (index.format_version != kFormatVersion) return NewerFormat(where, index.format_version);
  // Field paths below are relative to the document ("objects[3].sha256"), prefixed with `what`.
  FieldReader r(j, "", &error);
  index.generation = r.Int("generation");
  if (const json* plan = r.Object("plan")) {
    FieldReader p(*plan, "plan", &error);
    index.plan.namespace_name = p.Str("namespace", false);
    index.plan.name = p.Str("name");
  }
  index.namespaces = r.Strings("namespaces");
  if (const json* source = r.Object("source")) {
    FieldReader s(*source, "source", &error);
    index.source.server = s.Str("server", false);
    index.source.kube_system_uid = s.Str("kubeSystemUID", false);
  }
  index.capture_start = r.Time("captureStart");
  index.capture_end = r.Time("captureEnd");
  index.kubectl_dr_version = r.Str("kubectlDrVersion", false);
  r.Each("objects", [&](const json& e, const std::string& at) {
    index.objects.push_back(EntryFromJson(e, at, &error));
  });
  r.Each("volumes", [&](const json& e, const std::string& at) {
    index.volumes.push_back(VolumeFromJson(e, at, &error));
  });
  if (const json* left = j.is_object() && j.contains("leftOut") ? &j["leftOut"] : nullptr;
      left != nullptr && !left->is_null() && error.ok()) {
    if (!left->is_object()) {
      error = Status::InvalidArgument("leftOut: expected an object of counts");
    } else {
      for (const auto& [k, v] : left->items()) {
        if (!v.is_number_integer()) {
          error = Status::InvalidArgument("leftOut." + k + ": expected an integer");
          break;
        }
        index.left_out[k] = v.get<int64_t>();
      }
    }
  }
  r.Each("unlisted", [&](const json& e, const std::string& at) {
    index.unlisted.push_back(UnlistedFromJson(e, at, &error));
  });
  index.warnings = r.Strings("warnings");
  if (!error.ok()) return Status::InvalidArgument(where + ": " + error.message());
  return index;
}

std::string Sha256Hex(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  // EVP_Digest only fails on allocation failure; an empty digest then fails every comparison.
  if (EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr) != 1) return "";
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(len * 2, '0');
  for (unsigned int i = 0; i < len; ++i) {
    out[2 * i] = kHex[md[i] >> 4];
    out[2 * i + 1] = kHex[md[i] & 0xf];
  }
  return out;
}

// ---- paths ----------------------------------------------------------------------------------

std::string LayoutDir(std::string_view root) { return JoinPath(root, kLayoutPath); }

std::string GenerationDir(std::string_view root, int64_t generation) {
  return JoinPath(JoinPath(LayoutDir(root), kGenerationsDir), GenerationName(generation));
}

std::string ObjectFile(std::string_view group, std::string_view resource,
                       std::string_view namespace_name, std::string_view name) {
  std::string file = "objects/";
  file += group.empty() ? "core" : std::string(group);
  file += "/";
  file += resource;
  file += "/";
  file += namespace_name.empty() ? "_cluster" : std::string(namespace_name);
  file += "/";
  if (name.size() <= kMaxNameInFile) {
    file += name;
  } else {
    file += std::string(name.substr(0, kMaxNameInFile)) + "-" + Sha256Hex(name).substr(0, 16);
  }
  file += ".json";
  return file;
}

// ---- Writer ---------------------------------------------------------------------------------

Writer::Writer(const Env& env, std::string root, WriterOptions options)
    : env_(env), root_(std::move(root)), options_(std::move(options)), layout_(LayoutDir(root_)) {}

Result<std::unique_ptr<Writer>> Writer::Begin(const Env& env, std::string root,
                                              WriterOptions options) {
  if (options.keep < 1) {
    return Status::InvalidArgument("--keep must be at least 1 (the generation being written), not " +
                                   std::to_string(options.keep));
  }
  if (options.holder.empty()) options.holder = DefaultHolder();
  std::unique_ptr<Writer> w(new Writer(env, std::move(root), std::move(options)));
  FileSystem& fs = *env.fs;
  const std::string lock_path = JoinPath(w->layout_, kLockFile);
  KDR_RETURN_IF_ERROR(fs.MakeDirs(JoinPath(w->layout_, kGenerationsDir)));

  const Clock::WallTime now = env.clock->Now();
  w->lock_ = LockInfo{w->options_.holder, w->options_.plan, now, now};
  w->lock_text_ = LockToJson(w->lock_).dump(2) + "\n";
  for (int attempt = 0;; ++attempt) {
    Status created = fs.CreateExclusive(lock_path, w->lock_text_);
    if (created.ok()) break;
    if (!created.IsAlreadyExists() || attempt == 2) {
      if (created.IsAlreadyExists()) {
        return Status::Aborted("another capture took the lock " + lock_path + " first; try again");
      }
      return created.WithContext("locking the inventory");
    }
    Result<std::string> text = fs.ReadFile(lock_path);
    if (!text.ok()) {
      if (text.status().IsNotFound()) continue;  // released meanwhile
      return text.status().WithContext("reading the inventory lock");
    }
    std::optional<LockInfo> held = ParseLock(*text);
    Clock::WallTime renewed{};
    if (held) {
      renewed = held->renewed;
    } else if (Result<FileInfo> info = fs.Stat(lock_path); info.ok()) {
      renewed = info->mtime;  // a lock whose writer died before writing it whole
    }
    if (now - renewed < w->options_.stale_lock_after) {
      return Status::Aborted(
          "the inventory in " + w->root_ + " is being captured by " +
          (held ? DescribeLock(*held) : std::string("an unknown holder (unreadable lock)")) +
          ": wait for that capture to finish; if it is dead, its lock " + lock_path +
          " is broken once not renewed for " + FormatDuration(w->options_.stale_lock_after));
    }
    if (env.logger != nullptr) {
      env.logger->Warning("breaking a stale inventory lock",
                          {{"lock", lock_path},
                           {"holder", held ? DescribeLock(*held) : std::string("unreadable")}});
    }
    Status removed = fs.Remove(lock_path);
    if (!removed.ok() && !removed.IsNotFound()) return removed.WithContext("breaking a stale lock");
  }
  w->last_renewal_ = env.clock->Monotonic();

  // Past any number in use: a dead capture's leftover folder is never written into again.
  int64_t highest = 0;
  std::vector<int64_t> present = ListGenerationNumbers(fs, w->layout_);
  if (!present.empty()) highest = present.front();
  const std::string pointer_path = JoinPath(w->layout_, kPointerFile);
  if (Result<std::string> p = fs.ReadFile(pointer_path); p.ok()) {
    if (Result<Pointer> ptr = ParsePointer(*p, pointer_path); ptr.ok()) {
      highest = std::max(highest, ptr->generation);
    }
  }
  w->generation_ = highest + 1;
  w->dir_ = GenerationDir(w->root_, w->generation_);
  if (Status s = fs.MakeDirs(w->dir_); !s.ok()) {
    w->Cleanup();
    w->committed_ = true;  // nothing left for the destructor
    return s.WithContext("creating generation " + std::to_string(w->generation_));
  }
  return w;
}

Writer::~Writer() {
  std::lock_guard l(mu_);
  if (!committed_) Cleanup();
}

Status Writer::CheckLockIsOurs() const {
  const std::string lock_path = JoinPath(layout_, kLockFile);
  Result<std::string> text = env_.fs->ReadFile(lock_path);
  if (text.ok() && *text == lock_text_) return Status::Ok();
  std::string now_held = "it is gone";
  if (text.ok()) {
    std::optional<LockInfo> other = ParseLock(*text);
    now_held = "it is now held by " + (other ? DescribeLock(*other) : std::string("an unknown holder"));
  }
  return Status::Aborted("the inventory lock " + lock_path + " was broken while this capture ran (" +
                         now_held + "); generation " + std::to_string(generation_) +
                         " is not made current: capture again");
}

Status Writer::RenewLockIfDue() {
  const auto every = std::min<std::chrono::nanoseconds>(kLockRenewEvery, options_.stale_lock_after / 3);
  if (env_.clock->Monotonic() - last_renewal_ < every) return Status::Ok();
  KDR_RETURN_IF_ERROR(CheckLockIsOurs());
  lock_.renewed = env_.clock->Now();
  std::string text = LockToJson(lock_).dump(2) + "\n";
  KDR_RETURN_IF_ERROR(env_.fs->WriteFile(JoinPath(layout_, kLockFile), text).WithContext(
      "renewing the inventory lock"));
  lock_text_ = std::move(text);
  last_renewal_ = env_.clock->Monotonic();
  return Status::Ok();
}

Result<ObjectEntry> Writer::Add(ObjectEntry entry, const json& object) {
  std::string text;
  text.reserve(1024);
  AppendCompactJson(&text, object);
  text += '\n';
  return AddSerialized(std::move(entry), text);
}

Result<ObjectEntry> Writer::AddSerialized(ObjectEntry entry, std::string_view data) {
  entry.file = ObjectFile(entry.group, entry.resource, entry.namespace_name, entry.name);
  const std::string path = JoinPath(dir_, entry.file);
  const std::string parent = DirName(path);
  {
    std::lock_guard l(mu_);
    if (committed_) {
      return Status::FailedPrecondition("generation " + std::to_string(generation_) +
                                        " is committed; start another capture");
    }
    KDR_RETURN_IF_ERROR(RenewLockIfDue());
    if (!files_.insert(entry.file).second) {
      return Status::AlreadyExists(entry.file + " was captured twice into generation " +
                                   std::to_string(generation_));
    }
    // Made under the lock, once per folder: a writer of the same folder on another thread must
    // not write into it before it exists.
    if (made_dirs_.count(parent) == 0) {
      if (Status s = env_.fs->MakeDirs(parent); !s.ok()) {
        files_.erase(entry.file);
        return s;
      }
      made_dirs_.insert(parent);
    }
  }
  if (Status written = env_.fs->WriteFileBuffered(path, data); !written.ok()) {
    std::lock_guard l(mu_);
    files_.erase(entry.file);
    return written;
  }
  entry.size = data.size();
  entry.sha256 = Sha256Hex(data);
  std::lock_guard l(mu_);
  entries_.push_back(entry);
  return entry;
}

Result<Index> Writer::Commit(Index index) {
  std::lock_guard l(mu_);
  if (committed_) {
    return Status::FailedPrecondition("generation " + std::to_string(generation_) +
                                      " is committed already");
  }
  if (entries_.empty()) {
    return Status::FailedPrecondition("nothing was captured into generation " +
                                      std::to_string(generation_) +
                                      ", so it is not made current (an empty inventory restores nothing)");
  }
  KDR_RETURN_IF_ERROR(CheckLockIsOurs());
  FileSystem& fs = *env_.fs;
  std::sort(entries_.begin(), entries_.end(),
            [](const ObjectEntry& a, const ObjectEntry& b) { return a.file < b.file; });
  index.format_version = kFormatVersion;
  index.generation = generation_;
  index.kubectl_dr_version = std::string(Version());
  index.objects = std::move(entries_);
  entries_.clear();

  // Objects, then the index, then the pointer: each durable before the next names it.
  KDR_RETURN_IF_ERROR(fs.SyncFileSystem(dir_).WithContext("making generation " +
                                                          std::to_string(generation_) + " durable"));
  const std::string index_text = IndexText(index);
  KDR_RETURN_IF_ERROR(fs.WriteFile(JoinPath(dir_, kIndexFile), index_text));
  KDR_RETURN_IF_ERROR(fs.WriteFile(JoinPath(layout_, kPointerFile),
                                   PointerText(generation_, Sha256Hex(index_text))));
  committed_ = true;

  Prune(generation_);
  if (Status s = fs.Remove(JoinPath(layout_, kLockFile)); !s.ok() && env_.logger != nullptr) {
    env_.logger->Warning("cannot release the inventory lock", {{"error", s.message()}});
  }
  return index;
}

void Writer::Prune(int64_t current) {
  FileSystem& fs = *env_.fs;
  int kept = 0;
  for (int64_t g : ListGenerationNumbers(fs, layout_)) {
    const std::string dir = GenerationDir(root_, g);
    if (g <= current && kept < options_.keep && fs.Exists(JoinPath(dir, kIndexFile))) {
      ++kept;
      continue;
    }
    // Older than the kept ones, or a dead capture's leftover (we hold the lock, so none is live).
    if (Status s = RemoveTree(fs, dir); !s.ok() && env_.logger != nullptr) {
      env_.logger->Warning("cannot remove an old inventory generation",
                           {{"dir", dir}, {"error", s.message()}});
    }
  }
  // Temp files of a WriteFile killed before its rename.
  if (Result<std::vector<std::string>> names = fs.ListDir(layout_); names.ok()) {
    for (const std::string& n : *names) {
      if (n.find(".tmp.") != std::string::npos) (void)fs.Remove(JoinPath(layout_, n));
    }
  }
}

void Writer::Cleanup() {
  FileSystem& fs = *env_.fs;
  if (!dir_.empty()) (void)RemoveTree(fs, dir_);
  if (CheckLockIsOurs().ok()) (void)fs.Remove(JoinPath(layout_, kLockFile));
}

// ---- Reader ---------------------------------------------------------------------------------

Result<std::vector<GenerationInfo>> Inventory::ListGenerations(const FileSystem& fs,
                                                               std::string root) {
  KDR_RETURN_IF_ERROR(CheckLayout(fs, root));
  const std::string layout = LayoutDir(root);
  const std::string pointer_path = JoinPath(layout, kPointerFile);
  int64_t current = 0;
  if (Result<std::string> p = fs.ReadFile(pointer_path); p.ok()) {
    if (Result<Pointer> ptr = ParsePointer(*p, pointer_path); ptr.ok()) {
      if (ptr->format_version != kFormatVersion) return NewerFormat(pointer_path, ptr->format_version);
      current = ptr->generation;
    }
  }
  std::vector<GenerationInfo> out;
  for (int64_t g : ListGenerationNumbers(fs, layout)) {
    GenerationInfo info;
    info.generation = g;
    info.current = g == current;
    const std::string index_path = JoinPath(GenerationDir(root, g), kIndexFile);
    Result<std::string> text = fs.ReadFile(index_path);
    if (!text.ok()) {
      info.state = text.status().IsNotFound()
                       ? Status::FailedPrecondition(index_path + " is missing (an unfinished capture)")
                       : text.status();
    } else if (Result<json> j = ParseJson(*text, index_path); !j.ok()) {
      info.state = j.status();
    } else if (Result<Index> index = IndexFromJson(*j, index_path); !index.ok()) {
      info.state = index.status();
    } else {
      info.index = std::move(index).value();
    }
    out.push_back(std::move(info));
  }
  return out;
}

Result<Inventory> Inventory::Open(const FileSystem& fs, std::string root,
                                  std::optional<int64_t> generation) {
  KDR_RETURN_IF_ERROR(CheckLayout(fs, root));
  const std::string layout = LayoutDir(root);
  const std::string pointer_path = JoinPath(layout, kPointerFile);
  const std::vector<int64_t> present = ListGenerationNumbers(fs, layout);

  std::optional<Pointer> pointer;
  Result<std::string> pointer_text = fs.ReadFile(pointer_path);
  if (pointer_text.ok()) {
    Result<Pointer> p = ParsePointer(*pointer_text, pointer_path);
    if (p.ok()) {
      if (p->format_version != kFormatVersion) return NewerFormat(pointer_path, p->format_version);
      pointer = *p;
    } else if (!generation) {
      return Status::FailedPrecondition(
          "the pointer to the current generation is unreadable (" + p.status().message() +
          "); open a kept generation with --generation N (kept: " + KeptList(present) + ")");
    }
  } else if (!pointer_text.status().IsNotFound()) {
    return pointer_text.status().WithContext("reading the inventory pointer");
  } else if (!generation) {
    if (present.empty()) {
      return Status::FailedPrecondition("the inventory in " + root +
                                        " is empty: no capture has completed (" + pointer_path +
                                        " is missing); capture one: kubectl dr inventory capture");
    }
    return Status::FailedPrecondition("the inventory in " + root + " has no current generation (" +
                                      pointer_path + " is missing); open a kept one with "
                                      "--generation N (kept: " + KeptList(present) + ")");
  }

  const int64_t wanted = generation ? *generation : pointer->generation;
  const bool is_current = pointer && pointer->generation == wanted;
  const std::string dir = GenerationDir(root, wanted);
  if (std::find(present.begin(), present.end(), wanted) == present.end()) {
    if (!is_current) {
      return Status::NotFound("generation " + std::to_string(wanted) + " is not kept in " + root +
                              " (kept: " + KeptList(present) + ")");
    }
    return Torn(fs, root, wanted, "the pointer " + pointer_path + " names it but " + dir +
                                      " is missing");
  }

  const std::string index_path = JoinPath(dir, kIndexFile);
  Result<std::string> index_text = fs.ReadFile(index_path);
  if (!index_text.ok()) {
    if (index_text.status().IsNotFound()) {
      return Torn(fs, root, wanted, index_path + " is missing (the capture did not finish)");
    }
    return index_text.status().WithContext("reading " + index_path);
  }
  if (is_current && Sha256Hex(*index_text) != pointer->index_sha256) {
    return Torn(fs, root, wanted, index_path + " is not the index " + pointer_path +
                                      " names (its sha256 differs)");
  }
  Result<json> index_json = ParseJson(*index_text, index_path);
  if (!index_json.ok()) return Torn(fs, root, wanted, index_json.status().message());
  Result<Index> index = IndexFromJson(*index_json, index_path);
  if (!index.ok()) {
    if (index.status().code() == StatusCode::kFailedPrecondition) return index.status();
    return Torn(fs, root, wanted, index.status().message());
  }
  if (index->generation != wanted) {
    return Torn(fs, root, wanted, index_path + " says generation " +
                                      std::to_string(index->generation));
  }
  if (index->objects.empty()) {
    return Status::FailedPrecondition("generation " + std::to_string(wanted) +
                                      " of the inventory in " + root + " is empty: " + index_path +
                                      " lists no object" + PreviousAdvice(fs, root, wanted));
  }
  for (const ObjectEntry& e : index->objects) {
    if (!IsSafeRelativePath(e.file)) {
      return Torn(fs, root, wanted, index_path + " names the file " + Quote(e.file) +
                                        ", outside its generation folder");
    }
    const std::string path = JoinPath(dir, e.file);
    Result<std::string> data = fs.ReadFile(path);
    if (!data.ok()) {
      if (data.status().IsNotFound()) return Torn(fs, root, wanted, path + " is missing");
      return data.status().WithContext("verifying generation " + std::to_string(wanted));
    }
    if (data->size() != e.size || Sha256Hex(*data) != e.sha256) {
      return Torn(fs, root, wanted, path + " differs from " + index_path + " (size " +
                                        std::to_string(data->size()) + ", index says " +
                                        std::to_string(e.size) + "; sha256 " +
                                        Sha256Hex(*data).substr(0, 12) + "..., index says " +
                                        e.sha256.substr(0, 12) + "...)");
    }
  }
  return Inventory(&fs, dir, std::move(index).value(), is_current);
}

Result<json> Inventory::ReadObject(const ObjectEntry& entry) const {
  if (!IsSafeRelativePath(entry.file)) {
    return Status::InvalidArgument("object file " + Quote(entry.file) +
                                   " is outside the generation folder");
  }
  const std::string path = JoinPath(dir_, entry.file);
  KDR_ASSIGN_OR_RETURN(std::string data, fs_->ReadFile(path));
  if (data.size() != entry.size || Sha256Hex(data) != entry.sha256) {
    return Status::FailedPrecondition(path + " changed since generation " +
                                      std::to_string(index_.generation) +
                                      " was opened (its sha256 differs from the index)");
  }
  return ParseJson(data, path);
}

}  // namespace kdr::inventory
