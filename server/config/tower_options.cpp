#include "server/config/tower_options.h"

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <sstream>

#include "common/version.h"

namespace argus::config {

std::uint16_t default_rpc_port(Network network) {
    switch (network) {
        case Network::mainnet: return 8332;
        case Network::testnet: return 18332;
        case Network::signet: return 38332;
        case Network::regtest: return 18443;
    }
    return 8332;
}

namespace {
std::string bitcoin_network_dir(Network n) {
    switch (n) {
        case Network::mainnet: return "";
        case Network::testnet: return "testnet3/";
        case Network::signet: return "signet/";
        case Network::regtest: return "regtest/";
    }
    return "";
}

std::string env_name(const std::string& flag) {
    std::string out = "ARGUS_";
    for (char c : flag) out += c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return out;
}
}  // namespace

Result<ParsedTowerOptions, OptionsError> parse_tower_options(int argc, const char* const* argv) {
    ParsedTowerOptions parsed;
    TowerOptions& o = parsed.options;
    std::string network = "regtest";

    CLI::App app{"argus-tower: a Lightning watchtower speaking the teos (BOLT 13 draft) API"};
    app.set_config("--config", "", "Config file (key = value lines, INI/TOML style)");
    app.allow_config_extras(CLI::config_extras_mode::error);
    bool check_config = false, version = false;
    app.add_flag("--check-config", check_config, "Validate the configuration and exit without opening anything");
    app.add_flag("--version", version, "Print the version and exit");
    auto* info = app.add_subcommand("info", "Print the tower id (creating the tower key on first use) and exit");

    auto opt = [&](const std::string& name, auto& target, const std::string& help) {
        return app.add_option("--" + name, target, help)->envname(env_name(name))->capture_default_str();
    };
    opt("network", network, "mainnet, testnet, signet or regtest");
    opt("data-dir", o.data_dir, "Data directory [default: $HOME/.argus/<network>]");
    opt("log-level", o.log_level, "debug, info, warn or error (SIGHUP reloads it)");
    opt("log-format", o.log_format, "text or json (one JSON object per line, the same fields)");
    opt("shutdown-timeout-ms", o.shutdown_timeout_ms, "On SIGTERM, time requests under way get to be answered before the tower exits");
    opt("ready-file", o.ready_file, "Write {api_port, admin_port, metrics_port, wtwire_port, tower_id} as JSON here once serving");
    opt("api-bind", o.api_bind, "Address of the public teos API");
    opt("api-port", o.api_port, "Port of the public teos API");
    opt("api-threads", o.api_threads, "HTTP worker threads");
    opt("max-connections", o.max_connections, "Open API connections allowed at once");
    opt("request-timeout-ms", o.request_timeout_ms, "Time allowed to send one request");
    opt("idle-timeout-ms", o.idle_timeout_ms, "Keep-alive idle time before closing");
    opt("max-connections-per-source", o.max_connections_per_source, "Open API connections one IPv4 address or IPv6 /64 may hold; 0: no limit");
    opt("limit-loopback-sources", o.limit_loopback_sources, "Apply --max-connections-per-source to loopback peers too (behind Tor every peer is loopback)");
    opt("min-receive-rate", o.min_receive_rate, "Bytes/s a request must average once the grace has passed; 0: no minimum");
    opt("receive-rate-grace-ms", o.receive_rate_grace_ms, "Time a request may take before --min-receive-rate applies");
    opt("tls-certificate", o.tls_certificate, "PEM certificate chain: serve HTTPS");
    opt("tls-private-key", o.tls_private_key, "PEM private key for --tls-certificate");
    opt("wtwire", o.wtwire, "Serve LND's watchtower protocol (wtwire over BOLT 8): true or false");
    opt("wtwire-bind", o.wtwire_bind, "Address of the wtwire listener");
    opt("wtwire-port", o.wtwire_port, "Port of the wtwire listener (lnd's default 9911)");
    opt("wtwire-external-address", o.wtwire_external_address, "host[:port] LND operators dial, shown by `info` [default: bind:port]");
    opt("wtwire-max-connections", o.wtwire_max_connections, "Open wtwire connections allowed at once");
    opt("wtwire-max-connections-per-source", o.wtwire_max_connections_per_source, "Open wtwire connections one IPv4 address or IPv6 /64 may hold; 0: no limit");
    opt("wtwire-limit-loopback-sources", o.wtwire_limit_loopback_sources, "Apply --wtwire-max-connections-per-source to loopback peers too");
    opt("wtwire-min-receive-rate", o.wtwire_min_receive_rate, "Bytes/s a message body must arrive at once the grace has passed; 0: no minimum");
    opt("wtwire-receive-rate-grace-ms", o.wtwire_receive_rate_grace_ms, "Time a message body may take before --wtwire-min-receive-rate applies");
    opt("wtwire-handshake-timeout-ms", o.wtwire_handshake_timeout_ms, "Time allowed for the BOLT 8 handshake");
    opt("wtwire-read-timeout-ms", o.wtwire_read_timeout_ms, "Time allowed between wtwire messages");
    opt("wtwire-messages-per-second", o.wtwire_messages_per_second, "Messages per second allowed per connection");
    opt("wtwire-max-sessions", o.wtwire_max_sessions, "wtwire sessions the tower holds at most");
    opt("wtwire-max-updates", o.wtwire_max_updates, "Largest max_updates a session may ask for");
    opt("wtwire-min-sweep-fee-rate", o.wtwire_min_sweep_fee_rate, "Lowest session sweep fee rate accepted (sat/kw)");
    opt("wtwire-max-sweep-fee-rate", o.wtwire_max_sweep_fee_rate, "Highest session sweep fee rate accepted (sat/kw)");
    opt("wtwire-reward-address", o.wtwire_reward_address, "Address paid by reward sessions; empty: reward sessions refused");
    opt("wtwire-min-reward-base", o.wtwire_min_reward_base, "Lowest reward base accepted (sat)");
    opt("wtwire-min-reward-rate", o.wtwire_min_reward_rate, "Lowest reward rate accepted (parts per million)");
    opt("electrum", o.electrum, "Serve Electrum's watchtower JSON-RPC (watchtower_url): true or false");
    opt("electrum-bind", o.electrum_bind, "Address of the Electrum listener");
    opt("electrum-port", o.electrum_port, "Port of the Electrum listener");
    opt("electrum-tls-certificate", o.electrum_tls_certificate, "PEM certificate chain: the Electrum listener speaks HTTPS");
    opt("electrum-tls-private-key", o.electrum_tls_private_key, "PEM private key for --electrum-tls-certificate");
    opt("electrum-body-limit", o.electrum_body_limit, "Largest Electrum JSON-RPC request body, bytes");
    opt("metrics-bind", o.metrics_bind, "Address of /metrics, /health and /ready");
    opt("metrics-port", o.metrics_port, "Port of /metrics, /health and /ready");
    opt("admin-bind", o.admin_bind, "Address of the operator interface (loopback only)");
    opt("admin-port", o.admin_port, "Port of the operator interface");
    opt("postgres", o.postgres, "PostgreSQL connection string; SQLite in the data dir when empty");
    opt("postgres-read-connections", o.postgres_read_connections, "PostgreSQL connections for reads");
    opt("ha", o.ha, "One tower of a group sharing the PostgreSQL database (all serve the API, one elected watcher): true or false");
    opt("leader-lease-ms", o.leader_lease_ms, "A paused or cut-off watcher loses the lock after this many ms; a standby then takes over");
    opt("bitcoind-rpc-host", o.bitcoind_rpc_host, "bitcoind RPC host");
    opt("bitcoind-rpc-port", o.bitcoind_rpc_port, "bitcoind RPC port [default: per network]");
    opt("bitcoind-rpc-user", o.bitcoind_rpc_user, "bitcoind rpcuser (else the cookie file is used)");
    opt("bitcoind-rpc-password", o.bitcoind_rpc_password, "bitcoind rpcpassword");
    opt("bitcoind-cookie-file", o.bitcoind_cookie_file, "bitcoind .cookie file [default: ~/.bitcoin/<network>/.cookie]");
    opt("bitcoind-zmq", o.bitcoind_zmq, "bitcoind zmqpubsequence endpoint (e.g. tcp://127.0.0.1:28332); empty: poll only");
    opt("chain-poll-ms", o.chain_poll_ms, "Reconcile with bitcoind at least this often (ms)");
    opt("max-reorg-depth", o.max_reorg_depth, "Deepest reorg followed automatically");
    opt("resolve-depth", o.resolve_depth, "Confirmations after which a penalty is resolved");
    opt("rebroadcast-after", o.rebroadcast_after, "Blocks a penalty may miss the mempool before it is rebroadcast");
    opt("subscription-slots", o.subscription_slots, "Slots granted per registration");
    opt("subscription-duration", o.subscription_duration, "Blocks a registration lasts");
    opt("expiry-delta", o.expiry_delta, "Blocks after expiry before a user's data is deleted");
    opt("expiry-removals-per-block", o.expiry_removals_per_block,
        "Outdated users' appointments removed at most at one block (a user always whole; the rest at the next blocks)");
    opt("register-body-limit", o.register_body_limit, "Largest /register body, bytes");
    opt("add-appointment-body-limit", o.add_appointment_body_limit, "Largest /add_appointment body, bytes");
    opt("get-appointment-body-limit", o.get_appointment_body_limit, "Largest /get_appointment body, bytes");
    opt("get-subscription-info-body-limit", o.get_subscription_info_body_limit, "Largest /get_subscription_info body, bytes");

    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp&) {
        return OptionsError{0, app.help()};
    } catch (const CLI::ParseError& e) {
        return OptionsError{2, std::string("argus-tower: ") + e.what()};
    }
    if (version) {
        parsed.command = TowerCommand::version;
        return parsed;
    }

