// Idle connections to child milters, kept between MTA sessions: when an MTA
// session ends, a child's connection that is in good order is told
// SMFIC_QUIT_NC (end the session, keep the connection) and kept here; the
// next MTA session to the same child on the same event loop negotiates on
// it again instead of connecting (saving the connect, the accept and, for
// libmilter children, a thread per connection).
//
// Contract:
//   * Keyed by the child's name, its connection spec and the session
//     options, and by the event loop (a connection is only reused on the
//     io_context it was made on), so a reload that changes a child never
//     reuses an old connection.
//   * At most `per_key` idle connections per key; a connection idle longer
//     than `max_idle` is closed instead of reused (when it is next looked
//     at). A reused connection the child has closed meanwhile fails to
//     negotiate; the caller then connects afresh.
//   * Thread-safe (one mutex, held only to move pointers). Clear() closes
//     every idle connection; the owner calls it before the event loops are
//     destroyed.

#ifndef MANAGER_CORE_CHILD_POOL_H_
#define MANAGER_CORE_CHILD_POOL_H_

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "milter/server/session.h"

namespace milter::manager {

class ChildPool {
 public:
  explicit ChildPool(size_t per_key = 16,
                     absl::Duration max_idle = absl::Seconds(60))
      : per_key_(per_key), max_idle_(max_idle) {}
  ChildPool(const ChildPool&) = delete;
  ChildPool& operator=(const ChildPool&) = delete;

  // The key of a child's connections on the event loop of `executor`.
  static std::string Key(const std::string& name, const std::string& spec,
                         const server::SessionOptions& options,
                         const asio::any_io_executor& executor);

  // An idle connection for `key`, or null.
  std::unique_ptr<server::Session> Take(const std::string& key);
  // Keeps `session` (after QuitNewConnection) for `key`; closes it when
  // the key has enough.
  void Put(const std::string& key, std::unique_ptr<server::Session> session);
  // Closes every idle connection.
  void Clear();
  size_t idle() const;

 private:
  struct Idle {
    std::unique_ptr<server::Session> session;
    absl::Time since;
  };
  const size_t per_key_;
  const absl::Duration max_idle_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::vector<Idle>> idle_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace milter::manager

#endif  // MANAGER_CORE_CHILD_POOL_H_
