// Every metric the tower exports, declared in one place (prefix argus_, base
// units, _total counters, _seconds histograms, no per-user or per-locator
// labels). Components report through plain callbacks and a 1 s sampler; this
// file is the only one that knows prometheus-cpp.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <string>

namespace argus::metrics {

struct WtwireSample {  // the LND front door's listener counters (monotonic totals, open a gauge)
    std::uint64_t connections = 0, refused = 0, open = 0, handshakes_failed = 0, timeouts = 0, rate_limited = 0,
                  protocol_errors = 0, duplicate_connections = 0, sessions_created = 0, updates_accepted = 0,
                  updates_rejected = 0, sessions_deleted = 0;
    std::uint64_t evicted_idle = 0, evicted_stalled = 0, evicted_per_source = 0, slow_transfer = 0;
};

struct HttpConnectionSample {  // the teos API server's connection bounds (monotonic totals, open a gauge)
    std::uint64_t open = 0, refused = 0, evicted_idle = 0, evicted_stalled = 0, evicted_per_source = 0,
                  slow_transfer = 0;
};

struct TowerSample {  // what the sampler reads from the components each second
    std::uint64_t users = 0, appointments = 0, trackers = 0;
    std::uint32_t best_height = 0, processed_height = 0;
    bool bitcoind_reachable = false, store_reachable = false, caught_up = false;
    bool stopping = false;  // SIGTERM received: draining
    std::uint64_t zmq_gaps = 0, rpc_errors = 0, breaches = 0, penalties_broadcast = 0, penalties_rejected = 0,
                  penalties_confirmed = 0, penalties_rebroadcast = 0, store_errors = 0, blocks_connected = 0,
                  blocks_disconnected = 0, invalid_appointments = 0, breaches_reorged_out = 0, late_breaches = 0;
    bool chain_halted = false;
    bool leader = true;              // this process is the elected watcher (a tower on its own always is)
    std::uint64_t leader_epoch = 0;  // the group's epoch it was elected at (0: SQLite, no group)
    std::uint64_t takeovers = 0;     // times this process became the watcher
    std::uint64_t penalties_waiting_for_fee = 0, penalties_refused_for_fee = 0, penalties_abandoned = 0;
    std::uint64_t channels_closed_cooperative = 0, channels_closed_unilateral = 0, channels_closed_breach = 0;
    std::uint64_t funding_outpoints_watched = 0;
    // Penalty kits (watch/kit_response.h).
    std::uint64_t kit_breaches = 0, kit_rungs_accepted = 0, kit_replacements = 0, kit_outputs_swept = 0,
                  kit_outputs_lost = 0, kit_outputs_past_deadline = 0, kit_second_stages = 0, kit_confirmed_rung_sum = 0,
                  kit_confirmed_margin_sum = 0;
    std::uint64_t wtwire_sessions = 0;
    WtwireSample wtwire;
    HttpConnectionSample http;
};

class TowerMetrics {
public:
    explicit TowerMetrics(const std::string& version);

    // Events, from the HTTP router, the group committer and the follower.
    void http_request(const std::string& endpoint, unsigned status, double seconds);
    void appointment_accepted();  // teos; wtwire StateUpdates are counted from WtwireSample
    // One Electrum JSON-RPC call: its method (get_ctn, add_sweep_tx, or
    // unauthorized/invalid/other), whether it succeeded, its duration.
    void electrum_call(const std::string& method, bool ok, double seconds);
    void appointment_rejected(const std::string& reason);
    void commit_batch(std::size_t parts, double seconds, bool ok);
    void block_processed(double seconds);
    // Gauges and monotonic totals from the components' own counters.
    void sample(const TowerSample& s);

    std::string serialize() const;  // Prometheus text format

private:
    void add_delta(prometheus::Counter& counter, std::uint64_t& last, std::uint64_t now);

