// The teos error codes against rust-teos teos-common/src/errors.rs, and the
// HTTP statuses teos/src/api/http.rs answers them with: the wire values the
// tower sends and the client acts on.
#include <doctest/doctest.h>

#include "common/teos_protocol.h"

using namespace argus;

TEST_CASE("teos: error codes are rust-teos's") {
    namespace e = teos::error;
    CHECK(e::missing_field == 1);
    CHECK(e::empty_field == 2);
    CHECK(e::wrong_field_type == 3);
    CHECK(e::wrong_field_size == 4);
    CHECK(e::wrong_field_format == 5);
    CHECK(e::invalid_request_format == 6);
    CHECK(e::invalid_signature_or_subscription == 7);
    CHECK(e::service_unavailable == 32);
    CHECK(e::appointment_field_too_small == 33);
    CHECK(e::appointment_field_too_big == 34);
    CHECK(e::appointment_already_triggered == 35);
    CHECK(e::appointment_not_found == 36);
    CHECK(e::registration_resource_exhausted == 65);
    CHECK(e::unexpected == 255);
}

TEST_CASE("teos: error codes map to rust-teos's HTTP statuses") {
    namespace e = teos::error;
    CHECK(e::http_status(e::invalid_signature_or_subscription) == 401);
    CHECK(e::http_status(e::appointment_not_found) == 404);
    CHECK(e::http_status(e::service_unavailable) == 503);
    for (std::uint8_t code : {e::missing_field, e::empty_field, e::wrong_field_type, e::wrong_field_size,
                              e::wrong_field_format, e::invalid_request_format, e::appointment_field_too_small,
                              e::appointment_field_too_big, e::appointment_already_triggered,
                              e::registration_resource_exhausted, e::unexpected}) {
        CHECK(e::http_status(code) == 400);
    }
}
