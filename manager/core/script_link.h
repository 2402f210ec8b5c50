// ScriptLink: a child that is a policy script run inside the manager
// (ChildConfig.script; docs/scripting.md). At each stage it updates the
// facts a script sees (script/session.h) and, when the script has a
// handler for the stage, calls it on the calling thread's Engine; the
// handler's verdict, reply and (at end of message) changes are the child's
// answer, merged by the same rules as a milter's.
//
// Handlers: a method per stage in `script.file` (on_connect ... on_close),
// or a file per stage whose top-level code is the handler (Pmilter's
// layout, `script.handler`). The stages without a handler are negotiated
// away, except that the headers (and end of headers) are taken when a
// content handler needs them.
//
// Failure: a handler that raises, runs past `script.time_limit` or returns
// something that is not a verdict gives the child's fallback_status for
// that stage (the engine logs FILE:LINE and why); the script stays in the
// session. Only a method file that cannot be loaded at all (missing, or
// never compiled) makes Open fail, so the child is out with its fallback.
//
// The handler runs on the event loop's thread: a script must be quick (the
// time limit bounds it).

#ifndef MANAGER_CORE_SCRIPT_LINK_H_
#define MANAGER_CORE_SCRIPT_LINK_H_

#include <array>
#include <string>
#include <vector>

#include "manager/core/child_link.h"
#include "manager/script/runtime.h"
#include "manager/script/session.h"

namespace milter::manager {

// What a script shares with its MTA session (ManagerSession implements it).
class ScriptHost {
 public:
  virtual ~ScriptHost() = default;
  // The children's answers so far in this session.
  virtual const std::vector<script::ChildAnswer>& ChildAnswers() const = 0;
  // The names of the configured children, in order.
  virtual const std::vector<std::string>& ChildNames() const = 0;
  // After each handler call of script child `child`: its child switches
  // and macro settings (`requests.switches`, `requests.macro_sets`).
  virtual void ScriptRequests(const std::string& child,
                              const script::Session& requests) = 0;
};

class ScriptLink : public ChildLink {
 public:
  // `runtime` and `host` outlive the link.
  ScriptLink(const config::ChildConfig& config,
             const codec::OptionNegotiation& offer, script::Runtime* runtime,
             ScriptHost* host);

  asio::awaitable<absl::Status> Open() override;
  asio::awaitable<VerdictOr> ConnectStage(const codec::ConnectionInfo& info,
                                          const Macros& macros) override;
  asio::awaitable<VerdictOr> Helo(std::string_view name,
                                  const Macros& macros) override;
  asio::awaitable<VerdictOr> Mail(std::string_view address,
                                  codec::EsmtpArgs args,
                                  const Macros& macros) override;
  asio::awaitable<VerdictOr> Rcpt(std::string_view address,
                                  codec::EsmtpArgs args,
                                  const Macros& macros) override;
  asio::awaitable<VerdictOr> Data(const Macros& macros) override;
  asio::awaitable<VerdictOr> Unknown(std::string_view command) override;
  asio::awaitable<VerdictOr> Header(std::string_view name,
                                    std::string_view value) override;
  asio::awaitable<VerdictOr> EndOfHeaders(const Macros& macros) override;
  asio::awaitable<VerdictOr> BodyChunk(std::string_view chunk) override;
  asio::awaitable<EndOfMessageOr> EndOfMessage(const Macros& macros) override;
  asio::awaitable<absl::Status> Abort() override;
  asio::awaitable<absl::Status> Quit() override;
  void Abandon(absl::Status) override {}
  void set_on_progress(std::function<void()>) override {}
  const codec::NegotiatedOptions& negotiated() const override {
    return negotiated_;
  }
  bool negotiated_ok() const override { return opened_; }
  bool header_leading_space() const override { return false; }
  const std::optional<std::string>& symbol_list(
      codec::MacroStage) const override {
    return default_list_;
  }

 private:
  // Where a stage's handler is: a file and a method in it, or a file run
  // whole (empty method). Empty file: no handler.
  struct Handler {
    std::string file, method;
    absl::Duration time_limit;
    codec::Status fallback;
  };
  // Runs the handler of `stage` (if any) and gives its verdict.
  server::Verdict Run(script::Stage stage);
  void AddMacros(codec::MacroStage stage, const Macros& macros);
  bool Has(script::Stage stage) const {
    return !handlers_[static_cast<int>(stage)].file.empty();
  }

  const config::ChildConfig& config_;
  script::Runtime* runtime_;
  ScriptHost* host_;
  codec::NegotiatedOptions negotiated_;
  std::array<Handler, script::kNumStages> handlers_;
  bool opened_ = false;
  codec::MacroMap macros_;
  script::Session session_;
  std::string body_chunk_;  // the body chunk the handler reads
  std::optional<std::string> default_list_;
};

}  // namespace milter::manager

#endif  // MANAGER_CORE_SCRIPT_LINK_H_
