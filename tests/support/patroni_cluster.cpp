#include "tests/support/patroni_cluster.h"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "net/http_client.h"
#include "tests/support/child_process.h"
#include "tests/support/temporary_postgres.h"

namespace argus::test {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

constexpr const char* patroni_binary = "/usr/bin/patroni";
constexpr const char* etcd_binary = "/usr/bin/etcd";
// Every key of the test clusters lives under this etcd prefix.
constexpr const char* dcs_namespace = "/argus-test/";

std::string read_text(const std::string& path) {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

std::string tail_of(const std::string& text, std::size_t max_chars = 4000) {
    return text.size() > max_chars ? "..." + text.substr(text.size() - max_chars) : text;
}

void write_text(const std::string& path, const std::string& text) {
    std::ofstream out(path);
    out << text;
    if (!out) throw std::runtime_error("cannot write " + path);
}

std::string random_hex(std::size_t bytes) {
    std::random_device device;
    std::string out;
    static const char* hex = "0123456789abcdef";
    for (std::size_t i = 0; i < bytes; ++i) {
        unsigned v = device() & 0xff;
        out += hex[v >> 4];
        out += hex[v & 0xf];
    }
    return out;
}

// A free loopback port not yet handed out, and never one of the well-known
// ports of the services the cluster runs (PostgreSQL, etcd, Patroni).
int fresh_port(std::set<int>& taken) {
    for (int attempt = 0; attempt < 50; ++attempt) {
        int port = find_free_tcp_port();
        if (port == 5432 || port == 2379 || port == 2380 || port == 8008) continue;
        if (taken.insert(port).second) return port;
    }
    throw std::runtime_error("no free TCP port");
}

PatroniCluster::RestAnswer http_get(int port, const std::string& target) {
    net::HttpClientOptions o;
    o.host = "127.0.0.1";
    o.port = static_cast<std::uint16_t>(port);
    o.connect_timeout = std::chrono::seconds(2);
    o.write_timeout = o.read_timeout = std::chrono::seconds(2);
    o.keep_alive = false;
    o.max_response_body = 4 * 1024 * 1024;
    net::HttpClient client(o);
    auto response = client.get(target);
    if (!response) return {};
    return {response->status, std::move(response->body)};
}

// -- The node supervisor ------------------------------------------------------
//
// Patroni starts the postmaster the way pg_ctl does: through a helper process
// that calls setsid(), starts postgres and exits, leaving the postmaster to
// init. A PR_SET_PDEATHSIG on Patroni therefore does not reach PostgreSQL. The
// supervisor, a child of the test, makes itself the child subreaper
// (PR_SET_CHILD_SUBREAPER): the orphaned postmaster (and, when that dies, its
// backends) become its children. It dies with the test (PR_SET_PDEATHSIG,
// SIGTERM) and, on SIGTERM, SIGKILLs every descendant before it exits; on
// SIGUSR1 it does the same but stays (what is left of a node after
// kill_primary()). The code below runs between fork() and _exit(): system
// calls only, no allocation.

// The pids whose parent is `parent`, read from /proc/N/stat with raw system
// calls. Returns how many it found (at most `capacity`).
std::size_t children_of(pid_t parent, pid_t* out, std::size_t capacity) {
    std::size_t count = 0;
    int dir = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir < 0) return 0;
    alignas(8) char buffer[8192];
    for (;;) {
        long n = syscall(SYS_getdents64, dir, buffer, sizeof buffer);
        if (n <= 0) break;
        for (long offset = 0; offset < n;) {
            struct Entry {
                std::uint64_t ino;
                std::int64_t off;
                unsigned short reclen;
                unsigned char type;
                char name[1];
            };
            auto* entry = reinterpret_cast<Entry*>(buffer + offset);
            offset += entry->reclen;
            pid_t pid = 0;
            bool numeric = entry->name[0] != '\0';
            for (const char* c = entry->name; *c != '\0'; ++c) {
                if (*c < '0' || *c > '9') {
                    numeric = false;
                    break;
                }
                pid = pid * 10 + (*c - '0');
            }
            if (!numeric) continue;
            char path[64] = "/proc/";
            std::size_t at = 6;
            for (const char* c = entry->name; *c != '\0' && at < 50; ++c) path[at++] = *c;
            const char suffix[] = "/stat";
            for (std::size_t i = 0; i < sizeof suffix; ++i) path[at++] = suffix[i];
            int fd = open(path, O_RDONLY | O_CLOEXEC);
            if (fd < 0) continue;
            char stat[512];
            ssize_t len = read(fd, stat, sizeof stat - 1);
            close(fd);
            if (len <= 0) continue;
            stat[len] = '\0';
            // pid (comm) state ppid ...: comm may hold spaces and ')', so from the last ')'.
            char* close_paren = nullptr;
            for (char* c = stat; *c != '\0'; ++c) {
                if (*c == ')') close_paren = c;
            }
            if (close_paren == nullptr || close_paren[1] == '\0' || close_paren[2] == '\0') continue;
            char* p = close_paren + 4;  // ") S "
            if (p - stat >= len) continue;
            pid_t ppid = 0;
            while (*p >= '0' && *p <= '9') ppid = ppid * 10 + (*p++ - '0');
            if (ppid == parent && count < capacity) out[count++] = pid;
        }
    }
    close(dir);
    return count;
}

// SIGKILLs every descendant of this (subreaper) process, reaping them, until
// it has no child left: a killed process's children are reparented to us.
void kill_all_descendants() {
    pid_t self = getpid();
    pid_t pids[1024];
    for (int round = 0; round < 500; ++round) {
        std::size_t n = children_of(self, pids, 1024);
        for (std::size_t i = 0; i < n; ++i) kill(pids[i], SIGKILL);
        int status = 0;
        while (waitpid(-1, &status, WNOHANG) > 0) {
        }
        if (waitpid(-1, &status, WNOHANG) < 0 && errno == ECHILD) return;
        usleep(10'000);
    }
}

struct LaunchPlan {
    std::vector<std::string> argv;
    std::vector<std::string> env;
    std::string log_path;
    std::string working_directory;
    const passwd* user = nullptr;  // drop to this user (as root)
    std::vector<gid_t> groups;     // the user's groups, looked up before fork()
};

[[noreturn]] void run_supervisor(const LaunchPlan& plan, char* const* argv, char* const* envp, int report_fd,
                                 pid_t test_pid) {
    sigset_t handled;
    sigemptyset(&handled);
    sigaddset(&handled, SIGTERM);
    sigaddset(&handled, SIGCHLD);
    sigaddset(&handled, SIGUSR1);
    sigset_t previous;
    sigprocmask(SIG_BLOCK, &handled, &previous);
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != test_pid) _exit(125);
    setpgid(0, 0);

    int log_fd = open(plan.log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    pid_t supervisor = getpid();
    pid_t child = fork();
    if (child == 0) {
        sigprocmask(SIG_SETMASK, &previous, nullptr);
        int in = open("/dev/null", O_RDONLY);
        dup2(in, 0);
        dup2(log_fd, 1);
        dup2(log_fd, 2);
        if (plan.user != nullptr) {
            if (setgroups(plan.groups.size(), plan.groups.data()) != 0 || setgid(plan.user->pw_gid) != 0 ||
                setuid(plan.user->pw_uid) != 0) {
                _exit(126);
            }
        }
        // After the uid change, which clears it.
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != supervisor) _exit(125);
        if (chdir(plan.working_directory.c_str()) != 0) _exit(124);
        execve(argv[0], argv, envp);
        _exit(127);
    }
    pid_t reported = child;
    if (write(report_fd, &reported, sizeof reported) != static_cast<ssize_t>(sizeof reported)) {
        kill_all_descendants();
        _exit(1);
    }
    close(report_fd);
    if (child < 0) _exit(1);

    for (;;) {
        siginfo_t info;
        int sig = sigwaitinfo(&handled, &info);
        if (sig == SIGCHLD) {
            int status = 0;
            while (waitpid(-1, &status, WNOHANG) > 0) {
            }
        } else if (sig == SIGUSR1) {
            kill_all_descendants();
        } else if (sig == SIGTERM) {
            kill_all_descendants();
            _exit(0);
        }
    }
}

// Starts `plan` under a supervisor; returns {supervisor pid, supervised pid}.
std::pair<pid_t, pid_t> launch_supervised(const LaunchPlan& plan) {
    std::vector<char*> argv;
    for (const auto& a : plan.argv) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    std::vector<char*> envp;
    for (const auto& e : plan.env) envp.push_back(const_cast<char*>(e.c_str()));
    envp.push_back(nullptr);
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
    pid_t test_pid = getpid();
    pid_t supervisor = fork();
    if (supervisor < 0) {
        close(fds[0]);
        close(fds[1]);
        throw std::runtime_error("fork failed");
    }
    if (supervisor == 0) {
        close(fds[0]);
        run_supervisor(plan, argv.data(), envp.data(), fds[1], test_pid);
    }
    close(fds[1]);
    pid_t child = -1;
    ssize_t n = 0;
    do {
        n = read(fds[0], &child, sizeof child);
    } while (n < 0 && errno == EINTR);
    close(fds[0]);
    if (n != static_cast<ssize_t>(sizeof child) || child <= 0) {
        kill(supervisor, SIGKILL);
        waitpid(supervisor, nullptr, 0);
        throw std::runtime_error("the node supervisor could not start " + plan.argv.at(0));
    }
    return {supervisor, child};
}

// A process that exists and is not a zombie.
bool process_alive(pid_t pid) {
    if (pid <= 0) return false;
    std::string stat = read_text("/proc/" + std::to_string(pid) + "/stat");
    auto close_paren = stat.rfind(')');
    if (close_paren == std::string::npos || close_paren + 2 >= stat.size()) return false;
    char state = stat[close_paren + 2];
    return state != 'Z' && state != 'X';
}

pid_t parent_of(pid_t pid) {
    std::string stat = read_text("/proc/" + std::to_string(pid) + "/stat");
    auto close_paren = stat.rfind(')');
    if (close_paren == std::string::npos || close_paren + 4 >= stat.size()) return -1;
    return static_cast<pid_t>(std::atol(stat.c_str() + close_paren + 4));
}

}  // namespace

