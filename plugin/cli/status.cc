// kubectl dr status NAME [--watch]: a recovery's journal and counts, read from its DRRecovery on
// the target, from any machine (the run may be on someone else's laptop). --watch follows the
// object with a list-then-watch (kube/watch.h), which resumes or relists on its own when the
// watch drops, until the recovery finishes, is deleted, or ^C.

#include <CLI/CLI.hpp>
#include <map>
#include <nlohmann/json.hpp>
#include <ostream>
#include <stop_token>
#include <tuple>

#include "base/strings.h"
#include "cli/cli.h"
#include "dr/plan_clone.h"
#include "dr/types.h"
#include "dr_site.h"
#include "kube/client.h"
#include "kube/object.h"
#include "kube/watch.h"
#include "kube_context.h"
#include "output.h"
#include "recovery_view.h"

namespace kdr::plugin {
namespace {

using nlohmann::json;

struct StatusOptions {
  std::string name;
  bool watch = false;
};

std::string Counts(const dr::RestoredCounts& c) {
  return std::to_string(c.created) + " created, " + std::to_string(c.skipped) + " skipped, " +
         std::to_string(c.failed) + " failed";
}

json StatusJson(const dr::DRRecovery& r, Clock::WallTime now) {
  json steps = json::array();
  for (const dr::RecoveryStep& s : r.status.steps) {
    steps.push_back({{"name", s.name}, {"state", std::string(dr::ToString(s.state))}, {"attempts", s.attempts},
                     {"startedAt", s.started_at}, {"finishedAt", s.finished_at}, {"elapsed", StepElapsed(s, now)},
                     {"message", s.message}});
  }
  json restored = nullptr;
  if (r.status.restored) {
    restored = {{"created", r.status.restored->created}, {"skipped", r.status.restored->skipped},
                {"failed", r.status.restored->failed}};
  }
  return {{"recovery", r.metadata.name},
          {"namespace", r.metadata.namespace_name},
          {"plan", r.spec.plan_name},
          {"action", std::string(dr::ToString(r.spec.action))},
          {"phase", PhaseOf(r)},
          {"step", StepOf(r)},
          {"startedAt", r.status.started_at},
          {"finishedAt", r.status.finished_at},
          {"message", r.status.message},
          {"steps", steps},
          {"restored", restored}};
}

void PrintStatus(const dr::DRRecovery& r, Clock::WallTime now, std::ostream& out) {
  out << "recovery " << r.metadata.name << " (" << dr::ToString(r.spec.action) << " of plan " << r.spec.plan_name
      << "): " << PhaseOf(r);
  if (r.status.phase == dr::RecoveryPhase::kRunning) out << ", at " << StepOf(r);
  out << "\n";
  if (!r.status.started_at.empty()) {
    out << "started " << r.status.started_at;
    if (!r.status.finished_at.empty()) out << ", finished " << r.status.finished_at;
    out << "\n";
  }
  if (r.status.restored) out << "restored: " << Counts(*r.status.restored) << "\n";
  if (!r.status.message.empty()) out << "message: " << r.status.message << "\n";
  if (r.status.steps.empty()) {
    out << "not started\n";
    return;
  }
  out << FormatTable(JournalTable(r, now, false));
}

// What --watch prints as a recovery changes, one line per change, in table mode.
class ChangePrinter {
 public:
  explicit ChangePrinter(std::ostream& out) : out_(out) {}

  void Remember(const dr::DRRecovery& r) {
    phase_ = PhaseOf(r);
    restored_ = r.status.restored ? Counts(*r.status.restored) : "";
    for (const dr::RecoveryStep& s : r.status.steps) steps_[s.name] = {s.state, s.attempts, s.message};
  }

  void Print(const dr::DRRecovery& r, Clock::WallTime now) {
    for (const dr::RecoveryStep& s : r.status.steps) {
      auto seen = std::make_tuple(s.state, s.attempts, s.message);
      auto it = steps_.find(s.name);
      if (it != steps_.end() && it->second == seen) continue;
      out_ << s.name << ": " << dr::ToString(s.state);
      std::vector<std::string> about;
      if (s.attempts > 1) about.push_back("attempt " + std::to_string(s.attempts));
      if (std::string e = StepElapsed(s, now); !e.empty() && s.state != dr::StepState::kRunning) about.push_back(e);
      if (!about.empty()) out_ << " (" << Join(about, ", ") << ")";
      if (!s.message.empty()) out_ << ": " << s.message;
      out_ << "\n";
    }
    const std::string restored = r.status.restored ? Counts(*r.status.restored) : "";
    if (restored != restored_ && !restored.empty()) out_ << "restored: " << restored << "\n";
    if (PhaseOf(r) != phase_) {
      out_ << "recovery " << r.metadata.name << ": " << PhaseOf(r);
      if (r.finished() && !r.status.message.empty()) out_ << " (" << r.status.message << ")";
      out_ << "\n";
    }
    out_.flush();
    Remember(r);
  }

