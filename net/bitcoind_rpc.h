// JSON-RPC 1.0 client for bitcoind over HTTP (Boost.Beast): Basic auth from
// user/password or the cookie file (re-read on every reconnect, since bitcoind
// rewrites it at start), one keep-alive connection, timeouts, reconnect.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>

#include "common/result.h"

namespace argus::chain {

struct RpcEndpoint {
    std::string host = "127.0.0.1";
    std::uint16_t port = 18443;
    std::string user;
    std::string password;
    std::string cookie_file;  // used when user is empty
    std::chrono::milliseconds timeout{5'000};
};

struct RpcError {
    enum class Kind { transport, http, rpc, malformed } kind = Kind::transport;
    int code = 0;  // bitcoind's error code for Kind::rpc (e.g. -25, -26, -27)
    std::string message;
};

class BitcoindRpc {
public:
    explicit BitcoindRpc(RpcEndpoint endpoint);
    ~BitcoindRpc();
    Result<nlohmann::json, RpcError> call(const std::string& method, const nlohmann::json& params = nlohmann::json::array());

private:
    struct Connection;
    RpcEndpoint endpoint_;
    std::mutex mutex_;
    std::unique_ptr<Connection> connection_;
    std::uint64_t next_id_ = 1;
};

}  // namespace argus::chain
