#include "kube/kubeconfig.h"

#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>
#include <set>

#include "base/fs.h"
#include "base/strings.h"
#include "base/yaml.h"

namespace kdr::kube {
namespace {

using nlohmann::json;

constexpr std::string_view kExecApiV1 = "client.authentication.k8s.io/v1";
constexpr std::string_view kExecApiV1beta1 = "client.authentication.k8s.io/v1beta1";
constexpr std::string_view kExecExtensionName = "client.authentication.k8s.io/exec";

// Reads obj[key] as a string: "" when absent or null, InvalidArgument when another type.
Status GetString(const json& obj, const char* key, const std::string& where, std::string* out) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return Status::Ok();
  if (!it->is_string()) {
    return Status::InvalidArgument(where + ": field " + key + " must be a string, not " +
                                   it->type_name());
  }
  *out = it->get<std::string>();
  return Status::Ok();
}

Status GetBool(const json& obj, const char* key, const std::string& where, bool* out) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return Status::Ok();
  if (!it->is_boolean()) {
    return Status::InvalidArgument(where + ": field " + key + " must be true or false, not " +
                                   it->dump());
  }
  *out = it->get<bool>();
  return Status::Ok();
}

// A path from a kubeconfig, resolved against the directory of the file that holds it.
std::string ResolvePath(const std::string& path, const std::string& file) {
  if (path.empty() || path.front() == '/') return path;
  return JoinPath(DirName(file), path);
}

// Iterates a named list (clusters/contexts/users: [{name, <body_key>: {...}}]), calling
// fn(name, body, where) for each entry. Duplicate names within one file are an error, as in
// client-go.
template <typename Fn>
Status ForEachNamed(const json& doc, const char* list_key, const char* body_key,
                    const std::string& file, Fn fn) {
  auto it = doc.find(list_key);
  if (it == doc.end() || it->is_null()) return Status::Ok();
  if (!it->is_array()) {
    return Status::InvalidArgument("kubeconfig " + file + ": field " + list_key +
                                   " must be a list, not " + it->type_name());
  }
  std::set<std::string> seen;
  for (size_t i = 0; i < it->size(); ++i) {
    const json& entry = (*it)[i];
    std::string where = "kubeconfig " + file + ": " + list_key + "[" + std::to_string(i) + "]";
    if (!entry.is_object()) {
      return Status::InvalidArgument(where + " must be a mapping, not " + entry.type_name());
    }
    std::string name;
    KDR_RETURN_IF_ERROR(GetString(entry, "name", where, &name));
    if (name.empty()) return Status::InvalidArgument(where + " has no name");
    if (!seen.insert(name).second) {
      return Status::InvalidArgument("kubeconfig " + file + ": " + list_key +
                                     " has two entries named " + Quote(name));
    }
    where = "kubeconfig " + file + ": " +
            std::string(list_key).substr(0, std::strlen(list_key) - 1) + " " + Quote(name);
    json body = json::object();
    auto b = entry.find(body_key);
    if (b != entry.end() && !b->is_null()) {
      if (!b->is_object()) {
        return Status::InvalidArgument(where + ": field " + body_key + " must be a mapping, not " +
                                       b->type_name());
      }
      body = *b;
    }
    KDR_RETURN_IF_ERROR(fn(name, body, where));
  }
  return Status::Ok();
}

Status ParseCluster(const json& body, const std::string& where, KubeconfigCluster* c) {
  KDR_RETURN_IF_ERROR(GetString(body, "server", where, &c->server));
  KDR_RETURN_IF_ERROR(GetString(body, "certificate-authority", where, &c->certificate_authority));
  KDR_RETURN_IF_ERROR(
      GetString(body, "certificate-authority-data", where, &c->certificate_authority_data));
  KDR_RETURN_IF_ERROR(
      GetBool(body, "insecure-skip-tls-verify", where, &c->insecure_skip_tls_verify));
  KDR_RETURN_IF_ERROR(GetString(body, "tls-server-name", where, &c->tls_server_name));
  KDR_RETURN_IF_ERROR(GetString(body, "proxy-url", where, &c->proxy_url));
  auto ext = body.find("extensions");
  if (ext != body.end() && ext->is_array()) {
    for (const json& e : *ext) {
      if (e.is_object() && e.value("name", json()) == kExecExtensionName) {
        auto v = e.find("extension");
        if (v != e.end() && !v->is_null()) c->exec_extension_json = v->dump();
      }
    }
  }
  c->certificate_authority = ResolvePath(c->certificate_authority, c->source);
  return Status::Ok();
}

