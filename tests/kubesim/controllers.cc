#include "controllers.h"

#include <chrono>
#include <stop_token>
#include <thread>

#include "base/clock.h"
#include "base/log.h"
#include "base/strings.h"
#include "cluster_view.h"
#include "controllers_internal.h"
#include "sim/dir_tree.h"
#include "longhorn.h"

namespace kdr::kubesim {
// Drives one reconciler: a watch of `resources` (starting with the current objects), events
// batched until the queue is momentarily empty, then one Reconcile (also every 50 ms tick, for
// timers; a reconciler with nothing dirty returns at once); a Resync on the interval.
void RunReconciler(std::stop_token stop, ClusterView* view, std::vector<GroupResource> resources,
                   Reconciler* r, std::chrono::milliseconds resync, Logger* logger) {
  std::unique_ptr<EventSource> watcher;
  auto next_resync = std::chrono::steady_clock::now() + resync;
  while (!stop.stop_requested()) {
    if (!watcher || watcher->closed()) {
      auto w = view->Watch(resources);
      if (!w.ok()) {
        if (logger) logger->Warning("controller watch failed", {{"controller", std::string(r->name())},
                                                                {"error", w.status().message()}});
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        continue;
      }
      watcher = std::move(*w);
      r->Resync();
    }
    auto now = std::chrono::steady_clock::now();
    auto wait = std::min<std::chrono::milliseconds>(
        std::chrono::milliseconds(50),
        std::chrono::duration_cast<std::chrono::milliseconds>(
            std::max(next_resync - now, std::chrono::steady_clock::duration::zero())));
    bool any = false;
    while (auto e = watcher->Next(any ? std::chrono::milliseconds(0) : wait)) {
      any = true;
      r->Observe(*e);
    }
    if (std::chrono::steady_clock::now() >= next_resync) {
      r->Resync();
      next_resync = std::chrono::steady_clock::now() + resync;
    }
    // Also on quiet ticks: reconcilers with timers (Longhorn's backup store poll) need them.
    r->Reconcile();
  }
}

struct Controllers::Impl {
  // Longhorn's volumes when no data dir was given; removed last, once nothing runs.
  std::unique_ptr<sim::ScopedTree> scratch_longhorn;
  std::unique_ptr<Clock> own_clock;
  std::unique_ptr<StoreView> view;  // what every reconciler watches; Longhorn's too
  std::vector<std::unique_ptr<Reconciler>> reconcilers;
  std::vector<std::jthread> threads;
};

Status DisableControllers(std::string_view csv, ControllerOptions* options) {
  const std::vector<std::string> known = {"pvc", "workloads", "longhorn", "namespaces", "all"};
  for (const auto& raw : Split(csv, ',')) {
    std::string name(TrimSpace(raw));
    if (name.empty()) continue;
    if (name == "pvc") {
      options->pvc = false;
    } else if (name == "workloads") {
      options->workloads = false;
    } else if (name == "longhorn") {
      options->longhorn = false;
    } else if (name == "namespaces") {
      options->namespaces = false;
    } else if (name == "all") {
      options->pvc = options->workloads = options->longhorn = options->namespaces = false;
    } else {
      return Status::InvalidArgument("--no-controllers: unknown controller " + Quote(name) +
                                     " (known: pvc, workloads, longhorn, namespaces, all)" +
                                     DidYouMean(name, known));
    }
  }
  return Status::Ok();
}

Result<std::unique_ptr<Controllers>> Controllers::Start(Store* store, ControllerOptions options) {
  std::unique_ptr<Controllers> c(new Controllers());
  c->impl_ = std::make_unique<Impl>();
  if (options.clock == nullptr) {
    c->impl_->own_clock = std::make_unique<RealClock>();
    options.clock = c->impl_->own_clock.get();
  }
  if (options.longhorn && options.longhorn_data_dir.empty()) {
    KDR_ASSIGN_OR_RETURN(c->impl_->scratch_longhorn, sim::ScopedTree::Make("kubesim-longhorn"));
    options.longhorn_data_dir = c->impl_->scratch_longhorn->path();
  }
  // The node mounts Longhorn CSI volumes as the directories this Longhorn keeps.
  if (options.longhorn && options.agent.longhorn_data_dir.empty()) {
    options.agent.longhorn_data_dir = options.longhorn_data_dir;
    options.agent.longhorn_namespace = options.longhorn_namespace;
  }
  if (!options.agent.hpe_array) options.agent.hpe_array = options.hpe_array;
  if (options.longhorn) {
    c->impl_->view = std::make_unique<StoreView>(store);
    KDR_RETURN_IF_ERROR(InstallLonghornCrds(c->impl_->view.get()));
    KDR_ASSIGN_OR_RETURN(auto lh, NewLonghornController(c->impl_->view.get(), options));
    c->impl_->reconcilers.push_back(std::move(lh));
  }
  if (options.pvc) c->impl_->reconcilers.push_back(NewPvcController(store, options));
  if (options.workloads) c->impl_->reconcilers.push_back(NewWorkloadController(store, options));
  if (options.namespaces) c->impl_->reconcilers.push_back(NewNamespaceController(store, options));
  if (!c->impl_->view) c->impl_->view = std::make_unique<StoreView>(store);
  for (auto& r : c->impl_->reconcilers) {
    c->impl_->threads.emplace_back(RunReconciler, c->impl_->view.get(), std::vector<GroupResource>{},
                                   r.get(), options.resync_interval, options.logger);
  }
  return c;
}

Controllers::~Controllers() { Stop(); }

void Controllers::Stop() {
  if (!impl_) return;
  for (auto& t : impl_->threads) t.request_stop();
  for (auto& t : impl_->threads) {
    if (t.joinable()) t.join();
  }
  impl_->threads.clear();
}

}  // namespace kdr::kubesim
