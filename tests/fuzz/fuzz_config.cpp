// The config parser reads a file a person wrote, maybe badly, maybe copied
// from somewhere. Any text must come back as a config or as errors, never
// both, never neither, never a crash; and the upstream URL of an accepted
// route must print back to text that parses to the same URL.
//
// The input is the config text itself. parse_config touches no file system:
// the files a config names are judged by no_file_checks(), which finds
// nothing wrong, so every input is read the same way on every machine.
// Relative paths still resolve under a directory that does not exist.

#include <string>
#include <string_view>

#include "config.hpp"
#include "fuzz_support.hpp"

using namespace loopgate;
using namespace loopgate::fuzz;

namespace {

bool same_url(const config::UpstreamUrl& a, const config::UpstreamUrl& b) {
    return a.tls == b.tls && a.host == b.host && a.port == b.port && a.base_path == b.base_path &&
           a.host_is_ipv4_literal == b.host_is_ipv4_literal;
}

void check_route(const config::Route& route) {
    require(!route.name.empty(), "an accepted route has no name");
    config::UpstreamUrl again;
    if (auto problem = config::parse_upstream_url(route.upstream.text(), again)) {
        std::fprintf(stderr, "fuzz detail: %s: %s\n", route.upstream.text().c_str(), problem->c_str());
        broken("an accepted upstream URL prints as text that does not parse");
    }
    require(same_url(route.upstream, again), "an upstream URL does not survive printing and parsing");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view text(reinterpret_cast<const char*>(data), size);
    config::LoadResult result = config::parse_config(text, "/nonexistent/loopgate-fuzz", config::no_file_checks());
    require(result.config.has_value() == result.errors.empty(), "a config came back with errors, or neither");
    for (const std::string& error : result.errors) require(!error.empty(), "an empty error message");
    if (!result.config) return 0;
    require(!result.config->routes.empty(), "an accepted config has no routes");
    for (const config::Route& route : result.config->routes) check_route(route);
    return 0;
}
