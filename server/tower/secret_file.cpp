#include "server/tower/secret_file.h"

#include <fcntl.h>
#include <functional>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "common/hex.h"

namespace argus::tower {

namespace {

Result<std::string> read_private_file(const std::string& path) {
    struct stat st {};
    if (stat(path.c_str(), &st) != 0) return make_error(ErrorCode::not_found, path + " does not exist");
    if ((st.st_mode & 077) != 0) {
        return make_error(ErrorCode::invalid_argument,
                          path + " is readable by other users (mode " + std::to_string(st.st_mode & 0777) +
                              "); chmod 600 it");
    }
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    std::string text = s.str();
    while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
    return text;
}

Status write_private_file(const std::string& path, const std::string& content) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) return make_error(ErrorCode::storage, "cannot create " + path);
    std::string line = content + "\n";
    bool ok = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size()) && ::fsync(fd) == 0;
    ::close(fd);
    if (!ok) {
        ::unlink(path.c_str());
        return make_error(ErrorCode::storage, "cannot write " + path);
    }
    // Make the new directory entry durable too.
    std::string dir = path.substr(0, path.find_last_of('/'));
    int dfd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY);
    if (dfd >= 0) {
        ::fsync(dfd);
        ::close(dfd);
    }
    return {};
}

Result<std::string> load_or_create(const std::string& path, Rng& rng,
                                   const std::function<bool(const std::string&)>& valid) {
    auto existing = read_private_file(path);
    if (existing) {
        if (!valid(*existing)) return make_error(ErrorCode::invalid_argument, path + " is corrupt");
        return existing;
    }
    if (existing.error().code != ErrorCode::not_found) return existing.error();
    for (;;) {
        ByteArray<32> bytes{};
        if (!rng.fill(bytes)) return make_error(ErrorCode::unavailable, "no randomness to create " + path);
        std::string text = to_hex(bytes);
        secure_wipe(bytes.data(), bytes.size());
        if (!valid(text)) continue;  // a key out of range: astronomically rare, draw again
        if (auto ok = write_private_file(path, text); !ok) return ok.error();
        return text;
    }
}

}  // namespace

Result<PrivateKey> load_or_create_tower_key(const std::string& data_dir, Rng& rng) {
    auto valid = [](const std::string& hex) {
        auto bytes = parse_hex(hex);
        return bytes && PrivateKey::from_bytes(*bytes).has_value();
    };
    auto text = load_or_create(data_dir + "/tower_key", rng, valid);
    if (!text) return text.error();
    return PrivateKey::from_bytes(parse_hex(*text).value());
}

Result<std::string> load_or_create_admin_token(const std::string& data_dir, Rng& rng) {
    return load_or_create(data_dir + "/admin_token", rng,
                          [](const std::string& t) { return t.size() == 64 && parse_hex(t).has_value(); });
}

Result<std::string> read_admin_token(const std::string& path) { return read_private_file(path); }

}  // namespace argus::tower
