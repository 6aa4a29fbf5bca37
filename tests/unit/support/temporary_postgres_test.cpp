#include <doctest/doctest.h>

#include <filesystem>
#include <pqxx/pqxx>

#include "tests/support/temporary_postgres.h"

using argus::test::TemporaryPostgres;

TEST_CASE("temporary postgres: starts on a random port, serves SQL, survives restart, cleans up") {
    std::string directory;
    {
        auto pg = TemporaryPostgres::start();
        directory = pg->directory();
        CHECK(pg->port() != 5432);
        CHECK(std::filesystem::exists(directory + "/.s.PGSQL." + std::to_string(pg->port())));
        {
            pqxx::connection unix_socket(pg->connection_string());
            pqxx::work tx(unix_socket);
            tx.exec0("CREATE TABLE t (id integer PRIMARY KEY, v bytea NOT NULL)");
            tx.exec0("INSERT INTO t VALUES (1, '\\xdeadbeef')");
            tx.commit();
        }
        pg->restart();
        {
            pqxx::connection tcp(pg->tcp_connection_string());
            pqxx::work tx(tcp);
            CHECK(tx.exec1("SELECT count(*) FROM t")[0].as<int>() == 1);
            CHECK(tx.exec1("SHOW port")[0].as<int>() == pg->port());
        }
        pg->kill();
        CHECK_FALSE(pg->running());
        pg->restart();  // crash recovery after SIGKILL
        pqxx::connection again(pg->connection_string());
        pqxx::work tx(again);
        CHECK(tx.exec1("SELECT count(*) FROM t")[0].as<int>() == 1);
    }
    CHECK_FALSE(std::filesystem::exists(directory));
}

TEST_CASE("temporary postgres: two servers run side by side") {
    auto a = TemporaryPostgres::start();
    auto b = TemporaryPostgres::start();
    CHECK(a->port() != b->port());
    CHECK(a->directory() != b->directory());
    pqxx::connection ca(a->connection_string()), cb(b->connection_string());
    CHECK(ca.is_open());
    CHECK(cb.is_open());
}
