#include "protobuf.h"

#include <map>
#include <nlohmann/json.hpp>

#include "base/clock.h"
#include "base/strings.h"

namespace kdr::kubesim {
namespace {

using json = nlohmann::json;

// The generated.proto field numbers of the few messages decoded here.
enum class F { kString, kInt, kBool, kBytes, kTime, kMsg, kStrMap, kBytesMap, kStrList, kMsgList };
struct Field {
  const char* name;
  F kind;
  const char* msg = nullptr;  // message type for kMsg / kMsgList
};
using Schema = std::map<int, Field>;

const std::map<std::string, Schema>& Schemas() {
  static const auto* kSchemas = new std::map<std::string, Schema>{  // NOLINT: immutable table
      {"ObjectMeta",
       {{1, {"name", F::kString}}, {2, {"generateName", F::kString}}, {3, {"namespace", F::kString}},
        {5, {"uid", F::kString}}, {6, {"resourceVersion", F::kString}}, {7, {"generation", F::kInt}},
        {8, {"creationTimestamp", F::kTime}}, {11, {"labels", F::kStrMap}}, {12, {"annotations", F::kStrMap}},
        {13, {"ownerReferences", F::kMsgList, "OwnerReference"}}, {14, {"finalizers", F::kStrList}}}},
      {"OwnerReference",
       {{1, {"kind", F::kString}}, {3, {"name", F::kString}}, {4, {"uid", F::kString}},
        {5, {"apiVersion", F::kString}}, {6, {"controller", F::kBool}}, {7, {"blockOwnerDeletion", F::kBool}}}},
      {"ObjectReference",
       {{1, {"kind", F::kString}}, {2, {"namespace", F::kString}}, {3, {"name", F::kString}},
        {4, {"uid", F::kString}}, {5, {"apiVersion", F::kString}}}},
      {"LocalObjectReference", {{1, {"name", F::kString}}}},
      {"ConfigMap",
       {{1, {"metadata", F::kMsg, "ObjectMeta"}}, {2, {"data", F::kStrMap}}, {3, {"binaryData", F::kBytesMap}},
        {4, {"immutable", F::kBool}}}},
      {"Secret",
       {{1, {"metadata", F::kMsg, "ObjectMeta"}}, {2, {"data", F::kBytesMap}}, {3, {"type", F::kString}},
        {4, {"stringData", F::kStrMap}}, {5, {"immutable", F::kBool}}}},
      {"Namespace",
       {{1, {"metadata", F::kMsg, "ObjectMeta"}}, {2, {"spec", F::kMsg, "NamespaceSpec"}},
        {3, {"status", F::kMsg, "NamespaceStatus"}}}},
      {"NamespaceSpec", {{1, {"finalizers", F::kStrList}}}},
      {"NamespaceStatus", {{1, {"phase", F::kString}}}},
      {"ServiceAccount",
       {{1, {"metadata", F::kMsg, "ObjectMeta"}}, {2, {"secrets", F::kMsgList, "ObjectReference"}},
        {3, {"automountServiceAccountToken", F::kBool}},
        {4, {"imagePullSecrets", F::kMsgList, "LocalObjectReference"}}}},
      {"TokenRequest",
       {{1, {"metadata", F::kMsg, "ObjectMeta"}}, {2, {"spec", F::kMsg, "TokenRequestSpec"}}}},
      {"TokenRequestSpec",
       {{1, {"audiences", F::kStrList}}, {3, {"boundObjectRef", F::kMsg, "BoundObjectReference"}},
        {4, {"expirationSeconds", F::kInt}}}},
      {"BoundObjectReference",
       {{1, {"kind", F::kString}}, {2, {"apiVersion", F::kString}}, {3, {"name", F::kString}},
        {4, {"uid", F::kString}}}},
      {"Unknown", {{1, {"typeMeta", F::kMsg, "TypeMeta"}}, {2, {"raw", F::kBytes}}}},
      {"TypeMeta", {{1, {"apiVersion", F::kString}}, {2, {"kind", F::kString}}}},
      {"Time", {{1, {"seconds", F::kInt}}, {2, {"nanos", F::kInt}}}},
      {"MapEntry", {{1, {"key", F::kBytes}}, {2, {"value", F::kBytes}}}},
  };
  return *kSchemas;
}

class Reader {
 public:
  explicit Reader(std::string_view data) : data_(data) {}
  bool done() const { return pos_ >= data_.size(); }
  bool Varint(uint64_t* v) {
    *v = 0;
    for (int shift = 0; shift < 64 && pos_ < data_.size(); shift += 7) {
      uint8_t b = static_cast<uint8_t>(data_[pos_++]);
      *v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if (!(b & 0x80)) return true;
    }
    return false;
  }
  bool Bytes(std::string_view* out) {
    uint64_t n;
    if (!Varint(&n) || n > data_.size() - pos_) return false;
    *out = data_.substr(pos_, n);
    pos_ += n;
    return true;
  }
  bool Skip(int wire) {
    uint64_t v;
    std::string_view s;
    switch (wire) {
      case 0: return Varint(&v);
      case 1: pos_ += 8; return pos_ <= data_.size();
      case 2: return Bytes(&s);
      case 5: pos_ += 4; return pos_ <= data_.size();
      default: return false;
    }
  }

