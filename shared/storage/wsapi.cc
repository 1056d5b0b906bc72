#include "storage/wsapi.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "base/clock.h"
#include "base/json.h"
#include "base/log.h"
#include "base/strings.h"
#include "kube/object.h"
#include "kube/rest_config.h"
#include "kube/transport.h"
#include "kube/transport_https.h"

namespace kdr::storage {

using nlohmann::json;

namespace {

constexpr char kSessionHeader[] = "X-HP3PAR-WSAPI-SessionKey";
constexpr std::string_view kApiV1 = "/api/v1/";
// One request never waits longer than this, whatever the deadline: an array that does not answer
// a GET in a minute is not going to.
constexpr std::chrono::seconds kMaxRequest{60};

// HP 3PAR WSAPI 1.x Developer's Guide (tables 5 and 6) and python-3parclient; the remote-copy
// refusals 215-225 and EXISTENT_SV's number are alletra-sim's (tests/sim/wsapi_errors.h: their
// symbols are documented, their numbers were not found in public sources).
struct KnownCode {
  int code;
  std::string_view symbol;
};
constexpr KnownCode kCodes[] = {
    {5, "INV_USER_PASS"},
    {6, "INV_SESSION_KEY"},
    {9, "UNSUP_OP"},
    {11, "URI_RES_NOT_FOUND"},
    {12, "INV_INPUT"},
    {23, "NON_EXISTENT_VOL"},
    {39, "INV_INPUT_WRONG_TYPE"},
    {40, "INV_INPUT_MISSING_REQUIRED"},
    {46, "INV_INPUT_BAD_ENUM_VALUE"},
    {60, "JSON_SYNTAX_ERROR"},
    {73, "EXISTENT_SV"},
    {187, "NON_EXISTENT_RCOPY_GROUP"},
    {215, "RCOPY_GROUP_STARTED"},
    {216, "RCOPY_GROUP_NOT_STARTED"},
    {217, "RCOPY_GROUP_NOT_STOPPED"},
    {218, "RCOPY_GROUP_OPERATION_ONLY_ON_PRIMARY_SIDE"},
    {219, "RCOPY_GROUP_OPERATION_ONLY_ON_SECONDARY_SIDE"},
    {220, "INV_OPERATION_RCOPY_GROUP_ROLE_CONFLICT"},
    {221, "RCOPY_TARGET_IS_NOT_READY"},
    {222, "RCOPY_GROUP_IS_BUSY"},
    {223, "RCOPY_GROUP_INVOLVED_IN_SYNCHRONIZATION"},
    {224, "RCOPY_GROUP_IN_FAILOVER_STATE"},
    {225, "RCOPY_GROUP_INV_TARGET"},
};
constexpr int kInvUserPass = 5;
constexpr int kInvSessionKey = 6;

bool IsRemoteCopyRefusal(int code) { return code >= 215 && code <= 225; }

// The array's error code: answers are read without trusting their types ({"code": "6"} from a
// proxy or another firmware is no code, not an exception).
int CodeOf(const json& body) {
  const json& code = kube::FieldAt(body, {"code"});
  return code.is_number_integer() ? code.get<int>() : 0;
}

// `s` with every byte that is not part of well-formed UTF-8 written as \xNN: an error message
// ends up in JSON (a DRRecovery's status, -o json reports), whose encoder throws on such bytes,
// and a body cut at 200 bytes may end inside a character.
std::string ValidUtf8(std::string s) {
  for (size_t bad = 0; !IsValidUtf8(s, &bad);) {
    s.replace(bad, 1, PrintableBytes(s.substr(bad, 1)));
  }
  return s;
}

}  // namespace

std::string_view WsapiErrorSymbol(int code) {
  for (const KnownCode& k : kCodes) {
    if (k.code == code) return k.symbol;
  }
  return "";
}

struct WsapiClient::Answer {
  int status = 0;
  json body;  // null when empty or not JSON
  std::string raw;
};

Result<std::unique_ptr<WsapiClient>> WsapiClient::Create(WsapiEndpoint endpoint, const Env& env) {
  std::string url = endpoint.url;
  while (!url.empty() && url.back() == '/') url.pop_back();
  const std::string from = "key " + Quote(endpoint.url_key) + " of Secret " + endpoint.secret;
  if (!StartsWith(url, "https://") || url.size() <= 8 ||
      url.find('/', 8) != std::string::npos) {
    return Status::InvalidArgument(endpoint.label + " url " + Quote(endpoint.url) + " (" + from +
                                   ") is not https://HOST[:PORT]");
  }
  endpoint.url = url;
  kube::RestConfig config;
  config.server = url;
  config.ca_pem = endpoint.ca_pem;
  config.insecure_skip_tls_verify = endpoint.insecure_skip_tls_verify;
  config.max_connections = 2;
  auto transport = kube::HttpsTransport::Create(config);
  if (!transport.ok()) {
    return Status::InvalidArgument(endpoint.label + " (" + from + ", CA from key " +
                                   Quote(endpoint.ca_key) + "): " + transport.status().message());
  }
  return std::make_unique<WsapiClient>(std::move(endpoint), std::move(*transport), env);
}

WsapiClient::WsapiClient(WsapiEndpoint endpoint, std::unique_ptr<kube::Transport> transport,
                         const Env& env)
    : endpoint_(std::move(endpoint)), transport_(std::move(transport)), env_(env) {}

WsapiClient::~WsapiClient() = default;

std::string WsapiClient::Where() const { return endpoint_.label + " (" + endpoint_.url + ")"; }

Status WsapiClient::TransportError(const Status& s) const {
  if (kube::IsCertificateFailure(s)) {
    return Status::FailedPrecondition(
        Where() + ": its certificate is not trusted: " + s.message() + "; put the CA that signed "
        "it in key " + Quote(endpoint_.ca_key) + " of Secret " + endpoint_.secret);
  }
  if (s.code() == StatusCode::kDeadlineExceeded || s.code() == StatusCode::kCancelled) {
    return Status(s.code(), Where() + ": " + s.message());
  }
  return Status::Unavailable(Where() + " is unreachable: " + s.message());
}

Result<WsapiClient::Answer> WsapiClient::Send(std::string_view method, const std::string& path,
                                              const std::string& body, bool with_key,
                                              const Deadline& deadline) {
  KDR_RETURN_IF_ERROR(CheckDeadline(*env_.clock, deadline,
                                    std::string(method) + " " + path + " on " + Where()));
  kube::HttpRequest req;
  req.method = std::string(method);
  req.path = path;
  req.body = body;
  req.stop = deadline.stop;
  req.headers.emplace_back("Accept", "application/json");
  if (!body.empty()) req.headers.emplace_back("Content-Type", "application/json");
  if (with_key) req.headers.emplace_back(kSessionHeader, key_);
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline.Remaining(*env_.clock));
  req.timeout = std::clamp(left, std::chrono::milliseconds(1),
                           std::chrono::milliseconds(kMaxRequest));
  auto resp = transport_->Send(req);
  if (!resp.ok()) return TransportError(resp.status());
  Answer a;
  a.status = resp->status;
  a.raw = std::move(resp->body);
  if (!a.raw.empty()) a.body = json::parse(a.raw, nullptr, /*allow_exceptions=*/false);
  if (a.body.is_discarded()) a.body = nullptr;
  return a;
}

