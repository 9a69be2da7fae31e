"""Chaos: a cascade m <- r1 <- r2 whose middle link is partitioned."""

from __future__ import annotations

import pytest
from chaos_support import FAST_TIMEOUTS, bulk_load, dbsize, wait_log

from harness.capture import assert_same_data
from harness.ledger import SyncWatch

pytestmark = pytest.mark.family("chaos: cascades")


def test_partitioned_middle_node_starves_the_leaf_then_both_resume_partially(topology_factory):
    """r1 cut from m: r2 gets nothing and times out (r1 sends no PINGs of its own); healed, both PSYNC."""
    topo = topology_factory("m <- r1 <- r2", directives={"*": FAST_TIMEOUTS})
    m, r1, r2 = (topo.node(n) for n in ("m", "r1", "r2"))
    watch_m, watch_r1 = SyncWatch(m, "r1 -> m"), SyncWatch(r1, "r2 -> r1")
    with topo.edge("r1").cut():
        topo.wait_link_down("r1", timeout=10)
        bulk_load(m, 50, 50, prefix="during")
        # r1 forwards only m's stream; with it cut r2 hears nothing and times out.
        topo.wait_link_down("r2", timeout=8)
        wait_log(r2, r"MASTER timeout: no data nor PING received", timeout=5)
        assert dbsize(r1) == dbsize(r2) == 0
    topo.wait_in_sync(["r1"], timeout=20)
    topo.wait_in_sync(["r2"], timeout=20)
    assert watch_m.delta().kind == "partial"
    assert watch_r1.delta().kind == "partial"
    # The leaf kept the top master's history: same replid and offset as m.
    assert r2.info("replication")["master_replid"] == m.info("replication")["master_replid"]
    assert_same_data(m, r1, r2)
