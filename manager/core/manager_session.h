// One MTA connection of the milter manager: to the MTA a filter (a
// client::CoroutineFilter on the event loop), to each child an MTA (one
// server::Session per child, on the same executor). It combines the children
// as the MTA would chain them (see merge.h and docs/milter-manager.md):
//
// - Negotiation: every enabled child is connected and negotiated at once;
//   the MTA is asked for the union of their needs.
// - Envelope stages (connect, helo, MAIL, RCPT, DATA, unknown) go to every
//   child taking part, concurrently; the most severe answer wins; a child's
//   accept ends only its own part; reject and tempfail at RCPT refuse that
//   recipient only.
// - Content (headers, end of headers, body, end of message) goes to the
//   children one after another: the first gets it as it arrives, the others
//   get it replayed from the message store at end of message, each seeing
//   the message as the earlier children changed it. The MTA gets every
//   change in order (one body replacement, the last change-from and
//   quarantine at most).
// - A child that fails contributes its fallback status and is left out for
//   the rest of the session; evaluation-mode children are asked, logged and
//   otherwise ignored. With a health registry (ManagerShared::health) its
//   failures and successful negotiations are reported there, and a child
//   that is down (its circuit open) or starting gives its fallback at once,
//   without being contacted.
// - Applicable conditions (manager/conditions) decide before each stage
//   whether a child takes part; the shared allow and deny lists answer for
//   all children before they are asked.
// - A script child (ScriptLink) is a child like the others, except at the
//   envelope stages: it is asked after the children before it have
//   answered (it sees their answers) and before the children after it
//   (it may switch them off or on, or set the macros they get).
//
// Not thread-safe: lives on the MTA connection's executor.

#ifndef MANAGER_CORE_MANAGER_SESSION_H_
#define MANAGER_CORE_MANAGER_SESSION_H_

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "manager/conditions/access_lists.h"
#include "manager/conditions/condition_set.h"
#include "manager/config/config.pb.h"
#include "manager/core/applicability.h"
#include "manager/core/child.h"
#include "manager/core/child_pool.h"
#include "manager/core/message_store.h"
#include "manager/core/script_link.h"
#include "manager/core/session_helpers.h"
#include "manager/core/session_log.h"
#include "manager/metrics/metrics.h"
#include "manager/script/runtime.h"
#include "manager/supervise/health.h"
#include "milter/client/filter.h"
#include "milter/codec/modification.h"

namespace milter::manager {

// Where the manager's log lines go: one line each, level first.
using LogSink = std::function<void(config::LogLevel, std::string_view)>;

// What the sessions of one manager share: the configuration in force and
// what was built from it (one generation: a reload makes a new one, and
// sessions in flight keep theirs), and what lives as long as the process
// (the log, the count of sessions, the children's health), carried from
// one generation to the next. Thread-safe (the counter is atomic, the
// health registry thread-safe, the rest immutable).
struct ManagerShared {
  std::shared_ptr<const config::ManagerConfig> config;
  std::shared_ptr<const conditions::ConditionSet> conditions;  // may be null
  std::shared_ptr<const conditions::AccessLists> access;       // may be null
  LogSink log;                                                 // may be empty
  // The children's health across sessions and reloads: the circuit
  // breaker (manager/supervise/health.h). May be null: every child is
  // always tried.
  std::shared_ptr<HealthRegistry> health;
  // Process-wide; survives configuration reloads.
  std::shared_ptr<metrics::Metrics> metrics;  // may be null
  // Where script children and scripted conditions run (their Engines and
  // store); process-wide, survives reloads. May be null: a default one.
  std::shared_ptr<script::Runtime> scripts;
  // Idle child connections between MTA sessions (child_pool.h); may be
  // null: a connection per session. Survives reloads.
  std::shared_ptr<ChildPool> pool;
  // MTA connections being served, over all generations.
  std::shared_ptr<std::atomic<size_t>> active_sessions =
      std::make_shared<std::atomic<size_t>>(0);
};

class ManagerSession : public client::CoroutineFilter, public ScriptHost {
 public:
  using Status = client::Status;
  using Context = client::Context;

