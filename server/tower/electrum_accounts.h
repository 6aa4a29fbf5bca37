// Electrum front-door accounts: usernames and passwords (HTTP Basic, as
// Electrum's watchtower_url carries them). Passwords are stored as libsodium
// crypto_pwhash_str hashes (Argon2id, interactive limits); a verification
// costs ~50 ms and 64 MiB by design, so verified credentials are remembered
// as a keyed BLAKE2b digest of the password (never the password itself):
// Electrum sends its credentials on every call.
#pragma once

#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/result.h"
#include "server/store/store.h"

namespace argus::tower {

// 1..64 characters of [A-Za-z0-9._-]: it appears in a URL and in logs.
Status check_electrum_username(std::string_view username);
// 8..256 bytes, no ':' is needed (Basic splits at the first ':').
Status check_electrum_password(std::string_view password);
store::UserId electrum_account_id(std::string_view username);
Result<std::string> hash_electrum_password(std::string_view password);
bool verify_electrum_password(const std::string& hash, std::string_view password);

class ElectrumAccounts {
public:
    ElectrumAccounts();
    void put(store::ElectrumAccountRecord account);
    void remove(const std::string& username);
    void clear();
    std::size_t size() const;
    // Usernames and accounts, without the hashes.
    std::vector<store::ElectrumAccountRecord> list() const;
    // The account when `password` is the username's; remembers a success.
    std::optional<store::UserId> authenticate(std::string_view username, std::string_view password);

private:
    std::string digest(std::string_view username, std::string_view password) const;

    std::string key_;  // random, per process
    mutable std::mutex mutex_;
    std::unordered_map<std::string, store::ElectrumAccountRecord> accounts_;
    std::unordered_map<std::string, std::string> verified_;  // username -> digest of the verified password
};

}  // namespace argus::tower