// Exec entries are checked here but their faults are kept for resolution time, so that a broken
// user only breaks the contexts that use it (kubectl validates the chosen context only).
std::string ParseExec(const json& e, const std::string& file, ExecConfig* x) {
  if (!e.is_object()) return "field exec must be a mapping";
  auto str = [&](const char* key, std::string* out) -> std::string {
    auto it = e.find(key);
    if (it == e.end() || it->is_null()) return "";
    if (!it->is_string()) return std::string("exec.") + key + " must be a string";
    *out = it->get<std::string>();
    return "";
  };
  for (auto [key, out] : {std::pair{"apiVersion", &x->api_version},
                          {"command", &x->command},
                          {"installHint", &x->install_hint},
                          {"interactiveMode", &x->interactive_mode}}) {
    if (std::string err = str(key, out); !err.empty()) return err;
  }
  if (x->api_version != kExecApiV1 && x->api_version != kExecApiV1beta1) {
    return "exec.apiVersion " + Quote(x->api_version) + " is not supported (use " +
           std::string(kExecApiV1) + " or " + std::string(kExecApiV1beta1) + ")";
  }
  if (x->command.empty()) return "exec.command is empty";
  if (x->command.find('/') != std::string::npos) x->command = ResolvePath(x->command, file);
  if (auto it = e.find("args"); it != e.end() && !it->is_null()) {
    if (!it->is_array()) return "exec.args must be a list of strings";
    for (const json& a : *it) {
      if (!a.is_string()) return "exec.args must be a list of strings";
      x->args.push_back(a.get<std::string>());
    }
  }
  if (auto it = e.find("env"); it != e.end() && !it->is_null()) {
    if (!it->is_array()) return "exec.env must be a list of {name, value}";
    for (const json& v : *it) {
      if (!v.is_object() || !v.value("name", json()).is_string() ||
          !v.value("value", json("")).is_string()) {
        return "exec.env must be a list of {name, value} strings";
      }
      x->env.emplace_back(v["name"].get<std::string>(), v.value("value", std::string()));
    }
  }
  if (auto it = e.find("provideClusterInfo"); it != e.end() && !it->is_null()) {
    if (!it->is_boolean()) return "exec.provideClusterInfo must be true or false";
    x->provide_cluster_info = it->get<bool>();
  }
  if (x->interactive_mode.empty()) {
    // v1 requires the field; v1beta1 defaulted it to IfAvailable.
    if (x->api_version == kExecApiV1)
      return "exec.interactiveMode is required for " + x->api_version;
    x->interactive_mode = "IfAvailable";
  }
  if (x->interactive_mode != "Never" && x->interactive_mode != "IfAvailable" &&
      x->interactive_mode != "Always") {
    return "exec.interactiveMode " + Quote(x->interactive_mode) +
           " is not one of Never, IfAvailable, Always";
  }
  return "";
}

Status ParseUser(const json& body, const std::string& where, KubeconfigUser* u) {
  KDR_RETURN_IF_ERROR(GetString(body, "client-certificate", where, &u->client_certificate));
  KDR_RETURN_IF_ERROR(
      GetString(body, "client-certificate-data", where, &u->client_certificate_data));
  KDR_RETURN_IF_ERROR(GetString(body, "client-key", where, &u->client_key));
  KDR_RETURN_IF_ERROR(GetString(body, "client-key-data", where, &u->client_key_data));
  KDR_RETURN_IF_ERROR(GetString(body, "token", where, &u->token));
  KDR_RETURN_IF_ERROR(GetString(body, "tokenFile", where, &u->token_file));
  std::string username, password;
  KDR_RETURN_IF_ERROR(GetString(body, "username", where, &username));
  KDR_RETURN_IF_ERROR(GetString(body, "password", where, &password));
  u->has_basic_auth = !username.empty() || !password.empty();
  if (auto it = body.find("auth-provider"); it != body.end() && !it->is_null()) {
    u->auth_provider = it->is_object() ? it->value("name", std::string()) : std::string();
    if (u->auth_provider.empty()) u->auth_provider = "unnamed";
  }
  if (auto it = body.find("exec"); it != body.end() && !it->is_null()) {
    ExecConfig x;
    u->exec_error = ParseExec(*it, u->source, &x);
    u->exec = std::move(x);
  }
  u->client_certificate = ResolvePath(u->client_certificate, u->source);
  u->client_key = ResolvePath(u->client_key, u->source);
  u->token_file = ResolvePath(u->token_file, u->source);
  return Status::Ok();
}

