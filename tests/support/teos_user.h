// A teos user for tests: builds and signs requests as Core Lightning's
// watchtower-client would (rust-teos teos-common).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "common/hex.h"
#include "common/keys.h"
#include "common/message_signing.h"
#include "common/teos_protocol.h"

namespace argus::test {

class TeosUser {
public:
    explicit TeosUser(std::uint8_t seed) : key_(make_key(seed)) {}
    const PrivateKey& key() const { return key_; }
    std::string id_hex() const { return to_hex(key_.public_key().bytes()); }
    teos::UserId id() const { return key_.public_key().bytes(); }

    std::string register_body() const { return nlohmann::json{{"user_id", id_hex()}}.dump(); }

    std::string add_appointment_body(const Locator& locator, const Bytes& blob, std::uint32_t to_self_delay,
                                     std::string* signature_out = nullptr) const {
        std::string sig = sign_message(key_, teos::add_appointment_message(locator, blob, to_self_delay));
        if (signature_out) *signature_out = sig;
        return nlohmann::json{{"appointment",
                               {{"locator", to_hex(locator)}, {"encrypted_blob", to_hex(blob)}, {"to_self_delay", to_self_delay}}},
                              {"signature", sig}}
            .dump();
    }

    std::string get_appointment_body(const Locator& locator) const {
        return nlohmann::json{{"locator", to_hex(locator)},
                              {"signature", sign_message(key_, as_bytes(teos::get_appointment_message(locator)))}}
            .dump();
    }

    std::string get_subscription_info_body() const {
        return nlohmann::json{{"signature", sign_message(key_, as_bytes(teos::get_subscription_info_message()))}}.dump();
    }

private:
    static PrivateKey make_key(std::uint8_t seed) {
        Bytes secret(32, seed);
        secret[0] = 0x01;
        return PrivateKey::from_bytes(secret).value();
    }
    PrivateKey key_;
};

inline Locator test_locator(std::uint32_t n, std::uint8_t salt = 0) {
    Locator l{};
    for (int i = 0; i < 4; ++i) l[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(n >> (8 * (3 - i)));
    l[4] = salt;
    l[15] = 0x5a;
    return l;
}

}  // namespace argus::test