bool PatroniCluster::available(std::string* missing) {
    std::string what;
    if (access(patroni_binary, X_OK) != 0) what += " patroni";
    if (access(etcd_binary, X_OK) != 0) what += " etcd";
    try {
        find_postgres_bin_dir();
    } catch (const std::exception&) {
        what += " postgresql";
    }
    if (geteuid() == 0 && getpwnam("postgres") == nullptr) what += " (the postgres user)";
    if (missing != nullptr) *missing = what.empty() ? "" : "not installed:" + what;
    return what.empty();
}

std::unique_ptr<PatroniCluster> PatroniCluster::start() {
    std::string missing;
    if (!available(&missing)) throw std::runtime_error("PatroniCluster: " + missing + "; run scripts/install-deps.sh");
    std::unique_ptr<PatroniCluster> cluster(new PatroniCluster());
    cluster->bin_dir_ = find_postgres_bin_dir();
    cluster->as_root_ = geteuid() == 0;
    cluster->scope_ = "argus-" + random_hex(4);
    cluster->superuser_password_ = random_hex(12);
    cluster->replication_password_ = random_hex(12);

    char pattern[] = "/tmp/argus-patroni-XXXXXX";
    if (mkdtemp(pattern) == nullptr) throw std::runtime_error("mkdtemp failed");
    cluster->directory_ = pattern;
    const passwd* pw = cluster->as_root_ ? getpwnam("postgres") : nullptr;
    if (pw != nullptr && chown(pattern, pw->pw_uid, pw->pw_gid) != 0) throw std::runtime_error("chown failed");

    std::set<int> taken;
    cluster->etcd_client_port_ = fresh_port(taken);
    cluster->etcd_peer_port_ = fresh_port(taken);
    cluster->nodes_.resize(node_count);
    for (int i = 0; i < node_count; ++i) {
        Node& node = cluster->nodes_[i];
        node.name = "node" + std::to_string(i);
        node.directory = cluster->directory_ + "/" + node.name;
        node.pg_port = fresh_port(taken);
        node.rest_port = fresh_port(taken);
        fs::create_directories(node.directory);
        chmod(node.directory.c_str(), 0700);
        if (pw != nullptr && chown(node.directory.c_str(), pw->pw_uid, pw->pw_gid) != 0) {
            throw std::runtime_error("chown failed");
        }
    }

    cluster->start_etcd();
    // The first node bootstraps the cluster (initdb); the second, started
    // right after, waits for the leader key and clones it (pg_basebackup).
    for (int i = 0; i < node_count; ++i) cluster->start_node(i);
    cluster->wait_until_healthy(std::chrono::seconds(60));
    return cluster;
}

