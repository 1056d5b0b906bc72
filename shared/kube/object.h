#pragma once

// Small helpers over Kubernetes objects held as nlohmann::json, and the group/version/kind and
// group/version/resource names that identify types and REST collections.
//
// Accessors never throw: a missing or mistyped field reads as empty.

#include <initializer_list>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>

#include <nlohmann/json_fwd.hpp>

#include "base/status.h"

namespace kdr::kube {

struct GroupVersion {
  std::string group;  // "" for the core group
  std::string version;
  // "apps/v1", or "v1" for the core group.
  std::string ToString() const;
  friend bool operator==(const GroupVersion&, const GroupVersion&) = default;
};

// A type: group, version, kind ("apps", "v1", "Deployment").
struct Gvk {
  std::string group;
  std::string version;
  std::string kind;
  std::string ApiVersion() const;  // "apps/v1"
  friend bool operator==(const Gvk&, const Gvk&) = default;
};

// A REST collection: group, version, plural resource ("apps", "v1", "deployments").
struct Gvr {
  std::string group;
  std::string version;
  std::string resource;
  std::string ApiVersion() const;     // "apps/v1"
  std::string GroupResource() const;  // "deployments.apps", or "pods" for the core group
  friend bool operator==(const Gvr&, const Gvr&) = default;
  friend bool operator<(const Gvr& a, const Gvr& b) {
    return std::tie(a.group, a.version, a.resource) < std::tie(b.group, b.version, b.resource);
  }
};

// "apps/v1" -> {apps, v1}; "v1" -> {"", v1}. InvalidArgument for "" or "a/b/c".
Result<GroupVersion> ParseApiVersion(std::string_view api_version);

// The object's apiVersion and kind. InvalidArgument naming the missing field.
Result<Gvk> GvkOf(const nlohmann::json& object);

// The value at a path of object keys ({"spec", "template", "spec"}), or a null value when any
// step is missing or not an object. Never throws.
const nlohmann::json& FieldAt(const nlohmann::json& object, std::initializer_list<std::string_view> path);
// FieldAt as a string; "" when absent or not a string.
std::string StringField(const nlohmann::json& object, std::initializer_list<std::string_view> path);

// Kubernetes name rules: a DNS-1123 label (namespaces: lower-case alphanumerics and '-', at
// most 63, alphanumeric at both ends) and subdomain (labels joined by '.', at most 253).
bool IsDns1123Label(std::string_view name);
bool IsDns1123Subdomain(std::string_view name);

std::string Name(const nlohmann::json& object);
std::string Namespace(const nlohmann::json& object);
std::string ResourceVersion(const nlohmann::json& object);
std::string Uid(const nlohmann::json& object);
std::string Kind(const nlohmann::json& object);
// "shop/web" (namespaced) or "web", for messages.
std::string NamespacedName(const nlohmann::json& object);

std::map<std::string, std::string> Labels(const nlohmann::json& object);
std::map<std::string, std::string> Annotations(const nlohmann::json& object);
std::optional<std::string> Label(const nlohmann::json& object, std::string_view key);
std::optional<std::string> Annotation(const nlohmann::json& object, std::string_view key);

// Setters create metadata.labels / metadata.annotations as needed. REQUIRES: object is a JSON
// object.
void SetLabel(nlohmann::json& object, std::string_view key, std::string_view value);
void SetAnnotation(nlohmann::json& object, std::string_view key, std::string_view value);
void RemoveLabel(nlohmann::json& object, std::string_view key);
void RemoveAnnotation(nlohmann::json& object, std::string_view key);

}  // namespace kdr::kube
