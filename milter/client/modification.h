// Message modifications a filter makes at end of message, as owned values:
// what the Context records and what milter::testing hands back to tests.

#ifndef MILTER_CLIENT_MODIFICATION_H_
#define MILTER_CLIENT_MODIFICATION_H_

#include <cstdint>
#include <optional>
#include <string>
#include <variant>

namespace milter::client {

namespace mod {
struct AddHeader {
  std::string name, value;
  friend bool operator==(const AddHeader&, const AddHeader&) = default;
};
// Before the `index`-th header, counting every header from 0.
struct InsertHeader {
  uint32_t index = 0;
  std::string name, value;
  friend bool operator==(const InsertHeader&, const InsertHeader&) = default;
};
// The `index`-th (from 1) header called `name`; an empty value deletes it.
struct ChangeHeader {
  uint32_t index = 1;
  std::string name, value;
  friend bool operator==(const ChangeHeader&, const ChangeHeader&) = default;
};
struct ChangeFrom {
  std::string address;
  std::optional<std::string> args;
  friend bool operator==(const ChangeFrom&, const ChangeFrom&) = default;
};
struct AddRecipient {
  std::string address;
  std::optional<std::string> args;  // set: sent as '2' (with ESMTP args)
  friend bool operator==(const AddRecipient&, const AddRecipient&) = default;
};
struct DeleteRecipient {
  std::string address;
  friend bool operator==(const DeleteRecipient&,
                         const DeleteRecipient&) = default;
};
// A piece of the new body; consecutive pieces concatenate.
struct ReplaceBody {
  std::string data;
  friend bool operator==(const ReplaceBody&, const ReplaceBody&) = default;
};
struct Quarantine {
  std::string reason;
  friend bool operator==(const Quarantine&, const Quarantine&) = default;
};
}  // namespace mod

using Modification =
    std::variant<mod::AddHeader, mod::InsertHeader, mod::ChangeHeader,
                 mod::ChangeFrom, mod::AddRecipient, mod::DeleteRecipient,
                 mod::ReplaceBody, mod::Quarantine>;

// One line for logs and test failures: "add-header X-Sample: yes".
std::string DescribeModification(const Modification& m);

}  // namespace milter::client

#endif  // MILTER_CLIENT_MODIFICATION_H_
