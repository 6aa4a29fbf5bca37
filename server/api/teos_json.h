// teos request bodies to typed requests, and replies to JSON, with rust-teos's
// error codes and messages (teos/src/api/http.rs, teos/src/api/internal.rs).
// Pure: no I/O, every malformed body yields an ApiError, never an exception.
#pragma once

#include <string>
#include <string_view>

#include "server/tower/tower_service.h"

namespace argus::api {

using tower::ApiError;
using tower::ApiResult;

struct SignedLocatorRequest {  // get_appointment
    Locator locator{};
    std::string signature;
};

ApiResult<store::UserId> parse_register(std::string_view body);
ApiResult<tower::AddAppointmentRequest> parse_add_appointment(std::string_view body);
ApiResult<SignedLocatorRequest> parse_get_appointment(std::string_view body);
ApiResult<std::string> parse_get_subscription_info(std::string_view body);  // the signature

std::string to_json(const tower::RegisterReply& reply);
std::string to_json(const tower::AddAppointmentReply& reply);
std::string to_json(const tower::AppointmentView& view);
std::string to_json(const tower::SubscriptionInfo& info);
std::string to_json(const ApiError& error);

// rust-teos body-size limits (warp content_length_limit), bytes.
inline constexpr std::size_t register_body_limit = 87;
inline constexpr std::size_t add_appointment_body_limit = 2048;
inline constexpr std::size_t get_appointment_body_limit = 178;
inline constexpr std::size_t get_subscription_info_body_limit = 127;

}  // namespace argus::api