// Merges `from` into `into`: the first to set a key wins.
void Merge(Kubeconfig from, Kubeconfig* into) {
  into->files.insert(into->files.end(), from.files.begin(), from.files.end());
  if (into->current_context.empty()) into->current_context = from.current_context;
  into->clusters.merge(from.clusters);
  into->contexts.merge(from.contexts);
  into->users.merge(from.users);
}

// Reads a file, rewording the FileSystem's error to name what it is.
Result<std::string> ReadNamed(const FileSystem& fs, const std::string& path,
                              const std::string& what) {
  auto r = fs.ReadFile(path);
  if (r.ok()) return r;
  std::string reason = r.status().message();
  if (size_t p = reason.rfind(": "); p != std::string::npos) reason = reason.substr(p + 2);
  if (r.status().code() == StatusCode::kNotFound) {
    return Status::NotFound(what + " " + path + " does not exist");
  }
  return Status(r.status().code(), "cannot read " + what + " " + path + ": " + reason);
}

Result<Kubeconfig> LoadFile(const FileSystem& fs, const std::string& path) {
  KDR_ASSIGN_OR_RETURN(std::string text, ReadNamed(fs, path, "kubeconfig"));
  return ParseKubeconfig(text, path);
}

bool LooksLikePem(std::string_view data) {
  return data.find("-----BEGIN ") != std::string_view::npos;
}

// PEM from `data` (base64) or else from the file `path`. what: "certificate-authority", role: the
// entry ("cluster \"prod\" in /x/config").
Result<std::string> LoadPem(const FileSystem& fs, const std::string& data, const std::string& path,
                            const std::string& what, const std::string& role) {
  std::string pem;
  if (!data.empty()) {
    KDR_ASSIGN_OR_RETURN(pem, Base64Decode(data, what + "-data of " + role));
    if (!LooksLikePem(pem)) {
      return Status::InvalidArgument(what + "-data of " + role +
                                     " does not decode to PEM (expected \"-----BEGIN ...\")");
    }
    return pem;
  }
  if (path.empty()) return std::string();
  auto r = ReadNamed(fs, path, what);
  if (!r.ok()) return r.status().WithContext(role);
  if (!LooksLikePem(*r)) {
    return Status::InvalidArgument(role + ": " + what + " " + path +
                                   " is not PEM (expected \"-----BEGIN ...\")");
  }
  return r;
}

std::string UnsupportedAuthProviderAdvice(const std::string& provider) {
  if (provider == "gcp") {
    return "use the exec plugin gke-gcloud-auth-plugin instead (gcloud components install "
           "gke-gcloud-auth-plugin, then gcloud container clusters get-credentials)";
  }
  if (provider == "azure") {
    return "use the exec plugin kubelogin instead (kubelogin convert-kubeconfig)";
  }
  if (provider == "oidc") {
    return "use an exec plugin instead, e.g. kubectl oidc-login (int128/kubelogin: kubectl "
           "oidc-login setup)";
  }
  return "use an exec credential plugin instead";
}

}  // namespace

ConfigPaths ConfigPaths::FromEnvironment() {
  ConfigPaths p;
  auto get = [](const char* name) -> std::string {
    const char* v = std::getenv(name);
    return v ? v : "";
  };
  if (const char* v = std::getenv("KUBECONFIG")) p.kubeconfig_env = v;
  p.home = get("HOME");
  p.service_host = get("KUBERNETES_SERVICE_HOST");
  p.service_port = get("KUBERNETES_SERVICE_PORT");
  // kubesim's node runs the agent as a local process and cannot mount the token where a kubelet
  // does: it names the directory here.
  if (std::string dir = get("KUBECTL_DR_SERVICEACCOUNT_DIR"); !dir.empty()) p.in_cluster_dir = dir;
  return p;
}

std::vector<std::string> Kubeconfig::ContextNames() const {
  std::vector<std::string> names;
  for (const auto& [name, ctx] : contexts) names.push_back(name);
  return names;
}

std::string Kubeconfig::FilesForMessages() const {
  if (files.empty()) return "(no kubeconfig file)";
  return Join(files, ":");
}

