// Core Lightning plugin mode: JSON-RPC 2.0 over stdin/stdout. Registers the
// `commitment_revocation` hook, answers {"result":"continue"} as soon as the
// revoked state is durably queued, and uploads in the background. Exposes
// registertower, listtowers, retrytower, abandontower and listbackups.
#pragma once

#include <cstdio>
#include <functional>
#include <istream>
#include <ostream>

#include "client/node/client_api.h"
#include "client/node/client_node.h"

namespace argus::client {

// Runs until stdin closes or lightningd sends the `shutdown` notification, then
// stops the node and returns 0. `open_node` is called at `init` with the data
// dir derived from lightningd's configuration (or the argus-data-dir option).
// Requests get a JSON-RPC reply each (an error for unknown methods),
// notifications none; malformed messages are reported on stderr and skipped.
// `out` carries JSON-RPC only.
int run_cln_plugin(std::istream& in, std::ostream& out,
                   const std::function<Result<std::unique_ptr<ClientNode>>(const std::string& data_dir)>& open_node);

}  // namespace argus::client
