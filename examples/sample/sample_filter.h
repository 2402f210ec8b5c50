// The example filter (its behaviour is fixed: end-to-end tests and the
// benchmarks rely on it):
//  - MAIL FROM <reject@example.com>: reply "550 5.7.1 ..." and reject.
//  - End of message: add "X-Sample: yes"; change Subject to "[sample] " +
//    the old subject; add recipient <added@D>, D the domain of the first RCPT
//    TO; if the subject contains REPLACE, replace the body with
//    "replaced\r\n".
//  - Subject containing NOMOD: accept at end of message with no change.
// A coroutine filter: every callback stays on the event loop. It never
// rejects a recipient or a header, so it asks the MTA not to wait for replies
// to those (SMFIP_NR_RCPT, SMFIP_NR_HDR); the library answers "continue"
// itself for an MTA that lacks these flags.

#ifndef EXAMPLES_SAMPLE_SAMPLE_FILTER_H_
#define EXAMPLES_SAMPLE_SAMPLE_FILTER_H_

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "milter/client/filter.h"
#include "milter/client/filter_factory.h"

namespace sample {

class SampleFilter : public milter::client::CoroutineFilter {
 public:
  using Context = milter::client::Context;
  using Status = milter::client::Status;

  asio::awaitable<Status> OnMailFrom(Context& ctx, std::string_view address,
                                     milter::client::EsmtpArgs) override;
  asio::awaitable<Status> OnRcptTo(Context& ctx, std::string_view address,
                                   milter::client::EsmtpArgs) override;
  asio::awaitable<Status> OnHeader(Context& ctx, std::string_view name,
                                   std::string_view value) override;
  asio::awaitable<Status> OnEndOfMessage(Context& ctx) override;
  asio::awaitable<void> OnAbort(Context& ctx) override;

 private:
  // Per-message state, allocated at MAIL FROM: an idle connection holds
  // only a null pointer.
  struct Message {
    std::optional<std::string> first_rcpt_domain;
    std::optional<std::string> subject;
  };
  void ResetMessage() { message_.reset(); }
  Message& message() {
    if (!message_) message_ = std::make_unique<Message>();
    return *message_;
  }

  std::unique_ptr<Message> message_;
};

// The factory to serve SampleFilter with.
milter::client::FilterFactory MakeSampleFactory();

}  // namespace sample

#endif  // EXAMPLES_SAMPLE_SAMPLE_FILTER_H_