  explicit ManagerSession(std::shared_ptr<const ManagerShared> shared);
  ~ManagerSession() override;

  asio::awaitable<Status> OnNegotiate(Context&, client::Negotiation&) override;
  asio::awaitable<Status> OnConnect(Context&,
                                    const client::ConnectionInfo&) override;
  asio::awaitable<Status> OnHelo(Context&, std::string_view) override;
  asio::awaitable<Status> OnMailFrom(Context&, std::string_view,
                                     client::EsmtpArgs) override;
  asio::awaitable<Status> OnRcptTo(Context&, std::string_view,
                                   client::EsmtpArgs) override;
  asio::awaitable<Status> OnData(Context&) override;
  asio::awaitable<Status> OnUnknown(Context&, std::string_view) override;
  asio::awaitable<Status> OnHeader(Context&, std::string_view,
                                   std::string_view) override;
  asio::awaitable<Status> OnEndOfHeaders(Context&) override;
  asio::awaitable<Status> OnBody(Context&, std::string_view) override;
  asio::awaitable<Status> OnEndOfMessage(Context&) override;
  asio::awaitable<void> OnAbort(Context&) override;
  asio::awaitable<void> OnClose(Context&) override;

  // ScriptHost.
  const std::vector<script::ChildAnswer>& ChildAnswers() const override {
    return answers_;
  }
  const std::vector<std::string>& ChildNames() const override {
    return child_names_;
  }
  void ScriptRequests(const std::string& child,
                      const script::Session& requests) override;

 private:
  using StageCall =
      std::function<asio::awaitable<absl::StatusOr<server::Verdict>>(Child&)>;
  // What a verdict concerns: the SMTP session (connect, helo), the message
  // (MAIL on), or one command only (reject/tempfail at RCPT or an unknown
  // command refuse just that).
  enum class Scope { kSession, kMessage, kCommand };
  // What the children said to one stage.
  struct Outcome {
    Status status = Status::kContinue;  // the most severe objection
    std::string reply;                  // of the child whose verdict won
    bool objected = false;              // anything but accept/continue/skip
    // Keeps the more severe of this and `other`.
    void Merge(const Outcome& other);
  };

