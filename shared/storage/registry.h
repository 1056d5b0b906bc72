#pragma once

// The storage drivers by name: spec.storage.driver picks one (longhorn, alletra, none).
//
//   storage::DriverOptions o{env, source_client /* null when unreachable */, target_client};
//   KDR_ASSIGN_OR_RETURN(auto driver, storage::NewDriver(plan, o));
//   KDR_ASSIGN_OR_RETURN(auto cgs, driver->Discover(plan, volume_map, deadline));
//
// Each driver's parameters and Secret keys are documented in its header (longhorn.h,
// alletra.h, none.h).

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "storage/driver.h"

namespace kdr::kube {
class Client;
}

namespace kdr::storage {

// "alletra", "longhorn", "none".
std::vector<std::string> DriverNames();

// The driver of plan.spec.storage.driver, bound to the plan's parameters (and, for drivers that
// need one, its credentials Secret, read from options.target when first needed).
// InvalidArgument listing every bad parameter (the Secret is not read here); InvalidArgument
// when options.env.clock or options.target is null.
Result<std::unique_ptr<Driver>> NewDriver(const dr::DRPlan& plan, const DriverOptions& options);

// Reads Secret ns/name through `client` and decodes its data (stringData is not stored by the
// API server, so only data counts). NotFound naming the Secret and the plan field that names it.
Result<Credentials> ReadCredentials(kube::Client& client, std::string_view ns,
                                    std::string_view name);

// plan create's check: the plan's driver validates its parameters and `credentials` (null when
// the plan names no Secret), offline. InvalidArgument listing every problem.
Status ValidatePlanStorage(const dr::DRPlan& plan, const Credentials* credentials);

}  // namespace kdr::storage