 private:
  std::ostream& out_;
  std::string phase_;
  std::string restored_;
  std::map<std::string, std::tuple<dr::StepState, int, std::string>> steps_;
};

Status RunStatus(const StatusOptions& o, const CommandContext& ctx) {
  KDR_ASSIGN_OR_RETURN(OutputFormat format,
                       ParseOutputFormat(ctx.globals.output, "status",
                                         {OutputFormat::kTable, OutputFormat::kJson, OutputFormat::kYaml}));
  KDR_RETURN_IF_ERROR(dr::ValidateDns1123Subdomain(o.name, "NAME (the recovery)"));
  if (ctx.env.clock == nullptr) return Status::Internal("no clock in the environment");
  Clock& clock = *ctx.env.clock;
  const std::string ns = DrNamespace(ctx.globals);
  KDR_ASSIGN_OR_RETURN(std::unique_ptr<kube::Client> client, ClientFromGlobals(ctx.globals, ctx.env));
  KDR_ASSIGN_OR_RETURN(dr::DRRecovery first, ReadRecovery(*client, ns, o.name));

  std::ostream& out = *ctx.streams.out;
  int shown = 0;
  auto show = [&](const dr::DRRecovery& r) {
    if (format == OutputFormat::kTable) {
      PrintStatus(r, clock.Now(), out);
    } else {
      // Successive YAML documents need their separator, as kubectl get -w -o yaml prints them.
      if (format == OutputFormat::kYaml && shown > 0) out << "---\n";
      PrintObjects({StatusJson(r, clock.Now())}, format, false, out);
    }
    ++shown;
    out.flush();
  };
  show(first);
  if (!o.watch || first.finished()) return Status::Ok();

  // Follow it: every change to the object (the list part of each relist counts as one), printed
  // as change lines in table mode and as whole documents in json/yaml.
  ChangePrinter changes(out);
  changes.Remember(first);
  std::string shown_version = first.metadata.resource_version;
  std::stop_source done;
  Status result;
  auto update = [&](const json& object) {
    Result<dr::DRRecovery> r = dr::DRRecoveryFromJson(object);
    if (!r.ok()) {
      result = r.status().WithContext("reading drrecovery " + ns + "/" + o.name);
      done.request_stop();
      return;
    }
    if (r->metadata.resource_version == shown_version) return;
    shown_version = r->metadata.resource_version;
    if (format == OutputFormat::kTable) {
      changes.Print(*r, clock.Now());
    } else {
      show(*r);
    }
    if (r->finished()) done.request_stop();
  };
  auto deleted = [&] {
    result = Status::NotFound("drrecovery " + Quote(o.name) + " was deleted from namespace " + ns + " while watched");
    done.request_stop();
  };
  kube::ListWatchOptions lw;
  lw.gvr = kRecoveryGvr;
  lw.namespace_name = ns;
  lw.field_selector = "metadata.name=" + o.name;
  kube::ListWatchHandler h;
  h.on_replace = [&](const json& items, const std::string&) {
    if (!items.is_array() || items.empty()) return deleted();
    update(items.front());
  };
  h.on_event = [&](std::string_view type, const json& object) {
    if (type == "DELETED") return deleted();
    update(object);
  };
  h.on_error = [&](const Status& s) {
    *ctx.streams.err << "warning: the watch of drrecovery " << o.name << " dropped (" << s.message()
                     << "); reconnecting\n";
  };
  Status watched = kube::RunListWatch(*client, lw, h, done.get_token());
  if (!watched.ok()) return watched;
  return result;
}

}  // namespace

void RegisterStatus(const Registrar& r) {
  auto o = std::make_shared<StatusOptions>();
  CLI::App* cmd = r.root->add_subcommand(
      "status", "Show a recovery's progress from anywhere: its phase, each step of its journal and the restored "
                "counts; --watch follows it until it finishes");
  cmd->add_option("NAME", o->name, "The recovery")->required();
  cmd->add_flag("-w,--watch", o->watch, "Follow the recovery, printing each change, until it finishes (or ^C)");
  cmd->footer(
      "Examples:\n"
      "  kubectl dr status shop-failover --context dr-west\n"
      "  kubectl dr status shop-failover --watch\n"
      "  kubectl dr status shop-failover -o json");
  cmd->callback([r, o] { *r.action = [r, o] { return RunStatus(*o, *r.context); }; });
}

}  // namespace kdr::plugin
