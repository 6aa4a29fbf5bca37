// A throwaway PostgreSQL server for tests: initdb into a temp dir (as the
// postgres user via runuser when run as root), a random free port, the unix
// socket in the temp dir, never port 5432. Stopped and removed when the object
// dies; the server is also bound to die with the test process (PR_SET_PDEATHSIG),
// so a crashed test leaves no server behind.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace argus::test {

struct PostgresOptions {
    // Unit tests trade durability for speed; crash tests and benchmarks turn
    // it on, and then run with deploy/postgres/argus.conf (the configuration
    // docs/operations.md recommends) but for shared_buffers below.
    bool fsync = false;
    std::string shared_buffers = "64MB";  // empty: the tuning file's
    std::vector<std::pair<std::string, std::string>> settings;  // more -c name=value, last

    static PostgresOptions durable(bool on = true) {
        PostgresOptions o;
        o.fsync = on;
        return o;
    }
};

class TemporaryPostgres {
public:
    // Throws std::runtime_error with the server log's tail when it cannot start.
    static std::unique_ptr<TemporaryPostgres> start(PostgresOptions options = {});
    ~TemporaryPostgres();
    TemporaryPostgres(const TemporaryPostgres&) = delete;
    TemporaryPostgres& operator=(const TemporaryPostgres&) = delete;

    // libpq connection strings: over the unix socket, and over loopback TCP.
    std::string connection_string(const std::string& database = "postgres") const;
    std::string tcp_connection_string(const std::string& database = "postgres") const;
    int port() const { return port_; }
    const std::string& directory() const { return directory_; }
    bool running() const { return pid_ > 0; }

    void stop();     // fast shutdown (SIGINT), then SIGKILL after 10 s
    void kill();     // SIGKILL: a crash, for durability tests
    void restart();  // start again on the same data directory and port

private:
    TemporaryPostgres() = default;
    void launch();
    void wait_ready();

    PostgresOptions options_;
    std::string bin_dir_;
    std::string directory_;
    int port_ = 0;
    pid_t pid_ = -1;
    bool as_root_ = false;
};

// The highest installed PostgreSQL's bin directory (/usr/lib/postgresql/N/bin).
std::string find_postgres_bin_dir();
int find_free_tcp_port();

}  // namespace argus::test
