// milter::testing: unit-test a filter without sockets or an MTA. A
// FilterTester plays the MTA in-process: feed it stages, inspect what the
// filter answered on the wire (status, reply text, modifications, progress).
// It drives the same session engine the socket runner uses; synchronous
// callbacks run inline, coroutine callbacks on a private event loop.
//
//   milter::testing::FilterTester t(
//       milter::client::MakeFilterFactory<MyFilter>());
//   t.Negotiate();
//   EXPECT_EQ(t.Mail("<a@example.com>").status, Status::kReject);

#ifndef MILTER_CLIENT_TESTING_H_
#define MILTER_CLIENT_TESTING_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "asio/any_io_executor.hpp"
#include "asio/io_context.hpp"
#include "milter/client/engine.h"
#include "milter/client/filter_factory.h"
#include "milter/client/status.h"
#include "milter/codec/message.h"
#include "milter/codec/negotiation.h"

namespace milter::testing {

// What the filter sent back for one command.
struct StageResult {
  // The verdict on the wire; kNoReply when the filter sent none (no-reply
  // stage, macros, abort). A 'y' reply gives kReject (5xx) or kTempfail (4xx).
  client::Status status = client::Status::kNoReply;
  std::string reply;  // the 'y' text, or ""
  std::vector<client::Modification> modifications;
  int replace_body_packets = 0;  // 'b' packets (bodies over 65535 split)
  int progress = 0;              // 'p' packets
  // Set by Negotiate().
  std::optional<codec::OptionNegotiationReply> negotiation;
  std::vector<std::string> symbol_lists;  // owned copies, index = stage
  // A protocol error: the session would be closed.
  absl::Status error;
  bool closed = false;  // the session ended (quit, error)
  // What the library reported through RunnerOptions::diagnostics while
  // handling this command (e.g. a verdict a no-reply stage cannot carry).
  std::vector<std::string> diagnostics;
};

class FilterTester {
 public:
  explicit FilterTester(client::FilterFactory factory);
  ~FilterTester();

  // An offer like Postfix 3.x's: version 6, every action and every protocol
  // flag of version 6.
  static codec::OptionNegotiation FullOffer();

  StageResult Negotiate(codec::OptionNegotiation offer = FullOffer());
  // Sends a 'D' packet for the command of `stage`.
  void Macros(codec::MacroStage stage,
              const std::vector<std::pair<std::string, std::string>>& macros);
  StageResult Connect(std::string_view hostname = "mx.example.net",
                      codec::Family family = codec::Family::kInet,
                      uint16_t port = 12345,
                      std::string_view address = "192.0.2.1");
  StageResult Helo(std::string_view name);
  StageResult Mail(std::string_view address,
                   const std::vector<std::string>& args = {});
  StageResult Rcpt(std::string_view address,
                   const std::vector<std::string>& args = {});
  StageResult Data();
  StageResult Unknown(std::string_view command);
  StageResult Header(std::string_view name, std::string_view value);
  StageResult EndOfHeaders();
  StageResult Body(std::string_view chunk);
  StageResult EndOfMessage(std::string_view last_chunk = "");
  StageResult Abort();
  StageResult Quit();
  StageResult QuitNewConnection();
  // Any command, including ones built to break the rules.
  StageResult Send(const codec::Command& command);

  const client::Context& context() const { return engine_->context(); }
  const codec::NegotiatedOptions& negotiated() const {
    return context().negotiated();
  }

 private:
  client::FilterFactory factory_;
  asio::io_context io_;
  std::vector<std::string> diagnostics_;
  client::DiagnosticSink diagnostic_sink_;
  std::unique_ptr<client::Engine> engine_;
};

}  // namespace milter::testing

#endif  // MILTER_CLIENT_TESTING_H_
