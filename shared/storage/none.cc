#include "storage/none.h"

#include <nlohmann/json.hpp>

#include "base/strings.h"
#include "dr/types.h"
#include "storage/common.h"

namespace kdr::storage {
namespace {

using nlohmann::json;

class NoneDriver final : public Driver {
 public:
  explicit NoneDriver(const DriverOptions& options) : options_(options) {}

  std::string_view name() const override { return "none"; }

  Status ValidateParameters(const std::map<std::string, std::string>& parameters,
                            const Credentials* credentials) const override {
    return ValidateNoneParameters(parameters, credentials);
  }

  Result<Identity> Identify(const inventory::VolumeMapEntry&, const Deadline& deadline) override {
    KDR_RETURN_IF_ERROR(Check(deadline, "identifying a volume"));
    return Identity{};
  }

  Result<std::vector<ConsistencyGroup>> Discover(const dr::DRPlan& plan,
                                                 const inventory::VolumeMap& volumes,
                                                 const Deadline& deadline) override {
    KDR_RETURN_IF_ERROR(Check(deadline, "discovering the plan's volumes"));
    return SplitInventoryAndWorkloads(plan, volumes);
  }

  Result<CgState> State(const ConsistencyGroup& cg, const Deadline& deadline) override {
    KDR_RETURN_IF_ERROR(Check(deadline, "reading the state of " + cg.name));
    CgState s;
    s.replication = Replication::kExternal;
    s.backend = "storage is replicated outside kubectl-dr (driver none)";
    for (const Volume& v : cg.volumes) {
      s.volumes.push_back({v.pvc(), Replication::kExternal, false, std::nullopt, s.backend});
    }
    return s;
  }

  Status Sync(const ConsistencyGroup& cg, const Deadline& d) override {
    return Check(d, "syncing " + cg.name);
  }
  Status Failover(const ConsistencyGroup& cg, const Deadline& d) override {
    return Check(d, "failing over " + cg.name);
  }
  Status Recover(const ConsistencyGroup& cg, const Deadline& d) override {
    return Check(d, "recovering " + cg.name);
  }
  Status Restore(const ConsistencyGroup& cg, const Deadline& d) override {
    return Check(d, "restoring " + cg.name);
  }

  Result<ConsistencyGroup> PrepareDrill(const ConsistencyGroup& cg,
                                        const Deadline& deadline) override {
    KDR_RETURN_IF_ERROR(Check(deadline, "preparing a drill of " + cg.name));
    ConsistencyGroup drill = cg;
    for (Volume& v : drill.volumes) {
      v.drill = true;
      v.without_data = true;
      v.note = "driver none copies no data: the drill restores pvc " + v.pvc() +
               " without its data, " +
               (v.captured.storage_class.empty()
                    ? std::string("provisioned empty by the default storage class")
                    : "provisioned empty by storage class " + Quote(v.captured.storage_class));
    }
    return drill;
  }

  Status CleanupDrill(const ConsistencyGroup& cg, const Deadline& d) override {
    return Check(d, "cleaning up the drill of " + cg.name);
  }

  Result<std::optional<json>> VolumeSourceFor(const Volume& volume, const json& captured_pv,
                                              const Deadline& deadline) override {
    KDR_RETURN_IF_ERROR(Check(deadline, "building the PV of pvc " + volume.pvc()));
    if (volume.drill || volume.without_data) return std::optional<json>();
    if (!captured_pv.is_object() || captured_pv.value("kind", "") != "PersistentVolume") {
      return Status::FailedPrecondition(
          "the inventory holds no PersistentVolume manifest for pvc " + volume.pvc() + " (pv " +
          Quote(volume.captured.pv_name) +
          "); driver none restores the captured PV as it was, so capture the inventory again");
    }
    json pv = captured_pv;
    if (pv.contains("metadata") && pv["metadata"].is_object()) {
      for (const char* f : {"uid", "resourceVersion", "creationTimestamp", "generation",
                            "managedFields", "selfLink", "deletionTimestamp",
                            "deletionGracePeriodSeconds"}) {
        pv["metadata"].erase(f);
      }
    }
    pv.erase("status");
    if (pv.contains("spec") && pv["spec"].contains("claimRef") &&
        pv["spec"]["claimRef"].is_object()) {
      pv["spec"]["claimRef"].erase("uid");
      pv["spec"]["claimRef"].erase("resourceVersion");
    }
    return std::optional<json>(std::move(pv));
  }

  Result<std::vector<Volume>> Protect(const dr::DRPlan& plan, const Deadline& deadline) override {
    KDR_RETURN_IF_ERROR(Check(deadline, "protecting plan " + plan.metadata.name));
    return std::vector<Volume>{};
  }

 private:
  Status Check(const Deadline& d, const std::string& what) const {
    if (d.stop.stop_requested()) return Status::Cancelled(what + ": stopped");
    return Status::Ok();
  }

  const DriverOptions options_;
};

}  // namespace

Status ValidateNoneParameters(const std::map<std::string, std::string>& parameters,
                              const Credentials* credentials) {
  std::vector<std::string> problems;
  CheckKeys("spec.storage.parameters", parameters, {}, &problems);
  if (credentials != nullptr) {
    problems.push_back("spec.storage.credentialsSecret: driver none uses no credentials; remove "
                       "it (Secret " + credentials->secret + ")");
  }
  return Problems("storage driver none", problems);
}

std::unique_ptr<Driver> NewNoneDriver(const DriverOptions& options) {
  return std::make_unique<NoneDriver>(options);
}

}  // namespace kdr::storage
