// argus-tower: the watchtower daemon.
#include <signal.h>
#include <sys/stat.h>

#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <mutex>
#include <thread>

#include "common/hex.h"
#include "common/version.h"
#include "net/bitcoind_rpc.h"
#include "net/http_server.h"
#include "server/api/admin_router.h"
#include "server/api/electrum_router.h"
#include "server/api/ops_router.h"
#include "server/api/teos_router.h"
#include "server/api/wtwire_listener.h"
#include "server/chain/rpc_chain_source.h"
#include "server/chain/zmq_subscriber.h"
#include "server/config/reload.h"
#include "server/config/tower_options.h"
#include "log/log.h"
#include "server/metrics/tower_metrics.h"
#include "server/tower/secret_file.h"
#include "server/tower/tower_service.h"
#include "server/watch/chain_follower.h"

using namespace argus;

namespace {

int fail(const std::string& event, const std::string& message) {
    log_event(LogLevel::error, event, {{"error", message}});
    return 1;
}

Status ensure_data_dir(const std::string& dir) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) return make_error(ErrorCode::storage, "cannot create data dir " + dir + ": " + ec.message());
    ::chmod(dir.c_str(), 0700);
    return {};
}

api::HttpServerOptions api_server_options(const config::TowerOptions& o) {
    api::HttpServerOptions a;
    a.address = o.api_bind;
    a.port = o.api_port;
    a.threads = o.api_threads;
    a.max_connections = o.max_connections;
    a.request_timeout = std::chrono::milliseconds(o.request_timeout_ms);
    a.idle_timeout = std::chrono::milliseconds(o.idle_timeout_ms);
    a.max_connections_per_source = o.max_connections_per_source;
    a.limit_loopback_sources = o.limit_loopback_sources;
    a.min_receive_rate = o.min_receive_rate;
    a.receive_rate_grace = std::chrono::milliseconds(o.receive_rate_grace_ms);
    if (!o.tls_certificate.empty()) a.tls = api::TlsOptions{o.tls_certificate, o.tls_private_key};
    return a;
}

api::WtwireListenerOptions wtwire_listener_options(const config::TowerOptions& o) {
    api::WtwireListenerOptions w;
    w.bind_address = o.wtwire_bind;
    w.port = o.wtwire_port;
    w.max_connections = o.wtwire_max_connections;
    w.max_connections_per_source = o.wtwire_max_connections_per_source;
    w.limit_loopback_sources = o.wtwire_limit_loopback_sources;
    w.min_receive_rate = o.wtwire_min_receive_rate;
    w.receive_rate_grace = std::chrono::milliseconds(o.wtwire_receive_rate_grace_ms);
    w.handshake_timeout = std::chrono::milliseconds(o.wtwire_handshake_timeout_ms);
    w.read_timeout = std::chrono::milliseconds(o.wtwire_read_timeout_ms);
    w.messages_per_second = o.wtwire_messages_per_second;
    w.message_burst = std::max(4.0, o.wtwire_messages_per_second * 4);
    return w;
}

// SIGHUP: the configuration read again (same command line, the config file
// re-read); what can change while running is applied, the rest is named as
// needing a restart. Returns the options now in force.
config::TowerOptions reload(const config::TowerOptions& current, int argc, const char* const* argv,
                            api::HttpServer& api_server, api::WtwireListener* wtwire, api::HttpServer* electrum) {
    auto parsed = config::parse_tower_options(argc, argv);
    if (!parsed) {
        log_event(LogLevel::error, "reload_failed", {{"error", parsed.error().message}, {"kept", "the running configuration"}});
        return current;
    }
    config::ReloadPlan plan = config::plan_reload(current, parsed->options);
    config::TowerOptions next = config::options_after_reload(current, parsed->options);
    if (plan.reload_tls) {
        if (auto ok = api_server.reload_tls({next.tls_certificate, next.tls_private_key}); !ok) {
            log_event(LogLevel::error, "tls_reload_failed", {{"error", ok.error().message}, {"kept", "the certificate in use"}});
            next.tls_certificate = current.tls_certificate;
            next.tls_private_key = current.tls_private_key;
        } else {
            log_event(LogLevel::info, "tls_certificate_reloaded", {{"certificate", next.tls_certificate}});
        }
    }
    LogLevel level = LogLevel::info;
    parse_log_level(next.log_level, level);
    set_log_level(level);
    api_server.reconfigure(api_server_options(next));
    if (electrum) electrum->reconfigure(api_server_options(next));  // the Electrum listener shares the API's bounds
    if (wtwire) wtwire->reconfigure(wtwire_listener_options(next));
    for (const auto& c : plan.applied) {
        if ((c.option == "tls-certificate" || c.option == "tls-private-key") && next.tls_certificate == current.tls_certificate &&
            next.tls_private_key == current.tls_private_key) {
            continue;  // the new files did not load: nothing changed
        }
        log_event(LogLevel::info, "config_reloaded", {{"option", c.option}, {"from", c.from}, {"to", c.to}});
    }
    for (const auto& c : plan.needs_restart) {
        log_event(LogLevel::warn, "config_change_needs_restart", {{"option", c.option}, {"from", c.from}, {"to", c.to}});
    }
    log_event(LogLevel::info, "reload_done", {{"applied", std::to_string(plan.applied.size())},
                                              {"needs_restart", std::to_string(plan.needs_restart.size())}});
    return next;
}

