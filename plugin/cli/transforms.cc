// kubectl dr transforms validate|apply: the resource-modifier engine offline, to check a modifier
// file and preview what a recovery would restore.

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <optional>
#include <ostream>

#include "base/fs.h"
#include "base/strings.h"
#include "base/yaml.h"
#include "cli/cli.h"
#include "modifier_file.h"
#include "objects.h"
#include "transform/apply.h"
#include "transform/json_patch.h"
#include "transform/rules.h"

namespace kdr::plugin {
namespace {

using nlohmann::json;

struct ValidateOptions {
  std::string file;
};

struct ApplyOptions {
  std::string modifiers;
  std::string objects;
  std::string vm_power_on;  // "", "true" or "false"
  bool diff = false;
};

Status RunValidate(const ValidateOptions& opts, const CommandContext& ctx) {
  KDR_ASSIGN_OR_RETURN(std::string text, ReadModifierFile(opts.file, ctx));
  KDR_ASSIGN_OR_RETURN(size_t n, CheckModifiers(text, opts.file, *ctx.streams.err));
  *ctx.streams.out << opts.file << ": valid (" << n << (n == 1 ? " rule" : " rules") << ")\n";
  return Status::Ok();
}

// The changes from a to b as RFC 6902 operations (the same form the webhook answers with).
json Diff(const json& a, const json& b) { return json::diff(a, b); }

json ObjectRef(const json& o) {
  json ref = json::object();
  for (const char* k : {"apiVersion", "kind"}) {
    if (o.contains(k)) ref[k] = o[k];
  }
  if (o.contains("metadata") && o["metadata"].is_object()) {
    for (const char* k : {"namespace", "name"}) {
      if (o["metadata"].contains(k)) ref[k] = o["metadata"][k];
    }
  }
  return ref;
}

std::string Inline(const json& v) {
  std::string s = v.dump();
  return s.size() > 200 ? s.substr(0, 197) + "..." : s;
}

struct Outcome {
  json before;
  json after;
  transform::ApplyTrace trace;
};

void PrintDiff(const std::vector<Outcome>& done, const std::string& format, std::ostream& out) {
  if (format == "json" || format == "yaml") {
    json list = json::array();
    for (const auto& o : done) {
      json ops = Diff(o.before, o.after);
      list.push_back({{"object", ObjectRef(o.before)},
                      {"rules", o.trace.applied},
                      {"patch", std::move(ops)}});
    }
    if (format == "json") {
      out << list.dump(4) << "\n";
    } else {
      out << JsonToYaml(list);
    }
    return;
  }
  for (const auto& o : done) {
    json ops = Diff(o.before, o.after);
    out << "--- " << DescribeObject(o.before);
    if (ops.empty()) {
      out << ": unchanged\n";
      continue;
    }
    std::vector<std::string> rules;
    for (size_t r : o.trace.applied) rules.push_back(std::to_string(r));
    if (!rules.empty()) out << " (rules " << Join(rules, ", ") << ")";
    if (o.trace.vm_power_changed) out << " (vm power)";
    out << "\n";
    for (const auto& op : ops) {
      const std::string& kind = op["op"].get_ref<const std::string&>();
      const std::string& path = op["path"].get_ref<const std::string&>();
      if (kind == "remove") {
        const json* old = transform::ResolvePointer(o.before, *transform::ParseJsonPointer(path));
        out << "  - " << path << ": " << (old ? Inline(*old) : "") << "\n";
      } else if (kind == "add") {
        out << "  + " << path << ": " << Inline(op["value"]) << "\n";
      } else {
        const json* old = transform::ResolvePointer(o.before, *transform::ParseJsonPointer(path));
        out << "  ~ " << path << ": " << (old ? Inline(*old) : "") << " -> " << Inline(op["value"])
            << "\n";
      }
    }
  }
}

Status RunApply(const ApplyOptions& opts, const CommandContext& ctx) {
  const std::string& format = ctx.globals.output.empty() ? std::string("yaml") : ctx.globals.output;
  if (format != "yaml" && format != "json" && !(opts.diff && format == "text")) {
    return Status::InvalidArgument("--output must be 'yaml' or 'json' for transforms apply, not " +
                                   Quote(format));
  }
  transform::TransformOptions options;
  if (opts.vm_power_on == "true") {
    options.vm_power_on = true;
  } else if (opts.vm_power_on == "false") {
    options.vm_power_on = false;
  } else if (!opts.vm_power_on.empty()) {
    return Status::InvalidArgument("--vm-power-on must be true or false, not " +
                                   Quote(opts.vm_power_on));
  }
  if (opts.modifiers.empty() && !options.vm_power_on) {
    return Status::InvalidArgument(
        "nothing to apply: give --modifiers FILE and/or --vm-power-on=true|false");
  }
  std::optional<transform::ResourceModifiers> modifiers;
  if (!opts.modifiers.empty()) {
    KDR_ASSIGN_OR_RETURN(std::string text, ReadModifierFile(opts.modifiers, ctx));
    KDR_ASSIGN_OR_RETURN(modifiers, transform::ResourceModifiers::Parse(text, opts.modifiers));
    options.modifiers = &*modifiers;
  }
  if (ctx.env.fs == nullptr) return Status::Internal("no file system in the environment");
  KDR_ASSIGN_OR_RETURN(auto objects, ReadObjects(opts.objects, *ctx.env.fs, *ctx.streams.in));

  // Bad input objects stop everything before anything is printed.
  std::vector<std::string> bad;
  for (const auto& o : objects) {
    const json& obj = *o.object;
    auto has = [&](const char* k) {
      return obj.contains(k) && obj[k].is_string() && !obj[k].get_ref<const std::string&>().empty();
    };
    if (!has("apiVersion") || !has("kind")) {
      std::string missing = !has("apiVersion") && !has("kind") ? "apiVersion and kind"
                            : !has("apiVersion")               ? "apiVersion"
                                                               : "kind";
      bad.push_back(o.source + ": " + DescribeObject(obj) + " has no " + missing);
    }
  }
  if (!bad.empty()) {
    return Status::InvalidArgument(
        bad.size() == 1 ? bad[0] : std::to_string(bad.size()) + " objects are invalid:\n  " +
                                       Join(bad, "\n  "));
  }

  std::vector<Outcome> done;
  size_t failed = 0;
  for (auto& o : objects) {
    Outcome outcome;
    outcome.before = *o.object;
    json obj = std::move(*o.object);
    Status s = transform::TransformObject(options, &obj, std::nullopt, &outcome.trace);
    if (!s.ok()) {
      ++failed;
      *ctx.streams.err << "error: " << o.source << ": " << DescribeObject(outcome.before) << ": "
                       << s.message() << "\n";
      continue;
    }
    outcome.after = std::move(obj);
    done.push_back(std::move(outcome));
  }

  std::ostream& out = *ctx.streams.out;
  if (opts.diff) {
    PrintDiff(done, ctx.globals.output, out);
  } else if (!done.empty()) {
    json doc;
    if (done.size() == 1) {
      doc = std::move(done[0].after);
    } else {
      json items = json::array();
      for (auto& d : done) items.push_back(std::move(d.after));
      doc = {{"apiVersion", "v1"},
             {"kind", "List"},
             {"items", std::move(items)},
             {"metadata", {{"resourceVersion", ""}}}};
    }
    if (format == "json") {
      out << doc.dump(4) << "\n";
    } else {
      out << JsonToYaml(doc);
    }
  }
  if (failed > 0) {
    return Status::FailedPrecondition(
        std::to_string(failed) + " of " + std::to_string(objects.size()) +
        (objects.size() == 1 ? " object" : " objects") +
        " could not be transformed and " + (failed == 1 ? "was" : "were") +
        " left out of the output (an object is transformed completely or not at all)");
  }
  return Status::Ok();
}

}  // namespace

void RegisterTransforms(const Registrar& r) {
  CLI::App* cmd = r.root->add_subcommand(
      "transforms", "Check resource-modifier files and preview their effect on objects offline");
  cmd->require_subcommand(1);

  auto vopts = std::make_shared<ValidateOptions>();
  CLI::App* validate = cmd->add_subcommand(
      "validate", "Check a Velero-format resource-modifier file; list every problem (exit 2)");
  validate->add_option("FILE", vopts->file, "The modifier file (version: v1, resourceModifierRules)")
      ->required();
  validate->callback([r, vopts] {
    *r.action = [r, vopts] { return RunValidate(*vopts, *r.context); };
  });

  auto aopts = std::make_shared<ApplyOptions>();
  CLI::App* apply = cmd->add_subcommand(
      "apply",
      "Apply resource modifiers and VM options to objects and print the result (nothing is sent "
      "to a cluster)");
  apply->add_option("--modifiers", aopts->modifiers, "The Velero-format resource-modifier file")
      ->type_name("FILE");
  apply->add_option("-f,--filename", aopts->objects,
                    "Objects to transform: a file, a directory, or - for stdin (YAML documents, "
                    "JSON, or a List)")
      ->type_name("PATH")
      ->required();
  apply->add_option("--vm-power-on", aopts->vm_power_on,
                    "Power KubeVirt VirtualMachines on (true) or off (false) via spec.runStrategy")
      ->type_name("BOOL");
  apply->add_flag("--diff", aopts->diff, "Show per object only what changed");
  apply->callback([r, aopts] {
    *r.action = [r, aopts] { return RunApply(*aopts, *r.context); };
  });
}

}  // namespace kdr::plugin
