// The manager's status document (GET /status, docs/milter-manager.md,
// "Status"): what a StatusProvider and the metrics registry say, as JSON;
// and that document as text for a person (`milter-manager --status`).
//
// The document is an object:
//   version          string   the manager's version
//   started          string   RFC 3339 UTC time the manager started
//   uptime_seconds   number
//   configuration    string   the configuration in force (protobuf text)
//   children         array    one object per child: name, health
//                             ("up", "starting", "down", "disabled"), since
//                             (RFC 3339 or null), launched, pid, restarts,
//                             failures, last_error, sessions,
//                             mean_latency_seconds
//   counters         object   sessions_total, sessions_active, messages
//                             (an object: verdict -> count)

#ifndef MANAGER_STATUS_STATUS_DOCUMENT_H_
#define MANAGER_STATUS_STATUS_DOCUMENT_H_

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "manager/metrics/metrics.h"
#include "manager/status/json.h"
#include "manager/supervise/child_state.h"

namespace milter::manager::status {

// What the status server asks the running manager. Every member may be
// empty: no configuration text, no children, reload unimplemented. They
// are called on the server's thread, one request at a time.
struct StatusProvider {
  std::function<std::string()> configuration;  // protobuf text
  std::function<std::vector<ChildState>()> children;
  // Rereads and applies the configuration; the error says why not.
  std::function<absl::Status()> reload;
};

// The document; `metrics` may be null (counters then 0).
std::string StatusJson(const StatusProvider& provider,
                       const metrics::Metrics* metrics,
                       std::string_view version, absl::Time now);

// The document for a person: version and uptime, counters, a table of the
// children. Missing members show as "-".
std::string FormatStatus(const JsonValue& document);

}  // namespace milter::manager::status

#endif  // MANAGER_STATUS_STATUS_DOCUMENT_H_
