// kubectl-dr: found by kubectl on PATH as `kubectl dr`.

#include <csignal>
#include <iostream>
#include <memory>

#include "base/clock.h"
#include "base/fs.h"
#include "base/log.h"
#include "cli/cli.h"

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  kdr::RealClock clock;
  kdr::PosixFileSystem fs;
  kdr::Logger logger(std::make_unique<kdr::TextLogSink>(&std::cerr, nullptr));
  kdr::plugin::CommandContext ctx;
  ctx.streams = {&std::cin, &std::cout, &std::cerr};
  ctx.env = {&clock, &fs, &logger};
  return kdr::plugin::RunPlugin(argc, argv, &ctx);
}
