// A Job's generated selector as kube-apiserver's Job registry makes and checks it (checked
// against the real pair, kube-apiserver 1.37.2): a restore that sends the source's selector and
// controller-uid labels meets 422 "must be '<new uid>'", so the restore engine drops them.

#include "test_support.h"

namespace kdr::kubesim {
namespace {

using testing::Client;
using json = nlohmann::json;

constexpr const char* kJobs = "/apis/batch/v1/namespaces/default/jobs";
constexpr const char* kStaleUid = "0f7c2b9e-0000-0000-0000-000000000001";

json Job(const std::string& name, json template_labels, json selector = nullptr) {
  json job = {{"apiVersion", "batch/v1"},
              {"kind", "Job"},
              {"metadata", {{"name", name}}},
              {"spec",
               {{"template",
                 {{"metadata", {{"labels", template_labels}}},
                  {"spec", {{"restartPolicy", "Never"},
                            {"containers", json::array({{{"name", "c"}, {"image", "busybox"}}})}}}}}}}};
  if (!selector.is_null()) job["spec"]["selector"] = selector;
  return job;
}

class JobSelectorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = Server::Start(Server::Options{});
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    server_ = std::move(*s);
    client_ = std::make_unique<Client>(*server_, server_->admin_token());
  }
  std::unique_ptr<Server> server_;
  std::unique_ptr<Client> client_;
};

TEST_F(JobSelectorTest, CreateGeneratesTheSelectorAndLabelsOfTheNewUid) {
  auto r = client_->Post(kJobs, Job("fresh", {{"app", "x"}}));
  ASSERT_EQ(r.status, 201) << r.raw;
  const std::string uid = r.body["metadata"]["uid"];
  const json want_labels = {{"app", "x"}, {"batch.kubernetes.io/controller-uid", uid}, {"batch.kubernetes.io/job-name", "fresh"},
                            {"controller-uid", uid}, {"job-name", "fresh"}};
  EXPECT_EQ(r.body["spec"]["template"]["metadata"]["labels"], want_labels);
  EXPECT_EQ(r.body["spec"]["selector"], json({{"matchLabels", {{"batch.kubernetes.io/controller-uid", uid}}}}));
  // An unlabelled Job takes its template's labels.
  EXPECT_EQ(r.body["metadata"]["labels"], want_labels);
}

TEST_F(JobSelectorTest, TheSourcesSelectorAndLabelsAreRefused) {
  const json stale = {{"batch.kubernetes.io/controller-uid", kStaleUid}, {"batch.kubernetes.io/job-name", "stale"},
                      {"controller-uid", kStaleUid}, {"job-name", "stale"}};
  struct Case {
    const char* name;
    json job;
    int code;
    std::vector<std::string> errors;  // each with "<uid>" for the new uid
  } cases[] = {
      {"restored-as-captured",
       Job("stale", stale, {{"matchLabels", {{"batch.kubernetes.io/controller-uid", kStaleUid}}}}), 422,
       {"spec.template.metadata.labels[controller-uid]: Invalid value: " + stale.dump() + ": must be '<uid>'",
        "spec.template.metadata.labels[batch.kubernetes.io/controller-uid]: Invalid value: " + stale.dump() +
            ": must be '<uid>'"}},
      {"stale-template-label", Job("half", {{"batch.kubernetes.io/controller-uid", kStaleUid}}), 422,
       {"spec.template.metadata.labels[batch.kubernetes.io/controller-uid]: Invalid value: ",
        ": `selector` does not match template `labels`"}},
      {"manual-selector",
       [] {
         json j = Job("manual", {{"app", "m"}}, {{"matchLabels", {{"app", "m"}}}});
         j["spec"]["manualSelector"] = true;
         return j;
       }(),
       201, {}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    auto r = client_->Post(std::string(kJobs) + "?dryRun=All", c.job);
    EXPECT_EQ(r.status, c.code) << r.raw;
    if (c.code != 422) continue;
    const std::string message = r.body.value("message", "");
    EXPECT_EQ(message.rfind("Job.batch \"" + c.job["metadata"]["name"].get<std::string>() + "\" is invalid: [", 0), 0u)
        << message;
    EXPECT_EQ(message.find(kStaleUid + std::string("'")), std::string::npos) << "the new uid is asked for: " << message;
    for (std::string e : c.errors) {
      const size_t at = e.find("'<uid>'");
      if (at != std::string::npos) e = e.substr(0, at + 1);  // the uid itself is the server's
      EXPECT_NE(message.find(e), std::string::npos) << e << "\nin: " << message;
    }
  }
}

}  // namespace
}  // namespace kdr::kubesim
