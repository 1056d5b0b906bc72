// The restore's waits (CRDs Established, claims Bound), polled through the client's Clock so
// tests run them on a FakeClock, and its worker pool.

#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <nlohmann/json.hpp>
#include <set>

#include "base/clock.h"
#include "base/json.h"
#include "base/strings.h"
#include "inventory/restore_internal.h"
#include "kube/client.h"

namespace kdr::inventory::internal {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;

const kube::Gvr kCrds{"apiextensions.k8s.io", "v1", "customresourcedefinitions"};
const kube::Gvr kClaims{"", "v1", "persistentvolumeclaims"};
const kube::Gvr kVolumes{"", "v1", "persistentvolumes"};
const kube::Gvr kStorageClasses{"storage.k8s.io", "v1", "storageclasses"};
const kube::Gvr kEvents{"", "v1", "events"};

void* RunWorker(void* arg) {
  (*static_cast<std::function<void()>*>(arg))();
  return nullptr;
}

bool OnTarget(const Entry* e) {
  return e->outcome == Outcome::kCreated || e->outcome == Outcome::kUpdated || e->outcome == Outcome::kExisting;
}

std::string Duration(milliseconds d) {
  auto s = std::chrono::duration_cast<std::chrono::seconds>(d).count();
  if (s < 60) return std::to_string(s) + "s";
  return std::to_string(s / 60) + "m" + std::to_string(s % 60) + "s";
}

const json* Condition(const json& o, std::string_view type) {
  const json& conditions = kube::FieldAt(o, {"status", "conditions"});
  if (!conditions.is_array()) return nullptr;
  for (const json& c : conditions) {
    if (c.is_object() && c.value("type", "") == type) return &c;
  }
  return nullptr;
}

std::string Describe(const json& condition) {
  std::string out = condition.value("type", "") + "=" + condition.value("status", "");
  if (!condition.value("reason", "").empty()) out += " (" + condition.value("reason", "") + ")";
  if (!condition.value("message", "").empty()) out += ": " + condition.value("message", "");
  return out;
}

// Polls until done() or the deadline; false when stopped. The delay grows from 100 ms to 2 s.
bool Poll(Clock& clock, Clock::MonoTime deadline, std::stop_token stop, const std::function<bool()>& done) {
  milliseconds delay(100);
  while (!done()) {
    const auto now = clock.Monotonic();
    if (now >= deadline) return true;
    auto left = std::chrono::duration_cast<milliseconds>(deadline - now);
    if (!clock.SleepFor(std::min(delay, left), stop)) return false;
    delay = std::min(delay * 2, milliseconds(2000));
  }
  return true;
}

// Why a claim is not Bound: its phase and conditions, its volume's state, the latest event.
std::string WhyPending(kube::Client& target, const json& claim,
                       const std::map<std::string, json>& classes) {
  std::vector<std::string> why;
  const std::string phase = kube::StringField(claim, {"status", "phase"});
  const std::string volume = kube::StringField(claim, {"spec", "volumeName"});
  if (!volume.empty()) {
    Result<json> pv = target.Get(kVolumes, "", volume);
    if (!pv.ok()) {
      why.push_back(pv.status().IsNotFound() ? "its volume " + Quote(volume) + " does not exist on the target"
                                             : "its volume " + Quote(volume) + " cannot be read: " + pv.status().message());
    } else {
      std::string pv_phase = kube::StringField(*pv, {"status", "phase"});
      std::string s = "its volume " + Quote(volume) + " is " + (pv_phase.empty() ? "without a phase" : pv_phase);
      const json& ref = kube::FieldAt(*pv, {"spec", "claimRef"});
      if (ref.is_object()) {
        std::string other = ref.value("namespace", "") + "/" + ref.value("name", "");
        if (other != kube::NamespacedName(claim)) {
          s += ", reserved for claim " + other;
        } else if (!ref.value("uid", "").empty() && ref.value("uid", "") != kube::Uid(claim)) {
          s += ", its claimRef naming another uid (" + ref.value("uid", "") + ")";
        }
      }
      why.push_back(s);
    }
  } else {
    std::string cls = kube::StringField(claim, {"spec", "storageClassName"});
    auto it = classes.find(cls);
    if (cls.empty()) {
      why.push_back("no volume named and no storage class");
    } else if (it == classes.end()) {
      why.push_back("its storage class " + Quote(cls) + " does not exist on the target");
    } else {
      why.push_back("waiting for provisioner " + Quote(kube::StringField(it->second, {"provisioner"})) +
                    " of storage class " + Quote(cls));
    }
  }
  const json& conditions = kube::FieldAt(claim, {"status", "conditions"});
  if (conditions.is_array()) {
    for (const json& c : conditions) {
      if (c.is_object()) why.push_back("condition " + Describe(c));
    }
  }
  kube::ListOptions lo;
  lo.field_selector = "involvedObject.kind=PersistentVolumeClaim,involvedObject.name=" + kube::Name(claim);
  Result<json> events = target.List(kEvents, kube::Namespace(claim), lo);
  if (events.ok() && (*events)["items"].is_array()) {
    const json* latest = nullptr;
    std::string latest_time;
    for (const json& ev : (*events)["items"]) {
      if (kube::StringField(ev, {"involvedObject", "name"}) != kube::Name(claim)) continue;
      std::string t = kube::StringField(ev, {"lastTimestamp"});
      if (t.empty()) t = kube::StringField(ev, {"eventTime"});
      if (latest == nullptr || t >= latest_time) {
        latest = &ev;
        latest_time = t;
      }
    }
    if (latest != nullptr) {
      why.push_back("event " + kube::StringField(*latest, {"reason"}) + ": " + kube::StringField(*latest, {"message"}));
    }
  }
  return "claim " + kube::NamespacedName(claim) + " is still " + (phase.empty() ? "Pending" : phase) + ": " +
         Join(why, "; ");
}

}  // namespace

