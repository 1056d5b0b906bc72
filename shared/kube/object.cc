#include "kube/object.h"

#include <nlohmann/json.hpp>

namespace kdr::kube {
namespace {

using nlohmann::json;

std::string StringAt(const json& object, std::string_view section, std::string_view field) {
  return StringField(object, {section, field});
}

std::map<std::string, std::string> StringMap(const json& object, std::string_view field) {
  std::map<std::string, std::string> out;
  if (!object.is_object()) return out;
  auto m = object.find("metadata");
  if (m == object.end() || !m->is_object()) return out;
  auto f = m->find(field);
  if (f == m->end() || !f->is_object()) return out;
  for (auto it = f->begin(); it != f->end(); ++it) {
    if (it.value().is_string()) out[it.key()] = it.value().get<std::string>();
  }
  return out;
}

void SetIn(json& object, std::string_view field, std::string_view key, std::string_view value) {
  json& m = object["metadata"];
  if (!m.is_object()) m = json::object();
  json& f = m[std::string(field)];
  if (!f.is_object()) f = json::object();
  f[std::string(key)] = std::string(value);
}

void RemoveIn(json& object, std::string_view field, std::string_view key) {
  if (!object.is_object()) return;
  auto m = object.find("metadata");
  if (m == object.end() || !m->is_object()) return;
  auto f = m->find(field);
  if (f == m->end() || !f->is_object()) return;
  f->erase(std::string(key));
}

}  // namespace

std::string GroupVersion::ToString() const { return group.empty() ? version : group + "/" + version; }
std::string Gvk::ApiVersion() const { return GroupVersion{group, version}.ToString(); }
std::string Gvr::ApiVersion() const { return GroupVersion{group, version}.ToString(); }
std::string Gvr::GroupResource() const { return group.empty() ? resource : resource + "." + group; }

Result<GroupVersion> ParseApiVersion(std::string_view api_version) {
  size_t slash = api_version.find('/');
  if (api_version.empty() || api_version.front() == '/' || api_version.back() == '/' ||
      (slash != std::string_view::npos && api_version.find('/', slash + 1) != std::string_view::npos)) {
    return Status::InvalidArgument("apiVersion \"" + std::string(api_version) +
                                   "\" is not VERSION or GROUP/VERSION (e.g. v1, apps/v1)");
  }
  if (slash == std::string_view::npos) return GroupVersion{"", std::string(api_version)};
  return GroupVersion{std::string(api_version.substr(0, slash)), std::string(api_version.substr(slash + 1))};
}

Result<Gvk> GvkOf(const json& object) {
  if (!object.is_object()) return Status::InvalidArgument("object is not a JSON object");
  auto av = object.find("apiVersion");
  if (av == object.end() || !av->is_string()) return Status::InvalidArgument("object has no apiVersion");
  auto kind = object.find("kind");
  if (kind == object.end() || !kind->is_string() || kind->get<std::string>().empty()) {
    return Status::InvalidArgument("object has no kind (apiVersion " + av->get<std::string>() + ")");
  }
  KDR_ASSIGN_OR_RETURN(GroupVersion gv, ParseApiVersion(av->get<std::string>()));
  return Gvk{gv.group, gv.version, kind->get<std::string>()};
}

namespace {
bool IsLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
}  // namespace

bool IsDns1123Label(std::string_view s) {
  if (s.empty() || s.size() > 63 || !IsLowerAlnum(s.front()) || !IsLowerAlnum(s.back())) return false;
  for (char c : s) {
    if (!IsLowerAlnum(c) && c != '-') return false;
  }
  return true;
}

bool IsDns1123Subdomain(std::string_view s) {
  if (s.empty() || s.size() > 253) return false;
  for (;;) {
    size_t dot = s.find('.');
    // Each part follows a label's character rules (its length is bounded by the whole).
    std::string_view part = s.substr(0, dot);
    if (part.empty() || !IsLowerAlnum(part.front()) || !IsLowerAlnum(part.back())) return false;
    for (char c : part) {
      if (!IsLowerAlnum(c) && c != '-') return false;
    }
    if (dot == std::string_view::npos) return true;
    s.remove_prefix(dot + 1);
  }
}

const json& FieldAt(const json& object, std::initializer_list<std::string_view> path) {
  static const json kNull;  // immutable
  const json* cur = &object;
  for (std::string_view key : path) {
    if (!cur->is_object()) return kNull;
    auto it = cur->find(key);
    if (it == cur->end()) return kNull;
    cur = &*it;
  }
  return *cur;
}

std::string StringField(const json& object, std::initializer_list<std::string_view> path) {
  const json& v = FieldAt(object, path);
  return v.is_string() ? v.get<std::string>() : "";
}

std::string Name(const json& object) { return StringAt(object, "metadata", "name"); }
std::string Namespace(const json& object) { return StringAt(object, "metadata", "namespace"); }
std::string ResourceVersion(const json& object) { return StringAt(object, "metadata", "resourceVersion"); }
std::string Uid(const json& object) { return StringAt(object, "metadata", "uid"); }
std::string Kind(const json& object) {
  return object.is_object() && object.contains("kind") && object["kind"].is_string()
             ? object["kind"].get<std::string>()
             : "";
}
std::string NamespacedName(const json& object) {
  std::string ns = Namespace(object);
  return ns.empty() ? Name(object) : ns + "/" + Name(object);
}

std::map<std::string, std::string> Labels(const json& object) { return StringMap(object, "labels"); }
std::map<std::string, std::string> Annotations(const json& object) { return StringMap(object, "annotations"); }

std::optional<std::string> Label(const json& object, std::string_view key) {
  auto m = Labels(object);
  auto it = m.find(std::string(key));
  if (it == m.end()) return std::nullopt;
  return it->second;
}

std::optional<std::string> Annotation(const json& object, std::string_view key) {
  auto m = Annotations(object);
  auto it = m.find(std::string(key));
  if (it == m.end()) return std::nullopt;
  return it->second;
}

void SetLabel(json& object, std::string_view key, std::string_view value) { SetIn(object, "labels", key, value); }
void SetAnnotation(json& object, std::string_view key, std::string_view value) {
  SetIn(object, "annotations", key, value);
}
void RemoveLabel(json& object, std::string_view key) { RemoveIn(object, "labels", key); }
void RemoveAnnotation(json& object, std::string_view key) { RemoveIn(object, "annotations", key); }

}  // namespace kdr::kube
