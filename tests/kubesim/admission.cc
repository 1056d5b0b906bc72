#include "kubesim/admission.h"

#include <httplib.h>
#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>
#include <utility>

#include "base/log.h"
#include "base/strings.h"
#include "tls/pem.h"
#include "transform/json_patch.h"

namespace kdr::kubesim {
namespace {

using nlohmann::json;

constexpr std::string_view kReviewApiVersion = "admission.k8s.io/v1";
constexpr int kDefaultTimeoutSeconds = 10;

// ---------------------------------------------------------------------------------------------
// Label selectors (metav1.LabelSelector).

struct Requirement {
  std::string key;
  std::string op;  // In, NotIn, Exists, DoesNotExist
  std::vector<std::string> values;
};

struct Selector {
  bool empty = true;  // absent or {}: matches everything
  std::vector<Requirement> requirements;
};

Result<Selector> ParseSelector(const json* s, const std::string& field) {
  Selector out;
  if (s == nullptr || s->is_null()) return out;
  if (!s->is_object()) return Status::InvalidArgument(field + ": must be an object");
  if (auto it = s->find("matchLabels"); it != s->end() && !it->is_null()) {
    if (!it->is_object()) return Status::InvalidArgument(field + ".matchLabels: must be an object");
    for (const auto& [k, v] : it->items()) {
      if (!v.is_string()) {
        return Status::InvalidArgument(field + ".matchLabels." + k + ": must be a string");
      }
      out.requirements.push_back({k, "In", {v.get<std::string>()}});
    }
  }
  if (auto it = s->find("matchExpressions"); it != s->end() && !it->is_null()) {
    if (!it->is_array()) {
      return Status::InvalidArgument(field + ".matchExpressions: must be an array");
    }
    for (size_t i = 0; i < it->size(); ++i) {
      const json& e = (*it)[i];
      std::string f = field + ".matchExpressions[" + std::to_string(i) + "]";
      if (!e.is_object() || !e.contains("key") || !e["key"].is_string()) {
        return Status::InvalidArgument(f + ".key: Required value");
      }
      Requirement r{e["key"].get<std::string>(), e.value("operator", ""), {}};
      if (auto v = e.find("values"); v != e.end() && v->is_array()) {
        for (const auto& x : *v) {
          if (x.is_string()) r.values.push_back(x.get<std::string>());
        }
      }
      if (r.op == "In" || r.op == "NotIn") {
        if (r.values.empty()) {
          return Status::InvalidArgument(f + ".values: Required value: must be specified when " +
                                         "`operator` is 'In' or 'NotIn'");
        }
      } else if (r.op == "Exists" || r.op == "DoesNotExist") {
        if (!r.values.empty()) {
          return Status::InvalidArgument(f + ".values: Forbidden: may not be specified when " +
                                         "`operator` is 'Exists' or 'DoesNotExist'");
        }
      } else {
        return Status::InvalidArgument(f + ".operator: Invalid value: " + Quote(r.op) +
                                       ": not a valid selector operator");
      }
      out.requirements.push_back(std::move(r));
    }
  }
  out.empty = out.requirements.empty();
  return out;
}

bool SelectorMatches(const Selector& s, const json& labels) {
  for (const auto& r : s.requirements) {
    const json* v = nullptr;
    if (labels.is_object()) {
      auto it = labels.find(r.key);
      if (it != labels.end() && it->is_string()) v = &*it;
    }
    bool in = v != nullptr && std::find(r.values.begin(), r.values.end(),
                                        v->get<std::string>()) != r.values.end();
    if (r.op == "In" && !in) return false;
    if (r.op == "NotIn" && in) return false;
    if (r.op == "Exists" && v == nullptr) return false;
    if (r.op == "DoesNotExist" && v != nullptr) return false;
  }
  return true;
}

json LabelsOf(const json* obj) {
  if (obj == nullptr || !obj->is_object()) return json::object();
  auto m = obj->find("metadata");
  if (m == obj->end() || !m->is_object()) return json::object();
  auto l = m->find("labels");
  if (l == m->end() || !l->is_object()) return json::object();
  return *l;
}

// ---------------------------------------------------------------------------------------------
// Webhooks as configured.

struct Rule {
  std::vector<std::string> operations, api_groups, api_versions, resources;
  std::string scope = "*";
};

struct Webhook {
  std::string name;
  std::string configuration;  // the configuration's name, for logs
  std::vector<Rule> rules;
  Selector namespace_selector, object_selector;
  bool fail_closed = true;  // failurePolicy Fail (the v1 default)
  std::string side_effects;  // "" when unset (treated as Unknown)
  int timeout_seconds = kDefaultTimeoutSeconds;
  std::vector<std::string> review_versions;
  // clientConfig
  std::string url;
  std::string service_namespace, service_name, service_path;
  int service_port = 443;
  std::string ca_bundle_pem;
  // A configuration problem found while parsing: calling this webhook fails with it.
  std::string broken;
};

std::vector<std::string> StringList(const json& j, const char* key) {
  std::vector<std::string> out;
  if (auto it = j.find(key); it != j.end() && it->is_array()) {
    for (const auto& v : *it) {
      if (v.is_string()) out.push_back(v.get<std::string>());
    }
  }
  return out;
}

Webhook ParseWebhook(const json& w, const std::string& configuration) {
  Webhook h;
  h.configuration = configuration;
  h.name = w.value("name", "");
  if (auto it = w.find("rules"); it != w.end() && it->is_array()) {
    for (const auto& r : *it) {
      if (!r.is_object()) continue;
      Rule rule;
      rule.operations = StringList(r, "operations");
      rule.api_groups = StringList(r, "apiGroups");
      rule.api_versions = StringList(r, "apiVersions");
      rule.resources = StringList(r, "resources");
      if (auto s = r.find("scope"); s != r.end() && s->is_string()) rule.scope = *s;
      h.rules.push_back(std::move(rule));
    }
  }
  auto selector = [&](const char* key, Selector* out) {
    auto it = w.find(key);
    auto parsed = ParseSelector(it == w.end() ? nullptr : &*it, key);
    if (parsed.ok()) {
      *out = *parsed;
    } else if (h.broken.empty()) {
      h.broken = parsed.status().message();
    }
  };
  selector("namespaceSelector", &h.namespace_selector);
  selector("objectSelector", &h.object_selector);
  h.fail_closed = w.value("failurePolicy", "Fail") != "Ignore";
  if (auto it = w.find("sideEffects"); it != w.end() && it->is_string()) h.side_effects = *it;
  if (auto it = w.find("timeoutSeconds"); it != w.end() && it->is_number_integer()) {
    h.timeout_seconds = std::clamp(it->get<int>(), 1, 30);
  }
  h.review_versions = StringList(w, "admissionReviewVersions");
  const json cc = w.value("clientConfig", json::object());
  if (auto it = cc.find("url"); it != cc.end() && it->is_string()) h.url = *it;
  if (auto it = cc.find("service"); it != cc.end() && it->is_object()) {
    h.service_namespace = it->value("namespace", "");
    h.service_name = it->value("name", "");
    h.service_path = it->value("path", "");
    if (auto p = it->find("port"); p != it->end() && p->is_number_integer()) {
      h.service_port = p->get<int>();
    }
  }
  if (auto it = cc.find("caBundle"); it != cc.end() && it->is_string() && !it->empty()) {
    auto pem = Base64Decode(it->get<std::string>(), "clientConfig.caBundle");
    if (pem.ok()) {
      h.ca_bundle_pem = *pem;
    } else if (h.broken.empty()) {
      h.broken = "unable to load root certificates: " + pem.status().message();
    }
  }
  if (h.url.empty() && h.service_name.empty() && h.broken.empty()) {
    h.broken = "webhook has no clientConfig url or service";
  }
  return h;
}

std::string StringAt(const json& obj, const char* key) {
  if (!obj.is_object()) return "";
  auto it = obj.find(key);
  return it != obj.end() && it->is_string() ? it->get<std::string>() : "";
}

std::string NameOf(const json& obj) {
  auto m = obj.is_object() ? obj.find("metadata") : obj.end();
  return obj.is_object() && m != obj.end() ? StringAt(*m, "name") : "";
}

// Every webhook of `kind`, configurations sorted by name as kube-apiserver does.
std::vector<Webhook> LoadWebhooks(const WebhookSource& source, WebhookKind kind) {
  std::vector<json> configs = source.Configurations(kind);
  std::sort(configs.begin(), configs.end(), [](const json& a, const json& b) {
    return NameOf(a) < NameOf(b);
  });
  std::vector<Webhook> out;
  for (const auto& c : configs) {
    if (!c.is_object()) continue;
    std::string name = NameOf(c);
    auto it = c.find("webhooks");
    if (it == c.end() || !it->is_array()) continue;
    for (const auto& w : *it) {
      if (!w.is_object()) continue;
      try {
        out.push_back(ParseWebhook(w, name));
      } catch (const json::exception& e) {
        // Stored without validation: calling it fails (failurePolicy decides).
        Webhook broken;
        broken.name = w.contains("name") && w["name"].is_string() ? w["name"].get<std::string>()
                                                                  : "";
        broken.configuration = name;
        broken.broken = std::string("malformed webhook configuration: ") + e.what();
        out.push_back(std::move(broken));
      }
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Matching.

bool ListMatches(const std::vector<std::string>& list, std::string_view value) {
  for (const auto& v : list) {
    if (v == "*" || v == value) return true;
  }
  return false;
}

bool IsNamespaceRequest(const AdmissionRequest& r) {
  return r.resource.group.empty() && r.resource.resource == "namespaces";
}

bool RuleMatches(const Rule& rule, const AdmissionRequest& r) {
  if (!ListMatches(rule.operations, OperationName(r.operation))) return false;
  if (!ListMatches(rule.api_groups, r.resource.group)) return false;
  if (!ListMatches(rule.api_versions, r.resource.version)) return false;
  bool resource_match = false;
  for (const auto& res : rule.resources) {
    std::string_view main = res, sub;
    if (auto slash = res.find('/'); slash != std::string::npos) {
      main = std::string_view(res).substr(0, slash);
      sub = std::string_view(res).substr(slash + 1);
    }
    if ((main == "*" || main == r.resource.resource) && (sub == "*" || sub == r.sub_resource)) {
      resource_match = true;
      break;
    }
  }
  if (!resource_match) return false;
  // A Namespace is cluster-scoped even though its requests carry a namespace (its own name).
  if (rule.scope == "Namespaced") return !IsNamespaceRequest(r) && !r.namespace_name.empty();
  if (rule.scope == "Cluster") return IsNamespaceRequest(r) || r.namespace_name.empty();
  return true;
}

// A failure kube-apiserver answers with a Status (not subject to failurePolicy).
struct StatusError {
  int code;
  std::string reason;
  std::string message;
  json details;  // null or a StatusDetails
};

StatusError InternalError(const std::string& err) {
  return {500, "InternalError", "Internal error occurred: " + err,
          json{{"causes", json::array({json{{"message", err}}})}}};
}

// ---------------------------------------------------------------------------------------------
// Calling.

Result<X509_STORE*> NewStore(const std::string& pem) {
  auto store = tls::NewCertStore(pem, "caBundle");
  if (!store.ok()) {
    // kube-apiserver's wording for a caBundle without a certificate.
    return Status::InvalidArgument("unable to load root certificates: unable to parse bytes as PEM block");
  }
  return store->release();
}

std::string NewUid() {
  unsigned char b[16];
  if (RAND_bytes(b, sizeof b) != 1) {
    // RAND_bytes only fails when the CSPRNG cannot be seeded; uniqueness is all a uid needs.
    auto n = std::chrono::steady_clock::now().time_since_epoch().count();
    for (size_t i = 0; i < sizeof b; ++i) b[i] = static_cast<unsigned char>(n >> (i % 8 * 8));
  }
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  char out[37];
  std::snprintf(out, sizeof out,
                "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
                b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
                b[15]);
  return out;
}

json Gvk(const GroupVersionKind& k) {
  return {{"group", k.group}, {"version", k.version}, {"kind", k.kind}};
}
json Gvr(const GroupVersionResource& r) {
  return {{"group", r.group}, {"version", r.version}, {"resource", r.resource}};
}

json DefaultOptions(const AdmissionRequest& r) {
  const char* kind = nullptr;
  switch (r.operation) {
    case Operation::kCreate: kind = "CreateOptions"; break;
    case Operation::kUpdate: kind = "UpdateOptions"; break;
    case Operation::kDelete: kind = "DeleteOptions"; break;
    case Operation::kConnect: return nullptr;
  }
  json o = {{"kind", kind}, {"apiVersion", "meta.k8s.io/v1"}};
  if (r.dry_run) o["dryRun"] = json::array({"All"});
  return o;
}

json BuildReview(const AdmissionRequest& r, const std::string& uid) {
  json user = {{"username", r.user.username}};
  if (!r.user.uid.empty()) user["uid"] = r.user.uid;
  if (!r.user.groups.empty()) user["groups"] = r.user.groups;
  if (!r.user.extra.empty()) user["extra"] = r.user.extra;
  json req = {
      {"uid", uid},
      {"kind", Gvk(r.kind)},
      {"resource", Gvr(r.resource)},
      {"requestKind", Gvk(r.kind)},
      {"requestResource", Gvr(r.resource)},
      {"name", r.name},
      {"operation", OperationName(r.operation)},
      {"userInfo", user},
      {"object", r.object ? *r.object : json(nullptr)},
      {"oldObject", r.old_object ? *r.old_object : json(nullptr)},
      {"dryRun", r.dry_run},
      {"options", r.options ? *r.options : DefaultOptions(r)},
  };
  if (!r.sub_resource.empty()) {
    req["subResource"] = r.sub_resource;
    req["requestSubResource"] = r.sub_resource;
  }
  if (!r.namespace_name.empty()) req["namespace"] = r.namespace_name;
  return {{"apiVersion", kReviewApiVersion}, {"kind", "AdmissionReview"}, {"request", req}};
}

struct CallOutcome {
  // Set when the call itself failed (failurePolicy decides): the ErrCallingWebhook reason.
  std::string call_error;
  json response;  // AdmissionReview.response when the call succeeded
};

std::string VerifyErrorText(long verify_result, const std::string& host) {
  switch (verify_result) {
    case X509_V_OK:
      return "x509: certificate is not valid for " + host;
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    case X509_V_ERR_CERT_SIGNATURE_FAILURE:
      return "x509: certificate signed by unknown authority (" +
             std::string(X509_verify_cert_error_string(verify_result)) + ")";
    case X509_V_ERR_HOSTNAME_MISMATCH:
    case X509_V_ERR_IP_ADDRESS_MISMATCH:
      return "x509: certificate is not valid for " + host;
    default:
      return "x509: " + std::string(X509_verify_cert_error_string(verify_result));
  }
}

struct Target {
  std::string host;     // name verified in the certificate and sent as SNI and Host
  std::string dial;     // IP actually connected to ("" = resolve host)
  int port = 443;
  std::string path;     // path (and query) without the timeout parameter
  std::string display;  // https://host:port/path?timeout=10s, as Go prints the URL
};

Result<Target> ResolveTarget(const Webhook& h,
                             const std::map<std::string, std::string>& endpoints) {
  Target t;
  if (!h.url.empty()) {
    std::string_view u = h.url;
    if (!StartsWith(u, "https://")) {
      return Status::InvalidArgument("webhook url " + Quote(h.url) + " must use https");
    }
    u.remove_prefix(8);
    size_t slash = u.find('/');
    std::string_view hostport = u.substr(0, slash);
    t.path = slash == std::string_view::npos ? "/" : std::string(u.substr(slash));
    std::string_view host = hostport;
    if (!hostport.empty() && hostport.front() == '[') {  // [::1]:443
      size_t close = hostport.find(']');
      host = hostport.substr(1, close == std::string_view::npos ? 0 : close - 1);
      if (close != std::string_view::npos && close + 1 < hostport.size() &&
          hostport[close + 1] == ':') {
        t.port = std::atoi(std::string(hostport.substr(close + 2)).c_str());
      }
    } else if (size_t colon = hostport.rfind(':'); colon != std::string_view::npos) {
      host = hostport.substr(0, colon);
      t.port = std::atoi(std::string(hostport.substr(colon + 1)).c_str());
    }
    if (host.empty() || t.port <= 0 || t.port > 65535) {
      return Status::InvalidArgument("webhook url " + Quote(h.url) + " has no valid host:port");
    }
    t.host = std::string(host);
    t.display = "https://" + std::string(hostport) + t.path;
  } else {
    t.host = h.service_name + "." + h.service_namespace + ".svc";
    t.port = h.service_port;
    t.path = h.service_path.empty() ? "/" : h.service_path;
    t.display = "https://" + t.host + ":" + std::to_string(t.port) + t.path;
    std::string key = h.service_namespace + "/" + h.service_name + ":" + std::to_string(t.port);
    auto it = endpoints.find(key);
    if (it == endpoints.end()) {
      // What a cluster says for a service without ready endpoints.
      return Status::Unavailable("service \"" + h.service_name + "\" not found (no endpoint for " +
                                 key + "; pass --service-endpoint " + key + "=127.0.0.1:PORT)");
    }
    std::string_view addr = it->second;
    size_t colon = addr.rfind(':');
    if (colon == std::string_view::npos) {
      return Status::InvalidArgument("service endpoint " + Quote(addr) + " has no port");
    }
    t.dial = std::string(addr.substr(0, colon));
    t.port = std::atoi(std::string(addr.substr(colon + 1)).c_str());
  }
  std::string timeout_q = "timeout=" + std::to_string(h.timeout_seconds) + "s";
  t.path += (t.path.find('?') == std::string::npos ? "?" : "&") + timeout_q;
  t.display += (t.display.find('?') == std::string::npos ? "?" : "&") + timeout_q;
  return t;
}

CallOutcome Call(const Webhook& h, const json& review, const std::string& uid,
                 const std::map<std::string, std::string>& endpoints) {
  CallOutcome out;
  if (!h.broken.empty()) {
    out.call_error = h.broken;
    return out;
  }
  if (std::find(h.review_versions.begin(), h.review_versions.end(), "v1") ==
      h.review_versions.end()) {
    out.call_error = "webhook does not accept v1 AdmissionReview (admissionReviewVersions: " +
                     Join(h.review_versions, ",") + ")";
    return out;
  }
  auto target = ResolveTarget(h, endpoints);
  if (!target.ok()) {
    out.call_error = "failed to call webhook: " + target.status().message();
    return out;
  }
  const Target& t = *target;
  std::string post = "Post \"" + t.display + "\": ";

  httplib::SSLClient client(t.host, t.port);
  if (!t.dial.empty()) client.set_hostname_addr_map({{t.host, t.dial}});
  client.enable_server_certificate_verification(true);
  if (!h.ca_bundle_pem.empty()) {
    auto store = NewStore(h.ca_bundle_pem);
    if (!store.ok()) {
      out.call_error = "failed to call webhook: " + store.status().message();
      return out;
    }
    client.set_ca_cert_store(*store);  // takes ownership
    // With no CA path set, httplib also loads the system roots into the store: ~30 ms of CPU a
    // call, and roots kube-apiserver would not trust when caBundle is given. A lazily searched,
    // absent hash directory keeps the store to caBundle alone.
    client.set_ca_cert_path("", "/nonexistent/kubesim-cabundle-only");
  }
  auto timeout = std::chrono::seconds(h.timeout_seconds);
  client.set_connection_timeout(timeout);
  client.set_read_timeout(timeout);
  client.set_write_timeout(timeout);
  client.set_keep_alive(false);
  // Headers and body go out in separate writes: without TCP_NODELAY, Nagle plus the peer's
  // delayed ACK add ~40 ms to every call.
  client.set_tcp_nodelay(true);

  auto start = std::chrono::steady_clock::now();
  httplib::Headers headers = {{"Accept", "application/json, */*"}};
  auto res = client.Post(t.path, headers, review.dump(), "application/json");
  if (!res) {
    auto err = res.error();
    std::string reason;
    if (err == httplib::Error::SSLServerVerification) {
      reason = "tls: failed to verify certificate: " +
               VerifyErrorText(client.get_openssl_verify_result(), t.host);
    } else if (std::chrono::steady_clock::now() - start >= timeout) {
      reason = "context deadline exceeded";
    } else if (err == httplib::Error::Connection) {
      reason = "dial tcp " + (t.dial.empty() ? t.host : t.dial) + ":" + std::to_string(t.port) +
               ": connect: connection refused";
    } else if (err == httplib::Error::SSLConnection) {
      reason = "remote error: tls: handshake failure";
    } else {
      reason = httplib::to_string(err);
    }
    out.call_error = "failed to call webhook: " + post + reason;
    return out;
  }
  if (res->status < 200 || res->status > 299) {
    std::string body = res->body.substr(0, 256);
    out.call_error = "failed to call webhook: an error on the server (\"" + body +
                     "\") has prevented the request from succeeding (status " +
                     std::to_string(res->status) + ")";
    return out;
  }
  json parsed;
  try {
    parsed = json::parse(res->body);
  } catch (const json::exception& e) {
    out.call_error = "failed to call webhook: response body is not JSON: " + std::string(e.what());
    return out;
  }
  std::string api_version = parsed.is_object() ? parsed.value("apiVersion", "") : "";
  std::string kind = parsed.is_object() ? parsed.value("kind", "") : "";
  if (api_version != kReviewApiVersion || kind != "AdmissionReview") {
    out.call_error = "received invalid webhook response: expected webhook response of " +
                     std::string(kReviewApiVersion) + ", Kind=AdmissionReview, got " +
                     api_version + ", Kind=" + kind;
    return out;
  }
  auto r = parsed.find("response");
  if (r == parsed.end() || !r->is_object()) {
    out.call_error = "received invalid webhook response: webhook response was absent";
    return out;
  }
  std::string got_uid = StringAt(*r, "uid");
  if (got_uid != uid) {
    out.call_error = "received invalid webhook response: expected response.uid=\"" + uid +
                     "\", got \"" + got_uid + "\"";
    return out;
  }
  if (!r->contains("allowed") || !(*r)["allowed"].is_boolean()) {
    out.call_error = "received invalid webhook response: response.allowed must be a boolean";
    return out;
  }
  if (r->contains("warnings") && !(*r)["warnings"].is_array() && !(*r)["warnings"].is_null()) {
    out.call_error = "received invalid webhook response: response.warnings must be a list";
    return out;
  }
  out.response = *r;
  return out;
}

// ---------------------------------------------------------------------------------------------

std::string StatusBody(const StatusError& e) {
  json s = {{"kind", "Status"},          {"apiVersion", "v1"}, {"metadata", json::object()},
            {"status", "Failure"},       {"message", e.message}};
  if (!e.reason.empty()) s["reason"] = e.reason;
  if (!e.details.is_null()) s["details"] = e.details;
  s["code"] = e.code;
  return s.dump();
}

void Fail(AdmissionResult* result, const StatusError& e) {
  result->allowed = false;
  result->code = e.code;
  result->reason = e.reason;
  result->message = e.message;
  result->status_body = StatusBody(e);
}

// kube-apiserver's ToStatusErr: a denial keeps the webhook's Status, forces a failure code.
StatusError Denial(const std::string& webhook, const json& response) {
  json status = response.value("status", json::object());
  if (!status.is_object()) status = json::object();
  StatusError e;
  e.code = status.contains("code") && status["code"].is_number_integer() ? status["code"].get<int>()
                                                                          : 0;
  if (e.code < 400) e.code = 403;
  e.reason = StringAt(status, "reason");
  std::string message = StringAt(status, "message");
  std::string denied = "admission webhook \"" + webhook + "\" denied the request";
  if (!message.empty()) {
    e.message = denied + ": " + message;
  } else if (!e.reason.empty()) {
    e.message = denied + ": " + e.reason;
  } else {
    e.message = denied + " without explanation";
  }
  e.details = status.contains("details") ? status["details"] : json(nullptr);
  return e;
}

void CollectWarnings(const json& response, std::vector<std::string>* out) {
  auto it = response.find("warnings");
  if (it == response.end() || !it->is_array()) return;
  for (const auto& w : *it) {
    if (!w.is_string()) continue;
    std::string text(TrimSpace(w.get<std::string>()));
    if (!text.empty()) out->push_back(std::move(text));
  }
}

}  // namespace

std::string_view OperationName(Operation op) {
  switch (op) {
    case Operation::kCreate: return "CREATE";
    case Operation::kUpdate: return "UPDATE";
    case Operation::kDelete: return "DELETE";
    case Operation::kConnect: return "CONNECT";
  }
  return "";
}

struct Admission::Impl {
  const WebhookSource* source;
  Logger* logger;
  mutable std::mutex mu;
  std::map<std::string, std::string> endpoints;

  std::map<std::string, std::string> Endpoints() const {
    std::lock_guard<std::mutex> lock(mu);
    return endpoints;
  }

  // Whether h applies to r: rules, then the selectors (whose errors only count for a webhook
  // whose rules match, as in kube-apiserver).
  Result<bool> Matches(const Webhook& h, const AdmissionRequest& r,
                       StatusError* error) const {
    bool rule = std::any_of(h.rules.begin(), h.rules.end(),
                            [&](const Rule& x) { return RuleMatches(x, r); });
    if (!rule) return false;
    // Namespace selector: never exempts cluster-scoped objects other than namespaces.
    bool ns_request = IsNamespaceRequest(r) && r.sub_resource.empty();
    if (!h.namespace_selector.empty && (!r.namespace_name.empty() || ns_request)) {
      json labels;
      if (ns_request &&
          (r.operation == Operation::kCreate || r.operation == Operation::kUpdate)) {
        labels = LabelsOf(r.object);
      } else {
        std::string ns = r.namespace_name.empty() ? r.name : r.namespace_name;
        auto obj = source->Namespace(ns);
        if (!obj) {
          *error = {404, "NotFound", "namespaces \"" + ns + "\" not found",
                    json{{"name", ns}, {"kind", "namespaces"}}};
          return Status::NotFound(error->message);
        }
        labels = LabelsOf(&*obj);
      }
      if (!SelectorMatches(h.namespace_selector, labels)) return false;
    }
    if (!h.object_selector.empty) {
      bool match = (r.object && SelectorMatches(h.object_selector, LabelsOf(r.object))) ||
                   (r.old_object && SelectorMatches(h.object_selector, LabelsOf(r.old_object)));
      if (!match) return false;
    }
    return true;
  }

  void Log(const Webhook& h, const AdmissionRequest& r, std::string_view outcome,
           std::string_view detail) const {
    if (logger == nullptr) return;
    logger->Info("admission webhook called",
                 {{"webhook", h.name},
                  {"configuration", h.configuration},
                  {"operation", std::string(OperationName(r.operation))},
                  {"resource", r.resource.resource +
                                   (r.sub_resource.empty() ? "" : "/" + r.sub_resource)},
                  {"object", (r.namespace_name.empty() ? "" : r.namespace_name + "/") + r.name},
                  {"outcome", std::string(outcome)},
                  {"detail", std::string(detail)}});
  }

  // Selects the webhooks of `kind` that apply; false (with *result failed) on a match error or a
  // dry-run webhook with side effects.
  bool Select(WebhookKind kind, const AdmissionRequest& r, std::vector<Webhook>* out,
              AdmissionResult* result) const {
    for (auto& h : LoadWebhooks(*source, kind)) {
      StatusError error{500, "", "", nullptr};
      auto m = Matches(h, r, &error);
      if (!m.ok()) {
        Fail(result, error);
        return false;
      }
      if (!*m) continue;
      if (r.dry_run && h.side_effects != "None" && h.side_effects != "NoneOnDryRun") {
        Fail(result, {400, "BadRequest",
                      "admission webhook \"" + h.name + "\" does not support dry run", nullptr});
        return false;
      }
      out->push_back(std::move(h));
    }
    return true;
  }

  AdmissionResult Mutate(const AdmissionRequest& r) const {
    AdmissionResult result;
    if (IsExempt(r)) return result;
    std::vector<Webhook> hooks;
    if (!Select(WebhookKind::kMutating, r, &hooks, &result)) return result;
    auto endpoints = hooks.empty() ? std::map<std::string, std::string>{} : Endpoints();
    for (const auto& h : hooks) {
      // Each call sees the object as patched by the webhooks before it.
      std::string uid = NewUid();
      CallOutcome c = Call(h, BuildReview(r, uid), uid, endpoints);
      result.called.push_back(h.name);
      if (c.call_error.empty()) c.call_error = CheckPatchFields(c.response, true);
      if (!c.call_error.empty()) {
        Log(h, r, h.fail_closed ? "failed (failurePolicy Fail)" : "ignored (failurePolicy Ignore)",
            c.call_error);
        if (!h.fail_closed) continue;
        Fail(&result, InternalError("failed calling webhook \"" + h.name + "\": " + c.call_error));
        return result;
      }
      CollectWarnings(c.response, &result.warnings);
      if (!c.response["allowed"].get<bool>()) {
        Log(h, r, "denied", "");
        Fail(&result, Denial(h.name, c.response));
        return result;
      }
      auto patch = c.response.find("patch");
      if (patch != c.response.end() && patch->is_string() && !patch->empty()) {
        if (r.object == nullptr) continue;  // DELETE/CONNECT: nothing to patch
        auto decoded = Base64Decode(patch->get<std::string>(), "response.patch");
        if (!decoded.ok()) {
          Fail(&result, InternalError(decoded.status().message()));
          return result;
        }
        json ops;
        try {
          ops = json::parse(*decoded);
        } catch (const json::exception& e) {
          Fail(&result, InternalError("response.patch of webhook \"" + h.name +
                                      "\" is not a JSON patch: " + e.what()));
          return result;
        }
        Status s = transform::ApplyJsonPatch(r.object, ops);
        if (!s.ok()) {
          Fail(&result, InternalError("applying the patch of webhook \"" + h.name +
                                      "\": " + s.message()));
          return result;
        }
        result.mutated = true;
      }
      Log(h, r, "allowed", result.mutated ? "patched" : "");
    }
    return result;
  }

  AdmissionResult Validate(const AdmissionRequest& r) const {
    AdmissionResult result;
    if (IsExempt(r)) return result;
    std::vector<Webhook> hooks;
    if (!Select(WebhookKind::kValidating, r, &hooks, &result)) return result;
    if (hooks.empty()) return result;
    auto endpoints = Endpoints();
    // kube-apiserver calls validating webhooks in parallel; the first failure in configuration
    // order is reported, so the answer does not depend on which webhook answered first.
    std::vector<CallOutcome> outcomes(hooks.size());
    std::vector<std::string> uids(hooks.size());
    for (size_t i = 0; i < hooks.size(); ++i) uids[i] = NewUid();
    if (hooks.size() == 1) {
      outcomes[0] = Call(hooks[0], BuildReview(r, uids[0]), uids[0], endpoints);
    } else {
      std::vector<std::jthread> threads;
      for (size_t i = 0; i < hooks.size(); ++i) {
        threads.emplace_back([&, i] {
          outcomes[i] = Call(hooks[i], BuildReview(r, uids[i]), uids[i], endpoints);
        });
      }
    }
    std::optional<StatusError> first;
    for (size_t i = 0; i < hooks.size(); ++i) {
      const Webhook& h = hooks[i];
      CallOutcome& c = outcomes[i];
      result.called.push_back(h.name);
      if (c.call_error.empty()) c.call_error = CheckPatchFields(c.response, false);
      if (!c.call_error.empty()) {
        Log(h, r, h.fail_closed ? "failed (failurePolicy Fail)" : "ignored (failurePolicy Ignore)",
            c.call_error);
        if (h.fail_closed && !first) {
          first = InternalError("failed calling webhook \"" + h.name + "\": " + c.call_error);
        }
        continue;
      }
      CollectWarnings(c.response, &result.warnings);
      if (!c.response["allowed"].get<bool>()) {
        Log(h, r, "denied", "");
        if (!first) first = Denial(h.name, c.response);
        continue;
      }
      Log(h, r, "allowed", "");
    }
    if (first) Fail(&result, *first);
    return result;
  }

  // Admission of the webhook configurations themselves is never delegated to webhooks.
  static bool IsExempt(const AdmissionRequest& r) {
    return r.resource.group == "admissionregistration.k8s.io" &&
           (r.resource.resource == "mutatingwebhookconfigurations" ||
            r.resource.resource == "validatingwebhookconfigurations");
  }

  // VerifyAdmissionResponse: patch fields checked before the answer is used.
  static std::string CheckPatchFields(const json& response, bool mutating) {
    auto patch = response.find("patch");
    bool has_patch = patch != response.end() && patch->is_string() && !patch->empty();
    auto type = response.find("patchType");
    bool has_type = type != response.end() && type->is_string() && !type->empty();
    if (!mutating) {
      if (has_patch) return "received invalid webhook response: validating webhook may not " +
                            std::string("return response.patch");
      if (has_type) return "received invalid webhook response: validating webhook may not " +
                           std::string("return response.patchType");
      return "";
    }
    if (has_patch && !has_type) {
      return "received invalid webhook response: webhook returned response.patch but not " +
             std::string("response.patchType");
    }
    if (has_type && type->get<std::string>() != "JSONPatch") {
      return "received invalid webhook response: webhook returned invalid response.patchType of " +
             Quote(type->get<std::string>());
    }
    return "";
  }
};

Admission::Admission(const WebhookSource* source, Options options)
    : impl_(std::make_unique<Impl>()) {
  impl_->source = source;
  impl_->logger = options.logger;
  impl_->endpoints = std::move(options.service_endpoints);
}

Admission::~Admission() = default;

// A malformed stored configuration or response must fail the write, never the server.
template <typename F>
AdmissionResult Guarded(F&& f) {
  try {
    return f();
  } catch (const std::exception& e) {
    AdmissionResult result;
    Fail(&result, InternalError(std::string("admission: ") + e.what()));
    return result;
  }
}

AdmissionResult Admission::Mutate(const AdmissionRequest& request) const {
  return Guarded([&] { return impl_->Mutate(request); });
}

AdmissionResult Admission::Validate(const AdmissionRequest& request) const {
  return Guarded([&] { return impl_->Validate(request); });
}

AdmissionResult Admission::Admit(const AdmissionRequest& request) const {
  AdmissionResult mutated = impl_->Mutate(request);
  if (!mutated.allowed) return mutated;
  AdmissionResult validated = impl_->Validate(request);
  validated.mutated = mutated.mutated;
  validated.warnings.insert(validated.warnings.begin(), mutated.warnings.begin(),
                            mutated.warnings.end());
  validated.called.insert(validated.called.begin(), mutated.called.begin(),
                          mutated.called.end());
  return validated;
}

void Admission::SetServiceEndpoint(const std::string& service, const std::string& address) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->endpoints[service] = address;
}

Status ParseServiceEndpoint(std::string_view flag_value,
                            std::map<std::string, std::string>* endpoints) {
  auto bad = [&](std::string_view why) {
    return Status::InvalidArgument("--service-endpoint " + Quote(flag_value) + ": " +
                                   std::string(why) +
                                   "; use NAMESPACE/NAME:PORT=HOST:PORT, e.g. " +
                                   "kubectl-dr-system/kubectl-dr-webhook:443=127.0.0.1:8443");
  };
  size_t eq = flag_value.find('=');
  if (eq == std::string_view::npos) return bad("missing '='");
  std::string_view service = flag_value.substr(0, eq), address = flag_value.substr(eq + 1);
  size_t slash = service.find('/');
  size_t colon = service.rfind(':');
  if (slash == std::string_view::npos || slash == 0 || colon == std::string_view::npos ||
      colon < slash + 2) {
    return bad("the service must be NAMESPACE/NAME:PORT");
  }
  auto valid_port = [](std::string_view p) {
    if (p.empty() || p.size() > 5) return false;
    for (char c : p) {
      if (c < '0' || c > '9') return false;
    }
    int n = std::atoi(std::string(p).c_str());
    return n > 0 && n <= 65535;
  };
  if (!valid_port(service.substr(colon + 1))) return bad("the service port is not a port number");
  size_t acolon = address.rfind(':');
  if (acolon == std::string_view::npos || acolon == 0) return bad("the address must be HOST:PORT");
  if (!valid_port(address.substr(acolon + 1))) return bad("the address port is not a port number");
  (*endpoints)[std::string(service)] = std::string(address);
  return Status::Ok();
}

std::string WarningHeaderValue(std::string_view text) {
  std::string out = "299 - \"";
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  out += '"';
  return out;
}

Status ValidateConfiguration(WebhookKind kind, const nlohmann::json& configuration) {
  std::vector<std::string> errs;
  auto add = [&](std::string e) { errs.push_back(std::move(e)); };
  const json& c = configuration;
  if (!c.is_object()) return Status::InvalidArgument("configuration: must be an object");
  auto hooks = c.find("webhooks");
  if (hooks != c.end() && !hooks->is_null() && !hooks->is_array()) {
    return Status::InvalidArgument("webhooks: Invalid value: must be a list");
  }
  std::set<std::string> names;
  size_t n = hooks == c.end() || hooks->is_null() ? 0 : hooks->size();
  for (size_t i = 0; i < n; ++i) {
    const json& w = (*hooks)[i];
    std::string f = "webhooks[" + std::to_string(i) + "]";
    if (!w.is_object()) {
      add(f + ": Invalid value: must be an object");
      continue;
    }
    std::string name = w.value("name", "");
    if (name.empty()) {
      add(f + ".name: Required value");
    } else if (name.find('.') == std::string::npos) {
      add(f + ".name: Invalid value: " + Quote(name) +
          ": should be a domain with at least three segments separated by dots");
    } else if (!names.insert(name).second) {
      add(f + ".name: Duplicate value: " + Quote(name));
    }
    const json cc = w.value("clientConfig", json::object());
    bool has_url = cc.contains("url") && cc["url"].is_string();
    bool has_service = cc.contains("service") && cc["service"].is_object();
    if (has_url == has_service) {
      add(f + ".clientConfig: Required value: exactly one of url or service is required");
    } else if (has_url) {
      std::string url = cc["url"];
      if (!StartsWith(url, "https://")) {
        add(f + ".clientConfig.url: Invalid value: \"" + url.substr(0, url.find(':')) +
            "\": 'https' is the only allowed URL scheme");
      }
    } else {
      const json& s = cc["service"];
      if (s.value("name", "").empty()) add(f + ".clientConfig.service.name: Required value");
      if (s.value("namespace", "").empty()) {
        add(f + ".clientConfig.service.namespace: Required value");
      }
      if (s.contains("port") &&
          (!s["port"].is_number_integer() || s["port"].get<int>() < 1 ||
           s["port"].get<int>() > 65535)) {
        add(f + ".clientConfig.service.port: Invalid value: " + s["port"].dump() +
            ": port is not valid: must be between 1 and 65535, inclusive");
      }
    }
    if (auto ca = cc.find("caBundle"); ca != cc.end() && ca->is_string() && !ca->empty()) {
      if (!Base64Decode(ca->get<std::string>(), "caBundle").ok()) {
        add(f + ".clientConfig.caBundle: Invalid value: illegal base64 data");
      }
    }
    std::string se = w.value("sideEffects", "");
    if (se.empty()) {
      add(f + ".sideEffects: Required value: must specify one of None, NoneOnDryRun");
    } else if (se != "None" && se != "NoneOnDryRun") {
      add(f + ".sideEffects: Unsupported value: " + Quote(se) +
          ": supported values: \"None\", \"NoneOnDryRun\"");
    }
    auto versions = StringList(w, "admissionReviewVersions");
    if (versions.empty()) {
      add(f + ".admissionReviewVersions: Required value: must specify one of v1, v1beta1");
    } else if (std::none_of(versions.begin(), versions.end(),
                            [](const std::string& v) { return v == "v1" || v == "v1beta1"; })) {
      add(f + ".admissionReviewVersions: Invalid value: " + json(versions).dump() +
          ": must include at least one of v1, v1beta1");
    }
    if (w.contains("failurePolicy")) {
      std::string fp = w.value("failurePolicy", "");
      if (fp != "Fail" && fp != "Ignore") {
        add(f + ".failurePolicy: Unsupported value: " + Quote(fp) +
            ": supported values: \"Fail\", \"Ignore\"");
      }
    }
    if (w.contains("matchPolicy")) {
      std::string mp = w.value("matchPolicy", "");
      if (mp != "Exact" && mp != "Equivalent") {
        add(f + ".matchPolicy: Unsupported value: " + Quote(mp) +
            ": supported values: \"Equivalent\", \"Exact\"");
      }
    }
    if (kind == WebhookKind::kMutating && w.contains("reinvocationPolicy")) {
      std::string rp = w.value("reinvocationPolicy", "");
      if (rp != "Never" && rp != "IfNeeded") {
        add(f + ".reinvocationPolicy: Unsupported value: " + Quote(rp) +
            ": supported values: \"IfNeeded\", \"Never\"");
      }
    }
    if (auto t = w.find("timeoutSeconds"); t != w.end() && !t->is_null()) {
      if (!t->is_number_integer() || t->get<int>() < 1 || t->get<int>() > 30) {
        add(f + ".timeoutSeconds: Invalid value: " + t->dump() +
            ": the timeout value must be between 1 and 30 seconds");
      }
    }
    for (const char* sel : {"namespaceSelector", "objectSelector"}) {
      auto it = w.find(sel);
      auto parsed = ParseSelector(it == w.end() ? nullptr : &*it, f + "." + sel);
      if (!parsed.ok()) add(parsed.status().message());
    }
    if (auto rules = w.find("rules"); rules != w.end() && rules->is_array()) {
      for (size_t j = 0; j < rules->size(); ++j) {
        const json& r = (*rules)[j];
        std::string rf = f + ".rules[" + std::to_string(j) + "]";
        if (!r.is_object()) {
          add(rf + ": Invalid value: must be an object");
          continue;
        }
        auto ops = StringList(r, "operations");
        if (ops.empty()) add(rf + ".operations: Required value");
        for (const auto& op : ops) {
          if (op != "*" && op != "CREATE" && op != "UPDATE" && op != "DELETE" &&
              op != "CONNECT") {
            add(rf + ".operations: Unsupported value: " + Quote(op) +
                ": supported values: \"*\", \"CONNECT\", \"CREATE\", \"DELETE\", \"UPDATE\"");
          }
        }
        if (!r.contains("apiGroups")) add(rf + ".apiGroups: Required value");
        if (StringList(r, "apiVersions").empty()) add(rf + ".apiVersions: Required value");
        if (StringList(r, "resources").empty()) add(rf + ".resources: Required value");
        if (r.contains("scope")) {
          std::string scope = r.value("scope", "");
          if (scope != "*" && scope != "Cluster" && scope != "Namespaced") {
            add(rf + ".scope: Unsupported value: " + Quote(scope) +
                ": supported values: \"*\", \"Cluster\", \"Namespaced\"");
          }
        }
      }
    }
  }
  if (errs.empty()) return Status::Ok();
  if (errs.size() == 1) return Status::InvalidArgument(errs[0]);
  return Status::InvalidArgument("[" + Join(errs, ", ") + "]");
}

}  // namespace kdr::kubesim
