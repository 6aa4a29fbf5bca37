#include "server/tower/electrum_accounts.h"

#include <sodium.h>

#include "common/hash.h"

namespace argus::tower {

namespace {
bool sodium_ready() {
    static const bool ready = sodium_init() >= 0;
    return ready;
}
}  // namespace

Status check_electrum_username(std::string_view username) {
    if (username.empty() || username.size() > 64) {
        return make_error(ErrorCode::invalid_argument, "an Electrum username has 1 to 64 characters");
    }
    for (char c : username) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
                  c == '-';
        if (!ok) return make_error(ErrorCode::invalid_argument, "an Electrum username is made of A-Z a-z 0-9 . _ -");
    }
    return {};
}

Status check_electrum_password(std::string_view password) {
    if (password.size() < 8 || password.size() > 256) {
        return make_error(ErrorCode::invalid_argument, "an Electrum password has 8 to 256 bytes");
    }
    return {};
}

store::UserId electrum_account_id(std::string_view username) {
    Hash256 h = sha256(ByteSpan(reinterpret_cast<const std::uint8_t*>(username.data()), username.size()));
    store::UserId id{};
    id[0] = store::electrum_account_tag;
    std::copy(h.begin(), h.end(), id.begin() + 1);
    return id;
}

Result<std::string> hash_electrum_password(std::string_view password) {
    if (!sodium_ready()) return make_error(ErrorCode::unavailable, "libsodium failed to initialise");
    char out[crypto_pwhash_STRBYTES];
    if (crypto_pwhash_str(out, password.data(), password.size(), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                          crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0) {
        return make_error(ErrorCode::unavailable, "out of memory hashing the password");
    }
    return std::string(out);
}

bool verify_electrum_password(const std::string& hash, std::string_view password) {
    if (!sodium_ready()) return false;
    return crypto_pwhash_str_verify(hash.c_str(), password.data(), password.size()) == 0;
}

ElectrumAccounts::ElectrumAccounts() {
    sodium_ready();
    key_.resize(crypto_generichash_KEYBYTES);
    randombytes_buf(key_.data(), key_.size());
}

std::string ElectrumAccounts::digest(std::string_view username, std::string_view password) const {
    std::string input;
    input.reserve(username.size() + 1 + password.size());
    input.append(username).push_back('\0');
    input.append(password);
    std::string out(crypto_generichash_BYTES, '\0');
    crypto_generichash(reinterpret_cast<unsigned char*>(out.data()), out.size(),
                       reinterpret_cast<const unsigned char*>(input.data()), input.size(),
                       reinterpret_cast<const unsigned char*>(key_.data()), key_.size());
    sodium_memzero(input.data(), input.size());
    return out;
}

void ElectrumAccounts::put(store::ElectrumAccountRecord account) {
    std::lock_guard lock(mutex_);
    verified_.erase(account.username);
    std::string name = account.username;
    accounts_[name] = std::move(account);
}

void ElectrumAccounts::remove(const std::string& username) {
    std::lock_guard lock(mutex_);
    verified_.erase(username);
    accounts_.erase(username);
}

void ElectrumAccounts::clear() {
    std::lock_guard lock(mutex_);
    verified_.clear();
    accounts_.clear();
}

std::size_t ElectrumAccounts::size() const {
    std::lock_guard lock(mutex_);
    return accounts_.size();
}

std::vector<store::ElectrumAccountRecord> ElectrumAccounts::list() const {
    std::lock_guard lock(mutex_);
    std::vector<store::ElectrumAccountRecord> out;
    for (const auto& [name, a] : accounts_) out.push_back({a.username, a.account, ""});
    return out;
}

std::optional<store::UserId> ElectrumAccounts::authenticate(std::string_view username, std::string_view password) {
    std::string name(username);
    std::string presented = digest(username, password);
    store::ElectrumAccountRecord account;
    {
        std::lock_guard lock(mutex_);
        auto it = accounts_.find(name);
        if (it == accounts_.end()) return std::nullopt;
        auto v = verified_.find(name);
        if (v != verified_.end() && v->second.size() == presented.size() &&
            sodium_memcmp(v->second.data(), presented.data(), presented.size()) == 0) {
            return it->second.account;
        }
        account = it->second;
    }
    // The slow check runs outside the lock.
    if (!verify_electrum_password(account.password_hash, password)) return std::nullopt;
    std::lock_guard lock(mutex_);
    auto it = accounts_.find(name);
    if (it == accounts_.end() || it->second.password_hash != account.password_hash) return std::nullopt;  // changed meanwhile
    verified_[name] = presented;
    return account.account;
}

}  // namespace argus::tower