    auto net = parse_network(network);
    if (!net) return OptionsError{2, "argus-tower: --network: " + net.error().message};
    o.network = *net;
    const char* home = std::getenv("HOME");
    std::string home_dir = home ? home : ".";
    if (o.data_dir.empty()) o.data_dir = home_dir + "/.argus/" + to_string(o.network);
    if (o.bitcoind_rpc_port == 0) o.bitcoind_rpc_port = default_rpc_port(o.network);
    if (o.bitcoind_rpc_user.empty() && o.bitcoind_cookie_file.empty()) {
        o.bitcoind_cookie_file = home_dir + "/.bitcoin/" + bitcoin_network_dir(o.network) + ".cookie";
    }

    std::vector<std::string> problems;
    if (o.log_level != "debug" && o.log_level != "info" && o.log_level != "warn" && o.log_level != "error") {
        problems.push_back("--log-level must be debug, info, warn or error");
    }
    if (o.log_format != "text" && o.log_format != "json") problems.push_back("--log-format must be text or json");
    if (o.shutdown_timeout_ms > 600'000) problems.push_back("--shutdown-timeout-ms must be at most 600000");
    if (o.tls_certificate.empty() != o.tls_private_key.empty()) {
        problems.push_back("--tls-certificate and --tls-private-key go together");
    }
    if (o.admin_bind != "127.0.0.1" && o.admin_bind != "::1" && o.admin_bind != "localhost") {
        problems.push_back("--admin-bind must be a loopback address (127.0.0.1 or ::1)");
    }
    if (o.api_threads == 0 || o.api_threads > 64) problems.push_back("--api-threads must be 1..64");
    if (o.max_connections == 0) problems.push_back("--max-connections must be at least 1");
    if (o.receive_rate_grace_ms < 100) problems.push_back("--receive-rate-grace-ms must be at least 100");
    if (o.subscription_slots == 0) problems.push_back("--subscription-slots must be at least 1");
    if (o.subscription_duration == 0) problems.push_back("--subscription-duration must be at least 1");
    if (o.expiry_removals_per_block == 0) problems.push_back("--expiry-removals-per-block must be at least 1");
    if (o.add_appointment_body_limit < 100) problems.push_back("--add-appointment-body-limit is too small to hold an appointment");
    if (o.chain_poll_ms < 10) problems.push_back("--chain-poll-ms must be at least 10");
    if (o.ha && o.postgres.empty()) problems.push_back("--ha needs --postgres: a group of towers shares one PostgreSQL database");
    if (o.leader_lease_ms < 1000 || o.leader_lease_ms > 600'000) problems.push_back("--leader-lease-ms must be 1000..600000");
    if (o.max_reorg_depth < 1) problems.push_back("--max-reorg-depth must be at least 1");
    if (o.resolve_depth < 1) problems.push_back("--resolve-depth must be at least 1");
    if (o.rebroadcast_after < 1) problems.push_back("--rebroadcast-after must be at least 1");
    if (!o.bitcoind_zmq.empty() && o.bitcoind_zmq.rfind("tcp://", 0) != 0 && o.bitcoind_zmq.rfind("ipc://", 0) != 0) {
        problems.push_back("--bitcoind-zmq must be a tcp:// or ipc:// endpoint");
    }
    if (o.api_port != 0 && o.api_port == o.admin_port && o.api_bind == o.admin_bind) {
        problems.push_back("--api-port and --admin-port must differ");
    }
    if (o.wtwire) {
        if (o.wtwire_max_connections == 0) problems.push_back("--wtwire-max-connections must be at least 1");
        if (o.wtwire_receive_rate_grace_ms < 100) problems.push_back("--wtwire-receive-rate-grace-ms must be at least 100");
        if (o.wtwire_handshake_timeout_ms < 100) problems.push_back("--wtwire-handshake-timeout-ms must be at least 100");
        if (o.wtwire_read_timeout_ms < 100) problems.push_back("--wtwire-read-timeout-ms must be at least 100");
        if (!(o.wtwire_messages_per_second > 0)) problems.push_back("--wtwire-messages-per-second must be positive");
        if (o.wtwire_max_updates == 0) problems.push_back("--wtwire-max-updates must be at least 1");
        if (o.wtwire_min_sweep_fee_rate > o.wtwire_max_sweep_fee_rate) {
            problems.push_back("--wtwire-min-sweep-fee-rate must not exceed --wtwire-max-sweep-fee-rate");
        }
        if (o.wtwire_max_sweep_fee_rate > 0x7fffffffffffffffULL) problems.push_back("--wtwire-max-sweep-fee-rate is too large");
        if (o.wtwire_port != 0 && o.wtwire_port == o.api_port && o.wtwire_bind == o.api_bind) {
            problems.push_back("--wtwire-port and --api-port must differ");
        }
        if (!o.wtwire_reward_address.empty()) {
            auto script = decode_address(o.wtwire_reward_address, o.network);
            if (!script) {
                problems.push_back("--wtwire-reward-address is not a segwit address of " + std::string(to_string(o.network)) +
                                   ": " + script.error().message);
            } else if (script->size() != 22 || (*script)[0] != 0x00) {
                // lnd's tower estimates the justice weight with a P2WPKH reward
                // output (lookout/justice_descriptor.go) while its client uses the
                // script's real size: any other type breaks the client's signatures.
                problems.push_back("--wtwire-reward-address must be a P2WPKH (bech32 v0, 20-byte) address");
            } else {
                o.wtwire_reward_script = *script;
            }
        }
    }
    if (o.electrum) {
        if (o.electrum_tls_certificate.empty() != o.electrum_tls_private_key.empty()) {
            problems.push_back("--electrum-tls-certificate and --electrum-tls-private-key go together");
        }
        if (o.electrum_body_limit < 1024) problems.push_back("--electrum-body-limit must be at least 1024");
        if (o.electrum_port != 0 && ((o.electrum_port == o.api_port && o.electrum_bind == o.api_bind) ||
                                     (o.wtwire && o.electrum_port == o.wtwire_port && o.electrum_bind == o.wtwire_bind))) {
            problems.push_back("--electrum-port must differ from --api-port and --wtwire-port");
        }
    }
    if (o.bitcoind_rpc_user.empty() != o.bitcoind_rpc_password.empty()) {
        problems.push_back("--bitcoind-rpc-user and --bitcoind-rpc-password go together");
    }
    if (!problems.empty()) {
        std::string message = "argus-tower: invalid configuration:";
        for (const auto& p : problems) message += "\n  - " + p;
        return OptionsError{2, message};
    }
    parsed.command = check_config ? TowerCommand::check_config : info->parsed() ? TowerCommand::info : TowerCommand::run;
    return parsed;
}

}  // namespace argus::config
