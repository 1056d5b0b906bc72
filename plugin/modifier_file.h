#pragma once

// A Velero-format resource-modifier file as the commands read it (transforms validate, transforms
// apply, recovery create): its text from the injected file system, and every problem in it at once.

#include <cstddef>
#include <iosfwd>
#include <string>

#include "base/status.h"
#include "cli/cli.h"

namespace kdr::plugin {

// The file's text. NotFound/PermissionDenied/... "cannot read modifier file \"F\": why".
Result<std::string> ReadModifierFile(const std::string& path, const CommandContext& ctx);

// Compiles `text` (the contents of `file`) and returns its number of rules; warnings go to `err`
// ("warning: F: ..."). InvalidArgument "F is invalid: PROBLEM", or "F is invalid: N problems:"
// and one indented problem a line, when it does not compile.
Result<size_t> CheckModifiers(const std::string& text, const std::string& file, std::ostream& err);

}  // namespace kdr::plugin
