// The daemon's second way to receive revoked states: the wallet registers a
// channel's material once (its own channel secrets, the counterparty's
// basepoints, where to sweep), then sends each revocation with the state it
// revoked; the BOLT 3 engine builds and checks the justice transaction.
// Channels and revealed secrets are kept in the queue database (0600, in a
// 0700 data dir) so the shachain consistency check survives restarts.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>

#include "client/channel/channel.h"
#include "client/node/client_node.h"

namespace argus::client {

struct ChannelRecord {
    std::string channel_id;
    nlohmann::json material;  // as posted, secrets included
};

class ChannelBook {
public:
    explicit ChannelBook(ClientNode& node) : node_(node) {}
    Status open(const std::string& path);

    // POST /channels
    Result<std::string> add_channel(const nlohmann::json& material);
    // POST /channels/<id>/revocations: returns the backup's locator (hex).
    Result<std::string> revoke(const std::string& channel_id, const nlohmann::json& revocation);
    nlohmann::json list();

private:
    struct Entry {
        std::unique_ptr<Channel> channel;
        Bytes sweep_script;
        std::uint32_t feerate_per_kw = 253;
    };
    static Result<Entry> build(const nlohmann::json& material);

    ClientNode& node_;
    std::mutex mutex_;
    std::map<std::string, Entry> channels_;
    struct Db;
    std::shared_ptr<Db> db_;
};

}  // namespace argus::client
