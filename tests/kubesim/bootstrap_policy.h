#pragma once

// The objects every kube-apiserver makes at start that a restore may meet (and must count as
// existing, never as a conflict: a create is 409 AlreadyExists).

#include <string_view>

namespace kdr::kubesim {

// Bootstrap RBAC policy: one JSON object a line (ClusterRole, ClusterRoleBinding, and Role and
// RoleBinding in kube-system and kube-public), with the bootstrapping label and autoupdate
// annotation kube-apiserver gives them. Static data; thread-safe.
std::string_view BootstrapPolicy();

}  // namespace kdr::kubesim
