// The daemon's second way to receive revoked states: the wallet registers a
// channel's material once, then sends each revocation with the state it
// revoked; the BOLT 3 engine builds and checks the justice transaction.
//
// The material is only what a justice transaction needs (JusticeMaterial): the
// revocation basepoint secret, public basepoints, the funding outpoint and
// where to sweep. A request carrying any other local secret (funding, payment,
// delayed payment, HTLC) is refused with the field's name, so those secrets
// never reach this process's memory beyond the parse, nor its disk.
//
// Channels and revealed per-commitment secrets are kept in an SQLite file
// created 0600 (with its -wal and -shm) so the shachain consistency check
// survives restarts. The stored material is re-encoded from the parsed values,
// never the request as posted.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>

#include "client/channel/channel.h"
#include "client/node/client_node.h"

namespace argus::client {

// The channels.sqlite schema version this code writes (PRAGMA user_version).
// 0: material as posted, every local secret included (earlier builds).
// 1: material reduced to JusticeMaterial; migration 1 rewrites version 0 rows.
inline constexpr int channel_book_schema_version = 1;

class ChannelBook {
public:
    // `kits`: the policy of the penalty kit built with each justice
    // transaction (nullopt: classic penalties only).
    explicit ChannelBook(ClientNode& node, std::optional<KitPolicy> kits = KitPolicy{}) : node_(node), kits_(kits) {}
    Status open(const std::string& path);

    // POST /channels
    Result<std::string> add_channel(const nlohmann::json& material);
    // POST /channels/<id>/revocations: returns the backup's locator (hex).
    Result<std::string> revoke(const std::string& channel_id, const nlohmann::json& revocation);
    nlohmann::json list();

    struct Entry {
        std::unique_ptr<WatchedChannel> channel;
        std::string sweep_address;
        Bytes sweep_script;
        std::uint32_t feerate_per_kw = 2500;
    };
    // Parses and checks channel material (the POST /channels shape).
    static Result<Entry> parse(const nlohmann::json& material);
    // The material as stored: what parse() needs to rebuild the entry, nothing else.
    static nlohmann::json stored_material(const Entry& entry);

private:
    Status migrate();
    Status load();

    ClientNode& node_;
    std::optional<KitPolicy> kits_;
    std::mutex mutex_;
    std::map<std::string, Entry> channels_;
    struct Db;
    std::shared_ptr<Db> db_;
};

}  // namespace argus::client
