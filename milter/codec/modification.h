// End-of-message modifications as owned values: what a filter asks the MTA to
// change (add/insert/change a header, change the sender, add/delete a
// recipient, replace the body, quarantine). One representation for both sides:
// the filter side records them from Context calls and encodes them; the MTA
// side decodes them from a filter's packets and applies them; a relay passes
// them through unchanged.
//
// The wire forms (codec::AddHeader, ...) borrow their bytes; these own them.
// Header values are as on the wire: whether the MTA adds or strips a leading
// space is the HDR_LEADSPC rule in header_value.h.

#ifndef MILTER_CODEC_MODIFICATION_H_
#define MILTER_CODEC_MODIFICATION_H_

#include <cstdint>
#include <optional>
#include <string>
#include <variant>

#include "milter/codec/message.h"

namespace milter::codec {

namespace mod {
// 'h': append a header.
struct AddHeader {
  std::string name, value;
  friend bool operator==(const AddHeader&, const AddHeader&) = default;
};
// 'i': before the `index`-th header, counting every header from 0.
struct InsertHeader {
  uint32_t index = 0;
  std::string name, value;
  friend bool operator==(const InsertHeader&, const InsertHeader&) = default;
};
// 'm': the `index`-th (from 1; 0 acts as 1) header called `name`; an empty
// value deletes it.
struct ChangeHeader {
  uint32_t index = 1;
  std::string name, value;
  friend bool operator==(const ChangeHeader&, const ChangeHeader&) = default;
};
// 'e': the new envelope sender, with optional ESMTP arguments.
struct ChangeFrom {
  std::string address;
  std::optional<std::string> args;
  friend bool operator==(const ChangeFrom&, const ChangeFrom&) = default;
};
// '+' without arguments, '2' with them.
struct AddRecipient {
  std::string address;
  std::optional<std::string> args;
  friend bool operator==(const AddRecipient&, const AddRecipient&) = default;
};
// '-'.
struct DeleteRecipient {
  std::string address;
  friend bool operator==(const DeleteRecipient&,
                         const DeleteRecipient&) = default;
};
// 'b': the whole new body (on the wire, chunks that concatenate).
struct ReplaceBody {
  std::string data;
  friend bool operator==(const ReplaceBody&, const ReplaceBody&) = default;
};
// 'q'.
struct Quarantine {
  std::string reason;
  friend bool operator==(const Quarantine&, const Quarantine&) = default;
};
}  // namespace mod

using Modification =
    std::variant<mod::AddHeader, mod::InsertHeader, mod::ChangeHeader,
                 mod::ChangeFrom, mod::AddRecipient, mod::DeleteRecipient,
                 mod::ReplaceBody, mod::Quarantine>;

// "add-header", "insert-header", "change-header", "change-from",
// "add-recipient" ("add-recipient-with-args" with arguments),
// "delete-recipient", "replace-body", "quarantine".
const char* ModificationName(const Modification& m);

// One line for logs and test failures: `add-header X-Foo: "bar"`,
// `change-header[2] Subject: "x"`, `add-recipient <a@b>`,
// `replace-body (9 bytes) "..."`.
std::string ToString(const Modification& m);

// The action flag (codec::action::k*) a filter must have negotiated for `m`.
uint32_t RequiredAction(const Modification& m);

// Bytes `m` takes on the wire (all its packets, headers included): what a
// receiver buffering it must hold, at least.
size_t WireSize(const Modification& m);

// An owned copy of the modification a response carries; nullopt for a
// response that is not one (verdicts, progress, negotiation).
std::optional<Modification> ModificationOf(const Response& response);

// Appends the packets for `m` to `*out`: one packet, or for replace-body
// chunks of at most kBodyChunkSize (one empty chunk for an empty body).
void EncodeModification(const Modification& m, std::string* out);

}  // namespace milter::codec

#endif  // MILTER_CODEC_MODIFICATION_H_