void PatroniCluster::start_etcd() {
    const std::string data = directory_ + "/etcd";
    const std::string log = directory_ + "/etcd.log";
    // A port can be taken between probing and binding: a few attempts.
    for (int attempt = 0;; ++attempt) {
        const std::string client = "http://127.0.0.1:" + std::to_string(etcd_client_port_);
        const std::string peer = "http://127.0.0.1:" + std::to_string(etcd_peer_port_);
        etcd_ = std::make_unique<ChildProcess>(
            std::vector<std::string>{etcd_binary,
                                     "--name", "etcd0",
                                     "--data-dir", data,
                                     "--listen-client-urls", client,
                                     "--advertise-client-urls", client,
                                     "--listen-peer-urls", peer,
                                     "--initial-advertise-peer-urls", peer,
                                     "--initial-cluster", "etcd0=" + peer,
                                     "--initial-cluster-state", "new",
                                     "--initial-cluster-token", scope_},
            log);
        auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
        while (std::chrono::steady_clock::now() < deadline && etcd_->running()) {
            auto answer = http_get(etcd_client_port_, "/health");
            if (answer.status == 200 && answer.body.find("true") != std::string::npos) return;
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
        etcd_.reset();
        if (attempt == 2) throw std::runtime_error("etcd did not start:\n" + tail_of(read_text(log)));
        std::set<int> taken;
        for (const auto& node : nodes_) taken.insert({node.pg_port, node.rest_port});
        etcd_client_port_ = fresh_port(taken);
        etcd_peer_port_ = fresh_port(taken);
        std::error_code ec;
        fs::remove_all(data, ec);
    }
}

std::string PatroniCluster::write_node_config(int index) const {
    const Node& node = nodes_.at(index);
    const std::string pg = "127.0.0.1:" + std::to_string(node.pg_port);
    const std::string rest = "127.0.0.1:" + std::to_string(node.rest_port);
    std::ostringstream y;
    // clang-format off
    y << "scope: " << scope_ << "\n"
      << "namespace: " << dcs_namespace << "\n"
      << "name: " << node.name << "\n"
      << "log:\n"
      << "  level: INFO\n"
      << "restapi:\n"
      << "  listen: " << rest << "\n"
      << "  connect_address: " << rest << "\n"
      << "etcd3:\n"
      << "  hosts: 127.0.0.1:" << etcd_client_port_ << "\n"
      << "bootstrap:\n"
      << "  dcs:\n"
      // A failover after the primary dies takes about ttl + loop_wait; Patroni
      // wants ttl >= loop_wait + 2 * retry_timeout (10 >= 2 + 2 * 4).
      << "    ttl: 10\n"
      << "    loop_wait: 2\n"
      << "    retry_timeout: 4\n"
      // Only the synchronous standby may be promoted (synchronous_mode), and it
      // has every acknowledged commit; this bound only keeps a standby that is
      // far behind in *unacknowledged* WAL from being refused promotion.
      << "    maximum_lag_on_failover: 16777216\n"
      // A commit is acknowledged once the synchronous standby has flushed it,
      // and only a node named in Patroni's /sync key may be promoted: no
      // acknowledged write is lost when the primary dies. Not strict: with two
      // nodes, strict mode would block every write while the standby is down;
      // non-strict, the primary drops it from /sync and goes on alone. A
      // stale standby is then not promotable (it is not in /sync), so a
      // primary failure during that window costs availability, not writes.
      << "    synchronous_mode: true\n"
      << "    synchronous_mode_strict: false\n"
      << "    postgresql:\n"
      << "      use_pg_rewind: true\n"
      << "      use_slots: true\n"
      << "      parameters:\n"
      << "        fsync: 'on'\n"
      << "        synchronous_commit: 'on'\n"
      << "        full_page_writes: 'on'\n"
      << "        wal_log_hints: 'on'\n"
      << "        wal_level: replica\n"
      << "        hot_standby: 'on'\n"
      << "        max_connections: 100\n"
      << "        max_wal_senders: 5\n"
      << "        max_replication_slots: 5\n"
      << "        wal_keep_size: 64MB\n"
      << "        shared_buffers: 32MB\n"
      << "  initdb:\n"
      << "    - encoding: UTF8\n"
      << "    - locale: C\n"
      << "postgresql:\n"
      << "  listen: " << pg << "\n"
      << "  connect_address: " << pg << "\n"
      << "  data_dir: " << node.directory << "/data\n"
      << "  bin_dir: " << bin_dir_ << "\n"
      << "  pgpass: " << node.directory << "/pgpass\n"
      << "  authentication:\n"
      << "    superuser:\n"
      << "      username: postgres\n"
      << "      password: '" << superuser_password_ << "'\n"
      << "    replication:\n"
      << "      username: replicator\n"
      << "      password: '" << replication_password_ << "'\n"
      << "  parameters:\n"
      << "    unix_socket_directories: '" << node.directory << "'\n"
      << "  pg_hba:\n"
      << "    - local all all trust\n"
      << "    - host replication replicator 127.0.0.1/32 md5\n"
      << "    - host all all 127.0.0.1/32 md5\n";
    // clang-format on
    const std::string path = node.directory + "/patroni.yml";
    write_text(path, y.str());
    if (as_root_) {
        const passwd* pw = getpwnam("postgres");
        if (pw == nullptr || chown(path.c_str(), pw->pw_uid, pw->pw_gid) != 0) throw std::runtime_error("chown failed");
    }
    chmod(path.c_str(), 0600);  // it holds the passwords
    return path;
}

void PatroniCluster::start_node(int index) {
    Node& node = nodes_.at(index);
    LaunchPlan plan;
    plan.argv = {patroni_binary, write_node_config(index)};
    plan.log_path = node.directory + "/patroni.log";
    plan.working_directory = node.directory;
    plan.user = as_root_ ? getpwnam("postgres") : nullptr;
    if (as_root_ && plan.user == nullptr) throw std::runtime_error("no 'postgres' user; install postgresql");
    if (plan.user != nullptr) {
        int count = 64;
        plan.groups.resize(count);
        if (getgrouplist(plan.user->pw_name, plan.user->pw_gid, plan.groups.data(), &count) < 0) {
            plan.groups.resize(count);
            getgrouplist(plan.user->pw_name, plan.user->pw_gid, plan.groups.data(), &count);
        }
        plan.groups.resize(count);
    }
    // A clean environment: nothing of the test's PATRONI_*/PG* variables.
    const std::string home = plan.user != nullptr ? plan.user->pw_dir : node.directory;
    plan.env = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=" + home, "LANG=C.UTF-8", "LC_ALL=C.UTF-8",
                "PYTHONUNBUFFERED=1"};
    // Created by us (root), appended to by the supervised process.
    { std::ofstream touch(plan.log_path, std::ios::app); }
    if (plan.user != nullptr && chown(plan.log_path.c_str(), plan.user->pw_uid, plan.user->pw_gid) != 0) {
        throw std::runtime_error("chown failed");
    }
    auto [supervisor, patroni] = launch_supervised(plan);
    node.supervisor = supervisor;
    node.patroni = patroni;
    node.killed = false;
}

