"""The Superset session repeats an idempotent request whose connection dropped before the answer."""

import socket
import threading

import pytest
import requests

from ecom_superset.publisher import _RetryingAdapter

ANSWER = b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{"ok": 1}\r\n'


@pytest.fixture
def server_that_drops_the_first_request():
    """A server that closes the first connection without answering, like gunicorn closing an idle
    kept-alive connection just as a request arrives, then answers every next one."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    requests_seen = []

    def serve():
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            with connection:
                requests_seen.append(connection.recv(65536).split(b" ", 2)[:2])
                if len(requests_seen) > 1:
                    connection.sendall(ANSWER)

    threading.Thread(target=serve, daemon=True).start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}", requests_seen
    listener.close()


def session() -> requests.Session:
    retrying = requests.Session()
    retrying.mount("http://", _RetryingAdapter())
    return retrying


def test_a_get_is_sent_again(server_that_drops_the_first_request):
    url, seen = server_that_drops_the_first_request
    response = session().get(f"{url}/api/v1/chart/1/data/")
    assert response.json() == {"ok": 1}
    assert seen == [[b"GET", b"/api/v1/chart/1/data/"]] * 2


def test_a_post_is_never_repeated(server_that_drops_the_first_request):
    url, seen = server_that_drops_the_first_request
    with pytest.raises(requests.ConnectionError):
        session().post(f"{url}/api/v1/assets/import/", data=b"bundle")
    assert seen == [[b"POST", b"/api/v1/assets/import/"]]
