#include "modifier_file.h"

#include <ostream>

#include "base/fs.h"
#include "base/strings.h"
#include "transform/rules.h"

namespace kdr::plugin {

Result<std::string> ReadModifierFile(const std::string& path, const CommandContext& ctx) {
  if (ctx.env.fs == nullptr) return Status::Internal("no file system in the environment");
  auto text = ctx.env.fs->ReadFile(path);
  if (!text.ok()) {
    return Status(text.status().code(), "cannot read modifier file " + Quote(path) + ": " + text.status().message());
  }
  return text;
}

Result<size_t> CheckModifiers(const std::string& text, const std::string& file, std::ostream& err) {
  transform::ModifierDiagnostics d;
  auto modifiers = transform::ResourceModifiers::Load(text, &d);
  for (const auto& w : d.warnings) err << "warning: " << file << ": " << w << "\n";
  if (!modifiers) {
    std::string msg = file + " is invalid: ";
    if (d.problems.size() == 1) {
      msg += d.problems[0];
    } else {
      msg += std::to_string(d.problems.size()) + " problems:";
      for (const auto& p : d.problems) msg += "\n  " + p;
    }
    return Status::InvalidArgument(msg);
  }
  return modifiers->rules().size();
}

}  // namespace kdr::plugin
