// FilterTester: drives the session engine in-process and decodes what it
// sends, as an MTA would read it.

#include "milter/client/testing.h"

#include <exception>

#include "asio/co_spawn.hpp"
#include "milter/codec/decoder.h"
#include "milter/codec/encoder.h"
#include "milter/codec/modification.h"

namespace milter::testing {

using client::Status;

FilterTester::FilterTester(client::FilterFactory factory)
    : factory_(std::move(factory)),
      diagnostic_sink_(
          [this](std::string_view line) { diagnostics_.emplace_back(line); }),
      engine_(std::make_unique<client::Engine>(&factory_, nullptr,
                                               &diagnostic_sink_)) {}

FilterTester::~FilterTester() {
  // Let the filter see its close, as a real session would.
  asio::co_spawn(io_, engine_->Finish(), [](std::exception_ptr) {});
  io_.restart();
  io_.run();
}

codec::OptionNegotiation FilterTester::FullOffer() {
  return codec::OptionNegotiation{
      codec::kMaxVersion, codec::action::kAll,
      0x001FFFFF /* every SMFIP flag of version 6 */};
}

StageResult FilterTester::Send(const codec::Command& command) {
  StageResult result;
  std::string out;
  absl::StatusOr<client::Engine::After> after = absl::UnknownError("not run");
  std::exception_ptr failure;
  asio::co_spawn(
      io_, engine_->Handle(command, &out),
      [&](std::exception_ptr e, absl::StatusOr<client::Engine::After> a) {
        failure = e;
        after = std::move(a);
      });
  io_.restart();
  io_.run();
  result.diagnostics = std::move(diagnostics_);
  diagnostics_.clear();
  if (failure) std::rethrow_exception(failure);
  if (!after.ok()) {
    result.error = after.status();
    result.closed = true;
    return result;
  }
  result.closed = *after == client::Engine::After::kClose;
  // Progress packets are in `out`, ahead of the stage's answer. Decoded at
  // the negotiated packet size, as an MTA reads.
  codec::ResponseDecoder decoder(engine_->max_payload());
  decoder.Feed(out);
  while (true) {
    absl::StatusOr<std::optional<codec::Response>> next = decoder.Next();
    if (!next.ok()) {
      result.error = next.status();
      break;
    }
    if (!next->has_value()) break;
    const codec::Response& r = **next;
    if (std::holds_alternative<codec::Continue>(r)) {
      result.status = Status::kContinue;
    } else if (std::holds_alternative<codec::Accept>(r)) {
      result.status = Status::kAccept;
    } else if (std::holds_alternative<codec::Reject>(r)) {
      result.status = Status::kReject;
    } else if (std::holds_alternative<codec::Tempfail>(r)) {
      result.status = Status::kTempfail;
    } else if (std::holds_alternative<codec::Discard>(r)) {
      result.status = Status::kDiscard;
    } else if (std::holds_alternative<codec::Skip>(r)) {
      result.status = Status::kSkip;
    } else if (std::holds_alternative<codec::Progress>(r)) {
      ++result.progress;
    } else if (const auto* y = std::get_if<codec::ReplyCode>(&r)) {
      result.reply.assign(y->text);
      result.status = !y->text.empty() && y->text[0] == '4' ? Status::kTempfail
                                                            : Status::kReject;
    } else if (const auto* o = std::get_if<codec::OptionNegotiationReply>(&r)) {
      result.negotiation = *o;
      result.symbol_lists.assign(codec::kNumMacroStages, "");
      for (int i = 0; i < codec::kNumMacroStages; ++i) {
        if (o->symbol_lists[i]) result.symbol_lists[i] = *o->symbol_lists[i];
        result.negotiation->symbol_lists[i].reset();  // views die here
      }
    } else if (std::holds_alternative<codec::Shutdown>(r)) {
      result.status = Status::kShutdown;
    } else if (std::holds_alternative<codec::ConnectionFail>(r)) {
      result.status = Status::kConnectionFail;
    } else if (std::optional<client::Modification> m =
                   codec::ModificationOf(r)) {
      auto* body = std::get_if<client::mod::ReplaceBody>(&*m);
      if (body != nullptr) ++result.replace_body_packets;
      auto* last = body == nullptr || result.modifications.empty()
                       ? nullptr
                       : std::get_if<client::mod::ReplaceBody>(
                             &result.modifications.back());
      if (last != nullptr) {
        last->data.append(body->data);
      } else {
        result.modifications.push_back(*std::move(m));
      }
    }
  }
  return result;
}

StageResult FilterTester::Negotiate(codec::OptionNegotiation offer) {
  return Send(offer);
}

void FilterTester::Macros(
    codec::MacroStage stage,
    const std::vector<std::pair<std::string, std::string>>& macros) {
  std::string pairs;
  for (const auto& [name, value] : macros) {
    codec::AppendMacroPair(name, value, &pairs);
  }
  Send(codec::DefineMacros{codec::CommandForMacroStage(stage),
                           codec::StringList(pairs)});
}

StageResult FilterTester::Connect(std::string_view hostname,
                                  codec::Family family, uint16_t port,
                                  std::string_view address) {
  return Send(codec::Connect{hostname, family, port, address});
}

StageResult FilterTester::Helo(std::string_view name) {
  return Send(codec::Helo{name});
}

namespace {
std::string ArgList(std::string_view address,
                    const std::vector<std::string>& args) {
  std::string list;
  codec::AppendString(address, &list);
  for (const std::string& a : args) codec::AppendString(a, &list);
  return list;
}
}  // namespace

StageResult FilterTester::Mail(std::string_view address,
                               const std::vector<std::string>& args) {
  std::string list = ArgList(address, args);
  return Send(codec::Mail{codec::StringList(list)});
}

StageResult FilterTester::Rcpt(std::string_view address,
                               const std::vector<std::string>& args) {
  std::string list = ArgList(address, args);
  return Send(codec::Rcpt{codec::StringList(list)});
}

StageResult FilterTester::Data() { return Send(codec::Data{}); }
StageResult FilterTester::Unknown(std::string_view command) {
  return Send(codec::Unknown{command});
}
StageResult FilterTester::Header(std::string_view name,
                                 std::string_view value) {
  return Send(codec::Header{name, value});
}
StageResult FilterTester::EndOfHeaders() { return Send(codec::EndOfHeaders{}); }
StageResult FilterTester::Body(std::string_view chunk) {
  return Send(codec::BodyChunk{chunk});
}
StageResult FilterTester::EndOfMessage(std::string_view last_chunk) {
  return Send(codec::EndOfMessage{last_chunk});
}
StageResult FilterTester::Abort() { return Send(codec::Abort{}); }
StageResult FilterTester::Quit() { return Send(codec::Quit{}); }
StageResult FilterTester::QuitNewConnection() {
  return Send(codec::QuitNewConnection{});
}

}  // namespace milter::testing
