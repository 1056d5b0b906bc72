#pragma once

// Decoding of Kubernetes protobuf request bodies (application/vnd.kubernetes.protobuf), for the
// kinds kubectl's typed create commands send that way: `kubectl create namespace | configmap |
// secret | serviceaccount | token`. Other kinds are not decodable here (Unimplemented; the REST
// layer answers 415 and the manifest route, `kubectl create -f`, sends JSON).

#include <nlohmann/json_fwd.hpp>
#include <string_view>

#include "base/status.h"

namespace kdr::kubesim {

// body: "k8s\0" + runtime.Unknown{typeMeta, raw}. Returns the object as JSON (apiVersion and
// kind from the envelope). InvalidArgument when malformed, Unimplemented for another kind.
Result<nlohmann::json> DecodeKubeProtobuf(std::string_view body);

}  // namespace kdr::kubesim
