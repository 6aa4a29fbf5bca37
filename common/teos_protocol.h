// What teos (rust-teos / BOLT 13 draft) signs: request messages users sign and
// the receipts the tower signs; the API's error codes. Pure; shared by the
// tower and the client.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/bytes.h"
#include "common/watchtower_crypto.h"

namespace argus::teos {

using UserId = ByteArray<33>;

inline constexpr std::uint32_t default_subscription_slots = 10'000;
inline constexpr std::uint32_t default_subscription_duration = 4'320;  // blocks
inline constexpr std::uint32_t default_expiry_delta = 6;
inline constexpr std::size_t blob_slot_size = 2048;  // teos ENCRYPTED_BLOB_MAX_SIZE

// teos: an appointment costs ceil(len(encrypted_blob) / 2048) slots.
std::uint32_t appointment_slots(std::size_t blob_size);

// teos: add_appointment signs locator || encrypted_blob || to_self_delay (u32 BE).
Bytes add_appointment_message(const Locator& locator, ByteSpan encrypted_blob, std::uint32_t to_self_delay);
// teos: "get appointment " + lowercase hex locator.
std::string get_appointment_message(const Locator& locator);
// teos: the fixed string "get subscription info".
std::string_view get_subscription_info_message();

// teos: user_id || available_slots || subscription_start || subscription_expiry (u32 BE).
Bytes registration_receipt_message(const UserId& user, std::uint32_t available_slots,
                                   std::uint32_t subscription_start, std::uint32_t subscription_expiry);
// teos: UTF-8 of the user's zbase32 signature || start_block (u32 BE).
Bytes appointment_receipt_message(std::string_view user_signature, std::uint32_t start_block);

// teos: uuid = RIPEMD160(locator || user_id)
ByteArray<20> appointment_uuid(const Locator& locator, const UserId& user);

// The `error_code` of an API error reply, defined once for the tower and the
// client. teos-common/src/errors.rs.
namespace error {
// teos: /// General errors [1, 32]
inline constexpr std::uint8_t missing_field = 1;                      // teos: MISSING_FIELD: u8 = 1
inline constexpr std::uint8_t empty_field = 2;                        // teos: EMPTY_FIELD: u8 = 2
inline constexpr std::uint8_t wrong_field_type = 3;                   // teos: WRONG_FIELD_TYPE: u8 = 3
inline constexpr std::uint8_t wrong_field_size = 4;                   // teos: WRONG_FIELD_SIZE: u8 = 4
inline constexpr std::uint8_t wrong_field_format = 5;                 // teos: WRONG_FIELD_FORMAT: u8 = 5
inline constexpr std::uint8_t invalid_request_format = 6;             // teos: INVALID_REQUEST_FORMAT: u8 = 6
inline constexpr std::uint8_t invalid_signature_or_subscription = 7;  // teos: INVALID_SIGNATURE_OR_SUBSCRIPTION_ERROR: u8 = 7
inline constexpr std::uint8_t service_unavailable = 32;               // teos: SERVICE_UNAVAILABLE: u8 = 32
// teos: /// Appointment errors [33, 64]
inline constexpr std::uint8_t appointment_field_too_small = 33;       // teos: APPOINTMENT_FIELD_TOO_SMALL: u8 = 33
inline constexpr std::uint8_t appointment_field_too_big = 34;         // teos: APPOINTMENT_FIELD_TOO_BIG: u8 = 34
inline constexpr std::uint8_t appointment_already_triggered = 35;     // teos: APPOINTMENT_ALREADY_TRIGGERED: u8 = 35
inline constexpr std::uint8_t appointment_not_found = 36;             // teos: APPOINTMENT_NOT_FOUND: u8 = 36
// teos: /// Registration errors [65, 96]
inline constexpr std::uint8_t registration_resource_exhausted = 65;   // teos: REGISTRATION_RESOURCE_EXHAUSTED: u8 = 65
// teos: /// UNHANDLED
inline constexpr std::uint8_t unexpected = 255;                       // teos: UNEXPECTED_ERROR: u8 = 255

// The HTTP status rust-teos answers an error with (teos/src/api/http.rs):
// teos: 401 for INVALID_SIGNATURE_OR_SUBSCRIPTION_ERROR, 404 for
// APPOINTMENT_NOT_FOUND, 503 for SERVICE_UNAVAILABLE, 400 for the rest.
constexpr unsigned http_status(std::uint8_t code) {
    switch (code) {
        case invalid_signature_or_subscription: return 401;
        case appointment_not_found: return 404;
        case service_unavailable: return 503;
        default: return 400;
    }
}
}  // namespace error

}  // namespace argus::teos
