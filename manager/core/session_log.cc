// Structured log lines of one MTA session.

#include "manager/core/session_log.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace milter::manager {

std::string LogValue(std::string_view value) {
  bool plain = !value.empty();
  for (char c : value) {
    if (c == ' ' || c == '"' || c == '=' || c == '\\' ||
        static_cast<unsigned char>(c) < 0x20) {
      plain = false;
    }
  }
  if (plain) return std::string(value);
  std::string out = "\"";
  for (char c : value) {
    if (c == '"' || c == '\\') out += '\\';
    out += static_cast<unsigned char>(c) < 0x20 ? '?' : c;
  }
  return out + "\"";
}

namespace {

std::string Millis(absl::Duration d) {
  return absl::StrFormat("%.1f", absl::ToDoubleMilliseconds(d));
}

}  // namespace

std::string SessionLog::Stopped(bool with_message) const {
  std::vector<std::string> all = session_stopped_;
  if (with_message) all.insert(all.end(), stopped_.begin(), stopped_.end());
  return LogValue(absl::StrJoin(all, ","));
}

void SessionLog::SetClient(std::string_view host, std::string_view address) {
  host_ = std::string(host);
  address_ = std::string(address);
}

std::string SessionLog::Client() const {
  return LogValue(absl::StrCat(host_, "[", address_, "]"));
}

void SessionLog::Emit(config::LogLevel level, const std::string& line) {
  if (sink_ && level <= level_) sink_(level, line);
}

void SessionLog::StartMessage(std::string_view from) {
  if (in_message_) MessageDone("aborted");
  in_message_ = true;
  message_start_ = absl::Now();
  from_ = std::string(from);
  rcpts_ = 0;
  queue_id_.clear();
  children_.clear();
  stopped_.clear();
}

void SessionLog::ChildResult(const std::string& name, std::string_view stage,
                             std::string_view status, absl::Duration elapsed,
                             const absl::Status& error) {
  metrics_.ChildResult(name, stage, status, elapsed, error);
  bool notable = stage == "end-of-message" || status != "continue";
  if (notable && in_message_ && stage != "envelope-recipient") {
    children_.push_back(absl::StrCat(name, ":", std::string(status)));
  }
  config::LogLevel level = notable ? config::INFO : config::DEBUG;
  if (level > level_) return;
  Emit(level,
       absl::StrCat(
           "result child=", LogValue(name), " stage=", std::string(stage),
           " status=", std::string(status), " elapsed_ms=", Millis(elapsed),
           " queue_id=", LogValue(queue_id_.empty() ? "-" : queue_id_)));
}

void SessionLog::Stopped(const std::string& name, const std::string& condition,
                         bool for_session) {
  metrics_.Stopped(name, condition);
  (for_session ? session_stopped_ : stopped_)
      .push_back(absl::StrCat(name, ":", condition));
}

void SessionLog::MessageDone(std::string_view verdict) {
  if (!in_message_) return;
  in_message_ = false;
  ++messages_;
  metrics_.MessageDone(verdict);
  Emit(config::INFO,
       absl::StrCat(
           "message queue_id=", LogValue(queue_id_.empty() ? "-" : queue_id_),
           " client=", Client(), " from=", LogValue(from_), " rcpts=", rcpts_,
           " verdict=", std::string(verdict),
           " elapsed_ms=", Millis(absl::Now() - message_start_),
           " children=", LogValue(absl::StrJoin(children_, ",")),
           " stopped=", Stopped(true)));
}

void SessionLog::SessionDone() {
  if (in_message_) MessageDone("aborted");
  Emit(config::INFO,
       absl::StrCat("session client=", Client(), " messages=", messages_,
                    " elapsed_ms=", Millis(absl::Now() - session_start_),
                    " stopped=", Stopped(false)));
}

}  // namespace milter::manager
