#pragma once

// Reading and showing DRRecovery objects, shared by `recovery get|describe` and `status`: one
// wording for a missing recovery (with the nearest name), the phase, the step a run is at, the
// counts and the journal.

#include <chrono>
#include <iosfwd>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/status.h"
#include "dr/types.h"
#include "kube/client.h"
#include "output.h"

namespace kdr::plugin {

// The recoveries of ns ("" = all namespaces), as returned. A cluster that does not serve
// DRRecoveries is FailedPrecondition saying to install there or choose the target with --context.
Result<std::vector<nlohmann::json>> ListRecoveries(kube::Client& client, const std::string& ns);

// The recovery `name` in `ns`, parsed. NotFound "drrecovery \"x\" not found in namespace NS; did
// you mean \"y\"?"; InvalidArgument naming the field when it does not parse.
Result<dr::DRRecovery> ReadRecovery(kube::Client& client, const std::string& ns, const std::string& name);

// "Pending" until a run starts.
std::string PhaseOf(const dr::DRRecovery& r);
// "RestoreObjects (9/11)": the step a run is at or resumes at; "done" once all are; "" before.
std::string StepOf(const dr::DRRecovery& r);
// "created/skipped/failed", "" before the restore.
std::string RestoredOf(const dr::DRRecovery& r);
// How long a step took (finished - started), or has been running (now - started): "12s", "3m4s";
// "" when it has not started.
std::string StepElapsed(const dr::RecoveryStep& s, Clock::WallTime now);

// The journal: STEP STATE ATTEMPTS [STARTED FINISHED] ELAPSED MESSAGE, one row per step.
Table JournalTable(const dr::DRRecovery& r, Clock::WallTime now, bool with_times);

// describe's block: Name, Namespace, Plan, Action, Namespaces, Mapping, Modifiers, VM power on,
// Phase, Started, Finished, Restored, Message, then the journal (JournalTable with times) or
// how to start it.
void DescribeRecovery(const dr::DRRecovery& r, Clock::WallTime now, std::ostream& out);

}  // namespace kdr::plugin
