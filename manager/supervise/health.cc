// ChildHealth and HealthRegistry: the circuit breaker's shared state.

#include "manager/supervise/health.h"

#include <utility>

#include "absl/time/clock.h"

namespace milter::manager {

void ChildHealth::Succeeded(absl::Duration latency) {
  sessions_.fetch_add(1, std::memory_order_relaxed);
  consecutive_failures_.store(0, std::memory_order_relaxed);
  Answered(latency);
}

void ChildHealth::Failed(const absl::Status& error) {
  failures_.fetch_add(1, std::memory_order_relaxed);
  uint32_t count =
      consecutive_failures_.fetch_add(1, std::memory_order_relaxed) + 1;
  uint32_t limit = registry_->circuit_failures();
  bool opened = false;
  {
    absl::MutexLock lock(&mu_);
    last_error_ = std::string(error.message());
    if (limit > 0 && count >= limit && health() == Health::kUp) {
      health_.store(static_cast<int>(Health::kDown));
      since_ = absl::Now();
      opened = true;
    }
  }
  if (opened) registry_->Opened(this);
}

std::string ChildHealth::last_error() const {
  absl::MutexLock lock(&mu_);
  return last_error_;
}

void ChildHealth::Set(Health health, const std::string& error) {
  absl::MutexLock lock(&mu_);
  if (!error.empty()) last_error_ = error;
  if (health == Health::kUp) consecutive_failures_.store(0);
  if (this->health() != health) {
    health_.store(static_cast<int>(health));
    since_ = absl::Now();
  }
}

void ChildHealth::SetProcess(bool launched, int64_t pid, uint64_t restarts) {
  absl::MutexLock lock(&mu_);
  launched_ = launched;
  pid_ = pid;
  restarts_ = restarts;
}

ChildState ChildHealth::Snapshot() const {
  ChildState state;
  state.name = name_;
  state.health = health();
  state.sessions = sessions_.load(std::memory_order_relaxed);
  state.failures = failures_.load(std::memory_order_relaxed);
  uint64_t count = latency_count_.load(std::memory_order_relaxed);
  if (count > 0) {
    state.mean_latency =
        absl::Nanoseconds(latency_sum_ns_.load(std::memory_order_relaxed) /
                          static_cast<int64_t>(count));
  }
  absl::MutexLock lock(&mu_);
  state.since = since_;
  state.last_error = last_error_;
  state.launched = launched_;
  state.pid = pid_;
  state.restarts = restarts_;
  return state;
}

void HealthRegistry::Configure(const config::ManagerConfig& config) {
  circuit_failures_.store(config.circuit_failures());
  absl::MutexLock lock(&mu_);
  absl::flat_hash_map<std::string, std::shared_ptr<ChildHealth>> kept;
  order_.clear();
  disabled_.clear();
  for (const config::ChildConfig& child : config.child()) {
    auto it = children_.find(child.name());
    kept[child.name()] = it != children_.end() ? it->second
                                               : std::make_shared<ChildHealth>(
                                                     child.name(), this);
    order_.push_back(child.name());
    disabled_[child.name()] = child.has_enabled() && !child.enabled();
  }
  children_ = std::move(kept);
}

void HealthRegistry::SetOpenedHook(OpenedHook hook) {
  absl::MutexLock lock(&mu_);
  opened_ = std::move(hook);
}

std::shared_ptr<ChildHealth> HealthRegistry::Get(const std::string& name) {
  absl::MutexLock lock(&mu_);
  std::shared_ptr<ChildHealth>& slot = children_[name];
  if (slot == nullptr) slot = std::make_shared<ChildHealth>(name, this);
  return slot;
}

void HealthRegistry::Opened(ChildHealth* child) {
  OpenedHook hook;
  {
    absl::MutexLock lock(&mu_);
    hook = opened_;
  }
  if (hook) hook(child->shared_from_this());
}

std::vector<ChildState> HealthRegistry::Snapshot() const {
  std::vector<std::shared_ptr<ChildHealth>> children;
  std::vector<bool> disabled;
  {
    absl::MutexLock lock(&mu_);
    for (const std::string& name : order_) {
      auto it = children_.find(name);
      if (it == children_.end()) continue;
      children.push_back(it->second);
      auto d = disabled_.find(name);
      disabled.push_back(d != disabled_.end() && d->second);
    }
  }
  std::vector<ChildState> states;
  for (size_t i = 0; i < children.size(); ++i) {
    states.push_back(children[i]->Snapshot());
    if (disabled[i]) states.back().health = ChildState::Health::kDisabled;
  }
  return states;
}

}  // namespace milter::manager
