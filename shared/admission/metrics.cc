#include "admission/metrics.h"

#include <cstdio>

namespace kdr::admission {
namespace {

std::string Escape(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') {
      out.push_back('\\');
      out.push_back(c);
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string Number(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

}  // namespace

std::string Metrics::Labels(const std::vector<std::pair<std::string, std::string>>& labels) {
  std::string out;
  for (const auto& [k, v] : labels) {
    if (!out.empty()) out.push_back(',');
    out += k + "=\"" + Escape(v) + "\"";
  }
  return out;
}

void Metrics::ObserveRequest(std::string_view webhook, std::string_view policy,
                             std::string_view decision, int code,
                             std::chrono::nanoseconds latency) {
  const double seconds = std::chrono::duration<double>(latency).count();
  std::lock_guard lock(mu_);
  ++requests_[{std::string(webhook), std::string(policy.empty() ? "none" : policy),
               std::string(decision), code}];
  auto it = latency_.find(webhook);
  if (it == latency_.end()) it = latency_.emplace(std::string(webhook), Histogram{}).first;
  Histogram& h = it->second;
  for (size_t i = 0; i < kBuckets.size(); ++i) {
    if (seconds <= kBuckets[i]) {
      ++h.buckets[i];
      break;
    }
  }
  ++h.count;
  h.sum += seconds;
}

void Metrics::AddGauge(std::string name, std::string help, GaugeFn fn) {
  std::lock_guard lock(mu_);
  gauges_.push_back({std::move(name), std::move(help), std::move(fn)});
}

std::string Metrics::Render() const {
  std::string out;
  std::vector<Gauge> gauges;
  {
    std::lock_guard lock(mu_);
    out += "# HELP kdr_webhook_requests_total Admission requests answered, by webhook, policy, "
           "decision and code.\n# TYPE kdr_webhook_requests_total counter\n";
    for (const auto& [key, n] : requests_) {
      const auto& [webhook, policy, decision, code] = key;
      out += "kdr_webhook_requests_total{" +
             Labels({{"webhook", webhook}, {"policy", policy}, {"decision", decision},
                     {"code", std::to_string(code)}}) +
             "} " + std::to_string(n) + "\n";
    }
    out += "# HELP kdr_webhook_request_duration_seconds Time from request body read to answer "
           "encoded.\n# TYPE kdr_webhook_request_duration_seconds histogram\n";
    for (const auto& [webhook, h] : latency_) {
      uint64_t cumulative = 0;
      const std::string wl = "webhook=\"" + Escape(webhook) + "\"";
      for (size_t i = 0; i < kBuckets.size(); ++i) {
        cumulative += h.buckets[i];
        out += "kdr_webhook_request_duration_seconds_bucket{" + wl + ",le=\"" +
               Number(kBuckets[i]) + "\"} " + std::to_string(cumulative) + "\n";
      }
      out += "kdr_webhook_request_duration_seconds_bucket{" + wl + ",le=\"+Inf\"} " +
             std::to_string(h.count) + "\n";
      out += "kdr_webhook_request_duration_seconds_sum{" + wl + "} " + Number(h.sum) + "\n";
      out += "kdr_webhook_request_duration_seconds_count{" + wl + "} " +
             std::to_string(h.count) + "\n";
    }
    gauges = gauges_;
  }
  // Gauges are read without our lock: they take their own (cache, certificate).
  for (const Gauge& g : gauges) {
    out += "# HELP " + g.name + " " + g.help + "\n# TYPE " + g.name + " gauge\n";
    for (const auto& [labels, value] : g.fn()) {
      out += g.name + (labels.empty() ? "" : "{" + labels + "}") + " " + Number(value) + "\n";
    }
  }
  return out;
}

}  // namespace kdr::admission
