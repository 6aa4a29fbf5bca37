#include "server/config/reload.h"

#include <functional>
#include <sstream>

#include "common/hex.h"

namespace argus::config {

namespace {

std::string text(const std::string& v) { return v.empty() ? "\"\"" : v; }
std::string text(bool v) { return v ? "true" : "false"; }
std::string text(Network v) { return to_string(v); }
template <class T>
std::string text(const T& v) {
    std::ostringstream out;
    out << v;
    return out.str();
}

enum class Kind { reloadable, restart, secret };

struct Field {
    const char* option;
    Kind kind;
    std::function<std::string(const TowerOptions&)> show;
    std::function<void(TowerOptions&, const TowerOptions&)> take;  // reloadable only
};

template <class T>
Field field(const char* option, Kind kind, T TowerOptions::*member) {
    return Field{option, kind, [member](const TowerOptions& o) { return text(o.*member); },
                 [member](TowerOptions& to, const TowerOptions& from) { to.*member = from.*member; }};
}

// Every option of TowerOptions, and whether a running tower can take a new
// value. A new member of TowerOptions belongs here too (the reload unit
// tests walk the options through the parser).
const std::vector<Field>& fields() {
    static const std::vector<Field> all = {
        field("network", Kind::restart, &TowerOptions::network),
        field("data-dir", Kind::restart, &TowerOptions::data_dir),
        field("log-level", Kind::reloadable, &TowerOptions::log_level),
        field("log-format", Kind::restart, &TowerOptions::log_format),
        field("ready-file", Kind::restart, &TowerOptions::ready_file),
        field("shutdown-timeout-ms", Kind::reloadable, &TowerOptions::shutdown_timeout_ms),
        field("api-bind", Kind::restart, &TowerOptions::api_bind),
        field("api-port", Kind::restart, &TowerOptions::api_port),
        field("api-threads", Kind::restart, &TowerOptions::api_threads),
        field("max-connections", Kind::reloadable, &TowerOptions::max_connections),
        field("request-timeout-ms", Kind::reloadable, &TowerOptions::request_timeout_ms),
        field("idle-timeout-ms", Kind::reloadable, &TowerOptions::idle_timeout_ms),
        field("max-connections-per-source", Kind::reloadable, &TowerOptions::max_connections_per_source),
        field("limit-loopback-sources", Kind::reloadable, &TowerOptions::limit_loopback_sources),
        field("min-receive-rate", Kind::reloadable, &TowerOptions::min_receive_rate),
        field("receive-rate-grace-ms", Kind::reloadable, &TowerOptions::receive_rate_grace_ms),
        // New paths are taken when TLS stays on; on <-> off needs a restart
        // (plan_reload checks that case itself).
        field("tls-certificate", Kind::reloadable, &TowerOptions::tls_certificate),
        field("tls-private-key", Kind::reloadable, &TowerOptions::tls_private_key),
        field("wtwire", Kind::restart, &TowerOptions::wtwire),
        field("wtwire-bind", Kind::restart, &TowerOptions::wtwire_bind),
        field("wtwire-port", Kind::restart, &TowerOptions::wtwire_port),
        field("wtwire-external-address", Kind::restart, &TowerOptions::wtwire_external_address),
        field("wtwire-max-connections", Kind::reloadable, &TowerOptions::wtwire_max_connections),
        field("wtwire-max-connections-per-source", Kind::reloadable, &TowerOptions::wtwire_max_connections_per_source),
        field("wtwire-limit-loopback-sources", Kind::reloadable, &TowerOptions::wtwire_limit_loopback_sources),
        field("wtwire-min-receive-rate", Kind::reloadable, &TowerOptions::wtwire_min_receive_rate),
        field("wtwire-receive-rate-grace-ms", Kind::reloadable, &TowerOptions::wtwire_receive_rate_grace_ms),
        field("wtwire-handshake-timeout-ms", Kind::reloadable, &TowerOptions::wtwire_handshake_timeout_ms),
        field("wtwire-read-timeout-ms", Kind::reloadable, &TowerOptions::wtwire_read_timeout_ms),
        field("wtwire-messages-per-second", Kind::reloadable, &TowerOptions::wtwire_messages_per_second),
        field("wtwire-max-sessions", Kind::restart, &TowerOptions::wtwire_max_sessions),
        field("wtwire-max-updates", Kind::restart, &TowerOptions::wtwire_max_updates),
        field("wtwire-min-sweep-fee-rate", Kind::restart, &TowerOptions::wtwire_min_sweep_fee_rate),
        field("wtwire-max-sweep-fee-rate", Kind::restart, &TowerOptions::wtwire_max_sweep_fee_rate),
        field("wtwire-reward-address", Kind::restart, &TowerOptions::wtwire_reward_address),
        field("wtwire-min-reward-base", Kind::restart, &TowerOptions::wtwire_min_reward_base),
        field("wtwire-min-reward-rate", Kind::restart, &TowerOptions::wtwire_min_reward_rate),
        field("electrum", Kind::restart, &TowerOptions::electrum),
        field("electrum-bind", Kind::restart, &TowerOptions::electrum_bind),
        field("electrum-port", Kind::restart, &TowerOptions::electrum_port),
        field("electrum-tls-certificate", Kind::restart, &TowerOptions::electrum_tls_certificate),
        field("electrum-tls-private-key", Kind::restart, &TowerOptions::electrum_tls_private_key),
        field("electrum-body-limit", Kind::restart, &TowerOptions::electrum_body_limit),
        field("metrics-bind", Kind::restart, &TowerOptions::metrics_bind),
        field("metrics-port", Kind::restart, &TowerOptions::metrics_port),
        field("admin-bind", Kind::restart, &TowerOptions::admin_bind),
        field("admin-port", Kind::restart, &TowerOptions::admin_port),
        field("postgres", Kind::secret, &TowerOptions::postgres),
        field("postgres-read-connections", Kind::restart, &TowerOptions::postgres_read_connections),
        field("ha", Kind::restart, &TowerOptions::ha),
        field("leader-lease-ms", Kind::restart, &TowerOptions::leader_lease_ms),
        field("bitcoind-rpc-host", Kind::restart, &TowerOptions::bitcoind_rpc_host),
        field("bitcoind-rpc-port", Kind::restart, &TowerOptions::bitcoind_rpc_port),
        field("bitcoind-rpc-user", Kind::restart, &TowerOptions::bitcoind_rpc_user),
        field("bitcoind-rpc-password", Kind::secret, &TowerOptions::bitcoind_rpc_password),
        field("bitcoind-cookie-file", Kind::restart, &TowerOptions::bitcoind_cookie_file),
        field("bitcoind-zmq", Kind::restart, &TowerOptions::bitcoind_zmq),
        field("chain-poll-ms", Kind::restart, &TowerOptions::chain_poll_ms),
        field("max-reorg-depth", Kind::restart, &TowerOptions::max_reorg_depth),
        field("resolve-depth", Kind::restart, &TowerOptions::resolve_depth),
        field("rebroadcast-after", Kind::restart, &TowerOptions::rebroadcast_after),
        field("subscription-slots", Kind::restart, &TowerOptions::subscription_slots),
        field("subscription-duration", Kind::restart, &TowerOptions::subscription_duration),
        field("expiry-delta", Kind::restart, &TowerOptions::expiry_delta),
        field("expiry-removals-per-block", Kind::restart, &TowerOptions::expiry_removals_per_block),
        field("register-body-limit", Kind::restart, &TowerOptions::register_body_limit),
        field("add-appointment-body-limit", Kind::restart, &TowerOptions::add_appointment_body_limit),
        field("get-appointment-body-limit", Kind::restart, &TowerOptions::get_appointment_body_limit),
        field("get-subscription-info-body-limit", Kind::restart, &TowerOptions::get_subscription_info_body_limit),
    };
    return all;
}

bool tls_on(const TowerOptions& o) { return !o.tls_certificate.empty(); }

bool is_tls_field(const Field& f) {
    return std::string_view(f.option) == "tls-certificate" || std::string_view(f.option) == "tls-private-key";
}

}  // namespace

ReloadPlan plan_reload(const TowerOptions& running, const TowerOptions& next) {
    ReloadPlan plan;
    bool tls_switch = tls_on(running) != tls_on(next);
    for (const auto& f : fields()) {
        std::string from = f.show(running), to = f.show(next);
        if (from == to) continue;
        if (f.kind == Kind::secret) {
            plan.needs_restart.push_back({f.option, "(hidden)", "(hidden)"});
        } else if (f.kind == Kind::restart || (is_tls_field(f) && tls_switch)) {
            plan.needs_restart.push_back({f.option, from, to});
        } else {
            plan.applied.push_back({f.option, from, to});
        }
    }
    // Certificates are renewed in place (same paths, new files): read them on
    // every reload while TLS stays on.
    plan.reload_tls = tls_on(running) && tls_on(next);
    return plan;
}

TowerOptions options_after_reload(const TowerOptions& running, const TowerOptions& next) {
    TowerOptions out = running;
    bool tls_switch = tls_on(running) != tls_on(next);
    for (const auto& f : fields()) {
        if (f.kind != Kind::reloadable || (is_tls_field(f) && tls_switch)) continue;
        f.take(out, next);
    }
    return out;
}

std::vector<std::string> reload_option_names() {
    std::vector<std::string> names;
    for (const auto& f : fields()) names.emplace_back(f.option);
    return names;
}

}  // namespace argus::config