std::string PatroniCluster::etcd_endpoint() const { return "http://127.0.0.1:" + std::to_string(etcd_client_port_); }

std::string PatroniCluster::multi_host_connection_string(const std::string& database) const {
    std::string hosts, ports;
    for (const auto& node : nodes_) {
        hosts += (hosts.empty() ? "" : ",") + std::string("127.0.0.1");
        ports += (ports.empty() ? "" : ",") + std::to_string(node.pg_port);
    }
    return "host=" + hosts + " port=" + ports + " user=postgres password=" + superuser_password_ +
           " dbname=" + database + " target_session_attrs=read-write connect_timeout=2";
}

std::string PatroniCluster::node_connection_string(int node, const std::string& database) const {
    return "host=127.0.0.1 port=" + std::to_string(nodes_.at(node).pg_port) + " user=postgres password=" +
           superuser_password_ + " dbname=" + database + " connect_timeout=2";
}

PatroniCluster::RestAnswer PatroniCluster::rest_get(int node, const std::string& target) const {
    return http_get(nodes_.at(node).rest_port, target);
}

int PatroniCluster::primary_index() const {
    int found = -1;
    for (int i = 0; i < node_count; ++i) {
        if (nodes_[i].killed) continue;
        if (rest_get(i, "/primary").status == 200) {
            if (found >= 0) return -1;  // two primaries: never expected, reported as none
            found = i;
        }
    }
    return found;
}

