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
  // RunPlugin writes a failed command's message as a line "error: MESSAGE", and an escaped
  // exception's message starts "internal error in kubectl dr ..." (RunGuarded). Matched at the start
  // of a line only: messages quote the input (a JSON syntax error quotes what it last read), and
  // libFuzzer, seeing the words compared here, put them into an index.json, whose syntax error then
  // carried them (tests/data/fuzz-seeds/inventory/internal-error-quoted.txt).
  const std::string text = "\n" + err.str();
  KDR_FUZZ_CHECK(text.find("\nerror: internal error in kubectl dr") == std::string::npos, err.str());
  return code;
}

}  // namespace kdr::fuzz
