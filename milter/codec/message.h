// Typed milter packets: one struct per command (MTA -> filter) and per
// response (filter -> MTA), gathered in the variants `Command` and `Response`.
//
// Decoded messages borrow: their string_views point into the decoder's input
// and stay valid only until the decoder is next fed or asked for a message.
// For encoding, the views may point anywhere that outlives the Encode call.
// Copy what must be kept.

#ifndef MILTER_CODEC_MESSAGE_H_
#define MILTER_CODEC_MESSAGE_H_

#include <array>
#include <cstdint>
#include <iterator>
#include <optional>
#include <string_view>
#include <utility>
#include <variant>

#include "milter/codec/protocol.h"

namespace milter::codec {

// A view of NUL-terminated strings laid end to end ("a\0b\0"), iterable as
// string_views. `raw` holds every byte including each terminator; an empty
// `raw` is an empty list.
class StringList {
 public:
  class Iterator {
   public:
    using iterator_category = std::forward_iterator_tag;
    using value_type = std::string_view;
    using difference_type = std::ptrdiff_t;
    using pointer = const std::string_view*;
    using reference = std::string_view;

    Iterator() = default;
    Iterator(std::string_view rest) : rest_(rest) { Load(); }
    std::string_view operator*() const { return current_; }
    Iterator& operator++() {
      rest_.remove_prefix(current_.size() + 1);
      Load();
      return *this;
    }
    Iterator operator++(int) {
      Iterator copy = *this;
      ++*this;
      return copy;
    }
    bool operator==(const Iterator& other) const {
      return rest_.data() == other.rest_.data() &&
             rest_.size() == other.rest_.size();
    }

   private:
    void Load() {
      size_t nul = rest_.find('\0');
      current_ = rest_.substr(0, nul);
      if (nul == std::string_view::npos) rest_ = rest_.substr(rest_.size());
    }
    std::string_view rest_;
    std::string_view current_;
  };

  StringList() = default;
  // `raw` must be empty or end with a NUL byte.
  explicit StringList(std::string_view raw) : raw_(raw) {}

  Iterator begin() const { return Iterator(raw_); }
  Iterator end() const { return Iterator(raw_.substr(raw_.size())); }
  bool empty() const { return raw_.empty(); }
  size_t size() const;
  // The first string, or "" if the list is empty.
  std::string_view front() const { return *begin(); }
  std::string_view raw() const { return raw_; }

  friend bool operator==(const StringList& a, const StringList& b) {
    return a.raw_ == b.raw_;
  }

