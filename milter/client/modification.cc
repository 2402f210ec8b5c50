#include "milter/client/modification.h"

#include "absl/strings/str_cat.h"

namespace milter::client {

std::string DescribeModification(const Modification& m) {
  struct Visitor {
    std::string operator()(const mod::AddHeader& h) {
      return absl::StrCat("add-header ", h.name, ":", h.value);
    }
    std::string operator()(const mod::InsertHeader& h) {
      return absl::StrCat("insert-header ", h.index, " ", h.name, ":", h.value);
    }
    std::string operator()(const mod::ChangeHeader& h) {
      return absl::StrCat("change-header ", h.index, " ", h.name, ":", h.value);
    }
    std::string operator()(const mod::ChangeFrom& c) {
      return absl::StrCat("change-from ", c.address,
                          c.args ? absl::StrCat(" ", *c.args) : "");
    }
    std::string operator()(const mod::AddRecipient& r) {
      return absl::StrCat("add-recipient ", r.address,
                          r.args ? absl::StrCat(" ", *r.args) : "");
    }
    std::string operator()(const mod::DeleteRecipient& r) {
      return absl::StrCat("delete-recipient ", r.address);
    }
    std::string operator()(const mod::ReplaceBody& b) {
      return absl::StrCat("replace-body ", b.data.size(), " bytes");
    }
    std::string operator()(const mod::Quarantine& q) {
      return absl::StrCat("quarantine ", q.reason);
    }
  };
  return std::visit(Visitor{}, m);
}

}  // namespace milter::client
