#include "alletra_sim.h"

#include <httplib.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

#include <atomic>
#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

#include "base/strings.h"
#include "tls/certs.h"
#include "tls/pem.h"

namespace kdr::sim {
namespace {

using nlohmann::json;

constexpr char kSessionHeader[] = "X-HP3PAR-WSAPI-SessionKey";
constexpr std::string_view kApiV1 = "/api/v1/";
constexpr std::string_view kCredentialsPrefix = "/api/v1/credentials/";

// Loads the serving certificate and key from PEM held in memory (no files on disk).
bool LoadPem(SSL_CTX& ctx, const std::string& cert_pem, const std::string& key_pem) {
  return tls::UseCertificateAndKey(&ctx, cert_pem, key_pem).ok();
}

void SetJson(httplib::Response& res, int status, const json& body) {
  res.status = status;
  res.set_content(body.dump(), "application/json");
}

void SetError(httplib::Response& res, const WsapiError& e) {
  json body = {{"code", e.code}, {"desc", e.desc}};
  if (!e.ref.empty()) body["ref"] = e.ref;
  SetJson(res, e.http_status, body);
}

WsapiError Invalid(int code, std::string desc, std::string ref = "") {
  return {400, code, std::move(desc), std::move(ref)};
}

WsapiError UnsupportedOperation(const std::string& what) {
  return {501, wsapi::kUnsupOp, "the resource does not support the operation: " + what, ""};
}

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

// Parses a request body that must be a JSON object.
std::optional<WsapiError> ParseObject(const std::string& body, json* out) {
  json doc = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return Invalid(wsapi::kJsonSyntaxError, "JSON syntax error");
  if (!doc.is_object()) {
    return Invalid(wsapi::kInvInput, "invalid input: the message body must be a JSON object");
  }
  *out = std::move(doc);
  return std::nullopt;
}

int WsapiRole(Role r) {
  return r == Role::kPrimary || r == Role::kPrimaryRev ? kWsapiRolePrimary : kWsapiRoleSecondary;
}

bool Reversed(Role r) { return r == Role::kPrimaryRev || r == Role::kSecondaryRev; }

int WsapiSync(SyncStatus s) {
  switch (s) {
    case SyncStatus::kSynced: return kWsapiSynced;
    case SyncStatus::kSyncing: return kWsapiSyncing;
    case SyncStatus::kStopped: return kWsapiSyncStopped;
  }
  return kWsapiSyncStopped;
}

json GroupJson(const GroupView& g) {
  json target = {{"targetName", g.target_name},
                 {"mode", g.mode},
                 {"state", g.started ? kWsapiTargetStarted : kWsapiTargetStopped},
                 {"roleReversed", Reversed(g.role)},
                 {"policies",
                  {{"autoRecover", false},
                   {"overPeriodAlert", false},
                   {"autoFailover", false},
                   {"pathManagement", false}}}};
  if (!g.last_sync_time.empty()) target["groupLastSyncTime"] = g.last_sync_time;
  json volumes = json::array();
  for (const GroupView::Volume& v : g.volumes) {
    volumes.push_back({{"localVolumeName", v.local_name},
                       {"remoteVolumes",
                        json::array({{{"targetName", g.target_name},
                                      {"remoteVolumeName", v.remote_name},
                                      {"syncStatus", WsapiSync(g.sync)}}})}});
  }
  return {{"id", g.id},
          {"name", g.name},
          {"role", g.reported_role != 0 ? g.reported_role : WsapiRole(g.role)},
          {"roleReversed", Reversed(g.role)},
          {"targets", json::array({target})},
          {"volumes", volumes}};
}

json VolumeJson(const VolumeView& v) {
  json out = {{"id", v.id},
              {"name", v.name},
              {"sizeMiB", v.size_mib},
              {"wwn", v.wwn},
              {"rcopyStatus", v.rcopy_status},
              {"copyType", v.copy_of.empty() ? 1 : 3},
              {"readOnly", v.read_only}};
  if (!v.copy_of.empty()) out["copyOf"] = v.copy_of;
  if (!v.comment.empty()) out["comment"] = v.comment;
  return out;
}

json SystemJson(const ArraySpec& a) {
  return {{"id", a.id},
          {"name", a.name},
          {"model", a.model},
          {"serialNumber", a.serial_number},
          {"systemVersion", a.system_version},
          {"totalNodes", 2},
          {"masterNode", 0},
          {"onlineNodes", json::array({0, 1})},
          {"clusterNodes", json::array({0, 1})}};
}

// Members the array accepts in the body of each action call (python-3parclient docstrings and
// HPE's flask mock); anything else is refused as the mock refuses it.
constexpr std::string_view kPutMembers[] = {
    "action",      "targetName", "skipInitialSync",    "startingSnapshots", "noSnapshot",
    "noResyncSnapshot", "fullSync", "volumeName",     "snapshotName",      "volumeAutoCreation",
    "keepSnap",    "targets"};
constexpr std::string_view kPostMembers[] = {
    "action",      "targetName", "skipStart",  "skipSync",             "discardNewData",
    "skipPromote", "noSnapshot", "stopGroups", "localGroupsDirection", "targets"};
constexpr std::string_view kBoolMembers[] = {
    "skipInitialSync", "noSnapshot", "noResyncSnapshot", "fullSync",       "volumeAutoCreation",
    "keepSnap",        "skipStart",  "skipSync",         "discardNewData", "skipPromote",
    "stopGroups",      "localGroupsDirection"};

template <size_t N>
bool Contains(const std::string_view (&list)[N], std::string_view s) {
  for (std::string_view x : list) {
    if (x == s) return true;
  }
  return false;
}

// Serves one array's WSAPI.
class ArrayHandler {
 public:
  ArrayHandler(AlletraPair* pair, int array) : pair_(pair), array_(array) {}

