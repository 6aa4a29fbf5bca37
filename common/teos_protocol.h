// What teos (rust-teos / BOLT 13 draft) signs: request messages users sign and
// the receipts the tower signs. Pure; shared by the tower and the client.
#pragma once

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

}  // namespace argus::teos
