// What a daemon does to its own process: a pid file that also keeps a
// second manager from starting on the same file, the switch to an
// unprivileged user and group once the listener is open, and the limit on
// open files. Each fails with a Status naming the file or account and the
// reason; none exits the process.
//
//   absl::StatusOr<std::unique_ptr<PidFile>> pid = PidFile::Create(path);
//   absl::Status s = SwitchUser("milter-manager", "");

#ifndef MANAGER_DAEMON_PROCESS_H_
#define MANAGER_DAEMON_PROCESS_H_

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace milter::manager {

// Holds `path` locked (flock) with this process's ID in it while alive, and
// removes it when destroyed (if the process may still write the directory).
class PidFile {
 public:
  // Fails when another live process holds the file ("already running as
  // PID n") or it cannot be written.
  static absl::StatusOr<std::unique_ptr<PidFile>> Create(
      const std::string& path);
  ~PidFile();
  PidFile(const PidFile&) = delete;
  PidFile& operator=(const PidFile&) = delete;

 private:
  PidFile(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  std::string path_;
  int fd_;
};

// The uid and gid to run as: `user` and `group` are names or numbers;
// an empty group means the user's primary group.
struct Account {
  uid_t uid = 0;
  gid_t gid = 0;
  std::string user_name;  // for initgroups; empty for a bare number
};
absl::StatusOr<Account> LookUpAccount(const std::string& user,
                                      const std::string& group);

// Becomes `account` for good (supplementary groups, gid, uid), then checks
// that root cannot be regained. Fails unless running as root, or already
// running as exactly that account.
absl::Status SwitchUser(const Account& account);

// Sets the soft limit on open files to `wanted` (0: the hard limit), at most
// the hard limit; returns the limit now in force.
absl::StatusOr<uint64_t> RaiseOpenFileLimit(uint64_t wanted);

}  // namespace milter::manager

#endif  // MANAGER_DAEMON_PROCESS_H_
