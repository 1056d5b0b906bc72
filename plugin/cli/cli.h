#pragma once

// The plugin's command layer. Each command file registers one subcommand tree on the root app
// and, when chosen, stores the action to run; main() parses, then runs the action once and maps
// its Status to the exit code (0 ok, 1 failed, 2 usage). Actions validate everything before the
// first write.

#include <functional>
#include <iosfwd>
#include <memory>
#include <string>

#include "base/env.h"
#include "base/status.h"

namespace CLI {
class App;
class FormatterBase;
}

namespace kdr::plugin {

// kubectl's global flags, as the user gave them.
struct GlobalOptions {
  std::string kubeconfig;
  std::string context;
  std::string namespace_name;
  std::string output;  // table|wide|json|yaml|name; "" = the command's default
  int verbosity = 0;
  std::string request_timeout = "0";  // kubectl's form: "0", "30s", "1m"
  // No client-side rate limit by default: SIG API Machinery's advice for servers with API Priority
  // and Fairness (1.22 on); the server queues or answers 429, whose Retry-After the client honours.
  double qps = 0;
  int burst = 100;
};

// Injected streams (stern): tests read what a command printed.
struct Streams {
  std::istream* in;
  std::ostream* out;  // results only, so -o json | jq works
  std::ostream* err;  // progress, warnings, errors
};

struct CommandContext {
  GlobalOptions globals;
  Streams streams;
  Env env;
};

using Action = std::function<Status()>;

struct Registrar {
  CLI::App* root;
  CommandContext* context;
  Action* action;  // a command's callback sets it
};

void RegisterVersion(const Registrar& r);
void RegisterTransforms(const Registrar& r);
void RegisterInstall(const Registrar& r);
void RegisterPlan(const Registrar& r);
void RegisterFence(const Registrar& r);
void RegisterInventory(const Registrar& r);
void RegisterRecovery(const Registrar& r);
void RegisterFailover(const Registrar& r);
void RegisterQuiesce(const Registrar& r);
void RegisterStatus(const Registrar& r);
// `plan check`, added to the `plan` subcommand by RegisterPlan.
void RegisterPlanCheck(CLI::App* plan, const Registrar& r);
// `plan create|describe|delete` (plan_create.cc), likewise.
void RegisterPlanCreate(CLI::App* plan, const Registrar& r);

// Help text laid out as kubectl lays out its own (help.cc).
std::shared_ptr<CLI::FormatterBase> MakeKubectlFormatter();

// Builds the app, parses argv, runs the chosen command. Returns the exit code. Used by main() and
// by tests, which pass their own streams and Env.
int RunPlugin(int argc, const char* const* argv, CommandContext* context);

// Runs a command's action. Actions return a Status and never throw; an exception escaping one is a
// bug, turned here into Internal naming the command line ("internal error in kubectl dr transforms
// apply -f x.yaml: ...; please report it") so the plugin exits 1 with one line instead of
// aborting.
Status RunGuarded(const Action& action, int argc, const char* const* argv);

}  // namespace kdr::plugin
