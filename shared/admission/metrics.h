#pragma once

// Metrics: the webhook's counters, latency histogram and gauges, rendered in the Prometheus text
// exposition format (version 0.0.4).
//
//   kdr_webhook_requests_total{webhook,policy,decision,code}   counter
//   kdr_webhook_request_duration_seconds{webhook}               histogram
//   gauges registered with AddGauge (cache sizes, certificate expiry, readiness), read at scrape
//
// Thread-safe. Observing a request takes one short lock.

#include <array>
#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

namespace kdr::admission {

class Metrics {
 public:
  // Label set (rendered `k="v",...`) -> value.
  using GaugeValues = std::vector<std::pair<std::string, double>>;
  using GaugeFn = std::function<GaugeValues()>;

  Metrics() = default;
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  void ObserveRequest(std::string_view webhook, std::string_view policy,
                      std::string_view decision, int code, std::chrono::nanoseconds latency);
  // Registers a gauge read at every Render. REQUIRES: fn is thread-safe and outlives this.
  void AddGauge(std::string name, std::string help, GaugeFn fn);
  std::string Render() const;

  // Renders one label pair list: {{"kind","pvc"}} -> kind="pvc" (values escaped).
  static std::string Labels(const std::vector<std::pair<std::string, std::string>>& labels);

  // Upper bounds of the histogram buckets, in seconds.
  static constexpr std::array<double, 12> kBuckets = {0.0001, 0.00025, 0.0005, 0.001, 0.0025,
                                                      0.005,  0.01,    0.025,  0.05,  0.1,
                                                      0.25,   1.0};

 private:
  struct Histogram {
    std::array<uint64_t, kBuckets.size()> buckets{};
    uint64_t count = 0;
    double sum = 0;
  };
  struct Gauge {
    std::string name;
    std::string help;
    GaugeFn fn;
  };

  mutable std::mutex mu_;
  std::map<std::tuple<std::string, std::string, std::string, int>, uint64_t> requests_;
  std::map<std::string, Histogram, std::less<>> latency_;
  std::vector<Gauge> gauges_;
};

}  // namespace kdr::admission
