#include "dr/verify.h"

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>
#include <optional>

#include "base/clock.h"
#include "base/strings.h"
#include "dr/types.h"
#include "dr/workloads_internal.h"
#include "kube/client.h"
#include "kube/object.h"
#include "storage/deadline.h"

namespace kdr::dr {
namespace {

using nlohmann::json;
using namespace internal;

struct Observed {
  WorkloadReadiness readiness;
  bool done = false;
  std::string why;  // when not done and the status says why
};

int64_t Int(const json& o, std::initializer_list<std::string_view> path, int64_t absent) {
  const json& v = kube::FieldAt(o, path);
  return v.is_number_integer() ? v.get<int64_t>() : absent;
}

const json* Condition(const json& o, std::string_view type) {
  const json& conditions = kube::FieldAt(o, {"status", "conditions"});
  if (!conditions.is_array()) return nullptr;
  for (const json& c : conditions) {
    if (c.is_object() && c.value("type", "") == type) return &c;
  }
  return nullptr;
}

std::string Explain(const json& c, std::string_view label) {
  std::string message = c.value("message", "");
  if (message.empty()) message = c.value("reason", "");
  return std::string(label) + (message.empty() ? "" : ": " + message);
}

// The reasons the conditions give, as kubectl rollout status reports them.
std::vector<std::string> ConditionReasons(const json& o) {
  std::vector<std::string> out;
  if (const json* c = Condition(o, "ReplicaFailure"); c && c->value("status", "") == "True") {
    out.push_back(Explain(*c, "ReplicaFailure"));
  }
  if (const json* c = Condition(o, "Progressing"); c && c->value("reason", "") == "ProgressDeadlineExceeded") {
    out.push_back(Explain(*c, "ProgressDeadlineExceeded"));
  }
  return out;
}

// A status written for an older generation says nothing about the current spec (a DaemonSet just
// restored reports desiredNumberScheduled 0 until its controller has seen it).
bool Observes(const json& o) {
  const int64_t generation = Int(o, {"metadata", "generation"}, 0);
  const int64_t observed = Int(o, {"status", "observedGeneration"}, -1);
  return observed >= generation && observed >= 0;
}

Observed Evaluate(std::string_view kind, const json& o) {
  Observed out;
  out.readiness.object = Describe(kind, o);
  std::vector<std::string> why;
  int64_t want = 0, ready = 0;
  bool rolled = true;
  if (kind == "deployment" || kind == "statefulset") {
    want = Int(o, {"spec", "replicas"}, 1);
    ready = Int(o, {"status", "readyReplicas"}, 0);
    why = ConditionReasons(o);
    if (kind == "deployment") {
      const int64_t updated = Int(o, {"status", "updatedReplicas"}, 0);
      rolled = updated >= want;
      if (!rolled && ready >= want) why.push_back(std::to_string(updated) + " of " + std::to_string(want) + " updated");
    }
  } else if (kind == "daemonset") {
    want = Int(o, {"status", "desiredNumberScheduled"}, 0);
    ready = Int(o, {"status", "numberReady"}, 0);
  } else {  // virtualmachine
    const bool halted = kube::StringField(o, {"spec", "runStrategy"}) == "Halted" ||
                        kube::FieldAt(o, {"spec", "running"}) == json(false);
    want = halted ? 0 : 1;
    ready = kube::FieldAt(o, {"status", "ready"}) == json(true) ? 1 : 0;
    if (const json* c = Condition(o, "Failure"); c && c->value("status", "") == "True") {
      why.push_back(Explain(*c, "Failure"));
    }
    const std::string printable = kube::StringField(o, {"status", "printableStatus"});
    if (!printable.empty() && printable != "Running") why.push_back(printable);
  }
  out.readiness.want = want;
  out.readiness.ready = ready;
  const bool observed = kind == "virtualmachine" || Observes(o);
  if (!observed) {
    why.push_back("its controller has not yet observed generation " +
                  std::to_string(Int(o, {"metadata", "generation"}, 0)));
  }
  // A workload scaled to zero, or a halted VM, has nothing to wait for; a DaemonSet's want comes
  // from its status, so only an observed 0 counts.
  out.done = (want == 0 && kind != "daemonset") || (ready >= want && rolled && observed);
  out.why = Join(why, "; ");
  return out;
}

Status CheckRecovery(const std::string& recovery) {
  if (recovery.empty()) return Status::Ok();
  // It is matched as a label value: 63 characters, alphanumerics and '-', '_', '.' inside.
  auto alnum = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; };
  bool ok = recovery.size() <= 63 && alnum(recovery.front()) && alnum(recovery.back()) &&
            std::all_of(recovery.begin(), recovery.end(),
                        [&](char c) { return alnum(c) || c == '-' || c == '_' || c == '.'; });
  if (ok) return Status::Ok();
  return Status::InvalidArgument("verify: recovery " + Quote(recovery) + " cannot be a value of label " +
                                 std::string(kRecoveryLabel) + " (at most 63 letters, digits, '-', '_' or '.', "
                                 "a letter or digit at both ends)");
}

Result<std::vector<Observed>> Poll(kube::Client& cluster, const std::vector<std::string>& namespaces,
                                   const std::string& recovery, bool vms) {
  struct Kind {
    std::string_view name;
    const kube::Gvr* gvr;
  };
  std::vector<Kind> kinds = {{"daemonset", &kDaemonSets}, {"deployment", &kDeployments}, {"statefulset", &kStatefulSets}};
  if (vms) kinds.push_back({"virtualmachine", &kVirtualMachines});
  kube::ListOptions lo;
  if (!recovery.empty()) lo.label_selector = std::string(kRecoveryLabel) + "=" + recovery;
  std::vector<Observed> out;
  for (const Kind& k : kinds) {
    std::vector<Observed> of_kind;
    for (const std::string& ns : namespaces) {
      KDR_ASSIGN_OR_RETURN(std::vector<json> items, ListItems(cluster, *k.gvr, ns, lo));
      for (const json& item : items) of_kind.push_back(Evaluate(k.name, item));
    }
    std::sort(of_kind.begin(), of_kind.end(),
              [](const Observed& a, const Observed& b) { return a.readiness.object < b.readiness.object; });
    out.insert(out.end(), of_kind.begin(), of_kind.end());
  }
  return out;
}

std::string NotReady(const std::vector<Observed>& observed) {
  std::vector<std::string> lines;
  for (const Observed& o : observed) {
    if (o.done) continue;
    lines.push_back(o.readiness.object + ": " + std::to_string(o.readiness.ready) + " of " +
                    std::to_string(o.readiness.want) + " ready" + (o.why.empty() ? "" : " (" + o.why + ")"));
  }
  return Join(lines, "; ");
}

}  // namespace

