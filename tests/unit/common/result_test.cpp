// Result<T>: reading the value of an error (or the error of a value) is a bug
// and stops the process with the error named, like Bitcoin Core's
// util::Result; it never hands back a default-constructed value.
#include <doctest/doctest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <functional>

#include "common/result.h"

using namespace argus;

namespace {
// Runs `f` in a child process; returns the signal that ended it (0 if none).
int ends_with_signal(const std::function<void()>& f) {
    pid_t pid = fork();
    if (pid == 0) {
        std::freopen("/dev/null", "w", stderr);
        f();
        _exit(0);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    return WIFSIGNALED(status) ? WTERMSIG(status) : 0;
}
}  // namespace

TEST_CASE("result: value() of an error aborts, error() of a value aborts") {
    Result<int> bad = make_error(ErrorCode::storage, "disk full");
    Result<int> good = 7;
    Status ok;
    CHECK(good.value() == 7);
    CHECK(bad.error().message == "disk full");
    CHECK(ends_with_signal([&] { (void)bad.value(); }) == SIGABRT);
    CHECK(ends_with_signal([&] { (void)*bad; }) == SIGABRT);
    CHECK(ends_with_signal([&] { (void)good.error(); }) == SIGABRT);
    CHECK(ends_with_signal([&] { (void)ok.error(); }) == SIGABRT);
    CHECK(ends_with_signal([&] { (void)good.value(); }) == 0);
}
