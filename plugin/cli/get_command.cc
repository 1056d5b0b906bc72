#include "cli/get_command.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cctype>
#include <iterator>
#include <memory>
#include <nlohmann/json.hpp>
#include <ostream>

#include "base/strings.h"
#include "dr/plan_clone.h"
#include "kube/client.h"
#include "kube/object.h"
#include "dr_site.h"
#include "kube_context.h"
#include "output.h"

namespace kdr::plugin {

using nlohmann::json;

Status RunGetCommand(const GetKind& kind, const GetOptions& o, const CommandContext& ctx) {
  KDR_ASSIGN_OR_RETURN(OutputFormat format,
                       ParseOutputFormat(ctx.globals.output, kind.command,
                                         {OutputFormat::kTable, OutputFormat::kWide, OutputFormat::kJson,
                                          OutputFormat::kYaml, OutputFormat::kName}));
  if (o.all_namespaces && !o.names.empty()) {
    return Status::InvalidArgument("a " + std::string(kind.noun) +
                                   " cannot be retrieved by name across all namespaces: drop -A, or name the "
                                   "namespace with -n");
  }
  for (const std::string& n : o.names) {
    KDR_RETURN_IF_ERROR(dr::ValidateDns1123Subdomain(n, std::string(kind.noun) + " name"));
  }
  if (ctx.env.clock == nullptr) return Status::Internal("no clock in the environment");
  const std::string ns = DrNamespace(ctx.globals);
  KDR_ASSIGN_OR_RETURN(std::unique_ptr<kube::Client> client, ClientFromGlobals(ctx.globals, ctx.env));
  KDR_ASSIGN_OR_RETURN(std::vector<json> all, kind.list(*client, o.all_namespaces ? "" : ns));

  std::vector<json> shown;
  Status missing;
  if (o.names.empty()) {
    shown = std::move(all);
  } else {
    std::vector<std::string> names;
    for (const json& obj : all) names.push_back(kube::Name(obj));
    for (const std::string& name : o.names) {
      auto it = std::find(names.begin(), names.end(), name);
      if (it != names.end()) {
        shown.push_back(all[static_cast<size_t>(it - names.begin())]);
      } else if (missing.ok()) {
        missing = Status::NotFound(std::string(kind.resource) + " " + Quote(name) + " not found in namespace " + ns +
                                   DidYouMean(name, names));
      }
    }
  }

  std::ostream& out = *ctx.streams.out;
  switch (format) {
    case OutputFormat::kJson:
    case OutputFormat::kYaml:
      if (!shown.empty() || o.names.empty()) PrintObjects(shown, format, o.names.size() != 1, out);
      break;
    case OutputFormat::kName:
      PrintNames(shown, out);
      break;
    case OutputFormat::kTable:
    case OutputFormat::kWide: {
      if (shown.empty()) {
        if (o.names.empty()) {
          *ctx.streams.err << "No resources found" << (o.all_namespaces ? "" : " in " + ns + " namespace") << ".\n";
        }
        break;
      }
      const bool wide = format == OutputFormat::kWide;
      Table t;
      if (o.all_namespaces) t.headers.push_back("NAMESPACE");
      t.headers.insert(t.headers.end(), kind.headers.begin(), kind.headers.end());
      if (wide) t.headers.insert(t.headers.end(), kind.wide_headers.begin(), kind.wide_headers.end());
      const Clock::WallTime now = ctx.env.clock->Now();
      for (const json& obj : shown) {
        std::vector<std::string> row;
        if (o.all_namespaces) row.push_back(kube::Namespace(obj));
        std::vector<std::string> cells = kind.row(obj, wide, now);
        row.insert(row.end(), std::make_move_iterator(cells.begin()), std::make_move_iterator(cells.end()));
        t.rows.push_back(std::move(row));
      }
      out << FormatTable(t);
      break;
    }
  }
  return missing;
}

CLI::App* AddGetSubcommand(CLI::App* cmd, const Registrar& r, const GetKind& kind, std::string description,
                           std::string_view plural) {
  auto options = std::make_shared<GetOptions>();
  CLI::App* get = cmd->add_subcommand("get", std::move(description) + " (aliases: list, ls)");
  get->alias("list");
  get->alias("ls");
  std::string shown(plural);
  if (!shown.empty()) shown[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(shown[0])));
  get->add_option("NAME", options->names, shown + " to show (default: all)");
  get->add_flag("-A,--all-namespaces", options->all_namespaces, "List " + std::string(plural) + " in every namespace");
  get->callback([r, kind, options] {
    *r.action = [r, kind, options] { return RunGetCommand(kind, *options, *r.context); };
  });
  return get;
}

}  // namespace kdr::plugin
