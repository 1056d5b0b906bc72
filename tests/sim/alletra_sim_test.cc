// The simulator over real HTTPS: a client that verifies the simulator's CA, sessions, every
// transition of the failover / recover / restore cycle, and every refusal with the array's code.

#include "alletra_sim.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

#include "base/fs.h"
#include "testutil/testutil.h"
#include "tls/certs.h"

extern char** environ;

namespace kdr::sim {
namespace {

using nlohmann::json;

constexpr char kLogin[] = R"({"user":"3paradm","password":"3pardata"})";

struct Reply {
  int status = 0;  // 0: no HTTP answer (see error)
  json body;
  std::string raw;
  std::string location;
  std::string error;
};

// A WSAPI client: one TLS connection per call, verifying the server against ca_path.
class Client {
 public:
  Client(int port, std::string ca_path) : port_(port), ca_path_(std::move(ca_path)) {}

  Reply Call(const std::string& method, const std::string& path, const std::string& body = "",
             const std::string& key = "") const {
    httplib::SSLClient cli("127.0.0.1", port_);
    cli.set_ca_cert_path(ca_path_.c_str());
    cli.enable_server_certificate_verification(true);
    httplib::Headers headers;
    if (!key.empty()) headers.emplace("X-HP3PAR-WSAPI-SessionKey", key);
    auto send = [&]() -> httplib::Result {
      if (method == "GET") return cli.Get(path.c_str(), headers);
      if (method == "POST") return cli.Post(path.c_str(), headers, body, "application/json");
      if (method == "PUT") return cli.Put(path.c_str(), headers, body, "application/json");
      return cli.Delete(path.c_str(), headers);
    };
    httplib::Result r = send();
    Reply reply;
    if (!r) {
      reply.error = httplib::to_string(r.error());
      return reply;
    }
    reply.status = r->status;
    reply.raw = r->body;
    reply.body = json::parse(r->body, nullptr, false);
    reply.location = r->get_header_value("Location");
    return reply;
  }

  std::string Login() const {
    Reply r = Call("POST", "/api/v1/credentials", kLogin);
    EXPECT_EQ(r.status, 201) << r.raw << r.error;
    return r.body.is_object() ? r.body.value("key", "") : "";
  }

 private:
  int port_;
  std::string ca_path_;
};

void ExpectError(const Reply& r, int http, int code, const std::string& desc_part,
                 const std::string& ref = "") {
  EXPECT_EQ(r.status, http) << r.raw << r.error;
  ASSERT_TRUE(r.body.is_object()) << r.raw;
  EXPECT_EQ(r.body.value("code", -1), code) << r.raw;
  EXPECT_NE(r.body.value("desc", "").find(desc_part), std::string::npos) << r.raw;
  if (!ref.empty()) {
    EXPECT_EQ(r.body.value("ref", ""), ref) << r.raw;
  }
}

std::string Action(int action) { return json{{"action", action}}.dump(); }

class AlletraSimTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto spec = ParsePairSpec(testutil::ReadData("sim/pair.yaml"), "pair.yaml");
    ASSERT_TRUE(spec.ok()) << spec.status().ToString();
    AlletraSimOptions options;
    options.spec = *spec;
    options.clock = &clock_;
    auto sim = AlletraSim::Start(options);
    ASSERT_TRUE(sim.ok()) << sim.status().ToString();
    sim_ = std::move(*sim);
    ca_path_ = dir_.Write("ca.pem", sim_->ca_pem());
    a_ = std::make_unique<Client>(sim_->port("array-a"), ca_path_);
    b_ = std::make_unique<Client>(sim_->port("array-b"), ca_path_);
    const std::string admin = sim_->admin_url();
    admin_ = std::make_unique<Client>(std::stoi(admin.substr(admin.rfind(':') + 1)), ca_path_);
  }

  // A group from array-a to array-b in the given state; its name on array-b is name.r188150.
  void Seed(const std::string& name, Phase phase, bool started, SyncStatus sync) {
    GroupSpec g;
    g.name = name;
    g.primary_array = "array-a";
    g.phase = phase;
    g.started = started;
    g.sync = sync;
    g.sync_reads = 0;
    g.volumes = {{name + "-vol-a", name + "-vol-b", 100}};
    Status s = sim_->pair().AddGroup(g);
    ASSERT_TRUE(s.ok()) << s.ToString();
  }

  json Group(const Client& c, const std::string& key, const std::string& name) {
    Reply r = c.Call("GET", "/api/v1/remotecopygroups/" + name, "", key);
    EXPECT_EQ(r.status, 200) << r.raw << r.error;
    return r.body;
  }

  testutil::FakeClock clock_;  // declared before sim_: the sim uses it until destroyed
  testutil::TempDir dir_;
  std::unique_ptr<AlletraSim> sim_;
  std::string ca_path_;
  std::unique_ptr<Client> a_, b_, admin_;
};

// ---- sessions ----

TEST_F(AlletraSimTest, LoginReturnsSessionKeyAndLocation) {
  Reply r = a_->Call("POST", "/api/v1/credentials", kLogin);
  ASSERT_EQ(r.status, 201) << r.raw << r.error;
  const std::string key = r.body.value("key", "");
  EXPECT_EQ(key.size(), 24u);
  EXPECT_EQ(key.find_first_not_of("0123456789ABCDEF"), std::string::npos) << key;
  EXPECT_EQ(r.location, "/api/v1/credentials/" + key);
  Reply system = a_->Call("GET", "/api/v1/system", "", key);
  EXPECT_EQ(system.status, 200) << system.raw;
}

