"""Everything that differs between Redis versions, in one place.

Suites ask `Expect(build)` what to assert instead of testing version numbers themselves, so
when a new server changes a behaviour there is exactly one line to change (and the report can
say which documented difference applied).
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.nodes.base import ServerBuild

READONLY_ERROR = "READONLY You can't write against a read only replica."
NOAUTH_ERROR = "NOAUTH Authentication required."
WRONGPASS_ERROR = "WRONGPASS invalid username-password pair or user is disabled."
UNBLOCKED_ERROR = "UNBLOCKED force unblock from blocking operation, instance state changed (master -> replica?)"
MASTERDOWN_ERROR = "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'."
NOREPLICAS_ERROR = "NOREPLICAS Not enough good replicas to write."
WAIT_ON_REPLICA_ERROR = (
    "ERR WAIT cannot be used with replica instances. Please also note that since Redis 4.0 if a "
    "replica is configured to be writable (which is not the default) writes to replicas are just "
    "local and are not propagated."
)


def digest_score_format(build: ServerBuild) -> str:
    """How DEBUG DIGEST prints sorted-set scores: '%.17g' up to 7.0, shortest round-trip from 7.2.

    Digests of the same data only compare between servers that format scores alike.
    """
    return "shortest" if build.at_least(7, 2) else "%.17g"


@dataclass(frozen=True)
class Expect:
    build: ServerBuild

    @property
    def debug_digest_needs_config(self) -> bool:
        """7.0 turned DEBUG off by default (our base conf turns it back on)."""
        return self.build.at_least(7)

    @property
    def master_restart_allows_psync(self) -> bool:
        """7.0+ keeps the old replid as replid2 after a restart with RDB, so replicas PSYNC."""
        return self.build.at_least(7)

    @property
    def restarted_master_keeps_replid2(self) -> bool:
        """A node restarted from an RDB as a master keeps its old id as replid2 (7.0+)."""
        return self.build.at_least(7)

    @property
    def rdb_version(self) -> int:
        major_minor = self.build.version_tuple[:2]
        if major_minor >= (7, 4):
            return 12
        if major_minor >= (7, 2):
            return 11
        if major_minor >= (7, 0):
            return 10
        return 9

    @property
    def master_link_obeys_query_buffer_limit(self) -> bool:
        """As a replica, 6.2 holds its master link to client-query-buffer-limit: one command
        from the master larger than the limit closes the link ("Closing client that reached
        max query buffer length", flags=M) and costs a resync (seen on 6.2.14). 7.0 exempts
        the master link (checklist item 72)."""
        return not self.build.at_least(7)

    @property
    def served_blmove_propagates_lowercase_directions(self) -> bool:
        """A BLMOVE parked and served later goes down the stream as `LMOVE src dst left right`
        in lower case up to 7.0 (Redis's shared strings); 7.2+ re-runs the client's command, so
        the stream keeps the client's spelling (seen on 6.2.14, 7.0.15 and 8.2.3)."""
        return not self.build.at_least(7, 2)

    @property
    def flushdb_of_an_empty_db_is_propagated(self) -> bool:
        """7.0+ propagates every FLUSHDB, even of an empty db (replicas may hold keys the master
        lacks); 6.2 propagates it only when it deleted something. FLUSHALL always goes down
        the stream (seen on 6.2.14, 7.0.15 and 8.2.3; checklist item 24)."""
        return self.build.at_least(7)

    @property
    def first_sync_counts_partial_err(self) -> bool:
        """A fresh replica PSYNCs with its own random id, which the master counts as
        sync_partial_err (every supported version; only `PSYNC ? -1` is exempt)."""
        return True
