#include "server/api/ops_router.h"

#include <nlohmann/json.hpp>

namespace argus::api {

void OpsRouter::handle(HttpRequest request, Reply reply) {
    if (request.method != Method::get) return reply({405, R"({"error":"method not allowed"})"});
    if (request.target == "/metrics") return reply({200, metrics_(), "text/plain; version=0.0.4"});
    if (request.target == "/health") return reply({200, R"({"status":"alive"})"});
    if (request.target == "/ready") {
        Readiness r = readiness_();
        nlohmann::json body = {{"ready", r.ready()},
                               {"store_reachable", r.store_reachable},
                               {"bitcoind_reachable", r.bitcoind_reachable},
                               {"caught_up", r.caught_up},
                               {"stopping", r.stopping},
                               {"role", r.role}};
        return reply({r.ready() ? 200u : 503u, body.dump()});
    }
    reply({404, R"({"error":"not found"})"});
}

}  // namespace argus::api
