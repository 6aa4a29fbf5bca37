// The public teos API: routes, body limits and JSON, over TowerService.
#pragma once

#include "net/http_server.h"
#include "common/context.h"
#include "server/tower/tower_service.h"

#include <functional>

namespace argus::api {

struct TeosLimits {
    std::size_t register_body = 87;
    std::size_t add_appointment_body = 2048;
    std::size_t get_appointment_body = 178;
    std::size_t get_subscription_info_body = 127;
};

// Told about every answered request: endpoint, HTTP status, seconds, teos error code (0 on success).
using RequestObserver = std::function<void(const std::string& endpoint, unsigned status, double seconds, int error_code)>;

class TeosRouter final : public Router {
public:
    TeosRouter(tower::TowerService& service, TeosLimits limits = {}, RequestObserver observer = {},
               Clock& clock = system_clock())
        : service_(service), limits_(limits), observer_(std::move(observer)), clock_(clock) {}
    std::size_t body_limit(Method method, std::string_view target) const override;
    void handle(HttpRequest request, Reply reply) override;

private:
    tower::TowerService& service_;
    TeosLimits limits_;
    RequestObserver observer_;
    Clock& clock_;
};

}  // namespace argus::api
