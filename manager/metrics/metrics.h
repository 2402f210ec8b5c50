// The milter manager's metrics: a process-wide registry of counters, gauges
// and histograms, rendered in the Prometheus text exposition format (0.0.4).
// Every series is named and documented in docs/milter-manager.md
// ("Metrics").
//
// Thread-safe. The registry outlives configuration reloads, so per-child
// series are keyed by the child's name and never removed. The hot path is
// lock-free: a session looks a child's series up once (ChildSeries(), which
// takes the registry's lock) and then only adds to relaxed atomics. The
// condition stop counters, keyed by a free-form condition name, take the
// child's own lock.
//
//   auto metrics = std::make_shared<Metrics>();
//   ChildSeries* dkim = metrics->Child("dkim");
//   dkim->Record(Stage::kConnect, Result::kContinue, absl::Milliseconds(3));
//   std::string page = metrics->Render(child_states);

#ifndef MANAGER_METRICS_METRICS_H_
#define MANAGER_METRICS_METRICS_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "manager/supervise/child_state.h"

namespace milter::manager::metrics {

// The stages a child answers, as conditions::StageName names them, plus
// "open" (connecting and negotiating) and "other".
enum class Stage {
  kOpen,
  kConnect,
  kHelo,
  kEnvelopeFrom,
  kEnvelopeRecipient,
  kData,
  kUnknown,
  kHeader,
  kEndOfHeader,
  kBody,
  kEndOfMessage,
  kOther,
  kCount,
};
// A child's answer at a stage (codec::StatusName's names), "failed", or
// "other".
enum class Result {
  kContinue,
  kAccept,
  kReject,
  kTempfail,
  kDiscard,
  kSkip,
  kFailed,
  kOther,
  kCount,
};
// The manager's verdict on a message (codec::StatusName's names), or
// "aborted" (the MTA aborted it or the session ended within it).
enum class Verdict {
  kAccept,
  kContinue,
  kReject,
  kTempfail,
  kDiscard,
  kAborted,
  kOther,
  kCount,
};
// Why a child failed: it could not be connected to, did not answer in time,
// broke the protocol, closed the connection, or anything else.
enum class Failure {
  kConnect,
  kTimeout,
  kProtocol,
  kClosed,
  kOther,
  kCount,
};

Stage StageOf(std::string_view name);
Result ResultOf(std::string_view name);
Verdict VerdictOf(std::string_view name);
const char* StageLabel(Stage stage);
const char* ResultLabel(Result result);
const char* VerdictLabel(Verdict verdict);
const char* FailureLabel(Failure failure);
// The kind of a child's failure from the error server::Session gave;
// `opening`: while connecting or negotiating.
Failure FailureOf(const absl::Status& error, bool opening);

// Upper bounds (seconds) of the answer latency histogram's buckets.
inline constexpr std::array<double, 14> kLatencyBuckets = {
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};

// One child's series. Obtained from Metrics::Child(); lives as long as the
// registry.
class ChildSeries {
 public:
  explicit ChildSeries(std::string name) : name_(std::move(name)) {}
  ChildSeries(const ChildSeries&) = delete;
  ChildSeries& operator=(const ChildSeries&) = delete;

  const std::string& name() const { return name_; }
  // An answer (or a failure, kFailed) at `stage` after `elapsed`; answers
  // other than failures feed the latency histogram.
  void Record(Stage stage, Result result, absl::Duration elapsed);
  // A failure of `kind`; a timeout is counted by stage too.
  void Failed(Stage stage, Failure kind);
  // An applicable condition stopped the child.
  void Stopped(const std::string& condition);

  // For rendering and tests.
  uint64_t results(Stage stage, Result result) const;
  uint64_t failures(Failure kind) const;
  uint64_t timeouts(Stage stage) const;
  uint64_t stops(const std::string& condition) const;
  // Cumulative bucket counts (as rendered), the answer count and their sum.
  std::array<uint64_t, kLatencyBuckets.size()> buckets() const;
  uint64_t answers() const;
  double answer_seconds() const;

