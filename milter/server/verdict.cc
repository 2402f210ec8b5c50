// EndOfMessageResult helpers.

#include "milter/server/verdict.h"

namespace milter::server {

std::optional<std::string> EndOfMessageResult::quarantine() const {
  std::optional<std::string> reason;
  for (const Modification& m : modifications) {
    if (const auto* q = std::get_if<mod::Quarantine>(&m)) reason = q->reason;
  }
  return reason;
}

}  // namespace milter::server
