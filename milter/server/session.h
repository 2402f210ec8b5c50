// An MTA-side ("server") milter session: this process plays the MTA and talks
// to one filter over one connection, as asio C++20 coroutines. Many sessions
// share one event loop; none needs a thread.
//
//   Session session(executor, options);
//   absl::Status s = co_await session.Open(spec);        // connect+negotiate
//   absl::StatusOr<Verdict> v = co_await session.Helo("mx.example.net", {});
//   ...
//   absl::StatusOr<EndOfMessageResult> r = co_await session.EndOfMessage({});
//   co_await session.Quit();
//
// Each stage returns the filter's verdict. A stage the filter negotiated away
// (a "don't send" flag) is not sent and yields continue; a stage it will not
// answer (a "no reply" flag) is sent and yields continue without waiting.
// Macros are sent before their stage's command, limited to the filter's symbol
// list for that stage when it set one.
//
// Timeouts (SessionOptions) bound each whole answer, however the filter
// splits it; a progress packet restarts the answer's timeout.
//
// A stage whose packet would exceed the negotiated payload size is not sent:
// OUT_OF_RANGE, and the session stays usable.
//
// Errors: any protocol violation by the filter (garbage, an oversized length,
// unsolicited data such as a reply to a no-reply stage, a modification before
// end of message or one it did not negotiate, an answer that does not fit the
// stage), a timeout or a lost connection ends the session: the connection is
// closed and that call and every later one return the error status.
//
// Arguments passed by reference must stay valid until the co_await completes.
// Not thread-safe: drive one Session from one executor (strand).

#ifndef MILTER_SERVER_SESSION_H_
#define MILTER_SERVER_SESSION_H_

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "asio/any_io_executor.hpp"
#include "asio/awaitable.hpp"
#include "milter/codec/connection_info.h"
#include "milter/codec/decoder.h"
#include "milter/codec/modification.h"
#include "milter/codec/negotiation.h"
#include "milter/codec/protocol.h"
#include "milter/net/socket_spec.h"
#include "milter/server/connection.h"
#include "milter/server/session_options.h"
#include "milter/server/verdict.h"

namespace milter::server {

// Macros for one stage: name ("i" or "{daemon_name}") and value.
using Macros = std::vector<std::pair<std::string, std::string>>;

// The SMTP client's connection as the connect stage reports it (the type the
// filter side reads back).
using codec::ConnectionInfo;

class Session {
 public:
  Session(asio::any_io_executor executor, SessionOptions options);
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Connects to `spec` and negotiates.
  asio::awaitable<absl::Status> Open(const net::SocketSpec& spec);
  asio::awaitable<absl::Status> Connect(const net::SocketSpec& spec);
  // The same with the addresses looked up once beforehand (see Resolve()).
  asio::awaitable<absl::Status> Open(const ResolvedSpec& resolved);
  asio::awaitable<absl::Status> Connect(const ResolvedSpec& resolved);
  // Sends the option negotiation offer and checks the filter's reply. Also
  // starts a new session on the same connection after QuitNewConnection().
  asio::awaitable<absl::Status> Negotiate();

  // The stages, in protocol order. `args` are ESMTP arguments ("SIZE=10").
  asio::awaitable<absl::StatusOr<Verdict>> ConnectStage(
      const ConnectionInfo& info, const Macros& macros);
  asio::awaitable<absl::StatusOr<Verdict>> Helo(std::string_view name,
                                                const Macros& macros);
  asio::awaitable<absl::StatusOr<Verdict>> Mail(std::string_view address,
                                                codec::EsmtpArgs args,
                                                const Macros& macros);
  asio::awaitable<absl::StatusOr<Verdict>> Rcpt(std::string_view address,
                                                codec::EsmtpArgs args,
                                                const Macros& macros);
  asio::awaitable<absl::StatusOr<Verdict>> Data(const Macros& macros);
  asio::awaitable<absl::StatusOr<Verdict>> Unknown(std::string_view command);
  // `value` as the filter should see it (codec::HeaderValueForFilter()).
  asio::awaitable<absl::StatusOr<Verdict>> Header(std::string_view name,
                                                  std::string_view value);
  asio::awaitable<absl::StatusOr<Verdict>> EndOfHeaders(const Macros& macros);
  // One chunk of at most codec::kBodyChunkSize bytes; see also Body().
  asio::awaitable<absl::StatusOr<Verdict>> BodyChunk(std::string_view chunk);
  // The whole body in chunks; stops early at the first verdict that is not
  // continue (skip included, which it returns).
  asio::awaitable<absl::StatusOr<Verdict>> Body(std::string_view body);
  asio::awaitable<absl::StatusOr<EndOfMessageResult>> EndOfMessage(
      const Macros& macros);

