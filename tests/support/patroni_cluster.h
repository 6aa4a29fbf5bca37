// A throwaway highly available PostgreSQL for tests: one etcd (v3 API) and two
// Patroni nodes, each with its own PostgreSQL 15 bootstrapped by Patroni, in
// synchronous mode, on 127.0.0.1 with random free ports (never 5432, 2379 or
// 8008), everything under one temp dir. Every process dies with the test: etcd
// and each Patroni are bound to it (PR_SET_PDEATHSIG), and each node runs under
// a small supervisor that is the child subreaper of everything the node starts
// (Patroni daemonizes the postmaster), so the postmaster and its backends are
// killed with the node too. The destructor stops and removes everything.
//
// PostgreSQL runs as the `postgres` user: when the test runs as root (CI does),
// the node's supervisor drops to that user before it starts Patroni.
//
// synchronous_mode on, not strict (why: the comment in write_node_config()):
// a commit returns once the standby has flushed it. Timings: ttl 10 s,
// loop_wait 2 s, retry_timeout 4 s (Patroni wants ttl >= loop_wait + 2 *
// retry_timeout), so a failover after the primary is SIGKILLed takes about
// the ttl: 10 s measured on 2 cores.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

namespace argus::test {

class ChildProcess;

class PatroniCluster {
public:
    static constexpr int node_count = 2;

    // True when patroni, etcd and PostgreSQL's binaries are installed (tests
    // skip otherwise); `missing` then says what is not.
    static bool available(std::string* missing = nullptr);

    // Starts etcd and both nodes and waits (about 60 s at most) for one leader
    // and one synchronous standby streaming from it. Throws std::runtime_error
    // with the tails of the logs when the cluster does not get there.
    static std::unique_ptr<PatroniCluster> start();
    ~PatroniCluster();
    PatroniCluster(const PatroniCluster&) = delete;
    PatroniCluster& operator=(const PatroniCluster&) = delete;

    // libpq: both nodes, the writable one picked by libpq
    // (host=127.0.0.1,127.0.0.1 port=P1,P2 ... target_session_attrs=read-write connect_timeout=2).
    std::string multi_host_connection_string(const std::string& database = "postgres") const;
    // libpq: one node, whatever its role.
    std::string node_connection_string(int node, const std::string& database = "postgres") const;
    const std::string& superuser_password() const { return superuser_password_; }

    // 0 or 1: the node whose Patroni REST API answers 200 to GET /primary
    // (it holds the leader key); -1 when none does (during a failover), or
    // when both do (never expected).
    int primary_index() const;
    // 0 or 1: the node that GET /sync says is the synchronous standby; -1 if none.
    int sync_standby_index() const;
    int pg_port(int node) const { return nodes_.at(node).pg_port; }
    int rest_port(int node) const { return nodes_.at(node).rest_port; }
    // "http://127.0.0.1:PORT" (v3 API; the cluster's keys are under /argus-test/).
    std::string etcd_endpoint() const;
    const std::string& scope() const { return scope_; }
    const std::string& directory() const { return directory_; }

    // GET on a node's Patroni REST API (/cluster, /metrics, ...): the status
    // (0 when it did not answer within 2 s) and the body.
    struct RestAnswer {
        unsigned status = 0;
        std::string body;
    };
    RestAnswer rest_get(int node, const std::string& target) const;

    // The machine of the primary dies: SIGKILL to its Patroni and to its
    // postmaster (the pid in its postmaster.pid) at once, then to whatever of
    // the node is left (backends, walsenders). Returns the index of the
    // killed node; throws when there is no primary. The node stays dead.
    int kill_primary();
    // When kill_primary() sent its signals (steady clock).
    std::chrono::steady_clock::time_point killed_at() const { return killed_at_; }
    bool node_alive(int node) const;
    // Waits for a primary other than the killed node and returns its index;
    // throws with the logs' tails after `timeout`. Patroni answers /primary
    // once it holds the leader key: the promotion may take a moment more
    // before the node accepts writes.
    int wait_for_new_primary(std::chrono::seconds timeout = std::chrono::seconds(60));

    // The node's Patroni log (Patroni's own lines and PostgreSQL's, which
    // Patroni does not redirect), and etcd's.
    std::string log(int node) const;
    std::string etcd_log() const;

private:
    struct Node {
        std::string name;
        std::string directory;  // <cluster dir>/nodeN, owned by postgres
        int pg_port = 0;
        int rest_port = 0;
        pid_t supervisor = -1;  // our child: subreaper of everything the node starts
        pid_t patroni = -1;     // the supervisor's child
        bool killed = false;
    };

    PatroniCluster() = default;
    void start_etcd();
    void start_node(int index);
    void stop_node(Node& node);
    void wait_until_healthy(std::chrono::seconds timeout);
    std::string write_node_config(int index) const;
    std::string diagnostics() const;

    std::string directory_;
    std::string bin_dir_;
    std::string scope_;
    std::string superuser_password_;
    std::string replication_password_;
    bool as_root_ = false;
    int etcd_client_port_ = 0;
    int etcd_peer_port_ = 0;
    std::unique_ptr<ChildProcess> etcd_;
    std::vector<Node> nodes_;
    int killed_node_ = -1;
    std::chrono::steady_clock::time_point killed_at_{};
};

}  // namespace argus::test
