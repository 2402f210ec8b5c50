// Field positions of a parsed configuration, for error messages.

#include "manager/config/locator.h"

#include "absl/strings/str_cat.h"
#include "manager/config/config.pb.h"

namespace milter::manager::config_internal {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::TextFormat;

namespace {

// The position of `field` of `type` in `tree`, or `at` when absent.
TextFormat::ParseLocation FieldOr(const TextFormat::ParseInfoTree* tree,
                                  const Descriptor* type, const char* field,
                                  TextFormat::ParseLocation at) {
  if (tree == nullptr || field == nullptr) return at;
  const FieldDescriptor* f = type->FindFieldByName(field);
  if (f == nullptr) return at;
  auto loc = tree->GetLocation(f, f->is_repeated() ? 0 : -1);
  return loc.line >= 0 ? loc : at;
}

}  // namespace

std::string Locator::Where(const char* list, int index,
                           const char* field) const {
  const Descriptor* type = config::ManagerConfig::descriptor();
  const TextFormat::ParseInfoTree* tree = tree_;
  TextFormat::ParseLocation at;
  if (tree_ != nullptr && list != nullptr) {
    const FieldDescriptor* f = type->FindFieldByName(list);
    if (f != nullptr && f->message_type() != nullptr) {
      at = tree_->GetLocation(f, index);
      tree = tree_->GetTreeForNested(f, index);
      type = f->message_type();
    }
  }
  at = FieldOr(tree, type, field, at);
  if (at.line < 0) return absl::StrCat(file_, ": ");
  return absl::StrCat(file_, ":", at.line + 1, ":", at.column + 1, ": ");
}

std::string Locator::WhereIn(const char* message, const char* field) const {
  const Descriptor* top = config::ManagerConfig::descriptor();
  const FieldDescriptor* f = top->FindFieldByName(message);
  if (tree_ == nullptr || f == nullptr || f->message_type() == nullptr) {
    return absl::StrCat(file_, ": ");
  }
  TextFormat::ParseLocation at = tree_->GetLocation(f, -1);
  at = FieldOr(tree_->GetTreeForNested(f, -1), f->message_type(), field, at);
  if (at.line < 0) return absl::StrCat(file_, ": ");
  return absl::StrCat(file_, ":", at.line + 1, ":", at.column + 1, ": ");
}

absl::Status Invalid(const std::string& where, const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat(where, what));
}

bool ValidName(const std::string& name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
    if (!ok) return false;
  }
  return true;
}

}  // namespace milter::manager::config_internal
