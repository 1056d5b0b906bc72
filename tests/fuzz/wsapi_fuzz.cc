// HPE Alletra WSAPI answers (storage/wsapi.h, storage/alletra_groups.h): a WsapiClient whose
// transport answers with the input instead of an array, driven through the calls the Alletra
// driver makes (log in, GET system and the remote-copy groups, PUT and POST actions, DELETE,
// log out), every group read by ParseGroup. Input: the answers in order, separated by
// kPartSeparator, each "STATUS\nBODY" (no status line: 200); past the last one the connection is
// refused. Time is a FakeClock, so the client's retries and back-off cost nothing.

#include <charconv>
#include <nlohmann/json.hpp>

#include "fuzz_target.h"
#include "kube/transport.h"
#include "storage/alletra_groups.h"
#include "storage/wsapi.h"
#include "testutil/testutil.h"

namespace kdr::fuzz {
namespace {

class ScriptedTransport final : public kube::Transport {
 public:
  explicit ScriptedTransport(std::vector<std::string_view> answers)
      : answers_(std::move(answers)) {}
  Result<kube::HttpResponse> Send(const kube::HttpRequest& request) override {
    if (next_ >= answers_.size()) {
      return Status::Unavailable("connection to " + url_ + " refused");
    }
    std::string_view answer = answers_[next_++];
    kube::HttpResponse response;
    response.status = 200;
    const size_t eol = answer.find('\n');
    const std::string_view first = answer.substr(0, eol);
    int status = 0;
    auto [end, ec] = std::from_chars(first.data(), first.data() + first.size(), status);
    if (ec == std::errc() && end == first.data() + first.size()) {
      response.status = status;
      answer = eol == std::string_view::npos ? std::string_view() : answer.substr(eol + 1);
    }
    response.headers = {{"Content-Type", "application/json"}};
    response.body = std::string(answer);
    return response;
  }
  const std::string& base_url() const override { return url_; }

 private:
  const std::vector<std::string_view> answers_;
  size_t next_ = 0;
  const std::string url_ = "https://array-a.example:443";
};

void ReadGroups(const Result<nlohmann::json>& answer) {
  if (!answer.ok() || !answer->is_object()) return;
  auto members = answer->find("members");
  if (members == answer->end() || !members->is_array()) return;
  for (const nlohmann::json& m : *members) {
    CheckMessage(storage::alletra::ParseGroup(m, "array-a").status());
  }
}

}  // namespace

int FuzzWsapi(const uint8_t* data, size_t size) {
  testutil::FakeClock clock;
  Env env{&clock, nullptr, nullptr};
  storage::WsapiEndpoint endpoint;
  endpoint.label = "source array";
  endpoint.url = "https://array-a.example:443";
  endpoint.user = "dr";
  endpoint.password = "secret";
  endpoint.secret = "kubectl-dr-system/alletra";
  endpoint.user_key = "username";
  endpoint.password_key = "password";
  storage::WsapiClient client(
      endpoint, std::make_unique<ScriptedTransport>(SplitParts(AsText(data, size))), env);
  const auto deadline = storage::Deadline::After(clock, std::chrono::minutes(5));
  auto system = client.Get("system", deadline);
  CheckMessage(system.status());
  auto groups = client.Get("remotecopygroups", deadline);
  CheckMessage(groups.status());
  ReadGroups(groups);
  auto group = client.Get("remotecopygroups/shop-data", deadline);
  CheckMessage(group.status());
  if (group.ok()) CheckMessage(storage::alletra::ParseGroup(*group, "array-a").status());
  CheckMessage(client.Put("remotecopygroups/shop-data",
                          {{"action", storage::alletra::kSynchronize}}, deadline).status());
  CheckMessage(client.Post("remotecopygroups/shop-data", {{"action", storage::alletra::kFailover}},
                           deadline).status());
  CheckMessage(client.Delete("volumes/shop-data-drill", deadline));
  CheckMessage(client.Close(deadline));
  return 0;
}

}  // namespace kdr::fuzz

KDR_FUZZ_ENTRY(FuzzWsapi)