Status WsapiClient::ErrorOf(const Answer& a, std::string_view method,
                            std::string_view path) const {
  int code = 0;
  std::string desc, ref;
  if (a.body.is_object()) {
    if (a.body.contains("code") && a.body["code"].is_number_integer()) code = a.body["code"];
    if (a.body.contains("desc") && a.body["desc"].is_string()) desc = a.body["desc"];
    if (a.body.contains("ref") && a.body["ref"].is_string()) ref = a.body["ref"];
  }
  // What the array (or a proxy before it) answered is shown, and may echo the login it refused:
  // the password never reaches an error, a log or a DRRecovery's status.
  auto scrub = [this](std::string text) {
    if (!endpoint_.password.empty()) {
      for (size_t at = text.find(endpoint_.password); at != std::string::npos;
           at = text.find(endpoint_.password, at)) {
        text.replace(at, endpoint_.password.size(), "<redacted>");
        at += 10;
      }
    }
    return RedactSecrets(text);
  };
  desc = scrub(std::move(desc));
  ref = scrub(std::move(ref));
  std::string symbol(WsapiErrorSymbol(code));
  std::string what = Where() + " refused " + std::string(method) + " " + std::string(path) +
                     ": HTTP " + std::to_string(a.status) + ", code " + std::to_string(code) +
                     (symbol.empty() ? "" : " " + symbol) + ": " +
                     (desc.empty() ? scrub(a.raw).substr(0, 200) : desc) +
                     (ref.empty() ? "" : " (member " + Quote(ref) + ")");
  what = ValidUtf8(std::move(what));
  if (a.status == 401 || (a.status == 403 && code == kInvUserPass)) {
    return Status::Unauthenticated(
        Where() + " refused the credentials of user " + Quote(endpoint_.user) + " (keys " +
        Quote(endpoint_.user_key) + " and " + Quote(endpoint_.password_key) + " of Secret " +
        endpoint_.secret + "): HTTP " + std::to_string(a.status) + ", code " +
        std::to_string(code) + (symbol.empty() ? "" : " " + symbol) + ": " + desc +
        "; fix the Secret");
  }
  if (a.status == 403 && IsRemoteCopyRefusal(code)) return Status::FailedPrecondition(what);
  if (a.status == 400 && IsRemoteCopyRefusal(code)) return Status::FailedPrecondition(what);
  switch (a.status) {
    case 400: return Status::InvalidArgument(what);
    case 403: return Status::PermissionDenied(what);
    case 404: return Status::NotFound(what);
    case 409: return Status::AlreadyExists(what);
    case 501: return Status::Unimplemented(what);
    default: break;
  }
  if (a.status >= 500) return Status::Unavailable(what);
  return Status::Internal(what + " (unexpected HTTP status)");
}

