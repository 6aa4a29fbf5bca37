#include "client/backup/teos_client.h"

#include "common/penalty_kit.h"

#include <charconv>
#include <nlohmann/json.hpp>

#include "common/hex.h"
#include "common/message_signing.h"

namespace argus::client {

using json = nlohmann::json;

Result<TowerAddress> TowerAddress::parse(std::string_view text) {
    auto at = text.find('@');
    if (at == std::string_view::npos) {
        return make_error(ErrorCode::invalid_argument, "tower must be tower_id@host[:port]");
    }
    auto id_bytes = parse_hex(text.substr(0, at));
    if (!id_bytes || id_bytes->size() != 33) {
        return make_error(ErrorCode::invalid_argument, "tower id must be a 33-byte public key in hex");
    }
    auto id = PublicKey::parse(*id_bytes);
    if (!id) return id.error();
    std::string_view rest = text.substr(at + 1);
    TowerAddress out{*id, std::string(rest), 9814};
    auto colon = rest.rfind(':');
    if (colon != std::string_view::npos) {
        out.host = std::string(rest.substr(0, colon));
        unsigned port = 0;
        auto digits = rest.substr(colon + 1);
        auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), port);
        if (ec != std::errc() || ptr != digits.data() + digits.size() || port == 0 || port > 65535) {
            return make_error(ErrorCode::invalid_argument, "tower port must be 1..65535");
        }
        out.port = static_cast<std::uint16_t>(port);
    }
    if (out.host.empty()) return make_error(ErrorCode::invalid_argument, "tower host is empty");
    return out;
}

std::string TowerAddress::to_string() const {
    return to_hex(id.bytes()) + "@" + host + ":" + std::to_string(port);
}

namespace {
net::HttpClientOptions http_options(const TowerAddress& tower, std::chrono::milliseconds timeout,
                                    std::optional<net::TlsClientOptions> tls) {
    net::HttpClientOptions o;
    o.host = tower.host;
    o.port = tower.port;
    o.tls = std::move(tls);
    o.connect_timeout = o.write_timeout = o.read_timeout = timeout;
    o.max_response_body = 1024 * 1024;
    return o;
}
}  // namespace

TeosClient::TeosClient(TowerAddress tower, PrivateKey user_key, std::chrono::milliseconds timeout,
                       std::optional<net::TlsClientOptions> tls)
    : tower_(std::move(tower)), user_key_(std::move(user_key)), http_(http_options(tower_, timeout, std::move(tls))) {}

TeosClient::~TeosClient() = default;

Result<TeosClient::Response, TowerError> TeosClient::post(const std::string& path, const std::string& body) {
    auto response = http_.post(path, body, "application/json");
    if (!response) {
        using Kind = net::HttpClientError::Kind;
        const auto& e = response.error();
        // Garbage or an oversized answer is the tower's doing; the rest
        // (resolve, connect, TLS, timeout, closed) is "try again later".
        bool bad = e.kind == Kind::malformed || e.kind == Kind::too_large;
        return TowerError{bad ? TowerError::Kind::bad_response : TowerError::Kind::unreachable, 0, path + ": " + e.message};
    }
    return Response{response->status, std::move(response->body)};
}

namespace {
Result<json, TowerError> parse_reply(unsigned status, const std::string& body) {
    json j = json::parse(body, nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
        return TowerError{TowerError::Kind::bad_response, 0, "tower answered " + std::to_string(status) + " without JSON"};
    }
    if (status != 200) {
        int code = j.contains("error_code") && j["error_code"].is_number_integer() ? j["error_code"].get<int>() : 0;
        std::string message = j.contains("error") && j["error"].is_string() ? j["error"].get<std::string>() : body;
        if (code == 0) return TowerError{TowerError::Kind::bad_response, 0, "tower answered " + std::to_string(status)};
        return TowerError{TowerError::Kind::rejected, code, message};
    }
    return j;
}

template <class T>
bool read_field(const json& j, const char* name, T& out) {
    if (!j.contains(name)) return false;
    try {
        out = j[name].get<T>();
        return true;
    } catch (const std::exception&) {
        return false;
    }
}

bool signed_by(const PublicKey& tower, ByteSpan message, const std::string& signature) {
    auto signer = recover_message_signer(message, signature);
    return signer && *signer == tower;
}
}  // namespace

Result<RegistrationReceipt, TowerError> TeosClient::register_user() {
    std::string user_hex = to_hex(user_key_.public_key().bytes());
    auto r = post("/register", json{{"user_id", user_hex}}.dump());
    if (!r) return r.error();
    auto j = parse_reply(r->status, r->body);
    if (!j) return j.error();
    RegistrationReceipt receipt;
    std::string echoed;
    if (!read_field(*j, "user_id", echoed) || !read_field(*j, "available_slots", receipt.available_slots) ||
        !read_field(*j, "subscription_start", receipt.subscription_start) ||
        !read_field(*j, "subscription_expiry", receipt.subscription_expiry) ||
        !read_field(*j, "subscription_signature", receipt.signature)) {
        return TowerError{TowerError::Kind::bad_response, 0, "registration reply is missing fields"};
    }
    if (echoed != user_hex ||
        !signed_by(tower_.id, teos::registration_receipt_message(user_key_.public_key().bytes(), receipt.available_slots,
                                                                 receipt.subscription_start, receipt.subscription_expiry),
                   receipt.signature)) {
        return TowerError{TowerError::Kind::misbehaving, 0, "registration receipt does not verify against the tower id"};
    }
    // Not signed, and needs no signature: a false claim only makes the tower
    // receive kits it cannot open, which it answers like any blob.
    if (auto it = j->find(kit::capability_field); it != j->end() && it->is_object()) {
        auto version = it->find("version");
        auto max = it->find("max_encrypted_blob");
        if (version != it->end() && version->is_number_unsigned() && version->get<std::uint64_t>() == kit::kit_version &&
            max != it->end() && max->is_number_unsigned() && max->get<std::uint64_t>() <= 0xffffffffu) {
            receipt.kit_max_blob = static_cast<std::uint32_t>(max->get<std::uint64_t>());
        }
    }
    return receipt;
}

