// The tower's internet-facing decoder: every teos request body parser.
#include <string_view>

#include "server/api/teos_json.h"
#include "tests/fuzz/fuzz_target.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view body(reinterpret_cast<const char*>(data), size);
    auto check = [](const argus::api::ApiError& e) {
        FUZZ_ASSERT(e.code != 0);
        // Every error serializes to JSON, even with arbitrary bytes in its message.
        FUZZ_ASSERT(!argus::api::to_json(e).empty());
    };
    if (auto r = argus::api::parse_register(body); !r) check(r.error());
    if (auto r = argus::api::parse_add_appointment(body); !r) {
        check(r.error());
    } else {
        FUZZ_ASSERT(!r->encrypted_blob.empty() && !r->signature.empty());
    }
    if (auto r = argus::api::parse_get_appointment(body); !r) check(r.error());
    if (auto r = argus::api::parse_get_subscription_info(body); !r) check(r.error());
    return 0;
}