Result<Kubeconfig> ParseKubeconfig(std::string_view yaml, const std::string& path) {
  KDR_ASSIGN_OR_RETURN(json doc, YamlToJson(yaml, "kubeconfig " + path));
  Kubeconfig kc;
  kc.files.push_back(path);
  if (doc.is_null()) return kc;
  if (!doc.is_object()) {
    return Status::InvalidArgument("kubeconfig " + path +
                                   " must be a mapping (apiVersion: v1, kind: Config), not " +
                                   doc.type_name());
  }
  try {
    std::string where = "kubeconfig " + path;
    KDR_RETURN_IF_ERROR(GetString(doc, "current-context", where, &kc.current_context));
    KDR_RETURN_IF_ERROR(
        ForEachNamed(doc, "clusters", "cluster", path,
                     [&](const std::string& name, const json& body, const std::string& w) {
                       KubeconfigCluster c;
                       c.name = name;
                       c.source = path;
                       KDR_RETURN_IF_ERROR(ParseCluster(body, w, &c));
                       kc.clusters.emplace(name, std::move(c));
                       return Status::Ok();
                     }));
    KDR_RETURN_IF_ERROR(
        ForEachNamed(doc, "users", "user", path,
                     [&](const std::string& name, const json& body, const std::string& w) {
                       KubeconfigUser u;
                       u.name = name;
                       u.source = path;
                       KDR_RETURN_IF_ERROR(ParseUser(body, w, &u));
                       kc.users.emplace(name, std::move(u));
                       return Status::Ok();
                     }));
    KDR_RETURN_IF_ERROR(
        ForEachNamed(doc, "contexts", "context", path,
                     [&](const std::string& name, const json& body, const std::string& w) {
                       KubeconfigContext c;
                       c.name = name;
                       c.source = path;
                       KDR_RETURN_IF_ERROR(GetString(body, "cluster", w, &c.cluster));
                       KDR_RETURN_IF_ERROR(GetString(body, "user", w, &c.user));
                       KDR_RETURN_IF_ERROR(GetString(body, "namespace", w, &c.namespace_name));
                       kc.contexts.emplace(name, std::move(c));
                       return Status::Ok();
                     }));
  } catch (const json::exception& e) {
    return Status::InvalidArgument("kubeconfig " + path + ": " + e.what());
  }
  return kc;
}

Result<Kubeconfig> LoadKubeconfig(const ConfigOverrides& overrides, const Env& env,
                                  const ConfigPaths& paths) {
  const FileSystem& fs = *env.fs;
  if (!overrides.kubeconfig.empty()) {
    auto r = LoadFile(fs, overrides.kubeconfig);
    if (!r.ok() && r.status().code() == StatusCode::kNotFound) {
      return Status::NotFound("kubeconfig " + overrides.kubeconfig +
                              " (--kubeconfig) does not exist; check the path");
    }
    return r;
  }
  std::vector<std::string> candidates;
  if (paths.kubeconfig_env && !paths.kubeconfig_env->empty()) {
    std::set<std::string> seen;
    for (const std::string& p : Split(*paths.kubeconfig_env, ':')) {
      if (!p.empty() && seen.insert(p).second) candidates.push_back(p);
    }
  } else if (!paths.home.empty()) {
    candidates.push_back(JoinPath(paths.home, ".kube/config"));
  }
  Kubeconfig merged;
  for (const std::string& path : candidates) {
    auto st = fs.Stat(path);
    if (!st.ok() && st.status().code() == StatusCode::kNotFound) continue;  // kubectl skips them
    KDR_ASSIGN_OR_RETURN(Kubeconfig one, LoadFile(fs, path));
    Merge(std::move(one), &merged);
  }
  return merged;
}

