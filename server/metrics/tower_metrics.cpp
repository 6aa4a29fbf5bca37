#include "server/metrics/tower_metrics.h"

#include <prometheus/text_serializer.h>
#include <sstream>

namespace argus::metrics {

namespace {
prometheus::Histogram::BucketBoundaries electrum_latency() {
    return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1};
}
}  // namespace

namespace {
using prometheus::BuildCounter;
using prometheus::BuildGauge;
using prometheus::BuildHistogram;
using Buckets = prometheus::Histogram::BucketBoundaries;

const Buckets latency{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5};
const Buckets batch{1, 2, 4, 8, 16, 32, 64, 128, 256, 512};
}  // namespace

TowerMetrics::TowerMetrics(const std::string& version)
    : registry_(std::make_shared<prometheus::Registry>()),
      http_requests_(BuildCounter().Name("argus_http_requests_total").Help("teos API requests by endpoint and status").Register(*registry_)),
      http_duration_(BuildHistogram().Name("argus_http_request_duration_seconds").Help("teos API request duration").Register(*registry_)),
      appointments_accepted_family_(BuildCounter().Name("argus_appointments_accepted_total").Help("appointments durably stored and acknowledged, by protocol (teos add_appointment, wtwire StateUpdate)").Register(*registry_)),
      appointments_accepted_(appointments_accepted_family_.Add({{"protocol", "teos"}})),
      wtwire_updates_accepted_(appointments_accepted_family_.Add({{"protocol", "wtwire"}})),
      electrum_sweeps_accepted_(appointments_accepted_family_.Add({{"protocol", "electrum"}})),
      electrum_calls_(BuildCounter().Name("argus_electrum_calls_total").Help("Electrum JSON-RPC calls by method (get_ctn, add_sweep_tx, unauthorized, invalid, other) and result (ok, error)").Register(*registry_)),
      electrum_duration_(BuildHistogram().Name("argus_electrum_call_duration_seconds").Help("Electrum JSON-RPC call duration, durable reply included").Register(*registry_)),
      appointments_rejected_(BuildCounter().Name("argus_appointments_rejected_total").Help("appointments refused, by reason").Register(*registry_)),
      appointments_stored_(BuildGauge().Name("argus_appointments_stored").Help("appointments in the store").Register(*registry_).Add({})),
      users_(BuildGauge().Name("argus_users").Help("registered users").Register(*registry_).Add({})),
      trackers_(BuildGauge().Name("argus_trackers").Help("penalties being followed by the responder").Register(*registry_).Add({})),
      block_duration_(BuildHistogram().Name("argus_block_processing_duration_seconds").Help("block connected to effects committed").Register(*registry_).Add({}, latency)),
      best_height_(BuildGauge().Name("argus_best_block_height").Help("bitcoind's best block height").Register(*registry_).Add({})),
      processed_height_(BuildGauge().Name("argus_processed_block_height").Help("last block whose effects are committed").Register(*registry_).Add({})),
      blocks_behind_(BuildGauge().Name("argus_blocks_behind").Help("best minus processed height").Register(*registry_).Add({})),
      bitcoind_up_(BuildGauge().Name("argus_bitcoind_reachable").Help("1 when bitcoind answered the last call").Register(*registry_).Add({})),
      store_up_(BuildGauge().Name("argus_store_reachable").Help("1 when the store answered the last check").Register(*registry_).Add({})),
      ready_(BuildGauge().Name("argus_ready").Help("1 when /ready would answer 200").Register(*registry_).Add({})),
      blocks_connected_(BuildCounter().Name("argus_blocks_connected_total").Help("blocks connected").Register(*registry_).Add({})),
      blocks_disconnected_(BuildCounter().Name("argus_blocks_disconnected_total").Help("blocks disconnected by reorgs").Register(*registry_).Add({})),
      zmq_gaps_(BuildCounter().Name("argus_zmq_gaps_total").Help("gaps in ZMQ sequence numbers").Register(*registry_).Add({})),
      rpc_errors_(BuildCounter().Name("argus_rpc_errors_total").Help("failed bitcoind syncs").Register(*registry_).Add({})),
      breaches_(BuildCounter().Name("argus_breaches_detected_total").Help("breaches found in blocks").Register(*registry_).Add({})),
      breaches_reorged_out_(BuildCounter().Name("argus_breaches_reorged_out_total").Help("responses dropped because a reorg disconnected their breach").Register(*registry_).Add({})),
      late_breaches_(BuildCounter().Name("argus_late_breaches_total").Help("breaches found when an appointment arrived after its block was scanned").Register(*registry_).Add({})),
      chain_halted_(BuildGauge().Name("argus_chain_halted").Help("1 when a reorg deeper than max_reorg_depth stopped the watcher").Register(*registry_).Add({})),
      leader_(BuildGauge().Name("argus_leader").Help("1 while this tower is the group's elected watcher/responder, 0 while a standby").Register(*registry_).Add({})),
      leader_epoch_(BuildGauge().Name("argus_leader_epoch").Help("the group epoch this tower was elected at (0: never elected, or SQLite)").Register(*registry_).Add({})),
      takeovers_(BuildCounter().Name("argus_leader_takeovers_total").Help("times this tower became the group's watcher").Register(*registry_).Add({})),
      penalties_broadcast_(BuildCounter().Name("argus_penalties_broadcast_total").Help("penalties handed to bitcoind").Register(*registry_).Add({})),
      penalties_confirmed_(BuildCounter().Name("argus_penalties_confirmed_total").Help("penalties seen in a block").Register(*registry_).Add({})),
      penalties_rejected_(BuildCounter().Name("argus_penalties_rejected_total").Help("penalties bitcoind refused").Register(*registry_).Add({})),
      penalties_rebroadcast_(BuildCounter().Name("argus_penalties_rebroadcast_total").Help("penalties sent again").Register(*registry_).Add({})),
      invalid_appointments_(BuildCounter().Name("argus_invalid_appointments_total").Help("matched appointments whose blob did not open (false positives)").Register(*registry_).Add({})),
      penalties_waiting_for_fee_(BuildGauge().Name("argus_penalties_waiting_for_fee").Help("penalties the mempool refuses for their fee, sent again every block").Register(*registry_).Add({})),
      penalties_refused_for_fee_(BuildCounter().Name("argus_penalties_refused_for_fee_total").Help("penalties the mempool first refused for their fee (kept, not dropped)").Register(*registry_).Add({})),
      penalties_abandoned_(BuildCounter().Name("argus_penalties_abandoned_total").Help("penalties given up after waiting for fee: CSV window closed or no longer valid").Register(*registry_).Add({})),
      channels_closed_(BuildCounter().Name("argus_channels_closed_total").Help("watched channels (funding outpoints) seen closed, by type: cooperative, unilateral, breach").Register(*registry_)),
      channels_closed_cooperative_(channels_closed_.Add({{"type", "cooperative"}})),
      channels_closed_unilateral_(channels_closed_.Add({{"type", "unilateral"}})),
      channels_closed_breach_(channels_closed_.Add({{"type", "breach"}})),
      funding_outpoints_watched_(BuildGauge().Name("argus_funding_outpoints_watched").Help("funding outpoints checked against every block input (channel monitoring)").Register(*registry_).Add({})),
      kit_breaches_(BuildCounter().Name("argus_kit_breaches_total").Help("breaches answered with a penalty kit (one penalty per output)").Register(*registry_).Add({})),
      kit_rungs_accepted_(BuildCounter().Name("argus_kit_rungs_accepted_total").Help("penalty-kit rungs the mempool accepted (or already held)").Register(*registry_).Add({})),
      kit_replacements_(BuildCounter().Name("argus_kit_replacements_total").Help("penalty-kit penalties replaced by a higher rung (BIP125)").Register(*registry_).Add({})),
      kit_outputs_swept_(BuildCounter().Name("argus_kit_outputs_swept_total").Help("outputs of a breach whose kit penalty was mined").Register(*registry_).Add({})),
      kit_outputs_lost_(BuildCounter().Name("argus_kit_outputs_lost_total").Help("outputs of a breach another transaction spent first (the cheater's)").Register(*registry_).Add({})),
      kit_outputs_past_deadline_(BuildCounter().Name("argus_kit_outputs_past_deadline_total").Help("kit outputs still unswept when the cheater may take them").Register(*registry_).Add({})),
      kit_second_stages_(BuildCounter().Name("argus_kit_second_stages_total").Help("sweeps of a cheater's second-stage HTLC transaction started").Register(*registry_).Add({})),
      kit_confirmed_rung_sum_(BuildCounter().Name("argus_kit_confirmed_rung_sum").Help("sum of the ladder rungs of kit penalties mined (divide by argus_kit_outputs_swept_total)").Register(*registry_).Add({})),
      kit_confirmed_margin_sum_(BuildCounter().Name("argus_kit_confirm_margin_blocks_sum").Help("sum of the blocks left before the deadline when each kit penalty was mined (divide by argus_kit_outputs_swept_total)").Register(*registry_).Add({})),
      store_commit_duration_(BuildHistogram().Name("argus_store_commit_duration_seconds").Help("group commit transaction duration").Register(*registry_).Add({}, latency)),
      store_errors_(BuildCounter().Name("argus_store_errors_total").Help("failed store transactions").Register(*registry_).Add({})),
      batch_size_(BuildHistogram().Name("argus_group_commit_batch_size").Help("requests sharing one transaction").Register(*registry_).Add({}, batch)),
      wtwire_sessions_(BuildGauge().Name("argus_wtwire_sessions").Help("LND wtwire sessions held").Register(*registry_).Add({})),
      wtwire_open_(BuildGauge().Name("argus_wtwire_connections_open").Help("open wtwire connections").Register(*registry_).Add({})),
      wtwire_connections_(BuildCounter().Name("argus_wtwire_connections_total").Help("wtwire connections by outcome: accepted (handshake done), refused (connection cap), duplicate (session already connected)").Register(*registry_)),
      wtwire_accepted_(wtwire_connections_.Add({{"outcome", "accepted"}})),
      wtwire_refused_(wtwire_connections_.Add({{"outcome", "refused"}})),
      wtwire_duplicate_(wtwire_connections_.Add({{"outcome", "duplicate"}})),
      wtwire_closed_(BuildCounter().Name("argus_wtwire_connections_dropped_total").Help("wtwire connections the tower dropped, by reason").Register(*registry_)),
      wtwire_handshakes_failed_(wtwire_closed_.Add({{"reason", "handshake_failed"}})),
      wtwire_timeouts_(wtwire_closed_.Add({{"reason", "timeout"}})),
      wtwire_rate_limited_(wtwire_closed_.Add({{"reason", "rate_limited"}})),
      wtwire_protocol_errors_(wtwire_closed_.Add({{"reason", "protocol_error"}})),
      wtwire_requests_(BuildCounter().Name("argus_wtwire_requests_total").Help("wtwire requests answered, by kind and result").Register(*registry_)),
      wtwire_sessions_created_(wtwire_requests_.Add({{"request", "create_session"}, {"result", "ok"}})),
      wtwire_updates_rejected_(wtwire_requests_.Add({{"request", "state_update"}, {"result", "rejected"}})),
      wtwire_sessions_deleted_(wtwire_requests_.Add({{"request", "delete_session"}, {"result", "ok"}})),
      wtwire_evicted_(BuildCounter().Name("argus_wtwire_connections_evicted_total").Help("wtwire connections evicted to admit a new one, by reason: idle (longest between messages at the cap), stalled (longest handshake or message under way at the cap), per_source (at the source's own cap)").Register(*registry_)),
      wtwire_evicted_idle_(wtwire_evicted_.Add({{"reason", "idle"}})),
      wtwire_evicted_stalled_(wtwire_evicted_.Add({{"reason", "stalled"}})),
      wtwire_evicted_per_source_(wtwire_evicted_.Add({{"reason", "per_source"}})),
      wtwire_slow_transfer_(wtwire_closed_.Add({{"reason", "slow_transfer"}})),
      http_open_(BuildGauge().Name("argus_http_connections_open").Help("open teos API connections").Register(*registry_).Add({})),
      http_evicted_(BuildCounter().Name("argus_http_connections_evicted_total").Help("teos API connections evicted to admit a new one, by reason: idle (longest in keep-alive at the cap), stalled (longest request under way at the cap), per_source (at the source's own cap)").Register(*registry_)),
      http_evicted_idle_(http_evicted_.Add({{"reason", "idle"}})),
      http_evicted_stalled_(http_evicted_.Add({{"reason", "stalled"}})),
      http_evicted_per_source_(http_evicted_.Add({{"reason", "per_source"}})),
      http_refused_(BuildCounter().Name("argus_http_connections_refused_total").Help("teos API connections closed at once: a cap was full and every connection was busy").Register(*registry_).Add({})),
      http_slow_transfer_(BuildCounter().Name("argus_http_slow_transfer_closed_total").Help("teos API connections closed for sending a request slower than --min-receive-rate").Register(*registry_).Add({})) {
    BuildGauge().Name("argus_build_info").Help("build information").Register(*registry_).Add({{"version", version}}).Set(1);
    // The bounded set of rejection reasons, present (at 0) from the start so
    // dashboards and alerts see the series before the first rejection.
    for (const char* reason : {"too_large", "code_1", "code_2", "code_3", "code_4", "code_5", "code_6", "code_7",
                               "code_32", "code_35", "code_255"}) {
        appointments_rejected_.Add({{"reason", reason}});
    }
    // Likewise the teos API's endpoints (api/teos_router.cpp) and their
    // success: a series born at its first request would hide that request from
    // rate() and increase(). Error statuses appear with their first request;
    // argus_appointments_rejected_total counts refusals from the start.
    for (const char* endpoint : {"/register", "/add_appointment", "/get_appointment", "/get_subscription_info", "/ping"}) {
        http_requests_.Add({{"endpoint", endpoint}, {"status", "200"}});
        http_duration_.Add({{"endpoint", endpoint}}, latency);
    }
    // The Electrum front door's calls, both results, from the start too.
    for (const char* method : {"get_ctn", "add_sweep_tx"}) {
        for (const char* result : {"ok", "error"}) electrum_calls_.Add({{"method", method}, {"result", result}});
        electrum_duration_.Add({{"method", method}}, electrum_latency());
    }
}