TEST_F(AlletraSimTest, LoginRefusesBadCredentialsAndBodies) {
  struct Case {
    const char* name;
    const char* body;
    int http;
    int code;
    const char* desc;
    const char* ref;
  };
  const Case cases[] = {
      {"wrong password", R"({"user":"3paradm","password":"nope"})", 403, wsapi::kInvUserPass,
       "invalid user or password", ""},
      {"unknown user", R"({"user":"root","password":"3pardata"})", 403, wsapi::kInvUserPass,
       "invalid user or password", ""},
      {"not json", R"({"user":3paradm})", 400, wsapi::kJsonSyntaxError, "JSON syntax error", ""},
      {"not an object", R"(["3paradm"])", 400, wsapi::kInvInput, "JSON object", ""},
      {"no password", R"({"user":"3paradm"})", 400, wsapi::kInvInputMissingRequired,
       "missing required", "password"},
      {"user not a string", R"({"user":7,"password":"x"})", 400, wsapi::kInvInputWrongType,
       "wrong type", "user"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    ExpectError(a_->Call("POST", "/api/v1/credentials", c.body), c.http, c.code, c.desc, c.ref);
  }
}

TEST_F(AlletraSimTest, CallsWithoutValidSessionAreForbidden) {
  const std::string key_of_b = b_->Login();
  struct Case {
    const char* name;
    const char* method;
    const char* path;
    std::string key;
  };
  const Case cases[] = {
      {"no header", "GET", "/api/v1/system", ""},
      {"unknown key", "GET", "/api/v1/remotecopygroups", "48A70B8A8301C458037E0821"},
      {"other array's key", "GET", "/api/v1/remotecopygroups/shop-inventory", key_of_b},
      {"action without session", "POST", "/api/v1/remotecopygroups/shop-inventory", ""},
      {"unknown path still needs a session", "GET", "/api/v1/nosuchthing", ""},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    ExpectError(a_->Call(c.method, c.path, Action(kActionFailover), c.key), 403,
                wsapi::kInvSessKey, "invalid session key");
  }
  // The refused calls changed nothing.
  auto state = sim_->pair().State("shop-inventory");
  ASSERT_TRUE(state.ok());
  EXPECT_EQ(state->phase, Phase::kNatural);
}

TEST_F(AlletraSimTest, SessionExpiresAfterFifteenMinutesUnused) {
  const std::string key = a_->Login();
  clock_.Advance(std::chrono::minutes(14));
  EXPECT_EQ(a_->Call("GET", "/api/v1/system", "", key).status, 200);  // use refreshes the key
  clock_.Advance(std::chrono::minutes(14));
  EXPECT_EQ(a_->Call("GET", "/api/v1/system", "", key).status, 200);
  clock_.Advance(std::chrono::minutes(15));
  ExpectError(a_->Call("GET", "/api/v1/system", "", key), 403, wsapi::kInvSessKey, "expired");
  // Gone for good, and a new login works.
  ExpectError(a_->Call("GET", "/api/v1/system", "", key), 403, wsapi::kInvSessKey,
              "invalid session key");
  EXPECT_EQ(a_->Call("GET", "/api/v1/system", "", a_->Login()).status, 200);
}

TEST_F(AlletraSimTest, LogoutDeletesTheKey) {
  const std::string key = a_->Login();
  Reply out = a_->Call("DELETE", "/api/v1/credentials/" + key);
  EXPECT_EQ(out.status, 200) << out.raw;
  EXPECT_TRUE(out.raw.empty());
  ExpectError(a_->Call("GET", "/api/v1/system", "", key), 403, wsapi::kInvSessKey,
              "invalid session key");
  ExpectError(a_->Call("DELETE", "/api/v1/credentials/" + key), 403, wsapi::kInvSessKey,
              "invalid session key");
}

TEST_F(AlletraSimTest, VersionNeedsNoSession) {
  Reply r = a_->Call("GET", "/api");
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.body.value("major", 0), 1);
  EXPECT_GE(r.body.value("build", 0), 30103230);  // python-3parclient's minimum
}

// ---- reads ----

TEST_F(AlletraSimTest, EachArrayReportsItsOwnSystem) {
  json a = a_->Call("GET", "/api/v1/system", "", a_->Login()).body;
  json b = b_->Call("GET", "/api/v1/system", "", b_->Login()).body;
  EXPECT_EQ(a.value("name", ""), "array-a");
  EXPECT_EQ(a.value("id", 0), 188150);
  EXPECT_EQ(a.value("serialNumber", ""), "4UW0001001");
  EXPECT_EQ(b.value("name", ""), "array-b");
  EXPECT_EQ(b.value("id", 0), 188151);
  EXPECT_EQ(b.value("model", ""), "HPE Alletra 9060");
}

TEST_F(AlletraSimTest, GroupsAreMirroredOnBothArraysWithRoles) {
  const std::string ka = a_->Login();
  const std::string kb = b_->Login();
  json a = Group(*a_, ka, "shop-data");
  EXPECT_EQ(a.value("role", 0), kWsapiRolePrimary);
  EXPECT_FALSE(a.value("roleReversed", true));
  ASSERT_EQ(a["targets"].size(), 1u);
  EXPECT_EQ(a["targets"][0].value("targetName", ""), "array-b");
  EXPECT_EQ(a["targets"][0].value("state", 0), kWsapiTargetStarted);
  EXPECT_EQ(a["targets"][0].value("mode", 0), 1);
  ASSERT_EQ(a["volumes"].size(), 2u);
  EXPECT_EQ(a["volumes"][0].value("localVolumeName", ""), "shop-db-a");
  EXPECT_EQ(a["volumes"][0]["remoteVolumes"][0].value("remoteVolumeName", ""), "shop-db-b");
  EXPECT_EQ(a["volumes"][0]["remoteVolumes"][0].value("syncStatus", 0), kWsapiSynced);

  json b = Group(*b_, kb, "shop-data-dr");
  EXPECT_EQ(b.value("name", ""), "shop-data-dr");
  EXPECT_EQ(b.value("role", 0), kWsapiRoleSecondary);
  EXPECT_EQ(b["targets"][0].value("targetName", ""), "array-a");
  EXPECT_EQ(b["volumes"][1].value("localVolumeName", ""), "shop-logs-b");
  EXPECT_EQ(b["volumes"][1]["remoteVolumes"][0].value("remoteVolumeName", ""), "shop-logs-a");

  // The default name on the secondary is <name>.r<primary system id>.
  EXPECT_EQ(Group(*b_, kb, "shop-inventory.r188150").value("role", 0), kWsapiRoleSecondary);

  Reply list = a_->Call("GET", "/api/v1/remotecopygroups", "", ka);
  ASSERT_EQ(list.status, 200);
  EXPECT_EQ(list.body.value("total", 0), 2);
  EXPECT_EQ(list.body["members"][0].value("name", ""), "shop-inventory");
}

