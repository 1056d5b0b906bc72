// Resource-modifier files and the objects they transform, through the plugin's own commands:
// `kubectl dr transforms validate FILE`, then `kubectl dr transforms apply --modifiers FILE -f
// OBJS`, with -o json and with --diff --vm-power-on=true (plugin/cli/transforms.cc:
// ResourceModifiers::Load and Parse, ReadObjects, TransformObject, the diff and the printers),
// on an in-memory file system. Input: the modifier file, then optionally kPartSeparator and the
// objects (YAML or JSON; none: an Ingress, a Pod and a KubeVirt VM), or a case file of
// tests/data/transforms/cases/ ({modifiers, input}).

#include <nlohmann/json.hpp>

#include "base/yaml.h"
#include "fuzz_target.h"
#include "testutil/testutil.h"

namespace kdr::fuzz {
namespace {

constexpr std::string_view kDefaultObjects =
    "apiVersion: networking.k8s.io/v1\n"
    "kind: Ingress\n"
    "metadata:\n"
    "  name: shop\n"
    "  namespace: shop\n"
    "  labels: {app: shop, tier: web}\n"
    "  annotations: {nginx.ingress.kubernetes.io/rewrite-target: /}\n"
    "spec:\n"
    "  ingressClassName: nginx\n"
    "  rules:\n"
    "  - host: shop.example.com\n"
    "    http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: web, port: "
    "{number: 80}}}}]}\n"
    "---\n"
    "apiVersion: v1\n"
    "kind: Pod\n"
    "metadata: {name: web-0, namespace: shop, labels: {app: shop}}\n"
    "spec:\n"
    "  containers:\n"
    "  - {name: app, image: \"registry.example.com/web:1.0\", env: [{name: MODE, value: a}]}\n"
    "---\n"
    "apiVersion: kubevirt.io/v1\n"
    "kind: VirtualMachine\n"
    "metadata: {name: vm-1, namespace: shop}\n"
    "spec: {running: false, template: {spec: {domain: {devices: {}}}}}\n";

}  // namespace

int FuzzModifiers(const uint8_t* data, size_t size) {
  const std::vector<std::string_view> parts = SplitParts(AsText(data, size));
  std::string modifiers(parts[0]);
  std::string objects(parts.size() > 1 ? parts[1] : kDefaultObjects);
  if (parts.size() == 1) {
    // A case of tests/data/transforms/cases/: {modifiers: "<file>", input: <object>}.
    auto c = YamlToJson(parts[0], "case");
    if (c.ok() && c->is_object() && c->contains("modifiers") && (*c)["modifiers"].is_string()) {
      modifiers = (*c)["modifiers"].get<std::string>();
      if (c->contains("input")) objects = (*c)["input"].dump();
    }
  }
  testutil::MemFileSystem fs;
  (void)fs.WriteFile("/m.yaml", modifiers);
  (void)fs.WriteFile("/objects.yaml", objects);
  if (RunPlugin({"transforms", "validate", "/m.yaml"}, &fs) != 0) return 0;
  RunPlugin({"transforms", "apply", "--modifiers", "/m.yaml", "-f", "/objects.yaml", "-o", "json"},
            &fs);
  RunPlugin({"transforms", "apply", "--modifiers", "/m.yaml", "-f", "/objects.yaml", "--diff",
             "--vm-power-on=true"},
            &fs);
  return 0;
}

}  // namespace kdr::fuzz

KDR_FUZZ_ENTRY(FuzzModifiers)