void RunParallel(size_t n, int parallel, std::stop_token stop, const std::function<void(size_t)>& fn) {
  if (n == 0) return;
  std::atomic<size_t> next{0};
  std::function<void()> work = [&] {
    for (;;) {
      if (stop.stop_requested()) return;
      const size_t i = next.fetch_add(1);
      if (i >= n) return;
      fn(i);
    }
  };
  const size_t workers = std::min(n, static_cast<size_t>(std::max(parallel, 1)));
  if (workers == 1) {
    work();
    return;
  }
  // Captured objects nest as deep as kube-apiserver allows; copying and dumping them recurses.
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, kJsonThreadStackBytes);
  std::vector<pthread_t> threads;
  for (size_t i = 0; i < workers; ++i) {
    pthread_t t;
    if (pthread_create(&t, &attr, RunWorker, &work) == 0) threads.push_back(t);
  }
  pthread_attr_destroy(&attr);
  if (threads.empty()) work();  // no thread could start: do the work here
  for (pthread_t t : threads) pthread_join(t, nullptr);
}

std::map<std::string, Status> WaitEstablished(kube::Client& target, std::vector<Entry*>& crds,
                                              milliseconds timeout, std::stop_token stop) {
  Clock& clock = *target.env().clock;
  const auto deadline = clock.Monotonic() + timeout;
  std::map<std::string, Entry*> pending;  // by name
  std::map<std::string, std::string> last;  // why not yet
  for (Entry* e : crds) {
    if (OnTarget(e)) pending[e->name] = e;
  }
  std::map<std::string, Status> failures;
  bool finished = Poll(clock, deadline, stop, [&] {
    for (auto it = pending.begin(); it != pending.end();) {
      Result<json> crd = target.Get(kCrds, "", it->first);
      if (!crd.ok()) {
        last[it->first] = crd.status().message();
        ++it;
        continue;
      }
      const json* established = Condition(*crd, "Established");
      if (established != nullptr && established->value("status", "") == "True") {
        it = pending.erase(it);
        continue;
      }
      const json* names = Condition(*crd, "NamesAccepted");
      last[it->first] = names != nullptr && names->value("status", "") == "False" ? Describe(*names)
                        : established != nullptr                                  ? Describe(*established)
                                                                                  : "no Established condition yet";
      ++it;
    }
    return pending.empty();
  });
  if (!finished) return failures;  // stopped: the caller reports it
  for (auto& [name, e] : pending) {
    Status s = Status::DeadlineExceeded("CustomResourceDefinition " + name + " is not Established after " +
                                        Duration(timeout) + ": " + last[name] +
                                        "; its custom resources are not restored");
    e->outcome = Outcome::kFailed;
    e->status = s;
    failures[name] = s;
  }
  return failures;
}

