#include "common/result.h"

namespace argus {

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
    }
    return "unknown";
}

}  // namespace argus
