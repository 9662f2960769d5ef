import wsraw


def test_text_message_round_trips_through_loopgate(loopgate):
    conn = wsraw.open_ws(loopgate.port, "/echo")
    conn.send(wsraw.frame(0x1, "hello"))
    assert conn.expect_frame(0x1, b"hello")
    conn.send(wsraw.frame(0x8, wsraw.close_payload(1000, "done")))
    assert conn.read_close() == (1000, "done")
