// argus-tower: the watchtower daemon. This slice only identifies itself; the
// HTTP API, store and chain follower arrive with issues #3 and #4.
#include <cstdio>
#include <cstring>

#include "common/version.h"

namespace {
void print_help() {
    std::printf(
        "Usage: argus-tower [--version] [--help]\n"
        "\n"
        "Argus watchtower daemon (teos-compatible API).\n"
        "Status: foundation build. The API server, store and chain follower are not\n"
        "part of this build yet; running without --version/--help exits with status 2.\n");
}
}  // namespace

int main(int argc, char** argv) {
    if (argc == 2 && std::strcmp(argv[1], "--version") == 0) {
        std::printf("argus-tower %s\n", argus::version_string);
        return 0;
    }
    if (argc == 2 && (std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0)) {
        print_help();
        return 0;
    }
    std::fprintf(stderr, "argus-tower: the daemon is not implemented in this build; see --help\n");
    return 2;
}
