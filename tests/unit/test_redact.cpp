// proxy/redact: what the logs may show of a request target and its headers.
#include <doctest/doctest.h>

#include <string>

#include "redact.hpp"

TEST_CASE("redact: credential-like query values are replaced, everything else kept") {
    using loopgate::redact::target;
    CHECK(target("/ws?token=abc&room=7") == "/ws?token=REDACTED&room=7");
    CHECK(target("/ws?Access_Token=abc;x=1") == "/ws?Access_Token=REDACTED;x=1");
    CHECK(target("/?password=p&passwd=q&pwd=r") == "/?password=REDACTED&passwd=REDACTED&pwd=REDACTED");
    CHECK(target("/?api_key=k&SECRET=s&auth=a&session=x&sig=y&signature=z") ==
          "/?api_key=REDACTED&SECRET=REDACTED&auth=REDACTED&session=REDACTED&sig=REDACTED&signature=REDACTED");
    CHECK(target("/?%74oken=abc") == "/?%74oken=REDACTED");  // percent-encoded name
    CHECK(target("/ws/chat?room=token") == "/ws/chat?room=token");
    CHECK(target("/?token") == "/?token");  // a name without a value hides nothing
    CHECK(target("/path-only") == "/path-only");
    CHECK(target("/" + std::string(600, 'a'), 512) == "/" + std::string(511, 'a') + "...");
}

TEST_CASE("redact: secret headers are named, with subprotocols that may carry tokens") {
    using loopgate::redact::header_value;
    CHECK(header_value("Authorization", "Bearer x") == "REDACTED");
    CHECK(header_value("cookie", "a=b") == "REDACTED");
    CHECK(header_value("Proxy-Authorization", "Basic x") == "REDACTED");
    CHECK(header_value("X-Api-Key", "k") == "REDACTED");
    CHECK(header_value("Sec-WebSocket-Protocol", "base64url.bearer.authorization.k8s.io.x") == "REDACTED");
    CHECK(header_value("Origin", "http://localhost") == "http://localhost");
    CHECK(header_value("User-Agent", "app/1") == "app/1");
}