TEST_F(AlletraSimTest, UnknownGroupIsNotFoundWithTheArraysError) {
  const std::string ka = a_->Login();
  const std::string kb = b_->Login();
  ExpectError(a_->Call("GET", "/api/v1/remotecopygroups/nosuch", "", ka), 404,
              wsapi::kNonExistentRcopyGroup, "nosuch does not exist");
  // A group is known on each array by its own name only.
  ExpectError(b_->Call("GET", "/api/v1/remotecopygroups/shop-data", "", kb), 404,
              wsapi::kNonExistentRcopyGroup, "does not exist");
  ExpectError(b_->Call("POST", "/api/v1/remotecopygroups/nosuch", Action(kActionFailover), kb),
              404, wsapi::kNonExistentRcopyGroup, "does not exist");
  ExpectError(a_->Call("PUT", "/api/v1/remotecopygroups/nosuch", Action(kActionStop), ka), 404,
              wsapi::kNonExistentRcopyGroup, "does not exist");
}

TEST_F(AlletraSimTest, VolumesReportRemoteCopyRole) {
  const std::string ka = a_->Login();
  const std::string kb = b_->Login();
  Reply a = a_->Call("GET", "/api/v1/volumes/shop-db-a", "", ka);
  ASSERT_EQ(a.status, 200) << a.raw;
  EXPECT_EQ(a.body.value("sizeMiB", 0), 10240);
  EXPECT_EQ(a.body.value("rcopyStatus", 0), 2);
  EXPECT_EQ(a.body.value("wwn", "").size(), 32u);
  EXPECT_EQ(b_->Call("GET", "/api/v1/volumes/shop-db-b", "", kb).body.value("rcopyStatus", 0), 3);
  EXPECT_EQ(b_->Call("GET", "/api/v1/volumes/scratch", "", kb).body.value("rcopyStatus", 0), 1);
  ExpectError(a_->Call("GET", "/api/v1/volumes/scratch", "", ka), 404, wsapi::kNonExistentVol,
              "scratch does not exist");
  EXPECT_EQ(b_->Call("GET", "/api/v1/volumes", "", kb).body.value("total", 0), 4);
}

TEST_F(AlletraSimTest, VirtualCopiesOfSecondaryVolumesAreMadeAndDeleted) {
  const std::string kb = b_->Login();
  const std::string snap =
      R"({"action":"createSnapshot","parameters":{"name":"shop-db-b-drill","readOnly":false,)"
      R"("comment":"drill"}})";
  Reply made = b_->Call("POST", "/api/v1/volumes/shop-db-b", snap, kb);
  ASSERT_EQ(made.status, 201) << made.raw;
  EXPECT_EQ(made.location, "/api/v1/volumes/shop-db-b-drill");
  Reply copy = b_->Call("GET", "/api/v1/volumes/shop-db-b-drill", "", kb);
  ASSERT_EQ(copy.status, 200) << copy.raw;
  EXPECT_EQ(copy.body.value("copyOf", ""), "shop-db-b");
  EXPECT_EQ(copy.body.value("copyType", 0), 3);
  EXPECT_EQ(copy.body.value("sizeMiB", 0), 10240);
  EXPECT_EQ(copy.body.value("readOnly", true), false);
  EXPECT_EQ(b_->Call("GET", "/api/v1/volumes/shop-db-b", "", kb).body.value("copyType", 0), 1);

  ExpectError(b_->Call("POST", "/api/v1/volumes/shop-db-b", snap, kb), 409, wsapi::kExistentSv,
              "exists already");
  ExpectError(b_->Call("POST", "/api/v1/volumes/nope",
                       R"({"action":"createSnapshot","parameters":{"name":"nope-copy"}})", kb),
              404, wsapi::kNonExistentVol, "nope does not exist");
  ExpectError(b_->Call("POST", "/api/v1/volumes/shop-db-b",
                       R"({"action":"createSnapshot","parameters":{"name":")" +
                           std::string(32, 'x') + R"("}})",
                       kb),
              400, wsapi::kInvInput, "1 to 31 characters", "name");
  ExpectError(b_->Call("POST", "/api/v1/volumes/shop-db-b", R"({"action":"growVolume"})", kb),
              501, wsapi::kUnsupOp, "virtual copies only");
  // A grouped volume and a volume with copies stay; the copy goes, then its parent is free.
  ExpectError(b_->Call("DELETE", "/api/v1/volumes/shop-db-b", "", kb), 409, wsapi::kInUse,
              "remote copy group");
  EXPECT_EQ(b_->Call("DELETE", "/api/v1/volumes/shop-db-b-drill", "", kb).status, 200);
  ExpectError(b_->Call("DELETE", "/api/v1/volumes/shop-db-b-drill", "", kb), 404,
              wsapi::kNonExistentVol, "does not exist");
  ASSERT_EQ(b_->Call("POST", "/api/v1/volumes/scratch",
                     R"({"action":"createSnapshot","parameters":{"name":"scratch-1"}})", kb)
                .status,
            201);
  ExpectError(b_->Call("DELETE", "/api/v1/volumes/scratch", "", kb), 409, wsapi::kInUse,
              "virtual copy scratch-1");
}

