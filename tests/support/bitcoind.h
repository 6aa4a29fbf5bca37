// A real regtest bitcoind for end-to-end tests, when the environment names one:
// BITCOIND (path to bitcoind; bitcoin-cli is not needed) and BITCOIND_ARGS
// (extra arguments, whitespace-separated, e.g. "-softwareexpiry=0" for Knots).
// Tests that find no BITCOIND run against the chain simulator instead.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "tests/support/temporary_postgres.h"  // find_free_tcp_port

namespace argus::test {

inline std::string bitcoind_path() {
    const char* path = std::getenv("BITCOIND");
    return path ? path : "";
}

inline std::vector<std::string> bitcoind_extra_args() {
    std::vector<std::string> out;
    if (const char* extra = std::getenv("BITCOIND_ARGS")) {
        std::istringstream words(extra);
        for (std::string w; words >> w;) out.push_back(w);
    }
    return out;
}

struct BitcoindPorts {
    std::uint16_t rpc = 0, zmq = 0;
};

// The command line of a regtest bitcoind in `datadir` (created), RPC on
// 127.0.0.1:rpc with user/password, ZMQ sequence and hashblock on zmq, no
// listening socket, no wallet. bitcoind cannot report ports it picked itself,
// so the caller probes free ones (find_free_tcp_port) once and keeps them
// across restarts, as a restarted bitcoind keeps its configured ports.
inline std::vector<std::string> bitcoind_argv(const std::string& datadir, BitcoindPorts ports, const std::string& user,
                                              const std::string& password, const std::vector<std::string>& more = {}) {
    std::filesystem::create_directories(datadir);
    std::string zmq = "tcp://127.0.0.1:" + std::to_string(ports.zmq);
    std::vector<std::string> argv = {bitcoind_path(), "-regtest", "-datadir=" + datadir, "-server", "-listen=0",
                                     "-rpcport=" + std::to_string(ports.rpc), "-rpcbind=127.0.0.1",
                                     "-rpcallowip=127.0.0.1", "-rpcuser=" + user, "-rpcpassword=" + password,
                                     "-zmqpubsequence=" + zmq, "-zmqpubhashblock=" + zmq, "-fallbackfee=0.0002",
                                     "-disablewallet", "-printtoconsole"};
    for (const auto& a : bitcoind_extra_args()) argv.push_back(a);
    for (const auto& a : more) argv.push_back(a);
    return argv;
}

}  // namespace argus::test