  void Handle(const httplib::Request& req, httplib::Response& res) const {
    const std::string& path = req.path;
    const std::string& method = req.method;
    if (path == "/api" || path == "/api/") {
      if (method != "GET") return SetError(res, UnsupportedOperation(method + " " + path));
      // The client library refuses builds older than 3.1.3 MU1 (30103230).
      return SetJson(res, 200, {{"major", 1}, {"minor", 10}, {"revision", 0}, {"build", 100500000}});
    }
    if (path == "/api/v1/credentials") {
      if (method != "POST") return SetError(res, UnsupportedOperation(method + " " + path));
      return Login(req, res);
    }
    if (StartsWith(path, kCredentialsPrefix)) {
      if (method != "DELETE") return SetError(res, UnsupportedOperation(method + " credentials"));
      if (auto e = pair_->Logout(array_, path.substr(kCredentialsPrefix.size()))) {
        return SetError(res, *e);
      }
      res.status = 200;
      return;
    }
    if (!StartsWith(path, kApiV1)) {
      return SetError(res, {404, wsapi::kUriResNotFound, "resource not found: " + path, ""});
    }
    if (auto e = pair_->CheckSession(array_, req.get_header_value(kSessionHeader))) {
      return SetError(res, *e);
    }
    std::vector<std::string> parts = Split(path.substr(kApiV1.size()), '/');
    if (!parts.empty() && parts.back().empty()) parts.pop_back();
    const std::string collection = parts.empty() ? "" : parts[0];
    if (collection == "system" && parts.size() == 1) {
      if (method != "GET") return SetError(res, UnsupportedOperation(method + " system"));
      return SetJson(res, 200, SystemJson(pair_->array(array_)));
    }
    if (collection == "volumes" && parts.size() == 2 && method == "POST") {
      return VolumeAction(req, res, parts[1]);
    }
    if (collection == "volumes" && parts.size() == 2 && method == "DELETE") {
      if (auto e = pair_->DeleteVolume(array_, parts[1])) return SetError(res, *e);
      res.status = 200;
      return;
    }
    if (collection == "volumes" && parts.size() <= 2) {
      if (method != "GET") return SetError(res, UnsupportedOperation(method + " volumes"));
      if (parts.size() == 1) {
        json members = json::array();
        for (const VolumeView& v : pair_->Volumes(array_)) members.push_back(VolumeJson(v));
        return SetJson(res, 200, {{"total", members.size()}, {"members", members}});
      }
      VolumeView v;
      if (auto e = pair_->GetVolume(array_, parts[1], &v)) return SetError(res, *e);
      return SetJson(res, 200, VolumeJson(v));
    }
    if (collection == "remotecopygroups" && parts.size() <= 2) {
      if (parts.size() == 1) {
        if (method != "GET") {
          return SetError(res, UnsupportedOperation(method + " remotecopygroups (group creation "
                                                             "is not simulated)"));
        }
        json members = json::array();
        for (const GroupView& g : pair_->Groups(array_)) members.push_back(GroupJson(g));
        return SetJson(res, 200, {{"total", members.size()}, {"members", members}});
      }
      const std::string& name = parts[1];
      if (method == "GET") {
        GroupView g;
        if (auto e = pair_->GetGroup(array_, name, &g)) return SetError(res, *e);
        return SetJson(res, 200, GroupJson(g));
      }
      if (method == "PUT" || method == "POST") return Action(req, res, name, method == "POST");
      return SetError(res, UnsupportedOperation(method + " of a remote copy group"));
    }
    return SetError(res, {404, wsapi::kUriResNotFound,
                          "resource not found: " + path +
                              " (the simulator serves /system, /volumes and /remotecopygroups)",
                          ""});
  }

