#include "common/result.h"

#include <cstdio>
#include <cstdlib>

namespace argus {

namespace result_detail {
void fail(const char* what) {
    std::fprintf(stderr, "internal check failed: %s\n", what);
    std::abort();
}

void fail_with(const Error& error) {
    std::fprintf(stderr, "internal check failed: value() of a Result that holds an error: %s: %s\n",
                 to_string(error.code), error.message.c_str());
    std::abort();
}
}  // namespace result_detail

const char* to_string(ErrorCode code) {
    switch (code) {
        case ErrorCode::invalid_hex: return "invalid_hex";
        case ErrorCode::invalid_encoding: return "invalid_encoding";
        case ErrorCode::invalid_checksum: return "invalid_checksum";
        case ErrorCode::truncated: return "truncated";
        case ErrorCode::trailing_data: return "trailing_data";
        case ErrorCode::oversized: return "oversized";
        case ErrorCode::malformed: return "malformed";
        case ErrorCode::invalid_key: return "invalid_key";
        case ErrorCode::invalid_signature: return "invalid_signature";
        case ErrorCode::invalid_argument: return "invalid_argument";
        case ErrorCode::decryption_failed: return "decryption_failed";
        case ErrorCode::inconsistent_secret: return "inconsistent_secret";
        case ErrorCode::unavailable: return "unavailable";
        case ErrorCode::storage: return "storage";
        case ErrorCode::not_found: return "not_found";
        case ErrorCode::unsupported: return "unsupported";
        case ErrorCode::conflict: return "conflict";
        case ErrorCode::fenced: return "fenced";
    }
    return "unknown";
}

}  // namespace argus