Result<RestConfig> ResolveRestConfig(const Kubeconfig& config, const ConfigOverrides& overrides,
                                     const Env& env) {
  const FileSystem& fs = *env.fs;
  const std::string files = config.FilesForMessages();
  std::string context_name = overrides.context.empty() ? config.current_context : overrides.context;
  if (context_name.empty()) {
    std::vector<std::string> names = config.ContextNames();
    std::string known = names.empty() ? "it defines no context" : "contexts: " + Join(names, ", ");
    return Status::InvalidArgument("no current context in kubeconfig " + files + " (" + known +
                                   "); pass --context NAME or run kubectl config use-context NAME");
  }
  auto ctx_it = config.contexts.find(context_name);
  if (ctx_it == config.contexts.end()) {
    std::string hint = DidYouMean(context_name, config.ContextNames());
    if (hint.empty() && overrides.context.empty()) {
      hint = "; fix it with kubectl config use-context NAME";
    }
    return Status::NotFound((overrides.context.empty() ? "current-context " : "context ") +
                            Quote(context_name) + " not found in kubeconfig " + files + hint);
  }
  const KubeconfigContext& ctx = ctx_it->second;
  const std::string ctx_role = "context " + Quote(ctx.name) + " in " + ctx.source;

  if (ctx.cluster.empty()) {
    return Status::InvalidArgument(ctx_role + " names no cluster; set contexts[].context.cluster");
  }
  auto cl_it = config.clusters.find(ctx.cluster);
  if (cl_it == config.clusters.end()) {
    std::vector<std::string> names;
    for (const auto& [n, c] : config.clusters) names.push_back(n);
    return Status::InvalidArgument(ctx_role + " names cluster " + Quote(ctx.cluster) +
                                   ", which is not defined in kubeconfig " + files +
                                   DidYouMean(ctx.cluster, names));
  }
  const KubeconfigCluster& cluster = cl_it->second;
  const std::string cl_role = "cluster " + Quote(cluster.name) + " in " + cluster.source;

  RestConfig rc;
  rc.context = ctx.name;
  rc.cluster_name = cluster.name;
  rc.user_name = ctx.user;
  rc.source = ctx.source;
  rc.namespace_name = !overrides.namespace_name.empty() ? overrides.namespace_name
                      : !ctx.namespace_name.empty()     ? ctx.namespace_name
                                                        : "default";

  rc.server = cluster.server;
  while (!rc.server.empty() && rc.server.back() == '/') rc.server.pop_back();
  if (rc.server.empty()) {
    return Status::InvalidArgument(cl_role + " has no server; set clusters[].cluster.server");
  }
  if (rc.server.find("://") == std::string::npos) rc.server = "https://" + rc.server;
  rc.insecure_skip_tls_verify = cluster.insecure_skip_tls_verify;
  rc.tls_server_name = cluster.tls_server_name;
  rc.proxy_url = cluster.proxy_url;
  KDR_ASSIGN_OR_RETURN(
      rc.ca_pem, LoadPem(fs, cluster.certificate_authority_data, cluster.certificate_authority,
                         "certificate-authority", cl_role));
  if (rc.insecure_skip_tls_verify && !rc.ca_pem.empty()) {
    return Status::InvalidArgument(
        cl_role +
        " sets both insecure-skip-tls-verify and a certificate authority, "
        "which kubectl refuses too; remove one of them");
  }

  if (ctx.user.empty()) return rc;  // no credentials: anonymous
  auto u_it = config.users.find(ctx.user);
  if (u_it == config.users.end()) {
    std::vector<std::string> names;
    for (const auto& [n, u] : config.users) names.push_back(n);
    return Status::InvalidArgument(ctx_role + " names user " + Quote(ctx.user) +
                                   ", which is not defined in kubeconfig " + files +
                                   DidYouMean(ctx.user, names));
  }
  const KubeconfigUser& user = u_it->second;
  const std::string u_role = "user " + Quote(user.name) + " in " + user.source;

  if (user.has_basic_auth) {
    return Status::InvalidArgument(
        u_role +
        " uses basic auth (username/password), which API servers dropped in 1.19 and kubectl-dr "
        "does not support; use a token, a client certificate or an exec credential plugin");
  }
  if (!user.auth_provider.empty()) {
    // gcp and azure left kubectl in 1.26; oidc is still in kubectl but not in kubectl-dr.
    const bool removed = user.auth_provider == "gcp" || user.auth_provider == "azure";
    return Status::InvalidArgument(u_role + " uses auth-provider " + Quote(user.auth_provider) +
                                   (removed ? ", which kubectl removed in 1.26 and" : ", which") +
                                   " kubectl-dr does not support; " +
                                   UnsupportedAuthProviderAdvice(user.auth_provider));
  }
  if (!user.exec_error.empty()) return Status::InvalidArgument(u_role + ": " + user.exec_error);

  KDR_ASSIGN_OR_RETURN(rc.client_cert_pem,
                       LoadPem(fs, user.client_certificate_data, user.client_certificate,
                               "client-certificate", u_role));
  KDR_ASSIGN_OR_RETURN(rc.client_key_pem,
                       LoadPem(fs, user.client_key_data, user.client_key, "client-key", u_role));
  if (rc.client_cert_pem.empty() != rc.client_key_pem.empty()) {
    return Status::InvalidArgument(u_role + " has a client " +
                                   (rc.client_key_pem.empty()
                                        ? "certificate without its key; set client-key"
                                        : "key without its certificate; set client-certificate") +
                                   " (or the -data form)");
  }
  rc.bearer_token = user.token;
  rc.token_file = user.token_file;
  if (!rc.token_file.empty() && rc.bearer_token.empty()) {
    auto st = fs.Stat(rc.token_file);
    if (!st.ok()) {
      if (st.status().code() == StatusCode::kNotFound) {
        return Status::NotFound(u_role + ": tokenFile " + rc.token_file + " does not exist");
      }
      return st.status().WithContext(u_role + ": tokenFile");
    }
  }
  if (user.exec) {
    rc.exec = *user.exec;
    rc.exec->cluster_config_json = cluster.exec_extension_json;
  }
  return rc;
}

