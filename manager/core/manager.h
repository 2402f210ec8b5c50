// The milter manager as a service: listens where the configuration says and
// runs one ManagerSession per MTA connection on the event loop(s), until
// stopped (SIGTERM/SIGINT or Stop()).
//
//   absl::StatusOr<std::unique_ptr<Manager>> manager =
//       Manager::Create(*LoadConfigFile(path), log);
//   absl::Status s = (*manager)->Run();

#ifndef MANAGER_CORE_MANAGER_H_
#define MANAGER_CORE_MANAGER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "manager/config/config.pb.h"
#include "manager/core/manager_session.h"
#include "milter/client/runner.h"

namespace milter::manager {

class Manager {
 public:
  // `log` receives the manager's and the library's diagnostics; it may be
  // called from several event loop threads at once. Fails when the
  // conditions or the allow and deny lists cannot be built (a bad regular
  // expression or network, an unreadable list file). The sessions count
  // their events in `metrics` (may be null).
  static absl::StatusOr<std::unique_ptr<Manager>> Create(
      config::ManagerConfig config, LogSink log,
      std::shared_ptr<metrics::Metrics> metrics = nullptr);

  // Opens the listener (Run() does it if not done); bound_specs() then
  // names the port chosen for "inet:0".
  absl::Status Listen();
  std::vector<std::string> bound_specs() const;
  // Serves until stopped.
  absl::Status Run();
  // Graceful stop; thread-safe.
  void Stop();

 private:
  explicit Manager(std::shared_ptr<ManagerShared> shared);

  std::shared_ptr<ManagerShared> shared_;
  std::unique_ptr<client::Runner> runner_;
};

}  // namespace milter::manager

#endif  // MANAGER_CORE_MANAGER_H_
