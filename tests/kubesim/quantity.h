#pragma once

// Kubernetes resource quantities ("2Gi", "500M", "1.5e3", "100m"), parsed exactly enough to
// compare them as kube-apiserver's resource.Quantity.Cmp does: PVC resizes (grow, shrink) and
// LimitRange bounds depend on the comparison, not on how the value was written ("1Gi" equals
// "1024Mi" and "1073741824").

#include <compare>
#include <optional>
#include <string>
#include <string_view>

namespace kdr::kubesim {

class Quantity {
 public:
  // The value of `text` (sign, digits with an optional fraction, then an optional suffix: the
  // binary Ki Mi Gi Ti Pi Ei, the decimal n u m k M G T P E, or an exponent e3/E-2), rounded up
  // to a billionth as Kubernetes rounds. nullopt when `text` is not a quantity or its value does
  // not fit (beyond about 10^20).
  static std::optional<Quantity> Parse(std::string_view text);

  // The sum, as quota usage adds claims' requests.
  Quantity operator+(const Quantity& other) const { return Quantity(nanos_ + other.nanos_); }
  // The difference, as quota admission charges an update (the new usage less the old).
  Quantity operator-(const Quantity& other) const { return Quantity(nanos_ - other.nanos_); }
  // The value as a quota status shows a sum: the largest binary suffix (Ki..Ei) that divides it
  // ("3Gi", "1536Mi"), else whole units ("1500"), else millis ("1500m"); "0" for nothing.
  std::string ToString() const;

  std::strong_ordering operator<=>(const Quantity& other) const = default;
  bool operator==(const Quantity& other) const = default;

 private:
  explicit Quantity(__int128 nanos) : nanos_(nanos) {}
  __int128 nanos_ = 0;  // the value in billionths
};

}  // namespace kdr::kubesim
