#include "net/bitcoind_rpc.h"

#include <boost/beast/core/detail/base64.hpp>
#include <fstream>

namespace argus::chain {

namespace {

// A 4 MB block as hex in a JSON reply, with room.
constexpr std::size_t max_reply_size = 64 * 1024 * 1024;

net::HttpClientOptions http_options(const RpcEndpoint& e) {
    net::HttpClientOptions o;
    o.host = e.host;
    o.port = e.port;
    o.connect_timeout = o.write_timeout = o.read_timeout = e.timeout;
    o.max_response_body = max_reply_size;
    return o;
}

std::string base64(const std::string& in) {
    namespace b64 = boost::beast::detail::base64;
    std::string out(b64::encoded_size(in.size()), '\0');
    out.resize(b64::encode(out.data(), in.data(), in.size()));
    return out;
}

Result<std::string, RpcError> credentials(const RpcEndpoint& e) {
    if (!e.user.empty()) return e.user + ":" + e.password;
    std::ifstream in(e.cookie_file);
    if (!in) return RpcError{RpcError::Kind::transport, 0, "cannot read cookie file " + e.cookie_file};
    std::string cookie;
    std::getline(in, cookie);
    return cookie;
}

}  // namespace

BitcoindRpc::BitcoindRpc(RpcEndpoint endpoint) : endpoint_(std::move(endpoint)), http_(http_options(endpoint_)) {}
BitcoindRpc::~BitcoindRpc() = default;

Result<nlohmann::json, RpcError> BitcoindRpc::call(const std::string& method, const nlohmann::json& params) {
    std::lock_guard lock(mutex_);
    nlohmann::json request = {{"jsonrpc", "1.0"}, {"id", next_id_++}, {"method", method}, {"params", params}};
    // A restarted bitcoind writes a new cookie: read it again after any
    // failure to reach bitcoind, and once more on a 401 with an old one.
    for (int attempt = 0; attempt < 2; ++attempt) {
        bool fresh_credentials = authorization_.empty();
        if (fresh_credentials) {
            auto creds = credentials(endpoint_);
            if (!creds) return creds.error();
            authorization_ = "Basic " + base64(*creds);
        }
        auto response = http_.post("/", request.dump(), "application/json", authorization_);
        if (!response) {
            authorization_.clear();
            return RpcError{RpcError::Kind::transport, 0, "bitcoind RPC " + method + ": " + response.error().message};
        }
        if (response->status == 401) {
            authorization_.clear();
            if (!fresh_credentials) continue;
            return RpcError{RpcError::Kind::http, 401, "bitcoind rejected the RPC credentials"};
        }
        auto body = nlohmann::json::parse(response->body, nullptr, false);
        if (body.is_discarded() || !body.is_object()) {
            return RpcError{RpcError::Kind::malformed, static_cast<int>(response->status),
                            "bitcoind answered " + std::to_string(response->status) + " without JSON"};
        }
        if (body.contains("error") && !body["error"].is_null()) {
            const auto& e = body["error"];
            int code = e.contains("code") && e["code"].is_number_integer() ? e["code"].get<int>() : 0;
            std::string message = e.contains("message") && e["message"].is_string() ? e["message"].get<std::string>() : e.dump();
            return RpcError{RpcError::Kind::rpc, code, message};
        }
        if (!body.contains("result")) return RpcError{RpcError::Kind::malformed, 0, "RPC reply without result"};
        return body["result"];
    }
    return RpcError{RpcError::Kind::http, 401, "bitcoind rejected the RPC credentials"};
}

}  // namespace argus::chain
