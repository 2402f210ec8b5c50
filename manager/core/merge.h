// How the answers and needs of several children combine into what the
// manager says to the MTA, by the rules an MTA chaining them would follow:
//
// - Verdicts of one stage: the most severe wins (codec::StatusSeverity:
//   connection-fail > shutdown > discard > reject > tempfail > continue >
//   skip > accept).
// - Negotiation: the manager asks the MTA for the union of the children's
//   needs: every action any child negotiated; a stage unless no child takes
//   it; no reply for an envelope stage only where no child answers it, and
//   none for content stages (objections there wait for the end of message,
//   as the SMTP client hears them only then); per-stage macro
//   lists merged (a child that wants the MTA's default list for a stage
//   gets it, so the manager then asks for no list there).
// - What the manager offers each child: the MTA's offer, with what the
//   manager provides itself (SKIP, HDR_LEADSPC, every no-reply flag) and
//   without what it does not pass through (larger packet sizes).
//
// Pure functions: no I/O, no state.

#ifndef MANAGER_CORE_MERGE_H_
#define MANAGER_CORE_MERGE_H_

#include <array>
#include <optional>
#include <string>

#include "absl/types/span.h"
#include "manager/config/config.pb.h"
#include "milter/codec/negotiation.h"
#include "milter/codec/protocol.h"
#include "milter/codec/status.h"

namespace milter::manager {

using SymbolLists =
    std::array<std::optional<std::string>, codec::kNumMacroStages>;

// What one child settled in its negotiation with the manager.
struct ChildNeeds {
  codec::NegotiatedOptions options;
  SymbolLists symbol_lists;
};

// What the manager asks the MTA for.
struct MtaRequest {
  codec::FilterRequest request;
  SymbolLists symbol_lists;
};

// The more severe of `a` and `b`.
codec::Status MoreSevere(codec::Status a, codec::Status b);

// The status a configured fallback stands for.
codec::Status FallbackStatusOf(config::FallbackStatus fallback);

// The offer the manager makes to its children when the MTA offered
// `mta_offer`.
codec::OptionNegotiation OfferToChildren(
    const codec::OptionNegotiation& mta_offer);

// The union of the children's needs, within `mta_offer`.
MtaRequest UnionOfNeeds(const codec::OptionNegotiation& mta_offer,
                        absl::Span<const ChildNeeds> children);

}  // namespace milter::manager

#endif  // MANAGER_CORE_MERGE_H_