void WaitBound(kube::Client& target, std::vector<Entry*>& claims, milliseconds timeout, std::stop_token stop) {
  Clock& clock = *target.env().clock;
  const auto deadline = clock.Monotonic() + timeout;
  std::map<std::string, std::map<std::string, Entry*>> pending;  // namespace -> name -> entry
  for (Entry* e : claims) {
    if (OnTarget(e)) pending[e->namespace_name][e->name] = e;
  }
  if (pending.empty()) return;
  // Which classes bind only for a consumer (WaitForFirstConsumer) and which is the default.
  std::map<std::string, json> classes;
  std::string default_class;
  if (Result<json> list = target.ListAll(kStorageClasses, ""); list.ok()) {
    for (json& sc : (*list)["items"]) {
      const std::string name = kube::Name(sc);
      if (kube::Annotation(sc, "storageclass.kubernetes.io/is-default-class").value_or("") == "true") {
        default_class = name;
      }
      classes[name] = std::move(sc);
    }
  }
  std::map<std::string, json> last;  // "ns/name" -> the claim as last read
  bool finished = Poll(clock, deadline, stop, [&] {
    for (auto ns = pending.begin(); ns != pending.end();) {
      Result<json> list = target.ListAll(kClaims, ns->first);
      if (list.ok()) {
        for (json& claim : (*list)["items"]) {
          auto it = ns->second.find(kube::Name(claim));
          if (it == ns->second.end()) continue;
          const bool bound = kube::StringField(claim, {"status", "phase"}) == "Bound";
          std::string cls = kube::StringField(claim, {"spec", "storageClassName"});
          if (cls.empty() && !kube::FieldAt(claim, {"spec", "storageClassName"}).is_string()) cls = default_class;
          auto c = classes.find(cls);
          // A claim of a WaitForFirstConsumer class binds when its first pod is scheduled.
          const bool waits_for_pod = kube::StringField(claim, {"spec", "volumeName"}).empty() &&
                                     c != classes.end() &&
                                     kube::StringField(c->second, {"volumeBindingMode"}) == "WaitForFirstConsumer";
          if (bound || waits_for_pod) {
            ns->second.erase(it);
          } else {
            std::string key = kube::NamespacedName(claim);  // before the move below
            last[key] = std::move(claim);
          }
        }
      }
      ns = ns->second.empty() ? pending.erase(ns) : std::next(ns);
    }
    return pending.empty();
  });
  if (!finished) return;
  for (auto& [ns, names] : pending) {
    for (auto& [name, e] : names) {
      auto it = last.find(ns + "/" + name);
      std::string why = it == last.end() ? "claim " + ns + "/" + name + " was not found on the target"
                                         : WhyPending(target, it->second, classes);
      e->outcome = Outcome::kFailed;
      e->status = Status::DeadlineExceeded(why + " (after " + Duration(timeout) +
                                           "; pods that mount it wait until it binds)");
    }
  }
}

}  // namespace kdr::inventory::internal

namespace kdr::inventory {

Status WaitClaimBound(kube::Client& target, std::string_view ns, std::string_view name,
                      std::chrono::milliseconds timeout, std::stop_token stop) {
  using nlohmann::json;
  static const kube::Gvr kClaims{"", "v1", "persistentvolumeclaims"};
  Clock& clock = *target.env().clock;
  const Clock::MonoTime deadline = clock.Monotonic() + timeout;
  json claim;
  Status read;
  bool bound = false;
  internal::Poll(clock, deadline, stop, [&] {
    Result<json> r = target.Get(kClaims, ns, name);
    read = r.status();
    if (r.ok()) {
      claim = std::move(*r);
      bound = kube::StringField(claim, {"status", "phase"}) == "Bound";
    }
    return bound;
  });
  if (bound) return Status::Ok();
  if (stop.stop_requested()) return Status::Cancelled("stopped while waiting for claim " + std::string(ns) + "/" + std::string(name) + " to bind");
  const std::string what = "claim " + std::string(ns) + "/" + std::string(name);
  if (!read.ok()) return read.WithContext("waiting for " + what + " to bind");
  return Status::DeadlineExceeded(what + " is not Bound after " + internal::Duration(timeout) + ": " +
                                  internal::WhyPending(target, claim, {}));
}

}  // namespace kdr::inventory
