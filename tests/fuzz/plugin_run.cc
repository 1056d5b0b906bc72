#include <sstream>

#include "cli/cli.h"
#include "fuzz_target.h"
#include "testutil/testutil.h"

namespace kdr::fuzz {

int RunPlugin(std::vector<std::string> args, FileSystem* fs) {
  testutil::FakeClock clock;
  args.insert(args.begin(), "kubectl-dr");
  std::vector<const char*> argv;
  for (const auto& a : args) argv.push_back(a.c_str());
  std::istringstream in;
  std::ostringstream out, err;
  plugin::CommandContext ctx;
  ctx.streams = {&in, &out, &err};
  ctx.env = Env{&clock, fs, nullptr};
  const int code = plugin::RunPlugin(static_cast<int>(argv.size()), argv.data(), &ctx);
  KDR_FUZZ_CHECK(code == 0 || code == 1 || code == 2, "exit " + std::to_string(code));
  KDR_FUZZ_CHECK(err.str().find("internal error") == std::string::npos, err.str());
  return code;
}

}  // namespace kdr::fuzz
