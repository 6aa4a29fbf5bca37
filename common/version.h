#pragma once

namespace argus {
inline constexpr const char* version_string = "0.1.0";
}
