#pragma once

// Bounded JSON reading: the one way JSON from outside the process is parsed (AdmissionReviews,
// API answers, files and exec plugin output), so that a hostile document costs a 400 or an
// InvalidArgument, never a crash.
//
// Depth. nlohmann 3.11 parses and destroys iteratively, but copying, comparing, dumping and
// diffing recurse once per level, so the depth a reader accepts is the depth every later
// operation must survive. kube-apiserver refuses documents nested deeper than kMaxJsonDepth
// (sigs.k8s.io/json's maxNestingDepth), so no object it stores or sends is deeper; envelopes add
// their own levels on top (an AdmissionReview's object sits 2 deep, a List's items 2, a watch
// event's object 1), and their readers pass the sum. At 10,000 levels a copy takes 1.4 MiB of
// stack, dump 1.1 MiB and == 0.5 MiB (g++ 12 -O2), and the webhook's deepest path (a restored
// object copied, patched at its bottom, diffed and answered) 1.8 MiB. Threads that handle outside
// JSON run on stacks of kJsonThreadStackBytes (the webhook's workers do; glibc's default follows
// RLIMIT_STACK, 2 MiB when it is unlimited).
//
// Sanitized builds (scripts/test --sanitize) use far bigger frames: ASan pads every local with
// redzones and -O1 inlines less, so the 10,000-level copy and print of
// YamlLimitsTest.DeepValuesPrintInFlowStylePastABlockDepth, under 2 MiB at -O2, needs 26 MiB
// with g++ 12 ASan+UBSan. kSanitizerStackScale multiplies the stack budget there (scripts/test
// raises the main thread's RLIMIT_STACK to the same kJsonThreadStackBytes).

#include <cstddef>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>

#include "base/status.h"

namespace kdr {

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define KDR_SANITIZED_STACKS 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define KDR_SANITIZED_STACKS 1
#endif
#endif
#ifdef KDR_SANITIZED_STACKS
inline constexpr size_t kSanitizerStackScale = 8;
#else
inline constexpr size_t kSanitizerStackScale = 1;
#endif

inline constexpr int kMaxJsonDepth = 10000;
inline constexpr size_t kJsonThreadStackBytes = (size_t{8} << 20) * kSanitizerStackScale;

// Parses `text` as exactly one JSON value (surrounding whitespace allowed). `what` names the source
// for messages ("request body", "objects.json"). InvalidArgument when the text is not JSON, holds
// ill-formed UTF-8 or a number out of range ("<what> is not valid JSON at line 1, column 16:
// syntax error ...", "<what> is not valid JSON: number overflow parsing '1e99999'"), or when it
// nests deeper than max_depth ("<what> nests deeper than 10000 levels; kube-apiserver refuses
// ..."). The depth is counted while parsing, so a refused document is never built whole. Never
// throws (but for std::bad_alloc).
Result<nlohmann::json> ParseJson(std::string_view text, std::string_view what,
                                 int max_depth = kMaxJsonDepth);

// True when `value` holds more than max_depth levels of arrays and objects ({"a": [1]} has 2). Walks
// the value without recursing, so it is safe on values too deep to copy; O(size).
bool NestsDeeperThan(const nlohmann::json& value, int max_depth);

// True when `s` is well-formed UTF-8 (what nlohmann's dump requires of every string). Otherwise
// false, with the offset of the first bad byte in *bad_at when given.
bool IsValidUtf8(std::string_view s, size_t* bad_at = nullptr);

// `s` with bytes that are not printable ASCII written as \xNN: safe in any message, log line or
// JSON string.
std::string PrintableBytes(std::string_view s);

}  // namespace kdr
