#include "validation.h"

#include <nlohmann/json.hpp>
#include <regex>

namespace kdr::kubesim {
namespace {

using json = nlohmann::json;

bool IsAlnumLower(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

bool IsDns1123Label(const std::string& s) {
  if (s.empty() || s.size() > 63) return false;
  if (!IsAlnumLower(s.front()) || !IsAlnumLower(s.back())) return false;
  for (char c : s) {
    if (!IsAlnumLower(c) && c != '-') return false;
  }
  return true;
}

bool IsDns1123Subdomain(const std::string& s) {
  if (s.empty() || s.size() > 253) return false;
  size_t start = 0;
  while (true) {
    size_t dot = s.find('.', start);
    std::string part = s.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (part.empty() || !IsAlnumLower(part.front()) || !IsAlnumLower(part.back())) return false;
    for (char c : part) {
      if (!IsAlnumLower(c) && c != '-') return false;
    }
    if (dot == std::string::npos) return true;
    start = dot + 1;
  }
}

bool IsDns1035Label(const std::string& s) {
  return IsDns1123Label(s) && s.front() >= 'a' && s.front() <= 'z';
}

constexpr const char* kSubdomainMsg =
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used "
    "for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
constexpr const char* kLabelMsg =
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and "
    "must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex "
    "used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
constexpr const char* kDns1035Msg =
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
    "alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or "
    "'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')";

bool IsLabelValue(const std::string& v) {
  if (v.empty()) return true;
  if (v.size() > 63) return false;
  auto alnum = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; };
  if (!alnum(v.front()) || !alnum(v.back())) return false;
  for (char c : v) {
    if (!alnum(c) && c != '-' && c != '_' && c != '.') return false;
  }
  return true;
}

bool IsQualifiedName(const std::string& k) {
  std::string name = k;
  size_t slash = k.find('/');
  if (slash != std::string::npos) {
    if (!IsDns1123Subdomain(k.substr(0, slash))) return false;
    name = k.substr(slash + 1);
  }
  return !name.empty() && name.size() <= 63 && IsLabelValue(name);
}

}  // namespace

std::string QualifiedKind(const ResourceType& t) {
  return t.group.empty() ? t.kind : t.kind + "." + t.group;
}

Status ValidateObject(const ResourceType& t, const json& obj) {
  const json& meta = obj["metadata"];
  const std::string name = meta.value("name", "");
  std::vector<std::string> errs;
  auto invalid = [&](const std::string& field, const std::string& value, const std::string& why) {
    errs.push_back(field + ": Invalid value: " + json(value).dump() + ": " + why);
  };
  if (t.group == "rbac.authorization.k8s.io") {
    if (name == "." || name == ".." || name.find('/') != std::string::npos ||
        name.find('%') != std::string::npos) {
      invalid("metadata.name", name, "may not contain '/' or '%'");
    }
  } else if (t.group.empty() && t.resource == "namespaces") {
    if (!IsDns1123Label(name)) invalid("metadata.name", name, kLabelMsg);
  } else if (t.group.empty() && t.resource == "services") {
    if (!IsDns1035Label(name)) invalid("metadata.name", name, kDns1035Msg);
  } else if (!IsDns1123Subdomain(name)) {
    invalid("metadata.name", name, kSubdomainMsg);
  }
  if (auto labels = meta.find("labels"); labels != meta.end()) {
    if (!labels->is_object() && !labels->is_null()) {
      errs.push_back("metadata.labels: Invalid value: must be a map of strings");
    } else if (labels->is_object()) {
      for (const auto& [k, v] : labels->items()) {
        if (!IsQualifiedName(k)) {
          invalid("metadata.labels", k, "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character");
        }
        if (!v.is_string() || !IsLabelValue(v.get<std::string>())) {
          invalid("metadata.labels", v.is_string() ? v.get<std::string>() : v.dump(),
                  "a valid label must be an empty string or consist of alphanumeric characters, "
                  "'-', '_' or '.', and must start and end with an alphanumeric character");
        }
      }
    }
  }
  if (auto ann = meta.find("annotations"); ann != meta.end() && ann->is_object()) {
    for (const auto& [k, v] : ann->items()) {
      if (!v.is_string()) {
        errs.push_back("metadata.annotations: Invalid value: " + v.dump() + ": must be a string");
      }
    }
  }
  if (t.group == "apps" && (t.resource == "deployments" || t.resource == "statefulsets" ||
                            t.resource == "replicasets" || t.resource == "daemonsets")) {
    const json spec = obj.value("spec", json::object());
    if (!spec.contains("selector")) errs.push_back("spec.selector: Required value");
    if (auto r = spec.find("replicas"); r != spec.end() && (!r->is_number_integer() || r->get<int64_t>() < 0)) {
      errs.push_back("spec.replicas: Invalid value: " + r->dump() + ": must be greater than or equal to 0");
    }
  }
  if (errs.empty()) return Status::Ok();
  std::string msg;
  for (const auto& e : errs) msg += (msg.empty() ? "" : ", ") + e;
  if (errs.size() > 1) msg = "[" + msg + "]";
  return Status::InvalidArgument(QualifiedKind(t) + " " + json(name).dump() + " is invalid: " + msg);
}

}  // namespace kdr::kubesim
