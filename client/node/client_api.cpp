#include "client/node/client_api.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <set>

#include "common/hex.h"

namespace argus::client {

using json = nlohmann::json;

namespace {
api::HttpResponse ok(const json& j) { return {200, j.dump(-1, ' ', false, json::error_handler_t::replace)}; }
api::HttpResponse fail(unsigned status, const std::string& message) {
    return {status, json{{"error", message}}.dump(-1, ' ', false, json::error_handler_t::replace)};
}
}  // namespace

Result<RevokedState> parse_revoked_state(const json& j) {
    if (!j.is_object()) return make_error(ErrorCode::invalid_argument, "expected a JSON object");
    RevokedState s;
    for (const char* field : {"commitment_txid", "penalty_tx"}) {
        if (!j.contains(field) || !j[field].is_string()) {
            return make_error(ErrorCode::invalid_argument, std::string("missing string field `") + field + "`");
        }
    }
    s.commitment_txid = j["commitment_txid"].get<std::string>();
    s.penalty_tx = j["penalty_tx"].get<std::string>();
    if (j.contains("channel_id")) {
        if (!j["channel_id"].is_string()) return make_error(ErrorCode::invalid_argument, "`channel_id` must be a string");
        s.channel_id = j["channel_id"].get<std::string>();
    }
    if (j.contains("commitnum")) {
        if (!j["commitnum"].is_number_unsigned()) return make_error(ErrorCode::invalid_argument, "`commitnum` must be an unsigned integer");
        s.commitment_number = j["commitnum"].get<std::uint64_t>();
    }
    if (j.contains("to_self_delay")) {
        if (!j["to_self_delay"].is_number_unsigned() || j["to_self_delay"].get<std::uint64_t>() > 0xffffffffULL) {
            return make_error(ErrorCode::invalid_argument, "`to_self_delay` must be a u32");
        }
        s.to_self_delay = j["to_self_delay"].get<std::uint32_t>();
    }
    if (j.contains("funding_outpoint")) {
        // "txid:vout", as bitcoind and Core Lightning print it.
        const json& f = j["funding_outpoint"];
        std::string text = f.is_string() ? f.get<std::string>() : "";
        auto colon = text.find(':');
        auto txid = Txid::from_display_hex(text.substr(0, colon == std::string::npos ? 0 : colon));
        std::string index = colon == std::string::npos ? "" : text.substr(colon + 1);
        bool digits = !index.empty() && index.size() <= 10 && index.find_first_not_of("0123456789") == std::string::npos;
        if (!txid || !digits || std::stoull(index) > 0xffffffffULL) {
            return make_error(ErrorCode::invalid_argument, "`funding_outpoint` must be \"<txid>:<vout>\"");
        }
        s.funding_outpoint = OutPoint{*txid, static_cast<std::uint32_t>(std::stoull(index))};
    }
    return s;
}

Result<EventPoll> parse_events_query(std::string_view query, std::uint64_t max_timeout_ms) {
    EventPoll poll;
    std::set<std::string_view> seen;
    auto number = [](std::string_view name, std::string_view text, std::uint64_t& out) -> Status {
        auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
        if (text.empty() || ec != std::errc() || end != text.data() + text.size()) {
            return make_error(ErrorCode::invalid_argument, "`" + std::string(name) + "` must be a decimal number");
        }
        return {};
    };
    while (!query.empty()) {
        auto amp = query.find('&');
        std::string_view pair = query.substr(0, amp);
        query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
        if (pair.empty()) continue;
        auto eq = pair.find('=');
        std::string_view name = pair.substr(0, eq);
        std::string_view value = eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
        if (name != "after" && name != "timeout_ms" && name != "stream") {
            return make_error(ErrorCode::invalid_argument, "unknown parameter `" + std::string(name.substr(0, 64)) +
                                                               "` (known: after, timeout_ms, stream)");
        }
        if (!seen.insert(name).second) return make_error(ErrorCode::invalid_argument, "`" + std::string(name) + "` given twice");
        if (name == "after") {
            if (auto ok = number(name, value, poll.after); !ok) return ok.error();
        } else if (name == "timeout_ms") {
            std::uint64_t ms = 0;
            if (auto ok = number(name, value, ms); !ok) return ok.error();
            if (ms > max_timeout_ms) {
                return make_error(ErrorCode::invalid_argument, "`timeout_ms` must be at most " + std::to_string(max_timeout_ms));
            }
            poll.timeout = std::chrono::milliseconds(ms);
        } else {
            bool hex = !value.empty() && value.size() <= 64 &&
                       std::all_of(value.begin(), value.end(), [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; });
            if (!hex) return make_error(ErrorCode::invalid_argument, "`stream` must be the hex id GET /events answered");
            poll.stream = std::string(value);
        }
    }
    return poll;
}

void ClientApi::handle(api::HttpRequest request, api::Reply reply) {
    const std::string& t = request.target;
    json body = request.body.empty() ? json::object() : json::parse(request.body, nullptr, false);
    if (body.is_discarded()) return reply(fail(400, "body is not JSON"));
    if (request.method == api::Method::get && t == "/status") return reply(ok(node_.status_json()));
    if (request.method == api::Method::get && t == "/metrics") {
        return reply(api::HttpResponse{200, node_.metrics_text(), "text/plain; version=0.0.4"});
    }
    if (request.method == api::Method::get && t == "/towers") return reply(ok(node_.towers_json()));
    if (request.method == api::Method::get && t == "/backups") return reply(ok(node_.backups_json()));
    if (request.method == api::Method::get && t == "/channels/status") {
        auto channels = node_.channels_json();
        return reply(channels ? ok(*channels) : fail(503, channels.error().message));
    }
    if (request.method == api::Method::get && (t == "/events" || t.rfind("/events?", 0) == 0)) {
        EventFeed& events = node_.events();
        auto poll = parse_events_query(t.size() > 7 ? std::string_view(t).substr(8) : std::string_view(),
                                       static_cast<std::uint64_t>(events.options().max_timeout.count()));
        if (!poll) return reply(fail(400, poll.error().message));
        // Parked, not waited for: the answer comes from whichever thread has it.
        auto parked = events.poll(*poll, [reply](json answer) { reply(ok(answer)); });
        if (!parked) return reply(fail(503, parked.error().message));
        return;
    }
    if (request.method == api::Method::post && t == "/towers") {
        if (!body.contains("tower") || !body["tower"].is_string()) return reply(fail(400, "missing string field `tower`"));
        auto added = node_.add_tower(body["tower"].get<std::string>());
        return reply(added ? ok(json{{"tower", *added}}) : fail(400, added.error().message));
    }
    if (request.method == api::Method::del && t.rfind("/towers/", 0) == 0) {
        auto removed = node_.remove_tower(t.substr(8));
        if (removed) return reply(ok(json{{"removed", t.substr(8)}}));
        return reply(fail(removed.error().code == ErrorCode::not_found ? 404 : 400, removed.error().message));
    }
    if (request.method == api::Method::post && t == "/backups") {
        auto state = parse_revoked_state(body);
        if (!state) return reply(fail(400, state.error().message));
        auto locator = node_.backup(*state);
        if (!locator) {
            return reply(fail(locator.error().code == ErrorCode::storage ? 503 : 400, locator.error().message));
        }
        return reply(ok(json{{"locator", to_hex(*locator)}}));
    }
    if (request.method == api::Method::post && t == "/retry") {
        auto r = node_.retry_now();
        return reply(r ? ok(json{{"retrying", true}}) : fail(503, r.error().message));
    }
    if (request.method == api::Method::post && t == "/audit") {
        auto r = node_.audit();
        return reply(r ? ok(node_.towers_json()) : fail(503, r.error().message));
    }
    if (channels_ && t == "/channels" && request.method == api::Method::get) return reply(ok(channels_->list()));
    if (channels_ && t == "/channels" && request.method == api::Method::post) {
        auto id = channels_->add_channel(body);
        return reply(id ? ok(json{{"channel_id", *id}}) : fail(400, id.error().message));
    }
    const std::string suffix = "/revocations";
    if (channels_ && request.method == api::Method::post && t.rfind("/channels/", 0) == 0 && t.size() > 10 + suffix.size() &&
        t.compare(t.size() - suffix.size(), suffix.size(), suffix) == 0) {
        std::string id = t.substr(10, t.size() - 10 - suffix.size());
        auto locator = channels_->revoke(id, body);
        if (locator) return reply(ok(json{{"locator", *locator}}));
        unsigned status = locator.error().code == ErrorCode::not_found ? 404 : locator.error().code == ErrorCode::storage ? 503 : 400;
        return reply(fail(status, locator.error().message));
    }
    reply(fail(404, "unknown command"));
}

}  // namespace argus::client
