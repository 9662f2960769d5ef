// daemon/admin_report: the text views a person reads in a terminal
// (`loopgate status`, /readyz) show control bytes escaped, whatever reached
// a route's reason.
#include <doctest/doctest.h>

#include <string>

#include "admin_report.hpp"

using namespace loopgate;

namespace {

StatusView one_route(const std::string& state, const std::string& down, const std::string& unreached) {
    StatusView status;
    status.version = "test";
    RouteView route;
    route.name = "gw";
    route.state = state;
    route.down_reason = down;
    route.unreached_reason = unreached;
    status.routes.push_back(route);
    return status;
}

}  // namespace

TEST_CASE("admin report: a reason's control bytes reach the terminal escaped, in status and readiness") {
    bool ready = true;
    StatusView down = one_route("down", "upstream said \x1b[2J\x1b[31mgone\r\nfake: line", "");
    std::string text = status_text(down, ready);
    CHECK_FALSE(ready);
    CHECK(text.find('\x1b') == std::string::npos);
    CHECK(text.find("upstream said \\x1b[2J\\x1b[31mgone\\x0d\\x0afake: line") != std::string::npos);
    CHECK(readiness_text(down, ready) == "gw down: upstream said \\x1b[2J\\x1b[31mgone\\x0d\\x0afake: line\n");

    // An 8-bit CSI (0x9b) too; quotes stay readable.
    CHECK(readiness_text(one_route("down", "route \"gw\": \x9b" "2J", ""), ready) == "gw down: route \"gw\": \\x9b2J\n");
    StatusView unreached = one_route("unknown", "", "cannot connect\x07");
    CHECK(readiness_text(unreached, ready) == "gw unknown: never up: cannot connect\\x07\n");
    CHECK_FALSE(ready);
    CHECK(readiness_text(one_route("up", "", ""), ready) == "gw up\n");
    CHECK(ready);
}
