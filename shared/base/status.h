#pragma once

// Status and Result<T>: the one error type of kubectl-dr.
//
// The code tells the caller how to react (abseil's canonical codes, trimmed to what we use):
//   kInvalidArgument     the input is wrong; fix it (the plugin exits 2)
//   kNotFound            the named thing does not exist
//   kAlreadyExists       create found the name taken
//   kFailedPrecondition  the state forbids it; fix the state first (a spent plan)
//   kAborted             optimistic-concurrency conflict (HTTP 409); re-read, then retry
//   kUnavailable         transient: connection refused/reset, 5xx; back off, retry if idempotent
//   kDeadlineExceeded    timed out; back off, retry if idempotent
//   kResourceExhausted   throttled (HTTP 429) or over a limit
//   kUnauthenticated     credentials missing or rejected (HTTP 401)
//   kPermissionDenied    authenticated but forbidden (HTTP 403), or an admission denial
//   kCancelled           the user interrupted (^C)
//   kUnimplemented       the server or driver does not support it
//   kInternal            a bug: an invariant broke
//
// Messages say what failed, on what, why and what to do: lowercase, no final period. Callers add
// context with WithContext("restoring pvc shop/data").

#include <cassert>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace kdr {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,
  kNotFound,
  kAlreadyExists,
  kFailedPrecondition,
  kAborted,
  kUnavailable,
  kDeadlineExceeded,
  kResourceExhausted,
  kUnauthenticated,
  kPermissionDenied,
  kCancelled,
  kUnimplemented,
  kInternal,
};

// Lowercase name of a code ("not found"), for messages and logs.
std::string_view StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;  // ok
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }
  static Status InvalidArgument(std::string m) { return {StatusCode::kInvalidArgument, std::move(m)}; }
  static Status NotFound(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
  static Status AlreadyExists(std::string m) { return {StatusCode::kAlreadyExists, std::move(m)}; }
  static Status FailedPrecondition(std::string m) {
    return {StatusCode::kFailedPrecondition, std::move(m)};
  }
  static Status Aborted(std::string m) { return {StatusCode::kAborted, std::move(m)}; }
  static Status Unavailable(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }
  static Status DeadlineExceeded(std::string m) {
    return {StatusCode::kDeadlineExceeded, std::move(m)};
  }
  static Status ResourceExhausted(std::string m) {
    return {StatusCode::kResourceExhausted, std::move(m)};
  }
  static Status Unauthenticated(std::string m) { return {StatusCode::kUnauthenticated, std::move(m)}; }
  static Status PermissionDenied(std::string m) {
    return {StatusCode::kPermissionDenied, std::move(m)};
  }
  static Status Cancelled(std::string m) { return {StatusCode::kCancelled, std::move(m)}; }
  static Status Unimplemented(std::string m) { return {StatusCode::kUnimplemented, std::move(m)}; }
  static Status Internal(std::string m) { return {StatusCode::kInternal, std::move(m)}; }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

  bool IsNotFound() const { return code_ == StatusCode::kNotFound; }
  bool IsAlreadyExists() const { return code_ == StatusCode::kAlreadyExists; }
  bool IsConflict() const { return code_ == StatusCode::kAborted; }

  // True when retrying the same idempotent call may succeed (Unavailable, DeadlineExceeded,
  // ResourceExhausted).
  bool IsRetryable() const;

  // Returns a copy whose message is "context: message". An ok status stays ok.
  Status WithContext(std::string_view context) const;

  // "not found: deployments.apps \"web\" not found"; "ok" for ok.
  std::string ToString() const;

  // Process exit code for the plugin: 0 ok, 2 invalid input, 1 anything else.
  int ExitCode() const;

  friend bool operator==(const Status& a, const Status& b) {
    return a.code_ == b.code_ && a.message_ == b.message_;
  }

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

// A value or the Status saying why there is none. REQUIRES: a Result built from a Status is never
// built from an ok Status (that would be a value-less success; it asserts).
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(const T& value) : value_(value) {}              // NOLINT: implicit by design
  Result(T&& value) : value_(std::move(value)) {}         // NOLINT
  Result(Status status) : status_(std::move(status)) {   // NOLINT
    assert(!status_.ok() && "Result built from an ok Status");
    if (status_.ok()) status_ = Status::Internal("result built from an ok status without a value");
  }
  template <typename U,
            typename = std::enable_if_t<std::is_constructible_v<T, U&&> &&
                                        !std::is_same_v<std::decay_t<U>, Status> &&
                                        !std::is_same_v<std::decay_t<U>, Result<T>> &&
                                        !std::is_same_v<std::decay_t<U>, T>>>
  Result(U&& value) : value_(T(std::forward<U>(value))) {}  // NOLINT

  bool ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }

  const T& value() const& { assert(ok()); return *value_; }
  T& value() & { assert(ok()); return *value_; }
  T&& value() && { assert(ok()); return std::move(*value_); }
  const T& operator*() const& { return value(); }
  T& operator*() & { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  const T* operator->() const { return &value(); }
  T* operator->() { return &value(); }

  T value_or(T fallback) const& { return ok() ? *value_ : std::move(fallback); }

 private:
  Status status_;
  std::optional<T> value_;
};

}  // namespace kdr

#define KDR_CONCAT_INNER_(a, b) a##b
#define KDR_CONCAT_(a, b) KDR_CONCAT_INNER_(a, b)

// Returns the status from the enclosing function when it is not ok.
#define KDR_RETURN_IF_ERROR(expr)                 \
  do {                                            \
    ::kdr::Status kdr_status_ = (expr);           \
    if (!kdr_status_.ok()) return kdr_status_;    \
  } while (0)

// KDR_ASSIGN_OR_RETURN(auto x, Compute()); declares x from a Result or returns its status.
#define KDR_ASSIGN_OR_RETURN(lhs, rexpr) \
  KDR_ASSIGN_OR_RETURN_IMPL_(KDR_CONCAT_(kdr_result_, __LINE__), lhs, rexpr)
#define KDR_ASSIGN_OR_RETURN_IMPL_(result, lhs, rexpr) \
  auto result = (rexpr);                               \
  if (!result.ok()) return result.status();           \
  lhs = std::move(result).value()
