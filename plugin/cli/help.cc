// Help that reads like kubectl's: description, commands, options as `--name=default:` with the
// text on the next line, a Usage block, and a pointer to more help.

#include <CLI/CLI.hpp>
#include <algorithm>
#include <sstream>

#include "cli/cli.h"

namespace kdr::plugin {
namespace {

// "kubectl dr transforms apply"
std::string CommandPath(const CLI::App* app) {
  std::vector<std::string> names;
  for (const CLI::App* a = app; a != nullptr; a = a->get_parent()) names.push_back(a->get_name());
  std::reverse(names.begin(), names.end());
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : " ") + n;
  return out;
}

bool IsFlag(const CLI::Option* opt) { return opt->get_expected_min() == 0; }

// kubectl prints each option as "    -n, --namespace='':" then the description on the next line.
void WriteOption(std::ostringstream& out, const CLI::Option* opt) {
  std::string names;
  for (const auto& s : opt->get_snames()) names += "-" + s + ", ";
  const auto& lnames = opt->get_lnames();
  names += lnames.empty() ? "" : "--" + lnames.front();
  std::string def = opt->get_default_str();
  if (IsFlag(opt)) {
    def = def.empty() ? "false" : def;
  } else if (def.empty() || def == "[]") {
    def = "''";
  } else if (def.find_first_not_of("0123456789.") != std::string::npos) {
    def = "'" + def + "'";
  }
  out << "    " << names << "=" << def << ":\n\t"
      << opt->get_description() << "\n\n";
}

class KubectlFormatter final : public CLI::Formatter {
 public:
  std::string make_help(const CLI::App* app, std::string, CLI::AppFormatMode) const override {
    std::ostringstream out;
    const bool root = app->get_parent() == nullptr;
    if (!app->get_description().empty()) out << app->get_description() << "\n\n";

    auto subs = app->get_subcommands([](const CLI::App* s) { return !s->get_name().empty(); });
    if (!subs.empty()) {
      size_t width = 0;
      for (const auto* s : subs) width = std::max(width, s->get_name().size());
      out << (root ? "Commands:\n" : "Available Commands:\n");
      for (const auto* s : subs) {
        std::string desc = s->get_description();
        desc = desc.substr(0, desc.find('\n'));
        out << "  " << s->get_name() << std::string(width - s->get_name().size() + 2, ' ') << desc << "\n";
      }
      out << "\n";
    }

    auto opts = app->get_options([](const CLI::Option* o) {
      return !o->get_positional() && !o->get_lnames().empty() && o->get_lnames().front() != "help";
    });
    if (!opts.empty()) {
      out << (root ? "Global options (apply to every command):\n" : "Options:\n");
      for (const auto* o : opts) WriteOption(out, o);
    }

    auto positionals = app->get_options([](const CLI::Option* o) { return o->get_positional(); });
    std::string args;
    for (const auto* p : positionals) args += " " + p->get_name();
    out << "Usage:\n  " << CommandPath(app);
    if (!subs.empty()) out << " [command]";
    out << args << " [flags]" << (root ? "" : " [options]") << "\n\n";

    if (!app->get_footer().empty()) out << app->get_footer() << "\n\n";
    if (!subs.empty()) {
      out << "Use \"" << CommandPath(app) << " <command> --help\" for more information about a given command.\n";
    }
    if (!root) out << "Use \"kubectl dr --help\" for a list of global command-line options (applies to all commands).\n";
    return out.str();
  }
};

}  // namespace

std::shared_ptr<CLI::FormatterBase> MakeKubectlFormatter() { return std::make_shared<KubectlFormatter>(); }

}  // namespace kdr::plugin
