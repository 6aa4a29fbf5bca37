// A client of one teos-compatible tower (Argus or rust-teos): requests built
// and signed as the teos protocol defines, receipts verified against the
// tower id. Blocking, over net::HttpClient: one keep-alive connection,
// timeouts, optional TLS.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "common/keys.h"
#include "common/result.h"
#include "common/teos_protocol.h"
#include "common/transaction.h"
#include "net/http_client.h"

namespace argus::client {

struct TowerAddress {
    PublicKey id;
    std::string host;
    std::uint16_t port = 9814;
    // "tower_id@host:port" (port defaults to 9814).
    static Result<TowerAddress> parse(std::string_view text);
    std::string to_string() const;
};

struct TowerError {
    enum class Kind {
        unreachable,   // connect/timeout/closed: retry later
        bad_response,  // not HTTP/JSON we understand: retry later
        rejected,      // a teos error code: see `code`
        misbehaving,   // a receipt that does not verify against the tower id
    } kind = Kind::unreachable;
    int code = 0;  // teos error_code for `rejected`
    std::string message;
};

struct RegistrationReceipt {
    std::uint32_t available_slots = 0;
    std::uint32_t subscription_start = 0;
    std::uint32_t subscription_expiry = 0;
    std::string signature;
    // An Argus tower's advertised penalty kits (kit::capability_field): the
    // largest encrypted kit it takes; 0 for a tower without them (rust-teos).
    std::uint32_t kit_max_blob = 0;
};

struct AppointmentReceipt {
    std::string user_signature;
    std::uint32_t start_block = 0;
    std::string tower_signature;
    std::uint32_t available_slots = 0;
    std::uint32_t subscription_expiry = 0;
};

// What a tower says it does with one appointment (get_appointment).
struct AppointmentState {
    enum class Status {
        not_found,          // teos: APPOINTMENT_NOT_FOUND (36)
        being_watched,      // teos: "being_watched", the tower waits for the commitment
        dispute_responded,  // teos: "dispute_responded", it saw the commitment and broadcast the penalty
    } status = Status::not_found;
    // dispute_responded only: the tower's word, to be checked against the backup.
    Txid dispute_txid;
    Txid penalty_txid;
    Bytes penalty_rawtx;
};

// Reads a tower's answer to get_appointment (pure). teos: 200 with
// {"appointment": {...}, "status": "being_watched"} or
// {"appointment": {"dispute_txid", "penalty_txid", "penalty_rawtx"}, "status": "dispute_responded"}
// (txids in display order, the raw transaction in hex); 404 with error_code 36 when not held.
Result<AppointmentState, TowerError> parse_appointment_reply(unsigned http_status, std::string_view body);

struct TowerSubscription {
    std::uint32_t available_slots = 0;
    std::uint32_t subscription_expiry = 0;
    std::vector<Locator> locators;
};

class TeosClient {
public:
    // `timeout` bounds each of connect, send and receive. With `tls` the
    // tower is spoken to over HTTPS (a self-signed tower: pin its certificate).
    TeosClient(TowerAddress tower, PrivateKey user_key, std::chrono::milliseconds timeout = std::chrono::seconds(10),
               std::optional<net::TlsClientOptions> tls = std::nullopt);
    ~TeosClient();
    const TowerAddress& tower() const { return tower_; }

    Result<RegistrationReceipt, TowerError> register_user();
    Result<AppointmentReceipt, TowerError> add_appointment(const Locator& locator, const Bytes& encrypted_blob,
                                                           std::uint32_t to_self_delay);
    // true when the tower holds it (watched or responded), false when it says
    // teos::error::appointment_not_found.
    Result<bool, TowerError> has_appointment(const Locator& locator);
    Result<AppointmentState, TowerError> get_appointment(const Locator& locator);
    Result<TowerSubscription, TowerError> get_subscription_info();

private:
    struct Response {
        unsigned status;
        std::string body;
    };
    Result<Response, TowerError> post(const std::string& path, const std::string& body);

    TowerAddress tower_;
    PrivateKey user_key_;
    net::HttpClient http_;
};

}  // namespace argus::client