TEST_F(AlletraSimTest, TheAdminEndpointSaysWhichArrayMayWriteAVolume) {
  auto writable = [&](const std::string& array, const std::string& volume) {
    Reply r = admin_->Call("GET", "/sim/v1/arrays/" + array + "/volumes/" + volume);
    EXPECT_EQ(r.status, 200) << r.raw;
    return r.body.value("writable", false);
  };
  EXPECT_TRUE(writable("array-a", "shop-db-a"));
  EXPECT_FALSE(writable("array-b", "shop-db-b"));
  EXPECT_TRUE(writable("array-b", "scratch"));
  const std::string kb = b_->Login();
  ASSERT_EQ(b_->Call("PUT", "/api/v1/remotecopygroups/shop-data-dr", Action(kActionStop), kb).status,
            200);
  ASSERT_EQ(b_->Call("POST", "/api/v1/remotecopygroups/shop-data-dr", Action(kActionFailover), kb)
                .status,
            200);
  EXPECT_TRUE(writable("array-b", "shop-db-b"));  // Primary-Rev
  EXPECT_TRUE(writable("array-a", "shop-db-a"));  // still Primary until recover: fence it
  ASSERT_EQ(b_->Call("POST", "/api/v1/volumes/scratch",
                     R"({"action":"createSnapshot","parameters":{"name":"ro","readOnly":true}})", kb)
                .status,
            201);
  EXPECT_FALSE(writable("array-b", "ro"));
  EXPECT_EQ(admin_->Call("GET", "/sim/v1/arrays/array-b/volumes/nope").status, 404);
  EXPECT_EQ(admin_->Call("GET", "/sim/v1/arrays/array-z/volumes/ro").status, 404);
}

TEST_F(AlletraSimTest, AnArrayCanBeMadeToReportARoleNumberNobodyKnows) {
  const std::string kb = b_->Login();
  Reply set = admin_->Call("POST", "/sim/v1/remotecopygroups/shop-data/report-role",
                           R"({"array":"array-b","role":7})");
  ASSERT_EQ(set.status, 200) << set.raw;
  EXPECT_EQ(Group(*b_, kb, "shop-data-dr").value("role", 0), 7);
  ASSERT_EQ(admin_->Call("POST", "/sim/v1/remotecopygroups/shop-data/report-role",
                         R"({"array":"array-b","role":0})")
                .status,
            200);
  EXPECT_EQ(Group(*b_, kb, "shop-data-dr").value("role", 0), kWsapiRoleSecondary);
  EXPECT_EQ(admin_->Call("POST", "/sim/v1/remotecopygroups/shop-data/report-role", "{}").status,
            400);
}

TEST_F(AlletraSimTest, UnknownResourcesAndMethodsGetTheArraysAnswer) {
  const std::string ka = a_->Login();
  ExpectError(a_->Call("GET", "/api/v1/cpgs", "", ka), 404, wsapi::kUriResNotFound,
              "resource not found");
  ExpectError(a_->Call("DELETE", "/api/v1/remotecopygroups/shop-data", "", ka), 501,
              wsapi::kUnsupOp, "does not support");
  ExpectError(a_->Call("POST", "/api/v1/remotecopygroups", R"({"name":"x"})", ka), 501,
              wsapi::kUnsupOp, "not simulated");
}

// ---- the disaster-recovery cycle ----

