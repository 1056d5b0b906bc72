#include "kube/raw_list.h"

#include <array>
#include <charconv>
#include <cmath>
#include <limits>

namespace kdr::kube {

std::optional<std::string_view> RawListItem::Label(std::string_view key) const {
  for (auto it = labels.rbegin(); it != labels.rend(); ++it) {
    if (it->first == key) return std::string_view(it->second);
  }
  return std::nullopt;
}

namespace {

// What a container is to the scan: the few places whose members it reads; kOther is validated only.
enum class Role : uint8_t { kOther, kPage, kPageMeta, kItems, kItem, kItemMeta, kLabels, kOwnerRefs, kOwnerRef };

// What the next value is, decided by its key (or by the array it is an element of).
enum class Slot : uint8_t {
  kNone,
  kItems,
  kPageMeta,
  kContinue,
  kResourceVersion,
  kRemaining,
  kItem,
  kItemMeta,
  kType,
  kName,
  kNamespace,
  kLabels,
  kLabelValue,
  kOwnerRefs,
  kOwnerRef,
  kController,
};

struct Frame {
  bool object;
  Role role;
  size_t count = 0;  // members or elements so far
};

// Bytes a string's fast loop stops at: control characters, '"', '\\' and non-ASCII (UTF-8 checked).
constexpr std::array<bool, 256> SpecialBytes() {
  std::array<bool, 256> t{};
  for (int c = 0; c < 256; ++c) t[c] = c < 0x20 || c == '"' || c == '\\' || c >= 0x80;
  return t;
}
constexpr std::array<bool, 256> kSpecial = SpecialBytes();

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

void AppendUtf8(std::string* out, uint32_t cp) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

class Scanner {
 public:
  Scanner(std::string_view text, std::string_view what, int max_depth, RawListPage* page)
      : s_(text), what_(what), max_depth_(max_depth), page_(page) {}

  Status Run() {
    // nlohmann skips a leading UTF-8 byte order mark; so does ParseJson, so here too.
    if (s_.substr(0, 3) == "\xEF\xBB\xBF") p_ = 3;
    SkipSpace();
    if (p_ == s_.size()) return Syntax("the document is empty");
    if (s_[p_] != '{') {
      if (std::string_view("[\"-0123456789tfn").find(s_[p_]) != std::string_view::npos) {
        return NotList("expected an object");
      }
      return Syntax("unexpected " + Describe(p_));
    }
    KDR_RETURN_IF_ERROR(Value(Slot::kNone, /*top=*/true));
    while (!stack_.empty()) {
      Frame& f = stack_.back();
      SkipSpace();
      if (p_ == s_.size()) return Syntax("unexpected end of the document");
      const char c = s_[p_];
      if (f.object) {
        if (c == '}' && f.count == 0) {
          KDR_RETURN_IF_ERROR(Close());
          continue;
        }
        if (f.count > 0) {
          if (c == '}') {
            KDR_RETURN_IF_ERROR(Close());
            continue;
          }
          if (c != ',') return Syntax("expected ',' or '}', not " + Describe(p_));
          ++p_;
          SkipSpace();
          if (p_ == s_.size()) return Syntax("unexpected end of the document");
        }
        if (s_[p_] != '"') return Syntax("expected a member name, not " + Describe(p_));
        ++p_;
        const size_t key_start = p_;
        bool escaped = false;
        KDR_RETURN_IF_ERROR(String(&escaped));
        const std::string_view raw = s_.substr(key_start, p_ - 1 - key_start);
        SkipSpace();
        if (p_ == s_.size() || s_[p_] != ':') return Syntax("expected ':' after a member name");
        ++p_;
        ++stack_.back().count;
        Slot slot = Slot::kNone;
        if (stack_.back().role != Role::kOther) {
          std::string decoded;
          std::string_view key = raw;
          if (escaped) key = decoded = Decode(raw);
          slot = SlotOf(stack_.back().role, key);
        }
        KDR_RETURN_IF_ERROR(Value(slot));
      } else {
        if (c == ']') {
          KDR_RETURN_IF_ERROR(Close());
          continue;
        }
        if (f.count > 0) {
          if (c != ',') return Syntax("expected ',' or ']', not " + Describe(p_));
          ++p_;
        }
        const size_t index = f.count++;
        Slot slot = Slot::kNone;
        if (f.role == Role::kItems) {
          SkipSpace();
          if (p_ < s_.size() && s_[p_] != '{' && IsValueStart(s_[p_])) {
            return NotList("items[" + std::to_string(index) + "] is not an object");
          }
          slot = Slot::kItem;
        } else if (f.role == Role::kOwnerRefs) {
          slot = Slot::kOwnerRef;
        }
        KDR_RETURN_IF_ERROR(Value(slot));
      }
    }
    SkipSpace();
    if (p_ != s_.size()) return Syntax("unexpected " + Describe(p_) + " after the document");
    return Status::Ok();
  }

