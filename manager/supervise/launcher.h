// The privileged launcher: a small process forked from the manager at
// start-up, before the manager drops privileges, that starts child milters
// (as another user if it is root), reports their exits and stops them. It
// does nothing else: the manager keeps no privilege for launching.
//
//   // In main(), before any thread starts and before dropping privileges,
//   // only when some child has a command:
//   absl::StatusOr<std::unique_ptr<Launcher>> launcher = Launcher::Start();
//   ... setgid()/setuid() ...
//
// A started child: runs in its own session (setsid), with the configured
// group, the user's supplementary groups and user (setgid, initgroups,
// setuid), working directory (default "/"), the manager's environment plus
// the configured entries, stdin from /dev/null, stdout and stderr the
// manager's stderr, and SIGTERM as parent-death signal. Children that
// outlive the launcher are thus told to stop.
//
// Manager and launcher talk over a SOCK_SEQPACKET socketpair in small
// messages (launcher_wire.h, at most kMaxWireMessage bytes). When the
// manager goes (the socket reaches end of file: it exited or destroyed the
// Launcher), the launcher stops every child it started (SIGTERM to its
// process group, SIGKILL after 5 seconds) and exits.
//
// Thread-safe: requests may be sent from any thread; events are read by
// one reader (the Supervisor) at a time.

#ifndef MANAGER_SUPERVISE_LAUNCHER_H_
#define MANAGER_SUPERVISE_LAUNCHER_H_

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace milter::manager {

// What to run: see config.proto's ChildConfig (command ... environment).
struct LaunchSpec {
  std::string command;                   // absolute path of the program
  std::vector<std::string> arguments;    // after the program name
  std::string user;                      // name or number; empty: unchanged
  std::string group;                     // name or number; empty: the user's
  std::string working_directory;         // empty: "/"
  std::vector<std::string> environment;  // "NAME=VALUE"
};

// What the launcher reports.
struct LaunchEvent {
  enum class Kind {
    kStarted,  // request `id` runs as `pid`
    kFailed,   // request `id` could not start: `detail` says why
    kExited,   // `pid` ended: `detail` says how ("exit status 1",
               // "killed by signal 9")
  };
  Kind kind = Kind::kFailed;
  uint64_t id = 0;
  int64_t pid = 0;
  std::string detail;
};

class Launcher {
 public:
  // Forks the launcher process. Call while the process has one thread (a
  // fork copies only the caller) and before dropping privileges.
  static absl::StatusOr<std::unique_ptr<Launcher>> Start();
  // Closes the socket: the launcher stops its children and exits; waits
  // for it (up to the 5 second grace and a little more).
  ~Launcher();
  Launcher(const Launcher&) = delete;
  Launcher& operator=(const Launcher&) = delete;

  // Asks for `spec` to be started; the answer is a kStarted or kFailed
  // event with `id`. A spec too large for one message is refused here.
  absl::Status Launch(uint64_t id, const LaunchSpec& spec);
  // Asks for `pid` (a child it started) to be stopped: SIGTERM to its
  // process group, SIGKILL after `grace`. Its kExited event follows.
  absl::Status Stop(int64_t pid, absl::Duration grace);

  // The socket to wait on for events (readable when one is pending).
  int event_fd() const { return fd_; }
  // The next event if one is pending (never blocks); an error when the
  // launcher is gone or sent garbage.
  absl::StatusOr<std::optional<LaunchEvent>> Poll();
  // Waits up to `timeout` for the next event (for tests and shutdown).
  absl::StatusOr<std::optional<LaunchEvent>> Next(absl::Duration timeout);

  pid_t pid() const { return pid_; }

 private:
  Launcher(int fd, pid_t pid) : fd_(fd), pid_(pid) {}
  absl::Status Send(const std::string& message);

  const int fd_;
  const pid_t pid_;
  absl::Mutex send_mu_;
};

}  // namespace milter::manager

#endif  // MANAGER_SUPERVISE_LAUNCHER_H_
