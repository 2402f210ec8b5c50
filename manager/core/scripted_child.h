// Test-only child milters for the manager's scenario tests: a filter built
// on milter/client whose answer at each stage is a script (a function), and
// a server that runs it on a unix socket on its own thread. What the filter
// saw (headers, body, stages) is recorded for assertions.

#ifndef MANAGER_CORE_SCRIPTED_CHILD_H_
#define MANAGER_CORE_SCRIPTED_CHILD_H_

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "milter/client/filter_factory.h"
#include "milter/client/runner.h"

namespace milter::manager::testing {

// What a scripted child does; every hook defaults to continue.
struct ChildScript {
  using Hook = std::function<client::Status(client::Context&)>;
  Hook connect, helo, mail, data, eoh, eom;
  std::function<client::Status(client::Context&, std::string_view)> rcpt;
  std::function<client::Status(client::Context&, std::string_view,
                               std::string_view)>
      header;
  client::FilterOptions options;
};

// What every session of a child saw, in order.
struct ChildLog {
  std::mutex mu;
  std::condition_variable changed;  // notified on every new event
  std::vector<std::string> events;  // "connect", "header Subject: x", ...
  std::vector<std::string> bodies;  // each message's whole body
  std::vector<std::string> Events() {
    std::lock_guard<std::mutex> lock(mu);
    return events;
  }
  std::vector<std::string> Bodies() {
    std::lock_guard<std::mutex> lock(mu);
    return bodies;
  }
  // Waits (up to 10 s) until `event` has been seen; false if it was not.
  bool WaitFor(const std::string& event) {
    std::unique_lock<std::mutex> lock(mu);
    return changed.wait_for(lock, std::chrono::seconds(10), [&] {
      for (const std::string& e : events) {
        if (e == event) return true;
      }
      return false;
    });
  }
};

class ScriptedChild {
 public:
  // Listens on a fresh unix socket under `dir`.
  ScriptedChild(const std::string& dir, const std::string& name,
                ChildScript script);
  ~ScriptedChild();
  const std::string& spec() const { return spec_; }
  ChildLog& log() { return *log_; }

 private:
  std::string spec_;
  std::shared_ptr<ChildLog> log_;
  std::unique_ptr<client::Runner> runner_;
  std::thread thread_;
};

}  // namespace milter::manager::testing

#endif  // MANAGER_CORE_SCRIPTED_CHILD_H_