int run(const config::TowerOptions& o, int argc, const char* const* argv) {
    // Block the signals before any thread starts, so they reach sigwait below.
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    signal(SIGPIPE, SIG_IGN);

    if (auto ok = ensure_data_dir(o.data_dir); !ok) return fail("start_failed", ok.error().message);
    Context context{system_clock(), system_rng()};
    auto key = tower::load_or_create_tower_key(o.data_dir, context.rng);
    if (!key) return fail("tower_key_failed", key.error().message);
    auto token = tower::load_or_create_admin_token(o.data_dir, context.rng);
    if (!token) return fail("admin_token_failed", token.error().message);

    // On PostgreSQL the watcher is elected (a tower on its own is the leader
    // of a group of one); with --ha several towers share the database and
    // each follows the others' writes through the feed.
    const bool elected = !o.postgres.empty();
    std::uint64_t feed_origin = 0;
    while (o.ha && feed_origin == 0) {
        ByteArray<8> r{};
        if (!context.rng.fill(r)) return fail("start_failed", "no randomness for the feed origin");
        for (auto b : r) feed_origin = (feed_origin << 8) | b;
    }
    store::PostgresStoreOptions pg_options;
    pg_options.read_connections = o.postgres_read_connections;
    pg_options.feed_origin = feed_origin;
    Result<std::unique_ptr<store::Store>> opened = o.postgres.empty()
                                                       ? store::open_sqlite_store(o.data_dir + "/tower.sqlite")
                                                       : store::open_postgres_store(o.postgres, pg_options);
    if (!opened) return fail("store_open_failed", opened.error().message);
    std::unique_ptr<store::Store> store = std::move(*opened);
    // The feed is followed from before the index loads: what is written
    // meanwhile is in both (harmless), never in neither.
    std::uint64_t feed_after = 0;
    if (o.ha) {
        auto bounds = store->feed_bounds();
        if (!bounds) return fail("store_open_failed", bounds.error().message);
        feed_after = bounds->last;
    }

    chain::RpcEndpoint endpoint{o.bitcoind_rpc_host, o.bitcoind_rpc_port, o.bitcoind_rpc_user,
                                o.bitcoind_rpc_password, o.bitcoind_cookie_file, std::chrono::milliseconds(10'000)};
    chain::BitcoindRpc rpc(endpoint);
    chain::RpcChainSource chain_source(rpc);

    tower::LocatorIndex index(context.rng);
    std::atomic<watch::ChainFollower*> follower_ptr{nullptr};
    // A standby's view of the chain: the watcher's persisted position.
    std::atomic<std::uint32_t> standby_height{0};
    std::atomic<bool> standby_chain_known{false};
    tower::TowerHooks hooks;
    hooks.tracker_for = [&](const Locator& l, const store::UserId& u) -> std::optional<tower::TrackerView> {
        auto* f = follower_ptr.load();
        std::optional<store::TrackerRecord> t;
        if (f) {
            t = f->tracker(l, u);
        } else if (o.ha) {
            // A standby answers from what the watcher committed.
            if (auto stored = store->get_tracker({l, u}); stored) t = *stored;
        }
        if (!t) return std::nullopt;
        return tower::TrackerView{t->dispute_txid, t->penalty_txid, t->penalty_tx, t->waiting_for_fee_until,
                                  t->confirmed_height, t->kit_state};
    };
    hooks.on_appointment_stored = [&](store::AppointmentRecord a) {
        if (auto* f = follower_ptr.load()) f->appointment_stored(std::move(a));
    };
    tower::SubscriptionPolicy policy{o.subscription_slots, o.subscription_duration, o.expiry_delta,
                                     o.expiry_removals_per_block};
    auto chain_status = [&] {
        auto* f = follower_ptr.load();
        if (f) return f->status();
        return tower::ChainStatus{standby_height.load(), standby_chain_known.load()};
    };
    tower::TowerService service(*store, index, *key, policy, chain_status, hooks, context.clock);
    service.set_shared_store(o.ha, feed_origin);
    service.set_feed_applied(feed_after);
    service.set_elected(!o.postgres.empty());
    if (auto ok = service.start(); !ok) return fail("tower_start_failed", ok.error().message);

    // The election: the first tower to take the lock is the watcher.
    std::unique_ptr<store::LeaderLease> lease;
    std::atomic<bool> leader{!elected};
    std::atomic<std::uint64_t> epoch{0};
    std::atomic<std::uint64_t> takeovers{elected ? 0u : 1u};
    char host[256] = {0};
    ::gethostname(host, sizeof host - 1);
    std::string holder = std::string(host) + ":" + std::to_string(::getpid()) + ":" + std::to_string(o.api_port);
    if (elected) {
        auto opened_lease = store::open_postgres_leader_lease(o.postgres, holder, std::chrono::milliseconds(o.leader_lease_ms));
        if (!opened_lease) return fail("leader_lease_failed", opened_lease.error().message);
        lease = std::move(*opened_lease);
        auto got = lease->try_acquire();
        // A tower on its own restarted after a kill: its predecessor's
        // session may take a moment to end. Wait for it up to the lease.
        auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(o.leader_lease_ms + 2000);
        while (!o.ha && got && !*got && std::chrono::steady_clock::now() < deadline) {
            std::this_thread::sleep_for(std::chrono::milliseconds(250));
            got = lease->try_acquire();
        }
        if (!got) return fail("leader_lease_failed", got.error().message);
        if (*got) {
            leader = true;
            epoch = **got;
            takeovers = 1;
            service.set_watcher_epoch(**got);
            log_event(LogLevel::info, "watcher_elected", {{"epoch", std::to_string(**got)}, {"holder", holder}});
        } else if (!o.ha) {
            auto current = store->leader_epoch();
            return fail("another_watcher",
                        "another tower (" + (current && *current ? (*current)->second : std::string("unknown")) +
                            ") is the watcher of this database; every tower sharing a database runs with --ha");
        } else {
            log_event(LogLevel::info, "watcher_standby", {{"holder", holder}});
        }
    }
    metrics::TowerMetrics metrics(version_string);
    service.set_commit_observer([&](std::size_t parts, double seconds, bool ok) { metrics.commit_batch(parts, seconds, ok); });
    watch::FollowerOptions follower_options;
    follower_options.on_block_processed = [&](double seconds) { metrics.block_processed(seconds); };
    follower_options.max_reorg_depth = o.max_reorg_depth;
    follower_options.poll_interval = std::chrono::milliseconds(o.chain_poll_ms);
    follower_options.core.resolve_depth = o.resolve_depth;
    follower_options.core.rebroadcast_after = o.rebroadcast_after;
    watch::ChainFollower follower(chain_source, chain_source, index, service, *store, follower_options, context.clock);

    // The election's threads. The heartbeat thread only keeps the lease
    // alive (its own connection, every lease/4, whatever else is slow) and
    // notes its loss. The group thread makes every change of role: a lost
    // lease makes the watcher a standby (the follower stopped before the
    // epoch is dropped); a standby tries to take the lock, and reads the
    // chain position its API stamps appointments with.
    std::mutex lease_mutex;  // the lease is not thread-safe
    std::atomic<bool> lease_held{leader.load() && elected};
    std::atomic<bool> lease_lost{false};
    std::mutex group_mutex;
    std::condition_variable group_wake;
    bool group_stopping = false;
    auto group_wait = [&](std::chrono::milliseconds wait) {
        std::unique_lock lock(group_mutex);
        return group_wake.wait_for(lock, wait, [&] { return group_stopping; });
    };
    auto become_leader = [&](std::uint64_t new_epoch) -> Status {
        service.set_watcher_epoch(new_epoch);
        // Re-processes from the persisted position: no block is skipped, and
        // a penalty the previous watcher had sent already is sent again (harmless).
        if (auto ok = follower.initialize(); !ok) return ok;
        follower_ptr = &follower;
        follower.start();
        // Appointments stored lately on any tower: checked against the
        // window of recent blocks, in case the previous watcher died before
        // it checked them (read in full only when their trigger is there).
        if (auto recent = store->recent_feed(std::chrono::seconds(300), 5'000'000); recent) {
            for (const auto& e : *recent) {
                if (e.user) follower.appointment_key_stored({e.locator, *e.user});
            }
        }
        epoch = new_epoch;
        ++takeovers;
        leader = true;
        log_event(LogLevel::warn, "watcher_elected", {{"epoch", std::to_string(new_epoch)}, {"holder", holder}});
        return {};
    };
    auto drop_lease = [&] {
        std::lock_guard lock(lease_mutex);
        lease->release();
        lease_held = false;
    };
    auto become_standby = [&](const std::string& why) {
        follower_ptr = nullptr;
        follower.stop();               // no watcher write is under way after this
        service.set_watcher_epoch(0);  // and none can be sent: the service refuses them
        drop_lease();
        leader = false;
        log_event(LogLevel::error, "watcher_lost", {{"epoch", std::to_string(epoch.load())}, {"error", why}});
    };
    std::thread heartbeat_thread, group_thread;
    if (elected) {
        heartbeat_thread = std::thread([&] {
            while (!group_wait(std::chrono::milliseconds(o.leader_lease_ms / 4))) {
                if (!lease_held) continue;
                std::lock_guard lock(lease_mutex);
                if (!lease_held) continue;
                if (auto ok = lease->heartbeat(); !ok) {
                    log_event(LogLevel::error, "leader_lease_lost", {{"error", ok.error().message}});
                    lease_held = false;
                    lease_lost = true;
                    group_wake.notify_all();
                }
            }
        });
    }
    auto start_group_thread = [&] {
        if (!elected) return;
        group_thread = std::thread([&] {
            auto last_prune = std::chrono::steady_clock::now();
            for (;;) {
                if (leader) {
                    if (lease_lost.exchange(false)) {
                        become_standby("the leader lease was lost");
                    } else if (o.ha && std::chrono::steady_clock::now() - last_prune > std::chrono::seconds(60)) {
                        if (auto pruned = store->prune_feed(std::chrono::seconds(3600)); !pruned) {
                            log_event(LogLevel::warn, "feed_prune_failed", {{"error", pruned.error().message}});
                        }
                        last_prune = std::chrono::steady_clock::now();
                    }
                } else {
                    lease_lost = false;
                    if (auto position = store->chain_position(); position && *position) {
                        standby_height = (*position)->height;
                        standby_chain_known = true;
                    }
                    Result<std::optional<std::uint64_t>> got = std::optional<std::uint64_t>();
                    {
                        std::lock_guard lock(lease_mutex);
                        got = lease->try_acquire();
                        if (got && *got) lease_held = true;
                    }
                    if (got && *got) {
                        if (auto ok = become_leader(**got); !ok) {
                            log_event(LogLevel::warn, "takeover_failed", {{"error", ok.error().message}});
                            follower_ptr = nullptr;
                            follower.stop();
                            service.set_watcher_epoch(0);
                            drop_lease();
                        }
                    }
                }
                if (group_wait(std::chrono::milliseconds(leader ? 200 : 500))) return;
            }
        });
    };
    // Every thread of the election and the feed is stopped on any way out.
    std::atomic<bool> feed_stopping{false};
    std::thread feed_thread;
    struct Joiner {
        std::function<void()> stop;
        ~Joiner() { stop(); }
    } joiner{[&] {
        {
            std::lock_guard lock(group_mutex);
            group_stopping = true;
        }
        group_wake.notify_all();
        if (group_thread.joinable()) group_thread.join();
        if (heartbeat_thread.joinable()) heartbeat_thread.join();
        feed_stopping = true;
        if (feed_thread.joinable()) feed_thread.join();
        follower_ptr = nullptr;
        follower.stop();
        if (lease) drop_lease();
    }};

    // Catch up with every block missed while down before serving anyone (the
    // heartbeat thread keeps the lease meanwhile; if it is lost, these
    // writes carry the epoch and are refused once another tower took over).
    for (std::chrono::milliseconds backoff{250}; leader; backoff = std::min(backoff * 2, std::chrono::milliseconds(30'000))) {
        Status ready = follower.initialize();
        if (ready) {
            auto synced = follower.sync();
            if (synced) {
                log_event(LogLevel::info, "chain_caught_up", {{"height", std::to_string(follower.status().height)},
                                                              {"blocks", std::to_string(*synced)}});
                break;
            }
            ready = synced.error();
            // A reorg deeper than we may follow: stop with the reason, not retry for ever.
            if (auto reason = follower.halted()) return fail("chain_halted", *reason);
        }
        log_event(LogLevel::warn, "waiting_for_bitcoind",
                  {{"host", o.bitcoind_rpc_host}, {"port", std::to_string(o.bitcoind_rpc_port)},
                   {"error", ready.error().message}, {"retry_ms", std::to_string(backoff.count())}});
        sigset_t pending;
        sigpending(&pending);
        if (sigismember(&pending, SIGINT) || sigismember(&pending, SIGTERM)) return 0;
        std::this_thread::sleep_for(backoff);
    }
    if (leader) {
        follower_ptr = &follower;  // from here on, every stored appointment reaches the follower
        follower.start();
    }
    start_group_thread();  // a lease lost during the catch-up is handled here

    // A tower of a group follows the others' writes: their locators enter
    // this tower's index, their funding outpoints its watch list, and the
    // watcher checks what they stored against the recent blocks.
    if (o.ha) {
        feed_thread = std::thread([&] {
            std::uint64_t after = feed_after;
            auto last_read = std::chrono::steady_clock::now();
            while (!feed_stopping) {
                if (auto waited = store->wait_for_feed(std::chrono::milliseconds(500)); !waited) {
                    std::this_thread::sleep_for(std::chrono::milliseconds(200));
                }
                // Away for longer than the feed keeps (an hour): every
                // locator is read again (the index only ever gains entries).
                if (std::chrono::steady_clock::now() - last_read > std::chrono::minutes(30)) {
                    log_event(LogLevel::warn, "feed_resync", {});
                    if (store->for_each_locator_prefix([&](std::span<const Locator> batch) { index.insert_all(batch); })) {
                        last_read = std::chrono::steady_clock::now();
                    }
                }
                // Every row up to the head read first is visible (rows
                // appear in seq order): once the others' rows up to it are
                // applied, so is everything up to it.
                auto head = store->feed_bounds();
                bool complete = false;
                while (!feed_stopping) {
                    auto entries = store->read_others_feed(after, 10'000);
                    if (!entries) break;
                    last_read = std::chrono::steady_clock::now();
                    for (const auto& e : *entries) {
                        after = e.seq;
                        // A locator that left the store stays in this index
                        // (a false positive costs a read; erasing one another
                        // user shares would cost a breach).
                        if (e.kind == store::FeedEntry::Kind::entered) index.insert(e.locator);
                        if (e.kind == store::FeedEntry::Kind::watched && e.outpoint) service.watch_funding_outpoint(*e.outpoint);
                        if (e.kind == store::FeedEntry::Kind::stored && e.user) {
                            if (auto* f = follower_ptr.load()) f->appointment_key_stored({e.locator, *e.user});
                        }
                    }
                    if (entries->size() < 10'000) {
                        complete = true;
                        break;
                    }
                }
                if (complete && head) after = std::max(after, head->last);
                service.set_feed_applied(after);
            }
        });
    }
    std::unique_ptr<chain::ZmqSubscriber> zmq;
    if (!o.bitcoind_zmq.empty()) {
        zmq = std::make_unique<chain::ZmqSubscriber>(o.bitcoind_zmq, [&] { follower.wake(); });
        zmq->start();
    }

    api::TeosRouter teos_router(
        service,
        {o.register_body_limit, o.add_appointment_body_limit, o.get_appointment_body_limit, o.get_subscription_info_body_limit},
        [&](const std::string& route, unsigned status, double seconds, int error_code) {
            metrics.http_request(route, status, seconds);
            if (route != "/add_appointment") return;
            if (status == 200) {
                metrics.appointment_accepted();
            } else {
                metrics.appointment_rejected(status == 413 ? "too_large" : "code_" + std::to_string(error_code));
            }
        },
        context.clock);
    api::HttpServer api_server(api_server_options(o), teos_router);
    if (auto ok = api_server.start(); !ok) return fail("api_listen_failed", ok.error().message);

    // The LND front door: same tower key, same service, same store.
    tower::WtwirePolicy wtwire_policy;
    wtwire_policy.max_updates = o.wtwire_max_updates;
    wtwire_policy.max_sessions = o.wtwire_max_sessions;
    wtwire_policy.min_sweep_fee_rate = o.wtwire_min_sweep_fee_rate;
    wtwire_policy.max_sweep_fee_rate = o.wtwire_max_sweep_fee_rate;
    wtwire_policy.min_reward_base = o.wtwire_min_reward_base;
    wtwire_policy.min_reward_rate = o.wtwire_min_reward_rate;
    wtwire_policy.reward_script = o.wtwire_reward_script;
    service.set_wtwire_policy(wtwire_policy);
    std::unique_ptr<api::WtwireListener> wtwire;
    std::uint16_t wtwire_port = 0;
    std::string wtwire_uri;
    if (o.wtwire) {
        wtwire = std::make_unique<api::WtwireListener>(service, *key, genesis_block_hash(o.network),
                                                       wtwire_listener_options(o), context);
        auto port = wtwire->start();
        if (!port) return fail("wtwire_listen_failed", port.error().message);
        wtwire_port = *port;
        std::string address = o.wtwire_external_address.empty() ? o.wtwire_bind + ":" + std::to_string(wtwire_port)
                                                                : o.wtwire_external_address;
        wtwire_uri = to_hex(service.tower_id().bytes()) + "@" + address;
    }

    // The Electrum front door: same service, store and watcher.
    api::ElectrumRouter electrum_router(service, {o.electrum_body_limit},
                                        [&](const std::string& method, bool ok, double seconds) {
                                            metrics.electrum_call(method, ok, seconds);
                                        });
    std::unique_ptr<api::HttpServer> electrum_server;
    if (o.electrum) {
        api::HttpServerOptions e = api_server_options(o);
        e.address = o.electrum_bind;
        e.port = o.electrum_port;
        e.threads = 1;
        e.tls.reset();
        if (!o.electrum_tls_certificate.empty()) e.tls = api::TlsOptions{o.electrum_tls_certificate, o.electrum_tls_private_key};
        electrum_server = std::make_unique<api::HttpServer>(e, electrum_router);
        if (auto ok = electrum_server->start(); !ok) return fail("electrum_listen_failed", ok.error().message);
    }

    auto role = [&] {
        return std::make_pair(std::string(leader ? "leader" : "standby"), epoch.load());
    };
    api::AdminRouter admin_router({service, *store, index, chain_status,
                                   [&] { return follower.tracker_count(); }, hooks.tracker_for, *token, wtwire_uri, role});
    api::HttpServerOptions admin_options;
    admin_options.address = o.admin_bind;
    admin_options.port = o.admin_port;
    admin_options.threads = 1;
    admin_options.max_connections = 16;
    api::HttpServer admin_server(admin_options, admin_router);
    if (auto ok = admin_server.start(); !ok) return fail("admin_listen_failed", ok.error().message);

    std::atomic<bool> stopping{false};
    auto readiness = [&] {
        bool store_ok = static_cast<bool>(store->ping()) && service.healthy();
        if (!leader) return api::Readiness{store_ok, true, true, stopping.load(), "standby"};  // serves the API; needs no bitcoind
        return api::Readiness{store_ok, follower.status().reachable,
                              follower.caught_up() && follower.status().height >= follower.best_height(), stopping.load(),
                              "leader"};
    };
    api::OpsRouter ops_router([&] { return metrics.serialize(); }, readiness);
    api::HttpServerOptions ops_options;
    ops_options.address = o.metrics_bind;
    ops_options.port = o.metrics_port;
    ops_options.threads = 1;
    ops_options.max_connections = 64;
    api::HttpServer ops_server(ops_options, ops_router);
    if (auto ok = ops_server.start(); !ok) return fail("metrics_listen_failed", ok.error().message);

    // The sampler: gauges and totals from the components, once a second.
    std::atomic<bool> sampling{true};
    std::thread sampler([&] {
        while (sampling) {
            metrics::TowerSample s;
            auto stats = follower.stats();
            auto ready = readiness();
            if (auto c = store->counts()) {
                s.users = c->users;
                s.appointments = c->appointments;
            }
            s.trackers = follower.tracker_count();
            s.best_height = follower.best_height();
            s.processed_height = follower.status().height;
            s.bitcoind_reachable = ready.bitcoind_reachable;
            s.store_reachable = ready.store_reachable;
            s.caught_up = ready.caught_up;
            s.stopping = ready.stopping;
            s.zmq_gaps = zmq ? zmq->gaps() : 0;
            s.rpc_errors = stats.rpc_errors;
            s.breaches = stats.core.breaches;
            s.breaches_reorged_out = stats.core.breaches_reorged_out;
            s.late_breaches = stats.core.late_breaches;
            s.chain_halted = stats.halted;
            s.leader = leader.load();
            s.leader_epoch = epoch.load();
            s.takeovers = takeovers.load();
            s.penalties_broadcast = stats.core.penalties_broadcast;
            s.penalties_rebroadcast = stats.core.penalties_rebroadcast;
            s.penalties_confirmed = stats.core.penalties_confirmed;
            s.penalties_rejected = stats.core.penalties_rejected;
            s.invalid_appointments = stats.core.invalid_appointments;
            s.penalties_waiting_for_fee = stats.penalties_waiting_for_fee;
            s.penalties_refused_for_fee = stats.core.penalties_refused_for_fee;
            s.penalties_abandoned = stats.core.penalties_abandoned;
            s.channels_closed_cooperative = stats.core.channels_closed_cooperative;
            s.channels_closed_unilateral = stats.core.channels_closed_unilateral;
            s.channels_closed_breach = stats.core.channels_closed_breach;
            s.funding_outpoints_watched = service.funding_outpoints().size();
            s.kit_breaches = stats.core.kit_breaches;
            s.kit_rungs_accepted = stats.core.kit_rungs_accepted;
            s.kit_replacements = stats.core.kit_replacements;
            s.kit_outputs_swept = stats.core.kit_outputs_swept;
            s.kit_outputs_lost = stats.core.kit_outputs_lost;
            s.kit_outputs_past_deadline = stats.core.kit_outputs_past_deadline;
            s.kit_second_stages = stats.core.kit_second_stages;
            s.kit_confirmed_rung_sum = stats.core.kit_confirmed_rung_sum;
            s.kit_confirmed_margin_sum = stats.core.kit_confirmed_margin_sum;
            s.blocks_connected = stats.core.blocks_connected;
            s.blocks_disconnected = stats.core.blocks_disconnected;
            s.wtwire_sessions = service.session_count();
            if (wtwire) {
                api::WtwireStats w = wtwire->stats();
                s.wtwire = metrics::WtwireSample{w.connections,     w.refused,          w.open,
                                                 w.handshakes_failed, w.timeouts,        w.rate_limited,
                                                 w.protocol_errors, w.duplicate_connections, w.sessions_created,
                                                 w.updates_accepted, w.updates_rejected, w.sessions_deleted,
                                                 w.evicted_idle,     w.evicted_stalled,  w.evicted_per_source,
                                                 w.slow_transfer};
            }
            api::ConnectionStats h = api_server.connection_stats();
            s.http = metrics::HttpConnectionSample{h.open,           h.refused,           h.evicted_idle,
                                                   h.evicted_stalled, h.evicted_per_source, h.slow_transfer};
            metrics.sample(s);
            for (int i = 0; i < 10 && sampling; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
    });

    auto counts = store->counts();
    log_event(LogLevel::info, "tower_ready",
              {{"tower_id", to_hex(service.tower_id().bytes())},
               {"network", to_string(o.network)},
               {"store", store->backend_name()},
               {"role", leader ? "leader" : "standby"},
               {"api", o.api_bind + ":" + std::to_string(api_server.port())},
               {"tls", o.tls_certificate.empty() ? "off" : "on"},
               {"admin", o.admin_bind + ":" + std::to_string(admin_server.port())},
               {"metrics", o.metrics_bind + ":" + std::to_string(ops_server.port())},
               {"wtwire", wtwire ? wtwire_uri : std::string("off")},
               {"electrum", electrum_server ? o.electrum_bind + ":" + std::to_string(electrum_server->port()) : std::string("off")},
               {"users", std::to_string(service.user_count())},
               {"appointments", std::to_string(counts ? counts->appointments : 0)},
               {"chain_height", std::to_string(chain_status().height)},
               {"trackers", std::to_string(follower.tracker_count())},
               {"zmq", o.bitcoind_zmq.empty() ? "off" : o.bitcoind_zmq}});

    if (!o.ready_file.empty()) {
        std::string tmp = o.ready_file + ".tmp";
        if (std::FILE* f = std::fopen(tmp.c_str(), "w")) {
            std::fprintf(f,
                         "{\"api_port\":%u,\"admin_port\":%u,\"metrics_port\":%u,\"wtwire_port\":%u,"
                         "\"electrum_port\":%u,\"tower_id\":\"%s\"}\n",
                         api_server.port(), admin_server.port(), ops_server.port(), wtwire_port,
                         electrum_server ? electrum_server->port() : 0u,
                         to_hex(service.tower_id().bytes()).c_str());
            std::fclose(f);
            std::rename(tmp.c_str(), o.ready_file.c_str());
        }
    }

    config::TowerOptions current = o;
    int received = 0;
    while (sigwait(&signals, &received) == 0 && received == SIGHUP) {
        current = reload(current, argc, argv, api_server, wtwire.get(), electrum_server.get());
    }
    // SIGTERM drains: /ready turns 503, the API stops accepting, closes idle
    // connections and answers every request under way (its group commit
    // finishes: an answer is only ever sent after the commit) until the
    // shutdown timeout; what is still unanswered then was never acknowledged.
    log_event(LogLevel::info, "tower_stopping",
              {{"signal", std::to_string(received)}, {"shutdown_timeout_ms", std::to_string(current.shutdown_timeout_ms)}});
    stopping = true;
    // Both front doors drain at once, within the one timeout.
    std::atomic<bool> wtwire_drained{true};
    std::thread wtwire_drainer([&] {
        if (wtwire) wtwire_drained = wtwire->drain(std::chrono::milliseconds(current.shutdown_timeout_ms));
    });
    std::thread electrum_drainer([&] {
        if (electrum_server) electrum_server->drain(std::chrono::milliseconds(current.shutdown_timeout_ms));
    });
    bool drained = api_server.drain(std::chrono::milliseconds(current.shutdown_timeout_ms));
    wtwire_drainer.join();
    electrum_drainer.join();
    log_event(drained ? LogLevel::info : LogLevel::warn, "api_drained", {{"complete", drained ? "true" : "false"}});
    if (wtwire) {
        log_event(wtwire_drained ? LogLevel::info : LogLevel::warn, "wtwire_drained",
                  {{"complete", wtwire_drained ? "true" : "false"}});
    }

    // Its connections may wait on commits: the listener's threads stop first,
    // the committer drains in service.stop(), the listener object outlives it.
    if (wtwire) wtwire->stop();
    admin_server.stop();
    sampling = false;
    sampler.join();
    ops_server.stop();
    if (zmq) zmq->stop();
    joiner.stop();
    service.stop();
    log_event(LogLevel::info, "tower_stopped");
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    auto parsed = config::parse_tower_options(argc, argv);
    if (!parsed) {
        std::FILE* out = parsed.error().exit_code == 0 ? stdout : stderr;
        std::fprintf(out, "%s\n", parsed.error().message.c_str());
        return parsed.error().exit_code;
    }
    const auto& o = parsed->options;
    LogLevel level = LogLevel::info;
    parse_log_level(o.log_level, level);
    set_log_level(level);
    set_log_format({.timestamp = true, .program = "", .json = o.log_format == "json"});
    switch (parsed->command) {
        case config::TowerCommand::version:
            std::printf("argus-tower %s\n", version_string);
            return 0;
        case config::TowerCommand::check_config:
            std::printf("configuration ok (network=%s data_dir=%s store=%s)\n", to_string(o.network),
                        o.data_dir.c_str(), o.postgres.empty() ? "sqlite" : "postgres");
            return 0;
        case config::TowerCommand::info: {
            if (auto ok = ensure_data_dir(o.data_dir); !ok) return fail("info_failed", ok.error().message);
            auto key = tower::load_or_create_tower_key(o.data_dir, system_rng());
            if (!key) return fail("tower_key_failed", key.error().message);
            std::printf("%s\n", to_hex(key->public_key().bytes()).c_str());
            return 0;
        }
        case config::TowerCommand::run: return run(o, argc, argv);
    }
    return 0;
}