void TowerMetrics::http_request(const std::string& endpoint, unsigned status, double seconds) {
    http_requests_.Add({{"endpoint", endpoint}, {"status", std::to_string(status)}}).Increment();
    http_duration_.Add({{"endpoint", endpoint}}, latency).Observe(seconds);
}

void TowerMetrics::appointment_accepted() { appointments_accepted_.Increment(); }

void TowerMetrics::electrum_call(const std::string& method, bool ok, double seconds) {
    electrum_calls_.Add({{"method", method}, {"result", ok ? "ok" : "error"}}).Increment();
    electrum_duration_.Add({{"method", method}}, electrum_latency()).Observe(seconds);
    if (ok && method == "add_sweep_tx") electrum_sweeps_accepted_.Increment();
}

void TowerMetrics::appointment_rejected(const std::string& reason) {
    appointments_rejected_.Add({{"reason", reason}}).Increment();
}

void TowerMetrics::commit_batch(std::size_t parts, double seconds, bool ok) {
    batch_size_.Observe(static_cast<double>(parts));
    store_commit_duration_.Observe(seconds);
    if (!ok) store_errors_.Increment();
}

void TowerMetrics::block_processed(double seconds) { block_duration_.Observe(seconds); }

void TowerMetrics::add_delta(prometheus::Counter& counter, std::uint64_t& last, std::uint64_t now) {
    if (now > last) counter.Increment(static_cast<double>(now - last));
    last = now;
}

