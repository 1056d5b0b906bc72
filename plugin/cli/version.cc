#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <ostream>

#include "base/version.h"
#include "cli/cli.h"

namespace kdr::plugin {
namespace {

struct VersionOptions {
  bool client_only = false;
};

Status RunVersion(const VersionOptions& opts, const CommandContext& ctx) {
  const std::string& format = ctx.globals.output;
  if (!format.empty() && format != "json" && format != "yaml") {
    return Status::InvalidArgument("--output must be 'yaml' or 'json' for version, not \"" + format +
                                   "\"");
  }
  nlohmann::json client = {{"gitVersion", "v" + std::string(Version())},
                           {"userAgent", std::string(UserAgent())}};
  nlohmann::json doc = {{"clientVersion", client}};
  // TODO(foundation): #2 server version of the current context unless --client.
  (void)opts;
  std::ostream& out = *ctx.streams.out;
  if (format == "json") {
    out << doc.dump(2) << "\n";
  } else if (format == "yaml") {
    out << "clientVersion:\n  gitVersion: " << client["gitVersion"].get<std::string>()
        << "\n  userAgent: " << client["userAgent"].get<std::string>() << "\n";
  } else {
    out << "Client Version: " << client["gitVersion"].get<std::string>() << "\n";
  }
  return Status::Ok();
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
