// Numbered, append-only schema migrations (migrations/<backend>/NNNN_name.sql),
// embedded into the binary at build time.
#pragma once

#include <string>
#include <vector>

namespace argus::store {

struct Migration {
    int version;
    std::string name;
    std::string sql;
};

const std::vector<Migration>& postgres_migrations();
const std::vector<Migration>& sqlite_migrations();

}  // namespace argus::store
