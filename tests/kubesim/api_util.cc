#include <nlohmann/json.hpp>
#include <set>

#include "api_internal.h"
#include "admission.h"
#include "base/strings.h"
#include "builtin_fields.h"
#include "schema.h"
#include "validation.h"

namespace kdr::kubesim {

using json = nlohmann::json;

ApiResponse JsonResponse(int code, const json& body) {
  ApiResponse r;
  r.status = code;
  r.body = body.dump();
  return r;
}

ApiResponse StatusResponse(int code, std::string_view reason, std::string_view message,
                           const json& details) {
  json s = {{"kind", "Status"},
            {"apiVersion", "v1"},
            {"metadata", json::object()},
            {"status", "Failure"},
            {"message", message}};
  if (!reason.empty()) s["reason"] = reason;
  if (!details.is_null()) s["details"] = details;
  s["code"] = code;
  return JsonResponse(code, s);
}

ApiResponse ErrorResponse(const Status& status, const ResourceType* type, std::string_view name) {
  json details = json::object();
  if (!name.empty()) details["name"] = name;
  if (type) {
    if (!type->group.empty()) details["group"] = type->group;
    details["kind"] = type->resource;
  }
  switch (status.code()) {
    case StatusCode::kNotFound:
      if (status.message().rfind("namespaces \"", 0) == 0) {
        // The namespace of a create is missing: kube names the namespace.
        json d = {{"name", status.message().substr(12, status.message().find('"', 12) - 12)},
                  {"kind", "namespaces"}};
        return StatusResponse(404, "NotFound", status.message(), d);
      }
      if (status.message().rfind("the server could not find", 0) == 0) return NotFoundPath();
      return StatusResponse(404, "NotFound", status.message(), details);
    case StatusCode::kAlreadyExists:
      return StatusResponse(409, "AlreadyExists", status.message(), details);
    case StatusCode::kAborted:
      return StatusResponse(409, "Conflict", status.message(), details);
    case StatusCode::kInvalidArgument: {
      if (type) details["kind"] = type->kind;
      // "Kind \"name\" is invalid: field: detail, field: detail" -> causes.
      json causes = json::array();
      const std::string& m = status.message();
      size_t at = m.find(" is invalid: ");
      if (at != std::string::npos) {
        std::string rest = m.substr(at + 13);
        if (!rest.empty() && rest.front() == '[' && rest.back() == ']') rest = rest.substr(1, rest.size() - 2);
        // One cause per "field: detail", split at ", " before the next "field: ".
        std::vector<std::string> parts;
        size_t from = 0;
        for (size_t at2 = rest.find(", "); at2 != std::string::npos; at2 = rest.find(", ", at2 + 2)) {
          size_t colon2 = rest.find(": ", at2 + 2);
          if (colon2 == std::string::npos) break;
          std::string field = rest.substr(at2 + 2, colon2 - at2 - 2);
          if (field.empty() || field.find_first_of(" \"") != std::string::npos) continue;
          parts.push_back(rest.substr(from, at2 - from));
          from = at2 + 2;
        }
        parts.push_back(rest.substr(from));
        for (const auto& part : parts) {
          size_t colon = part.find(": ");
          if (colon == std::string::npos) continue;
          std::string detail = part.substr(colon + 2);
          std::string reason = detail.rfind("Required value", 0) == 0 ? "FieldValueRequired"
                               : detail.rfind("Unsupported value", 0) == 0 ? "FieldValueNotSupported"
                               : detail.rfind("Forbidden", 0) == 0 ? "FieldValueForbidden"
                                                                   : "FieldValueInvalid";
          causes.push_back({{"reason", reason}, {"message", detail}, {"field", part.substr(0, colon)}});
        }
        details["causes"] = causes;
        return StatusResponse(422, "Invalid", m, details);
      }
      return StatusResponse(400, "BadRequest", m);
    }
    case StatusCode::kPermissionDenied:
      return StatusResponse(403, "Forbidden", status.message(), details);
    case StatusCode::kFailedPrecondition:
      return StatusResponse(410, "Expired", status.message());
    case StatusCode::kUnauthenticated:
      return StatusResponse(401, "Unauthorized", "Unauthorized");
    case StatusCode::kUnimplemented:
      return StatusResponse(415, "UnsupportedMediaType", status.message());
    default:
      return StatusResponse(500, "InternalError", "Internal error occurred: " + status.message());
  }
}

ApiResponse BadRequest(std::string_view message) { return StatusResponse(400, "BadRequest", message); }

ApiResponse NotFoundPath() {
  return StatusResponse(404, "NotFound", "the server could not find the requested resource",
                        json::object());
}

ApiResponse MethodNotAllowed() {
  return StatusResponse(405, "MethodNotAllowed",
                        "the server does not allow this method on the requested resource",
                        json::object());
}

namespace {

// One pass over a JSON body in document order, as the strict decoder reports: keys seen twice in
// one object ("duplicate field"), and, for built-in kinds, keys their type does not have
// (builtin_fields.h). Paths are kube's ("metadata.labels.a", "spec.containers[0].ports[0].protocl").
class StrictFieldsSax : public nlohmann::json_sax<json> {
 public:
  // root: the body's type in BuiltinFields; -1 to check duplicates only; -2 for a built-in kind
  // the table lacks (only its metadata is checked, against ObjectMeta).
  explicit StrictFieldsSax(int root)
      : fields_(BuiltinFields::Get()), meta_only_(root == -2), pending_{root < 0 ? -1 : root, false} {}
  std::vector<std::string> errors;