    std::shared_ptr<prometheus::Registry> registry_;
    prometheus::Family<prometheus::Counter>& http_requests_;
    prometheus::Family<prometheus::Histogram>& http_duration_;
    prometheus::Family<prometheus::Counter>& appointments_accepted_family_;
    prometheus::Counter& appointments_accepted_;  // protocol="teos"
    prometheus::Counter& wtwire_updates_accepted_;  // argus_appointments_accepted_total{protocol="wtwire"}
    prometheus::Counter& electrum_sweeps_accepted_;  // protocol="electrum"
    prometheus::Family<prometheus::Counter>& electrum_calls_;
    prometheus::Family<prometheus::Histogram>& electrum_duration_;
    prometheus::Family<prometheus::Counter>& appointments_rejected_;
    prometheus::Gauge& appointments_stored_;
    prometheus::Gauge& users_;
    prometheus::Gauge& trackers_;
    prometheus::Histogram& block_duration_;
    prometheus::Gauge& best_height_;
    prometheus::Gauge& processed_height_;
    prometheus::Gauge& blocks_behind_;
    prometheus::Gauge& bitcoind_up_;
    prometheus::Gauge& store_up_;
    prometheus::Gauge& ready_;
    prometheus::Counter& blocks_connected_;
    prometheus::Counter& blocks_disconnected_;
    prometheus::Counter& zmq_gaps_;
    prometheus::Counter& rpc_errors_;
    prometheus::Counter& breaches_;
    prometheus::Counter& breaches_reorged_out_;
    prometheus::Counter& late_breaches_;
    prometheus::Gauge& chain_halted_;
    prometheus::Gauge& leader_;
    prometheus::Gauge& leader_epoch_;
    prometheus::Counter& takeovers_;
    prometheus::Counter& penalties_broadcast_;
    prometheus::Counter& penalties_confirmed_;
    prometheus::Counter& penalties_rejected_;
    prometheus::Counter& penalties_rebroadcast_;
    prometheus::Counter& invalid_appointments_;
    prometheus::Gauge& penalties_waiting_for_fee_;
    prometheus::Counter& penalties_refused_for_fee_;
    prometheus::Counter& penalties_abandoned_;
    prometheus::Family<prometheus::Counter>& channels_closed_;
    prometheus::Counter& channels_closed_cooperative_;
    prometheus::Counter& channels_closed_unilateral_;
    prometheus::Counter& channels_closed_breach_;
    prometheus::Gauge& funding_outpoints_watched_;
    prometheus::Counter& kit_breaches_;
    prometheus::Counter& kit_rungs_accepted_;
    prometheus::Counter& kit_replacements_;
    prometheus::Counter& kit_outputs_swept_;
    prometheus::Counter& kit_outputs_lost_;
    prometheus::Counter& kit_outputs_past_deadline_;
    prometheus::Counter& kit_second_stages_;
    prometheus::Counter& kit_confirmed_rung_sum_;
    prometheus::Counter& kit_confirmed_margin_sum_;
    prometheus::Histogram& store_commit_duration_;
    prometheus::Counter& store_errors_;
    prometheus::Histogram& batch_size_;
    prometheus::Gauge& wtwire_sessions_;
    prometheus::Gauge& wtwire_open_;
    prometheus::Family<prometheus::Counter>& wtwire_connections_;
    prometheus::Counter& wtwire_accepted_;
    prometheus::Counter& wtwire_refused_;
    prometheus::Counter& wtwire_duplicate_;
    prometheus::Family<prometheus::Counter>& wtwire_closed_;
    prometheus::Counter& wtwire_handshakes_failed_;
    prometheus::Counter& wtwire_timeouts_;
    prometheus::Counter& wtwire_rate_limited_;
    prometheus::Counter& wtwire_protocol_errors_;
    prometheus::Family<prometheus::Counter>& wtwire_requests_;
    prometheus::Counter& wtwire_sessions_created_;
    prometheus::Counter& wtwire_updates_rejected_;
    prometheus::Counter& wtwire_sessions_deleted_;
    prometheus::Family<prometheus::Counter>& wtwire_evicted_;
    prometheus::Counter& wtwire_evicted_idle_;
    prometheus::Counter& wtwire_evicted_stalled_;
    prometheus::Counter& wtwire_evicted_per_source_;
    prometheus::Counter& wtwire_slow_transfer_;
    WtwireSample last_wtwire_{};
    prometheus::Gauge& http_open_;
    prometheus::Family<prometheus::Counter>& http_evicted_;
    prometheus::Counter& http_evicted_idle_;
    prometheus::Counter& http_evicted_stalled_;
    prometheus::Counter& http_evicted_per_source_;
    prometheus::Counter& http_refused_;
    prometheus::Counter& http_slow_transfer_;
    HttpConnectionSample last_http_{};

    std::mutex mutex_;
    TowerSample last_{};
};

}  // namespace argus::metrics