TEST_F(AlletraSimTest, PlannedFailoverRecoverRestoreInOrder) {
  const std::string ka = a_->Login();
  const std::string kb = b_->Login();
  const std::string on_a = "/api/v1/remotecopygroups/shop-inventory";
  const std::string on_b = "/api/v1/remotecopygroups/shop-inventory.r188150";

  // Stop replication on the primary, then fail over on the secondary.
  ASSERT_EQ(a_->Call("PUT", on_a, Action(kActionStop), ka).status, 200);
  EXPECT_EQ(Group(*a_, ka, "shop-inventory")["targets"][0].value("state", 0), kWsapiTargetStopped);
  Reply failover = b_->Call("POST", on_b, Action(kActionFailover), kb);
  ASSERT_EQ(failover.status, 200) << failover.raw;

  json b = Group(*b_, kb, "shop-inventory.r188150");
  EXPECT_EQ(b.value("role", 0), kWsapiRolePrimary);  // Primary-Rev
  EXPECT_TRUE(b.value("roleReversed", false));
  EXPECT_TRUE(b["targets"][0].value("roleReversed", false));
  EXPECT_EQ(b["targets"][0].value("state", 0), kWsapiTargetStopped);
  json a = Group(*a_, ka, "shop-inventory");
  EXPECT_EQ(a.value("role", 0), kWsapiRolePrimary);  // the old primary keeps Primary, stopped
  EXPECT_FALSE(a["targets"][0].value("roleReversed", true));
  auto state = sim_->pair().State("shop-inventory");
  ASSERT_TRUE(state.ok());
  EXPECT_EQ(state->phase, Phase::kFailedOver);
  EXPECT_EQ(state->roles[0], Role::kPrimary);
  EXPECT_EQ(state->roles[1], Role::kPrimaryRev);

  // Recover on the Primary-Rev side: the old primary becomes Secondary-Rev and syncs back.
  Reply recover = b_->Call("POST", on_b, Action(kActionRecover), kb);
  ASSERT_EQ(recover.status, 200) << recover.raw;
  a = Group(*a_, ka, "shop-inventory");
  EXPECT_EQ(a.value("role", 0), kWsapiRoleSecondary);  // Secondary-Rev
  EXPECT_TRUE(a["targets"][0].value("roleReversed", false));
  EXPECT_EQ(a["targets"][0].value("state", 0), kWsapiTargetStarted);
  EXPECT_EQ(a["volumes"][0]["remoteVolumes"][0].value("syncStatus", 0), kWsapiSyncing);
  b = Group(*b_, kb, "shop-inventory.r188150");
  EXPECT_EQ(b.value("role", 0), kWsapiRolePrimary);
  EXPECT_TRUE(b.value("roleReversed", false));

  // syncReads is 0 for this group: the sync runs until the admin call finishes it, and restore
  // refuses to run meanwhile.
  ExpectError(b_->Call("POST", on_b, Action(kActionRestore), kb), 403, wsapi::kRcopyGroupIsBusy,
              "busy");
  Reply done = admin_->Call("POST", "/sim/v1/remotecopygroups/shop-inventory/complete-sync");
  ASSERT_EQ(done.status, 200) << done.raw;
  b = Group(*b_, kb, "shop-inventory.r188150");
  EXPECT_EQ(b["volumes"][0]["remoteVolumes"][0].value("syncStatus", 0), kWsapiSynced);
  EXPECT_EQ(b["targets"][0].value("groupLastSyncTime", ""), "2026-01-01T00:00:00Z");

  // Restore on the Primary-Rev side: back to the natural direction, replicating.
  Reply restore = b_->Call("POST", on_b, Action(kActionRestore), kb);
  ASSERT_EQ(restore.status, 200) << restore.raw;
  a = Group(*a_, ka, "shop-inventory");
  EXPECT_EQ(a.value("role", 0), kWsapiRolePrimary);
  EXPECT_FALSE(a.value("roleReversed", true));
  EXPECT_EQ(a["targets"][0].value("state", 0), kWsapiTargetStarted);
  b = Group(*b_, kb, "shop-inventory.r188150");
  EXPECT_EQ(b.value("role", 0), kWsapiRoleSecondary);
  EXPECT_FALSE(b.value("roleReversed", true));
  state = sim_->pair().State("shop-inventory");
  ASSERT_TRUE(state.ok());
  EXPECT_EQ(state->phase, Phase::kNatural);
  EXPECT_TRUE(state->started);
  EXPECT_EQ(state->sync, SyncStatus::kSynced);
}

TEST_F(AlletraSimTest, FailoverWhilePrimaryIsDownThenFailBack) {
  const std::string kb = b_->Login();
  const std::string on_b = "/api/v1/remotecopygroups/shop-data-dr";
  ASSERT_TRUE(sim_->SetDown("array-a").ok());
  EXPECT_FALSE(sim_->IsUp("array-a"));

  // The primary is off the network: connections fail, and the secondary sees the group stopped.
  Reply gone = a_->Call("POST", "/api/v1/credentials", kLogin);
  EXPECT_EQ(gone.status, 0);
  EXPECT_FALSE(gone.error.empty());
  json b = Group(*b_, kb, "shop-data-dr");
  EXPECT_EQ(b.value("role", 0), kWsapiRoleSecondary);
  EXPECT_EQ(b["targets"][0].value("state", 0), kWsapiTargetStopped);

  // Failover needs no stop when the primary is gone.
  Reply failover = b_->Call("POST", on_b, Action(kActionFailover), kb);
  ASSERT_EQ(failover.status, 200) << failover.raw;
  EXPECT_TRUE(Group(*b_, kb, "shop-data-dr").value("roleReversed", false));
  // Recover needs the old primary back.
  ExpectError(b_->Call("POST", on_b, Action(kActionRecover), kb), 403,
              wsapi::kRcopyTargetIsNotReady, "array-a is not ready");

  // The primary returns on the same port, still Primary and stopped; nothing restarted itself.
  ASSERT_TRUE(sim_->SetUp("array-a").ok());
  const std::string ka = a_->Login();
  json a = Group(*a_, ka, "shop-data");
  EXPECT_EQ(a.value("role", 0), kWsapiRolePrimary);
  EXPECT_FALSE(a.value("roleReversed", true));
  EXPECT_EQ(a["targets"][0].value("state", 0), kWsapiTargetStopped);

  // Recover; this group's sync completes on its second read (syncReads: 2).
  ASSERT_EQ(b_->Call("POST", on_b, Action(kActionRecover), kb).status, 200);
  EXPECT_EQ(Group(*b_, kb, "shop-data-dr")["volumes"][0]["remoteVolumes"][0].value("syncStatus", 0),
            kWsapiSyncing);
  EXPECT_EQ(Group(*a_, ka, "shop-data")["volumes"][0]["remoteVolumes"][0].value("syncStatus", 0),
            kWsapiSynced);

  // Restore without restarting replication.
  Reply restore =
      b_->Call("POST", on_b, json{{"action", kActionRestore}, {"skipStart", true}}.dump(), kb);
  ASSERT_EQ(restore.status, 200) << restore.raw;
  auto state = sim_->pair().State("shop-data");
  ASSERT_TRUE(state.ok());
  EXPECT_EQ(state->phase, Phase::kNatural);
  EXPECT_FALSE(state->started);
  // Start from the natural primary, which resynchronizes.
  ASSERT_EQ(a_->Call("PUT", "/api/v1/remotecopygroups/shop-data", Action(kActionStart), ka).status,
            200);
  EXPECT_EQ(Group(*a_, ka, "shop-data")["targets"][0].value("state", 0), kWsapiTargetStarted);
}