  bool null() override { return Value(); }
  bool boolean(bool) override { return Value(); }
  bool number_integer(number_integer_t) override { return Value(); }
  bool number_unsigned(number_unsigned_t) override { return Value(); }
  bool number_float(number_float_t, const string_t&) override { return Value(); }
  bool string(string_t&) override { return Value(); }
  bool binary(binary_t&) override { return Value(); }
  bool start_object(std::size_t) override {
    frames_.push_back({true, {}, "", 0, Current()});
    return true;
  }
  bool end_object() override { return Leave(); }
  bool start_array(std::size_t) override {
    frames_.push_back({false, {}, "", 0, Current()});
    return true;
  }
  bool end_array() override { return Leave(); }
  bool key(string_t& k) override {
    Frame& f = frames_.back();
    f.key = k;
    pending_ = {-1, false};
    const bool first = f.keys.insert(k).second;
    if (meta_only_ && frames_.size() == 1) {
      if (k == "metadata") pending_ = {fields_.Named("meta.v1.ObjectMeta"), false};
    } else if (f.schema.map) {
      pending_ = {f.schema.type, false};  // any key; the value is of the map's value type
    } else if (f.schema.type >= 0) {
      BuiltinFields::Field field = fields_.Lookup(f.schema.type, k);
      if (!field.known) {
        // The decoder skips an unknown key without remembering it: named once, never "duplicate".
        if (first) errors.push_back("unknown field \"" + Path(k) + "\"");
        return true;
      }
      pending_ = {field.type, field.map};
    }
    if (!first) errors.push_back("duplicate field \"" + Path(k) + "\"");
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override { return false; }

 private:
  // What a container's keys are checked against: a type (or -1, unchecked), or a map of a type.
  struct Schema {
    int type = -1;
    bool map = false;
  };
  struct Frame {
    bool object;
    std::set<std::string> keys;
    std::string key;  // the current member's key (objects)
    size_t index;     // the current element's index (arrays)
    Schema schema;    // objects: their keys'; arrays: their elements'
  };

  std::string Path(const std::string& leaf) const {
    std::string out;
    for (size_t i = 1; i < frames_.size(); ++i) {
      const Frame& parent = frames_[i - 1];
      if (parent.object) {
        out += (out.empty() ? "" : ".") + parent.key;
      } else {
        out += "[" + std::to_string(parent.index) + "]";
      }
    }
    return out + (out.empty() ? "" : ".") + leaf;
  }
  // The schema of the container starting now: an array's element takes the array's, a member
  // what its key named (the root: the body's type).
  Schema Current() const {
    if (!frames_.empty() && !frames_.back().object) return frames_.back().schema;
    return pending_;
  }
  // A value (scalar or container) ends the current array element.
  bool Value() {
    if (!frames_.empty() && !frames_.back().object) ++frames_.back().index;
    return true;
  }
  bool Leave() {
    frames_.pop_back();
    return Value();
  }

  const BuiltinFields& fields_;
  const bool meta_only_;
  std::vector<Frame> frames_;
  Schema pending_;  // the schema of the value after the current key
};

}  // namespace

std::optional<ApiResponse> CheckUnknownFields(const ApiRequest& req, const ResourceType& t,
                                              const std::string& version, const json& obj,
                                              std::vector<std::pair<std::string, std::string>>* warnings) {
  const std::string mode = QueryValue(req, "fieldValidation");
  if (mode == "Ignore") return std::nullopt;
  std::vector<std::string> errors;
  // What only the body shows (a JSON create or update): duplicate keys anywhere, and for
  // built-in kinds the keys their type does not have (the table from kube-apiserver's OpenAPI).
  const std::string media = std::string(TrimSpace(req.content_type.substr(0, req.content_type.find(';'))));
  if ((req.method == "POST" || req.method == "PUT") && (media.empty() || media == "application/json")) {
    const BuiltinFields& fields = BuiltinFields::Get();
    int root = -1;
    if (!t.custom) {
      root = fields.Root(t.GroupVersion(version), t.kind);
      // A kind the table lacks still has ObjectMeta: its body is checked under metadata only.
      if (root < 0) root = -2;
    }
    StrictFieldsSax sax(root);
    if (json::sax_parse(req.body, &sax)) errors = std::move(sax.errors);
  }
  if (t.custom && !t.schema_json.empty()) {
    for (const auto& p : UnknownFields(t, obj)) errors.push_back("unknown field \"" + p + "\"");
  }
  if (errors.empty()) return std::nullopt;
  if (mode == "Strict") {
    std::string fields;
    for (const auto& e : errors) fields += (fields.empty() ? "" : ", ") + e;
    return BadRequest(t.kind + " in version \"" + version + "\" cannot be handled as a " + t.kind +
                      ": strict decoding error: " + fields);
  }
  for (const auto& e : errors) warnings->emplace_back("Warning", WarningHeaderValue(e));
  return std::nullopt;
}

std::string QueryValue(const ApiRequest& req, std::string_view key) {
  auto it = req.query.find(std::string(key));
  return it == req.query.end() ? std::string() : it->second;
}

bool QueryBool(const ApiRequest& req, std::string_view key) {
  std::string v = QueryValue(req, key);
  return v == "true" || v == "1";
}

bool IsDryRun(const ApiRequest& req) {
  auto range = req.query.equal_range("dryRun");
  for (auto it = range.first; it != range.second; ++it) {
    if (it->second == "All") return true;
  }
  return false;
}

json ForVersion(const ResourceType& t, std::string_view version, json obj) {
  if (version != t.version && obj.is_object()) obj["apiVersion"] = t.GroupVersion(version);
  return obj;
}

std::string FieldManager(const ApiRequest& req) {
  std::string m = QueryValue(req, "fieldManager");
  if (!m.empty()) return m;
  std::string ua = req.user_agent.substr(0, req.user_agent.find('/'));
  return ua.empty() ? "unknown" : ua;
}

}  // namespace kdr::kubesim