void TowerMetrics::sample(const TowerSample& s) {
    std::lock_guard lock(mutex_);
    users_.Set(static_cast<double>(s.users));
    appointments_stored_.Set(static_cast<double>(s.appointments));
    trackers_.Set(static_cast<double>(s.trackers));
    best_height_.Set(s.best_height);
    processed_height_.Set(s.processed_height);
    blocks_behind_.Set(s.best_height > s.processed_height ? s.best_height - s.processed_height : 0);
    bitcoind_up_.Set(s.bitcoind_reachable ? 1 : 0);
    store_up_.Set(s.store_reachable ? 1 : 0);
    ready_.Set(s.bitcoind_reachable && s.store_reachable && s.caught_up && !s.stopping ? 1 : 0);
    add_delta(blocks_connected_, last_.blocks_connected, s.blocks_connected);
    add_delta(blocks_disconnected_, last_.blocks_disconnected, s.blocks_disconnected);
    add_delta(zmq_gaps_, last_.zmq_gaps, s.zmq_gaps);
    add_delta(rpc_errors_, last_.rpc_errors, s.rpc_errors);
    add_delta(breaches_, last_.breaches, s.breaches);
    add_delta(breaches_reorged_out_, last_.breaches_reorged_out, s.breaches_reorged_out);
    add_delta(late_breaches_, last_.late_breaches, s.late_breaches);
    chain_halted_.Set(s.chain_halted ? 1 : 0);
    leader_.Set(s.leader ? 1 : 0);
    leader_epoch_.Set(static_cast<double>(s.leader_epoch));
    add_delta(takeovers_, last_.takeovers, s.takeovers);
    add_delta(penalties_broadcast_, last_.penalties_broadcast, s.penalties_broadcast);
    add_delta(penalties_confirmed_, last_.penalties_confirmed, s.penalties_confirmed);
    add_delta(penalties_rejected_, last_.penalties_rejected, s.penalties_rejected);
    add_delta(penalties_rebroadcast_, last_.penalties_rebroadcast, s.penalties_rebroadcast);
    add_delta(invalid_appointments_, last_.invalid_appointments, s.invalid_appointments);
    penalties_waiting_for_fee_.Set(static_cast<double>(s.penalties_waiting_for_fee));
    add_delta(penalties_refused_for_fee_, last_.penalties_refused_for_fee, s.penalties_refused_for_fee);
    add_delta(penalties_abandoned_, last_.penalties_abandoned, s.penalties_abandoned);
    add_delta(channels_closed_cooperative_, last_.channels_closed_cooperative, s.channels_closed_cooperative);
    add_delta(channels_closed_unilateral_, last_.channels_closed_unilateral, s.channels_closed_unilateral);
    add_delta(channels_closed_breach_, last_.channels_closed_breach, s.channels_closed_breach);
    funding_outpoints_watched_.Set(static_cast<double>(s.funding_outpoints_watched));
    add_delta(kit_breaches_, last_.kit_breaches, s.kit_breaches);
    add_delta(kit_rungs_accepted_, last_.kit_rungs_accepted, s.kit_rungs_accepted);
    add_delta(kit_replacements_, last_.kit_replacements, s.kit_replacements);
    add_delta(kit_outputs_swept_, last_.kit_outputs_swept, s.kit_outputs_swept);
    add_delta(kit_outputs_lost_, last_.kit_outputs_lost, s.kit_outputs_lost);
    add_delta(kit_outputs_past_deadline_, last_.kit_outputs_past_deadline, s.kit_outputs_past_deadline);
    add_delta(kit_second_stages_, last_.kit_second_stages, s.kit_second_stages);
    add_delta(kit_confirmed_rung_sum_, last_.kit_confirmed_rung_sum, s.kit_confirmed_rung_sum);
    add_delta(kit_confirmed_margin_sum_, last_.kit_confirmed_margin_sum, s.kit_confirmed_margin_sum);
    wtwire_sessions_.Set(static_cast<double>(s.wtwire_sessions));
    wtwire_open_.Set(static_cast<double>(s.wtwire.open));
    WtwireSample& w = last_wtwire_;
    add_delta(wtwire_updates_accepted_, w.updates_accepted, s.wtwire.updates_accepted);
    add_delta(wtwire_accepted_, w.connections, s.wtwire.connections);
    add_delta(wtwire_refused_, w.refused, s.wtwire.refused);
    add_delta(wtwire_duplicate_, w.duplicate_connections, s.wtwire.duplicate_connections);
    add_delta(wtwire_handshakes_failed_, w.handshakes_failed, s.wtwire.handshakes_failed);
    add_delta(wtwire_timeouts_, w.timeouts, s.wtwire.timeouts);
    add_delta(wtwire_rate_limited_, w.rate_limited, s.wtwire.rate_limited);
    add_delta(wtwire_protocol_errors_, w.protocol_errors, s.wtwire.protocol_errors);
    add_delta(wtwire_sessions_created_, w.sessions_created, s.wtwire.sessions_created);
    add_delta(wtwire_updates_rejected_, w.updates_rejected, s.wtwire.updates_rejected);
    add_delta(wtwire_sessions_deleted_, w.sessions_deleted, s.wtwire.sessions_deleted);
    add_delta(wtwire_evicted_idle_, w.evicted_idle, s.wtwire.evicted_idle);
    add_delta(wtwire_evicted_stalled_, w.evicted_stalled, s.wtwire.evicted_stalled);
    add_delta(wtwire_evicted_per_source_, w.evicted_per_source, s.wtwire.evicted_per_source);
    add_delta(wtwire_slow_transfer_, w.slow_transfer, s.wtwire.slow_transfer);
    HttpConnectionSample& h = last_http_;
    http_open_.Set(static_cast<double>(s.http.open));
    add_delta(http_evicted_idle_, h.evicted_idle, s.http.evicted_idle);
    add_delta(http_evicted_stalled_, h.evicted_stalled, s.http.evicted_stalled);
    add_delta(http_evicted_per_source_, h.evicted_per_source, s.http.evicted_per_source);
    add_delta(http_refused_, h.refused, s.http.refused);
    add_delta(http_slow_transfer_, h.slow_transfer, s.http.slow_transfer);
}

std::string TowerMetrics::serialize() const {
    prometheus::TextSerializer serializer;
    std::ostringstream out;
    serializer.Serialize(out, registry_->Collect());
    return out.str();
}

}  // namespace argus::metrics