Status WsapiClient::Login(const Deadline& deadline) {
  json creds = {{"user", endpoint_.user}, {"password", endpoint_.password}};
  KDR_ASSIGN_OR_RETURN(Answer a, Send("POST", "/api/v1/credentials", creds.dump(),
                                      /*with_key=*/false, deadline));
  if (a.status != 201 && a.status != 200) return ErrorOf(a, "POST", "/api/v1/credentials");
  if (!a.body.is_object() || !a.body.contains("key") || !a.body["key"].is_string() ||
      a.body["key"].get<std::string>().empty()) {
    return Status::Internal(Where() + " answered a login without a session key");
  }
  key_ = a.body["key"].get<std::string>();
  ++logins_;
  return Status::Ok();
}

Result<json> WsapiClient::Call(std::string_view method, std::string_view path, const json* body,
                               const Deadline& deadline) {
  const std::string full = std::string(kApiV1) + std::string(path);
  const std::string text = body == nullptr ? "" : body->dump();
  const bool get = method == "GET";
  bool relogged = false;
  int attempt = 0;
  for (;;) {
    if (key_.empty()) {
      KDR_RETURN_IF_ERROR(Login(deadline));
      relogged = true;
    }
    auto a = Send(method, full, text, /*with_key=*/true, deadline);
    // Reads are safe to repeat after a lost connection or a server error; actions are not.
    bool retry = false;
    if (!a.ok()) {
      // A refused connection is an array that is down: failing fast says so sooner.
      retry = get && a.status().code() == StatusCode::kUnavailable &&
              !kube::IsConnectionRefused(a.status());
      if (!retry || attempt >= 2) return a.status();
    } else if (a->status >= 200 && a->status < 300) {
      return a->body;
    } else if (a->status == 403 && CodeOf(a->body) == kInvSessionKey) {
      if (relogged) return ErrorOf(*a, method, full);
      // The array dropped the key (idle for fifteen minutes, or restarted): log in once more.
      if (env_.logger != nullptr) {
        env_.logger->Debug("wsapi session expired; logging in again", {{"array", Where()}});
      }
      key_.clear();
      continue;
    } else {
      retry = get && a->status >= 500;
      if (!retry || attempt >= 2) return ErrorOf(*a, method, full);
    }
    ++attempt;
    KDR_RETURN_IF_ERROR(Pause(*env_.clock, deadline, std::chrono::milliseconds(200 * attempt),
                              "retrying " + std::string(method) + " " + full,
                              std::string(method) + " " + full + " on " + Where() +
                                  ": the deadline passed while retrying"));
  }
}

Result<json> WsapiClient::Get(std::string_view path, const Deadline& deadline) {
  return Call("GET", path, nullptr, deadline);
}

Result<json> WsapiClient::Put(std::string_view path, const json& body, const Deadline& deadline) {
  return Call("PUT", path, &body, deadline);
}

Result<json> WsapiClient::Post(std::string_view path, const json& body, const Deadline& deadline) {
  return Call("POST", path, &body, deadline);
}

Status WsapiClient::Delete(std::string_view path, const Deadline& deadline) {
  auto r = Call("DELETE", path, nullptr, deadline);
  return r.ok() ? Status::Ok() : r.status();
}

Status WsapiClient::Close(const Deadline& deadline) {
  if (key_.empty()) return Status::Ok();
  const std::string path = std::string(kApiV1) + "credentials/" + key_;
  auto a = Send("DELETE", path, "", /*with_key=*/false, deadline);
  key_.clear();
  if (!a.ok()) return a.status();
  // An expired key is gone already: the session is closed either way.
  if (a->status == 403 && CodeOf(a->body) == kInvSessionKey) {
    return Status::Ok();
  }
  if (a->status < 200 || a->status >= 300) return ErrorOf(*a, "DELETE", "/api/v1/credentials/<key>");
  return Status::Ok();
}

}  // namespace kdr::storage
