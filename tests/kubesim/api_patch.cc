// PATCH: JSON merge patch, JSON patch, strategic merge patch (built-in kinds) and server-side
// apply, applied to the stored object and written with the read resourceVersion, retried on a
// conflict as kube-apiserver's GuaranteedUpdate does (unless the patch itself carries a
// resourceVersion: then a mismatch is the client's 409). Also the scale subresource.

#include <nlohmann/json.hpp>

#include "api_internal.h"
#include "base/strings.h"
#include "base/yaml.h"
#include "defaults.h"
#include "managed_fields.h"
#include "selector.h"
#include "transform/json_patch.h"
#include "transform/merge_patch.h"
#include "transform/strategic.h"

namespace kdr::kubesim {

using json = nlohmann::json;

namespace {

enum class PatchKind { kMerge, kJson, kStrategic, kApply };

std::string Media(const std::string& ct) { return std::string(TrimSpace(ct.substr(0, ct.find(';')))); }

ApiResponse Unsupported(const ResourceType& t) {
  std::string types = "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml";
  if (!t.custom) types = "application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json, application/apply-patch+yaml";
  return StatusResponse(415, "UnsupportedMediaType",
                        "the body of the request was in an unknown format - accepted media types include: " + types);
}

// The value at a dotted CRD path (".spec.replicas"); null when absent.
json GetPath(const json& obj, const std::string& path) {
  const json* cur = &obj;
  for (const auto& p : Split(path, '.')) {
    if (p.empty()) continue;
    if (!cur->is_object() || !cur->contains(p)) return nullptr;
    cur = &(*cur)[p];
  }
  return *cur;
}

void SetPath(json* obj, const std::string& path, const json& value) {
  json* cur = obj;
  for (const auto& p : Split(path, '.')) {
    if (p.empty()) continue;
    if (!cur->is_object()) *cur = json::object();
    cur = &(*cur)[p];
  }
  *cur = value;
}

std::string Meta(const json& obj, const char* key) {
  if (!obj.is_object() || !obj.contains("metadata") || !obj["metadata"].is_object()) return "";
  auto it = obj["metadata"].find(key);
  return it != obj["metadata"].end() && it->is_string() ? it->get<std::string>() : "";
}

json ScaleOf(const ResourceType& t, const json& obj) {
  json meta = {{"name", Meta(obj, "name")}, {"uid", Meta(obj, "uid")},
               {"resourceVersion", Meta(obj, "resourceVersion")},
               {"creationTimestamp", Meta(obj, "creationTimestamp")}};
  if (t.namespaced) meta["namespace"] = Meta(obj, "namespace");
  json replicas = GetPath(obj, t.scale_spec_path);
  json status_replicas = GetPath(obj, t.scale_status_path);
  json status = {{"replicas", status_replicas.is_number() ? status_replicas : json(0)}};
  if (!t.scale_selector_path.empty()) {
    json sel = GetPath(obj, t.scale_selector_path);
    if (sel.is_string()) status["selector"] = sel;
    if (sel.is_object()) status["selector"] = LabelSelectorObjectToString(sel);
  }
  return {{"kind", "Scale"}, {"apiVersion", "autoscaling/v1"}, {"metadata", meta},
          {"spec", {{"replicas", replicas.is_number() ? replicas : json(0)}}}, {"status", status}};
}

// Applies one patch to *obj. An error response when it cannot apply.
std::optional<ApiResponse> ApplyPatch(PatchKind kind, const json& patch, const transform::JsonPatch* jp,
                                      const std::string& api_version, const std::string& k, json* obj) {
  switch (kind) {
    case PatchKind::kMerge:
      transform::ApplyMergePatch(obj, patch);
      return std::nullopt;
    case PatchKind::kJson: {
      Status s = jp->Apply(obj);
      if (!s.ok()) return StatusResponse(422, "Invalid", s.message());
      return std::nullopt;
    }
    case PatchKind::kStrategic:
    case PatchKind::kApply: {
      if (kind == PatchKind::kApply && !transform::IsStrategicMergeKnownKind(api_version, k)) {
        transform::ApplyMergePatch(obj, patch);
        return std::nullopt;
      }
      Status s = transform::ApplyStrategicMergePatch(obj, patch, api_version, k);
      if (s.code() == StatusCode::kUnimplemented) {
        transform::ApplyMergePatch(obj, patch);  // a built-in kind the patch library lacks a schema for
        return std::nullopt;
      }
      if (!s.ok()) return BadRequest(s.message());
      return std::nullopt;
    }
  }
  return std::nullopt;
}

ApiResponse ApplyConflict(const ResourceType& type, const std::string& name,
                          const std::vector<FieldConflict>& conflicts) {
  json causes = json::array();
  for (const auto& c : conflicts) {
    causes.push_back({{"reason", "FieldManagerConflict"},
                      {"message", "conflict with \"" + c.manager + "\" using " + c.api_version},
                      {"field", c.path}});
  }
  json details = {{"name", name}, {"kind", type.resource}, {"causes", causes}};
  if (!type.group.empty()) details["group"] = type.group;
  return StatusResponse(409, "Conflict", ConflictMessage(conflicts), details);
}

}  // namespace

ApiResponse Api::Patch(const ApiRequest& req, const Target& t) const {
  const std::string mt = Media(req.content_type);
  PatchKind kind;
  if (mt == "application/merge-patch+json") kind = PatchKind::kMerge;
  else if (mt == "application/json-patch+json") kind = PatchKind::kJson;
  else if (mt == "application/strategic-merge-patch+json" && !t.type.custom) kind = PatchKind::kStrategic;
  else if (mt == "application/apply-patch+yaml" || mt == "application/apply-patch+cbor") kind = PatchKind::kApply;
  else return Unsupported(t.type);

  json patch;
  if (kind == PatchKind::kApply) {
    auto r = YamlToJson(req.body, "apply patch");
    if (!r.ok()) return BadRequest("error decoding YAML: " + r.status().message());
    patch = std::move(*r);
    if (!patch.is_object()) return BadRequest("error decoding YAML: the apply configuration is not an object");
    // kube-apiserver's apply checks, in its order (endpoints/handlers/patch.go, fieldmanager):
    // a fieldManager is required (no user-agent fallback, unlike other writes), then the
    // configuration may not carry managedFields (even an empty list), then apiVersion and kind.
    if (QueryValue(req, "fieldManager").empty()) {
      return StatusResponse(422, "Invalid",
                            "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required "
                            "for apply patch",
                            {{"group", "meta.k8s.io"}, {"kind", "PatchOptions"},
                             {"causes", json::array({{{"reason", "FieldValueRequired"},
                                                      {"message", "Required value: is required for apply patch"},
                                                      {"field", "fieldManager"}}})}});
    }
    if (patch.contains("metadata") && patch["metadata"].is_object() && patch["metadata"].contains("managedFields") &&
        !patch["metadata"]["managedFields"].is_null()) {
      return BadRequest("metadata.managedFields must be nil");
    }
    if (t.subresource.empty() && (!patch.contains("kind") || !patch.contains("apiVersion"))) {
      return BadRequest("invalid object type: apiVersion and kind are required in an apply configuration");
    }
  } else {
    patch = json::parse(req.body, nullptr, false);
    if (patch.is_discarded()) return BadRequest("error decoding patch: invalid JSON");
  }
  std::optional<transform::JsonPatch> jp;
  if (kind == PatchKind::kJson) {
    if (!patch.is_array()) return BadRequest("json: cannot unmarshal object into Go value of type jsonpatch.Patch");
    auto c = transform::JsonPatch::Compile(patch);
    if (!c.ok()) return BadRequest(c.status().message());
    jp = std::move(*c);
  } else if (!patch.is_object()) {
    return BadRequest("error decoding patch: the patch is not a JSON object");
  }
  const bool dry_run = IsDryRun(req);
  const std::string manager = FieldManager(req);
  const std::string gv = t.type.GroupVersion(t.version);
  const std::string now = FormatRfc3339(options_.clock->Now());

  for (int attempt = 0; attempt < 10; ++attempt) {
    auto cur = options_.store->Get(t.type.gr(), t.namespace_name, t.name);
    if (!cur.ok()) {
      if (cur.status().IsNotFound() && kind == PatchKind::kApply && t.subresource.empty()) {
        // Server-side apply creates what is absent, unless the configuration names a uid: the
        // object it meant is gone (a captured object applied to another cluster).
        if (const std::string uid = Meta(patch, "uid"); !uid.empty()) {
          return ErrorResponse(Status::Aborted("Operation cannot be fulfilled on " + t.type.gr().String() + " \"" +
                                               t.name + "\": uid mismatch: the provided object specified uid " + uid +
                                               ", and no existing object was found"),
                               &t.type, t.name);
        }
        json obj = patch;
        if (!obj.contains("metadata") || !obj["metadata"].is_object()) obj["metadata"] = json::object();
        obj["metadata"]["name"] = t.name;
        if (t.type.namespaced) obj["metadata"]["namespace"] = t.namespace_name;
        ApiResponse out;
        if (auto err = CheckUnknownFields(req, t.type, t.version, obj, &out.headers)) return *err;
        ApplyDefaults(t.type, &obj);
        if (!AdmitCreate(req, t, &obj, dry_run, &out)) return out;
        FieldManagerWrite fw{manager, "Apply", gv, "", now, &patch, QueryBool(req, "force")};
        UpdateManagedFields(&obj, nullptr, fw);
        auto r = options_.store->Create(t.type.gr(), t.namespace_name, std::move(obj), {dry_run, ""});
        if (!r.ok()) {
          if (r.status().IsAlreadyExists()) continue;
          return ErrorResponse(r.status(), &t.type, t.name);
        }
        ApiResponse resp = JsonResponse(201, ForVersion(t.type, t.version, std::move(*r)));
        resp.headers = out.headers;
        return resp;
      }
      return ErrorResponse(cur.status(), &t.type, t.name);
    }
    const json old = *cur;
    const std::string old_rv = Meta(old, "resourceVersion");
    json obj = ForVersion(t.type, t.version, old);
    if (auto err = ApplyPatch(kind, patch, jp ? &*jp : nullptr, gv, t.type.kind, &obj)) return *err;
    if (!obj.is_object()) return StatusResponse(422, "Invalid", "the patched object is not an object");
    if (!obj.contains("metadata") || !obj["metadata"].is_object()) obj["metadata"] = json::object();
    // The patch may not rename or move the object.
    obj["metadata"]["name"] = t.name;
    if (t.type.namespaced) obj["metadata"]["namespace"] = t.namespace_name;
    obj["apiVersion"] = t.type.api_version();
    obj["kind"] = t.type.kind;
    const std::string patched_rv = Meta(obj, "resourceVersion");
    const bool client_precondition = !patched_rv.empty() && patched_rv != old_rv;
    if (patched_rv.empty()) obj["metadata"]["resourceVersion"] = old_rv;
    ApiResponse out;
    if (auto err = CheckUnknownFields(req, t.type, t.version, obj, &out.headers)) return *err;
    ApplyDefaults(t.type, &obj);  // the patched object is decoded with defaulting, as on create
    FieldManagerWrite fw{manager, kind == PatchKind::kApply ? "Apply" : "Update", gv, t.subresource, now,
                         kind == PatchKind::kApply ? &patch : nullptr, QueryBool(req, "force")};
    // Apply conflicts are found by the apply itself, before admission and validation (so a
    // conflicting field is 409 even when the configuration's uid would be 422).
    if (kind == PatchKind::kApply) {
      json probe = obj;
      if (auto conflicts = UpdateManagedFields(&probe, &old, fw); !conflicts.empty()) {
        return ApplyConflict(t.type, t.name, conflicts);
      }
    }
    bool conflict = false;
    if (!AdmitUpdate(req, t, &obj, old, dry_run, &out, &conflict)) {
      if (conflict && !client_precondition) continue;  // re-read and patch again
      return out;
    }
    auto conflicts = UpdateManagedFields(&obj, &old, fw);
    if (!conflicts.empty()) return ApplyConflict(t.type, t.name, conflicts);
    auto r = options_.store->Update(t.type.gr(), t.namespace_name, std::move(obj), {dry_run, t.subresource});
    if (!r.ok()) {
      if (r.status().IsConflict() && !client_precondition) continue;
      return ErrorResponse(r.status(), &t.type, t.name);
    }
    ApiResponse resp = JsonResponse(200, ForVersion(t.type, t.version, std::move(*r)));
    resp.headers = out.headers;
    return resp;
  }
  return ErrorResponse(Status::Aborted("Operation cannot be fulfilled on " + t.type.gr().String() + " \"" + t.name +
                                       "\": the object has been modified; please apply your changes to the latest "
                                       "version and try again"),
                       &t.type, t.name);
}

ApiResponse Api::Scale(const ApiRequest& req, const Target& t) const {
  const std::string& m = req.method;
  if (m != "GET" && m != "PUT" && m != "PATCH") return MethodNotAllowed();
  const bool dry_run = IsDryRun(req);
  for (int attempt = 0; attempt < 10; ++attempt) {
    auto cur = options_.store->Get(t.type.gr(), t.namespace_name, t.name);
    if (!cur.ok()) return ErrorResponse(cur.status(), &t.type, t.name);
    json scale = ScaleOf(t.type, *cur);
    if (m == "GET") return JsonResponse(200, scale);
    json next_scale;
    bool client_precondition = false;
    if (m == "PUT") {
      next_scale = json::parse(req.body, nullptr, false);
      if (next_scale.is_discarded() || !next_scale.is_object()) return BadRequest("invalid Scale body");
      std::string rv = Meta(next_scale, "resourceVersion");
      client_precondition = !rv.empty();
      if (!rv.empty() && rv != Meta(*cur, "resourceVersion")) {
        return ErrorResponse(Status::Aborted("Operation cannot be fulfilled on " + t.type.gr().String() + " \"" +
                                             t.name + "\": the object has been modified; please apply your "
                                             "changes to the latest version and try again"),
                             &t.type, t.name);
      }
    } else {
      const std::string mt = Media(req.content_type);
      json patch = json::parse(req.body, nullptr, false);
      if (patch.is_discarded()) return BadRequest("error decoding patch: invalid JSON");
      next_scale = scale;
      if (mt == "application/merge-patch+json" || mt == "application/strategic-merge-patch+json") {
        transform::ApplyMergePatch(&next_scale, patch);
      } else if (mt == "application/json-patch+json") {
        Status s = transform::ApplyJsonPatch(&next_scale, patch);
        if (!s.ok()) return StatusResponse(s.code() == StatusCode::kInvalidArgument && !patch.is_array() ? 400 : 422,
                                           "Invalid", s.message());
      } else {
        return Unsupported(t.type);
      }
    }
    json replicas = next_scale.contains("spec") ? next_scale["spec"].value("replicas", json()) : json();
    if (!replicas.is_number_integer() || replicas.get<int64_t>() < 0) {
      return StatusResponse(422, "Invalid",
                            "Scale.autoscaling \"" + t.name + "\" is invalid: spec.replicas: Invalid value: " +
                                replicas.dump() + ": must be greater than or equal to 0");
    }
    json obj = *cur;
    SetPath(&obj, t.type.scale_spec_path, replicas);
    ApiResponse out;
    if (!Admit(req, t, Operation::kUpdate, &next_scale, &scale, dry_run, &out)) return out;
    auto r = options_.store->Update(t.type.gr(), t.namespace_name, std::move(obj), {dry_run, ""});
    if (!r.ok()) {
      if (r.status().IsConflict() && !client_precondition) continue;
      return ErrorResponse(r.status(), &t.type, t.name);
    }
    ApiResponse resp = JsonResponse(200, ScaleOf(t.type, *r));
    resp.headers = out.headers;
    return resp;
  }
  return StatusResponse(409, "Conflict", "too many conflicts scaling " + t.name);
}

}  // namespace kdr::kubesim