 private:
  friend class Metrics;
  using Counter = std::atomic<uint64_t>;
  static constexpr int kStages = static_cast<int>(Stage::kCount);
  static constexpr int kResults = static_cast<int>(Result::kCount);

  const std::string name_;
  std::array<Counter, kStages * kResults> results_{};
  std::array<Counter, static_cast<int>(Failure::kCount)> failures_{};
  std::array<Counter, kStages> timeouts_{};
  // Non-cumulative: bucket i counts answers in (bound[i-1], bound[i]];
  // the last slot those above every bound.
  std::array<Counter, kLatencyBuckets.size() + 1> latency_{};
  Counter latency_nanos_{0};
  mutable absl::Mutex stops_mu_;
  absl::flat_hash_map<std::string, uint64_t> stops_ ABSL_GUARDED_BY(stops_mu_);
};

class Metrics {
 public:
  Metrics() = default;
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // The series of the child `name`, created on first use. Takes the
  // registry's lock: call once per child per session.
  ChildSeries* Child(const std::string& name);

  void SessionStarted() {
    sessions_total_.fetch_add(1, std::memory_order_relaxed);
    sessions_active_.fetch_add(1, std::memory_order_relaxed);
  }
  void SessionEnded() {
    sessions_active_.fetch_sub(1, std::memory_order_relaxed);
  }
  void MessageDone(Verdict verdict) {
    messages_[static_cast<int>(verdict)].fetch_add(1,
                                                   std::memory_order_relaxed);
  }

  uint64_t sessions_total() const { return sessions_total_.load(); }
  int64_t sessions_active() const { return sessions_active_.load(); }
  uint64_t messages(Verdict verdict) const {
    return messages_[static_cast<int>(verdict)].load();
  }
  absl::Time start_time() const { return start_; }

  // The text exposition: every series, then each child's restarts and
  // health from `states` (snapshots taken by the caller).
  std::string Render(const std::vector<ChildState>& states) const;

 private:
  void RenderChildren(std::string* out) const;

  const absl::Time start_ = absl::Now();
  std::atomic<uint64_t> sessions_total_{0};
  std::atomic<int64_t> sessions_active_{0};
  std::array<std::atomic<uint64_t>, static_cast<int>(Verdict::kCount)>
      messages_{};
  mutable absl::Mutex mu_;
  // Stable addresses; in creation order for rendering.
  std::vector<std::unique_ptr<ChildSeries>> children_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, ChildSeries*> by_name_ ABSL_GUARDED_BY(mu_);
};

// `value` as a Prometheus label value: \, " and newline escaped.
std::string LabelValue(std::string_view value);

// One session's view of the registry (not thread-safe: one per session, on
// its executor): counts the session from construction to destruction and
// looks each child's series up once. A null registry makes every call a
// no-op.
class SessionRecorder {
 public:
  explicit SessionRecorder(std::shared_ptr<Metrics> metrics);
  ~SessionRecorder();
  SessionRecorder(const SessionRecorder&) = delete;
  SessionRecorder& operator=(const SessionRecorder&) = delete;

  bool enabled() const { return metrics_ != nullptr; }
  // `status`: a codec::StatusName or "failed" (then `error` says why).
  void ChildResult(const std::string& child, std::string_view stage,
                   std::string_view status, absl::Duration elapsed,
                   const absl::Status& error);
  // The child could not be connected to or negotiated with.
  void ChildUnavailable(const std::string& child, const absl::Status& error);
  void Stopped(const std::string& child, const std::string& condition);
  void MessageDone(std::string_view verdict);

 private:
  ChildSeries* Series(const std::string& child);

  std::shared_ptr<Metrics> metrics_;
  std::vector<ChildSeries*> seen_;  // this session's children so far
};

}  // namespace milter::manager::metrics

#endif  // MANAGER_METRICS_METRICS_H_
