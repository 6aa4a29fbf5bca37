// Secrets kept in the data directory: the tower's signing key and the operator
// token. Created once with mode 0600 (O_EXCL, fsync'd), reused afterwards;
// refused if other users can read them.
#pragma once

#include <string>

#include "common/context.h"
#include "common/keys.h"

namespace argus::tower {

Result<PrivateKey> load_or_create_tower_key(const std::string& data_dir, Rng& rng);
Result<std::string> load_or_create_admin_token(const std::string& data_dir, Rng& rng);
Result<std::string> read_admin_token(const std::string& path);

}  // namespace argus::tower
