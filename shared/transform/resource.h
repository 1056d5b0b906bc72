#pragma once

// Which resource an object is: apiVersion + kind -> "resource.group", the string Velero's
// groupResource conditions are matched against ("deployments.apps", "pods",
// "ingresses.networking.k8s.io", "virtualmachines.kubevirt.io"). Offline callers (the CLI) have
// no discovery, so a table of the built-in kinds answers first and kubectl's naive pluralisation
// (meta.UnsafeGuessKindToResource) the rest. Callers with a REST mapper (the webhook gets the
// resource in the AdmissionReview) pass their own groupResource instead.

#include <string>
#include <string_view>

#include "base/status.h"

namespace kdr::transform {

// "apps/v1" -> "apps"; "v1" -> "".
std::string_view GroupOf(std::string_view api_version);

// The lowercase plural resource of a kind in a group, as kubectl guesses it: the built-in table,
// else lowercase + "s" ("es" after s, "ies" for a final y). "Endpoints" -> "endpoints".
std::string ResourceOfKind(std::string_view group, std::string_view kind);

// Maps kinds to resources; subclass to plug in discovery.
class ResourceMapper {
 public:
  virtual ~ResourceMapper() = default;
  // "resource.group" or "resource" for the core group. InvalidArgument when api_version or kind
  // is empty.
  virtual Result<std::string> GroupResource(std::string_view api_version,
                                            std::string_view kind) const;
};

}  // namespace kdr::transform
