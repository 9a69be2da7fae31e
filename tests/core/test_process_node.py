"""The process backend on every real redis-server found: lifecycle, signals, conf files, errors."""

from __future__ import annotations

import socket

import pytest
import redis

from harness.nodes.base import NodeStartError, NodeState
from harness.nodes.conf import conf_path


def test_conf_files_follow_the_seed(factory, build) -> None:
    node = factory.create("m", build, [("requirepass", "pw"), ("save", "")], start=False)
    text = conf_path(node.config).read_text().splitlines()
    run_dir = node.config.run_dir
    assert text[1] == f"include {run_dir / 'redis.conf'}"
    assert (f"include {run_dir / 'redis-7.conf'}" in text) == build.at_least(7)
    assert f"port {node.port}" in text
    assert f"dbfilename dump{node.port}.rdb" in text
    assert f"pidfile {node.config.data_dir}/redis_{node.port}.pid" in text
    assert text[-2:] == ["requirepass pw", 'save ""']
    node.start()
    assert node.client().ping()  # the client authenticates with requirepass
    assert node.client().config_get("repl-diskless-sync-delay") == {"repl-diskless-sync-delay": "0"}


def test_stop_kill_pause_resume_restart(factory, build) -> None:
    node = factory.create("n", build, [("save", "3600 1")])
    node.client().set("k", "v")
    assert node.state is NodeState.RUNNING

    node.pause()
    assert node.state is NodeState.PAUSED and not node.ping(timeout=0.2)
    node.resume()
    assert node.ping()

    node.restart(save=True)  # same port, same conf, data kept
    assert node.client().get("k") == "v"

    node.kill()
    assert not node.is_alive() and node.state is NodeState.KILLED
    node.start()
    assert node.client().get("k") == "v"  # the RDB from the SHUTDOWN SAVE

    node.restart(keep_data=False, save=False)
    assert node.client().dbsize() == 0

    node.terminate()
    assert not node.is_alive()


def test_port_in_use_is_reported_with_the_log(factory, build) -> None:
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        port = blocker.getsockname()[1]
        with pytest.raises(NodeStartError) as caught:
            factory.create("busy", build, port=port, start_timeout=10)
    message = str(caught.value)
    assert "exited at start" in message or "did not answer PING" in message
    assert "log tail" in message and "in use" in message.lower()


def test_bad_directive_shows_the_servers_complaint(factory, build) -> None:
    with pytest.raises(NodeStartError) as caught:
        factory.create("bad", build, [("no-such-directive", "1")])
    assert "exited at start" in str(caught.value)
    assert "no-such-directive" in str(caught.value)


def test_cleanup_kills_a_paused_node(factory, build) -> None:
    node = factory.create("p", build)
    node.pause()
    factory.cleanup()
    assert not node.is_alive()
    with pytest.raises(redis.ConnectionError):
        node.client(timeout=0.5).ping()


def test_node_started_from_a_short_lived_thread_survives_it(factory, newest_build) -> None:
    """PR_SET_PDEATHSIG follows the forking thread; nodes must outlive helper threads."""
    import threading

    started = {}
    thread = threading.Thread(target=lambda: started.setdefault("node", factory.create("t", newest_build)))
    thread.start()
    thread.join(timeout=30)
    node = started["node"]
    # A SIGKILL from the kernel would land right after the thread exits; PING twice around a wait.
    assert node.ping()
    node.client().set("k", "v")
    assert node.is_alive() and node.client().get("k") == "v"