 private:
  void Login(const httplib::Request& req, httplib::Response& res) const {
    json body;
    if (auto e = ParseObject(req.body, &body)) return SetError(res, *e);
    for (const char* member : {"user", "password"}) {
      if (!body.contains(member)) {
        return SetError(res, Invalid(wsapi::kInvInputMissingRequired,
                                     std::string("invalid input: missing required member - ") +
                                         member,
                                     member));
      }
      if (!body.at(member).is_string()) {
        return SetError(res, Invalid(wsapi::kInvInputWrongType,
                                     std::string("invalid input: wrong type for value - ") +
                                         member,
                                     member));
      }
    }
    std::string key;
    if (auto e = pair_->Login(array_, body.at("user").get<std::string>(),
                              body.at("password").get<std::string>(), &key)) {
      return SetError(res, *e);
    }
    res.set_header("Location", std::string(kCredentialsPrefix) + key);
    SetJson(res, 201, {{"key", key}});
  }

  // POST /volumes/<parent> {"action": "createSnapshot", "parameters": {"name", "readOnly",
  // "comment", ...}} [python-3parclient createSnapshot].
  void VolumeAction(const httplib::Request& req, httplib::Response& res,
                    const std::string& parent) const {
    json body;
    if (auto e = ParseObject(req.body, &body)) return SetError(res, *e);
    if (!body.contains("action")) {
      return SetError(res, Invalid(wsapi::kInvInputMissingRequired,
                                   "invalid input: missing required member - action", "action"));
    }
    if (!body.at("action").is_string() || body.at("action") != "createSnapshot") {
      return SetError(res, UnsupportedOperation("volume action " + body.at("action").dump() +
                                                " (the simulator makes virtual copies only)"));
    }
    const json params = body.value("parameters", json::object());
    if (!params.is_object() || !params.contains("name") || !params.at("name").is_string()) {
      return SetError(res, Invalid(wsapi::kInvInputMissingRequired,
                                   "invalid input: missing required member - name", "name"));
    }
    if (params.contains("readOnly") && !params.at("readOnly").is_boolean()) {
      return SetError(res, Invalid(wsapi::kInvInputWrongType,
                                   "invalid input: wrong type for value - readOnly", "readOnly"));
    }
    const std::string name = params.at("name").get<std::string>();
    const std::string comment =
        params.contains("comment") && params.at("comment").is_string() ? params.at("comment").get<std::string>() : "";
    if (auto e = pair_->CreateSnapshot(array_, parent, name, params.value("readOnly", false),
                                       comment)) {
      return SetError(res, *e);
    }
    res.set_header("Location", "/api/v1/volumes/" + name);
    res.status = 201;
  }

