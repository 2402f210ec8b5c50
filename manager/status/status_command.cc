// PrintStatus: GET /status, then the document as text.

#include "manager/status/status_command.h"

#include "absl/strings/str_cat.h"
#include "manager/status/http_client.h"
#include "manager/status/json.h"
#include "manager/status/status_document.h"

namespace milter::manager::status {
namespace {

int Error(std::FILE* err, const std::string& message) {
  std::string line = absl::StrCat("milter-manager: ", message, "\n");
  std::fwrite(line.data(), 1, line.size(), err);
  return 1;
}

}  // namespace

int PrintStatus(const std::string& spec, std::FILE* out, std::FILE* err) {
  if (spec.empty()) {
    return Error(err,
                 "no status listener is configured (set status_listen in the "
                 "configuration, or give --status-listen SPEC)");
  }
  absl::StatusOr<HttpResponse> response = HttpRequest(spec, "GET", "/status");
  if (!response.ok()) {
    return Error(err, absl::StrCat("status: ", response.status().message(),
                                   " (is the manager running?)"));
  }
  if (response->code != 200) {
    return Error(
        err, absl::StrCat("status: ", spec, " answered HTTP ", response->code));
  }
  absl::StatusOr<JsonValue> document = ParseJson(response->body);
  if (!document.ok() || document->type != JsonValue::Type::kObject) {
    return Error(err, absl::StrCat("status: ", spec,
                                   " did not answer a status document"));
  }
  std::string text = FormatStatus(*document);
  std::fwrite(text.data(), 1, text.size(), out);
  return 0;
}

}  // namespace milter::manager::status
