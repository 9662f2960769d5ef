// The text work of the systemd user unit, apart from running systemctl so the
// unit tests can check it: the unit setup writes, and the config a unit runs
// loopgate with (for a unit setup did not write, and for doctor).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "service_manager.hpp"

namespace loopgate {

// `unit_template` (tools/loopgate.service) with its leading how-to-copy comment
// replaced by a "written by loopgate setup" header and ExecStart running `bin
// run --config config_path`, each word quoted for systemd (% and $ doubled).
// Nothing when a path holds a control character.
std::optional<std::string> render_systemd_unit(std::string_view unit_template, const std::string& bin,
                                               const std::string& config_path);

// The --config of the unit's ExecStart (%h resolved to env.home); run's default
// path when it has none; nothing when the unit has no ExecStart.
std::optional<std::string> systemd_unit_config_path(std::string_view unit, const ServiceEnvironment& env);

// Whether two config paths name the same file: a leading "~/" is env.home, a
// relative path is relative to env.home (a user unit's working directory),
// and both are compared canonical ("." and "..", symlinks resolved as far as
// the files exist).
bool same_config_path(const std::string& a, const std::string& b, const ServiceEnvironment& env);

}  // namespace loopgate
