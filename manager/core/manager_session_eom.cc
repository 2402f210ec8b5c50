// ManagerSession, the message's end: the chain of children one after
// another (the first has the message already, the others get it replayed
// from the store), their changes applied to the store for the next ones and
// queued for the MTA, and the combined answer.

#include <chrono>
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "asio/co_spawn.hpp"
#include "asio/detached.hpp"
#include "asio/redirect_error.hpp"
#include "asio/steady_timer.hpp"
#include "asio/this_coro.hpp"
#include "asio/use_awaitable.hpp"
#include "manager/core/client_connection.h"
#include "manager/core/manager_session.h"
#include "manager/core/session_helpers.h"
#include "manager/core/when_all.h"
#include "milter/codec/header_value.h"
#include "milter/codec/macros.h"
#include "milter/server/mail_message.h"

namespace milter::manager {

using codec::MacroStage;
using internal::EndsMessage;
using internal::EnsureMtaHeader;
using internal::IsMtaHeader;

asio::awaitable<absl::StatusOr<server::EndOfMessageResult>>
ManagerSession::Replay(Context& ctx, Child& child) {
  ChildLink& s = child.link();
  auto stop = [](const absl::StatusOr<server::Verdict>& v) {
    return !v.ok() || v->Final();
  };
  auto as_result = [](absl::StatusOr<server::Verdict> v)
      -> absl::StatusOr<server::EndOfMessageResult> {
    if (!v.ok()) return v.status();
    server::EndOfMessageResult r;
    r.verdict = *std::move(v);
    return r;
  };
  for (const server::HeaderField& h : store_.headers()) {
    if (IsMtaHeader(h)) continue;
    auto v = co_await s.Header(
        h.name, codec::HeaderValueForFilter(h.value, s.header_leading_space()));
    if (stop(v)) co_return as_result(std::move(v));
  }
  auto v = co_await s.EndOfHeaders(MacrosFor(ctx, MacroStage::kEndOfHeaders));
  if (stop(v)) co_return as_result(std::move(v));
  std::string scratch;
  for (size_t at = 0; at < store_.body_size();) {
    absl::StatusOr<std::string_view> chunk =
        store_.ReadBody(at, codec::kBodyChunkSize, &scratch);
    if (!chunk.ok()) co_return chunk.status();
    v = co_await s.BodyChunk(*chunk);
    if (stop(v)) co_return as_result(std::move(v));
    if (v.ok() && v->decision == Status::kSkip) break;
    at += chunk->size();
  }
  co_return co_await s.EndOfMessage(MacrosFor(ctx, MacroStage::kEndOfMessage));
}

absl::Status ManagerSession::ApplyToStore(
    Child& child, const std::vector<codec::Modification>& changes) {
  server::MailMessage view;
  EnsureMtaHeader(store_.headers());
  view.headers = std::move(store_.headers());
  absl::Status applied = server::ApplyModifications(
      changes, child.link().header_leading_space(), &view,
      server::HeaderIndexRules::kMtaOwnFirstHeader);
  store_.headers() = std::move(view.headers);
  if (!applied.ok()) return applied;
  for (const codec::Modification& m : changes) {
    if (const auto* body = std::get_if<codec::mod::ReplaceBody>(&m)) {
      if (absl::Status s = store_.ReplaceBody(body->data); !s.ok()) return s;
    }
  }
  return absl::OkStatus();
}

void ManagerSession::QueueForMta(
    Child& child, const std::vector<codec::Modification>& changes) {
  bool leading_space = child.link().header_leading_space();
  for (const codec::Modification& m : changes) {
    codec::Modification raw = m;
    // Header values as the MTA stores them, whatever the child negotiated
    // (an empty change-header value still deletes).
    if (auto* h = std::get_if<codec::mod::AddHeader>(&raw)) {
      h->value = codec::HeaderValueFromFilter(h->value, leading_space);
    } else if (auto* h = std::get_if<codec::mod::InsertHeader>(&raw)) {
      h->value = codec::HeaderValueFromFilter(h->value, leading_space);
    } else if (auto* h = std::get_if<codec::mod::ChangeHeader>(&raw)) {
      if (!h->value.empty()) {
        h->value = codec::HeaderValueFromFilter(h->value, leading_space);
      }
    }
    changes_.push_back(std::move(raw));
  }
}

void ManagerSession::SendChanges(Context& ctx) {
  // One body replacement, change-from and quarantine at most: the last.
  int last_body = -1, last_from = -1, last_quarantine = -1;
  for (size_t i = 0; i < changes_.size(); ++i) {
    if (std::holds_alternative<codec::mod::ReplaceBody>(changes_[i])) {
      last_body = static_cast<int>(i);
    } else if (std::holds_alternative<codec::mod::ChangeFrom>(changes_[i])) {
      last_from = static_cast<int>(i);
    } else if (std::holds_alternative<codec::mod::Quarantine>(changes_[i])) {
      last_quarantine = static_cast<int>(i);
    }
  }
  for (size_t i = 0; i < changes_.size(); ++i) {
    const codec::Modification& m = changes_[i];
    int at = static_cast<int>(i);
    absl::Status sent = absl::OkStatus();
    if (const auto* h = std::get_if<codec::mod::AddHeader>(&m)) {
      sent = ctx.AddHeader(h->name, h->value);
    } else if (const auto* h = std::get_if<codec::mod::InsertHeader>(&m)) {
      sent = ctx.InsertHeader(h->index, h->name, h->value);
    } else if (const auto* h = std::get_if<codec::mod::ChangeHeader>(&m)) {
      sent = ctx.ChangeHeader(h->name, h->index, h->value);
    } else if (const auto* c = std::get_if<codec::mod::ChangeFrom>(&m)) {
      if (at == last_from)
        sent = ctx.ChangeFrom(c->address, c->args.value_or(""));
    } else if (const auto* r = std::get_if<codec::mod::AddRecipient>(&m)) {
      sent = r->args ? ctx.AddRecipient(r->address, *r->args)
                     : ctx.AddRecipient(r->address);
    } else if (const auto* r = std::get_if<codec::mod::DeleteRecipient>(&m)) {
      sent = ctx.DeleteRecipient(r->address);
    } else if (const auto* b = std::get_if<codec::mod::ReplaceBody>(&m)) {
      if (at == last_body) sent = ctx.ReplaceBody(b->data);
    } else if (const auto* q = std::get_if<codec::mod::Quarantine>(&m)) {
      if (at == last_quarantine) sent = ctx.Quarantine(q->reason);
    }
    if (!sent.ok()) {
      Log(config::WARNING,
          absl::StrCat("change not passed on to the MTA (", codec::ToString(m),
                       "): ", sent.message()));
    }
  }
  changes_.clear();
}

client::Status ManagerSession::ClientGone(Context& ctx) {
  Status fallback = FallbackStatusOf(config_->fallback_status_at_disconnect());
  Log(config::WARNING,
      absl::StrCat("SMTP client ", client_.hostname, " [", client_.address,
                   "]:", client_.port,
                   " disconnected during end of message (queue ID ",
                   QueueId(ctx), "): children given up, answering ",
                   codec::StatusName(fallback)));
  for (auto& child : children_) {
    child->link().set_on_progress(nullptr);
    if (child->active() && !child->link().negotiated_ok()) {
      (void)child->Fail(absl::UnavailableError("the SMTP client disconnected"),
                        /*report=*/false);
    }
  }
  changes_.clear();
  lines_.SetQueueId(QueueId(ctx));
  lines_.MessageDone(codec::StatusName(fallback));
  if (fallback == Status::kAccept) return Status::kContinue;
  return Answer(ctx, Outcome{fallback, "", true}, Scope::kMessage, 0);
}

asio::awaitable<void> ManagerSession::RunChain(
    Context& ctx, std::vector<EomResult>* results) {
  Child* lead = Lead();
  for (size_t i = 0; i < children_.size(); ++i) {
    Child& child = *children_[i];
    if (!child.active() || child.config().concurrent_content()) continue;
    bool applies = co_await Applies(child, config::END_OF_MESSAGE);
    if (!applies) continue;
    // (No co_await inside ?: : GCC 12 miscompiles it.)
    EomResult result = absl::UnknownError("not asked");
    absl::Time start = absl::Now();
    if (&child == lead) {
      result = co_await child.link().EndOfMessage(
          MacrosFor(ctx, MacroStage::kEndOfMessage));
    } else {
      result = co_await Replay(ctx, child);
    }
    lines_.ChildResult(
        child.name(), "end-of-message",
        result.ok() ? codec::StatusName(result->verdict.decision) : "failed",
        absl::Now() - start, result.status());
    if (result.ok() && child.health() != nullptr) {
      child.health()->Answered(absl::Now() - start);
    }
    bool ends = !result.ok() || (!child.evaluation_mode() &&
                                 EndsMessage(result->verdict.decision));
    if (result.ok() && !child.evaluation_mode() && !ends) {
      // The next children see the message as this one left it.
      if (absl::Status s = ApplyToStore(child, result->modifications);
          !s.ok()) {
        Log(config::WARNING,
            absl::StrCat("child ", child.name(),
                         " changes not applied: ", s.message()));
      }
    }
    if (result.ok()) {
      applicability_.Record(child.name(), config::END_OF_MESSAGE,
                            result->verdict.decision);
      RecordAnswer(child, config::END_OF_MESSAGE, result->verdict);
    }
    (*results)[i] = std::move(result);
    // As the MTA stops at the first child that ends the message; a failed
    // child's fallback is decided in configuration order afterwards.
    if (ends && (*results)[i].ok()) break;
  }
}

struct ManagerSession::ClientWatch {
  explicit ClientWatch(asio::any_io_executor executor) : timer(executor) {}
  asio::steady_timer timer;
  bool done = false;  // the end of message is over: touch nothing more
  bool gone = false;  // the client went; the children were given up
};

std::shared_ptr<ManagerSession::ClientWatch> ManagerSession::WatchClient(
    asio::any_io_executor executor) {
  double every = config_->connection_check_interval();
  if (every <= 0 ||
      CheckClientConnection(client_) != ClientConnection::kConnected) {
    return nullptr;  // off, or the client's socket is not on this host
  }
  auto watch = std::make_shared<ClientWatch>(executor);
  asio::co_spawn(
      executor,
      [](std::shared_ptr<ClientWatch> w, ManagerSession* self,
         std::chrono::nanoseconds interval)
          -> asio::awaitable<void> {
        while (true) {
          w->timer.expires_after(interval);
          std::error_code ec;
          co_await w->timer.async_wait(
              asio::redirect_error(asio::use_awaitable, ec));
          if (w->done) co_return;
          if (CheckClientConnection(self->client_) != ClientConnection::kGone) {
            continue;
          }
          w->gone = true;
          for (auto& child : self->children_) {
            if (child->active()) {
              child->link().Abandon(absl::UnavailableError(
                  "given up: the SMTP client disconnected"));
            }
          }
          co_return;
        }
      }(watch, this,
          std::chrono::nanoseconds(static_cast<int64_t>(every * 1e9))),
      asio::detached);
  return watch;
}

asio::awaitable<client::Status> ManagerSession::OnEndOfMessage(Context& ctx) {
  if (MessageEnded()) {
    // A child ended the message at a content stage (the MTA read no answer
    // there): that is the answer, as the MTA chaining them would have
    // stopped at that child.
    lines_.SetQueueId(QueueId(ctx));
    Status answer = Answer(ctx, Outcome{}, Scope::kMessage, 0);
    lines_.MessageDone(codec::StatusName(answer));
    co_return answer;
  }
  std::shared_ptr<ClientWatch> watch =
      WatchClient(co_await asio::this_coro::executor);
  std::vector<EomResult> results(children_.size(),
                                 absl::UnknownError("not asked"));
  std::vector<bool> asked(children_.size(), false);
  std::vector<absl::Duration> took(children_.size());  // concurrent ones
  std::vector<asio::awaitable<void>> tasks;
  tasks.push_back(RunChain(ctx, &results));
  for (size_t i = 0; i < children_.size(); ++i) {
    Child& child = *children_[i];
    if (!child.active()) continue;
    if (child.config().concurrent_content()) {
      bool applies = co_await Applies(child, config::END_OF_MESSAGE);
      if (!applies) continue;
    }
    asked[i] = true;
    child.link().set_on_progress([&ctx] { (void)ctx.Progress(); });
    if (!child.config().concurrent_content()) continue;
    tasks.push_back([](Child* c, EomResult* out, absl::Duration* took,
                       const codec::MacroMap::Pairs* macros)
                        -> asio::awaitable<void> {
      absl::Time start = absl::Now();
      *out = co_await c->link().EndOfMessage(*macros);
      *took = absl::Now() - start;
    }(&child, &results[i], &took[i],
                        &MacrosFor(ctx, MacroStage::kEndOfMessage)));
  }
  co_await WhenAll(std::move(tasks));
  if (watch != nullptr) {
    watch->done = true;
    watch->timer.cancel();
    if (watch->gone) co_return ClientGone(ctx);
  }
  lines_.SetQueueId(QueueId(ctx));
  // The answers in configuration order, as the MTA would have read them.
  Outcome outcome;
  for (size_t i = 0; i < children_.size(); ++i) {
    if (!asked[i]) continue;
    Child& child = *children_[i];
    child.link().set_on_progress(nullptr);
    if (absl::IsUnknown(results[i].status())) continue;  // chain stopped
    if (child.config().concurrent_content()) {
      lines_.ChildResult(child.name(), "end-of-message",
                         results[i].ok()
                             ? codec::StatusName(results[i]->verdict.decision)
                             : "failed",
                         took[i], results[i].status());
      if (results[i].ok() && child.health() != nullptr) {
        child.health()->Answered(took[i]);
      }
    }
    if (!results[i].ok()) {
      Consider(child, results[i].status(), Scope::kMessage, &outcome);
    } else {
      Consider(child, results[i]->verdict, Scope::kMessage, &outcome);
      if (!child.evaluation_mode() &&
          !(outcome.objected && EndsMessage(outcome.status))) {
        QueueForMta(child, results[i]->modifications);
      }
    }
    if (outcome.objected && EndsMessage(outcome.status)) break;
  }
  if (!(outcome.objected && EndsMessage(outcome.status))) SendChanges(ctx);
  changes_.clear();
  Status answer = Answer(ctx, std::move(outcome), Scope::kMessage, 0);
  lines_.MessageDone(codec::StatusName(answer));
  co_return answer == Status::kAccept ? Status::kContinue : answer;
}

}  // namespace milter::manager
