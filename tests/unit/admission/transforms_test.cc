#include <gtest/gtest.h>

#include <atomic>
#include <nlohmann/json.hpp>

#include "admission/cache.h"
#include "admission/policy.h"
#include "admission/transform_engine.h"
#include "admission_testing.h"
#include "base/strings.h"
#include "transform/json_patch.h"

namespace kdr::admission {
namespace {

using nlohmann::json;
using testing::Decide;
using testing::Fixture;

constexpr char kNs[] = "kubectl-dr-system";

// The real engine, counting compilations.
class CountingEngine final : public TransformEngine {
 public:
  Result<std::shared_ptr<const CompiledModifiers>> Compile(const ConfigMapInfo& cm) const override {
    ++compiles;
    return real_->Compile(cm);
  }
  Status Apply(const CompiledModifiers* m, const VmOptions& vm, std::string_view gr,
               nlohmann::json* object) const override {
    return real_->Apply(m, vm, gr, object);
  }
  mutable std::atomic<int> compiles{0};

 private:
  std::unique_ptr<TransformEngine> real_ = NewResourceModifierEngine();
};

class TransformsPolicyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    AddRecovery("shop-failover", "shop-modifiers", std::nullopt);
    cache_.UpsertConfigMap({kNs, "shop-modifiers", "100",
                            {{"modifiers.yaml", testutil::ReadData("admission/ingress-modifiers.yaml")}}});
    policy_ = NewTransformsPolicy(&cache_, &engine_, kNs);
  }
  void AddRecovery(const std::string& name, const std::string& cm, std::optional<bool> power) {
    dr::DRRecovery r;
    r.metadata.name = name;
    r.metadata.namespace_name = kNs;
    r.spec.plan_name = "shop-to-dr";
    r.spec.modifiers_config_map = cm;
    r.spec.vm_power_on = power;
    cache_.UpsertRecovery(r);
  }
  // Applies the answered patch to the request's object.
  static json Patched(const json& review, const Response& r) {
    json obj = review["request"]["object"];
    Status st = transform::ApplyJsonPatch(&obj, json::parse(r.patch));
    EXPECT_TRUE(st.ok()) << st.ToString();
    return obj;
  }
  StateCache cache_;
  CountingEngine engine_;
  std::unique_ptr<Policy> policy_;
};

TEST_F(TransformsPolicyTest, AppliesModifiersAsJsonPatch) {
  json review = Fixture("ingress-restore.json");
  Response r = Decide(*policy_, review);
  ASSERT_TRUE(r.allowed) << r.message;
  ASSERT_FALSE(r.patch.empty());
  EXPECT_EQ(r.policy, "transforms");
  json out = Patched(review, r);
  EXPECT_EQ(out["spec"]["ingressClassName"], "traefik");
  EXPECT_FALSE(out["metadata"]["annotations"].contains("nginx.ingress.kubernetes.io/rewrite-target"));
  EXPECT_EQ(out["metadata"]["annotations"]["description"], "shop front");
}

TEST_F(TransformsPolicyTest, CompilesOncePerConfigMapResourceVersion) {
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(Decide(*policy_, Fixture("ingress-restore.json")).allowed);
  EXPECT_EQ(engine_.compiles.load(), 1);
  cache_.UpsertConfigMap({kNs, "shop-modifiers", "101",
                          {{"modifiers.yaml", testutil::ReadData("admission/ingress-modifiers.yaml")}}});
  EXPECT_TRUE(Decide(*policy_, Fixture("ingress-restore.json")).allowed);
  EXPECT_TRUE(Decide(*policy_, Fixture("ingress-restore.json")).allowed);
  EXPECT_EQ(engine_.compiles.load(), 2);
  EXPECT_EQ(cache_.sizes().compiled_modifiers, 1u);
}

