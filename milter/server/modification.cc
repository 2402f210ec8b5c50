#include "milter/server/modification.h"

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "milter/codec/protocol.h"

namespace milter::server {
namespace {

absl::string_view Absl(const std::string& s) { return {s.data(), s.size()}; }

std::string Quoted(const std::string& s) {
  return absl::StrCat("\"", absl::CEscape(Absl(s)), "\"");
}

}  // namespace

const char* ModificationTypeName(Modification::Type type) {
  using T = Modification::Type;
  switch (type) {
    case T::kAddHeader:
      return "add-header";
    case T::kInsertHeader:
      return "insert-header";
    case T::kChangeHeader:
      return "change-header";
    case T::kChangeFrom:
      return "change-from";
    case T::kAddRecipient:
      return "add-recipient";
    case T::kAddRecipientWithArgs:
      return "add-recipient-with-args";
    case T::kDeleteRecipient:
      return "delete-recipient";
    case T::kReplaceBody:
      return "replace-body";
  }
  return "?";
}

std::string ToString(const Modification& m) {
  using T = Modification::Type;
  const char* type = ModificationTypeName(m.type);
  switch (m.type) {
    case T::kAddHeader:
      return absl::StrCat(type, " ", m.name, ": ", Quoted(m.value));
    case T::kInsertHeader:
    case T::kChangeHeader:
      return absl::StrCat(type, "[", m.index, "] ", m.name, ": ",
                          Quoted(m.value));
    case T::kChangeFrom:
    case T::kAddRecipientWithArgs:
      return absl::StrCat(type, " ", m.value, m.args.empty() ? "" : " ",
                          m.args);
    case T::kAddRecipient:
    case T::kDeleteRecipient:
      return absl::StrCat(type, " ", m.value);
    case T::kReplaceBody:
      return absl::StrCat(
          type, " (", m.value.size(), " bytes) ",
          Quoted(m.value.size() <= 64 ? m.value
                                      : m.value.substr(0, 64) + "..."));
  }
  return type;
}

uint32_t RequiredAction(Modification::Type type) {
  using T = Modification::Type;
  namespace a = codec::action;
  switch (type) {
    case T::kAddHeader:
      return a::kAddHeaders;
    case T::kInsertHeader:
      return a::kAddHeaders;
    case T::kChangeHeader:
      return a::kChangeHeaders;
    case T::kChangeFrom:
      return a::kChangeFrom;
    case T::kAddRecipient:
      return a::kAddRecipient;
    case T::kAddRecipientWithArgs:
      return a::kAddRecipientWithArgs;
    case T::kDeleteRecipient:
      return a::kDeleteRecipient;
    case T::kReplaceBody:
      return a::kChangeBody;
  }
  return 0;
}

}  // namespace milter::server
