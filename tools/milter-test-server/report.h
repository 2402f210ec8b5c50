// milter-test-server's output: human-readable text or JSON, for one session
// (status, reply, modifications, resulting message) or many (counts,
// throughput, latency percentiles).

#ifndef TOOLS_MILTER_TEST_SERVER_REPORT_H_
#define TOOLS_MILTER_TEST_SERVER_REPORT_H_

#include <optional>
#include <string>

#include "milter/server/mail_message.h"
#include "tools/milter-test-server/run.h"

namespace milter_test_server {

// `message`: the resulting message, if --output-message.
std::string FormatOutcome(const Outcome& outcome,
                          const milter::server::MailMessage* message,
                          bool json);
std::string FormatSummary(const Summary& summary, int concurrency, bool json);

// JSON string literal for arbitrary bytes (non-UTF-8 bytes as \u00XX).
std::string JsonString(std::string_view s);

}  // namespace milter_test_server

#endif  // TOOLS_MILTER_TEST_SERVER_REPORT_H_