int PatroniCluster::sync_standby_index() const {
    for (int i = 0; i < node_count; ++i) {
        if (!nodes_[i].killed && rest_get(i, "/sync").status == 200) return i;
    }
    return -1;
}

bool PatroniCluster::node_alive(int node) const {
    const Node& n = nodes_.at(node);
    return !n.killed && process_alive(n.patroni);
}

void PatroniCluster::wait_until_healthy(std::chrono::seconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    std::string last = "no primary yet";
    while (std::chrono::steady_clock::now() < deadline) {
        for (int i = 0; i < node_count; ++i) {
            if (!process_alive(nodes_[i].patroni)) {
                throw std::runtime_error("Patroni " + nodes_[i].name + " exited during start\n" + diagnostics());
            }
        }
        int primary = primary_index();
        if (primary >= 0) {
            // The leader sees its standby streaming, synchronously; and the
            // standby knows it is the one in Patroni's /sync key.
            auto answer = rest_get(primary, "/primary");
            json status = json::parse(answer.body, nullptr, false);
            bool streaming_sync = false;
            if (!status.is_discarded() && status.contains("replication")) {
                for (const auto& r : status["replication"]) {
                    streaming_sync = streaming_sync ||
                                     (r.value("state", "") == "streaming" && r.value("sync_state", "") == "sync");
                }
            }
            int standby = sync_standby_index();
            if (streaming_sync && standby >= 0 && standby != primary) return;
            last = "primary " + nodes_[primary].name + ", replication " +
                   (status.is_discarded() ? std::string("?") : status.value("replication", json::array()).dump()) +
                   ", sync standby " + (standby >= 0 ? nodes_[standby].name : std::string("none"));
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
    throw std::runtime_error("the Patroni cluster did not reach one leader and one synchronous standby in " +
                             std::to_string(timeout.count()) + " s (" + last + ")\n" + diagnostics());
}

int PatroniCluster::kill_primary() {
    int primary = primary_index();
    if (primary < 0) throw std::runtime_error("kill_primary: no primary\n" + diagnostics());
    Node& node = nodes_[primary];
    // The postmaster: the first line of postmaster.pid, checked to be one of
    // this node's processes (the supervisor adopted it) before it is killed.
    pid_t postmaster = static_cast<pid_t>(std::atol(read_text(node.directory + "/data/postmaster.pid").c_str()));
    if (postmaster > 0 && parent_of(postmaster) != node.supervisor) postmaster = -1;
    killed_at_ = std::chrono::steady_clock::now();
    ::kill(node.patroni, SIGKILL);
    if (postmaster > 0) ::kill(postmaster, SIGKILL);
    // What is left of the machine (backends, walsenders, a helper): gone too.
    ::kill(node.supervisor, SIGUSR1);
    node.killed = true;
    killed_node_ = primary;
    return primary;
}

int PatroniCluster::wait_for_new_primary(std::chrono::seconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        int primary = primary_index();
        if (primary >= 0 && primary != killed_node_) return primary;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    throw std::runtime_error("no new primary within " + std::to_string(timeout.count()) + " s\n" + diagnostics());
}

std::string PatroniCluster::log(int node) const { return read_text(nodes_.at(node).directory + "/patroni.log"); }

std::string PatroniCluster::etcd_log() const { return read_text(directory_ + "/etcd.log"); }

std::string PatroniCluster::diagnostics() const {
    std::string out;
    for (int i = 0; i < static_cast<int>(nodes_.size()); ++i) {
        out += "--- " + nodes_[i].name + " (postgres " + std::to_string(nodes_[i].pg_port) + ", rest " +
               std::to_string(nodes_[i].rest_port) + (nodes_[i].killed ? ", killed" : "") + ") log tail:\n" +
               tail_of(log(i)) + "\n";
    }
    out += "--- etcd log tail:\n" + tail_of(etcd_log(), 1500) + "\n";
    return out;
}

void PatroniCluster::stop_node(Node& node) {
    if (node.supervisor <= 0) return;
    // SIGTERM: the supervisor SIGKILLs everything of the node, reaps it and exits.
    ::kill(node.supervisor, SIGTERM);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
    int status = 0;
    while (std::chrono::steady_clock::now() < deadline) {
        if (waitpid(node.supervisor, &status, WNOHANG) == node.supervisor) {
            node.supervisor = -1;
            return;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ::kill(node.supervisor, SIGKILL);
    waitpid(node.supervisor, &status, 0);
    node.supervisor = -1;
}

PatroniCluster::~PatroniCluster() {
    for (auto& node : nodes_) {
        try {
            stop_node(node);
        } catch (...) {
        }
    }
    etcd_.reset();  // SIGKILL
    std::error_code ec;
    if (!directory_.empty()) fs::remove_all(directory_, ec);
}

}  // namespace argus::test
