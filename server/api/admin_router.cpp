#include "server/api/admin_router.h"

#include "common/penalty_kit.h"
#include "server/watch/kit_response.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "common/hex.h"
#include "common/watchtower_crypto.h"

namespace argus::api {

namespace {
using json = nlohmann::json;

HttpResponse json_response(unsigned status, const json& body) {
    return HttpResponse{status, body.dump(-1, ' ', false, json::error_handler_t::replace)};
}

HttpResponse error(unsigned status, const std::string& message) {
    return json_response(status, json{{"error", message}});
}

json user_json(const store::UserRecord& u) {
    return json{{"user_id", to_hex(u.user_id)},
                {"available_slots", u.available_slots},
                {"subscription_start", u.subscription_start},
                {"subscription_expiry", u.subscription_expiry}};
}
}  // namespace

void AdminRouter::handle(HttpRequest request, Reply reply) {
    const std::string prefix = "Bearer ";
    std::string presented = request.authorization.rfind(prefix, 0) == 0 ? request.authorization.substr(prefix.size()) : "";
    if (!constant_time_equal(as_bytes(presented), as_bytes(context_.token))) {
        return reply(error(401, "missing or wrong operator token"));
    }
    const std::string& t = request.target;
    if (request.method == Method::get && t == "/info") {
        auto counts = context_.store.counts();
        auto chain = context_.chain();
        auto stats = context_.service.committer_stats();
        auto role = context_.role ? context_.role() : std::make_pair(std::string("leader"), std::uint64_t{0});
        return reply(json_response(
            200, json{{"tower_id", to_hex(context_.service.tower_id().bytes())},
                      {"wtwire_uri", context_.wtwire_uri.empty() ? json(nullptr) : json(context_.wtwire_uri)},
                      {"store", context_.store.backend_name()},
                      {"role", role.first},
                      {"leader_epoch", role.second},
                      {"wtwire_sessions", context_.service.session_count()},
                      {"users", counts ? counts->users : 0},
                      {"appointments", counts ? counts->appointments : 0},
                      {"trackers", context_.tracker_count ? context_.tracker_count() : 0},
                      {"chain_height", chain.height},
                      {"bitcoind_reachable", chain.reachable},
                      {"store_healthy", context_.service.healthy() && counts.has_value()},
                      {"locator_index_entries", context_.index.size()},
                      {"locator_index_bytes", context_.index.memory_bytes()},
                      {"commit_batches", stats.batches},
                      {"committed_requests", stats.parts},
                      {"largest_commit_batch", stats.largest_batch_parts}}));
    }
    if (request.method == Method::get && t == "/users") {
        json users = json::array();
        for (const auto& u : context_.service.list_users()) users.push_back(user_json(u));
        return reply(json_response(200, users));
    }
    if (t.rfind("/users/", 0) == 0) {
        auto parsed = parse_hex_array<33>(t.substr(7));
        if (!parsed) return reply(error(400, "user id must be 33 bytes of hex"));
        if (request.method == Method::get) {
            auto user = context_.service.get_user(*parsed);
            if (!user) return reply(error(404, "no such user"));
            auto locators = context_.store.user_locators(*parsed);
            if (!locators) return reply(error(503, locators.error().message));
            json j = user_json(*user);
            json list = json::array();
            for (const auto& l : *locators) list.push_back(to_hex(l));
            j["locators"] = list;
            return reply(json_response(200, j));
        }
        if (request.method == Method::del) {
            if (!context_.service.get_user(*parsed)) return reply(error(404, "no such user"));
            auto removed = context_.service.remove_user(*parsed);
            if (!removed) return reply(error(503, removed.error().message));
            return reply(json_response(200, json{{"removed_appointments", *removed}}));
        }
    }
    if (t == "/electrum/users" || t.rfind("/electrum/users/", 0) == 0) return electrum(request, reply);
    if (t == "/channels" && request.method == Method::get) {
        // Every Electrum channel, with its account.
        json all = json::array();
        auto accounts = context_.service.electrum_accounts();
        std::sort(accounts.begin(), accounts.end(), [](const auto& a, const auto& b) { return a.username < b.username; });
        for (const auto& a : accounts) {
            auto list = channel_list(a.account);
            if (!list) return reply(error(503, list.error().message));
            for (auto& c : *list) {
                json row{{"username", a.username}};
                row.update(c);
                all.push_back(std::move(row));
            }
        }
        return reply(json_response(200, all));
    }
    if (request.method == Method::post && t == "/backup") {
        auto body = json::parse(request.body, nullptr, false);
        if (body.is_discarded() || !body.is_object() || !body.contains("path") || !body["path"].is_string()) {
            return reply(error(400, "expected {\"path\": \"/absolute/path/of/the/new/file\"}"));
        }
        // Runs on the admin thread: one backup at a time, other operator
        // requests wait; the public API and the watcher are not held up.
        auto done = context_.store.backup(body["path"].get<std::string>());
        if (!done) {
            unsigned status = done.error().code == ErrorCode::invalid_argument ? 400
                              : done.error().code == ErrorCode::unsupported    ? 501
                                                                                : 503;
            return reply(error(status, done.error().message));
        }
        json j{{"path", done->path},
               {"bytes", done->bytes},
               {"users", done->counts.users},
               {"appointments", done->counts.appointments},
               {"schema_version", done->schema_version},
               {"chain_height", done->chain_position ? json(done->chain_position->height) : json(nullptr)},
               {"chain_block_hash", done->chain_position ? json(to_hex(reversed(done->chain_position->block_hash))) : json(nullptr)}};
        return reply(json_response(200, j));
    }
    if (request.method == Method::get && t.rfind("/appointments/", 0) == 0) {
        auto parsed = parse_hex_array<16>(t.substr(14));
        if (!parsed) return reply(error(400, "locator must be 16 bytes of hex"));
        auto found = context_.store.find_by_locator(*parsed);
        if (!found) return reply(error(503, found.error().message));
        json list = json::array();
        for (const auto& a : *found) {
            auto tracker = context_.tracker_for ? context_.tracker_for(a.locator, a.user_id) : std::nullopt;
            json entry{{"locator", to_hex(a.locator)},
                                {"user_id", to_hex(a.user_id)},
                                {"trigger_kind", static_cast<int>(a.trigger)},
                                {"payload_kind", static_cast<int>(a.payload)},
                                {"to_self_delay", a.to_self_delay},
                                {"start_block", a.start_block},
                                {"blob_size", a.blob.size()},
                                {"status", !tracker ? "being_watched"
                                           : tracker->waiting_for_fee_until ? "penalty_waiting_for_fee"
                                                                            : "dispute_responded"}};
            if (tracker) {
                entry["dispute_txid"] = tracker->dispute_txid.to_display_hex();
                entry["penalty_txid"] = tracker->penalty_txid.to_display_hex();
                if (tracker->waiting_for_fee_until) entry["retried_until_height"] = *tracker->waiting_for_fee_until;
                if (!tracker->kit_state.empty()) {
                    // A penalty kit: each output's penalty on its own.
                    auto response = watch::KitResponse::decode(tracker->kit_state);
                    json parts = json::array();
                    if (response) {
                        for (std::size_t i = 0; i < response->parts().size(); ++i) {
                            const auto& part = response->kit().parts[i];
                            const auto& s = response->parts()[i];
                            json p{{"kind", kit::to_string(part.kind)},
                                   {"vout", part.vout},
                                   {"amount", part.amount},
                                   {"status", watch::to_string(s.status)},
                                   {"rung", s.rung ? json(*s.rung) : json(nullptr)},
                                   {"rungs", part.rungs.size()},
                                   {"fee", s.rung ? json(part.rungs[*s.rung].fee) : json(nullptr)},
                                   {"top_fee", part.rungs.back().fee},
                                   {"past_deadline", s.past_deadline}};
                            if (s.status != watch::PartStatus::waiting) p["deadline_height"] = response->deadline(i);
                            if (s.status == watch::PartStatus::confirmed || s.status == watch::PartStatus::lost) {
                                p["settled_height"] = s.settled_height;
                            }
                            if (s.status == watch::PartStatus::lost) p["spent_by"] = s.spender.to_display_hex();
                            parts.push_back(std::move(p));
                        }
                    }
                    entry["penalty_kit"] = std::move(parts);
                }
            }
            list.push_back(entry);
        }
        return reply(json_response(200, list));
    }
    reply(error(404, "unknown operator command"));
}

// An account's channels with what the chain did to them: open, or closed
// (cooperative, unilateral, breach) by which transaction at which height,
// and for a breach the sweeps the tower broadcast with their confirmations.
Result<nlohmann::json> AdminRouter::channel_list(const store::UserId& account) const {
    auto closes = context_.store.load_channel_closes();
    if (!closes) return closes.error();
    std::uint32_t tip = context_.chain().height;
    json list = json::array();
    for (const auto& c : context_.service.electrum_channels(account)) {
        json j{{"funding_outpoint", c.funding_txid.to_display_hex() + ":" + std::to_string(c.funding_vout)},
               {"funding_address", c.funding_address},
               {"max_ctn", c.max_ctn},
               {"status", "open"}};
        for (const auto& close : *closes) {
            if (close.funding_txid != c.funding_txid || close.funding_vout != c.funding_vout) continue;
            j["status"] = "closed";
            j["close_type"] = store::to_string(close.type);
            j["closing_txid"] = close.closing_txid.to_display_hex();
            j["closed_height"] = close.height;
            j["closing_confirmations"] = tip >= close.height ? tip - close.height + 1 : 0;
            if (close.penalty_txid) {
                j["penalty_txid"] = close.penalty_txid->to_display_hex();
                // While the responder follows it, its depth; once resolved
                // (resolve-depth confirmations) the tracker is gone.
                auto t = context_.tracker_for ? context_.tracker_for(teos::locator(close.closing_txid), account)
                                              : std::nullopt;
                if (t && t->penalty_txid == *close.penalty_txid) {
                    j["penalty_status"] = t->confirmed_height ? "confirmed" : "broadcast";
                    j["penalty_confirmations"] =
                        t->confirmed_height && tip >= *t->confirmed_height ? tip - *t->confirmed_height + 1 : 0;
                } else {
                    j["penalty_status"] = "resolved";
                }
            }
        }
        list.push_back(std::move(j));
    }
    return list;
}

void AdminRouter::electrum(const HttpRequest& request, const Reply& reply) {
    const std::string& t = request.target;
    auto user_json_of = [&](const store::ElectrumAccountRecord& a) {
        json j{{"username", a.username}, {"user_id", to_hex(a.account)}};
        if (auto u = context_.service.get_user(a.account)) {
            j["available_slots"] = u->available_slots;
            j["subscription_expiry"] = u->subscription_expiry;
        }
        j["channels"] = context_.service.electrum_channels(a.account).size();
        return j;
    };
    if (t == "/electrum/users" && request.method == Method::get) {
        json list = json::array();
        auto accounts = context_.service.electrum_accounts();
        std::sort(accounts.begin(), accounts.end(), [](const auto& a, const auto& b) { return a.username < b.username; });
        for (const auto& a : accounts) list.push_back(user_json_of(a));
        return reply(json_response(200, list));
    }
    if (t == "/electrum/users" && request.method == Method::post) {
        auto body = json::parse(request.body, nullptr, false);
        if (body.is_discarded() || !body.is_object() || !body.contains("username") || !body["username"].is_string() ||
            !body.contains("password") || !body["password"].is_string()) {
            return reply(error(400, "expected {\"username\": ..., \"password\": ...}"));
        }
        auto created = context_.service.create_electrum_account(body["username"].get<std::string>(),
                                                                body["password"].get<std::string>());
        if (!created) {
            return reply(error(created.error().code == ErrorCode::invalid_argument ? 400 : 503, created.error().message));
        }
        return reply(json_response(200, user_json_of(*created)));
    }
    std::string rest = t.size() > 16 ? t.substr(16) : "";  // after "/electrum/users/"
    std::string name = rest.substr(0, rest.find('/'));
    bool channels = rest.size() > name.size() && rest.substr(name.size()) == "/channels";
    if (auto ok = tower::check_electrum_username(name); !ok) return reply(error(400, ok.error().message));
    store::UserId account = tower::electrum_account_id(name);
    if (!context_.service.get_user(account)) return reply(error(404, "no Electrum user " + name));
    if (channels && request.method == Method::get) {
        auto list = channel_list(account);
        if (!list) return reply(error(503, list.error().message));
        return reply(json_response(200, *list));
    }
    if (!channels && rest == name && request.method == Method::del) {
        auto removed = context_.service.remove_electrum_account(name);
        if (!removed) {
            return reply(error(removed.error().code == ErrorCode::not_found ? 404 : 503, removed.error().message));
        }
        return reply(json_response(200, json{{"removed_appointments", *removed}}));
    }
    reply(error(404, "unknown operator command"));
}

}  // namespace argus::api
