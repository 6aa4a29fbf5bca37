// The public teos API: routes, body limits and JSON, over TowerService.
#pragma once

#include "common/net/http_server.h"
#include "server/tower/tower_service.h"

namespace argus::api {

struct TeosLimits {
    std::size_t register_body = 87;
    std::size_t add_appointment_body = 2048;
    std::size_t get_appointment_body = 178;
    std::size_t get_subscription_info_body = 127;
};

class TeosRouter final : public Router {
public:
    TeosRouter(tower::TowerService& service, TeosLimits limits = {}) : service_(service), limits_(limits) {}
    std::size_t body_limit(Method method, std::string_view target) const override;
    void handle(HttpRequest request, Reply reply) override;

private:
    tower::TowerService& service_;
    TeosLimits limits_;
};

}  // namespace argus::api
