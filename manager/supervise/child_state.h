// What the manager knows of one child milter across sessions, as shown in
// the status document and the metrics: whether it is up, being started or
// down (its circuit open), since when, how often it was restarted, its last
// error, and how many sessions it served and how fast it answered.
// A plain value: a snapshot, copied out of the live state under its lock.

#ifndef MANAGER_SUPERVISE_CHILD_STATE_H_
#define MANAGER_SUPERVISE_CHILD_STATE_H_

#include <cstdint>
#include <string>

#include "absl/time/time.h"

namespace milter::manager {

struct ChildState {
  enum class Health {
    kUp,        // answers (or not tried yet)
    kStarting,  // its command was (re)started; waiting for it to listen
    kDown,      // circuit open, or its command exited: its fallback applies
                // without trying it
    kDisabled,  // enabled: false in the configuration
  };
  std::string name;
  Health health = Health::kUp;
  absl::Time since = absl::InfinitePast();  // when `health` last changed
  bool launched = false;  // the manager runs it (it has a command)
  int64_t pid = 0;        // of the running command, 0 when none
  uint64_t restarts = 0;  // commands started after the first
  uint64_t failures = 0;  // sessions in which it failed
  std::string last_error;
  uint64_t sessions = 0;  // sessions it took part in
  // Mean time it took to answer a stage, over its answers so far.
  absl::Duration mean_latency = absl::ZeroDuration();
};

// "up", "starting", "down", "disabled".
inline const char* HealthName(ChildState::Health health) {
  switch (health) {
    case ChildState::Health::kUp:
      return "up";
    case ChildState::Health::kStarting:
      return "starting";
    case ChildState::Health::kDown:
      return "down";
    case ChildState::Health::kDisabled:
      return "disabled";
  }
  return "up";
}

}  // namespace milter::manager

#endif  // MANAGER_SUPERVISE_CHILD_STATE_H_
