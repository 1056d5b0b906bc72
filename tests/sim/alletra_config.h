#pragma once

// The simulator's pair description, as given to `alletra-sim --config FILE` (YAML or JSON; JSON
// is read as YAML). Example (tests/data/sim/pair.yaml has a full one):
//
//   user: 3paradm                      # optional; --user/--password override
//   password: 3pardata
//   sessionIdleTimeoutSeconds: 900     # optional, the array's fifteen minutes
//   arrays:                            # exactly two
//     - {name: array-a, id: 188150, serialNumber: "4UW0001001"}
//     - {name: array-b, id: 188151, serialNumber: "4UW0001002"}
//   groups:
//     - name: shop-data                # the name on the natural primary
//       primary: array-a               # natural primary (system name)
//       remoteName: shop-data.r188150  # optional: name on the secondary (this is the default)
//       mode: periodic                 # sync | periodic | async (or 1..4)
//       syncReads: 1                   # reads until a sync completes; 0 = only by the admin call
//       phase: natural                 # natural | failedover | recovered
//       replication: started           # started | stopped
//       sync: synced                   # synced | syncing | stopped
//       volumes:
//         - {primary: shop-db-a, secondary: shop-db-b, sizeMiB: 10240}
//   volumes:                           # optional volumes outside any group
//     - {array: array-a, name: scratch, sizeMiB: 1024}
//
// Unknown keys are errors (with the nearest known key suggested), so a typo never silently
// changes the scenario.

#include <string_view>

#include "alletra_model.h"
#include "base/status.h"

namespace kdr::sim {

// InvalidArgument naming the field (`groups[0].phase`) and `what` (the file) on a bad document.
Result<PairSpec> ParsePairSpec(std::string_view text, std::string_view what);

// The pair used without --config: array-a (id 188150) and array-b (id 188151), no groups.
PairSpec DefaultPairSpec();

}  // namespace kdr::sim
