// Test-only scaffolding for the manager's scenario tests: a manager served
// on a unix socket on its own thread, configuration snippets for scripted
// children, and the MTA's side of a typical session.

#ifndef MANAGER_CORE_TEST_MANAGER_H_
#define MANAGER_CORE_TEST_MANAGER_H_

#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "manager/core/manager.h"
#include "manager/core/scripted_child.h"
#include "milter/server/blocking_session.h"

namespace milter::manager::testing {

// A fresh directory under /tmp (Bazel's test directory is too deep for
// unix socket paths).
std::string TempDir();

// A manager on a unix socket in `dir`, configured with `extra` (top-level
// fields) and `children_text`, running on a thread until destroyed.
class ManagerUnderTest {
 public:
  ManagerUnderTest(const std::string& dir, const std::string& children_text,
                   const std::string& extra = "", LogSink log = nullptr,
                   std::shared_ptr<metrics::Metrics> metrics = nullptr);
  ~ManagerUnderTest();
  const std::string& spec() const { return spec_; }
  Manager& manager() { return *manager_; }

 private:
  std::unique_ptr<Manager> manager_;
  std::string spec_;
  std::thread thread_;
};

// The manager's log lines, kept for assertions. Thread-safe.
struct Lines {
  std::mutex mu;
  std::vector<std::string> lines;
  LogSink Sink();
  // Every line so far, each ending in a newline.
  std::string All();
};

// "child { name: NAME connection_spec: ... EXTRA }".
std::string ChildEntry(const std::string& name, const ScriptedChild& c,
                       const std::string& extra = "");

// mx.example.net, 192.0.2.1, port 40000.
server::ConnectionInfo Client();

// Connect, helo, MAIL <a@example.org>, RCPT <b@example.org>; the RCPT
// verdict.
server::Decision Envelope(server::BlockingSession& mta);

// Three headers, end of headers, `body`, end of message (queue ID QID1).
absl::StatusOr<server::EndOfMessageResult> Content(server::BlockingSession& mta,
                                                   const std::string& body);

}  // namespace milter::manager::testing

#endif  // MANAGER_CORE_TEST_MANAGER_H_
