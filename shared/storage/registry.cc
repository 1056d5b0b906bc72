#include "storage/registry.h"

#include <nlohmann/json.hpp>

#include "base/strings.h"
#include "dr/types.h"
#include "kube/client.h"
#include "kube/object.h"
#include "storage/alletra.h"
#include "storage/longhorn.h"
#include "storage/none.h"

namespace kdr::storage {

std::vector<std::string> DriverNames() { return {"alletra", "longhorn", "none"}; }

Result<std::unique_ptr<Driver>> NewDriver(const dr::DRPlan& plan, const DriverOptions& options) {
  if (options.env.clock == nullptr) {
    return Status::InvalidArgument("storage driver options: env.clock is not set");
  }
  if (options.target == nullptr) {
    return Status::InvalidArgument("storage driver options: no client for the target cluster");
  }
  switch (plan.spec.driver) {
    case dr::StorageDriver::kNone:
      KDR_RETURN_IF_ERROR(ValidateNoneParameters(plan.spec.storage_parameters, nullptr));
      return NewNoneDriver(options);
    case dr::StorageDriver::kLonghorn: return NewLonghornDriver(plan, options);
    case dr::StorageDriver::kAlletra: return NewAlletraDriver(plan, options);
  }
  return Status::InvalidArgument("spec.storage.driver: unknown driver");
}

Result<Credentials> ReadCredentials(kube::Client& client, std::string_view ns,
                                    std::string_view name) {
  const std::string ref = std::string(ns) + "/" + std::string(name);
  auto secret = client.Get({"", "v1", "secrets"}, ns, name);
  if (!secret.ok()) {
    if (secret.status().IsNotFound()) {
      return Status::NotFound("Secret " + ref + " (spec.storage.credentialsSecret) not found on " +
                              "the target cluster; create it there");
    }
    return secret.status().WithContext("reading Secret " + ref);
  }
  Credentials c;
  c.secret = ref;
  const nlohmann::json& data = kube::FieldAt(*secret, {"data"});
  if (data.is_object()) {
    for (const auto& [key, value] : data.items()) {
      if (!value.is_string()) continue;
      KDR_ASSIGN_OR_RETURN(c.data[key], Base64Decode(value.get<std::string>(),
                                                     "key " + Quote(key) + " of Secret " + ref));
    }
  }
  return c;
}

Status ValidatePlanStorage(const dr::DRPlan& plan, const Credentials* credentials) {
  const auto& params = plan.spec.storage_parameters;
  switch (plan.spec.driver) {
    case dr::StorageDriver::kNone: return ValidateNoneParameters(params, credentials);
    case dr::StorageDriver::kLonghorn: return ValidateLonghornParameters(params, credentials);
    case dr::StorageDriver::kAlletra: return ValidateAlletraParameters(params, credentials);
  }
  return Status::InvalidArgument("spec.storage.driver: unknown driver");
}

}  // namespace kdr::storage
