#include "tests/support/temporary_postgres.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <vector>

namespace argus::test {

namespace fs = std::filesystem;

namespace {

std::string tail_of(const std::string& path, std::size_t max_chars = 2000) {
    std::ifstream in(path);
    std::stringstream buffer;
    buffer << in.rdbuf();
    std::string text = buffer.str();
    return text.size() > max_chars ? text.substr(text.size() - max_chars) : text;
}

// Runs a command to completion with stdin from /dev/null and output to a log.
int run_command(const std::vector<std::string>& argv, const std::string& log_path) {
    pid_t pid = fork();
    if (pid < 0) throw std::runtime_error("fork failed");
    if (pid == 0) {
        int in = open("/dev/null", O_RDONLY);
        int out = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
        dup2(in, 0);
        dup2(out, 1);
        dup2(out, 2);
        std::vector<char*> args;
        for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
        args.push_back(nullptr);
        execvp(args[0], args.data());
        _exit(127);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace

std::string find_postgres_bin_dir() {
    std::string best;
    int best_version = 0;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator("/usr/lib/postgresql", ec)) {
        int version = std::atoi(entry.path().filename().c_str());
        if (version > best_version && fs::exists(entry.path() / "bin" / "postgres")) {
            best_version = version;
            best = (entry.path() / "bin").string();
        }
    }
    if (best.empty()) {
        throw std::runtime_error("no PostgreSQL server under /usr/lib/postgresql; run scripts/install-deps.sh");
    }
    return best;
}

int find_free_tcp_port() {
    for (int attempt = 0; attempt < 20; ++attempt) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        addr.sin_port = 0;
        socklen_t len = sizeof addr;
        int port = -1;
        if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
            getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
            port = ntohs(addr.sin_port);
        }
        close(fd);
        if (port > 0 && port != 5432) return port;
    }
    throw std::runtime_error("no free TCP port");
}

std::unique_ptr<TemporaryPostgres> TemporaryPostgres::start(PostgresOptions options) {
    std::unique_ptr<TemporaryPostgres> pg(new TemporaryPostgres());
    pg->options_ = options;
    pg->bin_dir_ = find_postgres_bin_dir();
    pg->as_root_ = geteuid() == 0;

    char pattern[] = "/tmp/argus-pg-XXXXXX";
    if (mkdtemp(pattern) == nullptr) throw std::runtime_error("mkdtemp failed");
    pg->directory_ = pattern;
    if (pg->as_root_) {
        passwd* pw = getpwnam("postgres");
        if (pw == nullptr) throw std::runtime_error("no 'postgres' user; install postgresql");
        if (chown(pattern, pw->pw_uid, pw->pw_gid) != 0) throw std::runtime_error("chown failed");
    }
    std::string data = pg->directory_ + "/data";
    std::string log = pg->directory_ + "/initdb.log";
    std::vector<std::string> initdb = {pg->bin_dir_ + "/initdb", "-D", data, "-A", "trust",
                                       "-U", "postgres", "-E", "UTF8", "--locale=C", "--no-sync"};
    if (pg->as_root_) initdb.insert(initdb.begin(), {"runuser", "-u", "postgres", "--"});
    if (run_command(initdb, log) != 0) {
        std::string tail = tail_of(log);
        throw std::runtime_error("initdb failed: " + tail);
    }
    if (options.fsync) {
        // The recommended configuration, appended as an operator would
        // (copied: the server's user may not read the source tree).
        std::ifstream tuning(ARGUS_POSTGRES_TUNING_FILE);
        std::ofstream conf(data + "/postgresql.conf", std::ios::app);
        conf << "\n" << tuning.rdbuf();
        if (!tuning || !conf) throw std::runtime_error("cannot append " ARGUS_POSTGRES_TUNING_FILE " to postgresql.conf");
    }
    // A random port can be taken between probing and binding: retry a few times.
    for (int attempt = 0;; ++attempt) {
        pg->port_ = find_free_tcp_port();
        pg->launch();
        try {
            pg->wait_ready();
            return pg;
        } catch (const std::exception&) {
            pg->kill();
            if (attempt == 2) throw;
        }
    }
}

void TemporaryPostgres::launch() {
    std::string log = directory_ + "/postgres.log";
    std::vector<std::string> argv = {bin_dir_ + "/postgres",
                                     "-D", directory_ + "/data",
                                     "-p", std::to_string(port_),
                                     "-k", directory_,
                                     "-c", "listen_addresses=127.0.0.1",
                                     "-c", std::string("fsync=") + (options_.fsync ? "on" : "off"),
                                     "-c", "max_connections=200"};
    if (!options_.shared_buffers.empty()) argv.insert(argv.end(), {"-c", "shared_buffers=" + options_.shared_buffers});
    if (!options_.fsync) {
        argv.insert(argv.end(), {"-c", "synchronous_commit=off", "-c", "full_page_writes=off"});
    }
    for (const auto& [name, value] : options_.settings) argv.insert(argv.end(), {"-c", name + "=" + value});
    passwd* pw = as_root_ ? getpwnam("postgres") : nullptr;
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) throw std::runtime_error("fork failed");
    if (pid == 0) {
        int in = open("/dev/null", O_RDONLY);
        int out = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
        dup2(in, 0);
        dup2(out, 1);
        dup2(out, 2);
        setpgid(0, 0);
        if (pw != nullptr) {
            if (initgroups(pw->pw_name, pw->pw_gid) != 0 || setgid(pw->pw_gid) != 0 ||
                setuid(pw->pw_uid) != 0) {
                _exit(126);
            }
        }
        // Set after the uid change, which clears it: the server dies with the test.
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent) _exit(125);
        std::vector<char*> args;
        for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
        args.push_back(nullptr);
        execv(args[0], args.data());
        _exit(127);
    }
    pid_ = pid;
}

void TemporaryPostgres::wait_ready() {
    std::string conninfo = connection_string() + " connect_timeout=2";
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (std::chrono::steady_clock::now() < deadline) {
        int status = 0;
        if (waitpid(pid_, &status, WNOHANG) == pid_) {
            pid_ = -1;
            throw std::runtime_error("postgres exited during start: " +
                                     tail_of(directory_ + "/postgres.log"));
        }
        if (PQping(conninfo.c_str()) == PQPING_OK) return;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    throw std::runtime_error("postgres did not become ready: " +
                             tail_of(directory_ + "/postgres.log"));
}

std::string TemporaryPostgres::connection_string(const std::string& database) const {
    return "host=" + directory_ + " port=" + std::to_string(port_) +
           " user=postgres dbname=" + database;
}

std::string TemporaryPostgres::tcp_connection_string(const std::string& database) const {
    return "host=127.0.0.1 port=" + std::to_string(port_) + " user=postgres dbname=" + database;
}

void TemporaryPostgres::stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGINT);  // postgres: fast shutdown
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
        int status = 0;
        if (waitpid(pid_, &status, WNOHANG) == pid_) {
            pid_ = -1;
            return;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    kill();
}

void TemporaryPostgres::kill() {
    if (pid_ <= 0) return;
    // The whole process group: the postmaster and its backends.
    ::kill(-pid_, SIGKILL);
    ::kill(pid_, SIGKILL);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    // Orphaned backends notice the dead postmaster and exit; wait for the socket lock to go.
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
}

void TemporaryPostgres::restart() {
    stop();
    launch();
    wait_ready();
}

TemporaryPostgres::~TemporaryPostgres() {
    try {
        stop();
    } catch (...) {
    }
    std::error_code ec;
    if (!directory_.empty()) fs::remove_all(directory_, ec);
}

}  // namespace argus::test