Result<std::vector<WorkloadReadiness>> WaitReady(kube::Client& cluster, const Env& env, const VerifyOptions& options,
                                                 std::stop_token stop) {
  if (env.clock == nullptr) return Status::Internal("verify: the Env has no clock");
  if (options.timeout.count() < 0 || options.poll_interval.count() <= 0) {
    return Status::InvalidArgument("verify: the timeout must not be negative and the poll interval must be positive");
  }
  KDR_RETURN_IF_ERROR(CheckRecovery(options.recovery));
  KDR_ASSIGN_OR_RETURN(std::vector<std::string> namespaces, CheckNamespaces(cluster, options.namespaces, "verify"));
  KDR_ASSIGN_OR_RETURN(bool vms, Serves(cluster, kVirtualMachines));
  Clock& clock = *env.clock;
  const Clock::MonoTime deadline = clock.Monotonic() + options.timeout;
  // Workloads restored a moment ago are often ready tens of milliseconds after a first look that
  // found them starting: a fixed 1 s pause added up to a second to a failover
  // (tests/bench/failover_bench.cc).
  storage::Backoff backoff(options.poll_interval);
  for (;;) {
    KDR_ASSIGN_OR_RETURN(std::vector<Observed> observed, Poll(cluster, namespaces, options.recovery, vms));
    std::vector<WorkloadReadiness> readiness;
    for (const Observed& o : observed) readiness.push_back(o.readiness);
    if (options.progress) options.progress(readiness);
    const bool all = std::all_of(observed.begin(), observed.end(), [](const Observed& o) { return o.done; });
    if (all) return readiness;
    const Clock::MonoTime now = clock.Monotonic();
    if (now >= deadline) {
      return Status::DeadlineExceeded("timed out after " + FormatDuration(options.timeout) +
                                      " waiting for the workloads of " + Join(namespaces, ", ") +
                                      " to be ready: " + NotReady(observed));
    }
    if (stop.stop_requested() ||
        !clock.SleepFor(std::min<std::chrono::nanoseconds>(backoff.Next(), deadline - now), stop)) {
      return Status::Cancelled("verify interrupted; not ready yet: " + NotReady(observed));
    }
  }
}

}  // namespace kdr::dr
