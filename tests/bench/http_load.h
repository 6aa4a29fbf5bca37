// The benchmarks' HTTP load generator: `bodies.size()` keep-alive
// connections, each with one request in flight (POST `target`, its own list
// of pre-built bodies), for a duration. Counts answers per second of the run
// and each answer's latency.
#pragma once

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <algorithm>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace argus::bench {

using BenchClock = std::chrono::steady_clock;

struct LoadResult {
    std::vector<double> latencies_ms;      // of the 200 answers, sorted
    std::vector<std::size_t> per_second;   // 200 answers in each second of the run
    std::vector<std::size_t> per_tenth = std::vector<std::size_t>(50, 0);  // in each 100 ms of the first 5 s
    std::size_t errors = 0;                // answers other than 200, or refused by `accept`
    std::size_t exhausted = 0;             // connections that ran out of bodies before the end
    std::size_t transport_errors = 0;      // connections that failed
    double elapsed_s = 0;
    double percentile(double p) const {
        if (latencies_ms.empty()) return 0;
        return latencies_ms[std::min(latencies_ms.size() - 1, static_cast<std::size_t>(p * static_cast<double>(latencies_ms.size())))];
    }
    double rate() const { return elapsed_s > 0 ? static_cast<double>(latencies_ms.size()) / elapsed_s : 0; }
};

// Optional: a method other than POST, an Authorization header, and a check of
// each 200 answer's body (JSON-RPC reports its errors inside a 200).
struct LoadOptions {
    boost::beast::http::verb method = boost::beast::http::verb::post;
    std::string authorization;
    std::function<bool(const std::string& body)> accept;
};

namespace detail {
namespace beast = boost::beast;
namespace http = beast::http;
namespace asio = boost::asio;

struct Connection : std::enable_shared_from_this<Connection> {
    beast::tcp_stream stream;
    beast::flat_buffer buffer;
    http::request<http::string_body> request;
    http::response<http::string_body> response;
    std::string target;
    std::vector<std::string>* bodies = nullptr;
    std::size_t next = 0;
    BenchClock::time_point start, sent, deadline;
    LoadResult* result = nullptr;
    const LoadOptions* options = nullptr;

    explicit Connection(asio::io_context& io) : stream(io) {}

    void send() {
        if (BenchClock::now() >= deadline) return;
        if (next >= bodies->size()) {
            ++result->exhausted;
            return;
        }
        request = http::request<http::string_body>(options->method, target, 11);
        request.set(http::field::host, "127.0.0.1");
        request.set(http::field::content_type, "application/json");
        if (!options->authorization.empty()) request.set(http::field::authorization, options->authorization);
        request.keep_alive(true);
        request.body() = std::move((*bodies)[next++]);
        request.prepare_payload();
        sent = BenchClock::now();
        http::async_write(stream, request, [self = shared_from_this()](beast::error_code ec, std::size_t) {
            if (ec) {
                ++self->result->transport_errors;
                return;
            }
            self->response = {};
            http::async_read(self->stream, self->buffer, self->response, [self](beast::error_code e, std::size_t) {
                if (e) {
                    ++self->result->transport_errors;
                    return;
                }
                auto now = BenchClock::now();
                if (self->response.result_int() == 200 &&
                    (!self->options->accept || self->options->accept(self->response.body()))) {
                    self->result->latencies_ms.push_back(std::chrono::duration<double, std::milli>(now - self->sent).count());
                    auto second = static_cast<std::size_t>(std::chrono::duration<double>(now - self->start).count());
                    if (second >= self->result->per_second.size()) self->result->per_second.resize(second + 1, 0);
                    ++self->result->per_second[second];
                    auto tenth = static_cast<std::size_t>(std::chrono::duration<double>(now - self->start).count() * 10);
                    if (tenth < self->result->per_tenth.size()) ++self->result->per_tenth[tenth];
                } else {
                    ++self->result->errors;
                }
                self->send();
            });
        });
    }
};
}  // namespace detail

// One thread runs every connection (the load generator takes one core at most).
// Connection i goes to ports[i % ports.size()] (several towers of a group).
inline LoadResult run_http_load(const std::vector<std::uint16_t>& ports, const std::string& target,
                                std::vector<std::vector<std::string>>& bodies, std::chrono::seconds duration,
                                const LoadOptions& options = {}) {
    namespace asio = boost::asio;
    asio::io_context io;
    LoadResult result;
    std::vector<std::shared_ptr<detail::Connection>> connections;
    for (auto& list : bodies) {
        auto c = std::make_shared<detail::Connection>(io);
        std::uint16_t port = ports[connections.size() % ports.size()];
        c->stream.connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
        c->target = target;
        c->bodies = &list;
        c->result = &result;
        c->options = &options;
        connections.push_back(c);
    }
    auto start = BenchClock::now();
    for (auto& c : connections) {
        c->start = start;
        c->deadline = start + duration;
        c->send();
    }
    io.run();
    result.elapsed_s = std::chrono::duration<double>(BenchClock::now() - start).count();
    std::sort(result.latencies_ms.begin(), result.latencies_ms.end());
    return result;
}

inline LoadResult run_http_load(std::uint16_t port, const std::string& target, std::vector<std::vector<std::string>>& bodies,
                                std::chrono::seconds duration, const LoadOptions& options = {}) {
    return run_http_load(std::vector<std::uint16_t>{port}, target, bodies, duration, options);
}

}  // namespace argus::bench
