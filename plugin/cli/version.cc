#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <ostream>

#include "base/version.h"
#include "base/yaml.h"
#include "cli/cli.h"
#include "kube_context.h"

namespace kdr::plugin {
namespace {

struct VersionOptions {
  bool client_only = false;
};

// kubectl version: the client, then the server of the current context unless --client. When the
// server cannot be reached the client version is still printed, then the error (exit 1).
Status RunVersion(const VersionOptions& opts, const CommandContext& ctx) {
  const std::string& format = ctx.globals.output;
  if (!format.empty() && format != "json" && format != "yaml") {
    return Status::InvalidArgument("--output must be 'yaml' or 'json' for version, not \"" + format +
                                   "\"");
  }
  nlohmann::json client = {{"gitVersion", "v" + std::string(Version())},
                           {"userAgent", std::string(UserAgent())}};
  nlohmann::json doc = {{"clientVersion", client}};
  Status server_status;
  if (!opts.client_only) {
    auto kube = ClientFromGlobals(ctx.globals, ctx.env);
    if (!kube.ok()) {
      server_status = kube.status();
    } else {
      auto v = (*kube)->ServerVersion();
      if (v.ok()) {
        doc["serverVersion"] = *v;
      } else {
        server_status = v.status();
      }
    }
  }
  std::ostream& out = *ctx.streams.out;
  if (format == "json") {
    out << doc.dump(2) << "\n";
  } else if (format == "yaml") {
    out << JsonToYaml(doc);
  } else {
    out << "Client Version: " << client["gitVersion"].get<std::string>() << "\n";
    if (doc.contains("serverVersion")) {
      const auto& sv = doc["serverVersion"];
      std::string git = sv.is_object() && sv.contains("gitVersion") && sv["gitVersion"].is_string()
                            ? sv["gitVersion"].get<std::string>()
                            : "unknown";
      out << "Server Version: " << git << "\n";
    }
  }
  return server_status;
}

}  // namespace

void RegisterVersion(const Registrar& r) {
  auto opts = std::make_shared<VersionOptions>();
  CLI::App* cmd = r.root->add_subcommand(
      "version", "Print the client and server version information for the current context");
  cmd->add_flag("--client", opts->client_only, "If true, shows client version only (no server required).");
  cmd->callback([r, opts] { *r.action = [r, opts] { return RunVersion(*opts, *r.context); }; });
}

}  // namespace kdr::plugin
