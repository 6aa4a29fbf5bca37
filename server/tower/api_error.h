// teos API errors (rust-teos teos-common/src/errors.rs) and their HTTP statuses
// (teos/src/api/http.rs: 400 by default, 401 for code 7, 404 for 36, 503 for 32).
#pragma once

#include <cstdint>
#include <string>

#include "common/result.h"

namespace argus::tower {

namespace teos_error {
inline constexpr std::uint8_t missing_field = 1;
inline constexpr std::uint8_t empty_field = 2;
inline constexpr std::uint8_t wrong_field_type = 3;
inline constexpr std::uint8_t wrong_field_size = 4;
inline constexpr std::uint8_t wrong_field_format = 5;
inline constexpr std::uint8_t invalid_request_format = 6;
inline constexpr std::uint8_t invalid_signature_or_subscription = 7;
inline constexpr std::uint8_t service_unavailable = 32;
inline constexpr std::uint8_t appointment_already_triggered = 35;
inline constexpr std::uint8_t appointment_not_found = 36;
inline constexpr std::uint8_t registration_resource_exhausted = 65;
inline constexpr std::uint8_t unexpected = 255;
}  // namespace teos_error

struct ApiError {
    std::uint8_t code = teos_error::unexpected;
    std::string message;
    unsigned http_status() const {
        switch (code) {
            case teos_error::invalid_signature_or_subscription: return 401;
            case teos_error::appointment_not_found: return 404;
            case teos_error::service_unavailable: return 503;
            default: return 400;
        }
    }
};

template <class T>
using ApiResult = Result<T, ApiError>;

inline ApiError service_unavailable() {
    return ApiError{teos_error::service_unavailable, "Service currently unavailable"};
}

}  // namespace argus::tower
