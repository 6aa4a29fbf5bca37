// The client's decoder of what a tower answers to get_appointment: a tower
// is outside input. The first byte picks the HTTP status, the rest is the body.
#include <string_view>

#include "client/backup/teos_client.h"
#include "tests/fuzz/fuzz_target.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    constexpr unsigned statuses[] = {200, 404, 400, 503, 500};
    unsigned status = statuses[data[0] % 5];
    std::string_view body(reinterpret_cast<const char*>(data + 1), size - 1);
    auto state = argus::client::parse_appointment_reply(status, body);
    using Status = argus::client::AppointmentState::Status;
    using Kind = argus::client::TowerError::Kind;
    if (state) {
        // Only a 200 says what the tower does; a 404 only that it holds nothing.
        FUZZ_ASSERT(status == 200 || (status == 404 && state->status == Status::not_found));
        if (state->status != Status::dispute_responded) FUZZ_ASSERT(state->penalty_rawtx.empty());
    } else {
        FUZZ_ASSERT(state.error().kind == Kind::bad_response || state.error().kind == Kind::rejected);
        FUZZ_ASSERT(state.error().kind != Kind::rejected || state.error().code != 0);
    }
    return 0;
}
