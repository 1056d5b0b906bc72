#include "api.h"

#include <nlohmann/json.hpp>
#include <optional>
#include <random>

#include "api_internal.h"
#include "auth.h"
#include "base/clock.h"
#include "base/strings.h"
#include "base/yaml.h"
#include "defaults.h"
#include "managed_fields.h"
#include "protobuf.h"

namespace kdr::kubesim {

using json = nlohmann::json;

namespace {

std::string MediaType(const std::string& content_type) {
  std::string mt = content_type.substr(0, content_type.find(';'));
  return std::string(TrimSpace(mt));
}

// Decodes a JSON or YAML request body; an error response otherwise.
std::optional<ApiResponse> DecodeBody(const ApiRequest& req, json* out) {
  const std::string mt = MediaType(req.content_type);
  if (mt == "application/vnd.kubernetes.protobuf") {
    auto r = DecodeKubeProtobuf(req.body);
    if (!r.ok()) {
      if (r.status().code() == StatusCode::kUnimplemented) {
        return StatusResponse(415, "UnsupportedMediaType", r.status().message());
      }
      return BadRequest(r.status().message());
    }
    *out = std::move(*r);
  } else if (mt == "application/yaml") {
    auto r = YamlToJson(req.body, "request body");
    if (!r.ok()) return BadRequest(r.status().message());
    *out = std::move(*r);
  } else if (mt.empty() || mt == "application/json" || mt == "*/*") {
    *out = json::parse(req.body, nullptr, false);
    if (out->is_discarded()) {
      return BadRequest("couldn't get version/kind; json parse error: invalid JSON in request body");
    }
  } else {
    return StatusResponse(415, "UnsupportedMediaType",
                          "the body of the request was in an unknown format - accepted media types "
                          "include: application/json, application/yaml, "
                          "application/vnd.kubernetes.protobuf, application/cbor");
  }
  if (!out->is_object()) return BadRequest("couldn't get version/kind; json parse error: the body is not an object");
  return std::nullopt;
}

// Checks apiVersion/kind of a body against the endpoint, as the decoder does.
std::optional<ApiResponse> CheckTypeMeta(const json& body, const ResourceType& t, const std::string& version) {
  if (!body.contains("kind") || !body["kind"].is_string() || body["kind"].get<std::string>().empty()) {
    std::string text = body.dump();
    return BadRequest("Object 'Kind' is missing in '" + text + "'");
  }
  std::string av = body.value("apiVersion", "");
  std::string group = av.find('/') == std::string::npos ? "" : av.substr(0, av.find('/'));
  std::string ver = av.substr(av.find('/') == std::string::npos ? 0 : av.find('/') + 1);
  if (group != t.group || !t.Serves(ver)) {
    return BadRequest("the API version in the data (" + av + ") does not match the expected API version (" +
                      t.GroupVersion(version) + ")");
  }
  if (body["kind"] != t.kind) {
    return BadRequest("the kind in the data (" + body["kind"].get<std::string>() +
                      ") does not match the expected kind (" + t.kind + ")");
  }
  return std::nullopt;
}

std::string MetaString(const json& obj, const char* key) {
  if (!obj.contains("metadata") || !obj["metadata"].is_object()) return "";
  auto it = obj["metadata"].find(key);
  return it != obj["metadata"].end() && it->is_string() ? it->get<std::string>() : "";
}

json VersionDoc() {
  return {{"major", "1"},
          {"minor", "32"},
          {"gitVersion", "v1.32.0-kubesim"},
          {"gitCommit", "0000000000000000000000000000000000000000"},
          {"gitTreeState", "clean"},
          {"buildDate", "2026-01-01T00:00:00Z"},
          {"goVersion", "go1.23.0"},
          {"compiler", "gc"},
          {"platform", "linux/amd64"}};
}

}  // namespace

Api::Api(Options options) : options_(std::move(options)), builtin_(options_.store) {}

ApiResponse Api::Handle(const ApiRequest& req) const {
  std::string path = req.path;
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  if (path == "/version") return JsonResponse(200, VersionDoc());
  if (path == "/healthz" || path == "/livez" || path == "/readyz") {
    ApiResponse r;
    r.content_type = "text/plain; charset=utf-8";
    r.body = "ok";
    return r;
  }
  const Registry& registry = *options_.registry;
  if (path == "/api") return JsonResponse(200, ApiVersionsDoc());
  if (path == "/apis") return JsonResponse(200, ApiGroupListDoc(registry));
  if (path == "/openapi/v3") return JsonResponse(200, OpenApiV3Root(registry));
  if (path.rfind("/openapi/v3/", 0) == 0) {
    auto doc = OpenApiV3Doc(registry, path.substr(12));
    return doc ? JsonResponse(200, *doc) : NotFoundPath();
  }
  if (req.method == "POST" && (path == "/apis/authentication.k8s.io/v1/selfsubjectreviews" ||
                               path == "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews" ||
                               path == "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews")) {
    return SelfReview(req, path);
  }
  std::vector<std::string> seg;
  for (auto& s : Split(path, '/')) {
    if (!s.empty()) seg.push_back(s);
  }
  if (seg.empty()) {
    json paths = json::array({"/api", "/api/v1", "/apis", "/healthz", "/livez", "/openapi/v3", "/readyz", "/version"});
    return JsonResponse(200, {{"paths", paths}});
  }
  std::string group, version;
  size_t i;
  if (seg[0] == "api" && seg.size() >= 2) {
    version = seg[1];
    i = 2;
  } else if (seg[0] == "apis" && seg.size() >= 2) {
    group = seg[1];
    if (seg.size() == 2) {
      auto doc = ApiGroupDoc(registry, group);
      return doc ? JsonResponse(200, *doc) : NotFoundPath();
    }
    version = seg[2];
    i = 3;
  } else {
    return NotFoundPath();
  }
  if (i == seg.size()) {
    auto doc = ApiResourceListDoc(registry, group, version);
    return doc ? JsonResponse(200, *doc) : NotFoundPath();
  }
  Target target;
  if (seg[i] == "watch") {
    target.watch = true;
    ++i;
  }
  if (i < seg.size() && seg[i] == "namespaces" && seg.size() - i >= 3) {
    auto t = registry.FindServed(group, version, seg[i + 2]);
    if (t && t->namespaced) {
      target.namespace_name = seg[i + 1];
      i += 2;
    }
  }
  if (i >= seg.size()) return NotFoundPath();
  auto type = registry.FindServed(group, version, seg[i]);
  if (!type) return NotFoundPath();
  target.type = *type;
  target.version = version;
  if (i + 1 < seg.size()) target.name = seg[i + 1];
  if (i + 2 < seg.size()) target.subresource = seg[i + 2];
  if (i + 3 < seg.size()) return NotFoundPath();
  if (!target.subresource.empty()) {
    const std::string& sub = target.subresource;
    bool ok = (sub == "status" && type->status_subresource) || (sub == "scale" && type->scale_subresource) ||
              (sub == "token" && type->group.empty() && type->resource == "serviceaccounts") ||
              (sub == "ephemeralcontainers" && type->group.empty() && type->resource == "pods");
    if (!ok) return NotFoundPath();
  }
  if (type->namespaced && target.namespace_name.empty() && !target.name.empty()) return NotFoundPath();
  return HandleResource(req, target);
}

namespace {

// kube-apiserver's limit on a request body that writes an object (--max-request-bytes' default).
constexpr size_t kMaxRequestBytes = 3 * 1024 * 1024;
// etcd's default --max-request-bytes (1.5 MiB): a larger object never reaches the store.
constexpr size_t kMaxStoredObjectBytes = 1536 * 1024;

// What etcd refuses: an object too large to store. Checked as the storage layer does, after
// admission and never for a dry run (the dry-run storage does not write).
std::optional<ApiResponse> TooLargeForEtcd(const json& obj) {
  if (obj.dump().size() <= kMaxStoredObjectBytes) return std::nullopt;
  return StatusResponse(500, "InternalError", "etcdserver: request is too large");
}

// A Lease's times are MicroTimes: RFC 3339 with exactly six fractional digits, or the decoder
// refuses the body (400), as Go's time.Parse with "2006-01-02T15:04:05.000000Z07:00" does.
bool IsMicroTime(const std::string& v) {
  auto digits = [&](size_t from, size_t n) {
    if (v.size() < from + n) return false;
    for (size_t i = from; i < from + n; ++i) {
      if (v[i] < '0' || v[i] > '9') return false;
    }
    return true;
  };
  if (v.size() < 27 || !digits(0, 4) || v[4] != '-' || !digits(5, 2) || v[7] != '-' || !digits(8, 2) ||
      v[10] != 'T' || !digits(11, 2) || v[13] != ':' || !digits(14, 2) || v[16] != ':' || !digits(17, 2) ||
      v[19] != '.' || !digits(20, 6)) {
    return false;
  }
  const std::string zone = v.substr(26);
  return zone == "Z" || (zone.size() == 6 && (zone[0] == '+' || zone[0] == '-') && digits(27, 2) && zone[3] == ':' &&
                         digits(30, 2));
}

std::optional<ApiResponse> CheckMicroTimes(const ResourceType& t, const std::string& version, const json& obj) {
  if (t.group != "coordination.k8s.io" || t.resource != "leases") return std::nullopt;
  const json spec = obj.value("spec", json::object());
  for (const char* f : {"acquireTime", "renewTime"}) {
    auto it = spec.find(f);
    if (it == spec.end() || it->is_null()) continue;
    const std::string v = it->is_string() ? it->get<std::string>() : it->dump();
    if (!it->is_string() || !IsMicroTime(v)) {
      return BadRequest("Lease in version \"" + version + "\" cannot be handled as a Lease: parsing time " +
                        json(v).dump() + " as \"2006-01-02T15:04:05.000000Z07:00\": cannot parse " +
                        json(v.size() > 19 ? v.substr(19) : v).dump() + " as \".000000\"");
    }
  }
  return std::nullopt;
}

}  // namespace

ApiResponse Api::HandleResource(const ApiRequest& req, const Target& t) const {
  const std::string& m = req.method;
  if ((m == "POST" || m == "PUT" || m == "PATCH") && req.body.size() > kMaxRequestBytes) {
    return StatusResponse(413, "RequestEntityTooLarge",
                          "Request entity too large: limit is " + std::to_string(kMaxRequestBytes));
  }
  if (t.subresource == "scale") return Scale(req, t);
  if (t.subresource == "token") return m == "POST" ? TokenRequest(req, t) : MethodNotAllowed();
  if (t.name.empty()) {
    if (m == "GET") return t.watch || QueryBool(req, "watch") ? Watch(req, t) : List(req, t);
    if (m == "POST") return Create(req, t);
    if (m == "DELETE") return DeleteCollection(req, t);
    return MethodNotAllowed();
  }
  if (!t.subresource.empty() && m != "GET" && m != "PUT" && m != "PATCH") return MethodNotAllowed();
  if (m == "GET") return t.watch ? Watch(req, t) : Get(req, t);
  if (m == "PUT") return Update(req, t);
  if (m == "PATCH") return Patch(req, t);
  if (m == "DELETE") return Delete(req, t);
  return MethodNotAllowed();
}

bool Api::AdmitCreate(const ApiRequest& req, const Target& t, json* object, bool dry_run,
                      ApiResponse* denied) const {
  if (!Admit(req, t, Operation::kCreate, object, nullptr, dry_run, denied, Phase::kMutate)) return false;
  if (object->is_object() && object->contains("metadata") && (*object)["metadata"].is_object()) {
    json& meta = (*object)["metadata"];
    std::string prefix = meta.value("generateName", "");
    if (meta.value("name", "").empty() && !prefix.empty()) {
      static constexpr std::string_view kAlphabet = "bcdfghjklmnpqrstvwxz2456789";
      if (prefix.size() > 58) prefix.resize(58);
      std::random_device rd;
      for (int i = 0; i < 5; ++i) prefix.push_back(kAlphabet[rd() % kAlphabet.size()]);
      meta["name"] = prefix;
    }
  }
  // kube-apiserver validates the object (BeforeCreate) before its validating admission.
  auto valid = options_.store->Create(t.type.gr(), t.namespace_name, *object, {dry_run, "", true});
  if (!valid.ok()) {
    // The decoder's warnings (unknown fields) go out with the refusal, as kube-apiserver sends them.
    ApiResponse refused = ErrorResponse(valid.status(), &t.type, MetaString(*object, "name"));
    refused.headers.insert(refused.headers.begin(), denied->headers.begin(), denied->headers.end());
    *denied = std::move(refused);
    return false;
  }
  return Admit(req, t, Operation::kCreate, object, nullptr, dry_run, denied, Phase::kValidate);
}

bool Api::AdmitUpdate(const ApiRequest& req, const Target& t, json* object, const json& old_object,
                      bool dry_run, ApiResponse* denied, bool* conflict) const {
  if (!Admit(req, t, Operation::kUpdate, object, &old_object, dry_run, denied, Phase::kMutate)) return false;
  // kube-apiserver validates the update (BeforeUpdate) before its validating admission.
  auto valid = options_.store->Update(t.type.gr(), t.namespace_name, *object, {dry_run, t.subresource, true});
  if (!valid.ok()) {
    if (conflict) *conflict = valid.status().IsConflict();
    ApiResponse refused = ErrorResponse(valid.status(), &t.type, t.name);
    refused.headers.insert(refused.headers.begin(), denied->headers.begin(), denied->headers.end());
    *denied = std::move(refused);
    return false;
  }
  return Admit(req, t, Operation::kUpdate, object, &old_object, dry_run, denied, Phase::kValidate);
}

bool Api::Admit(const ApiRequest& req, const Target& t, Operation op, json* object, const json* old_object,
                bool dry_run, ApiResponse* denied, Phase phase) const {
  AdmissionRequest ar;
  ar.operation = op;
  const bool scale = t.subresource == "scale";
  ar.kind = scale ? GroupVersionKind{"autoscaling", "v1", "Scale"}
                  : GroupVersionKind{t.type.group, t.version, t.type.kind};
  ar.resource = {t.type.group, t.version, t.type.resource};
  ar.sub_resource = t.subresource;
  std::string name = t.name;
  if (name.empty() && object) name = MetaString(*object, "name");
  ar.name = name;
  ar.namespace_name = t.type.namespaced ? t.namespace_name
                      : (t.type.group.empty() && t.type.resource == "namespaces") ? name : "";
  ar.user = req.user;
  ar.object = op == Operation::kDelete ? nullptr : object;
  ar.old_object = op == Operation::kCreate ? nullptr : old_object;
  ar.dry_run = dry_run;
  // Built-in plugins first in each phase; webhooks (when enabled) after them.
  auto run = [&](Phase p) {
    const bool mutate = p == Phase::kMutate;
    AdmissionResult b = mutate ? builtin_.Mutate(ar) : builtin_.Validate(ar);
    if (!b.allowed) return b;
    if (options_.admission) b = mutate ? options_.admission->Mutate(ar) : options_.admission->Validate(ar);
    // ResourceQuota comes after the validating webhooks (AllOrderedPlugins).
    if (!b.allowed || mutate) return b;
    AdmissionResult q = builtin_.Quota(ar);
    if (!q.allowed) q.warnings.insert(q.warnings.begin(), b.warnings.begin(), b.warnings.end());
    return q.allowed ? b : q;
  };
  AdmissionResult r;
  if (phase == Phase::kBoth) {
    r = run(Phase::kMutate);
    if (r.allowed) {
      AdmissionResult v = run(Phase::kValidate);
      v.warnings.insert(v.warnings.begin(), r.warnings.begin(), r.warnings.end());
      r = std::move(v);
    }
  } else {
    r = run(phase);
  }
  if (r.allowed) {
    for (const auto& w : r.warnings) denied->headers.emplace_back("Warning", WarningHeaderValue(w));
    return true;
  }
  denied->status = r.code;
  denied->content_type = "application/json";
  denied->body = r.status_body.empty() ? StatusResponse(r.code, r.reason, r.message).body : r.status_body;
  for (const auto& w : r.warnings) denied->headers.emplace_back("Warning", WarningHeaderValue(w));
  return false;
}

ApiResponse Api::Get(const ApiRequest& req, const Target& t) const {
  auto r = options_.store->Get(t.type.gr(), t.namespace_name, t.name);
  if (!r.ok()) return ErrorResponse(r.status(), &t.type, t.name);
  json obj = ForVersion(t.type, t.version, std::move(*r));
  if (WantsTable(req)) {
    std::string include = QueryValue(req, "includeObject");
    return JsonResponse(200, MakeTable(t.type, {&obj}, MetaString(obj, "resourceVersion"),
                                       include.empty() ? "Metadata" : include, options_.clock->Now()));
  }
  return JsonResponse(200, obj);
}

ApiResponse Api::List(const ApiRequest& req, const Target& t) const {
  ListOptions lo;
  lo.namespace_name = t.namespace_name;
  lo.label_selector = QueryValue(req, "labelSelector");
  lo.field_selector = QueryValue(req, "fieldSelector");
  std::string limit = QueryValue(req, "limit");
  if (!limit.empty()) lo.limit = std::atoll(limit.c_str());
  lo.continue_token = QueryValue(req, "continue");
  auto r = options_.store->List(t.type.gr(), lo);
  if (!r.ok()) {
    if (r.status().code() == StatusCode::kInvalidArgument) return BadRequest(r.status().message());
    return ErrorResponse(r.status(), &t.type, "");
  }
  json meta = {{"resourceVersion", std::to_string(r->resource_version)}};
  if (!r->continue_token.empty()) {
    meta["continue"] = r->continue_token;
    if (r->remaining) meta["remainingItemCount"] = *r->remaining;
  }
  if (WantsTable(req)) {
    std::vector<json> versioned;
    versioned.reserve(r->items.size());
    for (const auto& o : r->items) versioned.push_back(ForVersion(t.type, t.version, *o));
    std::vector<const json*> ptrs;
    for (const auto& o : versioned) ptrs.push_back(&o);
    std::string include = QueryValue(req, "includeObject");
    json table = MakeTable(t.type, ptrs, std::to_string(r->resource_version),
                           include.empty() ? "Metadata" : include, options_.clock->Now());
    table["metadata"] = meta;
    return JsonResponse(200, table);
  }
  // Typed lists of built-in kinds carry no apiVersion/kind in their items; custom resources do.
  std::string body = "{\"kind\":" + json(t.type.list_kind).dump() + ",\"apiVersion\":" +
                     json(t.type.GroupVersion(t.version)).dump() + ",\"metadata\":" + meta.dump() +
                     ",\"items\":[";
  bool first = true;
  for (const auto& o : r->items) {
    if (!first) body.push_back(',');
    first = false;
    if (t.type.custom) {
      body += t.version == t.type.version ? o->dump() : ForVersion(t.type, t.version, *o).dump();
    } else {
      json copy = *o;
      copy.erase("apiVersion");
      copy.erase("kind");
      body += copy.dump();
    }
  }
  body += "]}";
  ApiResponse resp;
  resp.body = std::move(body);
  return resp;
}

ApiResponse Api::Create(const ApiRequest& req, const Target& t) const {
  json obj;
  if (auto err = DecodeBody(req, &obj)) return *err;
  if (auto err = CheckTypeMeta(obj, t.type, t.version)) return *err;
  if (auto err = CheckMicroTimes(t.type, t.version, obj)) return *err;
  if (!obj.contains("metadata") || !obj["metadata"].is_object()) obj["metadata"] = json::object();
  if (t.type.namespaced) {
    std::string ns = MetaString(obj, "namespace");
    if (!ns.empty() && ns != t.namespace_name) {
      return BadRequest("the namespace of the provided object does not match the namespace sent on the request");
    }
    if (t.namespace_name.empty()) return NotFoundPath();
    obj["metadata"]["namespace"] = t.namespace_name;
  }
  const bool dry_run = IsDryRun(req);
  ApiResponse out;
  if (auto err = CheckUnknownFields(req, t.type, t.version, obj, &out.headers)) return *err;
  // Decoding defaults the object, so admission (plugins and webhooks) sees the defaults.
  ApplyDefaults(t.type, &obj);
  if (!AdmitCreate(req, t, &obj, dry_run, &out)) return out;
  UpdateManagedFields(&obj, nullptr, {FieldManager(req), "Update", t.type.GroupVersion(t.version), "",
                                      FormatRfc3339(options_.clock->Now())});
  const std::string name = MetaString(obj, "name");
  if (!dry_run) {
    // The storage layer refuses these (the dry-run storage never gets that far).
    if (!MetaString(obj, "resourceVersion").empty()) {
      return StatusResponse(500, "InternalError",
                            "Internal error occurred: resourceVersion should not be set on objects to be created");
    }
    if (auto err = TooLargeForEtcd(obj)) return *err;
  }
  auto r = options_.store->Create(t.type.gr(), t.namespace_name, std::move(obj), {dry_run, ""});
  if (!r.ok()) {
    // kube-apiserver sends the decoder's warnings with a refusal too (unknown field, then 422).
    ApiResponse refused = ErrorResponse(r.status(), &t.type, name);
    refused.headers.insert(refused.headers.begin(), out.headers.begin(), out.headers.end());
    return refused;
  }
  ApiResponse resp = JsonResponse(201, ForVersion(t.type, t.version, std::move(*r)));
  resp.headers = out.headers;
  return resp;
}

ApiResponse Api::Update(const ApiRequest& req, const Target& t) const {
  json obj;
  if (auto err = DecodeBody(req, &obj)) return *err;
  if (auto err = CheckTypeMeta(obj, t.type, t.version)) return *err;
  if (auto err = CheckMicroTimes(t.type, t.version, obj)) return *err;
  if (!obj.contains("metadata") || !obj["metadata"].is_object()) obj["metadata"] = json::object();
  std::string name = MetaString(obj, "name");
  if (name.empty()) {
    obj["metadata"]["name"] = t.name;
  } else if (name != t.name) {
    return BadRequest("the name of the object (" + name + ") does not match the name on the URL (" + t.name + ")");
  }
  if (t.type.namespaced) {
    std::string ns = MetaString(obj, "namespace");
    if (!ns.empty() && ns != t.namespace_name) {
      return BadRequest("the namespace of the provided object does not match the namespace sent on the request");
    }
    obj["metadata"]["namespace"] = t.namespace_name;
  }
  auto old = options_.store->Get(t.type.gr(), t.namespace_name, t.name);
  if (!old.ok()) return ErrorResponse(old.status(), &t.type, t.name);
  // The body's uid is a precondition of the storage's update (rest.Update): another one is 409.
  if (const std::string uid = MetaString(obj, "uid"), have = MetaString(*old, "uid"); !uid.empty() && uid != have) {
    const std::string key = "/registry/" + (t.type.custom ? t.type.group + "/" : "") + t.type.resource + "/" +
                            (t.type.namespaced ? t.namespace_name + "/" : "") + t.name;
    return ErrorResponse(Status::Aborted("Operation cannot be fulfilled on " + t.type.gr().String() + " \"" + t.name +
                                         "\": StorageError: invalid object, Code: 4, Key: " + key +
                                         ", ResourceVersion: 0, AdditionalErrorMsg: Precondition failed: UID in "
                                         "precondition: " + uid + ", UID in object meta: " + have),
                         &t.type, t.name);
  }
  const bool dry_run = IsDryRun(req);
  ApiResponse out;
  if (auto err = CheckUnknownFields(req, t.type, t.version, obj, &out.headers)) return *err;
  ApplyDefaults(t.type, &obj);
  if (!AdmitUpdate(req, t, &obj, *old, dry_run, &out)) return out;
  UpdateManagedFields(&obj, &*old, {FieldManager(req), "Update", t.type.GroupVersion(t.version), t.subresource,
                                    FormatRfc3339(options_.clock->Now())});
  if (!dry_run) {
    if (auto err = TooLargeForEtcd(obj)) return *err;
  }
  auto r = options_.store->Update(t.type.gr(), t.namespace_name, std::move(obj), {dry_run, t.subresource});
  if (!r.ok()) {
    ApiResponse refused = ErrorResponse(r.status(), &t.type, t.name);
    refused.headers.insert(refused.headers.begin(), out.headers.begin(), out.headers.end());
    return refused;
  }
  ApiResponse resp = JsonResponse(200, ForVersion(t.type, t.version, std::move(*r)));
  resp.headers = out.headers;
  return resp;
}

ApiResponse Api::Delete(const ApiRequest& req, const Target& t) const {
  DeleteOptions dopts;
  if (!TrimSpace(req.body).empty()) {
    json body = json::parse(req.body, nullptr, false);
    if (body.is_discarded() || !body.is_object()) return BadRequest("invalid DeleteOptions: the body is not a JSON object");
    dopts.propagation_policy = body.value("propagationPolicy", "");
    if (body.contains("orphanDependents") && body["orphanDependents"].is_boolean() &&
        body["orphanDependents"].get<bool>()) {
      dopts.propagation_policy = "Orphan";
    }
    if (body.contains("preconditions") && body["preconditions"].is_object()) {
      const json& p = body["preconditions"];
      if (p.contains("uid") && p["uid"].is_string()) dopts.precondition_uid = p["uid"].get<std::string>();
      if (p.contains("resourceVersion") && p["resourceVersion"].is_string()) {
        dopts.precondition_resource_version = p["resourceVersion"].get<std::string>();
      }
    }
    for (const auto& d : body.value("dryRun", json::array())) dopts.dry_run = dopts.dry_run || d == "All";
  }
  if (std::string p = QueryValue(req, "propagationPolicy"); !p.empty()) dopts.propagation_policy = p;
  if (!dopts.propagation_policy.empty() && dopts.propagation_policy != "Orphan" &&
      dopts.propagation_policy != "Background" && dopts.propagation_policy != "Foreground") {
    return StatusResponse(422, "Invalid",
                          "DeleteOptions.meta.k8s.io \"\" is invalid: propagationPolicy: Unsupported value: \"" +
                              dopts.propagation_policy + "\": supported values: \"Foreground\", \"Background\", \"Orphan\", \"nil\"");
  }
  dopts.dry_run = dopts.dry_run || IsDryRun(req);
  auto old = options_.store->Get(t.type.gr(), t.namespace_name, t.name);
  if (!old.ok()) return ErrorResponse(old.status(), &t.type, t.name);
  ApiResponse out;
  if (!Admit(req, t, Operation::kDelete, nullptr, &*old, dopts.dry_run, &out)) return out;
  auto r = options_.store->Delete(t.type.gr(), t.namespace_name, t.name, dopts);
  if (!r.ok()) return ErrorResponse(r.status(), &t.type, t.name);
  const bool returns_object = !r->deleted || (t.type.group.empty() && (t.type.resource == "pods" ||
                                                                         t.type.resource == "namespaces"));
  ApiResponse resp;
  if (returns_object) {
    resp = JsonResponse(200, ForVersion(t.type, t.version, *r->object));
  } else {
    json details = {{"name", t.name}, {"kind", t.type.resource}, {"uid", MetaString(*r->object, "uid")}};
    if (!t.type.group.empty()) details["group"] = t.type.group;
    resp = JsonResponse(200, {{"kind", "Status"}, {"apiVersion", "v1"}, {"metadata", json::object()},
                              {"status", "Success"}, {"details", details}});
  }
  resp.headers = out.headers;
  return resp;
}

ApiResponse Api::DeleteCollection(const ApiRequest& req, const Target& t) const {
  ListOptions lo;
  lo.namespace_name = t.namespace_name;
  lo.label_selector = QueryValue(req, "labelSelector");
  lo.field_selector = QueryValue(req, "fieldSelector");
  auto r = options_.store->List(t.type.gr(), lo);
  if (!r.ok()) return BadRequest(r.status().message());
  DeleteOptions dopts;
  dopts.dry_run = IsDryRun(req);
  dopts.propagation_policy = QueryValue(req, "propagationPolicy");
  json items = json::array();
  for (const auto& o : r->items) {
    Target one = t;
    one.name = (*o)["metadata"].value("name", "");
    one.namespace_name = (*o)["metadata"].value("namespace", "");
    ApiResponse denied;
    if (!Admit(req, one, Operation::kDelete, nullptr, o.get(), dopts.dry_run, &denied)) return denied;
    auto d = options_.store->Delete(t.type.gr(), one.namespace_name, one.name, dopts);
    if (d.ok()) items.push_back(*d->object);
  }
  return JsonResponse(200, {{"kind", t.type.list_kind}, {"apiVersion", t.type.GroupVersion(t.version)},
                            {"metadata", {{"resourceVersion", std::to_string(options_.store->resource_version())}}},
                            {"items", items}});
}

ApiResponse Api::SelfReview(const ApiRequest& req, const std::string& path) const {
  // No authorization in kubesim: every authenticated user may do everything, so reviews answer
  // with the caller's identity and "allowed". Bodies may be protobuf (typed clients); only
  // JSON bodies are echoed back in spec.
  json spec = json::object();
  if (MediaType(req.content_type) == "application/json") {
    json body = json::parse(req.body, nullptr, false);
    if (body.is_object() && body.contains("spec")) spec = body["spec"];
  }
  json user = {{"username", req.user.username}, {"groups", req.user.groups}};
  if (!req.user.uid.empty()) user["uid"] = req.user.uid;
  if (path.find("selfsubjectreviews") != std::string::npos) {
    return JsonResponse(201, {{"kind", "SelfSubjectReview"}, {"apiVersion", "authentication.k8s.io/v1"},
                              {"metadata", {{"creationTimestamp", nullptr}}},
                              {"status", {{"userInfo", user}}}});
  }
  if (path.find("selfsubjectrulesreviews") != std::string::npos) {
    json rule = {{"verbs", {"*"}}, {"apiGroups", {"*"}}, {"resources", {"*"}}};
    return JsonResponse(201, {{"kind", "SelfSubjectRulesReview"}, {"apiVersion", "authorization.k8s.io/v1"},
                              {"metadata", {{"creationTimestamp", nullptr}}}, {"spec", spec},
                              {"status", {{"resourceRules", json::array({rule})},
                                          {"nonResourceRules", json::array({{{"verbs", {"*"}}, {"nonResourceURLs", {"*"}}}})},
                                          {"incomplete", false}}}});
  }
  return JsonResponse(201, {{"kind", "SelfSubjectAccessReview"}, {"apiVersion", "authorization.k8s.io/v1"},
                            {"metadata", {{"creationTimestamp", nullptr}}}, {"spec", spec},
                            {"status", {{"allowed", true}, {"reason", "kubesim authorizes every authenticated user"}}}});
}

ApiResponse Api::TokenRequest(const ApiRequest& req, const Target& t) const {
  auto sa = options_.store->Get(t.type.gr(), t.namespace_name, t.name);
  if (!sa.ok()) return ErrorResponse(sa.status(), &t.type, t.name);
  json body = json::object();
  if (!TrimSpace(req.body).empty()) {
    if (auto err = DecodeBody(req, &body)) return *err;
  }
  if (!options_.authenticator) return StatusResponse(500, "InternalError", "Internal error occurred: no token issuer");
  int64_t seconds = 3600;
  if (body.contains("spec") && body["spec"].contains("expirationSeconds") && body["spec"]["expirationSeconds"].is_number()) {
    seconds = body["spec"]["expirationSeconds"].get<int64_t>();
  }
  std::string token = options_.authenticator->IssueServiceAccount(t.namespace_name, t.name, MetaString(*sa, "uid"));
  json spec = body.value("spec", json::object());
  spec["expirationSeconds"] = seconds;
  if (!spec.contains("audiences")) spec["audiences"] = json::array({"https://kubernetes.default.svc.cluster.local"});
  json out = {{"kind", "TokenRequest"},
              {"apiVersion", "authentication.k8s.io/v1"},
              {"metadata", {{"name", t.name}, {"namespace", t.namespace_name}, {"creationTimestamp", nullptr}}},
              {"spec", spec},
              {"status", {{"token", token},
                          {"expirationTimestamp", FormatRfc3339(options_.clock->Now() + std::chrono::seconds(seconds))}}}};
  return JsonResponse(201, out);
}

}  // namespace kdr::kubesim
