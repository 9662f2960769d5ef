#include <doctest/doctest.h>

#include "handshake.hpp"

using namespace loopgate;

TEST_CASE("the accept key matches RFC 6455's example") {
    CHECK(handshake::accept_for_key("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}
