// DocFilter and SlowDnsFilter, the example filters of docs/client.md (see
// doc_filter.h).

#include "examples/doc_filter/doc_filter.h"

#include <chrono>
#include <string>

#include "absl/status/status.h"
#include "asio/steady_timer.hpp"
#include "asio/this_coro.hpp"
#include "asio/use_awaitable.hpp"
#include "milter/codec/protocol.h"

namespace doc_filter {

namespace {

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() &&
         s.substr(s.size() - suffix.size()) == suffix;
}

}  // namespace

Status DocFilter::OnConnect(Context&,
                            const milter::client::ConnectionInfo& info) {
  if (info.family == milter::codec::Family::kInet &&
      info.address == "127.0.0.1") {
    return Status::kAccept;  // local submissions: no filtering at all
  }
  return Status::kContinue;
}

Status DocFilter::OnMailFrom(Context& ctx, std::string_view address,
                             milter::client::EsmtpArgs) {
  ResetMessage();  // a new message starts
  if (EndsWith(address, "@spam.example>") ||
      EndsWith(address, "@spam.example")) {
    // The reply goes out with the kReject below (5xx goes with reject).
    (void)ctx.SetReply("550", "5.7.1", "Sender domain blocked");
    return Status::kReject;
  }
  return Status::kContinue;
}

Status DocFilter::OnRcptTo(Context& ctx, std::string_view,
                           milter::client::EsmtpArgs) {
  if (++recipients_ <= 3) return Status::kContinue;
  std::string_view lines[] = {"Too many recipients",
                              "Send the rest in another message"};
  (void)ctx.SetMultilineReply("452", "4.5.3", lines);
  return Status::kTempfail;  // refuses this recipient only
}

Status DocFilter::OnHeader(Context&, std::string_view name,
                           std::string_view value) {
  if (subject_.empty() && (name == "Subject" || name == "subject")) {
    subject_ = std::string(value);
  }
  return Status::kNoReply;  // negotiated kNoReplyHeader (or emulated)
}

Status DocFilter::OnEndOfMessage(Context& ctx) {
  std::string tag = "queue-id=" + std::string(ctx.MacroOr("i", "unknown"));
  absl::Status added = ctx.AddHeader("X-Doc-Filter", tag);
  if (!added.ok()) {
    // The MTA did not grant add-headers: refuse rather than pass unchecked.
    (void)ctx.SetReply("451", "4.3.5", "Filter cannot tag messages");
    return Status::kTempfail;
  }
  if (subject_.find("[SPAM]") != std::string::npos &&
      !ctx.Quarantine("subject tagged [SPAM]").ok()) {
    return Status::kTempfail;
  }
  ResetMessage();
  return Status::kContinue;
}

void DocFilter::OnAbort(Context&) { ResetMessage(); }

milter::client::FilterFactory MakeDocFilterFactory() {
  milter::client::FilterOptions options;
  options.protocol = milter::codec::protocol::kNoReplyHeader;
  options.symbol_lists[static_cast<int>(
      milter::codec::MacroStage::kEndOfMessage)] = "i";
  return milter::client::MakeFilterFactory<DocFilter>(options);
}

asio::awaitable<Status> SlowHeloFilter::OnHelo(Context& ctx,
                                               std::string_view name) {
  (void)ctx.Progress();  // "still working": resets the MTA's timeout
  asio::steady_timer timer(co_await asio::this_coro::executor,
                           std::chrono::milliseconds(10));
  co_await timer.async_wait(asio::use_awaitable);  // the loop runs on
  if (name.find('.') == std::string_view::npos) {
    (void)ctx.SetReply("550", "5.7.1", "HELO needs a fully qualified name");
    co_return Status::kReject;
  }
  co_return Status::kContinue;
}

}  // namespace doc_filter
