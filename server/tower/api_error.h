// A teos API error as the tower returns it: a code from common/teos_protocol.h
// (rust-teos errors.rs) and its message; the HTTP status follows from the code.
#pragma once

#include <cstdint>
#include <string>

#include "common/result.h"
#include "common/teos_protocol.h"

namespace argus::tower {

namespace teos_error = teos::error;  // the codes live in common/teos_protocol.h

struct ApiError {
    std::uint8_t code = teos_error::unexpected;
    std::string message;
    unsigned http_status() const { return teos::error::http_status(code); }
};

template <class T>
using ApiResult = Result<T, ApiError>;

inline ApiError service_unavailable() {
    return ApiError{teos_error::service_unavailable, "Service currently unavailable"};
}

}  // namespace argus::tower
