"""Upstreams that misbehave on purpose, for the failure taxonomy: a TLS server that answers
every request with fixed bytes, and a listener whose accept queue is full so a connect to it
times out. Loopback only; every port from binding port 0."""

import socket
import ssl
import threading


class TlsAnswerer:
    """Completes a TLS handshake with `cert`/`key`, reads one request head and answers with
    `answer(request_head_bytes) -> bytes`, then closes gracefully. With `hold_after=N`, the
    connections after the first N are accepted and then left silent (no TLS) until stop()."""

    def __init__(self, cert, key, answer, hold_after=None):
        self._context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._context.load_cert_chain(cert, key)
        self._answer = answer
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(16)
        self._listener.settimeout(0.05)
        self.port = self._listener.getsockname()[1]
        self.requests = []
        self._hold_after = hold_after
        self._accepted = 0
        self._held = []
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self):
        while not self._stopping.is_set():
            try:
                raw, _ = self._listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self._accepted += 1
            if self._hold_after is not None and self._accepted > self._hold_after:
                self._held.append(raw)
                continue
            threading.Thread(target=self._answer_one, args=(raw,), daemon=True).start()

    def _answer_one(self, raw):
        raw.settimeout(5)
        try:
            with self._context.wrap_socket(raw, server_side=True) as tls:
                head = b""
                while b"\r\n\r\n" not in head:
                    chunk = tls.recv(4096)
                    if not chunk:
                        return
                    head += chunk
                self.requests.append(head)
                tls.sendall(self._answer(head))
                if self._hold_after is not None:
                    tls.recv(4096)  # the client's close frame: answer it like a server
                    tls.sendall(b"\x88\x02\x03\xe8")
                try:
                    tls.unwrap()
                except (ssl.SSLError, OSError):
                    pass
        except (ssl.SSLError, OSError):
            pass
        finally:
            raw.close()

    def stop(self):
        self._stopping.set()
        self._thread.join(timeout=5)
        self._listener.close()
        for raw in self._held:
            raw.close()


class FullBacklog:
    """A listener that never accepts, with its accept queue already full: the kernel drops
    further SYNs, so a connect to it times out instead of being refused."""

    def __init__(self):
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(0)
        self.port = self._listener.getsockname()[1]
        self._fillers = []
        for _ in range(2):  # a backlog of 0 still admits one connection, sometimes two
            filler = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            filler.setblocking(False)
            filler.connect_ex(("127.0.0.1", self.port))
            self._fillers.append(filler)

    def stop(self):
        for sock in self._fillers:
            sock.close()
        self._listener.close()
