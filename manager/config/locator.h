// Where a field of the configuration was written, for error messages after
// parsing: "file:line:column: ". Internal to manager/config.

#ifndef MANAGER_CONFIG_LOCATOR_H_
#define MANAGER_CONFIG_LOCATOR_H_

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "google/protobuf/text_format.h"

namespace milter::manager::config_internal {

class Locator {
 public:
  // `tree` holds the locations of a parsed ManagerConfig; it may be null
  // (then only the file is named).
  Locator(std::string_view file,
          const google::protobuf::TextFormat::ParseInfoTree* tree)
      : file_(file), tree_(tree) {}

  // "file:line:col: " of `field` of element `index` of the top-level
  // repeated field `list` ("child", "applicable_condition"), or of the top
  // level when `list` is null. Falls back to the element's own position
  // when `field` was not written, and to "file: " when nothing was.
  std::string Where(const char* list, int index, const char* field) const;

  // The same, for a field of the top-level message `message` ("access").
  std::string WhereIn(const char* message, const char* field) const;

 private:
  std::string file_;
  const google::protobuf::TextFormat::ParseInfoTree* tree_;
};

// InvalidArgument with `where` (a Locator position) before `what`.
absl::Status Invalid(const std::string& where, const std::string& what);

// 1 to 64 letters, digits, '-', '_' or '.'.
bool ValidName(const std::string& name);

}  // namespace milter::manager::config_internal

#endif  // MANAGER_CONFIG_LOCATOR_H_