 private:
  std::string_view raw_;
};

// ---------------------------------------------------------------------------
// Commands: MTA -> filter.

// 'O': the MTA's offer, or (as OptionNegotiationReply) the filter's answer.
struct OptionNegotiation {
  uint32_t version = kMaxVersion;
  uint32_t actions = 0;
  uint32_t protocol = 0;
  friend bool operator==(const OptionNegotiation&,
                         const OptionNegotiation&) = default;
};

// 'D': macros for the command `command_code`; `pairs` alternates name, value.
struct DefineMacros {
  char command_code = 0;
  StringList pairs;
  friend bool operator==(const DefineMacros&, const DefineMacros&) = default;
};

// 'C': the SMTP client's connection. `port` and `address` are meaningful only
// when `family` is not kUnknown. `port` is in host byte order.
struct Connect {
  std::string_view hostname;
  Family family = Family::kUnknown;
  uint16_t port = 0;
  std::string_view address;
  friend bool operator==(const Connect&, const Connect&) = default;
};

// 'H': the HELO/EHLO argument.
struct Helo {
  std::string_view name;
  friend bool operator==(const Helo&, const Helo&) = default;
};

// 'M': MAIL FROM; the first string is the address ("<a@b>"), the rest ESMTP
// arguments ("SIZE=1024").
struct Mail {
  StringList args;
  std::string_view address() const { return args.front(); }
  friend bool operator==(const Mail&, const Mail&) = default;
};

// 'R': RCPT TO, laid out as Mail.
struct Rcpt {
  StringList args;
  std::string_view address() const { return args.front(); }
  friend bool operator==(const Rcpt&, const Rcpt&) = default;
};

// 'T': DATA.
struct Data {
  friend bool operator==(const Data&, const Data&) = default;
};

// 'L': one header; the value is bytes, not necessarily UTF-8.
struct Header {
  std::string_view name;
  std::string_view value;
  friend bool operator==(const Header&, const Header&) = default;
};

// 'N': end of headers.
struct EndOfHeaders {
  friend bool operator==(const EndOfHeaders&, const EndOfHeaders&) = default;
};

// 'B': a body chunk (at most the negotiated maximum payload).
struct BodyChunk {
  std::string_view data;
  friend bool operator==(const BodyChunk&, const BodyChunk&) = default;
};

// 'E': end of message, optionally with a last body chunk.
struct EndOfMessage {
  std::string_view data;
  friend bool operator==(const EndOfMessage&, const EndOfMessage&) = default;
};

// 'U': an SMTP command the MTA did not recognise, as the client sent it.
struct Unknown {
  std::string_view command;
  friend bool operator==(const Unknown&, const Unknown&) = default;
};

// 'A': abort the current message; the session continues.
struct Abort {
  friend bool operator==(const Abort&, const Abort&) = default;
};

// 'Q': end of session; close the connection.
struct Quit {
  friend bool operator==(const Quit&, const Quit&) = default;
};

// 'K': end of session; keep the connection for a new one (starts with 'O').
struct QuitNewConnection {
  friend bool operator==(const QuitNewConnection&,
                         const QuitNewConnection&) = default;
};

using Command =
    std::variant<OptionNegotiation, DefineMacros, Connect, Helo, Mail, Rcpt,
                 Data, Header, EndOfHeaders, BodyChunk, EndOfMessage, Unknown,
                 Abort, Quit, QuitNewConnection>;

// ---------------------------------------------------------------------------
// Responses: filter -> MTA.

// 'O' answer: what the filter settled on, plus optional per-stage macro lists
// (space-separated names, e.g. "{auth_authen} i") when kSetSymbolList was
// negotiated. An unset stage means "the MTA's default".
struct OptionNegotiationReply {
  uint32_t version = kMaxVersion;
  uint32_t actions = 0;
  uint32_t protocol = 0;
  std::array<std::optional<std::string_view>, kNumMacroStages> symbol_lists;
  friend bool operator==(const OptionNegotiationReply&,
                         const OptionNegotiationReply&) = default;
};

// The one-byte verdicts ('c', 'a', 'r', 't', 'd', 's', 'p', '4', 'f').
struct Continue {
  friend bool operator==(const Continue&, const Continue&) = default;
};
struct Accept {
  friend bool operator==(const Accept&, const Accept&) = default;
};
struct Reject {
  friend bool operator==(const Reject&, const Reject&) = default;
};
struct Tempfail {
  friend bool operator==(const Tempfail&, const Tempfail&) = default;
};
struct Discard {
  friend bool operator==(const Discard&, const Discard&) = default;
};
struct Skip {
  friend bool operator==(const Skip&, const Skip&) = default;
};
struct Progress {
  friend bool operator==(const Progress&, const Progress&) = default;
};
struct Shutdown {
  friend bool operator==(const Shutdown&, const Shutdown&) = default;
};
struct ConnectionFail {
  friend bool operator==(const ConnectionFail&,
                         const ConnectionFail&) = default;
};

// 'y': reject (5xx) or tempfail (4xx) with this reply, e.g.
// "550 5.7.1 Go away" or a multi-line "550-5.7.1 a\r\n550 5.7.1 b".
struct ReplyCode {
  std::string_view text;
  friend bool operator==(const ReplyCode&, const ReplyCode&) = default;
};

// 'q': quarantine the message with this reason.
struct Quarantine {
  std::string_view reason;
  friend bool operator==(const Quarantine&, const Quarantine&) = default;
};

// 'h': append a header.
struct AddHeader {
  std::string_view name;
  std::string_view value;
  friend bool operator==(const AddHeader&, const AddHeader&) = default;
};

// 'i': insert a header before the `index`-th header (0: before all).
struct InsertHeader {
  uint32_t index = 0;
  std::string_view name;
  std::string_view value;
  friend bool operator==(const InsertHeader&, const InsertHeader&) = default;
};

// 'm': change the `index`-th occurrence (from 1; 0 acts as 1) of header
// `name`; an empty value deletes it.
struct ChangeHeader {
  uint32_t index = 0;
  std::string_view name;
  std::string_view value;
  friend bool operator==(const ChangeHeader&, const ChangeHeader&) = default;
};

// 'e': change the envelope sender; `args` are optional ESMTP arguments.
struct ChangeFrom {
  std::string_view address;
  std::optional<std::string_view> args;
  friend bool operator==(const ChangeFrom&, const ChangeFrom&) = default;
};

// '+': add a recipient.
struct AddRecipient {
  std::string_view address;
  friend bool operator==(const AddRecipient&, const AddRecipient&) = default;
};

// '2': add a recipient with ESMTP arguments.
struct AddRecipientWithArgs {
  std::string_view address;
  std::string_view args;
  friend bool operator==(const AddRecipientWithArgs&,
                         const AddRecipientWithArgs&) = default;
};

// '-': delete a recipient.
struct DeleteRecipient {
  std::string_view address;
  friend bool operator==(const DeleteRecipient&,
                         const DeleteRecipient&) = default;
};

// 'b': one chunk of the replacement body; consecutive chunks concatenate.
struct ReplaceBody {
  std::string_view data;
  friend bool operator==(const ReplaceBody&, const ReplaceBody&) = default;
};

using Response =
    std::variant<OptionNegotiationReply, Continue, Accept, Reject, Tempfail,
                 Discard, Skip, Progress, Shutdown, ConnectionFail, ReplyCode,
                 Quarantine, AddHeader, InsertHeader, ChangeHeader, ChangeFrom,
                 AddRecipient, AddRecipientWithArgs, DeleteRecipient,
                 ReplaceBody>;

// The wire code of a message.
CommandCode CodeOf(const Command& command);
ResponseCode CodeOf(const Response& response);

// Short names for logs: "connect", "end-of-message", "add-header".
const char* CommandName(CommandCode code);
const char* ResponseName(ResponseCode code);

}  // namespace milter::codec

#endif  // MILTER_CODEC_MESSAGE_H_
