#pragma once

// Helpers for kubesim's own test suites (header-only; included by *_test.cc only): a started
// server, a small HTTPS client that verifies the server's CA, and a kubectl runner.

#include <gtest/gtest.h>
#include <httplib.h>
#include <openssl/pem.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "server.h"
#include "tls/pem.h"
#include "testutil/testutil.h"

namespace kdr::kubesim::testing {

using json = nlohmann::json;

struct Reply {
  int status = 0;
  json body;
  std::string raw;
  std::string content_type;
  std::vector<std::string> warnings;  // the Warning headers' values
};

// HTTPS to one kubesim, verifying its CA, authenticating with a bearer token (or none).
class Client {
 public:
  Client(const Server& server, std::string token) : token_(std::move(token)) {
    cli_ = std::make_unique<httplib::SSLClient>("127.0.0.1", server.port());
    cli_->set_ca_cert_store(tls::NewCertStore(server.ca_pem(), "kubesim CA")->release());
    cli_->enable_server_certificate_verification(true);
    if (!token_.empty()) cli_->set_bearer_token_auth(token_);
    cli_->set_read_timeout(30, 0);
    cli_->set_tcp_nodelay(true);
  }

  Reply Do(const std::string& method, const std::string& path, const std::string& body = "",
           const std::string& content_type = "application/json", httplib::Headers headers = {}) {
    auto send = [&]() -> httplib::Result {
      if (method == "POST") return cli_->Post(path.c_str(), headers, body, content_type.c_str());
      if (method == "PUT") return cli_->Put(path.c_str(), headers, body, content_type.c_str());
      if (method == "PATCH") return cli_->Patch(path.c_str(), headers, body, content_type.c_str());
      if (method == "DELETE") return cli_->Delete(path.c_str(), headers, body, content_type.c_str());
      return cli_->Get(path.c_str(), headers);
    };
    httplib::Result r = send();
    Reply out;
    if (!r) {
      ADD_FAILURE() << method << " " << path << ": " << httplib::to_string(r.error());
      return out;
    }
    out.status = r->status;
    out.raw = r->body;
    out.content_type = r->get_header_value("Content-Type");
    for (auto [it, end] = r->headers.equal_range("Warning"); it != end; ++it) out.warnings.push_back(it->second);
    out.body = json::parse(r->body, nullptr, false);
    return out;
  }
  Reply Get(const std::string& path) { return Do("GET", path); }
  Reply Post(const std::string& path, const json& body) { return Do("POST", path, body.dump()); }
  Reply Put(const std::string& path, const json& body) { return Do("PUT", path, body.dump()); }
  Reply Patch(const std::string& path, const std::string& body, const std::string& type) {
    return Do("PATCH", path, body, type);
  }
  Reply Delete(const std::string& path, const json& body = nullptr) {
    return Do("DELETE", path, body.is_null() ? "" : body.dump());
  }

  // Reads a watch stream until `stop` returns true for the events so far or the stream ends.
  std::vector<json> Watch(const std::string& path, const std::function<bool(const std::vector<json>&)>& stop) {
    std::vector<json> events;
    std::string buf;
    cli_->Get(path.c_str(), [&](const char* data, size_t n) {
      buf.append(data, n);
      size_t nl;
      while ((nl = buf.find('\n')) != std::string::npos) {
        events.push_back(json::parse(buf.substr(0, nl), nullptr, false));
        buf.erase(0, nl + 1);
        if (stop(events)) return false;
      }
      return true;
    });
    return events;
  }

 private:
  std::string token_;
  std::unique_ptr<httplib::SSLClient> cli_;
};

inline json ConfigMap(const std::string& name, const json& data = json::object()) {
  return {{"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"metadata", {{"name", name}}}, {"data", data}};
}

inline json Deployment(const std::string& name, int replicas) {
  return {{"apiVersion", "apps/v1"},
          {"kind", "Deployment"},
          {"metadata", {{"name", name}, {"labels", {{"app", name}}}}},
          {"spec",
           {{"replicas", replicas},
            {"selector", {{"matchLabels", {{"app", name}}}}},
            {"template",
             {{"metadata", {{"labels", {{"app", name}}}}},
              {"spec", {{"containers", json::array({{{"name", "c"}, {"image", "nginx"}}})}}}}}}}};
}

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr
};

// Runs a shell command line; stdout and stderr together.
inline CommandResult Run(const std::string& command) {
  CommandResult r;
  FILE* p = popen((command + " 2>&1").c_str(), "r");
  if (!p) return r;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.output.append(buf.data(), n);
  int status = pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

}  // namespace kdr::kubesim::testing

namespace kdr::kubesim::testing {

// A child process whose stdout (and stderr) is read line by line; killed when destroyed.
class Process {
 public:
  explicit Process(const std::string& command) {
    int fds[2];
    if (pipe(fds) != 0) return;
    pid_ = fork();
    if (pid_ == 0) {
      dup2(fds[1], 1);
      dup2(fds[1], 2);
      close(fds[0]);
      close(fds[1]);
      execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    close(fds[1]);
    out_ = fdopen(fds[0], "r");
  }
  ~Process() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    if (out_) fclose(out_);
  }
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  // Reads lines until one contains `needle` (true) or the output ends (false). Everything read
  // is kept in output().
  bool ReadUntil(const std::string& needle) {
    if (!out_) return false;
    char buf[4096];
    while (fgets(buf, sizeof buf, out_)) {
      output_ += buf;
      if (std::string(buf).find(needle) != std::string::npos) return true;
    }
    return false;
  }
  const std::string& output() const { return output_; }
  pid_t pid() const { return pid_; }
  // Waits for the process to exit; its exit code (-1 when killed by a signal).
  int Wait() {
    int status = 0;
    if (pid_ <= 0 || waitpid(pid_, &status, 0) != pid_) return -1;
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

 private:
  pid_t pid_ = -1;
  FILE* out_ = nullptr;
  std::string output_;
};

}  // namespace kdr::kubesim::testing
