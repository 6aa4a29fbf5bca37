#include "server/api/electrum_router.h"

#include <sodium.h>

#include <chrono>

#include "common/hex.h"
#include "common/transaction.h"

namespace argus::api {

using json = nlohmann::json;

namespace {

HttpResponse rpc_reply(unsigned status, json body) {
    return HttpResponse{status, body.dump(-1, ' ', false, json::error_handler_t::replace), "application/json"};
}

HttpResponse rpc_error(unsigned status, const json& id, int code, const std::string& message) {
    return rpc_reply(status, json{{"jsonrpc", "2.0"}, {"id", id}, {"error", {{"code", code}, {"message", message}}}});
}

HttpResponse rpc_result(const json& id, json result) {
    return rpc_reply(200, json{{"jsonrpc", "2.0"}, {"id", id}, {"result", std::move(result)}});
}

// A parameter by position or by the name Electrum's lnwatcher gives it.
const json* param(const json& params, std::size_t position, std::initializer_list<const char*> names) {
    if (params.is_array()) return position < params.size() ? &params[position] : nullptr;
    for (const char* n : names) {
        if (auto it = params.find(n); it != params.end()) return &*it;
    }
    return nullptr;
}

std::size_t param_count(const json& params) { return params.is_array() || params.is_object() ? params.size() : 0; }

}  // namespace

std::optional<OutPoint> parse_electrum_outpoint(std::string_view text) {
    auto colon = text.find(':');
    if (colon != 64 || colon + 1 >= text.size() || text.size() - colon - 1 > 10) return std::nullopt;
    auto txid = Txid::from_display_hex(std::string(text.substr(0, 64)));
    if (!txid) return std::nullopt;
    std::uint64_t n = 0;
    for (char c : text.substr(colon + 1)) {
        if (c < '0' || c > '9') return std::nullopt;
        n = n * 10 + static_cast<std::uint64_t>(c - '0');
    }
    if (n > 0xffffffffu) return std::nullopt;
    return OutPoint{*txid, static_cast<std::uint32_t>(n)};
}

std::optional<std::pair<std::string, std::string>> parse_basic_authorization(std::string_view header) {
    const std::string_view prefix = "Basic ";
    if (header.substr(0, prefix.size()) != prefix) return std::nullopt;
    std::string_view encoded = header.substr(prefix.size());
    if (encoded.empty() || encoded.size() > 1024) return std::nullopt;
    std::string decoded(encoded.size(), '\0');
    std::size_t length = 0;
    if (sodium_base642bin(reinterpret_cast<unsigned char*>(decoded.data()), decoded.size(), encoded.data(),
                          encoded.size(), nullptr, &length, nullptr, sodium_base64_VARIANT_ORIGINAL) != 0) {
        return std::nullopt;
    }
    decoded.resize(length);
    auto colon = decoded.find(':');
    if (colon == std::string::npos) return std::nullopt;
    return std::make_pair(decoded.substr(0, colon), decoded.substr(colon + 1));
}

Result<ElectrumCall, ElectrumCallError> parse_electrum_call(std::string_view body) {
    json request = json::parse(body, nullptr, false);
    if (request.is_discarded()) return ElectrumCallError{nullptr, electrum_code::parse_error, "body is not JSON"};
    if (!request.is_object()) {
        return ElectrumCallError{nullptr, electrum_code::invalid_request, "a JSON-RPC request is an object"};
    }
    json id = request.contains("id") ? request["id"] : json(nullptr);
    if (!id.is_string() && !id.is_number_integer() && !id.is_null()) {
        return ElectrumCallError{nullptr, electrum_code::invalid_request, "id must be a string, an integer or null"};
    }
    auto method = request.find("method");
    if (method == request.end() || !method->is_string()) {
        return ElectrumCallError{id, electrum_code::invalid_request, "method must be a string"};
    }
    json params = request.contains("params") ? request["params"] : json::array();
    if (!params.is_array() && !params.is_object()) {
        return ElectrumCallError{id, electrum_code::invalid_request, "params must be an array or an object"};
    }
    auto invalid = [&](const std::string& why) -> Result<ElectrumCall, ElectrumCallError> {
        return ElectrumCallError{id, electrum_code::invalid_params, why};
    };
    auto outpoint = [&](const json* p, const char* what) -> std::optional<OutPoint> {
        if (!p || !p->is_string()) return std::nullopt;
        auto o = parse_electrum_outpoint(p->get<std::string>());
        (void)what;
        return o;
    };
    const std::string& name = method->get_ref<const std::string&>();
    if (name == "get_ctn") {
        if (param_count(params) != 2) return invalid("get_ctn takes (funding_outpoint, funding_address)");
        auto funding = outpoint(param(params, 0, {"outpoint", "funding_outpoint"}), "funding_outpoint");
        if (!funding) return invalid("funding_outpoint must be \"txid:n\"");
        const json* address = param(params, 1, {"addr", "address", "funding_address"});
        if (!address || !address->is_string() || address->get<std::string>().size() > 128) {
            return invalid("funding_address must be a string");
        }
        return ElectrumCall{id, GetCtnCall{*funding, address->get<std::string>()}};
    }
    if (name == "add_sweep_tx") {
        if (param_count(params) != 4) return invalid("add_sweep_tx takes (funding_outpoint, ctn, prevout, raw_tx)");
        auto funding = outpoint(param(params, 0, {"funding_outpoint"}), "funding_outpoint");
        if (!funding) return invalid("funding_outpoint must be \"txid:n\"");
        const json* ctn = param(params, 1, {"ctn"});
        if (!ctn || !ctn->is_number_integer() || ctn->get<std::int64_t>() < 0 ||
            ctn->get<std::int64_t>() > 0xffffffffffffLL) {
            return invalid("ctn must be a commitment number (an integer from 0 to 2^48-1)");
        }
        auto prevout = outpoint(param(params, 2, {"prevout"}), "prevout");
        if (!prevout) return invalid("prevout must be \"txid:n\"");
        const json* raw = param(params, 3, {"raw_tx", "tx"});
        if (!raw || !raw->is_string()) return invalid("raw_tx must be a hex string");
        auto bytes = parse_hex(raw->get<std::string>());
        if (!bytes) return invalid("raw_tx is not hex");
        auto tx = parse_transaction(*bytes);
        if (!tx) return invalid("raw_tx is not a transaction: " + tx.error().message);
        bool spends = false;
        for (const auto& in : tx->inputs) spends = spends || in.prevout == *prevout;
        if (!spends) return invalid("raw_tx does not spend prevout");
        if (prevout->txid == funding->txid) return invalid("a sweep spends a commitment's output, not the funding output");
        return ElectrumCall{id, AddSweepCall{*funding, ctn->get<std::int64_t>(), *prevout, std::move(*bytes)}};
    }
    return ElectrumCallError{id, electrum_code::method_not_found, "unknown method " + name.substr(0, 64)};
}

ElectrumRouter::ElectrumRouter(tower::TowerService& service, ElectrumLimits limits, Observer observer)
    : service_(service), limits_(limits), observer_(std::move(observer)) {}

std::size_t ElectrumRouter::body_limit(Method method, std::string_view target) const {
    // Any POST may carry a body up to the limit, so a wrong path is a 404, not a 413.
    (void)target;
    return method == Method::post ? limits_.body_limit : 0;
}

void ElectrumRouter::handle(HttpRequest request, Reply reply) {
    auto start = std::chrono::steady_clock::now();
    auto observe = [this, start](const std::string& method, bool ok) {
        if (observer_) {
            observer_(method, ok, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
        }
    };
    if (request.target != "/") {
        observe("other", false);
        return reply(rpc_error(404, nullptr, electrum_code::invalid_request, "the watchtower answers POST /"));
    }
    if (request.method != Method::post) {
        observe("other", false);
        return reply(rpc_error(405, nullptr, electrum_code::invalid_request, "the watchtower answers POST /"));
    }
    auto credentials = parse_basic_authorization(request.authorization);
    std::optional<store::UserId> account;
    if (credentials) account = service_.electrum_authenticate(credentials->first, credentials->second);
    if (!account) {
        observe("unauthorized", false);
        return reply(rpc_error(401, nullptr, electrum_code::unauthorized,
                               credentials ? "wrong username or password" : "HTTP Basic credentials required"));
    }
    auto call = parse_electrum_call(request.body);
    if (!call) {
        observe("invalid", false);
        return reply(rpc_error(200, call.error().id, call.error().code, call.error().message));
    }
    json id = call->id;
    auto fail = [](const tower::ApiError& e) {
        int code = e.code == tower::teos_error::service_unavailable ? electrum_code::unavailable
                   : e.code == tower::teos_error::invalid_signature_or_subscription ? electrum_code::subscription
                                                                                     : electrum_code::rejected;
        return std::make_pair(code, e.message);
    };
    if (auto* get = std::get_if<GetCtnCall>(&call->call)) {
        service_.electrum_get_ctn(*account, get->funding, get->funding_address,
                                  [reply, id, fail, observe](tower::ApiResult<std::int64_t> r) {
                                      observe("get_ctn", static_cast<bool>(r));
                                      if (!r) {
                                          auto [code, message] = fail(r.error());
                                          return reply(rpc_error(200, id, code, message));
                                      }
                                      reply(rpc_result(id, *r));
                                  });
        return;
    }
    auto& add = std::get<AddSweepCall>(call->call);
    service_.electrum_add_sweep(*account, add.funding, add.ctn, add.prevout, std::move(add.raw_tx),
                                [reply, id, fail, observe](tower::ApiResult<bool> r) {
                                    observe("add_sweep_tx", static_cast<bool>(r));
                                    if (!r) {
                                        auto [code, message] = fail(r.error());
                                        return reply(rpc_error(200, id, code, message));
                                    }
                                    reply(rpc_result(id, nullptr));
                                });
}

}  // namespace argus::api
