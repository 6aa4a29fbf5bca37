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

struct TowerSample {  // what the sampler reads from the components each second
    std::uint64_t users = 0, appointments = 0, trackers = 0;
    std::uint32_t best_height = 0, processed_height = 0;
    bool bitcoind_reachable = false, store_reachable = false, caught_up = false;
    std::uint64_t zmq_gaps = 0, rpc_errors = 0, breaches = 0, penalties_broadcast = 0, penalties_rejected = 0,
                  penalties_confirmed = 0, penalties_rebroadcast = 0, store_errors = 0, blocks_connected = 0,
                  blocks_disconnected = 0, invalid_appointments = 0, breaches_reorged_out = 0, late_breaches = 0;
    bool chain_halted = false;
};

class TowerMetrics {
public:
    explicit TowerMetrics(const std::string& version);

    // Events, from the HTTP router, the group committer and the follower.
    void http_request(const std::string& endpoint, unsigned status, double seconds);
    void appointment_accepted();
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
    prometheus::Counter& appointments_accepted_;
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
    prometheus::Counter& penalties_broadcast_;
    prometheus::Counter& penalties_confirmed_;
    prometheus::Counter& penalties_rejected_;
    prometheus::Counter& penalties_rebroadcast_;
    prometheus::Counter& invalid_appointments_;
    prometheus::Histogram& store_commit_duration_;
    prometheus::Counter& store_errors_;
    prometheus::Histogram& batch_size_;

    std::mutex mutex_;
    TowerSample last_{};
};

}  // namespace argus::metrics
