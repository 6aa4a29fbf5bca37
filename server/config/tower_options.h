// Every tower option, with its default. Parsed in one place (tower_options.cpp)
// from, in increasing precedence: the config file, ARGUS_* environment
// variables, command-line flags.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/bech32.h"
#include "common/bytes.h"
#include "common/result.h"

namespace argus::config {

struct TowerOptions {
    Network network = Network::regtest;
    std::string data_dir;  // default: $HOME/.argus/<network>
    std::string log_level = "info";
    std::string log_format = "text";  // or "json": one object per line, same fields
    std::uint32_t shutdown_timeout_ms = 10'000;  // SIGTERM: time requests under way get to be answered
    std::string ready_file;  // written (JSON: ports, tower id) once serving

    // Public teos API.
    std::string api_bind = "127.0.0.1";
    std::uint16_t api_port = 9814;
    std::size_t api_threads = 2;
    std::size_t max_connections = 1024;
    std::uint32_t request_timeout_ms = 10'000;
    std::uint32_t idle_timeout_ms = 30'000;
    std::size_t max_connections_per_source = 64;   // 0: no limit; loopback exempt unless limit_loopback_sources
    bool limit_loopback_sources = false;           // behind Tor every peer is 127.0.0.1
    std::size_t min_receive_rate = 128;            // bytes/s a request must average after the grace; 0: off
    std::uint32_t receive_rate_grace_ms = 5'000;
    std::string tls_certificate;  // both set: the API speaks HTTPS
    std::string tls_private_key;

    // LND front door: wtwire over BOLT 8 (lnd's watchtower protocol).
    bool wtwire = true;
    std::string wtwire_bind = "127.0.0.1";
    std::uint16_t wtwire_port = 9911;
    std::string wtwire_external_address;  // host[:port] printed for `lncli wtclient add`; default: bind:port
    std::size_t wtwire_max_connections = 1024;
    std::size_t wtwire_max_connections_per_source = 64;
    bool wtwire_limit_loopback_sources = false;
    std::size_t wtwire_min_receive_rate = 128;       // bytes/s of a message body after its length header; 0: off
    std::uint32_t wtwire_receive_rate_grace_ms = 5'000;
    std::uint32_t wtwire_handshake_timeout_ms = 5'000;
    std::uint32_t wtwire_read_timeout_ms = 15'000;   // lnd's tower default
    double wtwire_messages_per_second = 50;          // per connection
    std::uint64_t wtwire_max_sessions = 1'000'000;
    std::uint16_t wtwire_max_updates = 65'535;       // per session
    std::uint64_t wtwire_min_sweep_fee_rate = 1'000; // sat/kw (lnd wtpolicy.MinSweepFeeRate)
    std::uint64_t wtwire_max_sweep_fee_rate = 1'000'000;
    std::string wtwire_reward_address;               // segwit address of the network; empty: no reward sessions
    std::uint32_t wtwire_min_reward_base = 0;        // satoshis
    std::uint32_t wtwire_min_reward_rate = 0;        // parts per million
    Bytes wtwire_reward_script;                      // derived from wtwire_reward_address

    // Electrum front door: Electrum 4.3.4's watchtower JSON-RPC (watchtower_url).
    bool electrum = true;
    std::string electrum_bind = "127.0.0.1";
    std::uint16_t electrum_port = 9912;
    std::string electrum_tls_certificate;  // both set: HTTPS (Electrum wants it for non-local addresses)
    std::string electrum_tls_private_key;
    std::size_t electrum_body_limit = 16 * 1024;

    // Metrics and health (/metrics, /health, /ready); port 0 picks a free port.
    std::string metrics_bind = "127.0.0.1";
    std::uint16_t metrics_port = 9817;

    // Operator interface (loopback only).
    std::string admin_bind = "127.0.0.1";
    std::uint16_t admin_port = 9815;

    // Store: SQLite in the data dir unless a PostgreSQL connection string is given.
    std::string postgres;
    std::size_t postgres_read_connections = 4;
    // A tower of a group on one PostgreSQL database (docs/operations.md, High
    // availability): every tower of the group runs with it.
    bool ha = false;
    std::uint32_t leader_lease_ms = 5000;  // a silent watcher loses the lock after this

    // bitcoind.
    std::string bitcoind_rpc_host = "127.0.0.1";
    std::uint16_t bitcoind_rpc_port = 0;  // 0: the network's default
    std::string bitcoind_rpc_user;
    std::string bitcoind_rpc_password;
    std::string bitcoind_cookie_file;  // default: $HOME/.bitcoin/<network dir>/.cookie
    std::string bitcoind_zmq;            // zmqpubsequence endpoint, e.g. tcp://127.0.0.1:28332; empty: poll only
    std::uint32_t chain_poll_ms = 30'000;  // reconcile at least this often (ZMQ is only a wake-up)
    std::uint32_t max_reorg_depth = 100;

    // Responder (rust-teos defaults).
    std::uint32_t resolve_depth = 100;      // confirmations before a tracker is resolved and slots refunded
    std::uint32_t rebroadcast_after = 6;    // blocks a penalty may miss the mempool before it is sent again

    // Subscriptions (rust-teos defaults).
    std::uint32_t subscription_slots = 10'000;
    std::uint32_t subscription_duration = 4'320;
    std::uint32_t expiry_delta = 6;
    // Outdated users' appointments removed at most at one block (a user whole).
    std::uint64_t expiry_removals_per_block = 20'000;

    // Body limits (rust-teos: 87, 2048, 178, 127 bytes). add_appointment is
    // larger so that penalty kits up to 16 KiB (hex-encoded) fit; slots are
    // still charged per 2 KiB of blob. 2048 gives rust-teos's exact limit and
    // turns the kit advertisement off.
    std::size_t register_body_limit = 87;
    std::size_t add_appointment_body_limit = 33'792;
    std::size_t get_appointment_body_limit = 178;
    std::size_t get_subscription_info_body_limit = 127;
};

std::uint16_t default_rpc_port(Network network);

enum class TowerCommand { run, info, check_config, version };

struct ParsedTowerOptions {
    TowerCommand command = TowerCommand::run;
    TowerOptions options;
};

// Returns the options or a message explaining what is wrong (unknown keys are
// named). `--help` output goes to stdout and yields exit code 0 via `help_text`.
struct OptionsError {
    int exit_code = 2;
    std::string message;
};
Result<ParsedTowerOptions, OptionsError> parse_tower_options(int argc, const char* const* argv);

}  // namespace argus::config
