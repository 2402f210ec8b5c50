// The manager's structured log lines for one MTA session (logfmt: `key=value`
// pairs after a word saying what the line is), documented in
// docs/milter-manager.md ("Log lines"); their keys are stable:
//
//   result child=NAME stage=STAGE status=STATUS elapsed_ms=MS queue_id=QID
//   message queue_id=QID client=HOST[ADDRESS] from=SENDER rcpts=N
//           verdict=STATUS elapsed_ms=MS children=NAME:STATUS,...
//           stopped=NAME:CONDITION,...
//   session client=HOST[ADDRESS] messages=N elapsed_ms=MS
//           stopped=NAME:CONDITION,...
//
// "result" lines (one child's answer at one stage) are at level info for
// end of message and for answers other than continue, debug otherwise;
// "message" and "session" lines at info. `stopped` lists the children an
// applicable condition stopped: for the session (in both lines) and for
// the message (in its line).
// Values with spaces or quotes are quoted. Not thread-safe: one per session.
//
// With a metrics registry, the same events are counted there too (see
// manager/metrics): the session from construction to destruction, each
// child's results, failures and condition stops, each message's verdict.

#ifndef MANAGER_CORE_SESSION_LOG_H_
#define MANAGER_CORE_SESSION_LOG_H_

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "manager/config/config.pb.h"
#include "manager/metrics/metrics.h"

namespace milter::manager {

class SessionLog {
 public:
  using Sink = std::function<void(config::LogLevel, std::string_view)>;
  // Lines above `level` (less important) are not even formatted.
  // `metrics` may be null.
  SessionLog(Sink sink, config::LogLevel level,
             std::shared_ptr<metrics::Metrics> metrics = nullptr)
      : sink_(std::move(sink)), level_(level), metrics_(std::move(metrics)) {}

  void SetClient(std::string_view host, std::string_view address);
  void SetQueueId(std::string_view queue_id) { queue_id_ = queue_id; }
  void StartMessage(std::string_view from);
  void AddRecipient() { ++rcpts_; }
  // A child's answer (`status` "continue", "reject", ..., or "failed",
  // then `error` says why).
  void ChildResult(const std::string& name, std::string_view stage,
                   std::string_view status, absl::Duration elapsed,
                   const absl::Status& error = absl::OkStatus());
  // The child could not be connected to or negotiated with (counted only;
  // the session logs it).
  void ChildUnavailable(const std::string& name, const absl::Status& error) {
    metrics_.ChildUnavailable(name, error);
  }
  void Stopped(const std::string& name, const std::string& condition,
               bool for_session);
  // The message ended with the manager's `verdict` (or "aborted").
  void MessageDone(std::string_view verdict);
  bool in_message() const { return in_message_; }
  void SessionDone();

 private:
  void Emit(config::LogLevel level, const std::string& line);
  std::string Client() const;
  std::string Stopped(bool with_message) const;

  Sink sink_;
  config::LogLevel level_;
  metrics::SessionRecorder metrics_;
  absl::Time session_start_ = absl::Now();
  absl::Time message_start_;
  std::string host_, address_, queue_id_, from_;
  int rcpts_ = 0, messages_ = 0;
  bool in_message_ = false;
  std::vector<std::string> children_, stopped_;  // "name:status"
  std::vector<std::string> session_stopped_;
};

// `value` as a logfmt value: as is, or in double quotes with \ and "
// escaped when it holds a space, a quote, '=' or is empty.
std::string LogValue(std::string_view value);

}  // namespace milter::manager

#endif  // MANAGER_CORE_SESSION_LOG_H_