TEST_F(AlletraSimTest, RefusesActionsInTheWrongStateWithTheArraysError) {
  struct Case {
    const char* name;
    Phase phase;
    bool started;
    SyncStatus sync;
    const char* on;  // array the call goes to
    const char* method;
    int action;
    int code;
    const char* desc;
  };
  const SyncStatus synced = SyncStatus::kSynced;
  const Case cases[] = {
      {"start on the secondary", Phase::kNatural, false, synced, "array-b", "PUT", kActionStart,
       wsapi::kRcopyGroupOperationOnlyOnPrimarySide, "primary side (Secondary on array-b)"},
      {"start when started", Phase::kNatural, true, synced, "array-a", "PUT", kActionStart,
       wsapi::kRcopyGroupStarted, "already been started"},
      {"start while failed over", Phase::kFailedOver, false, synced, "array-b", "PUT",
       kActionStart, wsapi::kRcopyGroupInFailoverState, "failover state"},
      {"stop when stopped", Phase::kNatural, false, synced, "array-a", "PUT", kActionStop,
       wsapi::kRcopyGroupNotStarted, "is not started"},
      {"sync on the secondary", Phase::kNatural, true, synced, "array-b", "PUT", kActionSync,
       wsapi::kRcopyGroupOperationOnlyOnPrimarySide, "primary side"},
      {"sync when stopped", Phase::kNatural, false, synced, "array-a", "PUT", kActionSync,
       wsapi::kRcopyGroupNotStarted, "is not started"},
      {"sync while syncing", Phase::kNatural, true, SyncStatus::kSyncing, "array-a", "PUT",
       kActionSync, wsapi::kRcopyGroupInvolvedInSynchronization, "already involved"},
      {"failover on the primary", Phase::kNatural, false, synced, "array-a", "POST",
       kActionFailover, wsapi::kRcopyGroupOperationOnlyOnSecondarySide,
       "secondary side (Primary on array-a)"},
      {"failover while replicating", Phase::kNatural, true, synced, "array-b", "POST",
       kActionFailover, wsapi::kRcopyGroupNotStopped, "is not stopped"},
      {"failover twice", Phase::kFailedOver, false, synced, "array-b", "POST", kActionFailover,
       wsapi::kInvOperationRcopyGroupRoleConflict, "(Primary-Rev on array-b)"},
      {"recover without failover", Phase::kNatural, false, synced, "array-b", "POST",
       kActionRecover, wsapi::kInvOperationRcopyGroupRoleConflict, "(Secondary on array-b)"},
      {"recover on the old primary", Phase::kFailedOver, false, synced, "array-a", "POST",
       kActionRecover, wsapi::kInvOperationRcopyGroupRoleConflict, "(Primary on array-a)"},
      {"recover twice", Phase::kRecovered, true, synced, "array-b", "POST", kActionRecover,
       wsapi::kInvOperationRcopyGroupRoleConflict, "correct role for recover"},
      {"restore before recover", Phase::kFailedOver, false, synced, "array-b", "POST",
       kActionRestore, wsapi::kInvOperationRcopyGroupRoleConflict, "correct role for restore"},
      {"restore on the Secondary-Rev side", Phase::kRecovered, true, synced, "array-a", "POST",
       kActionRestore, wsapi::kInvOperationRcopyGroupRoleConflict, "(Secondary-Rev on array-a)"},
      {"restore while syncing", Phase::kRecovered, true, SyncStatus::kSyncing, "array-b", "POST",
       kActionRestore, wsapi::kRcopyGroupIsBusy, "busy"},
      {"restore while stopped", Phase::kRecovered, false, synced, "array-b", "POST",
       kActionRestore, wsapi::kRcopyGroupNotStarted, "is not started"},
      {"restore in the natural direction", Phase::kNatural, true, synced, "array-a", "POST",
       kActionRestore, wsapi::kInvOperationRcopyGroupRoleConflict, "(Primary on array-a)"},
  };
  const std::string ka = a_->Login();
  const std::string kb = b_->Login();
  int i = 0;
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const std::string name = "case" + std::to_string(i++);
    Seed(name, c.phase, c.started, c.sync);
    const bool on_a = std::string(c.on) == "array-a";
    const Client& client = on_a ? *a_ : *b_;
    const std::string local = on_a ? name : name + ".r188150";
    ExpectError(client.Call(c.method, "/api/v1/remotecopygroups/" + local, Action(c.action),
                            on_a ? ka : kb),
                403, c.code, c.desc);
    // A refusal changes nothing.
    auto state = sim_->pair().State(name);
    ASSERT_TRUE(state.ok());
    EXPECT_EQ(state->phase, c.phase);
    EXPECT_EQ(state->started, c.started);
    EXPECT_EQ(state->sync, c.sync);
  }
}

