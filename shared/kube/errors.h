#pragma once

// Decoding the API server's answers into kdr::Status. A non-2xx answer usually carries a
// metav1.Status ({"kind":"Status","reason":"NotFound","message":...,"code":404}); its message is
// kept as the server wrote it (admission denials arrive this way and name the webhook and why).
//
// HTTP -> code:  400 BadRequest, 422 Invalid, 413, 415 -> kInvalidArgument
//                401 -> kUnauthenticated            403 -> kPermissionDenied
//                404 -> kNotFound                   405, 501 -> kUnimplemented
//                409 AlreadyExists -> kAlreadyExists, other 409 (Conflict) -> kAborted
//                410 Gone/Expired -> kFailedPrecondition (relist: the resourceVersion is too old)
//                429 -> kResourceExhausted          504, reason Timeout -> kDeadlineExceeded
//                other 5xx -> kUnavailable          other 4xx -> kFailedPrecondition

#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

#include "base/status.h"
#include "kube/transport.h"

namespace kdr::kube {

// The code for an HTTP status and a Status reason ("AlreadyExists", "Conflict", ...).
StatusCode CodeForHttpStatus(int http_status, std::string_view reason);

// The Status for a non-2xx answer to `method url`. The message is the server's Status message
// when the body is one; otherwise "the server answered HTTP 502 to GET https://h/p: <body start>".
Status StatusFromResponse(const HttpResponse& response, std::string_view method, std::string_view url);

// The same for a metav1.Status object (a watch ERROR event's object).
Status StatusFromStatusObject(const nlohmann::json& status, std::string_view what);

// The Status reason ("Expired", "Gone", ...) of a response body, "" when it is not a Status.
std::string StatusReason(std::string_view body);

}  // namespace kdr::kube