  void Action(const httplib::Request& req, httplib::Response& res, const std::string& name,
              bool post) const {
    json body;
    if (auto e = ParseObject(req.body, &body)) return SetError(res, *e);
    if (!body.contains("action")) {
      if (!post) {
        return SetError(res, UnsupportedOperation("modifying remote copy group settings is not "
                                                  "simulated; send an action"));
      }
      return SetError(res, Invalid(wsapi::kInvInputMissingRequired,
                                   "invalid input: missing required member - action", "action"));
    }
    for (const auto& [member, value] : body.items()) {
      if (post ? !Contains(kPostMembers, member) : !Contains(kPutMembers, member)) {
        return SetError(res, Invalid(wsapi::kInvInput, "invalid input: unknown member " + member,
                                     member));
      }
      if (Contains(kBoolMembers, member) && !value.is_boolean()) {
        return SetError(res, Invalid(wsapi::kInvInputWrongType,
                                     "invalid input: wrong type for value - " + member, member));
      }
    }
    const json& a = body.at("action");
    if (!a.is_number_integer()) {
      return SetError(res, Invalid(wsapi::kInvInputWrongType,
                                   "invalid input: wrong type for value - action", "action"));
    }
    const long long action = a.get<long long>();
    const bool known = post ? (action >= kActionReverse && action <= kActionOverrideFailsafe)
                            : (action >= kActionAdmitVolume && action <= kActionSync);
    if (!known) {
      return SetError(res, Invalid(wsapi::kInvInputBadEnumValue,
                                   "invalid input: bad enum value - action", "action"));
    }
    if (body.contains("targetName")) {
      const json& t = body.at("targetName");
      if (!t.is_string()) {
        return SetError(res, Invalid(wsapi::kInvInputWrongType,
                                     "invalid input: wrong type for value - targetName",
                                     "targetName"));
      }
      const std::string& peer = pair_->array(1 - array_).name;
      if (t.get<std::string>() != peer) {
        return SetError(res, {post ? 400 : 403, wsapi::kRcopyGroupInvTarget,
                              "the specified target " + t.get<std::string>() +
                                  " is not a target of the remote copy group (its target is " +
                                  peer + ")",
                              "targetName"});
      }
    }
    ActionOptions options;
    options.skip_start = body.value("skipStart", false);
    options.skip_sync = body.value("skipSync", false);
    if (auto e = pair_->Act(array_, name, static_cast<int>(action), options)) {
      return SetError(res, *e);
    }
    res.status = 200;
  }

