// The Electrum front door: Electrum 4.3.4's watchtower JSON-RPC (daemon.py
// WatchTowerServer, lnworker.sync_channel_with_watchtower) over HTTP POST /,
// HTTP Basic authentication against the tower's Electrum accounts.
//   get_ctn(funding_outpoint "txid:n", funding_address) -> int
//   add_sweep_tx(funding_outpoint, ctn, prevout "txid:n", raw_tx hex) -> null
// Replies are HTTP 200, application/json, {"jsonrpc":"2.0","id":<as sent>,
// "result":...} or {"...","error":{"code","message"}}. Electrum stops its
// sync loop on any error until it restarts, so the happy path never errors;
// every bad request gets a JSON-RPC error (HTTP 401 for missing or wrong
// credentials, 404/405 for another path or method).
#pragma once

#include <optional>
#include <string>
#include <variant>

#include <nlohmann/json.hpp>

#include "net/http_server.h"
#include "server/tower/tower_service.h"

namespace argus::api {

// JSON-RPC error codes (JSON-RPC 2.0 section 5.1, and Argus's own from -32000).
namespace electrum_code {
inline constexpr int parse_error = -32700;
inline constexpr int invalid_request = -32600;
inline constexpr int method_not_found = -32601;
inline constexpr int invalid_params = -32602;
inline constexpr int unavailable = -32000;      // store or bitcoind unavailable: try again
inline constexpr int unauthorized = -32001;     // missing or wrong credentials
inline constexpr int subscription = -32002;     // expired, or out of slots
inline constexpr int rejected = -32003;         // a valid request the tower will not store
}  // namespace electrum_code

struct GetCtnCall {
    OutPoint funding;
    std::string funding_address;
};
struct AddSweepCall {
    OutPoint funding;
    std::int64_t ctn = 0;
    OutPoint prevout;
    Bytes raw_tx;
};
struct ElectrumCall {
    nlohmann::json id;  // echoed as sent (Electrum sends a string)
    std::variant<GetCtnCall, AddSweepCall> call;
};
struct ElectrumCallError {
    nlohmann::json id;  // null when the request had none
    int code = electrum_code::invalid_request;
    std::string message;
};

// Pure: a request body to a typed call, or the JSON-RPC error to answer.
Result<ElectrumCall, ElectrumCallError> parse_electrum_call(std::string_view body);
// "txid:n" with the txid in display order, as Electrum writes outpoints.
std::optional<OutPoint> parse_electrum_outpoint(std::string_view text);
// "Basic base64(user:password)" -> (user, password).
std::optional<std::pair<std::string, std::string>> parse_basic_authorization(std::string_view header);

struct ElectrumLimits {
    std::size_t body_limit = 16 * 1024;  // an add_sweep_tx of a ~121 vB sweep is ~600 bytes
};

class ElectrumRouter final : public Router {
public:
    using Observer = std::function<void(const std::string& method, bool ok, double seconds)>;
    ElectrumRouter(tower::TowerService& service, ElectrumLimits limits = {}, Observer observer = {});
    std::size_t body_limit(Method method, std::string_view target) const override;
    void handle(HttpRequest request, Reply reply) override;

private:
    tower::TowerService& service_;
    ElectrumLimits limits_;
    Observer observer_;
};

}  // namespace argus::api
