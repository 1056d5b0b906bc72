#include "base/json.h"

#include <nlohmann/json.hpp>
#include <utility>
#include <vector>

namespace kdr {
namespace {

using nlohmann::json;

// nlohmann's DOM builder (detail::json_sax_dom_parser) with a depth count: returning false from
// start_object/start_array stops the parser at once. Built on the public API only, so it does
// not depend on nlohmann's internals.
class BoundedDomBuilder {
 public:
  BoundedDomBuilder(json* root, int max_depth) : max_depth_(max_depth), root_(root) {}

  bool null() { return Put(nullptr); }
  bool boolean(bool v) { return Put(v); }
  bool number_integer(json::number_integer_t v) { return Put(v); }
  bool number_unsigned(json::number_unsigned_t v) { return Put(v); }
  bool number_float(json::number_float_t v, const json::string_t&) { return Put(v); }
  bool string(json::string_t& v) { return Put(v); }
  bool binary(json::binary_t& v) { return Put(json::binary(v)); }
  bool start_object(std::size_t) { return Open(json::value_t::object); }
  bool key(json::string_t& k) {
    member_ = &stack_.back()->get_ref<json::object_t&>()[k];
    return true;
  }
  bool end_object() { return Close(); }
  bool start_array(std::size_t) { return Open(json::value_t::array); }
  bool end_array() { return Close(); }
  bool parse_error(std::size_t, const std::string&, const json::exception& e) {
    error_ = e.what();
    return false;
  }

  bool too_deep() const { return too_deep_; }
  const std::string& error() const { return error_; }

 private:
  template <typename V>
  bool Put(V&& v) {
    Place(std::forward<V>(v));
    return true;
  }
  template <typename V>
  json* Place(V&& v) {
    if (stack_.empty()) {
      *root_ = json(std::forward<V>(v));
      return root_;
    }
    if (json::array_t* a = stack_.back()->get_ptr<json::array_t*>()) {
      a->emplace_back(std::forward<V>(v));
      return &a->back();
    }
    *member_ = json(std::forward<V>(v));
    return member_;
  }
  bool Open(json::value_t type) {
    if (static_cast<int>(stack_.size()) >= max_depth_) {
      too_deep_ = true;
      return false;
    }
    stack_.push_back(Place(type));
    return true;
  }
  bool Close() {
    stack_.pop_back();
    return true;
  }

  const int max_depth_;
  json* const root_;
  std::vector<json*> stack_;  // the open containers, innermost last
  json* member_ = nullptr;    // the object member the next value goes to
  bool too_deep_ = false;
  std::string error_;
};

// "<what> is not valid JSON at line 1, column 3: syntax error ..." from nlohmann's
// "[json.exception.parse_error.101] parse error at line 1, column 3: syntax error ...", cut short
// and with any raw bytes of the input escaped.
Status NotJson(std::string_view what, std::string_view error) {
  if (!error.empty() && error.front() == '[') {
    size_t end = error.find("] ");
    if (end != std::string_view::npos) error.remove_prefix(end + 2);
  }
  std::string out = std::string(what) + " is not valid JSON";
  if (error.substr(0, 15) == "parse error at ") {
    out += " at ";
    error.remove_prefix(15);
  } else {
    if (error.substr(0, 13) == "parse error: ") error.remove_prefix(13);
    out += ": ";
  }
  constexpr size_t kMax = 240;
  out += PrintableBytes(error.substr(0, kMax));
  if (error.size() > kMax) out += "...";
  return Status::InvalidArgument(std::move(out));
}

}  // namespace

Result<json> ParseJson(std::string_view text, std::string_view what, int max_depth) {
  // nlohmann's lexer reads a NUL byte as the end of the input, so "{}\0anything" parsed as {}
  // (found by tests/fuzz/json_fuzz.cc). A raw NUL is never valid JSON, not even in a string.
  if (size_t nul = text.find('\0'); nul != std::string_view::npos) {
    return Status::InvalidArgument(std::string(what) + " is not valid JSON: a NUL byte at offset " +
                                   std::to_string(nul));
  }
  json root;
  BoundedDomBuilder builder(&root, max_depth);
  bool ok = false;
  try {
    ok = json::sax_parse(text, &builder, json::input_format_t::json, /*strict=*/true,
                         /*ignore_comments=*/false);
  } catch (const json::exception& e) {
    return NotJson(what, e.what());
  }
  if (builder.too_deep()) {
    return Status::InvalidArgument(std::string(what) + " nests deeper than " +
                                   std::to_string(max_depth) + " levels; kube-apiserver refuses "
                                   "objects nested deeper than " + std::to_string(kMaxJsonDepth));
  }
  if (!ok) return NotJson(what, builder.error());
  return root;
}

bool NestsDeeperThan(const json& value, int max_depth) {
  if (!value.is_structured()) return false;
  std::vector<std::pair<const json*, int>> stack = {{&value, 1}};
  while (!stack.empty()) {
    auto [v, depth] = stack.back();
    stack.pop_back();
    if (depth > max_depth) return true;
    for (const json& child : *v) {
      if (child.is_structured()) stack.emplace_back(&child, depth + 1);
    }
  }
  return false;
}

bool IsValidUtf8(std::string_view s, size_t* bad_at) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  size_t i = 0;
  while (i < n) {
    const unsigned char c = p[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len = 0;
    unsigned char lo = 0x80, hi = 0xBF;  // the allowed range of the second byte (RFC 3629)
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      if (c == 0xE0) lo = 0xA0;  // overlong
      if (c == 0xED) hi = 0x9F;  // surrogates
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      if (c == 0xF0) lo = 0x90;  // overlong
      if (c == 0xF4) hi = 0x8F;  // past U+10FFFF
    }
    bool ok = len != 0 && i + len <= n && p[i + 1] >= lo && p[i + 1] <= hi;
    for (size_t k = 2; ok && k < len; ++k) ok = p[i + k] >= 0x80 && p[i + k] <= 0xBF;
    if (!ok) {
      if (bad_at != nullptr) *bad_at = i;
      return false;
    }
    i += len;
  }
  return true;
}

std::string PrintableBytes(std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    }
  }
  return out;
}

}  // namespace kdr
