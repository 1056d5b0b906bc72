#pragma once

// Lease: one holder at a time for a named coordination.k8s.io/v1 Lease, the way the failover keeps
// a second concurrent run of the same recovery out (DESIGN.md section 3).
//
//   KDR_ASSIGN_OR_RETURN(auto lease, kube::Lease::Acquire(client, {ns, "drr-shop-failover", me}, clock));
//   lease->KeepAlive(stop);          // renews every duration/3 on a thread of its own
//   ... the workflow ...
//   KDR_RETURN_IF_ERROR(lease->Release());
//
// The object is written as kube-apiserver wants it: renewTime and acquireTime are MicroTime with
// exactly six fractional digits (anything else is a 400), leaseDurationSeconds positive (else 422),
// and every update carries the resourceVersion read (a blind update could steal a live lease).
//
// Expiry is judged on the wall clock, as other clients do: a lease whose renewTime +
// leaseDurationSeconds is in the past belongs to a holder that died, and is taken over (its
// leaseTransitions counted). Clock skew between two operators' machines shortens or lengthens that
// grace by the skew; the default duration (30 s) is far above what NTP-synchronised hosts drift.
//
// Thread-safe: Renew, Release and the KeepAlive thread may run concurrently.

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <nlohmann/json_fwd.hpp>
#include <stop_token>
#include <string>
#include <thread>

#include "base/clock.h"
#include "base/status.h"

namespace kdr::kube {

class Client;

struct LeaseSpec {
  std::string namespace_name;
  std::string name;
  // Who holds it, as the refusal shows it to the second operator: "alice@laptop pid 4242".
  std::string holder;
  std::chrono::seconds duration{30};
};

// "2026-12-02T15:43:07.123456Z": metav1.MicroTime's wire form.
std::string FormatMicroTime(Clock::WallTime t);

class Lease {
 public:
  // Takes the lease: creates it, or takes over one that is free (no holder) or expired. A lease
  // held by another live holder is FailedPrecondition naming the holder, when it was acquired and
  // when it expires ("... held by alice@laptop pid 4242 since 2026-12-02T15:40:00Z; ...").
  // InvalidArgument for an empty name or holder or a non-positive duration. Neither client nor
  // clock is owned; both must outlive the lease.
  static Result<std::unique_ptr<Lease>> Acquire(Client* client, LeaseSpec spec, Clock* clock);

  ~Lease();  // stops KeepAlive; releases when Release() was not called (best effort)
  Lease(const Lease&) = delete;
  Lease& operator=(const Lease&) = delete;

  // Writes a new renewTime. Aborted when the lease was lost (taken over, deleted, or not renewed
  // within its duration): the caller must stop working under it.
  Status Renew();
  // Gives the lease up (clears the holder, so the next run takes it at once). Ok when it is
  // already gone or held by someone else (then it was lost before, which Renew reported).
  Status Release();
  // Renews every duration/3 on a thread until Release, destruction or `stop`. lost() turns true
  // when a renewal reports the lease lost.
  void KeepAlive(std::stop_token stop = {});
  bool lost() const { return lost_.load(); }

  const LeaseSpec& spec() const { return spec_; }

 private:
  Lease(Client* client, LeaseSpec spec, Clock* clock, nlohmann::json object);

  Client* const client_;
  const LeaseSpec spec_;
  Clock* const clock_;
  std::mutex mu_;
  std::unique_ptr<nlohmann::json> object_;  // guarded by mu_: the last version written
  bool released_ = false;                   // guarded by mu_
  std::atomic<bool> lost_{false};
  std::jthread keeper_;
};

}  // namespace kdr::kube
