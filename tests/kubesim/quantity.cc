#include "quantity.h"

#include <cctype>

namespace kdr::kubesim {
namespace {

bool Mul(__int128* v, __int128 by) { return !__builtin_mul_overflow(*v, by, v); }

// *v / 10^n, rounded up (toward +infinity), as Quantity rounds sub-nano precision.
void DivPow10Ceil(__int128* v, int n) {
  __int128 d = 1;
  for (int i = 0; i < n && d < (__int128(1) << 100); ++i) d *= 10;
  __int128 q = *v / d;
  if (*v % d != 0 && *v > 0) ++q;
  *v = q;
}

}  // namespace

std::optional<Quantity> Quantity::Parse(std::string_view s) {
  size_t i = 0;
  bool negative = false;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) negative = s[i++] == '-';
  __int128 mantissa = 0;
  int digits = 0, fraction = 0;
  bool dot = false;
  for (; i < s.size(); ++i) {
    char c = s[i];
    if (c == '.' && !dot) {
      dot = true;
      continue;
    }
    if (!std::isdigit(static_cast<unsigned char>(c))) break;
    if (mantissa == 0 && c == '0' && !dot) continue;  // leading zeros carry nothing
    if (++digits > 30) return std::nullopt;
    mantissa = mantissa * 10 + (c - '0');
    if (dot) ++fraction;
  }
  // At least one digit: "", "." and "Gi" are not quantities.
  bool any_digit = false;
  for (char c : s.substr(0, i)) any_digit = any_digit || std::isdigit(static_cast<unsigned char>(c));
  if (!any_digit) return std::nullopt;
  std::string_view suffix = s.substr(i);
  int exp10 = 0, binary = 0;
  if (suffix.empty()) {
  } else if (suffix.size() == 2 && suffix[1] == 'i') {
    const std::string_view kBinary = "KMGTPE";
    size_t at = kBinary.find(suffix[0]);
    if (at == std::string_view::npos) return std::nullopt;
    binary = 10 * static_cast<int>(at + 1);
  } else if (suffix.size() == 1 && std::string_view("numkMGTPE").find(suffix[0]) != std::string_view::npos) {
    switch (suffix[0]) {
      case 'n': exp10 = -9; break;
      case 'u': exp10 = -6; break;
      case 'm': exp10 = -3; break;
      case 'k': exp10 = 3; break;
      case 'M': exp10 = 6; break;
      case 'G': exp10 = 9; break;
      case 'T': exp10 = 12; break;
      case 'P': exp10 = 15; break;
      case 'E': exp10 = 18; break;
    }
  } else if (suffix[0] == 'e' || suffix[0] == 'E') {
    std::string_view e = suffix.substr(1);
    bool neg = false;
    if (!e.empty() && (e[0] == '+' || e[0] == '-')) {
      neg = e[0] == '-';
      e.remove_prefix(1);
    }
    if (e.empty() || e.size() > 3) return std::nullopt;
    for (char c : e) {
      if (!std::isdigit(static_cast<unsigned char>(c))) return std::nullopt;
      exp10 = exp10 * 10 + (c - '0');
    }
    if (neg) exp10 = -exp10;
  } else {
    return std::nullopt;
  }
  __int128 nanos = mantissa;
  if (!Mul(&nanos, __int128(1) << binary)) return std::nullopt;
  int scale = 9 + exp10 - fraction;  // nanos = mantissa * 2^binary * 10^scale
  if (scale >= 0) {
    for (int k = 0; k < scale; ++k) {
      if (!Mul(&nanos, 10)) return std::nullopt;
    }
  } else {
    DivPow10Ceil(&nanos, -scale);
  }
  return Quantity(negative ? -nanos : nanos);
}

std::string Quantity::ToString() const {
  constexpr __int128 kNano = 1000000000;
  auto digits = [](__int128 v) {
    if (v == 0) return std::string("0");
    std::string out;
    const bool neg = v < 0;
    if (neg) v = -v;
    for (; v > 0; v /= 10) out.insert(out.begin(), static_cast<char>('0' + static_cast<int>(v % 10)));
    return neg ? "-" + out : out;
  };
  if (nanos_ == 0) return "0";
  if (nanos_ % kNano != 0) return nanos_ % 1000000 == 0 ? digits(nanos_ / 1000000) + "m" : digits(nanos_) + "n";
  const __int128 units = nanos_ / kNano;
  static constexpr const char* kBinary[] = {"Ei", "Pi", "Ti", "Gi", "Mi", "Ki"};
  for (int i = 0; i < 6; ++i) {
    const __int128 unit = __int128(1) << (10 * (6 - i));
    if (units % unit == 0) return digits(units / unit) + kBinary[i];
  }
  return digits(units);
}

}  // namespace kdr::kubesim