bool InClusterPossible(const Env& env, const ConfigPaths& paths) {
  if (paths.service_host.empty() || paths.service_port.empty()) return false;
  auto st = env.fs->Stat(JoinPath(paths.in_cluster_dir, "token"));
  return st.ok() && !st->is_dir;
}

Result<RestConfig> InClusterRestConfig(const ConfigOverrides& overrides, const Env& env,
                                       const ConfigPaths& paths) {
  if (paths.service_host.empty() || paths.service_port.empty()) {
    return Status::NotFound(
        "not running in a cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not "
        "set");
  }
  const FileSystem& fs = *env.fs;
  RestConfig rc;
  rc.source = "in-cluster";
  rc.context = "in-cluster";
  std::string host = paths.service_host;
  if (host.find(':') != std::string::npos && host.front() != '[') host = "[" + host + "]";  // IPv6
  rc.server = "https://" + host + ":" + paths.service_port;
  rc.token_file = JoinPath(paths.in_cluster_dir, "token");
  auto st = fs.Stat(rc.token_file);
  if (!st.ok() || st->is_dir) {
    return Status::NotFound("in-cluster config: service-account token " + rc.token_file +
                            " does not exist (is automountServiceAccountToken false?)");
  }
  const std::string ca_path = JoinPath(paths.in_cluster_dir, "ca.crt");
  auto ca = ReadNamed(fs, ca_path, "service-account CA");
  if (!ca.ok()) return ca.status().WithContext("in-cluster config");
  if (!LooksLikePem(*ca)) {
    return Status::InvalidArgument("in-cluster config: service-account CA " + ca_path +
                                   " is not PEM");
  }
  rc.ca_pem = std::move(*ca);
  rc.namespace_name = overrides.namespace_name;
  if (rc.namespace_name.empty()) {
    auto ns = fs.ReadFile(JoinPath(paths.in_cluster_dir, "namespace"));
    if (ns.ok()) rc.namespace_name = std::string(TrimSpace(*ns));
  }
  if (rc.namespace_name.empty()) rc.namespace_name = "default";
  return rc;
}

Result<RestConfig> LoadRestConfig(const ConfigOverrides& overrides, const Env& env,
                                  const ConfigPaths& paths) {
  KDR_ASSIGN_OR_RETURN(Kubeconfig kc, LoadKubeconfig(overrides, env, paths));
  // client-go's deferred loading: an empty kubeconfig falls back to the pod's service account.
  if (kc.empty() && kc.current_context.empty() && overrides.context.empty()) {
    if (InClusterPossible(env, paths)) return InClusterRestConfig(overrides, env, paths);
    if (kc.files.empty()) {
      std::string tried =
          paths.kubeconfig_env && !paths.kubeconfig_env->empty()
              ? "KUBECONFIG=" + *paths.kubeconfig_env + " names no existing file"
              : (paths.home.empty() ? "HOME is not set"
                                    : JoinPath(paths.home, ".kube/config") + " does not exist");
      return Status::NotFound(
          "no kubeconfig found: " + tried +
          ", and not running in a cluster; pass --kubeconfig FILE or set KUBECONFIG");
    }
  }
  return ResolveRestConfig(kc, overrides, env);
}

}  // namespace kdr::kube
