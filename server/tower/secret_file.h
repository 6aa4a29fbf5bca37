// Secrets kept in the data directory: the tower's signing key and the operator
// token. Created once with mode 0600 (O_EXCL, fsync'd), reused afterwards;
// refused if other users can read them.
#pragma once

#include <functional>
#include <string>

#include "common/keys.h"

namespace argus::tower {

using RandomBytes = std::function<void(std::uint8_t* out, std::size_t size)>;
RandomBytes system_random();  // OpenSSL RAND_bytes

Result<PrivateKey> load_or_create_tower_key(const std::string& data_dir, const RandomBytes& random);
Result<std::string> load_or_create_admin_token(const std::string& data_dir, const RandomBytes& random);
Result<std::string> read_admin_token(const std::string& path);

}  // namespace argus::tower