  // Ends the current message; the session continues with Mail().
  asio::awaitable<absl::Status> Abort();
  // Ends the session and closes the connection.
  asio::awaitable<absl::Status> Quit();
  // Ends the session but keeps the connection: call Negotiate() next.
  asio::awaitable<absl::Status> QuitNewConnection();
  // Gives the session up at once, sending nothing more: the connection is
  // closed, a call in progress (on this session's executor) ends with
  // `reason`, and so does every later call. For an MTA whose client has
  // gone while a filter still works.
  void Abandon(absl::Status reason);

  // What negotiation settled (valid once Negotiate() succeeded).
  const codec::NegotiatedOptions& negotiated() const { return negotiated_; }
  bool negotiated_ok() const { return negotiated_ok_; }
  // Whether header values go to the filter with their leading space.
  bool header_leading_space() const {
    return (negotiated_.protocol & codec::protocol::kHeaderLeadingSpace) != 0;
  }
  // The filter's symbol list for a stage, if it set one.
  const std::optional<std::string>& symbol_list(codec::MacroStage stage) const;
  // Called for each progress packet as it arrives, before the answer (a
  // relay passes it on at once so that its own MTA keeps waiting). Runs on
  // the session's executor; must not call into this session.
  void set_on_progress(std::function<void()> on_progress) {
    on_progress_ = std::move(on_progress);
  }

  // The error that ended the session, or OK.
  const absl::Status& error() const { return error_; }
  const SessionOptions& options() const { return options_; }

 private:
  enum class ReplyKind { kStage, kBody, kEndOfMessage };

  // Appends a 'D' packet for `stage` (filtered by its symbol list).
  absl::Status AppendMacros(codec::CommandCode command, codec::MacroStage stage,
                            const Macros& macros);
  // Appends the stage's macros (unless `macros` is null) and `command`; if a
  // packet exceeds the negotiated payload size, appends nothing and returns
  // OUT_OF_RANGE (the session stays usable).
  absl::Status AppendStage(codec::CommandCode code, const Macros* macros,
                           const codec::Command& command);
  // With options_.defer_unanswered_writes, keeps out_ for the next write
  // (true) unless it holds kMaxDeferredBytes already.
  bool Defer();
  // Writes out_ (unless deferred) and, unless `no_reply_flag` is negotiated,
  // reads the answer.
  asio::awaitable<absl::StatusOr<Verdict>> SendAndRead(uint32_t no_reply_flag,
                                                       ReplyKind kind);
  // Checks for unsolicited data and writes as much of out_ as the socket
  // takes now (no coroutine frame: the usual case); FinishFlush() writes the
  // rest, waiting as needed.
  absl::Status StartFlush();
  asio::awaitable<absl::Status> FinishFlush(absl::Duration timeout);
  void Flushed();  // out_ is written
  // Reads responses until a final one; fills `eom` at end of message.
  // `timeout` bounds the whole answer (a progress packet restarts it).
  asio::awaitable<absl::StatusOr<Verdict>> ReadVerdict(ReplyKind kind,
                                                       absl::Duration timeout,
                                                       EndOfMessageResult* eom);
  // Feeds the decoder with what the filter sent, waiting until `deadline`
  // at most (`timeout` names the limit in the error). `partial`: part of
  // the answer was read already, so the filter may be holding the rest back
  // until it is acknowledged (see Connection::AcknowledgeNow).
  asio::awaitable<absl::Status> ReadMore(absl::Time deadline,
                                         absl::Duration timeout, bool partial);
  // Checks a modification against the negotiated actions and adds its cost
  // to `*memory`, failing past options_.max_modification_bytes.
  absl::Status CheckModification(const codec::Response& response,
                                 const codec::Modification& m, size_t* memory);
  static void AddModification(codec::Modification m, EndOfMessageResult* eom,
                              std::optional<size_t>* body_index);
  // The verdict a final (non-progress, non-modification) response gives.
  absl::StatusOr<Decision> FinalStatus(const codec::Response& response,
                                       ReplyKind kind, Verdict* verdict) const;
  // Ends the session with `status` (closes the connection) and returns it.
  absl::Status Fail(absl::Status status);
  absl::Status CheckUsable(bool need_negotiated) const;

  SessionOptions options_;
  Connection connection_;
  codec::ResponseDecoder decoder_;
  codec::NegotiatedOptions negotiated_;
  bool negotiated_ok_ = false;
  bool body_skipped_ = false;
  bool sent_unanswered_ = false;  // a command went unanswered this session
  bool out_unanswered_ = false;   // out_ holds a command without an answer
  // Allocated only for a filter that sets symbol lists (few do): an idle
  // connection holds a pointer, not seven empty lists.
  using SymbolLists =
      std::array<std::optional<std::string>, codec::kNumMacroStages>;
  std::unique_ptr<SymbolLists> symbol_lists_;
  std::string out_;  // packets to write
  std::function<void()> on_progress_;
  static constexpr size_t kMaxDeferredBytes = 64 * 1024;
  absl::Status error_;
};

}  // namespace milter::server

#endif  // MILTER_SERVER_SESSION_H_