 private:
  static bool IsValueStart(char c) {
    return std::string_view("{[\"-0123456789tfn").find(c) != std::string_view::npos;
  }

  // The role of a member's value, from its container's role and its key; resets what a repeated
  // key replaces (nlohmann keeps the last).
  Slot SlotOf(Role role, std::string_view key) {
    switch (role) {
      case Role::kPage:
        if (key == "items") return page_->items.clear(), Slot::kItems;
        if (key == "metadata") {
          page_->continue_token.clear();
          page_->resource_version.clear();
          page_->remaining_item_count.reset();
          return Slot::kPageMeta;
        }
        return Slot::kNone;
      case Role::kPageMeta:
        if (key == "continue") return page_->continue_token.clear(), Slot::kContinue;
        if (key == "resourceVersion") return page_->resource_version.clear(), Slot::kResourceVersion;
        if (key == "remainingItemCount") return page_->remaining_item_count.reset(), Slot::kRemaining;
        return Slot::kNone;
      case Role::kItem:
        if (key == "apiVersion") item_.has_api_version = true;
        if (key == "kind") item_.has_kind = true;
        if (key == "spec") item_.has_spec = true;
        if (key == "metadata") {
          item_.name.clear();
          item_.namespace_name.clear();
          item_.labels.clear();
          item_.controller_owner = false;
          return Slot::kItemMeta;
        }
        if (key == "type") return item_.type.clear(), Slot::kType;
        return Slot::kNone;
      case Role::kItemMeta:
        if (key == "name") return item_.name.clear(), Slot::kName;
        if (key == "namespace") return item_.namespace_name.clear(), Slot::kNamespace;
        if (key == "labels") return item_.labels.clear(), Slot::kLabels;
        if (key == "ownerReferences") return item_.controller_owner = false, Slot::kOwnerRefs;
        return Slot::kNone;
      case Role::kLabels:
        item_.labels.emplace_back(std::string(key), std::string());
        return Slot::kLabelValue;
      case Role::kOwnerRef:
        if (key == "controller") return ref_controller_ = false, Slot::kController;
        return Slot::kNone;
      case Role::kOther:
      case Role::kItems:
      case Role::kOwnerRefs:
        return Slot::kNone;
    }
    return Slot::kNone;
  }