  // Asks every child taking the stage (`no_send_flag`) at once, in waves
  // where applicable conditions make a child wait for others; merges.
  asio::awaitable<Status> Envelope(Context& ctx, config::Stage stage,
                                   uint32_t no_send_flag,
                                   uint32_t no_reply_flag, Scope scope,
                                   StageCall call);
  // Asks `child` (`call`) unless its applicable conditions stop it there.
  asio::awaitable<void> Ask(Child& child, config::Stage stage,
                            const StageCall* call,
                            absl::StatusOr<server::Verdict>* out);
  // False (and the child stopped for the decision's scope, logged) when
  // its conditions do not hold at `stage`.
  asio::awaitable<bool> Applies(Child& child, config::Stage stage);
  // The shared allow and deny lists at `stage`: nullopt when no entry
  // matches, else the manager's answer.
  std::optional<Status> CheckAccess(Context& ctx, config::Stage stage);
  // With conditions or lists, the MTA is asked for the stages (and the
  // macros) they read, and with lists for answers where they may object.
  void AskForFacts(MtaRequest* request) const;
  // Folds one child's answer (or failure) into `outcome`.
  void Consider(Child& child, const absl::StatusOr<server::Verdict>& result,
                Scope scope, Outcome* outcome);
  // The manager's answer: `outcome` with deferred verdicts, the reply set.
  // At a stage the MTA does not wait an answer for (`no_reply_flag` in
  // force) an objection is deferred to the next answered stage.
  Status Answer(Context& ctx, Outcome outcome, Scope scope,
                uint32_t no_reply_flag);
  // The content stages for the child that gets content as it arrives.
  asio::awaitable<Status> Stream(Context& ctx, config::Stage stage,
                                 uint32_t no_send_flag, uint32_t no_reply_flag,
                                 StageCall call);
  // The first chained child: it gets content as it arrives.
  Child* Lead();
  // Replays the stored message to `child` up to its end of message.
  asio::awaitable<absl::StatusOr<server::EndOfMessageResult>> Replay(
      Context& ctx, Child& child);
  // Applies `child`'s changes to the stored message (what later children
  // are shown).
  absl::Status ApplyToStore(Child& child,
                            const std::vector<codec::Modification>& changes);
  // Queues `child`'s changes for the MTA, header values raw.
  void QueueForMta(Child& child,
                   const std::vector<codec::Modification>& changes);
  using EomResult = absl::StatusOr<server::EndOfMessageResult>;
  // End of message for the chained children, one after another; results by
  // child index.
  asio::awaitable<void> RunChain(Context& ctx, std::vector<EomResult>* results);
  // The children that get content as it arrives: the lead and those with
  // concurrent_content, when they take the stage.
  std::vector<Child*> Streamed(uint32_t no_send_flag);
  // Sends the queued changes to the MTA.
  void SendChanges(Context& ctx);
  // Checks every connection_check_interval, while the children work on the
  // end of a message, that the SMTP client is still there; when it is gone
  // the children are given up (see OnEndOfMessage). Null when not checking.
  struct ClientWatch;
  std::shared_ptr<ClientWatch> WatchClient(asio::any_io_executor executor);
  // The answer when the client went during the end of message:
  // fallback_status_at_disconnect.
  Status ClientGone(Context& ctx);
  // Whether an objection kept from a content stage (which the MTA read no
  // answer for) has ended the message: the rest of it goes to no child.
  bool MessageEnded() const {
    return deferred_.has_value() && deferred_->objected &&
           internal::EndsMessage(deferred_->status);
  }
  void Log(config::LogLevel level, std::string_view line) const;
  std::string QueueId(const Context& ctx) const;
  // The macros of `stage` for the children: the MTA's, with those scripts
  // set (the returned pairs stay valid until the next message).
  const server::Macros& MacrosFor(Context& ctx, codec::MacroStage stage);
  // Records what `child` answered at `stage` for the scripts.
  void RecordAnswer(const Child& child, config::Stage stage,
                    const server::Verdict& verdict);
  // For a child a script switched off or on: whether it is asked at
  // `stage` (a switch off stops it as a failing condition would; a switch
  // on passes over its conditions).
  asio::awaitable<bool> ScriptSwitch(Child& child, config::Stage stage);

  std::shared_ptr<const ManagerShared> shared_;
  const config::ManagerConfig* config_;
  Applicability applicability_;
  std::vector<std::unique_ptr<Child>> children_;
  client::ConnectionInfo client_;  // as the connect stage gave it
  SessionLog lines_;               // the structured log lines
  MessageStore store_;
  Child* lead_ = nullptr;  // set at the message's first content stage
  bool lead_chosen_ = false;
  // An objection that could not be given at a stage without reply (or at
  // negotiation), for the next answered stage.
  std::optional<Outcome> deferred_;
  // Whether the manager's own fallback was given (every child failed).
  bool own_fallback_given_ = false;
  // Changes for the MTA, header values raw.
  std::vector<codec::Modification> changes_;
  // For the scripts: the children's names and answers, the macros they set
  // (and the pairs made with them, kept for the children reading them).
  std::vector<std::string> child_names_;
  std::vector<script::ChildAnswer> answers_;
  server::Macros macro_overrides_;
  std::vector<std::unique_ptr<server::Macros>> merged_macros_;
};

}  // namespace milter::manager

#endif  // MANAGER_CORE_MANAGER_SESSION_H_
