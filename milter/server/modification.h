// A change a filter asked for at end of message, as an owned copy (the codec's
// decoded responses only borrow the read buffer).

#ifndef MILTER_SERVER_MODIFICATION_H_
#define MILTER_SERVER_MODIFICATION_H_

#include <cstdint>
#include <string>

namespace milter::server {

struct Modification {
  enum class Type {
    kAddHeader,     // name, value
    kInsertHeader,  // index (global, 0 = first), name, value
    kChangeHeader,  // index (per name, from 1), name, value ("" deletes)
    kChangeFrom,    // value = address, args = ESMTP arguments
    kAddRecipient,  // value = address
    kAddRecipientWithArgs,  // value = address, args
    kDeleteRecipient,       // value = address
    kReplaceBody,           // value = the whole new body
  };
  Type type = Type::kAddHeader;
  uint32_t index = 0;
  std::string name;
  std::string value;
  std::string args;

  friend bool operator==(const Modification&, const Modification&) = default;
};

// "add-header", "insert-header", "change-header", "change-from",
// "add-recipient", "add-recipient-with-args", "delete-recipient",
// "replace-body".
const char* ModificationTypeName(Modification::Type type);

// One line for humans: `add-header X-Foo: "bar"`, `change-header[2] Subject:
// "x"`, `add-recipient <a@b>`, `replace-body (9 bytes)`.
std::string ToString(const Modification& modification);

// The action flag (codec::action::k*) a filter must have negotiated to send
// modifications of `type`.
uint32_t RequiredAction(Modification::Type type);

}  // namespace milter::server

#endif  // MILTER_SERVER_MODIFICATION_H_