 private:
  std::string_view data_;
  size_t pos_ = 0;
};

// Raw fields of one message: field number -> values (varints as numbers, others as bytes).
struct RawValue {
  uint64_t varint = 0;
  std::string_view bytes;
};

Result<json> Decode(std::string_view data, const std::string& type);

Status Malformed(const std::string& type) {
  return Status::InvalidArgument("malformed protobuf body: cannot decode " + type);
}

Result<json> Decode(std::string_view data, const std::string& type) {
  const Schema& schema = Schemas().at(type);
  json out = json::object();
  Reader r(data);
  while (!r.done()) {
    uint64_t key;
    if (!r.Varint(&key)) return Malformed(type);
    int num = static_cast<int>(key >> 3), wire = static_cast<int>(key & 7);
    auto it = schema.find(num);
    if (it == schema.end()) {
      if (!r.Skip(wire)) return Malformed(type);
      continue;
    }
    const Field& f = it->second;
    RawValue v;
    if (wire == 0) {
      if (!r.Varint(&v.varint)) return Malformed(type);
    } else if (wire == 2) {
      if (!r.Bytes(&v.bytes)) return Malformed(type);
    } else {
      if (!r.Skip(wire)) return Malformed(type);
      continue;
    }
    switch (f.kind) {
      case F::kString: out[f.name] = std::string(v.bytes); break;
      case F::kBytes: out[f.name] = std::string(v.bytes); break;
      case F::kInt: out[f.name] = static_cast<int64_t>(v.varint); break;
      case F::kBool: out[f.name] = v.varint != 0; break;
      case F::kTime: {
        KDR_ASSIGN_OR_RETURN(json t, Decode(v.bytes, "Time"));
        int64_t secs = t.value("seconds", int64_t{0});
        if (secs != 0) out[f.name] = FormatRfc3339(Clock::WallTime(std::chrono::seconds(secs)));
        break;
      }
      case F::kMsg: {
        KDR_ASSIGN_OR_RETURN(json m, Decode(v.bytes, f.msg));
        out[f.name] = std::move(m);
        break;
      }
      case F::kMsgList: {
        KDR_ASSIGN_OR_RETURN(json m, Decode(v.bytes, f.msg));
        out[f.name].push_back(std::move(m));
        break;
      }
      case F::kStrList: out[f.name].push_back(std::string(v.bytes)); break;
      case F::kStrMap:
      case F::kBytesMap: {
        KDR_ASSIGN_OR_RETURN(json e, Decode(v.bytes, "MapEntry"));
        std::string value = e.value("value", "");
        out[f.name][e.value("key", "")] = f.kind == F::kBytesMap ? Base64Encode(value) : value;
        break;
      }
    }
  }
  return out;
}

}  // namespace

Result<json> DecodeKubeProtobuf(std::string_view body) {
  static constexpr std::string_view kMagic("k8s\0", 4);
  if (body.substr(0, 4) != kMagic) return Status::InvalidArgument("protobuf body without the k8s envelope");
  KDR_ASSIGN_OR_RETURN(json unknown, Decode(body.substr(4), "Unknown"));
  const std::string kind = unknown.contains("typeMeta") ? unknown["typeMeta"].value("kind", "") : "";
  const std::string api_version = unknown.contains("typeMeta") ? unknown["typeMeta"].value("apiVersion", "") : "";
  if (kind.empty() || Schemas().count(kind) == 0 || kind == "Unknown" || kind == "TypeMeta" ||
      kind == "ObjectMeta" || kind == "Time" || kind == "MapEntry") {
    return Status::Unimplemented("kubesim cannot decode protobuf bodies of kind \"" + kind +
                                 "\"; send JSON (kubectl create -f / apply -f)");
  }
  KDR_ASSIGN_OR_RETURN(json obj, Decode(unknown.value("raw", ""), kind));
  json out = {{"apiVersion", api_version}, {"kind", kind}};
  for (auto& [k, v] : obj.items()) out[k] = v;
  return out;
}

}  // namespace kdr::kubesim
