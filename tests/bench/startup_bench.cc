// Plugin start-up: `kubectl dr version --client` beside `kubectl version --client`, each run as a
// fresh process (fork + exec + wait), the way a user's shell runs them. Target: the plugin alone
// (kubectl-dr version --client) under 1/5 of kubectl's own start-up.
//
//   build/tests/startup_bench --benchmark_min_time=2

#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "testutil/testutil.h"

extern char** environ;

namespace {

void RunOnce(benchmark::State& state, const std::vector<std::string>& argv) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  pid_t pid;
  if (posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ) != 0) {
    state.SkipWithError(("cannot run " + argv[0]).c_str());
    posix_spawn_file_actions_destroy(&actions);
    return;
  }
  posix_spawn_file_actions_destroy(&actions);
  int status = 0;
  waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) state.SkipWithError((argv[0] + " failed").c_str());
}

void SetUpEnvironment() {
  // kubectl must find the plugin, and neither may touch the user's clusters.
  std::string path = kdr::testutil::BinaryDir() + ":" + (std::getenv("PATH") ? std::getenv("PATH") : "");
  setenv("PATH", path.c_str(), 1);
  setenv("KUBECONFIG", kdr::testutil::DataPath("kubeconfig/empty.yaml").c_str(), 1);
}

void BM_KubectlDrPluginDirect(benchmark::State& state) {
  SetUpEnvironment();
  std::vector<std::string> argv = {kdr::testutil::BinaryDir() + "/kubectl-dr", "version", "--client"};
  for (auto _ : state) RunOnce(state, argv);
}

void BM_KubectlVersionClient(benchmark::State& state) {
  SetUpEnvironment();
  for (auto _ : state) RunOnce(state, {"kubectl", "version", "--client"});
}

void BM_KubectlDrThroughKubectl(benchmark::State& state) {
  SetUpEnvironment();
  for (auto _ : state) RunOnce(state, {"kubectl", "dr", "version", "--client"});
}

BENCHMARK(BM_KubectlDrPluginDirect)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_KubectlVersionClient)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_KubectlDrThroughKubectl)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
