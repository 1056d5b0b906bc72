#pragma once

// The WSAPI error answers the simulator gives: an HTTP status and the body
// {"code": N, "desc": "...", "ref": "..."} ("ref" only when it names a member).
//
// Provenance of each number (checked against public sources, 2026):
//   [guide]   HP 3PAR Web Service API 1.2 / 1.3.1 Developer's Guide, Table 5 (generic codes) and
//             Table 6 (operation-specific codes); the "ref" member example for a malformed body.
//   [mock]    python-3parclient's test/HPE3ParMockServer_flask.py constants (HPE's own mock).
//   [cinder]  OpenStack cinder's HPE Alletra MP driver constants (API_ERROR_187, API_ERROR_40).
//   [client]  python-3parclient client.py docstrings: the symbol and the HTTP status class the
//             array answers with (HTTPForbidden = 403, HTTPNotFound = 404...).
//   INFERRED  the symbol and HTTP status are [client]-verified but the numeric code was not found
//             in any public source; the number below is the simulator's choice. A driver must keep
//             these numbers in one table so a capture from a real array can correct them.
// Descriptions ("desc") are never part of the contract (the guide says so); ours follow the
// guide's lowercase style.

#include <string>

namespace kdr::sim {

struct WsapiError {
  int http_status = 0;
  int code = 0;
  std::string desc;
  std::string ref;  // the offending member, when there is one
};

namespace wsapi {

// Generic codes [guide, Table 5].
inline constexpr int kInvUserPass = 5;      // 403 "invalid user or password" (guide example)
inline constexpr int kInvSessKey = 6;       // 403 invalid session key (missing, unknown, expired)
inline constexpr int kUnsupOp = 9;          // 501 the resource does not support the operation
inline constexpr int kUriResNotFound = 11;  // 404 the requested resource does not exist

// Operation-specific codes.
inline constexpr int kInvInput = 12;                 // 400 [guide, Table 6] invalid value
inline constexpr int kNonExistentVol = 23;           // 404 [guide, Table 6]
inline constexpr int kInvInputWrongType = 39;        // 400 [mock]
inline constexpr int kInvInputMissingRequired = 40;  // 400 [mock] [cinder]
inline constexpr int kInvInputBadEnumValue = 46;     // 400 [mock] ("bad enum value - action")
inline constexpr int kJsonSyntaxError = 60;          // 400 [guide] {"code":60,"desc":"JSON syntax error"}
inline constexpr int kNonExistentRcopyGroup = 187;   // 404 [mock] [cinder]
// Volume creation and deletion: symbol and HTTP status verified [client]; numbers INFERRED.
inline constexpr int kExistentSv = 73;  // 409 EXISTENT_SV "volume exists already"
inline constexpr int kInUse = 34;       // 409 IN_USE: in a remote copy group, or has copies

// Remote-copy state refusals: symbol and 403 Forbidden verified [client]; numbers INFERRED.
inline constexpr int kRcopyGroupStarted = 215;                     // RCOPY_GROUP_STARTED
inline constexpr int kRcopyGroupNotStarted = 216;                  // RCOPY_GROUP_NOT_STARTED
inline constexpr int kRcopyGroupNotStopped = 217;                  // RCOPY_GROUP_NOT_STOPPED
inline constexpr int kRcopyGroupOperationOnlyOnPrimarySide = 218;  // ..._ONLY_ON_PRIMARY_SIDE
inline constexpr int kRcopyGroupOperationOnlyOnSecondarySide = 219;
inline constexpr int kInvOperationRcopyGroupRoleConflict = 220;    // INV_OPERATION_RCOPY_GROUP_ROLE_CONFLICT
inline constexpr int kRcopyTargetIsNotReady = 221;                 // RCOPY_TARGET_IS_NOT_READY
inline constexpr int kRcopyGroupIsBusy = 222;                      // RCOPY_GROUP_IS_BUSY
inline constexpr int kRcopyGroupInvolvedInSynchronization = 223;   // ..._INVOLVED_IN_SYNCHRONIZATION
inline constexpr int kRcopyGroupInFailoverState = 224;             // RCOPY_GROUP_IN_FAILOVER_STATE
// RCOPY_GROUP_INV_TARGET: 403 for start/sync, 400 for the POST actions [client]; number INFERRED.
inline constexpr int kRcopyGroupInvTarget = 225;

}  // namespace wsapi
}  // namespace kdr::sim
