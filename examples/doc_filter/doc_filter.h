// The example filters of docs/client.md.
//
// DocFilter, a synchronous Filter (its callbacks run on the runner's worker
// pool, so they may block):
//  - connections from 127.0.0.1 are accepted unfiltered;
//  - MAIL FROM an address at spam.example is rejected with
//    "550 5.7.1 Sender domain blocked";
//  - from the fourth RCPT TO of a message on, each recipient is refused with
//    a two-line "452 4.5.3" temporary failure;
//  - at end of message it adds "X-Doc-Filter: queue-id=QUEUEID" (the `i`
//    macro) and quarantines messages whose Subject contains "[SPAM]".
//
// SlowHeloFilter, a CoroutineFilter (its callbacks stay on the event loop and
// may await asynchronous work): OnHelo reports progress, awaits a timer
// standing in for an asynchronous lookup, and rejects HELO names without a
// dot.

#ifndef EXAMPLES_DOC_FILTER_DOC_FILTER_H_
#define EXAMPLES_DOC_FILTER_DOC_FILTER_H_

#include <string>
#include <string_view>

#include "asio/awaitable.hpp"
#include "milter/client/filter.h"
#include "milter/client/filter_factory.h"

namespace doc_filter {

using milter::client::Context;
using milter::client::Status;

class DocFilter : public milter::client::Filter {
 public:
  Status OnConnect(Context& ctx,
                   const milter::client::ConnectionInfo& info) override;
  Status OnMailFrom(Context& ctx, std::string_view address,
                    milter::client::EsmtpArgs args) override;
  Status OnRcptTo(Context& ctx, std::string_view address,
                  milter::client::EsmtpArgs args) override;
  Status OnHeader(Context& ctx, std::string_view name,
                  std::string_view value) override;
  Status OnEndOfMessage(Context& ctx) override;
  void OnAbort(Context& ctx) override;

 private:
  void ResetMessage() {
    recipients_ = 0;
    subject_.clear();
  }

  // Per-message state: one DocFilter object serves one MTA connection.
  int recipients_ = 0;
  std::string subject_;
};

// DocFilter's factory: replies to headers negotiated away (OnHeader returns
// kNoReply), the queue ID macro requested at end of message.
milter::client::FilterFactory MakeDocFilterFactory();

class SlowHeloFilter : public milter::client::CoroutineFilter {
 public:
  asio::awaitable<Status> OnHelo(Context& ctx, std::string_view name) override;
};

}  // namespace doc_filter

#endif  // EXAMPLES_DOC_FILTER_DOC_FILTER_H_
