#pragma once

// `kubectl dr plan get` and `kubectl dr recovery get`: the objects of one kind in the DR namespace
// (every namespace with -A), or the named ones in the order named, printed as kubectl get prints
// (output.h). A name that is not there is NotFound after the others are printed, with a
// did-you-mean, as kubectl does.

#include <chrono>
#include <functional>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "base/clock.h"
#include "base/status.h"
#include "cli/cli.h"

namespace kdr::kube {
class Client;
}

namespace kdr::plugin {

struct GetOptions {
  std::vector<std::string> names;
  bool all_namespaces = false;
};

struct GetKind {
  std::string_view command;   // "plan get", for -o errors
  std::string_view noun;      // "plan": "a plan cannot be retrieved by name across all namespaces"
  std::string_view resource;  // "drplan": "drplan \"x\" not found in namespace ns"
  // The objects of namespace ns ("" = every namespace), with the error to show when unreadable.
  std::function<Result<std::vector<nlohmann::json>>(kube::Client&, const std::string& ns)> list;
  std::vector<std::string_view> headers;       // after NAMESPACE (with -A)
  std::vector<std::string_view> wide_headers;  // appended by -o wide
  // One row's cells for headers (and wide_headers when wide), NAMESPACE left out.
  std::function<std::vector<std::string>(const nlohmann::json&, bool wide, Clock::WallTime now)> row;
};

Status RunGetCommand(const GetKind& kind, const GetOptions& options, const CommandContext& ctx);

// Adds `get` (aliases list and ls) under cmd, taking NAME... and -A,--all-namespaces; `plural`
// names the objects in the help ("plans"). Returns it for a footer.
CLI::App* AddGetSubcommand(CLI::App* cmd, const Registrar& r, const GetKind& kind, std::string description,
                           std::string_view plural);

}  // namespace kdr::plugin
