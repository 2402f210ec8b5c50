// Owned modifications: names, descriptions, required actions, conversion
// from decoded responses, and encoding.

#include "milter/codec/modification.h"

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "milter/codec/encoder.h"
#include "milter/codec/reply.h"

namespace milter::codec {
namespace {

template <class... Ts>
struct Overloaded : Ts... {
  using Ts::operator()...;
};
template <class... Ts>
Overloaded(Ts...) -> Overloaded<Ts...>;

std::string Quoted(std::string_view s) {
  return absl::StrCat(
      "\"", absl::CEscape(absl::string_view(s.data(), s.size())), "\"");
}

std::string ArgsSuffix(const std::optional<std::string>& args) {
  return args && !args->empty() ? absl::StrCat(" ", *args) : "";
}

}  // namespace

const char* ModificationName(const Modification& m) {
  return std::visit(
      Overloaded{
          [](const mod::AddHeader&) { return "add-header"; },
          [](const mod::InsertHeader&) { return "insert-header"; },
          [](const mod::ChangeHeader&) { return "change-header"; },
          [](const mod::ChangeFrom&) { return "change-from"; },
          [](const mod::AddRecipient& r) {
            return r.args ? "add-recipient-with-args" : "add-recipient";
          },
          [](const mod::DeleteRecipient&) { return "delete-recipient"; },
          [](const mod::ReplaceBody&) { return "replace-body"; },
          [](const mod::Quarantine&) { return "quarantine"; },
      },
      m);
}

std::string ToString(const Modification& m) {
  const char* name = ModificationName(m);
  return std::visit(
      Overloaded{
          [&](const mod::AddHeader& h) {
            return absl::StrCat(name, " ", h.name, ": ", Quoted(h.value));
          },
          [&](const mod::InsertHeader& h) {
            return absl::StrCat(name, "[", h.index, "] ", h.name, ": ",
                                Quoted(h.value));
          },
          [&](const mod::ChangeHeader& h) {
            return absl::StrCat(name, "[", h.index, "] ", h.name, ": ",
                                Quoted(h.value));
          },
          [&](const mod::ChangeFrom& c) {
            return absl::StrCat(name, " ", c.address, ArgsSuffix(c.args));
          },
          [&](const mod::AddRecipient& r) {
            return absl::StrCat(name, " ", r.address, ArgsSuffix(r.args));
          },
          [&](const mod::DeleteRecipient& r) {
            return absl::StrCat(name, " ", r.address);
          },
          [&](const mod::ReplaceBody& b) {
            std::string shown =
                b.data.size() <= 64 ? b.data : b.data.substr(0, 64) + "...";
            return absl::StrCat(name, " (", b.data.size(), " bytes) ",
                                Quoted(shown));
          },
          [&](const mod::Quarantine& q) {
            return absl::StrCat(name, " ", Quoted(q.reason));
          },
      },
      m);
}

uint32_t RequiredAction(const Modification& m) {
  return std::visit(
      Overloaded{
          [](const mod::AddHeader&) { return action::kAddHeaders; },
          [](const mod::InsertHeader&) { return action::kAddHeaders; },
          [](const mod::ChangeHeader&) { return action::kChangeHeaders; },
          [](const mod::ChangeFrom&) { return action::kChangeFrom; },
          [](const mod::AddRecipient& r) {
            return r.args ? action::kAddRecipientWithArgs
                          : action::kAddRecipient;
          },
          [](const mod::DeleteRecipient&) { return action::kDeleteRecipient; },
          [](const mod::ReplaceBody&) { return action::kChangeBody; },
          [](const mod::Quarantine&) { return action::kQuarantine; },
      },
      m);
}

size_t WireSize(const Modification& m) {
  constexpr size_t kHeader = kLengthBytes + 1;  // length prefix, code
  return std::visit(
      Overloaded{
          [&](const mod::AddHeader& h) {
            return kHeader + h.name.size() + h.value.size() + 2;
          },
          [&](const mod::InsertHeader& h) {
            return kHeader + 4 + h.name.size() + h.value.size() + 2;
          },
          [&](const mod::ChangeHeader& h) {
            return kHeader + 4 + h.name.size() + h.value.size() + 2;
          },
          [&](const mod::ChangeFrom& c) {
            return kHeader + c.address.size() + 1 +
                   (c.args ? c.args->size() + 1 : 0);
          },
          [&](const mod::AddRecipient& r) {
            return kHeader + r.address.size() + 1 +
                   (r.args ? r.args->size() + 1 : 0);
          },
          [&](const mod::DeleteRecipient& r) {
            return kHeader + r.address.size() + 1;
          },
          [&](const mod::ReplaceBody& b) {
            size_t chunks =
                b.data.empty()
                    ? 1
                    : (b.data.size() + kBodyChunkSize - 1) / kBodyChunkSize;
            return chunks * kHeader + b.data.size();
          },
          [&](const mod::Quarantine& q) {
            return kHeader + q.reason.size() + 1;
          },
      },
      m);
}

std::optional<Modification> ModificationOf(const Response& response) {
  using Result = std::optional<Modification>;
  return std::visit(
      Overloaded{
          [](const AddHeader& h) -> Result {
            return mod::AddHeader{std::string(h.name), std::string(h.value)};
          },
          [](const InsertHeader& h) -> Result {
            return mod::InsertHeader{h.index, std::string(h.name),
                                     std::string(h.value)};
          },
          [](const ChangeHeader& h) -> Result {
            return mod::ChangeHeader{h.index, std::string(h.name),
                                     std::string(h.value)};
          },
          [](const ChangeFrom& c) -> Result {
            mod::ChangeFrom m{std::string(c.address), std::nullopt};
            if (c.args) m.args = std::string(*c.args);
            return m;
          },
          [](const AddRecipient& r) -> Result {
            return mod::AddRecipient{std::string(r.address), std::nullopt};
          },
          [](const AddRecipientWithArgs& r) -> Result {
            return mod::AddRecipient{std::string(r.address),
                                     std::string(r.args)};
          },
          [](const DeleteRecipient& r) -> Result {
            return mod::DeleteRecipient{std::string(r.address)};
          },
          [](const ReplaceBody& b) -> Result {
            return mod::ReplaceBody{std::string(b.data)};
          },
          [](const Quarantine& q) -> Result {
            return mod::Quarantine{std::string(q.reason)};
          },
          [](const auto&) -> Result { return std::nullopt; },
      },
      response);
}

void EncodeModification(const Modification& m, std::string* out) {
  std::visit(
      Overloaded{
          [&](const mod::AddHeader& h) {
            EncodeResponse(AddHeader{h.name, h.value}, out);
          },
          [&](const mod::InsertHeader& h) {
            EncodeResponse(InsertHeader{h.index, h.name, h.value}, out);
          },
          [&](const mod::ChangeHeader& h) {
            EncodeResponse(ChangeHeader{h.index, h.name, h.value}, out);
          },
          [&](const mod::ChangeFrom& c) {
            ChangeFrom r{c.address, std::nullopt};
            if (c.args) r.args = *c.args;
            EncodeResponse(r, out);
          },
          [&](const mod::AddRecipient& r) {
            if (r.args) {
              EncodeResponse(AddRecipientWithArgs{r.address, *r.args}, out);
            } else {
              EncodeResponse(AddRecipient{r.address}, out);
            }
          },
          [&](const mod::DeleteRecipient& r) {
            EncodeResponse(DeleteRecipient{r.address}, out);
          },
          [&](const mod::ReplaceBody& b) {
            if (b.data.empty()) EncodeResponse(ReplaceBody{""}, out);
            for (std::string_view chunk : SplitBody(b.data, kBodyChunkSize)) {
              EncodeResponse(ReplaceBody{chunk}, out);
            }
          },
          [&](const mod::Quarantine& q) {
            EncodeResponse(Quarantine{q.reason}, out);
          },
      },
      m);
}

}  // namespace milter::codec
