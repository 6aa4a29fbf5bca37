#include "tests/support/http_client.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace argus::test {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

struct HttpClient::Impl {
    std::string host;
    std::uint16_t port;
    net::io_context io;
    std::unique_ptr<tcp::socket> socket;
    beast::flat_buffer buffer;
};

HttpClient::HttpClient(std::uint16_t port, std::string host) : impl_(std::make_unique<Impl>()) {
    impl_->host = std::move(host);
    impl_->port = port;
}

HttpClient::~HttpClient() = default;

HttpResult HttpClient::request(const std::string& method, const std::string& target, const std::string& body,
                               const std::string& authorization) {
    for (int attempt = 0; attempt < 2; ++attempt) {
        beast::error_code ec;
        bool fresh = false;
        if (!impl_->socket) {
            impl_->socket = std::make_unique<tcp::socket>(impl_->io);
            impl_->socket->connect(tcp::endpoint(net::ip::make_address(impl_->host), impl_->port), ec);
            if (ec) {
                impl_->socket.reset();
                return {};
            }
            impl_->buffer.clear();
            fresh = true;
        }
        http::request<http::string_body> req(http::string_to_verb(method), target, 11);
        req.set(http::field::host, impl_->host);
        if (!authorization.empty()) req.set(http::field::authorization, authorization);
        if (method != "GET") req.set(http::field::content_type, "application/json");
        req.body() = body;
        req.keep_alive(true);
        req.prepare_payload();
        http::write(*impl_->socket, req, ec);
        http::response<http::string_body> res;
        if (!ec) http::read(*impl_->socket, impl_->buffer, res, ec);
        if (ec) {
            impl_->socket.reset();
            if (!fresh) continue;  // the server closed an idle keep-alive connection
            return {};
        }
        HttpResult out{res.result_int(), res.body(), res.keep_alive()};
        if (!res.keep_alive()) impl_->socket.reset();
        return out;
    }
    return {};
}

HttpResult HttpClient::post(const std::string& target, const std::string& body, const std::string& authorization) {
    return request("POST", target, body, authorization);
}
HttpResult HttpClient::get(const std::string& target, const std::string& authorization) {
    return request("GET", target, "", authorization);
}
HttpResult HttpClient::del(const std::string& target, const std::string& authorization) {
    return request("DELETE", target, "", authorization);
}

}  // namespace argus::test
