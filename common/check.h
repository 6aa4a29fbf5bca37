// Always-on assertions for programming errors (never for outside input).
#pragma once

#include <cstdio>
#include <cstdlib>

#define ARGUS_CHECK(condition)                                                          \
    do {                                                                                \
        if (!(condition)) {                                                             \
            std::fprintf(stderr, "%s:%d: internal check failed: %s\n", __FILE__, __LINE__, \
                         #condition);                                                   \
            std::abort();                                                               \
        }                                                                               \
    } while (false)
