#include "dr/fence.h"

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "base/strings.h"
#include "dr/types.h"
#include "kube/client.h"
#include "kube/object.h"

namespace kdr::dr {
namespace {

using nlohmann::json;

const kube::Gvr kNamespaces{"", "v1", "namespaces"};
const kube::Gvr kClaims{"", "v1", "persistentvolumeclaims"};

std::string LabelOf(const json& obj, std::string_view key) {
  return kube::StringField(obj, {"metadata", "labels", key});
}

bool HasLabel(const json& obj, std::string_view key) {
  const json& labels = kube::FieldAt(obj, {"metadata", "labels"});
  return labels.is_object() && labels.contains(std::string(key));
}

json LabelPatch(std::string_view key, std::string_view value) {
  return {{"metadata", {{"labels", {{std::string(key), std::string(value)}}}}}};
}

Result<std::vector<json>> Items(kube::Client& cluster, const kube::Gvr& gvr, std::string_view ns,
                                const kube::ListOptions& options, std::string_view what) {
  Result<json> list = cluster.ListAll(gvr, ns, options);
  if (!list.ok()) return list.status().WithContext(std::string("listing ") + std::string(what));
  std::vector<json> out;
  if (list->contains("items") && (*list)["items"].is_array()) {
    for (json& item : (*list)["items"]) out.push_back(std::move(item));
  }
  return out;
}

}  // namespace

Result<std::vector<FenceChange>> Fence(kube::Client& source, std::string_view plan,
                                       const std::vector<ClaimRef>& claims, bool dry_run) {
  if (plan.empty()) return Status::InvalidArgument("fence: the plan name is empty");
  // Read everything first: a conflict or a missing object stops the fence before any write.
  std::map<std::string, json> namespaces;  // sorted, distinct
  std::vector<std::pair<ClaimRef, json>> current;
  std::set<std::string> seen;
  for (const ClaimRef& c : claims) {
    const std::string key = c.namespace_name + "/" + c.name;
    if (!seen.insert(key).second) continue;
    if (!namespaces.count(c.namespace_name)) {
      Result<json> ns = source.Get(kNamespaces, "", c.namespace_name);
      if (!ns.ok()) return ns.status().WithContext("fencing namespace " + c.namespace_name);
      namespaces.emplace(c.namespace_name, std::move(*ns));
    }
    Result<json> pvc = source.Get(kClaims, c.namespace_name, c.name);
    if (!pvc.ok()) return pvc.status().WithContext("fencing persistentvolumeclaim " + key);
    const std::string other = LabelOf(*pvc, kFailedOverLabel);
    if (HasLabel(*pvc, kFailedOverLabel) && other != plan) {
      return Status::FailedPrecondition(
          "persistentvolumeclaim " + key + " is already fenced for plan " + Quote(other) +
          ", not " + Quote(std::string(plan)) + "; a claim fails over with one plan only: check "
          "which plan protects it (kubectl dr plan get -o wide)");
    }
    current.emplace_back(c, std::move(*pvc));
  }

  kube::PatchOptions options;
  options.dry_run = dry_run;
  options.field_manager = "kubectl-dr";
  std::vector<FenceChange> changes;
  for (const auto& [name, ns] : namespaces) {
    FenceChange change{"namespace " + name, LabelOf(ns, kFencedLabel) != "true"};
    if (change.changed) {
      Result<json> r = source.Patch(kNamespaces, "", name, kube::PatchType::kMergePatch,
                                    LabelPatch(kFencedLabel, "true"), options);
      if (!r.ok()) return r.status().WithContext("labelling namespace " + name + " fenced");
    }
    changes.push_back(std::move(change));
  }
  for (const auto& [ref, pvc] : current) {
    const std::string key = ref.namespace_name + "/" + ref.name;
    FenceChange change{"persistentvolumeclaim " + key, !HasLabel(pvc, kFailedOverLabel)};
    if (change.changed) {
      Result<json> r = source.Patch(kClaims, ref.namespace_name, ref.name, kube::PatchType::kMergePatch,
                                    LabelPatch(kFailedOverLabel, plan), options);
      if (!r.ok()) return r.status().WithContext("labelling persistentvolumeclaim " + key + " failed over");
    }
    changes.push_back(std::move(change));
  }
  return changes;
}

Result<std::vector<FenceChange>> Unfence(kube::Client& cluster, const std::vector<std::string>& namespaces,
                                         bool dry_run) {
  kube::PatchOptions options;
  options.dry_run = dry_run;
  options.field_manager = "kubectl-dr";
  kube::ListOptions failed_over;
  failed_over.label_selector = std::string(kFailedOverLabel);
  const json remove_claim_label = {{"metadata", {{"labels", {{std::string(kFailedOverLabel), nullptr}}}}}};
  const json remove_namespace_label = {{"metadata", {{"labels", {{std::string(kFencedLabel), nullptr}}}}}};
  std::vector<FenceChange> changes;
  for (const std::string& ns : std::set<std::string>(namespaces.begin(), namespaces.end())) {
    Result<json> namespace_object = cluster.Get(kNamespaces, "", ns);
    if (!namespace_object.ok()) {
      if (namespace_object.status().IsNotFound()) continue;
      return namespace_object.status().WithContext("unfencing namespace " + ns);
    }
    KDR_ASSIGN_OR_RETURN(std::vector<json> claims,
                         Items(cluster, kClaims, ns, failed_over, "failed-over persistentvolumeclaims in " + ns));
    for (const json& pvc : claims) {
      const std::string name = kube::StringField(pvc, {"metadata", "name"});
      Result<json> r = cluster.Patch(kClaims, ns, name, kube::PatchType::kMergePatch, remove_claim_label, options);
      if (!r.ok() && !r.status().IsNotFound()) {
        return r.status().WithContext("removing the label " + std::string(kFailedOverLabel) +
                                      " of persistentvolumeclaim " + ns + "/" + name);
      }
      changes.push_back({"persistentvolumeclaim " + ns + "/" + name, r.ok()});
    }
    FenceChange change{"namespace " + ns, HasLabel(*namespace_object, kFencedLabel)};
    // A dry run leaves the claims labelled, so the webhook would refuse the namespace's patch.
    if (change.changed && !(dry_run && !claims.empty())) {
      Result<json> r = cluster.Patch(kNamespaces, "", ns, kube::PatchType::kMergePatch, remove_namespace_label,
                                     options);
      if (!r.ok()) return r.status().WithContext("removing the label " + std::string(kFencedLabel) + " of namespace " + ns);
    }
    changes.push_back(std::move(change));
  }
  return changes;
}

namespace {

Result<std::vector<ClaimRef>> ClaimsLabelled(kube::Client& cluster, std::string_view label, std::string_view value,
                                             std::string_view what) {
  kube::ListOptions options;
  options.label_selector = std::string(label) + "=" + std::string(value);
  KDR_ASSIGN_OR_RETURN(std::vector<json> pvcs, Items(cluster, kClaims, "", options, what));
  std::vector<ClaimRef> out;
  for (const json& p : pvcs) {
    out.push_back({kube::StringField(p, {"metadata", "namespace"}), kube::StringField(p, {"metadata", "name"})});
  }
  std::sort(out.begin(), out.end(), [](const ClaimRef& a, const ClaimRef& b) {
    return std::tie(a.namespace_name, a.name) < std::tie(b.namespace_name, b.name);
  });
  return out;
}

}  // namespace

Result<std::vector<ClaimRef>> FailedOverClaims(kube::Client& cluster, std::string_view plan) {
  return ClaimsLabelled(cluster, kFailedOverLabel, plan, "failed-over persistentvolumeclaims");
}

Result<std::vector<ClaimRef>> RestoredClaims(kube::Client& target, std::string_view recovery) {
  return ClaimsLabelled(target, kRecoveryLabel, recovery, "the recovery's persistentvolumeclaims");
}

}  // namespace kdr::dr
