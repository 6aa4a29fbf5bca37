// What SIGHUP may change in a running tower: the decision, without I/O. The
// tower re-reads its configuration (same command line, config file read
// again), and plan_reload compares it with what runs: each changed option is
// either applied now or named as needing a restart. Secret values (the
// bitcoind password, the PostgreSQL connection string) are never shown.
#pragma once

#include <string>
#include <vector>

#include "server/config/tower_options.h"

namespace argus::config {

struct OptionChange {
    std::string option;  // the flag's name without dashes: "max-connections"
    std::string from;    // "(hidden)" for secrets
    std::string to;
};

struct ReloadPlan {
    std::vector<OptionChange> applied;        // take effect now
    std::vector<OptionChange> needs_restart;  // ignored until the tower restarts
    bool reload_tls = false;                  // TLS is on: read the certificate and key files again
    bool empty() const { return applied.empty() && needs_restart.empty(); }
};

ReloadPlan plan_reload(const TowerOptions& running, const TowerOptions& next);

// The options a reload leaves in force: `running` with every applicable
// change of `plan` taken from `next`. What the tower compares the next
// reload against.
TowerOptions options_after_reload(const TowerOptions& running, const TowerOptions& next);

// The option names plan_reload knows (every one parse_tower_options takes
// but --config, --check-config, --version and --help).
std::vector<std::string> reload_option_names();

}  // namespace argus::config
