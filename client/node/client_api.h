// The client daemon's local HTTP/JSON API (loopback only), so wallets in any
// language can hand it revoked states:
//   GET  /status                    user id, queue depth, towers
//   GET  /towers                    per-tower standing and pending/acknowledged/failed counts
//   POST /towers    {"tower": "id@host:port"}
//   DELETE /towers/<tower_id>
//   POST /backups   {"commitment_txid", "penalty_tx", "channel_id", "commitnum"[, "to_self_delay", "funding_outpoint"]}
//   GET  /backups                   every backup and its status at each tower
//   POST /retry                     retry pending deliveries now
//   POST /audit                     ask towers for every acknowledged appointment
//   GET  /metrics                   Prometheus: queue depth, backups per tower, reachability
//   POST /channels  {channel material}       the engine builds justice transactions itself
//   GET  /channels
//   POST /channels/<id>/revocations {"commitment_number", "per_commitment_secret", "state"}
//   GET  /channels/status           per channel backed up: towers, commitnum, breach reported
//   GET  /events?after=SEQ&timeout_ms=N[&stream=ID]   long-poll: backup_acknowledged, breach_reported
#pragma once

#include "client/node/channel_material.h"
#include "client/node/client_node.h"
#include "net/http_server.h"

namespace argus::client {

class ClientApi final : public api::Router {
public:
    explicit ClientApi(ClientNode& node, ChannelBook* channels = nullptr) : node_(node), channels_(channels) {}
    std::size_t body_limit(api::Method, std::string_view) const override { return 256 * 1024; }
    void handle(api::HttpRequest request, api::Reply reply) override;

private:
    ClientNode& node_;
    ChannelBook* channels_;
};

// Parses a revoked state from JSON (the plugin hook's and the API's shape).
Result<RevokedState> parse_revoked_state(const nlohmann::json& j);

// Parses GET /events' query (what follows '?', may be empty): `after`
// (decimal, default 0), `timeout_ms` (decimal, 0..max_timeout_ms, default 0),
// `stream` (hex, up to 64 characters). Unknown, repeated or malformed
// parameters are refused, naming them.
Result<EventPoll> parse_events_query(std::string_view query, std::uint64_t max_timeout_ms);

}  // namespace argus::client