TEST_F(AlletraSimTest, RejectsBadActionBodies) {
  struct Case {
    const char* name;
    const char* method;
    std::string body;
    int http;
    int code;
    const char* desc;
    const char* ref;
  };
  const Case cases[] = {
      {"not json", "POST", R"({"action": 7,)", 400, wsapi::kJsonSyntaxError, "JSON syntax error",
       ""},
      {"empty body", "PUT", "", 400, wsapi::kJsonSyntaxError, "JSON syntax error", ""},
      {"not an object", "POST", "[7]", 400, wsapi::kInvInput, "JSON object", ""},
      {"unknown member", "POST", R"({"action": 7, "force": true})", 400, wsapi::kInvInput,
       "unknown member force", "force"},
      {"action is a string", "POST", R"({"action": "failover"})", 400, wsapi::kInvInputWrongType,
       "wrong type", "action"},
      {"option is not a boolean", "POST", R"({"action": 9, "skipStart": "yes"})", 400,
       wsapi::kInvInputWrongType, "wrong type", "skipStart"},
      {"missing action", "POST", R"({"skipStart": true})", 400, wsapi::kInvInputMissingRequired,
       "missing required", "action"},
      {"unknown POST action", "POST", R"({"action": 42})", 400, wsapi::kInvInputBadEnumValue,
       "bad enum value", "action"},
      {"start sent as POST", "POST", R"({"action": 3})", 400, wsapi::kInvInputBadEnumValue,
       "bad enum value", "action"},
      {"failover sent as PUT", "PUT", R"({"action": 7})", 400, wsapi::kInvInputBadEnumValue,
       "bad enum value", "action"},
      {"zero action", "PUT", R"({"action": 0})", 400, wsapi::kInvInputBadEnumValue,
       "bad enum value", "action"},
      {"wrong target", "POST", R"({"action": 7, "targetName": "array-c"})", 400,
       wsapi::kRcopyGroupInvTarget, "array-c is not a target", "targetName"},
      {"wrong target on PUT", "PUT", R"({"action": 4, "targetName": "array-c"})", 403,
       wsapi::kRcopyGroupInvTarget, "is not a target", "targetName"},
      {"switchover is not simulated", "POST", R"({"action": 8})", 501, wsapi::kUnsupOp,
       "switchover", "action"},
      {"reverse is not simulated", "POST", R"({"action": 6})", 501, wsapi::kUnsupOp, "reverse",
       "action"},
      {"admit volume is not simulated", "PUT", R"({"action": 1, "volumeName": "v"})", 501,
       wsapi::kUnsupOp, "admit volume", "action"},
      {"modifying settings is not simulated", "PUT", R"({"targets": []})", 501, wsapi::kUnsupOp,
       "not simulated", ""},
  };
  const std::string kb = b_->Login();
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    ExpectError(b_->Call(c.method, "/api/v1/remotecopygroups/shop-data-dr", c.body, kb), c.http,
                c.code, c.desc, c.ref);
  }
  auto state = sim_->pair().State("shop-data");
  ASSERT_TRUE(state.ok());
  EXPECT_EQ(state->phase, Phase::kNatural);
  EXPECT_TRUE(state->started);
}

TEST_F(AlletraSimTest, SyncCompletesOnTheConfiguredRead) {
  const std::string ka = a_->Login();
  auto sync_status = [&] {
    return Group(*a_, ka, "shop-data")["volumes"][0]["remoteVolumes"][0].value("syncStatus", 0);
  };
  ASSERT_EQ(a_->Call("PUT", "/api/v1/remotecopygroups/shop-data", Action(kActionSync), ka).status,
            200);
  EXPECT_EQ(sync_status(), kWsapiSyncing);  // first read
  EXPECT_EQ(sync_status(), kWsapiSynced);   // second read completes it (syncReads: 2)
  EXPECT_EQ(sync_status(), kWsapiSynced);
}

// ---- admin, down/up, TLS ----

TEST_F(AlletraSimTest, AdminEndpointControlsThePair) {
  Reply state = admin_->Call("GET", "/sim/v1/state");
  ASSERT_EQ(state.status, 200) << state.raw;
  EXPECT_EQ(state.body["arrays"][1].value("name", ""), "array-b");
  EXPECT_EQ(state.body["arrays"][1].value("url", ""), sim_->url("array-b"));
  EXPECT_EQ(state.body["groups"][1].value("remoteName", ""), "shop-data-dr");
  EXPECT_EQ(state.body["groups"][1]["roles"].value("array-b", ""), "Secondary");

  const std::string ka = a_->Login();
  ASSERT_EQ(admin_->Call("POST", "/sim/v1/arrays/array-b/down").status, 200);
  EXPECT_EQ(b_->Call("GET", "/api").status, 0);
  EXPECT_FALSE(admin_->Call("GET", "/sim/v1/state").body["arrays"][1].value("up", true));
  EXPECT_EQ(Group(*a_, ka, "shop-data")["targets"][0].value("state", 0), kWsapiTargetStopped);
  ASSERT_EQ(admin_->Call("POST", "/sim/v1/arrays/array-b/up").status, 200);
  EXPECT_EQ(b_->Call("GET", "/api").status, 200);  // same port again

  Reply unknown = admin_->Call("POST", "/sim/v1/arrays/array-c/down");
  EXPECT_EQ(unknown.status, 404);
  EXPECT_NE(unknown.body.value("message", "").find("did you mean"), std::string::npos)
      << unknown.raw;
  Reply not_syncing = admin_->Call("POST", "/sim/v1/remotecopygroups/shop-data/complete-sync");
  EXPECT_EQ(not_syncing.status, 409) << not_syncing.raw;

  ASSERT_EQ(admin_->Call("POST", "/sim/v1/sessions/expire").status, 200);
  ExpectError(a_->Call("GET", "/api/v1/system", "", ka), 403, wsapi::kInvSessKey,
              "invalid session key");
  // array-b going down stopped both groups; start them again (each start resynchronizes).
  const std::string again = a_->Login();
  for (const char* group : {"shop-inventory", "shop-data"}) {
    SCOPED_TRACE(group);
    Reply start = a_->Call("PUT", std::string("/api/v1/remotecopygroups/") + group,
                           Action(kActionStart), again);
    EXPECT_EQ(start.status, 200) << start.raw;
  }
  Reply completed = admin_->Call("POST", "/sim/v1/complete-syncs");
  EXPECT_EQ(completed.body.value("completed", 0), 2) << completed.raw;
}

TEST_F(AlletraSimTest, SetDownAndUpAreIdempotentAndNameTheArray) {
  EXPECT_TRUE(sim_->SetDown("array-b").ok());
  EXPECT_TRUE(sim_->SetDown("array-b").ok());
  EXPECT_TRUE(sim_->SetUp("array-b").ok());
  EXPECT_TRUE(sim_->SetUp("array-b").ok());
  EXPECT_EQ(b_->Call("GET", "/api").status, 200);
  Status s = sim_->SetDown("array-z");
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_NE(s.message().find("array-z"), std::string::npos) << s.message();
}

