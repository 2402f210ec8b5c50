// The per-session context a filter callback receives: macros (this stage's
// and earlier ones'), connection information, the SMTP reply to send with a
// reject or tempfail, progress, and the end-of-message modifications.
//
// Every call that cannot take effect returns an error Status: a modification
// outside end of message, an action the MTA did not grant, a malformed reply.
// Nothing is silently dropped.

#ifndef MILTER_CLIENT_CONTEXT_H_
#define MILTER_CLIENT_CONTEXT_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "milter/codec/connection_info.h"
#include "milter/codec/macros.h"
#include "milter/codec/modification.h"
#include "milter/codec/negotiation.h"
#include "milter/codec/protocol.h"

namespace milter::client {

// The stage a callback runs for.
enum class Stage {
  kNone,
  kNegotiate,
  kConnect,
  kHelo,
  kMail,
  kRcpt,
  kData,
  kUnknown,
  kHeader,
  kEndOfHeaders,
  kBody,
  kEndOfMessage,
  kAbort,
  kClose,
};
const char* StageName(Stage stage);

// The types both sides share (see milter/codec): the SMTP client's
// connection, and end-of-message modifications.
using codec::ConnectionInfo;
using codec::Modification;
namespace mod = codec::mod;

class Context {
 public:
  Context() = default;
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  // --- What the session knows.
  Stage stage() const { return stage_; }
  const ConnectionInfo& connection() const;
  const codec::NegotiatedOptions& negotiated() const { return negotiated_; }
  // A macro by name ("i" and "{i}" both work), from the current stage or an
  // earlier one.
  std::optional<std::string_view> GetMacro(std::string_view name) const {
    if (!macros_) return std::nullopt;
    return macros_->Get(name);
  }
  // GetMacro or `fallback`.
  std::string_view MacroOr(std::string_view name,
                           std::string_view fallback) const;
  const codec::MacroMap& macros() const;

  // --- The reply sent with the next kReject (5xx) or kTempfail (4xx).
  // `code` "550", `enhanced` "5.7.1" or "", text without CR/LF.
  absl::Status SetReply(std::string_view code, std::string_view enhanced,
                        std::string_view text);
  absl::Status SetMultilineReply(std::string_view code,
                                 std::string_view enhanced,
                                 absl::Span<const std::string_view> lines);
  // A complete reply text as received, e.g. relayed from another filter
  // ("550-5.7.1 a\r\n550 5.7.1 b"): validated as MTAs do (codec::ParseReply)
  // and sent byte for byte, '%' included (SetReply doubles '%'; this does
  // not).
  absl::Status SetReplyText(std::string_view text);
  const std::optional<std::string>& reply() const { return reply_; }

  // --- Tells the MTA the filter is still working (resets its timeout).
  absl::Status Progress();

  // --- End-of-message modifications. Each needs the action negotiated.
  absl::Status AddHeader(std::string_view name, std::string_view value);
  // Before the `index`-th header (0: before all headers).
  absl::Status InsertHeader(uint32_t index, std::string_view name,
                            std::string_view value);
  // The `index`-th header named `name`, counting from 1. An empty value
  // deletes it.
  absl::Status ChangeHeader(std::string_view name, uint32_t index,
                            std::string_view value);
  absl::Status DeleteHeader(std::string_view name, uint32_t index) {
    return ChangeHeader(name, index, "");
  }
  // `args`: ESMTP arguments ("SIZE=100"), or empty for none.
  absl::Status ChangeFrom(std::string_view address, std::string_view args = "");
  absl::Status AddRecipient(std::string_view address);
  // Needs the add-recipient-with-args action.
  absl::Status AddRecipient(std::string_view address, std::string_view args);
  absl::Status DeleteRecipient(std::string_view address);
  // Appends to the replacement body (any size; sent in chunks of 65535).
  absl::Status ReplaceBody(std::string_view data);
  absl::Status Quarantine(std::string_view reason);

  // Modifications recorded at this end of message, in order.
  const std::vector<Modification>& modifications() const {
    return modifications_;
  }

  // --- For the session engine, not for filters.
  struct Internal;

 private:
  friend struct Internal;
  absl::Status CheckModification(const char* what, uint32_t action) const;
  // Appends `m` if its packets fit the negotiated payload size.
  absl::Status Record(Modification m);
  // Strips one leading space when HDR_LEADSPC is emulated (the MTA adds it).
  std::string_view OutgoingHeaderValue(std::string_view value) const;

  Stage stage_ = Stage::kNone;
  std::unique_ptr<ConnectionInfo> connection_;  // set by connect
  codec::NegotiatedOptions negotiated_;
  std::unique_ptr<codec::MacroMap> macros_;  // allocated by the first 'D'
  std::optional<std::string> reply_;
  std::vector<Modification> modifications_;
  std::function<void()> progress_sink_;
};

// Engine-side access to a Context's internals.
struct Context::Internal {
  static void SetStage(Context& c, Stage s) { c.stage_ = s; }
  static ConnectionInfo& connection(Context& c) {
    if (!c.connection_) c.connection_ = std::make_unique<ConnectionInfo>();
    return *c.connection_;
  }
  static codec::NegotiatedOptions& negotiated(Context& c) {
    return c.negotiated_;
  }
  static codec::MacroMap& macros(Context& c) {
    if (!c.macros_) c.macros_ = std::make_unique<codec::MacroMap>();
    return *c.macros_;
  }
  static codec::MacroMap* existing_macros(Context& c) {
    return c.macros_.get();
  }
  static std::optional<std::string>& reply(Context& c) { return c.reply_; }
  static std::vector<Modification>& modifications(Context& c) {
    return c.modifications_;
  }
  static void SetProgressSink(Context& c, std::function<void()> sink) {
    c.progress_sink_ = std::move(sink);
  }
  static std::function<void()>& SetProgressSinkRef(Context& c) {
    return c.progress_sink_;
  }
};

}  // namespace milter::client

#endif  // MILTER_CLIENT_CONTEXT_H_
