// The recovery Lease against kubesim over real loopback TLS: one holder at a time, expired holders
// taken over, the object written as kube-apiserver wants it.

#include "kube/lease.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <regex>
#include <thread>

#include "kube/client.h"
#include "kubesim/server.h"
#include "testutil/testutil.h"

namespace kdr::kube {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

const Gvr kLeases{"coordination.k8s.io", "v1", "leases"};
const Gvr kNamespaces{"", "v1", "namespaces"};

class LeaseTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server = kubesim::Server::Start({});
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(server).value();
    RestConfig c;
    c.server = server_->url();
    c.ca_pem = server_->ca_pem();
    c.bearer_token = server_->admin_token();
    c.qps = 0;
    auto client = Client::Create(c, env_);
    ASSERT_TRUE(client.ok()) << client.status().ToString();
    client_ = std::move(client).value();
    ASSERT_TRUE(client_->Create(kNamespaces, "", {{"apiVersion", "v1"}, {"kind", "Namespace"},
                                                  {"metadata", {{"name", "kubectl-dr-system"}}}}).ok());
  }

  LeaseSpec Spec(const std::string& holder) { return {"kubectl-dr-system", "drr-shop-failover", holder, 30s}; }
  json Object() {
    auto r = client_->Get(kLeases, "kubectl-dr-system", "drr-shop-failover");
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : json();
  }

  testutil::FakeClock clock_;
  Env env_{&clock_, nullptr, nullptr};
  std::unique_ptr<kubesim::Server> server_;
  std::unique_ptr<Client> client_;
};

TEST(MicroTimeTest, HasExactlySixFractionalDigits) {
  Clock::WallTime t;
  ASSERT_TRUE(ParseRfc3339("2026-12-02T15:43:07Z", &t));
  EXPECT_EQ(FormatMicroTime(t), "2026-12-02T15:43:07.000000Z");
  EXPECT_EQ(FormatMicroTime(t + 1234us), "2026-12-02T15:43:07.001234Z");
  EXPECT_EQ(FormatMicroTime(t + 999999us), "2026-12-02T15:43:07.999999Z");
}

TEST_F(LeaseTest, AcquireWritesTheLeaseAsKubeApiserverWantsIt) {
  auto lease = Lease::Acquire(client_.get(), Spec("alice@laptop pid 1"), &clock_);
  ASSERT_TRUE(lease.ok()) << lease.status().ToString();
  json obj = Object();
  EXPECT_EQ(obj["spec"]["holderIdentity"], "alice@laptop pid 1");
  EXPECT_EQ(obj["spec"]["leaseDurationSeconds"], 30);
  const std::regex micro(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z)");
  EXPECT_TRUE(std::regex_match(obj["spec"]["renewTime"].get<std::string>(), micro)) << obj.dump();
  EXPECT_TRUE(std::regex_match(obj["spec"]["acquireTime"].get<std::string>(), micro)) << obj.dump();
}

TEST_F(LeaseTest, ASecondHolderIsRefusedNamingTheFirstAndWhenItExpires) {
  auto first = Lease::Acquire(client_.get(), Spec("alice@laptop pid 1"), &clock_);
  ASSERT_TRUE(first.ok());
  auto second = Lease::Acquire(client_.get(), Spec("bob@desk pid 2"), &clock_);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(second.status().message(),
            "lease kubectl-dr-system/drr-shop-failover is held by alice@laptop pid 1 since 2026-01-01T00:00:00Z "
            "(renewed 2026-01-01T00:00:00Z, expires 2026-01-01T00:00:30Z unless renewed): another run of this "
            "recovery is in progress; wait for it to finish, or, if that run died, run again after the lease "
            "expires");
}

TEST_F(LeaseTest, AnExpiredHolderIsTakenOverAndLearnsItLostTheLease) {
  auto first = Lease::Acquire(client_.get(), Spec("alice@laptop pid 1"), &clock_);
  ASSERT_TRUE(first.ok());
  clock_.Advance(31s);
  auto second = Lease::Acquire(client_.get(), Spec("bob@desk pid 2"), &clock_);
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  json obj = Object();
  EXPECT_EQ(obj["spec"]["holderIdentity"], "bob@desk pid 2");
  EXPECT_EQ(obj["spec"]["leaseTransitions"], 1);
  Status renew = (*first)->Renew();
  EXPECT_EQ(renew.code(), StatusCode::kAborted);
  EXPECT_NE(renew.message().find("was lost"), std::string::npos) << renew.message();
  EXPECT_TRUE((*first)->lost());
  // The loser's release leaves the winner's lease alone.
  EXPECT_TRUE((*first)->Release().ok());
  EXPECT_EQ(Object()["spec"]["holderIdentity"], "bob@desk pid 2");
}

TEST_F(LeaseTest, ReleaseLetsTheNextRunTakeItAtOnce) {
  auto first = Lease::Acquire(client_.get(), Spec("alice@laptop pid 1"), &clock_);
  ASSERT_TRUE(first.ok());
  ASSERT_TRUE((*first)->Release().ok());
  EXPECT_FALSE(Object()["spec"].contains("holderIdentity"));
  auto next = Lease::Acquire(client_.get(), Spec("bob@desk pid 2"), &clock_);
  ASSERT_TRUE(next.ok()) << next.status().ToString();
  EXPECT_EQ(Object()["spec"]["leaseTransitions"], 0) << "a released lease is not a transition";
  // Destroying an unreleased lease releases it too.
  next->reset();
  EXPECT_FALSE(Object()["spec"].contains("holderIdentity"));
}

TEST_F(LeaseTest, RenewMovesRenewTimeAndKeepAliveRenewsUntilReleased) {
  auto lease = Lease::Acquire(client_.get(), Spec("alice@laptop pid 1"), &clock_);
  ASSERT_TRUE(lease.ok());
  const std::string before = Object()["spec"]["renewTime"];
  clock_.Advance(5s);
  ASSERT_TRUE((*lease)->Renew().ok());
  EXPECT_EQ(Object()["spec"]["renewTime"], "2026-01-01T00:00:05.000000Z");
  EXPECT_NE(before, "2026-01-01T00:00:05.000000Z");

  // The fake clock's sleeps return at once, so the keeper renews as fast as the server answers.
  (*lease)->KeepAlive();
  for (int i = 0; i < 2000 && Object()["spec"]["renewTime"] == "2026-01-01T00:00:05.000000Z"; ++i) {
    std::this_thread::sleep_for(1ms);
  }
  EXPECT_NE(Object()["spec"]["renewTime"], "2026-01-01T00:00:05.000000Z");
  ASSERT_TRUE((*lease)->Release().ok());
  EXPECT_FALSE((*lease)->lost());
}

TEST_F(LeaseTest, BadSpecsAreRefusedBeforeAnyWrite) {
  struct Case {
    const char* name;
    LeaseSpec spec;
    const char* want;
  } cases[] = {
      {"no holder", {"kubectl-dr-system", "l", "", 30s}, "the holder identity is empty"},
      {"zero duration", {"kubectl-dr-system", "l", "me", 0s}, "the duration must be positive"},
      {"no name", {"kubectl-dr-system", "", "me", 30s}, "name and namespace are required"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    auto r = Lease::Acquire(client_.get(), c.spec, &clock_);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(r.status().message().find(c.want), std::string::npos) << r.status().message();
  }
  auto list = client_->List(kLeases, "kubectl-dr-system");
  ASSERT_TRUE(list.ok());
  EXPECT_TRUE((*list)["items"].empty());
}

}  // namespace
}  // namespace kdr::kube
