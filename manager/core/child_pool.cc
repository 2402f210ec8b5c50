// ChildPool: idle child connections between MTA sessions.

#include "manager/core/child_pool.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "asio/execution_context.hpp"

namespace milter::manager {

std::string ChildPool::Key(const std::string& name, const std::string& spec,
                           const server::SessionOptions& o,
                           const asio::any_io_executor& executor) {
  const void* loop = &asio::query(executor, asio::execution::context);
  return absl::StrCat(name, "\n", spec, "\n", o.version, " ", o.actions, " ",
                      o.protocol, " ", absl::FormatDuration(o.connect_timeout),
                      " ", absl::FormatDuration(o.write_timeout), " ",
                      absl::FormatDuration(o.read_timeout), " ",
                      absl::FormatDuration(o.end_of_message_timeout), "\n",
                      reinterpret_cast<uintptr_t>(loop));
}

std::unique_ptr<server::Session> ChildPool::Take(const std::string& key) {
  std::vector<std::unique_ptr<server::Session>> stale;  // closed unlocked
  std::unique_ptr<server::Session> found;
  {
    absl::MutexLock lock(&mu_);
    auto it = idle_.find(key);
    if (it == idle_.end()) return nullptr;
    absl::Time now = absl::Now();
    std::vector<Idle>& list = it->second;
    while (!list.empty()) {
      Idle last = std::move(list.back());
      list.pop_back();
      if (now - last.since > max_idle_) {
        stale.push_back(std::move(last.session));
        continue;
      }
      found = std::move(last.session);
      break;
    }
    if (list.empty()) idle_.erase(it);
  }
  return found;
}

void ChildPool::Put(const std::string& key,
                    std::unique_ptr<server::Session> session) {
  absl::MutexLock lock(&mu_);
  std::vector<Idle>& list = idle_[key];
  if (list.size() >= per_key_) return;  // `session` closes on return
  list.push_back({std::move(session), absl::Now()});
}

void ChildPool::Clear() {
  absl::flat_hash_map<std::string, std::vector<Idle>> all;
  {
    absl::MutexLock lock(&mu_);
    all.swap(idle_);
  }
}

size_t ChildPool::idle() const {
  absl::MutexLock lock(&mu_);
  size_t n = 0;
  for (const auto& [key, list] : idle_) n += list.size();
  return n;
}

}  // namespace milter::manager
