#include "net/bitcoind_rpc.h"

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/core/detail/base64.hpp>
#include <boost/beast/http.hpp>
#include <fstream>
#include <sstream>

namespace argus::chain {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

struct BitcoindRpc::Connection {
    net::io_context io;
    beast::tcp_stream stream{io};
    std::string authorization;
};

BitcoindRpc::BitcoindRpc(RpcEndpoint endpoint) : endpoint_(std::move(endpoint)) {}
BitcoindRpc::~BitcoindRpc() = default;

namespace {
std::string base64(const std::string& in) {
    std::string out(beast::detail::base64::encoded_size(in.size()), '\0');
    out.resize(beast::detail::base64::encode(out.data(), in.data(), in.size()));
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

Result<nlohmann::json, RpcError> BitcoindRpc::call(const std::string& method, const nlohmann::json& params) {
    std::lock_guard lock(mutex_);
    nlohmann::json request = {{"jsonrpc", "1.0"}, {"id", next_id_++}, {"method", method}, {"params", params}};
    for (int attempt = 0; attempt < 2; ++attempt) {
        bool fresh = false;
        if (!connection_) {
            auto creds = credentials(endpoint_);
            if (!creds) return creds.error();
            auto c = std::make_unique<Connection>();
            c->authorization = "Basic " + base64(*creds);
            beast::error_code ec;
            tcp::resolver resolver(c->io);
            auto results = resolver.resolve(endpoint_.host, std::to_string(endpoint_.port), ec);
            if (ec) return RpcError{RpcError::Kind::transport, 0, "resolve " + endpoint_.host + ": " + ec.message()};
            c->stream.expires_after(endpoint_.timeout);
            c->stream.connect(results, ec);
            if (ec) return RpcError{RpcError::Kind::transport, 0, "connect to bitcoind: " + ec.message()};
            connection_ = std::move(c);
            fresh = true;
        }
        auto& c = *connection_;
        http::request<http::string_body> req(http::verb::post, "/", 11);
        req.set(http::field::host, endpoint_.host);
        req.set(http::field::authorization, c.authorization);
        req.set(http::field::content_type, "application/json");
        req.keep_alive(true);
        req.body() = request.dump();
        req.prepare_payload();

        beast::error_code ec;
        // Beast's synchronous calls ignore tcp_stream timeouts, so drive async
        // operations on the private io_context and let the expiry cancel them.
        c.stream.expires_after(endpoint_.timeout);
        http::async_write(c.stream, req, [&](beast::error_code e, std::size_t) { ec = e; });
        c.io.restart();
        c.io.run();
        beast::flat_buffer buffer;
        http::response_parser<http::string_body> parser;
        parser.body_limit(64 * 1024 * 1024);  // a 4 MB block as hex, with room
        if (!ec) {
            c.stream.expires_after(endpoint_.timeout);
            http::async_read(c.stream, buffer, parser, [&](beast::error_code e, std::size_t) { ec = e; });
            c.io.restart();
            c.io.run();
        }
        if (ec) {
            connection_.reset();
            if (!fresh) continue;  // a stale keep-alive connection: retry once on a new one
            return RpcError{RpcError::Kind::transport, 0, "bitcoind RPC " + method + ": " + ec.message()};
        }
        auto response = parser.release();
        if (!response.keep_alive()) connection_.reset();
        if (response.result() == http::status::unauthorized) {
            connection_.reset();
            return RpcError{RpcError::Kind::http, 401, "bitcoind rejected the RPC credentials"};
        }
        auto body = nlohmann::json::parse(response.body(), nullptr, false);
        if (body.is_discarded() || !body.is_object()) {
            return RpcError{RpcError::Kind::malformed, static_cast<int>(response.result_int()),
                            "bitcoind answered " + std::to_string(response.result_int()) + " without JSON"};
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
    return RpcError{RpcError::Kind::transport, 0, "bitcoind RPC " + method + " failed"};
}

}  // namespace argus::chain
