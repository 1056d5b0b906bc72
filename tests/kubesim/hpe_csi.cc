#include "hpe_csi.h"

#include <nlohmann/json.hpp>
#include <vector>

#include "base/fs.h"
#include "base/strings.h"
#include "kube/rest_config.h"
#include "kube/transport_https.h"
#include "sim/alletra_model.h"

namespace kdr::kubesim {
namespace {

using nlohmann::json;

// "https://HOST:PORT" -> HOST; InvalidArgument otherwise.
Result<std::string> HostOf(std::string_view url) {
  constexpr std::string_view kScheme = "https://";
  std::string_view rest = url.substr(std::min(url.size(), kScheme.size()));
  size_t colon = rest.rfind(':');
  bool ok = StartsWith(url, kScheme) && colon != std::string_view::npos && colon > 0 &&
            colon + 1 < rest.size() && rest.find('/') == std::string_view::npos;
  for (size_t i = colon + 1; ok && i < rest.size(); ++i) ok = rest[i] >= '0' && rest[i] <= '9';
  if (!ok) {
    return Status::InvalidArgument("--alletra-sim-url " + Quote(url) +
                                   " is not https://HOST:PORT (the admin= URL of alletra-sim's "
                                   "ready line)");
  }
  return std::string(rest.substr(0, colon));
}

bool Loopback(std::string_view host) {
  return host == "localhost" || host == "[::1]" || StartsWith(host, "127.");
}

}  // namespace

Result<std::optional<HpeArrayOptions>> HpeArrayOptionsFromFlags(const HpeArrayFlags& flags,
                                                                const FileSystem& fs) {
  if (flags.array.empty() && flags.alletra_url.empty() && flags.ca_file.empty() &&
      !flags.insecure && flags.data_dir.empty()) {
    return std::optional<HpeArrayOptions>();
  }
  if (flags.array.empty()) {
    return Status::InvalidArgument("--alletra-sim-url, --alletra-sim-ca, --alletra-sim-insecure and "
                                   "--alletra-sim-data-dir need --hpe-array NAME: the array this "
                                   "cluster's hosts use");
  }
  if (flags.alletra_url.empty()) {
    return Status::InvalidArgument("--hpe-array " + flags.array +
                                   " needs --alletra-sim-url https://HOST:PORT (alletra-sim's "
                                   "admin listener), which says what the array may write");
  }
  KDR_ASSIGN_OR_RETURN(std::string host, HostOf(flags.alletra_url));
  if (flags.ca_file.empty() == !flags.insecure) {
    return Status::InvalidArgument(
        flags.insecure ? "give --alletra-sim-ca or --alletra-sim-insecure, not both"
                       : "--alletra-sim-url needs --alletra-sim-ca FILE (the ca= of alletra-sim's "
                         "ready line) or, on loopback, --alletra-sim-insecure");
  }
  if (flags.insecure && !Loopback(host)) {
    return Status::InvalidArgument("--alletra-sim-insecure is for a loopback URL only; " + host +
                                   " is not: give --alletra-sim-ca FILE");
  }
  HpeArrayOptions o;
  if (!flags.data_dir.empty()) {
    const std::string array_dir = JoinPath(flags.data_dir, flags.array);
    Result<FileInfo> st = fs.Stat(array_dir);
    if (!st.ok() || !st->is_dir) {
      return Status::InvalidArgument("--alletra-sim-data-dir " + flags.data_dir + " has no directory for array " +
                                     flags.array + " (" + array_dir +
                                     "): give alletra-sim's --data-dir, the data= of its ready line");
    }
    o.data_dir = flags.data_dir;
  }
  o.array = flags.array;
  o.alletra_url = flags.alletra_url;
  o.insecure = flags.insecure;
  if (!flags.ca_file.empty()) {
    Result<std::string> ca = fs.ReadFile(flags.ca_file);
    if (!ca.ok()) return ca.status().WithContext("--alletra-sim-ca");
    if (ca->find("-----BEGIN CERTIFICATE-----") == std::string::npos) {
      return Status::InvalidArgument("--alletra-sim-ca " + flags.ca_file +
                                     " holds no PEM certificate");
    }
    o.ca_pem = std::move(*ca);
  }
  return std::optional<HpeArrayOptions>(std::move(o));
}

HpeArray::HpeArray(HpeArrayOptions options, std::unique_ptr<kube::Transport> transport)
    : options_(std::move(options)), transport_(std::move(transport)) {}

HpeArray::~HpeArray() = default;

Result<std::unique_ptr<HpeArray>> HpeArray::Connect(HpeArrayOptions options) {
  KDR_RETURN_IF_ERROR(HostOf(options.alletra_url).status());
  kube::RestConfig rc;
  rc.server = options.alletra_url;
  rc.ca_pem = options.ca_pem;
  rc.insecure_skip_tls_verify = options.insecure;
  rc.request_timeout = options.timeout;
  rc.max_connections = 2;
  auto transport = kube::HttpsTransport::Create(rc);
  if (!transport.ok()) return transport.status().WithContext("alletra-sim at " + options.alletra_url);
  std::unique_ptr<HpeArray> a(new HpeArray(std::move(options), std::move(*transport)));
  const std::string& url = a->options_.alletra_url;
  kube::HttpRequest req;
  req.path = "/sim/v1/state";
  auto r = a->transport_->Send(req);
  if (!r.ok()) return r.status().WithContext("checking --hpe-array against alletra-sim");
  json state = json::parse(r->body, nullptr, false);
  if (r->status != 200 || !state.is_object() || !state.contains("arrays") ||
      !state["arrays"].is_array()) {
    return Status::Unavailable(url + "/sim/v1/state answered " + std::to_string(r->status) +
                               ", not alletra-sim's state: is --alletra-sim-url its admin= URL?");
  }
  std::vector<std::string> names;
  for (const json& arr : state["arrays"]) {
    if (arr.is_object()) names.push_back(arr.value("name", ""));
  }
  for (const std::string& n : names) {
    if (n == a->options_.array) return a;
  }
  return Status::NotFound("--hpe-array " + Quote(a->options_.array) + ": alletra-sim at " + url +
                          " serves no such array (it serves " + Join(names, ", ") + ")" +
                          DidYouMean(a->options_.array, names));
}

Result<bool> HpeArray::Writable(std::string_view volume) const {
  kube::HttpRequest req;
  req.path = "/sim/v1/arrays/" + UrlEncode(options_.array) + "/volumes/" + UrlEncode(volume);
  auto r = transport_->Send(req);
  if (!r.ok()) return r.status();
  json body = json::parse(r->body, nullptr, false);
  if (r->status == 404) {
    std::string why = body.is_object() ? body.value("message", "") : "";
    return Status::NotFound(why.empty() ? "volume " + Quote(volume) + " does not exist on " +
                                              options_.array
                                        : why);
  }
  if (r->status != 200 || !body.is_object() || !body.contains("writable") ||
      !body["writable"].is_boolean()) {
    return Status::Internal("alletra-sim answered " + std::to_string(r->status) + " to GET " +
                            req.path + ": " + r->body.substr(0, 200));
  }
  return body["writable"].get<bool>();
}

Result<std::string> HpeArray::VolumeDir(std::string_view volume) const {
  if (options_.data_dir.empty()) {
    return Status::FailedPrecondition("where array " + options_.array +
                                      " keeps its volumes is not known: give --alletra-sim-data-dir (alletra-sim's "
                                      "--data-dir)");
  }
  return sim::ArrayVolumeDir(options_.data_dir, options_.array, volume);
}

}  // namespace kdr::kubesim