TEST_F(AlletraSimTest, ConcurrentClientsWhileThePeerGoesDownAndUp) {
  const std::string ka = a_->Login();
  std::atomic<int> ok{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 4; ++t) {
    readers.emplace_back([&] {
      for (int i = 0; i < 10; ++i) {
        if (a_->Call("GET", "/api/v1/remotecopygroups/shop-data", "", ka).status == 200) ++ok;
      }
    });
  }
  for (int i = 0; i < 5; ++i) {
    EXPECT_TRUE(sim_->SetDown("array-b").ok());
    EXPECT_TRUE(sim_->SetUp("array-b").ok());
  }
  for (std::thread& t : readers) t.join();
  EXPECT_EQ(ok.load(), 40);
  EXPECT_EQ(b_->Call("GET", "/api").status, 200);
}

TEST_F(AlletraSimTest, ClientNotTrustingTheSimulatorsCaIsRefused) {
  auto other = tls::MakeCa("some other CA");
  ASSERT_TRUE(other.ok());
  Client stranger(sim_->port("array-a"), dir_.Write("other-ca.pem", other->cert_pem));
  Reply r = stranger.Call("GET", "/api");
  EXPECT_EQ(r.status, 0);
  EXPECT_FALSE(r.error.empty());
}

TEST(AlletraSimStartTest, RejectsAnInconsistentSpec) {
  AlletraSimOptions options;
  options.spec.arrays[1].name = options.spec.arrays[0].name;
  auto sim = AlletraSim::Start(options);
  ASSERT_FALSE(sim.ok());
  EXPECT_EQ(sim.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(sim.status().message().find("different system names"), std::string::npos);
}

// ---- the alletra-sim binary ----

// Runs alletra-sim with args; stdout goes to a pipe, stderr to a file.
struct Process {
  pid_t pid = -1;
  int out = -1;
  std::string err_path;

  static Process Spawn(const std::vector<std::string>& args, const std::string& err_path) {
    Process p;
    p.err_path = err_path;
    int fds[2];
    if (pipe(fds) != 0) return p;
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
    posix_spawn_file_actions_addclose(&actions, fds[0]);
    posix_spawn_file_actions_addopen(&actions, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                     0644);
    std::vector<char*> argv;
    for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    if (posix_spawn(&p.pid, argv[0], &actions, nullptr, argv.data(), environ) != 0) p.pid = -1;
    posix_spawn_file_actions_destroy(&actions);
    close(fds[1]);
    p.out = fds[0];
    return p;
  }

  // Blocks until the first line (or end of output).
  std::string ReadLine() const {
    std::string line;
    char c;
    while (read(out, &c, 1) == 1 && c != '\n') line.push_back(c);
    return line;
  }

  int Wait() {
    int status = 0;
    waitpid(pid, &status, 0);
    if (out >= 0) close(out);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
};

std::string Field(const std::string& line, const std::string& key) {
  size_t at = line.find(key + "=");
  if (at == std::string::npos) return "";
  size_t end = line.find(' ', at);
  return line.substr(at + key.size() + 1, end == std::string::npos ? end : end - at - key.size() - 1);
}

TEST(AlletraSimBinaryTest, PrintsReadyLineAndServesUntilSignalled) {
  testutil::TempDir dir;
  const std::string ca = dir.path() + "/ca.pem";
  Process p = Process::Spawn({testutil::BinaryDir() + "/tests/alletra-sim", "--listen",
                              "127.0.0.1:0", "--config", testutil::DataPath("sim/pair.yaml"),
                              "--user", "ops", "--password", "s3cret", "--ca-out", ca},
                             dir.path() + "/stderr");
  ASSERT_GT(p.pid, 0);
  const std::string line = p.ReadLine();
  ASSERT_EQ(line.rfind("alletra-sim ready ", 0), 0u) << line;
  EXPECT_EQ(Field(line, "ca"), ca);
  const std::string url = Field(line, "array-b");
  ASSERT_EQ(url.rfind("https://127.0.0.1:", 0), 0u) << line;
  EXPECT_EQ(Field(line, "admin").rfind("https://127.0.0.1:", 0), 0u) << line;

  Client b(std::stoi(url.substr(url.rfind(':') + 1)), ca);
  Reply login = b.Call("POST", "/api/v1/credentials", R"({"user":"ops","password":"s3cret"})");
  ASSERT_EQ(login.status, 201) << login.raw << login.error;
  Reply group = b.Call("GET", "/api/v1/remotecopygroups/shop-data-dr", "",
                       login.body.value("key", ""));
  EXPECT_EQ(group.status, 200) << group.raw;

  kill(p.pid, SIGTERM);
  EXPECT_EQ(p.Wait(), 0);
}

TEST(AlletraSimBinaryTest, BadConfigExitsTwoNamingTheField) {
  testutil::TempDir dir;
  Process p = Process::Spawn({testutil::BinaryDir() + "/tests/alletra-sim", "--config",
                              testutil::DataPath("sim/bad-phase.yaml")},
                             dir.path() + "/stderr");
  ASSERT_GT(p.pid, 0);
  EXPECT_EQ(p.ReadLine(), "");
  EXPECT_EQ(p.Wait(), 2);
  PosixFileSystem fs;
  auto err = fs.ReadFile(dir.path() + "/stderr");
  ASSERT_TRUE(err.ok());
  EXPECT_NE(err->find("groups[0].phase"), std::string::npos) << *err;
}

}  // namespace
}  // namespace kdr::sim
