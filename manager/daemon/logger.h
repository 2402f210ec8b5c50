// Where the manager's log lines go: stderr, a file, or syslog, as the
// configuration's log_destination says, with lines below the configured
// level dropped. One line per call, written whole (lines from several
// threads never mix). A file is appended to and reopened by Reopen() (on
// SIGUSR1, after log rotation moved it); syslog lines go to the configured
// facility with the level as priority.
//
// Failures: Create fails when the file cannot be opened (the path and the
// reason); a failed Reopen keeps the old file and says why; a failed write
// is dropped (logging never stops the manager).
//
//   absl::StatusOr<std::unique_ptr<Logger>> log = Logger::Create(config);
//   (*log)->Log(config::INFO, "listening");

#ifndef MANAGER_DAEMON_LOGGER_H_
#define MANAGER_DAEMON_LOGGER_H_

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "manager/config/config.pb.h"

namespace milter::manager {

class Logger {
 public:
  // From log_destination, syslog_facility and log_level of `config`.
  static absl::StatusOr<std::unique_ptr<Logger>> Create(
      const config::ManagerConfig& config);
  ~Logger();
  Logger(const Logger&) = delete;
  Logger& operator=(const Logger&) = delete;

  // Thread-safe.
  void Log(config::LogLevel level, std::string_view line);
  // Lines less important than `level` are dropped from now on.
  void SetLevel(config::LogLevel level) { level_.store(level); }
  // Reopens the log file (nothing to do for stderr and syslog).
  absl::Status Reopen();
  // A description for the start-up line: "stderr", "syslog (mail)", path.
  std::string destination() const;

 private:
  enum class Kind { kStderr, kFile, kSyslog };
  Logger(Kind kind, std::string target);
  absl::Status OpenFile();

  const Kind kind_;
  const std::string target_;  // path, or facility name for syslog
  std::atomic<int> level_;
  std::mutex mu_;
  int fd_ = -1;  // guarded by mu_ (kFile)
};

// "error", "warning", "info", "debug".
const char* LevelName(config::LogLevel level);

}  // namespace milter::manager

#endif  // MANAGER_DAEMON_LOGGER_H_