Result<AppointmentReceipt, TowerError> TeosClient::add_appointment(const Locator& locator, const Bytes& blob,
                                                                   std::uint32_t to_self_delay) {
    AppointmentReceipt receipt;
    receipt.user_signature = sign_message(user_key_, teos::add_appointment_message(locator, blob, to_self_delay));
    json body = {{"appointment", {{"locator", to_hex(locator)}, {"encrypted_blob", to_hex(blob)}, {"to_self_delay", to_self_delay}}},
                 {"signature", receipt.user_signature}};
    auto r = post("/add_appointment", body.dump());
    if (!r) return r.error();
    auto j = parse_reply(r->status, r->body);
    if (!j) return j.error();
    std::string echoed;
    if (!read_field(*j, "locator", echoed) || !read_field(*j, "start_block", receipt.start_block) ||
        !read_field(*j, "signature", receipt.tower_signature) ||
        !read_field(*j, "available_slots", receipt.available_slots) ||
        !read_field(*j, "subscription_expiry", receipt.subscription_expiry)) {
        return TowerError{TowerError::Kind::bad_response, 0, "add_appointment reply is missing fields"};
    }
    if (echoed != to_hex(locator) ||
        !signed_by(tower_.id, teos::appointment_receipt_message(receipt.user_signature, receipt.start_block),
                   receipt.tower_signature)) {
        return TowerError{TowerError::Kind::misbehaving, 0, "appointment receipt does not verify against the tower id"};
    }
    return receipt;
}

Result<AppointmentState, TowerError> parse_appointment_reply(unsigned http_status, std::string_view body) {
    auto j = parse_reply(http_status, std::string(body));
    if (!j) {
        if (j.error().kind == TowerError::Kind::rejected && j.error().code == teos::error::appointment_not_found) {
            return AppointmentState{};
        }
        return j.error();
    }
    std::string status;
    if (!read_field(*j, "status", status)) return TowerError{TowerError::Kind::bad_response, 0, "get_appointment reply has no status"};
    AppointmentState state;
    if (status == "being_watched") {
        state.status = AppointmentState::Status::being_watched;
        return state;
    }
    if (status != "dispute_responded") {
        return TowerError{TowerError::Kind::bad_response, 0, "get_appointment reply has an unknown status"};
    }
    state.status = AppointmentState::Status::dispute_responded;
    std::string dispute, penalty, raw;
    const json* appointment = j->contains("appointment") && (*j)["appointment"].is_object() ? &(*j)["appointment"] : nullptr;
    if (appointment == nullptr || !read_field(*appointment, "dispute_txid", dispute) ||
        !read_field(*appointment, "penalty_txid", penalty) || !read_field(*appointment, "penalty_rawtx", raw)) {
        return TowerError{TowerError::Kind::bad_response, 0, "dispute_responded reply is missing fields"};
    }
    // teos: txids in display (big-endian) order, as bitcoind prints them.
    auto dispute_txid = Txid::from_display_hex(dispute);
    auto penalty_txid = Txid::from_display_hex(penalty);
    auto rawtx = parse_hex(raw);
    if (!dispute_txid || !penalty_txid || !rawtx) {
        return TowerError{TowerError::Kind::bad_response, 0, "dispute_responded reply has malformed txids or penalty"};
    }
    state.dispute_txid = *dispute_txid;
    state.penalty_txid = *penalty_txid;
    state.penalty_rawtx = std::move(*rawtx);
    return state;
}

Result<AppointmentState, TowerError> TeosClient::get_appointment(const Locator& locator) {
    std::string sig = sign_message(user_key_, as_bytes(teos::get_appointment_message(locator)));
    auto r = post("/get_appointment", json{{"locator", to_hex(locator)}, {"signature", sig}}.dump());
    if (!r) return r.error();
    return parse_appointment_reply(r->status, r->body);
}

Result<bool, TowerError> TeosClient::has_appointment(const Locator& locator) {
    auto state = get_appointment(locator);
    if (!state) return state.error();
    return state->status != AppointmentState::Status::not_found;
}

Result<TowerSubscription, TowerError> TeosClient::get_subscription_info() {
    std::string sig = sign_message(user_key_, as_bytes(teos::get_subscription_info_message()));
    auto r = post("/get_subscription_info", json{{"signature", sig}}.dump());
    if (!r) return r.error();
    auto j = parse_reply(r->status, r->body);
    if (!j) return j.error();
    TowerSubscription info;
    std::vector<std::string> locators;
    if (!read_field(*j, "available_slots", info.available_slots) ||
        !read_field(*j, "subscription_expiry", info.subscription_expiry) || !read_field(*j, "locators", locators)) {
        return TowerError{TowerError::Kind::bad_response, 0, "subscription reply is missing fields"};
    }
    for (const auto& l : locators) {
        auto parsed = parse_hex_array<16>(l);
        if (!parsed) return TowerError{TowerError::Kind::bad_response, 0, "bad locator in subscription reply"};
        info.locators.push_back(*parsed);
    }
    return info;
}

}  // namespace argus::client