  // One value at p_ (after whitespace). Containers are opened (pushed) and left for Run's loop.
  Status Value(Slot slot, bool top = false) {
    SkipSpace();
    if (p_ == s_.size()) return Syntax("unexpected end of the document");
    const char c = s_[p_];
    switch (c) {
      case '{': {
        Role role = Role::kOther;
        if (top) role = Role::kPage;
        else if (slot == Slot::kPageMeta) role = Role::kPageMeta;
        else if (slot == Slot::kItem) role = Role::kItem;
        else if (slot == Slot::kItemMeta) role = Role::kItemMeta;
        else if (slot == Slot::kLabels) role = Role::kLabels;
        else if (slot == Slot::kOwnerRef) role = Role::kOwnerRef;
        else if (slot == Slot::kItems) return NotList("items is not an array");
        if (role == Role::kItem) {
          item_ = RawListItem();
          item_.offset = p_;
        }
        if (role == Role::kOwnerRef) ref_controller_ = false;
        return Open(true, role);
      }
      case '[': {
        Role role = Role::kOther;
        if (slot == Slot::kItems) role = Role::kItems;
        else if (slot == Slot::kOwnerRefs) role = Role::kOwnerRefs;
        return Open(false, role);
      }
      case '"': {
        if (slot == Slot::kItems) return NotList("items is not an array");
        ++p_;
        const size_t start = p_;
        bool escaped = false;
        KDR_RETURN_IF_ERROR(String(&escaped));
        std::string* out = nullptr;
        switch (slot) {
          case Slot::kContinue: out = &page_->continue_token; break;
          case Slot::kResourceVersion: out = &page_->resource_version; break;
          case Slot::kType: out = &item_.type; break;
          case Slot::kName: out = &item_.name; break;
          case Slot::kNamespace: out = &item_.namespace_name; break;
          case Slot::kLabelValue: out = &item_.labels.back().second; break;
          default: break;
        }
        if (out != nullptr) {
          const std::string_view raw = s_.substr(start, p_ - 1 - start);
          *out = escaped ? Decode(raw) : std::string(raw);
        }
        return Status::Ok();
      }
      case 't':
        if (slot == Slot::kController) ref_controller_ = true;
        return Literal("true", slot);
      case 'f':
        return Literal("false", slot);
      case 'n':
        return Literal("null", slot);
      default:
        if (c == '-' || (c >= '0' && c <= '9')) {
          if (slot == Slot::kItems) return NotList("items is not an array");
          return Number(slot);
        }
        return Syntax("unexpected " + Describe(p_));
    }
  }

  Status Literal(std::string_view word, Slot slot) {
    if (s_.substr(p_, word.size()) != word) return Syntax("unexpected " + Describe(p_));
    p_ += word.size();
    if (slot == Slot::kItems && word != "null") return NotList("items is not an array");
    return Status::Ok();
  }

  Status Open(bool object, Role role) {
    // As ParseJson: the container that would make max_depth + 1 levels is refused.
    if (static_cast<int>(stack_.size()) >= max_depth_) {
      return Status::InvalidArgument(std::string(what_) + " nests deeper than " +
                                     std::to_string(max_depth_) + " levels; kube-apiserver refuses "
                                     "objects nested deeper than " + std::to_string(kMaxJsonDepth));
    }
    ++p_;
    stack_.push_back(Frame{object, role});
    return Status::Ok();
  }

  Status Close() {
    const Role role = stack_.back().role;
    ++p_;
    stack_.pop_back();
    if (role == Role::kItem) {
      item_.size = p_ - item_.offset;
      page_->items.push_back(std::move(item_));
      item_ = RawListItem();
    } else if (role == Role::kOwnerRef && ref_controller_) {
      item_.controller_owner = true;
    }
    return Status::Ok();
  }

