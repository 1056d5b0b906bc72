// kubectl dr quiesce|unquiesce --namespaces a,b: stops the workloads of namespaces on the cluster
// of the current context (or --context), or brings them back, as a failover's quiesce step does on
// the source. The rules are in shared/dr/quiesce.h.

#include <CLI/CLI.hpp>
#include <algorithm>
#include <ostream>

#include "base/strings.h"
#include "cli/cli.h"
#include "dr/quiesce.h"
#include "dr_site.h"
#include "kube/client.h"
#include "kube_context.h"

namespace kdr::plugin {
namespace {

struct QuiesceFlags {
  std::string namespaces;  // as given
  std::string timeout = "5m";
  bool dry_run = false;
};

// "a,b,a" -> {a, b}; an empty item is a mistake to report (CLI11 would drop it).
Result<std::vector<std::string>> ParseNamespaces(const std::string& text) {
  std::vector<std::string> out;
  for (const std::string& ns : Split(text, ',')) {
    if (ns.empty()) return Status::InvalidArgument("--namespaces " + Quote(text) + " has an empty item");
    if (!kube::IsDns1123Label(ns)) {
      return Status::InvalidArgument("--namespaces: " + Quote(ns) + " is not a namespace name (a lowercase RFC 1123 label)");
    }
    if (std::find(out.begin(), out.end(), ns) == out.end()) out.push_back(ns);
  }
  return out;
}

Status Run(const QuiesceFlags& f, const CommandContext& ctx, bool quiesce) {
  dr::QuiesceOptions options;
  KDR_ASSIGN_OR_RETURN(options.namespaces, ParseNamespaces(f.namespaces));
  options.dry_run = f.dry_run;
  if (quiesce) {
    Result<std::chrono::milliseconds> timeout = ParseRequestTimeout(f.timeout);
    if (!timeout.ok()) {
      return Status::InvalidArgument("--timeout " + Quote(f.timeout) +
                                     " is not a duration: use seconds (30) or numbers with units (30s, 5m, 1h)");
    }
    options.pod_timeout = *timeout;
  }
  KDR_ASSIGN_OR_RETURN(std::unique_ptr<kube::Client> client, ClientFromGlobals(ctx.globals, ctx.env));
  const std::string where = Join(options.namespaces, ", ") + " on " + ContextName(*client);
  Result<dr::QuiesceResult> r = quiesce ? dr::Quiesce(*client, ctx.env, options) : dr::Unquiesce(*client, ctx.env, options);
  if (!r.ok()) return r.status().WithContext(std::string(quiesce ? "quiescing " : "unquiescing ") + where);

  std::ostream& out = *ctx.streams.out;
  for (const dr::QuiesceChange& c : r->changes) {
    out << c.object << ": " << c.change << (f.dry_run ? " (server dry run)" : "") << "\n";
  }
  std::ostream& err = *ctx.streams.err;
  const std::string count = std::to_string(r->changes.size()) + " workload(s)";
  if (f.dry_run) {
    err << count << " would be " << (quiesce ? "quiesced" : "unquiesced") << " in " << where
        << "; nothing was changed (--dry-run)\n";
  } else if (quiesce) {
    err << (r->changes.empty() ? "nothing to stop: every workload is already stopped" : count + " stopped") << " in "
        << where << "; their pods are gone\n";
  } else {
    err << (r->changes.empty() ? "nothing to bring back: no workload remembers a quiesce" : count + " brought back")
        << " in " << where << "\n";
  }
  return Status::Ok();
}

void AddCommand(const Registrar& r, bool quiesce) {
  auto flags = std::make_shared<QuiesceFlags>();
  CLI::App* cmd = r.root->add_subcommand(
      quiesce ? "quiesce" : "unquiesce",
      quiesce ? "Stop the workloads of namespaces: scale Deployments and StatefulSets to 0 and halt KubeVirt "
                "VirtualMachines, remembering how they ran, then wait until their pods are gone"
              : "Bring back what kubectl dr quiesce stopped: the remembered replicas and VM run strategies");
  cmd->add_option("--namespaces", flags->namespaces, "The namespaces, comma-separated (required)")
      ->type_name("NS[,NS...]")
      ->required();
  if (quiesce) {
    cmd->add_option("--timeout", flags->timeout, "How long to wait for the pods to go (0: check once)")
        ->type_name("DURATION");
  }
  cmd->add_flag("--dry-run", flags->dry_run,
                quiesce ? "Check every change with the server (dryRun=All), print it, and do not wait"
                        : "Check every change with the server (dryRun=All) and print it");
  cmd->footer(quiesce ? "Examples:\n"
                        "  kubectl dr quiesce --context prod-east --namespaces shop,payments\n"
                        "  kubectl dr quiesce --namespaces shop --timeout 10m\n"
                        "  kubectl dr quiesce --namespaces shop --dry-run"
                      : "Examples:\n"
                        "  kubectl dr unquiesce --context prod-east --namespaces shop,payments\n"
                        "  kubectl dr unquiesce --namespaces shop --dry-run");
  cmd->callback([r, flags, quiesce] { *r.action = [r, flags, quiesce] { return Run(*flags, *r.context, quiesce); }; });
}

}  // namespace

void RegisterQuiesce(const Registrar& r) {
  AddCommand(r, true);
  AddCommand(r, false);
}

}  // namespace kdr::plugin
