#include "common/teos_protocol.h"

#include "common/byte_reader.h"
#include "common/hash.h"
#include "common/hex.h"

namespace argus::teos {

std::uint32_t appointment_slots(std::size_t blob_size) {
    return static_cast<std::uint32_t>((blob_size + blob_slot_size - 1) / blob_slot_size);
}

Bytes add_appointment_message(const Locator& locator, ByteSpan encrypted_blob, std::uint32_t to_self_delay) {
    ByteWriter w;
    w.write_bytes(locator);
    w.write_bytes(encrypted_blob);
    w.write_u32_be(to_self_delay);
    return std::move(w).take();
}

std::string get_appointment_message(const Locator& locator) { return "get appointment " + to_hex(locator); }

std::string_view get_subscription_info_message() { return "get subscription info"; }

Bytes registration_receipt_message(const UserId& user, std::uint32_t available_slots,
                                   std::uint32_t subscription_start, std::uint32_t subscription_expiry) {
    ByteWriter w;
    w.write_bytes(user);
    w.write_u32_be(available_slots);
    w.write_u32_be(subscription_start);
    w.write_u32_be(subscription_expiry);
    return std::move(w).take();
}

Bytes appointment_receipt_message(std::string_view user_signature, std::uint32_t start_block) {
    ByteWriter w;
    w.write_bytes(as_bytes(user_signature));
    w.write_u32_be(start_block);
    return std::move(w).take();
}

ByteArray<20> appointment_uuid(const Locator& locator, const UserId& user) {
    Bytes data(locator.begin(), locator.end());
    append(data, user);
    return ripemd160(data);
}

}  // namespace argus::teos