  // The rest of a string after its opening quote; p_ ends past the closing one. Checks what
  // nlohmann's lexer checks: no control character, known escapes, \u escapes pairing surrogates,
  // well-formed UTF-8 (RFC 3629).
  Status String(bool* escaped) {
    const auto* u = reinterpret_cast<const unsigned char*>(s_.data());
    const size_t n = s_.size();
    for (;;) {
      while (p_ < n && !kSpecial[u[p_]]) ++p_;
      if (p_ == n) return Syntax("a string is not closed");
      const unsigned char c = u[p_];
      if (c == '"') {
        ++p_;
        return Status::Ok();
      }
      if (c == '\\') {
        *escaped = true;
        if (p_ + 1 >= n) return Syntax("a string is not closed");
        const char e = s_[p_ + 1];
        if (e == 'u') {
          KDR_ASSIGN_OR_RETURN(uint32_t unit, Hex4(p_ + 2));
          p_ += 6;
          if (unit >= 0xDC00 && unit <= 0xDFFF) {
            return Syntax("a \\u escape is a low surrogate without a high one");
          }
          if (unit >= 0xD800 && unit <= 0xDBFF) {
            if (s_.substr(p_, 2) != "\\u") return Syntax("a high surrogate \\u escape is not followed by a low one");
            KDR_ASSIGN_OR_RETURN(uint32_t low, Hex4(p_ + 2));
            if (low < 0xDC00 || low > 0xDFFF) {
              return Syntax("a high surrogate \\u escape is not followed by a low one");
            }
            p_ += 6;
          }
          continue;
        }
        if (std::string_view("\"\\/bfnrt").find(e) == std::string_view::npos) {
          return Syntax("an unknown escape in a string");
        }
        p_ += 2;
        continue;
      }
      if (c < 0x20) return Syntax("a control character in a string (escape it)");
      // Non-ASCII: one UTF-8 sequence, the ranges of base/json.cc's IsValidUtf8.
      size_t len = 0;
      unsigned char lo = 0x80, hi = 0xBF;
      if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
      } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0) lo = 0xA0;
        if (c == 0xED) hi = 0x9F;
      } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F;
      }
      bool ok = len != 0 && p_ + len <= n && u[p_ + 1] >= lo && u[p_ + 1] <= hi;
      for (size_t k = 2; ok && k < len; ++k) ok = u[p_ + k] >= 0x80 && u[p_ + k] <= 0xBF;
      if (!ok) return Syntax("ill-formed UTF-8 in a string");
      p_ += len;
    }
  }

  Result<uint32_t> Hex4(size_t at) const {
    if (at + 4 > s_.size()) return Syntax("a \\u escape needs four hex digits");
    uint32_t v = 0;
    for (size_t i = 0; i < 4; ++i) {
      const int d = HexDigit(s_[at + i]);
      if (d < 0) return Syntax("a \\u escape needs four hex digits");
      v = v * 16 + static_cast<uint32_t>(d);
    }
    return v;
  }

  // The text of a string that String() accepted, escapes resolved.
  static std::string Decode(std::string_view raw) {
    std::string out;
    out.reserve(raw.size());
    for (size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] != '\\') {
        out.push_back(raw[i]);
        continue;
      }
      const char e = raw[++i];
      switch (e) {
        case 'b': out.push_back('\b'); break;
        case 'f': out.push_back('\f'); break;
        case 'n': out.push_back('\n'); break;
        case 'r': out.push_back('\r'); break;
        case 't': out.push_back('\t'); break;
        case 'u': {
          auto hex = [&](size_t at) {
            uint32_t v = 0;
            for (size_t k = 0; k < 4; ++k) v = v * 16 + static_cast<uint32_t>(HexDigit(raw[at + k]));
            return v;
          };
          uint32_t cp = hex(i + 1);
          i += 4;
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            cp = 0x10000 + ((cp - 0xD800) << 10) + (hex(i + 3) - 0xDC00);
            i += 6;
          }
          AppendUtf8(&out, cp);
          break;
        }
        default: out.push_back(e); break;  // '"', '\\', '/'
      }
    }
    return out;
  }

  // -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?, and (as nlohmann) not overflowing a double.
  Status Number(Slot slot) {
    const size_t start = p_;
    const size_t n = s_.size();
    auto digits = [&] {
      const size_t from = p_;
      while (p_ < n && s_[p_] >= '0' && s_[p_] <= '9') ++p_;
      return p_ - from;
    };
    if (s_[p_] == '-') ++p_;
    if (p_ == n || s_[p_] < '0' || s_[p_] > '9') return Syntax("a number needs a digit after '-'");
    const size_t int_start = p_;
    if (s_[p_] == '0') {
      ++p_;
    } else {
      digits();
    }
    const size_t int_digits = p_ - int_start;
    bool integer = true;
    size_t frac_start = p_, frac_digits = 0;
    if (p_ < n && s_[p_] == '.') {
      integer = false;
      ++p_;
      frac_start = p_;
      frac_digits = digits();
      if (frac_digits == 0) return Syntax("a number needs a digit after '.'");
    }
    int64_t exponent = 0;
    if (p_ < n && (s_[p_] == 'e' || s_[p_] == 'E')) {
      integer = false;
      ++p_;
      bool negative = false;
      if (p_ < n && (s_[p_] == '+' || s_[p_] == '-')) negative = s_[p_++] == '-';
      const size_t exp_start = p_;
      if (digits() == 0) return Syntax("a number needs a digit in its exponent");
      for (size_t i = exp_start; i < p_ && exponent < 1'000'000'000; ++i) exponent = exponent * 10 + (s_[i] - '0');
      if (negative) exponent = -exponent;
    }
    const std::string_view token = s_.substr(start, p_ - start);
    if (integer && slot == Slot::kRemaining) {
      int64_t v = 0;
      if (std::from_chars(token.data(), token.data() + token.size(), v).ec == std::errc()) {
        page_->remaining_item_count = v;
      }
    }
    if (integer && int_digits <= 18) return Status::Ok();
    // Integers past 64 bits become doubles in nlohmann, and a double that overflows is refused
    // ("number overflow"); one that underflows reads as 0 and is accepted.
    double d = 0;
    const auto r = std::from_chars(token.data(), token.data() + token.size(), d);
    if (r.ec == std::errc::result_out_of_range) {
      // Overflow or underflow: decided by where the first significant digit sits.
      int64_t lead = 0;
      bool nonzero = false;
      for (size_t i = 0; i < int_digits && !nonzero; ++i) {
        if (s_[int_start + i] != '0') nonzero = true, lead = static_cast<int64_t>(int_digits - 1 - i);
      }
      for (size_t i = 0; i < frac_digits && !nonzero; ++i) {
        if (s_[frac_start + i] != '0') nonzero = true, lead = -static_cast<int64_t>(i + 1);
      }
      if (nonzero && lead + exponent > 0) return Syntax("number overflow parsing '" + std::string(token.substr(0, 40)) + "'");
    } else if (r.ec != std::errc() || !std::isfinite(d)) {
      return Syntax("number overflow parsing '" + std::string(token.substr(0, 40)) + "'");
    }
    return Status::Ok();
  }

  void SkipSpace() {
    while (p_ < s_.size()) {
      const char c = s_[p_];
      if (c != ' ' && c != '\n' && c != '\r' && c != '\t') return;
      ++p_;
    }
  }

  std::string Describe(size_t at) const {
    if (at >= s_.size()) return "the end of the document";
    return "'" + PrintableBytes(s_.substr(at, 1)) + "'";
  }

  Status Syntax(const std::string& why) const {
    return Status::InvalidArgument(std::string(what_) + " is not valid JSON at offset " +
                                   std::to_string(p_) + ": " + why);
  }
  Status NotList(const std::string& why) const {
    return Status::InvalidArgument(std::string(what_) + " is not a List: " + why);
  }

  const std::string_view s_;
  const std::string_view what_;
  const int max_depth_;
  RawListPage* const page_;
  size_t p_ = 0;
  std::vector<Frame> stack_;
  RawListItem item_;             // the item being scanned
  bool ref_controller_ = false;  // the owner reference being scanned says controller: true
};

}  // namespace

Result<RawListPage> ScanListPage(std::string body, std::string_view what, int max_depth) {
  // As ParseJson: nlohmann's lexer would take a NUL for the end of the input.
  if (size_t nul = body.find('\0'); nul != std::string::npos) {
    return Status::InvalidArgument(std::string(what) + " is not valid JSON: a NUL byte at offset " +
                                   std::to_string(nul));
  }
  RawListPage page;
  page.body = std::move(body);
  Scanner scanner(page.body, what, max_depth, &page);
  KDR_RETURN_IF_ERROR(scanner.Run());
  return page;
}

}  // namespace kdr::kube
