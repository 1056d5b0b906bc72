// alletra-sim: serves a simulated pair of HPE Alletra arrays (WSAPI over HTTPS) until SIGINT or
// SIGTERM. Prints one ready line on stdout once every listener accepts connections:
//   alletra-sim ready array-a=https://127.0.0.1:P1 array-b=https://127.0.0.1:P2
//     admin=https://127.0.0.1:P3 data=/path/data ca=/path/ca.pem
// Exit codes: 0 stopped by a signal, 1 could not start, 2 bad flags or config.

#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <iostream>
#include <string>

#include "alletra_config.h"
#include "alletra_sim.h"
#include "base/fs.h"
#include "base/log.h"

namespace {

int Fail(const kdr::Status& s, int code) {
  std::cerr << "alletra-sim: " << s.message() << "\n";
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app("alletra-sim: a simulated pair of HPE Alletra arrays (WSAPI over HTTPS) for tests",
               "alletra-sim");
  std::string listen = "127.0.0.1:0";
  std::string config_path;
  std::string user;
  std::string password;
  std::string ca_out;
  std::string data_dir;
  bool verbose = false;
  bool no_admin = false;
  app.add_option("--listen", listen,
                 "HOST:PORT to listen on; port 0 picks free ports, otherwise the arrays use PORT "
                 "and PORT+1 and the admin listener PORT+2")
      ->capture_default_str();
  app.add_option("--config", config_path, "pair description, YAML or JSON (arrays, groups, volumes)")
      ->check(CLI::ExistingFile);
  app.add_option("--user", user, "WSAPI user name (overrides the config; default 3paradm)");
  app.add_option("--password", password, "WSAPI password (overrides the config; default 3pardata)");
  app.add_option("--ca-out", ca_out,
                 "write the CA certificate (PEM) here; default a file in $TMPDIR named in the "
                 "ready line");
  app.add_option("--data-dir", data_dir,
                 "where the arrays keep their volumes' contents, DIR/ARRAY/VOLUME, which remote copy "
                 "copies (default: a new temp dir, removed on exit, named in the ready line)");
  app.add_flag("--no-admin", no_admin, "do not serve the admin endpoint");
  app.add_flag("-v,--verbose", verbose, "log every request on stderr (session keys redacted)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }

  kdr::PosixFileSystem fs;
  kdr::sim::AlletraSimOptions options;
  if (!config_path.empty()) {
    auto text = fs.ReadFile(config_path);
    if (!text.ok()) return Fail(text.status(), 2);
    auto spec = kdr::sim::ParsePairSpec(*text, "config " + config_path);
    if (!spec.ok()) return Fail(spec.status(), 2);
    options.spec = std::move(*spec);
  }
  if (!user.empty()) options.spec.user = user;
  if (!password.empty()) options.spec.password = password;
  const size_t colon = listen.rfind(':');
  if (colon == std::string::npos || colon == 0) {
    return Fail(kdr::Status::InvalidArgument("--listen \"" + listen + "\" is not HOST:PORT"), 2);
  }
  options.host = listen.substr(0, colon);
  try {
    size_t used = 0;
    options.port = std::stoi(listen.substr(colon + 1), &used);
    if (used != listen.size() - colon - 1 || options.port < 0 || options.port > 65533) throw 0;
  } catch (...) {
    return Fail(kdr::Status::InvalidArgument("--listen \"" + listen +
                                             "\": the port must be a number from 0 to 65533"),
                2);
  }
  options.admin = !no_admin;
  options.data_dir = data_dir;
  kdr::Logger logger(std::make_unique<kdr::TextLogSink>(&std::cerr, nullptr),
                     verbose ? kdr::LogLevel::kDebug : kdr::LogLevel::kInfo);
  options.logger = &logger;

  // Block the stop signals before any server thread starts, so only sigwait below sees them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  auto sim = kdr::sim::AlletraSim::Start(std::move(options));
  if (!sim.ok()) {
    return Fail(sim.status(), sim.status().code() == kdr::StatusCode::kInvalidArgument ? 2 : 1);
  }
  if (ca_out.empty()) {
    const char* tmp = std::getenv("TMPDIR");
    ca_out = std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/alletra-sim-" +
             std::to_string(getpid()) + "-ca.pem";
  }
  if (kdr::Status s = fs.WriteFile(ca_out, (*sim)->ca_pem()); !s.ok()) return Fail(s, 1);
  std::cout << (*sim)->ReadyLine() << " ca=" << ca_out << std::endl;

  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  logger.Info("stopping", {{"signal", std::to_string(signal_number)}});
  return 0;
}
