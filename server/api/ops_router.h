// Operations endpoints on their own listener (default loopback):
//   GET /metrics  Prometheus text format
//   GET /health   200 while the process runs
//   GET /ready    200 when the store answers, bitcoind answers and the tower
//                 has processed bitcoind's best block; 503 with the reasons otherwise
#pragma once

#include <functional>

#include "net/http_server.h"

namespace argus::api {

struct Readiness {
    bool store_reachable = false;
    bool bitcoind_reachable = false;
    bool caught_up = false;
    bool stopping = false;  // SIGTERM: draining, so load balancers send nothing new
    std::string role = "leader";  // leader (the watcher), standby (a tower of a group serving the API only)
    bool ready() const { return store_reachable && bitcoind_reachable && caught_up && !stopping; }
};

class OpsRouter final : public Router {
public:
    OpsRouter(std::function<std::string()> metrics, std::function<Readiness()> readiness)
        : metrics_(std::move(metrics)), readiness_(std::move(readiness)) {}
    std::size_t body_limit(Method, std::string_view) const override { return 0; }
    void handle(HttpRequest request, Reply reply) override;

private:
    std::function<std::string()> metrics_;
    std::function<Readiness()> readiness_;
};

}  // namespace argus::api
