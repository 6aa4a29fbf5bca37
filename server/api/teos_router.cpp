#include "server/api/teos_router.h"

#include "common/penalty_kit.h"

#include "server/api/teos_json.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>

namespace argus::api {

namespace {
HttpResponse error_response(const ApiError& e) { return HttpResponse{e.http_status(), to_json(e)}; }

// Routing failures have no teos code of their own; they carry
// INVALID_REQUEST_FORMAT.
HttpResponse routing_error(unsigned status, const char* message) {
    return HttpResponse{status, to_json(ApiError{teos::error::invalid_request_format, message})};
}

std::string_view path_of(std::string_view target) {
    auto q = target.find('?');
    return q == std::string_view::npos ? target : target.substr(0, q);
}
}  // namespace

std::size_t TeosRouter::body_limit(Method, std::string_view target) const {
    std::string_view path = path_of(target);
    if (path == "/register") return limits_.register_body;
    if (path == "/add_appointment") return limits_.add_appointment_body;
    if (path == "/get_appointment") return limits_.get_appointment_body;
    if (path == "/get_subscription_info") return limits_.get_subscription_info_body;
    // No other route takes a body, but a small one is read so that the router
    // answers 404 (unknown path) or 405 (GET-only /ping) rather than 413.
    return std::max({limits_.register_body, limits_.add_appointment_body, limits_.get_appointment_body,
                     limits_.get_subscription_info_body});
}

void TeosRouter::handle(HttpRequest request, Reply plain_reply) {
    std::string_view path = path_of(request.target);
    Reply reply = plain_reply;
    if (observer_) {
        auto started = clock_.monotonic_now();
        std::string endpoint(path);
        bool known_path = endpoint == "/register" || endpoint == "/add_appointment" || endpoint == "/get_appointment" ||
                          endpoint == "/get_subscription_info" || endpoint == "/ping";
        if (!known_path) endpoint = "other";  // bounded label values
        reply = [observer = observer_, plain_reply, started, endpoint, &clock = clock_](HttpResponse response) {
            int code = 0;
            if (response.status != 200) {
                auto pos = response.body.find("\"error_code\":");
                if (pos != std::string::npos) code = std::atoi(response.body.c_str() + pos + 13);
            }
            observer(endpoint, response.status, std::chrono::duration<double>(clock.monotonic_now() - started).count(),
                     code);
            plain_reply(std::move(response));
        };
    }
    bool known = path == "/register" || path == "/add_appointment" || path == "/get_appointment" ||
                 path == "/get_subscription_info" || path == "/ping";
    if (!known) return reply(routing_error(404, "Not found"));
    if (path == "/ping") {
        if (request.method != Method::get) {
            return reply(routing_error(405, "Method not allowed"));
        }
        return reply(HttpResponse{200, "", "text/plain"});
    }
    if (request.method != Method::post) {
        return reply(routing_error(405, "Method not allowed"));
    }

    if (path == "/register") {
        auto user = parse_register(request.body);
        if (!user) return reply(error_response(user.error()));
        // Penalty kits are advertised when the body limit lets the smallest
        // bucket through (hex-encoded, with the request's other fields).
        std::size_t blob = limits_.add_appointment_body > 512 ? (limits_.add_appointment_body - 512) / 2 : 0;
        auto kit_max = static_cast<std::uint32_t>(blob >= kit::min_bucket + kit::encryption_overhead ? blob : 0);
        service_.register_user(*user, [reply, kit_max](tower::ApiResult<tower::RegisterReply> r) {
            if (r) r->kit_max_blob = kit_max;
            reply(r ? HttpResponse{200, to_json(*r)} : error_response(r.error()));
        });
    } else if (path == "/add_appointment") {
        auto parsed = parse_add_appointment(request.body);
        if (!parsed) return reply(error_response(parsed.error()));
        service_.add_appointment(std::move(*parsed), [reply](tower::ApiResult<tower::AddAppointmentReply> r) {
            reply(r ? HttpResponse{200, to_json(*r)} : error_response(r.error()));
        });
    } else if (path == "/get_appointment") {
        auto parsed = parse_get_appointment(request.body);
        if (!parsed) return reply(error_response(parsed.error()));
        auto r = service_.get_appointment(parsed->locator, parsed->signature);
        reply(r ? HttpResponse{200, to_json(*r)} : error_response(r.error()));
    } else {
        auto signature = parse_get_subscription_info(request.body);
        if (!signature) return reply(error_response(signature.error()));
        auto r = service_.get_subscription_info(*signature);
        reply(r ? HttpResponse{200, to_json(*r)} : error_response(r.error()));
    }
}

}  // namespace argus::api
