#include "kube/lease.h"

#include <ctime>
#include <nlohmann/json.hpp>

#include "base/strings.h"
#include "kube/client.h"
#include "kube/object.h"

namespace kdr::kube {
namespace {

using nlohmann::json;

const Gvr kLeases{"coordination.k8s.io", "v1", "leases"};

std::string Where(const LeaseSpec& s) { return "lease " + s.namespace_name + "/" + s.name; }

struct Holding {
  std::string holder;
  Clock::WallTime acquired{};
  Clock::WallTime renewed{};
  std::chrono::seconds duration{0};
};

Holding Read(const json& lease) {
  Holding h;
  h.holder = StringField(lease, {"spec", "holderIdentity"});
  (void)ParseRfc3339(StringField(lease, {"spec", "acquireTime"}), &h.acquired);
  (void)ParseRfc3339(StringField(lease, {"spec", "renewTime"}), &h.renewed);
  const json& d = FieldAt(lease, {"spec", "leaseDurationSeconds"});
  h.duration = std::chrono::seconds(d.is_number_integer() ? d.get<long long>() : 0);
  return h;
}

long long Transitions(const json& lease) {
  const json& t = FieldAt(lease, {"spec", "leaseTransitions"});
  return t.is_number_integer() ? t.get<long long>() : 0;
}

}  // namespace

std::string FormatMicroTime(Clock::WallTime t) {
  const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(micros / 1000000);
  long long frac = micros % 1000000;
  if (frac < 0) {
    frac += 1000000;
    --secs;
  }
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[40];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06lldZ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
  return buf;
}

Result<std::unique_ptr<Lease>> Lease::Acquire(Client* client, LeaseSpec spec, Clock* clock) {
  if (spec.name.empty() || spec.namespace_name.empty()) {
    return Status::InvalidArgument("lease: name and namespace are required");
  }
  if (spec.holder.empty()) return Status::InvalidArgument(Where(spec) + ": the holder identity is empty");
  if (spec.duration.count() <= 0) {
    // kube-apiserver: spec.leaseDurationSeconds must be greater than 0 (422).
    return Status::InvalidArgument(Where(spec) + ": the duration must be positive");
  }
  // Two attempts: a create that lost a race to another creator reads and judges what it made.
  for (int attempt = 0; attempt < 2; ++attempt) {
    const std::string now = FormatMicroTime(clock->Now());
    Result<json> current = client->Get(kLeases, spec.namespace_name, spec.name);
    if (!current.ok() && !current.status().IsNotFound()) {
      return current.status().WithContext("reading " + Where(spec));
    }
    json lease;
    if (!current.ok()) {
      lease = {{"apiVersion", "coordination.k8s.io/v1"},
               {"kind", "Lease"},
               {"metadata", {{"name", spec.name}, {"namespace", spec.namespace_name}}},
               {"spec",
                {{"holderIdentity", spec.holder},
                 {"leaseDurationSeconds", spec.duration.count()},
                 {"acquireTime", now},
                 {"renewTime", now},
                 {"leaseTransitions", 0}}}};
      Result<json> made = client->Create(kLeases, spec.namespace_name, lease);
      if (made.ok()) return std::unique_ptr<Lease>(new Lease(client, std::move(spec), clock, std::move(*made)));
      if (made.status().IsAlreadyExists()) continue;
      return made.status().WithContext("creating " + Where(spec));
    }
    const Holding h = Read(*current);
    const bool free = h.holder.empty();
    const bool expired = h.renewed + h.duration < clock->Now();
    if (!free && !expired) {
      return Status::FailedPrecondition(
          Where(spec) + " is held by " + h.holder + " since " + FormatRfc3339(h.acquired) +
          " (renewed " + FormatRfc3339(h.renewed) + ", expires " + FormatRfc3339(h.renewed + h.duration) +
          " unless renewed): another run of this recovery is in progress; wait for it to finish, or, if "
          "that run died, run again after the lease expires");
    }
    lease = *current;
    json& s = lease["spec"];
    s["holderIdentity"] = spec.holder;
    s["leaseDurationSeconds"] = spec.duration.count();
    s["acquireTime"] = now;
    s["renewTime"] = now;
    s["leaseTransitions"] = Transitions(*current) + (free ? 0 : 1);
    // The resourceVersion read stays in metadata: if another run took it meanwhile, this is 409.
    Result<json> taken = client->Update(kLeases, spec.namespace_name, lease);
    if (taken.ok()) return std::unique_ptr<Lease>(new Lease(client, std::move(spec), clock, std::move(*taken)));
    if (taken.status().code() == StatusCode::kAborted || taken.status().IsNotFound()) continue;
    return taken.status().WithContext("taking over " + Where(spec));
  }
  return Status::Aborted(Where(spec) + " changed hands while it was being acquired; run again");
}

Lease::Lease(Client* client, LeaseSpec spec, Clock* clock, json object)
    : client_(client), spec_(std::move(spec)), clock_(clock),
      object_(std::make_unique<json>(std::move(object))) {}

Lease::~Lease() {
  keeper_ = {};  // stops and joins the keeper first
  (void)Release();
}

Status Lease::Renew() {
  std::lock_guard lock(mu_);
  if (released_) return Status::FailedPrecondition(Where(spec_) + " was released");
  const Holding mine = Read(*object_);
  json next = *object_;
  next["spec"]["renewTime"] = FormatMicroTime(clock_->Now());
  Result<json> r = client_->Update(kLeases, spec_.namespace_name, next);
  if (r.ok()) {
    *object_ = std::move(*r);
    return Status::Ok();
  }
  if (r.status().code() == StatusCode::kAborted || r.status().IsNotFound()) {
    lost_ = true;
    return Status::Aborted(Where(spec_) + " was lost (taken over or deleted since " +
                           FormatRfc3339(mine.renewed) + "); stop: another run may be working");
  }
  if (mine.renewed + mine.duration < clock_->Now()) {
    lost_ = true;
    return Status::Aborted(Where(spec_) + " expired before it could be renewed: " + r.status().message());
  }
  return r.status().WithContext("renewing " + Where(spec_));
}

Status Lease::Release() {
  std::lock_guard lock(mu_);
  if (released_) return Status::Ok();
  released_ = true;
  if (lost_) return Status::Ok();
  json next = *object_;
  next["spec"].erase("holderIdentity");
  Result<json> r = client_->Update(kLeases, spec_.namespace_name, next);
  if (r.ok() || r.status().code() == StatusCode::kAborted || r.status().IsNotFound()) return Status::Ok();
  return r.status().WithContext("releasing " + Where(spec_));
}

void Lease::KeepAlive(std::stop_token stop) {
  keeper_ = std::jthread([this, outer = std::move(stop)](std::stop_token own) {
    const auto period = spec_.duration / 3;
    while (!own.stop_requested() && !outer.stop_requested()) {
      std::stop_source both;
      std::stop_callback a(own, [&] { both.request_stop(); });
      std::stop_callback b(outer, [&] { both.request_stop(); });
      if (!clock_->SleepFor(period, both.get_token())) return;
      {
        std::lock_guard lock(mu_);
        if (released_) return;
      }
      if (!Renew().ok() && lost_) return;
    }
  });
}

}  // namespace kdr::kube
