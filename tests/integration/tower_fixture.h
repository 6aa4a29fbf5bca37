// An in-process tower on a real store (SQLite file or throwaway PostgreSQL)
// serving the teos API over loopback HTTP. The chain is a pair of atomics the
// test moves (height, bitcoind reachable).
#pragma once

#include <atomic>
#include <memory>

#include "net/http_server.h"
#include "server/api/teos_router.h"
#include "server/store/store.h"
#include "server/tower/tower_service.h"
#include "tests/support/simulated_context.h"
#include "tests/support/temporary_directory.h"
#include "tests/support/temporary_postgres.h"

namespace argus::test {

enum class Backend { sqlite, postgres };

struct TowerFixtureOptions {
    tower::SubscriptionPolicy policy{};
    api::TeosLimits limits{};
    api::HttpServerOptions http{};
    tower::TowerHooks hooks{};
    bool durable_postgres = false;  // fsync and synchronous_commit on (benchmarks, crash tests)
};

class TowerFixture {
public:
    explicit TowerFixture(Backend backend, TowerFixtureOptions options = {}) {
        if (backend == Backend::postgres) {
            postgres = TemporaryPostgres::start(PostgresOptions::durable(options.durable_postgres));
            store = store::open_postgres_store(postgres->connection_string()).value();
        } else {
            store = store::open_sqlite_store(directory.path() + "/tower.sqlite").value();
        }
        Bytes secret(32, 0x33);
        tower_key = std::make_unique<PrivateKey>(PrivateKey::from_bytes(secret).value());
        service = std::make_unique<tower::TowerService>(
            *store, index, *tower_key, options.policy,
            [this] { return tower::ChainStatus{height.load(), reachable.load()}; }, options.hooks);
        if (auto ok = service->start(); !ok) throw std::runtime_error(ok.error().message);
        router = std::make_unique<api::TeosRouter>(*service, options.limits);
        options.http.port = 0;
        server = std::make_unique<api::HttpServer>(options.http, *router);
        if (auto ok = server->start(); !ok) throw std::runtime_error(ok.error().message);
    }
    ~TowerFixture() {
        server->stop();
        service->stop();
    }
    std::uint16_t port() const { return server->port(); }

    TemporaryDirectory directory;
    std::unique_ptr<TemporaryPostgres> postgres;
    std::unique_ptr<store::Store> store;
    test::SeededRng seed{42};
    tower::LocatorIndex index{seed};
    std::atomic<std::uint32_t> height{100};
    std::atomic<bool> reachable{true};
    std::unique_ptr<PrivateKey> tower_key;
    std::unique_ptr<tower::TowerService> service;
    std::unique_ptr<api::TeosRouter> router;
    std::unique_ptr<api::HttpServer> server;
};

}  // namespace argus::test
