// How the manager talks to one child within one MTA session: the stages of
// the milter protocol as the MTA side sends them. Two kinds of child:
//
//   SocketLink  a milter reached over a socket (server::Session),
//   ScriptLink  a policy script run inside the manager (script_link.h).
//
// ManagerSession drives both the same way, so a script takes its place in
// the chain like any milter: its verdicts merge by the same rules, its
// changes are applied for the children after it, its conditions and
// evaluation mode work as for a socket child.
//
// Contract (as server::Session): Open first; a stage returns the child's
// verdict or an error (the child is then out of the session); after an
// error no further stage is sent. Not thread-safe: lives on the session's
// executor.

#ifndef MANAGER_CORE_CHILD_LINK_H_
#define MANAGER_CORE_CHILD_LINK_H_

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "asio/any_io_executor.hpp"
#include "asio/awaitable.hpp"
#include "manager/config/config.pb.h"
#include "manager/core/child_pool.h"
#include "milter/codec/connection_info.h"
#include "milter/codec/macros.h"
#include "milter/codec/negotiation.h"
#include "milter/server/session.h"
#include "milter/server/verdict.h"

namespace milter::manager {

class ChildLink {
 public:
  using Macros = server::Macros;
  using VerdictOr = absl::StatusOr<server::Verdict>;
  using EndOfMessageOr = absl::StatusOr<server::EndOfMessageResult>;

  virtual ~ChildLink() = default;

  // Connects (a socket) or loads (a script) and negotiates.
  virtual asio::awaitable<absl::Status> Open() = 0;

  virtual asio::awaitable<VerdictOr> ConnectStage(
      const codec::ConnectionInfo& info, const Macros& macros) = 0;
  virtual asio::awaitable<VerdictOr> Helo(std::string_view name,
                                          const Macros& macros) = 0;
  virtual asio::awaitable<VerdictOr> Mail(std::string_view address,
                                          codec::EsmtpArgs args,
                                          const Macros& macros) = 0;
  virtual asio::awaitable<VerdictOr> Rcpt(std::string_view address,
                                          codec::EsmtpArgs args,
                                          const Macros& macros) = 0;
  virtual asio::awaitable<VerdictOr> Data(const Macros& macros) = 0;
  virtual asio::awaitable<VerdictOr> Unknown(std::string_view command) = 0;
  // `value` as the child negotiated it (see header_leading_space).
  virtual asio::awaitable<VerdictOr> Header(std::string_view name,
                                            std::string_view value) = 0;
  virtual asio::awaitable<VerdictOr> EndOfHeaders(const Macros& macros) = 0;
  virtual asio::awaitable<VerdictOr> BodyChunk(std::string_view chunk) = 0;
  virtual asio::awaitable<EndOfMessageOr> EndOfMessage(
      const Macros& macros) = 0;
  virtual asio::awaitable<absl::Status> Abort() = 0;
  virtual asio::awaitable<absl::Status> Quit() = 0;

  // Ends a stage in progress with `reason` (the SMTP client went away).
  virtual void Abandon(absl::Status reason) = 0;
  // Called when the child reports progress during a long stage.
  virtual void set_on_progress(std::function<void()> on_progress) = 0;

  virtual const codec::NegotiatedOptions& negotiated() const = 0;
  virtual bool negotiated_ok() const = 0;
  // Whether header values are exchanged with their leading space.
  virtual bool header_leading_space() const = 0;
  // The macros the child asked for at `stage` (nullopt: the MTA's default).
  virtual const std::optional<std::string>& symbol_list(
      codec::MacroStage stage) const = 0;
};

// A child milter over a socket: its connection_spec, its timeouts. With a
// pool (and the child's reuse_connection), Open takes an idle connection
// from it and negotiates again, and Quit ends the session with QUIT_NC and
// gives the connection back; Quit must be the last call.
class SocketLink : public ChildLink {
 public:
  SocketLink(const config::ChildConfig& config, asio::any_io_executor executor,
             const codec::OptionNegotiation& offer, ChildPool* pool);

  asio::awaitable<absl::Status> Open() override;
  // Whether Open reused a kept connection (for tests and logs).
  bool reused() const { return reused_ever_; }
  asio::awaitable<VerdictOr> ConnectStage(const codec::ConnectionInfo& info,
                                          const Macros& macros) override {
    return session_->ConnectStage(info, macros);
  }
  asio::awaitable<VerdictOr> Helo(std::string_view name,
                                  const Macros& macros) override {
    return session_->Helo(name, macros);
  }
  asio::awaitable<VerdictOr> Mail(std::string_view address,
                                  codec::EsmtpArgs args,
                                  const Macros& macros) override {
    return session_->Mail(address, args, macros);
  }
  asio::awaitable<VerdictOr> Rcpt(std::string_view address,
                                  codec::EsmtpArgs args,
                                  const Macros& macros) override {
    return session_->Rcpt(address, args, macros);
  }
  asio::awaitable<VerdictOr> Data(const Macros& macros) override {
    return session_->Data(macros);
  }
  asio::awaitable<VerdictOr> Unknown(std::string_view command) override {
    return session_->Unknown(command);
  }
  asio::awaitable<VerdictOr> Header(std::string_view name,
                                    std::string_view value) override {
    return session_->Header(name, value);
  }
  asio::awaitable<VerdictOr> EndOfHeaders(const Macros& macros) override {
    return session_->EndOfHeaders(macros);
  }
  asio::awaitable<VerdictOr> BodyChunk(std::string_view chunk) override {
    return session_->BodyChunk(chunk);
  }
  asio::awaitable<EndOfMessageOr> EndOfMessage(const Macros& macros) override {
    return session_->EndOfMessage(macros);
  }
  asio::awaitable<absl::Status> Abort() override { return session_->Abort(); }
  asio::awaitable<absl::Status> Quit() override;
  void Abandon(absl::Status reason) override {
    session_->Abandon(std::move(reason));
  }
  void set_on_progress(std::function<void()> on_progress) override {
    session_->set_on_progress(std::move(on_progress));
  }
  const codec::NegotiatedOptions& negotiated() const override {
    return session_->negotiated();
  }
  bool negotiated_ok() const override { return session_->negotiated_ok(); }
  bool header_leading_space() const override {
    return session_->header_leading_space();
  }
  const std::optional<std::string>& symbol_list(
      codec::MacroStage stage) const override {
    return session_->symbol_list(stage);
  }

 private:
  const config::ChildConfig& config_;
  asio::any_io_executor executor_;
  server::SessionOptions options_;
  ChildPool* pool_;  // null: no reuse
  std::string pool_key_;
  std::unique_ptr<server::Session> session_;
  bool reused_ = false;       // session_ came from the pool, not yet opened
  bool reused_ever_ = false;  // Open negotiated on a kept connection
};

// Session options for a socket child: the offer and its timeouts.
server::SessionOptions ChildSessionOptions(
    const config::ChildConfig& config, const codec::OptionNegotiation& offer);

}  // namespace milter::manager

#endif  // MANAGER_CORE_CHILD_LINK_H_
