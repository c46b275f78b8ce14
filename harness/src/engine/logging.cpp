#include "ipctorture/logging.hpp"

#include <spdlog/cfg/env.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

namespace ipct {

void init_logging(const std::string& name) {
    auto logger = spdlog::get(name);
    if (!logger) logger = spdlog::stderr_color_mt(name);
    spdlog::set_default_logger(logger);
    spdlog::set_pattern("[%H:%M:%S.%e] [%n] [pid %P] %l: %v");
    spdlog::set_level(spdlog::level::warn);
    spdlog::cfg::load_env_levels();
}

}  // namespace ipct
