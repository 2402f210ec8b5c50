// The filter side of one milter session, without I/O: takes decoded MTA
// commands, calls the filter, and appends the encoded responses. Both the
// socket session and milter::testing drive it, so tests of one are tests of
// the other.
//
// Implements libmilter's rules: negotiation with emulation of what the MTA
// lacks (don't-send, no-reply, SKIP, HDR_LEADSPC), macro stages cleared as a
// new command arrives, reply codes paired with reject/tempfail, end-of-body
// data passed to the body callback, abort before close when a message is in
// flight, and `K` starting a new session with a fresh filter object.
// The filter object is made when the MTA negotiates: a connection that
// closes before (a probe) never sees one, so no OnClose either.
//
// Progress the filter reports during a stage is written before that stage's
// answer, never after it; an exception escaping a callback is reported and
// answered tempfail.

#ifndef MILTER_CLIENT_ENGINE_H_
#define MILTER_CLIENT_ENGINE_H_

#include <atomic>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "asio/any_io_executor.hpp"
#include "asio/awaitable.hpp"
#include "milter/client/context.h"
#include "milter/client/filter.h"
#include "milter/client/filter_factory.h"
#include "milter/codec/message.h"

namespace milter::client {

// Receives one line of text per problem the library finds but cannot report
// to the MTA or the filter (a verdict a no-reply stage cannot carry, a
// protocol error that closes the connection). See RunnerOptions::diagnostics.
using DiagnosticSink = std::function<void(std::string_view)>;

class Engine {
 public:
  // What the connection does after a command.
  enum class After { kContinue, kClose, kNewSession };

  // `factory` must outlive the engine. `pool`: where synchronous callbacks
  // run; null runs them inline. `diagnostics` (may be null: dropped) must
  // outlive the engine.
  Engine(const FilterFactory* factory, const asio::any_io_executor* pool,
         const DiagnosticSink* diagnostics = nullptr);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Progress the filter reports while a stage is in flight is counted and
  // written into that stage's output ahead of its answer (see Handle);
  // `notify` (may be empty) is called on the reporting thread after each
  // report, so the owner can send it early with TakeProgress.
  void SetProgressSink(std::function<void()> notify);
  // Appends the progress packets reported so far in the stage in flight.
  // Call on the engine's thread.
  void TakeProgress(std::string* out);

  // Handles one command; appends the packets to send to `*out`. An error
  // means the session must be closed (the filter is already told).
  asio::awaitable<absl::StatusOr<After>> Handle(const codec::Command& command,
                                                std::string* out);

  // The connection is going away: abort the message in flight, close the
  // filter. Idempotent.
  asio::awaitable<void> Finish();

  // Largest payload the MTA may now send.
  size_t max_payload() const;
  bool negotiated() const { return negotiated_; }
  const Context& context() const { return *context_; }

 private:
  asio::awaitable<absl::StatusOr<After>> Negotiate(
      const codec::OptionNegotiation& offer, std::string* out);
  asio::awaitable<Status> Dispatch(const codec::Command& command);
  asio::awaitable<Status> CallBody(std::string_view chunk);
  asio::awaitable<void> CallAbort();
  // Dispatch, with an exception escaping the filter reported and answered
  // tempfail.
  asio::awaitable<Status> CallStage(const codec::Command& command);
  void ReportException(std::exception_ptr error, std::string_view outcome);
  void ReportMismatchedReply(uint32_t no_reply_flag, Status status) const;
  void OnProgress();
  void Respond(uint32_t no_reply_flag, Status status, std::string* out);
  void EmitModifications(std::string* out);
  void NewFilter();
  void MakeFilter();
  bool has_filter() const { return sync_ || coroutine_; }
  void Report(std::string_view what) const;

  const FilterFactory* factory_;
  const asio::any_io_executor* pool_;
  const DiagnosticSink* diagnostics_;
  std::unique_ptr<Filter> sync_;
  std::unique_ptr<CoroutineFilter> coroutine_;
  std::unique_ptr<Context> context_;
  std::unique_ptr<std::string> header_value_;  // HDR_LEADSPC emulation
  std::function<void()> progress_notify_;
  // Progress reports of the stage in flight, plus kStageOpen while one is.
  std::atomic<uint32_t> progress_{0};
  bool negotiated_ = false;
  bool in_message_ = false;
  bool skipping_body_ = false;
  bool closed_ = false;
};

}  // namespace milter::client

#endif  // MILTER_CLIENT_ENGINE_H_
