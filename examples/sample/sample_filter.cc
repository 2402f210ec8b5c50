// The example filter's callbacks (behaviour described in sample_filter.h).

#include "examples/sample/sample_filter.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"

namespace sample {
namespace {

absl::string_view A(std::string_view s) { return {s.data(), s.size()}; }

// "<user@Example.org>" -> "Example.org"; "" if there is no '@'.
std::string DomainOf(std::string_view address) {
  size_t at = address.rfind('@');
  if (at == std::string_view::npos) return "";
  std::string_view domain = address.substr(at + 1);
  while (!domain.empty() && (domain.back() == '>' || domain.back() == ' ')) {
    domain.remove_suffix(1);
  }
  return std::string(domain);
}

}  // namespace

asio::awaitable<milter::client::Status> SampleFilter::OnMailFrom(
    Context& ctx, std::string_view address, milter::client::EsmtpArgs) {
  ResetMessage();
  if (absl::EqualsIgnoreCase(A(address), "<reject@example.com>") ||
      absl::EqualsIgnoreCase(A(address), "reject@example.com")) {
    (void)ctx.SetReply("550", "5.7.1", "Sender rejected by sample filter");
    co_return Status::kReject;
  }
  co_return Status::kContinue;
}

asio::awaitable<milter::client::Status> SampleFilter::OnRcptTo(
    Context&, std::string_view address, milter::client::EsmtpArgs) {
  Message& m = message();
  if (!m.first_rcpt_domain) m.first_rcpt_domain = DomainOf(address);
  co_return Status::kNoReply;
}

asio::awaitable<milter::client::Status> SampleFilter::OnHeader(
    Context&, std::string_view name, std::string_view value) {
  Message& m = message();
  if (!m.subject && absl::EqualsIgnoreCase(A(name), "Subject")) {
    m.subject = std::string(value);
  }
  co_return Status::kNoReply;
}

asio::awaitable<milter::client::Status> SampleFilter::OnEndOfMessage(
    Context& ctx) {
  Message& m = message();
  std::string subject = m.subject.value_or("");
  if (absl::StrContains(subject, "NOMOD")) {
    ResetMessage();
    co_return Status::kAccept;
  }
  bool ok = ctx.AddHeader("X-Sample", "yes").ok();
  ok &= ctx.ChangeHeader("Subject", 1, "[sample] " + subject).ok();
  if (m.first_rcpt_domain && !m.first_rcpt_domain->empty()) {
    ok &= ctx.AddRecipient("<added@" + *m.first_rcpt_domain + ">").ok();
  }
  if (absl::StrContains(subject, "REPLACE")) {
    ok &= ctx.ReplaceBody("replaced\r\n").ok();
  }
  ResetMessage();
  // A modification the MTA did not grant: better no mail than a wrong one.
  co_return ok ? Status::kContinue : Status::kTempfail;
}

asio::awaitable<void> SampleFilter::OnAbort(Context&) {
  ResetMessage();
  co_return;
}

milter::client::FilterFactory MakeSampleFactory() {
  milter::client::FilterOptions options;
  options.protocol = milter::codec::protocol::kNoReplyRcpt |
                     milter::codec::protocol::kNoReplyHeader;
  return milter::client::MakeFilterFactory<SampleFilter>(options);
}

}  // namespace sample