  AlletraPair* const pair_;
  const int array_;
};

json StateJson(const AlletraSim& sim, AlletraPair& pair) {
  json arrays = json::array();
  for (int i = 0; i < 2; ++i) {
    arrays.push_back({{"name", sim.name(i)},
                      {"id", pair.array(i).id},
                      {"url", sim.url(sim.name(i))},
                      {"up", pair.IsUp(i)}});
  }
  json groups = json::array();
  for (const GroupState& s : pair.States()) {
    groups.push_back({{"name", s.name},
                      {"remoteName", s.remote_name},
                      {"primary", sim.name(s.primary_array)},
                      {"phase", PhaseName(s.phase)},
                      {"replication", s.started ? "started" : "stopped"},
                      {"sync", SyncStatusName(s.sync)},
                      {"roles",
                       {{sim.name(0), RoleName(s.roles[0])}, {sim.name(1), RoleName(s.roles[1])}}}});
    if (!s.data_error.empty()) groups.back()["dataError"] = s.data_error;
  }
  return {{"arrays", arrays}, {"groups", groups}, {"dataDir", sim.data_dir()}};
}

void SetStatus(httplib::Response& res, const Status& s, const json& ok_body) {
  if (s.ok()) return SetJson(res, 200, ok_body);
  int http = 500;
  switch (s.code()) {
    case StatusCode::kNotFound: http = 404; break;
    case StatusCode::kFailedPrecondition: http = 409; break;
    case StatusCode::kUnavailable: http = 503; break;
    default: break;
  }
  SetJson(res, http, {{"message", s.message()}});
}

// The request path with a session key replaced, for logs.
std::string Redacted(const std::string& path) {
  if (StartsWith(path, kCredentialsPrefix)) return std::string(kCredentialsPrefix) + "<redacted>";
  return path;
}

}  // namespace

struct AlletraSim::Listener {
  std::unique_ptr<httplib::SSLServer> server;
  std::thread thread;
};

Result<std::unique_ptr<AlletraSim>> AlletraSim::Start(AlletraSimOptions options) {
  std::unique_ptr<AlletraSim> sim(new AlletraSim());
  if (options.clock == nullptr) {
    sim->own_clock_ = std::make_unique<RealClock>();
    options.clock = sim->own_clock_.get();
  }
  sim->clock_ = options.clock;
  if (options.data_dir.empty()) {
    KDR_ASSIGN_OR_RETURN(sim->own_data_, ScopedTree::Make("alletra-sim-data"));
    options.data_dir = sim->own_data_->path();
  }
  KDR_ASSIGN_OR_RETURN(sim->pair_, AlletraPair::Create(options.spec, sim->clock_, options.data_dir));
  sim->options_ = std::move(options);

  auto ca = tls::MakeCa("alletra-sim CA");
  if (!ca.ok()) return Status::Unavailable("making the simulator's CA: " + ca.status().message());
  tls::CertRequest req;
  req.common_name = "alletra-sim";
  req.dns_names = {"localhost", sim->pair_->array(0).name, sim->pair_->array(1).name};
  req.ip_addresses = {"127.0.0.1", "::1"};
  if (sim->options_.host != "127.0.0.1" && sim->options_.host != "localhost" &&
      sim->options_.host.find_first_not_of("0123456789.:") == std::string::npos) {
    req.ip_addresses.push_back(sim->options_.host);
  }
  auto leaf = tls::MakeLeaf(*ca, req);
  if (!leaf.ok()) {
    return Status::Unavailable("making the simulator's serving certificate: " +
                               leaf.status().message());
  }
  sim->ca_pem_ = ca->cert_pem;
  sim->cert_pem_ = leaf->cert_pem;
  sim->key_pem_ = leaf->key_pem;

  std::lock_guard lock(sim->mu_);
  for (int which = 0; which < 3; ++which) {
    if (which == 2 && !sim->options_.admin) break;
    const int port = sim->options_.port == 0 ? 0 : sim->options_.port + which;
    KDR_RETURN_IF_ERROR(sim->StartListener(which, port));
  }
  return sim;
}

AlletraSim::~AlletraSim() {
  // The admin listener first and without the lock: its handlers take the lock (SetDown/SetUp),
  // and stopping it waits for them. Only Start and the destructor touch listeners_[2].
  StopListener(2);
  std::lock_guard lock(mu_);
  StopListener(0);
  StopListener(1);
}

Status AlletraSim::StartListener(int which, int port) {
  auto l = std::make_unique<Listener>();
  l->server = std::make_unique<httplib::SSLServer>(
      [this](SSL_CTX& ctx) { return LoadPem(ctx, cert_pem_, key_pem_); });
  const std::string what = which == 2 ? "admin" : pair_->array(which).name;
  if (!l->server->is_valid()) {
    return Status::Unavailable("alletra-sim " + what + ": the TLS context could not be set up");
  }
  httplib::SSLServer& server = *l->server;
  // The WSAPI answers "Connection: close" [guide]; it also lets a down array close at once.
  server.set_keep_alive_max_count(1);
  server.set_default_headers({{"Server", "hp3par-wsapi"},
                              {"Cache-Control", "no-cache"},
                              {"Pragma", "no-cache"}});
  if (Logger* logger = options_.logger) {
    server.set_logger([logger, what](const httplib::Request& req, const httplib::Response& res) {
      logger->Debug("request", {{"array", what},
                                {"method", req.method},
                                {"path", Redacted(req.path)},
                                {"status", std::to_string(res.status)}});
    });
  }
  if (which < 2) {
    auto handler = std::make_shared<ArrayHandler>(pair_.get(), which);
    auto h = [handler](const httplib::Request& req, httplib::Response& res) {
      handler->Handle(req, res);
    };
    server.Get(".*", h).Post(".*", h).Put(".*", h).Delete(".*", h);
  } else {
    server.Get(R"(/sim/v1/arrays/([^/]+)/volumes/([^/]+))",
               [this](const httplib::Request& req, httplib::Response& res) {
                 const std::string array = req.matches[1], volume = req.matches[2];
                 auto i = Index(array);
                 if (!i.ok()) return SetStatus(res, i.status(), json());
                 auto w = pair_->Writable(*i, volume);
                 if (!w.ok()) return SetStatus(res, w.status(), json());
                 SetJson(res, 200, {{"array", array}, {"name", volume}, {"writable", *w}});
               });
    server.Get("/sim/v1/state", [this](const httplib::Request&, httplib::Response& res) {
      SetJson(res, 200, StateJson(*this, *pair_));
    });
    server.Post(R"(/sim/v1/arrays/([^/]+)/(down|up))",
                [this](const httplib::Request& req, httplib::Response& res) {
                  const std::string name = req.matches[1];
                  const bool up = req.matches[2] == "up";
                  Status s = up ? SetUp(name) : SetDown(name);
                  SetStatus(res, s, {{"name", name}, {"up", up}});
                });
    server.Post(R"(/sim/v1/remotecopygroups/([^/]+)/complete-sync)",
                [this](const httplib::Request& req, httplib::Response& res) {
                  const std::string name = req.matches[1];
                  SetStatus(res, pair_->CompleteSync(name), {{"name", name}, {"sync", "synced"}});
                });
    server.Post("/sim/v1/complete-syncs", [this](const httplib::Request&, httplib::Response& res) {
      SetJson(res, 200, {{"completed", pair_->CompleteAllSyncs()}});
    });
    server.Post(R"(/sim/v1/remotecopygroups/([^/]+)/report-role)",
                [this](const httplib::Request& req, httplib::Response& res) {
                  const std::string name = req.matches[1];
                  json body = json::parse(req.body, nullptr, false);
                  int array = body.is_object() ? pair_->ArrayIndex(body.value("array", "")) : -1;
                  if (array < 0 || !body.contains("role") || !body["role"].is_number_integer()) {
                    return SetJson(res, 400, {{"message", "body must be {\"array\": NAME, "
                                                          "\"role\": N} (0: the real role)"}});
                  }
                  SetStatus(res, pair_->SetReportedRole(name, array, body["role"].get<int>()),
                            {{"name", name}, {"role", body["role"]}});
                });
    server.Post("/sim/v1/sessions/expire", [this](const httplib::Request&, httplib::Response& res) {
      pair_->ExpireSessions();
      SetJson(res, 200, json::object());
    });
  }
  int bound = port;
  if (port == 0) {
    bound = server.bind_to_any_port(options_.host);
    if (bound < 0) {
      return Status::Unavailable("alletra-sim " + what + ": cannot bind a port on " +
                                 options_.host);
    }
  } else if (!server.bind_to_port(options_.host, port)) {
    return Status::Unavailable("alletra-sim " + what + ": cannot bind " + options_.host + ":" +
                               std::to_string(port) + " (in use?)");
  }
  auto done = std::make_shared<std::atomic<bool>>(false);
  l->thread = std::thread([&server, done] {
    server.listen_after_bind();
    done->store(true);
  });
  // stop() is a no-op until the accept loop runs, so wait for it: a down array must really close.
  while (!server.is_running() && !done->load()) std::this_thread::yield();
  if (done->load()) {
    l->thread.join();
    return Status::Unavailable("alletra-sim " + what + ": the listener stopped at once");
  }
  if (ports_[which] == 0) ports_[which] = bound;  // a restart reuses the first port
  listeners_[which] = std::move(l);
  return Status::Ok();
}

void AlletraSim::StopListener(int which) {
  std::unique_ptr<Listener> l = std::move(listeners_[which]);
  if (!l) return;
  l->server->stop();
  if (l->thread.joinable()) l->thread.join();
}

Result<int> AlletraSim::Index(std::string_view array) const {
  int i = pair_->ArrayIndex(array);
  if (i < 0) {
    return Status::NotFound("array \"" + std::string(array) + "\" is not simulated (arrays: " +
                            name(0) + ", " + name(1) + ")" +
                            DidYouMean(array, {name(0), name(1)}));
  }
  return i;
}

std::string AlletraSim::url(std::string_view array) const {
  int i = pair_->ArrayIndex(array);
  if (i < 0) return "";
  return "https://" + options_.host + ":" + std::to_string(ports_[i]);
}

int AlletraSim::port(std::string_view array) const {
  int i = pair_->ArrayIndex(array);
  return i < 0 ? 0 : ports_[i];
}

std::string AlletraSim::admin_url() const {
  if (!options_.admin) return "";
  return "https://" + options_.host + ":" + std::to_string(ports_[2]);
}

std::string AlletraSim::ReadyLine() const {
  std::string line = "alletra-sim ready " + name(0) + "=" + url(name(0)) + " " + name(1) + "=" +
                     url(name(1));
  if (options_.admin) line += " admin=" + admin_url();
  return line + " data=" + data_dir();
}

Status AlletraSim::SetDown(std::string_view array) {
  KDR_ASSIGN_OR_RETURN(int i, Index(array));
  std::lock_guard lock(mu_);
  pair_->SetUp(i, false);
  StopListener(i);
  return Status::Ok();
}

Status AlletraSim::SetUp(std::string_view array) {
  KDR_ASSIGN_OR_RETURN(int i, Index(array));
  std::lock_guard lock(mu_);
  if (listeners_[i]) return Status::Ok();
  pair_->SetUp(i, true);
  Status s = StartListener(i, ports_[i]);
  if (!s.ok()) pair_->SetUp(i, false);
  return s;
}

bool AlletraSim::IsUp(std::string_view array) const {
  int i = pair_->ArrayIndex(array);
  return i >= 0 && pair_->IsUp(i);
}

}  // namespace kdr::sim