TEST_F(TransformsPolicyTest, Denials) {
  struct Case {
    const char* name;
    std::function<void(StateCache&, json&)> setup;
    const char* want_substr;
  };
  const Case cases[] = {
      {"recovery missing",
       [](StateCache&, json& r) {
         r["request"]["object"]["metadata"]["labels"]["dr.kubectl-dr.dev/recovery"] = "nope";
       },
       "restoring ingress shop/shop is refused: it carries dr.kubectl-dr.dev/recovery=nope but "
       "drrecovery \"nope\" does not exist in namespace kubectl-dr-system"},
      {"configmap missing",
       [](StateCache& c, json&) { c.DeleteConfigMap(kNs, "shop-modifiers"); },
       "names the resource modifiers configmap \"shop-modifiers\", which does not exist in "
       "namespace kubectl-dr-system"},
      {"invalid modifier file",
       [](StateCache& c, json&) {
         c.UpsertConfigMap({kNs, "shop-modifiers", "7", {{"m.yaml", "version: v9\n"}}});
       },
       "the resource modifiers in configmap kubectl-dr-system/shop-modifiers are invalid"},
      {"two data keys",
       [](StateCache& c, json&) {
         c.UpsertConfigMap({kNs, "shop-modifiers", "8", {{"a", ""}, {"b", ""}}});
       },
       "has 2 data keys (a, b)"},
      {"failing rule",
       [](StateCache& c, json&) {
         c.UpsertConfigMap({kNs, "shop-modifiers", "9",
                                   {{"m.yaml", testutil::ReadData("admission/failing-modifiers.yaml")}}});
       },
       "a transform of drrecovery \"shop-failover\" (configmap shop-modifiers) failed: rule 0"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    SetUp();
    json review = Fixture("ingress-restore.json");
    c.setup(cache_, review);
    Response r = Decide(*policy_, review);
    EXPECT_FALSE(r.allowed);
    EXPECT_EQ(r.code, 403);
    EXPECT_EQ(r.policy, "transforms");
    EXPECT_NE(r.message.find(c.want_substr), std::string::npos) << r.message;
  }
}

// A modifier file with one rule for ingresses whose patches are the given YAML list items.
std::string IngressRule(const std::string& patches) {
  return "version: v1\nresourceModifierRules:\n"
         "- conditions: {groupResource: ingresses.networking.k8s.io}\n"
         "  patches:\n" + patches;
}

// Velero skips a rule only on json-patch's "test failed"; a test whose path cannot be resolved
// is an error in applying the patch, so the webhook refuses the object, naming rule, operation
// and path (the fixture Ingress has no spec.tls and one spec.rules element).
TEST_F(TransformsPolicyTest, DeniesObjectWhoseTestPathCannotBeResolved) {
  struct Case {
    const char* name;
    const char* patches;
    std::vector<std::string> want;
  } cases[] = {
      {"missing parent", "  - {operation: test, path: /spec/tls/0/secretName, value: shop-tls}\n",
       {"restoring ingress shop/shop is refused: a transform of drrecovery \"shop-failover\" "
        "(configmap shop-modifiers) failed: rule 0 (patches, line 3): operation 0 (test "
        "/spec/tls/0/secretName): path not found (/spec has no member \"tls\")",
        "to skip objects without /spec/tls/0, move the test into the rule's conditions.matches"}},
      {"index out of range", "  - {operation: test, path: /spec/rules/1, value: '{}'}\n",
       {"failed: rule 0 (patches, line 3): operation 0 (test /spec/rules/1): path not found "
        "(index 1 is out of range: /spec/rules has 1 elements)",
        "test an index that every object the rule matches has"}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    SetUp();
    cache_.UpsertConfigMap(
        {kNs, "shop-modifiers", std::string("11-") + c.name, {{"m.yaml", IngressRule(c.patches)}}});
    Response r = Decide(*policy_, Fixture("ingress-restore.json"));
    EXPECT_FALSE(r.allowed);
    EXPECT_EQ(r.code, 403);
    EXPECT_TRUE(r.patch.empty());
    for (const auto& want : c.want) {
      EXPECT_NE(r.message.find(want), std::string::npos) << want << " in " << r.message;
    }
  }
}

// A test of a member the object's existing parent lacks is json-patch's "test failed": the rule
// is skipped and the object admitted unchanged; a test of null there passes and the rule applies.
TEST_F(TransformsPolicyTest, TestOfMissingMemberSkipsRuleUnlessTestingNull) {
  struct Case {
    const char* value;
    const char* want_class;
  } cases[] = {{"payments", "nginx"}, {"\"null\"", "traefik"}};
  int version = 20;
  for (const Case& c : cases) {
    SCOPED_TRACE(c.value);
    const std::string patches =
        std::string("  - {operation: test, path: /metadata/annotations/team, value: ") + c.value +
        "}\n  - {operation: replace, path: /spec/ingressClassName, value: traefik}\n";
    cache_.UpsertConfigMap(
        {kNs, "shop-modifiers", std::to_string(++version), {{"m.yaml", IngressRule(patches)}}});
    json review = Fixture("ingress-restore.json");
    Response r = Decide(*policy_, review);
    ASSERT_TRUE(r.allowed) << r.message;
    json out = r.patch.empty() ? review["request"]["object"] : Patched(review, r);
    EXPECT_EQ(out["spec"]["ingressClassName"], c.want_class);
  }
}

TEST_F(TransformsPolicyTest, UnlabelledNonCreateAndPlainRecoveriesAreUntouched) {
  json unlabelled = Fixture("ingress-restore.json");
  unlabelled["request"]["object"]["metadata"]["labels"].erase("dr.kubectl-dr.dev/recovery");
  json update = Fixture("ingress-restore.json");
  update["request"]["operation"] = "UPDATE";
  update["request"]["oldObject"] = update["request"]["object"];
  json unknown = Fixture("unknown-kind.json");
  for (const json* review : {&unlabelled, &update, &unknown}) {
    Response r = Decide(*policy_, *review);
    EXPECT_TRUE(r.allowed);
    EXPECT_TRUE(r.patch.empty());
  }
  AddRecovery("plain", "", std::nullopt);
  json plain = Fixture("ingress-restore.json");
  plain["request"]["object"]["metadata"]["labels"]["dr.kubectl-dr.dev/recovery"] = "plain";
  Response r = Decide(*policy_, plain);
  EXPECT_TRUE(r.allowed);
  EXPECT_TRUE(r.patch.empty());
}

TEST_F(TransformsPolicyTest, PowersVirtualMachinesOn) {
  AddRecovery("vm-failover", "", true);
  json review = Fixture("ingress-restore.json");
  review["request"]["kind"] = {{"group", "kubevirt.io"}, {"version", "v1"}, {"kind", "VirtualMachine"}};
  review["request"]["resource"] = {{"group", "kubevirt.io"}, {"version", "v1"}, {"resource", "virtualmachines"}};
  review["request"]["object"] = {
      {"apiVersion", "kubevirt.io/v1"},
      {"kind", "VirtualMachine"},
      {"metadata", {{"name", "db"}, {"namespace", "shop"}, {"labels", {{"dr.kubectl-dr.dev/recovery", "vm-failover"}}}}},
      {"spec", {{"running", false}, {"template", {{"spec", json::object()}}}}}};
  Response r = Decide(*policy_, review);
  ASSERT_TRUE(r.allowed) << r.message;
  json out = Patched(review, r);
  EXPECT_EQ(out["spec"]["runStrategy"], "Always");
  EXPECT_FALSE(out["spec"].contains("running"));
}

TEST_F(TransformsPolicyTest, WithoutEngineRefusesRatherThanSkipTransforms) {
  auto policy = NewTransformsPolicy(&cache_, nullptr, kNs);
  Response r = Decide(*policy, Fixture("ingress-restore.json"));
  EXPECT_FALSE(r.allowed);
  EXPECT_EQ(r.code, 500);
  EXPECT_NE(r.message.find("no transform engine"), std::string::npos);
}

}  // namespace
}  // namespace kdr::admission
