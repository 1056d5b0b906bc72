#pragma once

// The resource types kubesim serves: the built-in kinds the product touches plus one type per
// served CustomResourceDefinition. The Store and the REST layer look types up here; a CRD stored
// through the Store is (re)registered by the Store itself, so every path (HTTP, in-process
// controllers, a restart from --data-dir) sees the same set. Thread-safe.

#include <cstdint>
#include <mutex>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace kdr::kubesim {

// A resource independent of version: {"apps", "deployments"}; the core group is "".
struct GroupResource {
  std::string group;
  std::string resource;

  // "deployments.apps", "configmaps": how kube-apiserver names a resource in messages.
  std::string String() const { return group.empty() ? resource : resource + "." + group; }
  friend bool operator<(const GroupResource& a, const GroupResource& b) {
    return a.group != b.group ? a.group < b.group : a.resource < b.resource;
  }
  friend bool operator==(const GroupResource& a, const GroupResource& b) {
    return a.group == b.group && a.resource == b.resource;
  }
};

// An additionalPrinterColumns entry (CRDs) or a built-in printer column.
struct PrinterColumn {
  std::string name;         // "Age"
  std::string type;         // "string", "integer", "date", ...
  std::string json_path;    // ".status.phase"; "" for built-in computed columns
  std::string description;
  std::string format;       // "name" for the NAME column
  int priority = 0;         // >0: only with -o wide
};

struct ResourceType {
  std::string group;                  // "" for core
  std::string version;                // storage (and preferred) version: "v1"
  std::vector<std::string> versions;  // every served version, preferred first
  std::string resource;               // plural: "deployments"
  std::string singular;               // "deployment"
  std::string kind;                   // "Deployment"
  std::string list_kind;              // "DeploymentList"
  bool namespaced = true;
  std::vector<std::string> short_names;
  std::vector<std::string> categories;
  bool status_subresource = false;
  bool scale_subresource = false;
  // Scale subresource paths (CRD style, dotted): spec replicas, status replicas, label selector.
  std::string scale_spec_path = ".spec.replicas";
  std::string scale_status_path = ".status.replicas";
  std::string scale_selector_path;
  // metadata.generation is set and bumped when anything outside metadata/status changes.
  bool tracks_generation = false;
  bool custom = false;  // served because of a CRD
  // Field selector labels accepted besides metadata.name and metadata.namespace.
  std::vector<std::string> field_labels;
  // Printer columns after NAME (CRDs: additionalPrinterColumns; empty: NAME and AGE only).
  std::vector<PrinterColumn> columns;
  // The CRD's schema (openAPIV3Schema of the storage version) as JSON text; "" for built-ins.
  std::string schema_json;

  GroupResource gr() const { return {group, resource}; }
  // "apps/v1" or "v1".
  std::string api_version() const { return group.empty() ? version : group + "/" + version; }
  std::string GroupVersion(std::string_view v) const {
    return group.empty() ? std::string(v) : group + "/" + std::string(v);
  }
  bool Serves(std::string_view v) const;
};

class Registry {
 public:
  // Starts with the built-in types.
  Registry();
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  std::optional<ResourceType> Find(const GroupResource& gr) const;
  // A type served at group/version under the plural name `resource`.
  std::optional<ResourceType> FindServed(std::string_view group, std::string_view version,
                                         std::string_view resource) const;
  // By kind, in any served version of the group.
  std::optional<ResourceType> FindKind(std::string_view group, std::string_view kind) const;
  // Every type, built-ins first, in registration order.
  std::vector<ResourceType> All() const;
  // Bumped whenever a CRD changes the served set (for discovery hashes).
  uint64_t epoch() const;

  // Builds the type a CustomResourceDefinition (apiextensions.k8s.io/v1 JSON) describes.
  // InvalidArgument (with kube-style "spec.names.plural: Required value") when a required field
  // is missing or inconsistent.
  static Result<ResourceType> TypeFromCrd(const nlohmann::json& crd);
  // Serves (or re-serves) the type of a valid CRD. Built-in types cannot be replaced.
  Status AddCrd(const nlohmann::json& crd);
  void RemoveCrd(const GroupResource& gr);

 private:
  mutable std::shared_mutex mu_;
  std::vector<ResourceType> types_;
  uint64_t epoch_ = 1;
};

}  // namespace kdr::kubesim
