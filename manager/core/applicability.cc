// Applicability: the facts, verdicts and decisions of one MTA session.

#include "manager/core/applicability.h"

#include <cstdlib>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"

namespace milter::manager {
namespace {

// SIZE=n among the ESMTP arguments of MAIL FROM; 0 if absent or invalid.
uint64_t DeclaredSize(codec::EsmtpArgs args) {
  for (std::string_view a : args) {
    if (a.size() > 5 &&
        absl::StartsWithIgnoreCase(absl::string_view(a.data(), 5), "SIZE=")) {
      uint64_t n = 0;
      if (absl::SimpleAtoi(absl::string_view(a.data() + 5, a.size() - 5), &n)) {
        return n;
      }
    }
  }
  return 0;
}

bool IsEnvelope(conditions::Stage s) {
  return s >= config::CONNECT && s <= config::UNKNOWN;
}

}  // namespace

Applicability::Applicability(const conditions::ConditionSet* conditions,
                             const conditions::AccessLists* access,
                             const std::atomic<size_t>* active_sessions)
    : conditions_(conditions),
      access_(access),
      active_sessions_(active_sessions),
      state_(conditions) {
  facts_.recipients = &recipients_;
  facts_.child_verdict = [this](std::string_view child,
                                Stage stage) -> std::optional<codec::Status> {
    auto it = verdicts_.find(absl::string_view(child.data(), child.size()));
    if (it == verdicts_.end() || stage <= 0 || stage >= kStages) {
      return std::nullopt;
    }
    return it->second[stage];
  };
}

void Applicability::SetConnection(const codec::ConnectionInfo& info) {
  host_ = info.hostname;
  address_ = info.family == codec::Family::kInet ||
                     info.family == codec::Family::kInet6
                 ? info.address
                 : "";
  facts_.client_host = host_;
  facts_.client_address = address_;
}

void Applicability::SetHelo(std::string_view name) {
  helo_ = std::string(name);
  facts_.helo = helo_;
}

void Applicability::StartMessage(std::string_view from, codec::EsmtpArgs args) {
  from_ = std::string(from);
  facts_.envelope_from = from_;
  facts_.declared_size = DeclaredSize(args);
  facts_.body_bytes = 0;
  recipients_.clear();
  recipient_.clear();
  facts_.recipient = recipient_;
  for (auto& [name, stages] : verdicts_) {
    for (int s = config::ENVELOPE_FROM; s < kStages; ++s) stages[s].reset();
  }
  state_.NewMessage();
}

void Applicability::SetRecipient(std::string_view address) {
  recipient_ = std::string(address);
  recipients_.push_back(recipient_);
  facts_.recipient = recipient_;
}

void Applicability::Record(const std::string& name, Stage stage,
                           codec::Status status) {
  if (!IsEnvelope(stage) && stage != config::END_OF_MESSAGE) return;
  verdicts_[name][stage] = status;
}

bool Applicability::HasConditions(int index) const {
  return conditions_ != nullptr && !conditions_->ForChild(index).empty();
}

asio::awaitable<conditions::ChildDecision> Applicability::Evaluate(
    int index, Stage stage) {
  facts_.active_sessions =
      active_sessions_ == nullptr ? 0 : active_sessions_->load();
  co_return co_await state_.Evaluate(index, stage, facts_);
}

const std::vector<int>& Applicability::DependenciesOf(int index) const {
  static const std::vector<int> kNone;
  return conditions_ == nullptr ? kNone : conditions_->DependenciesOf(index);
}

conditions::AccessLists::Match Applicability::CheckAccess(Stage stage) const {
  if (access_ == nullptr) return {};
  switch (stage) {
    case config::CONNECT:
      return access_->CheckClient(address_, host_);
    case config::HELO:
      return access_->CheckHelo(helo_);
    case config::ENVELOPE_FROM:
      return access_->CheckSender(from_);
    case config::ENVELOPE_RECIPIENT:
      return access_->CheckRecipient(recipient_);
    default:
      return {};
  }
}

std::string Applicability::deny_reply() const {
  return access_ == nullptr ? std::string() : access_->deny_reply();
}

}  // namespace milter::manager
