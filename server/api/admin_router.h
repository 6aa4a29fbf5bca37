// The operator interface: JSON over HTTP on a loopback-only listener, every
// request authenticated by the token in the data dir (constant-time compare).
//   GET    /info                   tower id, wtwire URI, counts, sessions, chain tip, bitcoind reachable
//   GET    /users                  every user with its subscription
//   GET    /users/<user_id>        one user and its locators
//   DELETE /users/<user_id>        remove a user and all its appointments
//   GET    /appointments/<locator> every appointment (any user) with that locator
//   POST   /backup {"path": P}     an online, consistent copy of an SQLite store at the new file P
//   GET    /electrum/users                    Electrum accounts with their subscription and channel count
//   POST   /electrum/users {username, password}  create one
//   DELETE /electrum/users/<username>         remove it, its channels and sweeps
//   GET    /electrum/users/<username>/channels  its channels: funding outpoint, address, highest ctn,
//                                             open or closed (how, by which txid), the penalty's confirmations
//   GET    /channels                          every Electrum channel, with its account
#pragma once

#include <functional>
#include <optional>

#include <nlohmann/json.hpp>

#include "net/http_server.h"
#include "server/tower/tower_service.h"

namespace argus::api {

struct AdminContext {
    tower::TowerService& service;
    store::Store& store;
    const tower::LocatorIndex& index;
    std::function<tower::ChainStatus()> chain;
    std::function<std::size_t()> tracker_count;  // responder
    std::function<std::optional<tower::TrackerView>(const Locator&, const store::UserId&)> tracker_for;
    std::string token;
    // What an LND operator pastes into `lncli wtclient add`: pubkey@host:port
    // (empty when the wtwire front door is off).
    std::string wtwire_uri;
    // The tower's role in its group (leader, standby) and the group's epoch.
    std::function<std::pair<std::string, std::uint64_t>()> role;
};

class AdminRouter final : public Router {
public:
    explicit AdminRouter(AdminContext context) : context_(std::move(context)) {}
    std::size_t body_limit(Method method, std::string_view target) const override {
        return method == Method::post && (target == "/backup" || target == "/electrum/users") ? 8192 : 0;
    }
    void handle(HttpRequest request, Reply reply) override;

private:
    void electrum(const HttpRequest& request, const Reply& reply);
    Result<nlohmann::json> channel_list(const store::UserId& account) const;
    AdminContext context_;
};

}  // namespace argus::api
