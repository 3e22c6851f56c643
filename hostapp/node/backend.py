"""The seam between the node and a grid: what the slot loop asks of whichever grid it works for.

The node holds a `GridBackend` and nothing else of a grid. `hostapp.grid.client.GridClient` is the
backend for hostapp's own grid protocol (the embedded local grid or a remote one, docs/grid-protocol.md);
another network (Nosana, hostapp/nosana/) is one more module that satisfies this protocol plus one line
in the composition root (hostapp/app.py `Services.grid_backend`). Everything crossing the seam is a
typed model from hostapp/grid/models.py or a `Lease`. tests/integration/node/test_backend_seam.py drives
a real node with a backend defined in the test, so a method the slot loop needs but this protocol
lacks shows there.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

from hostapp.grid.client import Lease
from hostapp.grid.models import Credits, JobResult, NodeInfo, NodeRegistration, Released, ResultAccepted

if TYPE_CHECKING:
    from hostapp.node.settlement import Settlement


@runtime_checkable
class GridBackend(Protocol):
    """A grid the node takes work from. Errors: `GridUnavailable` (try later), `GridRejected`
    (refused, with a reason and fix), `LeaseLost` (the job is gone: stop it) from hostapp/grid/client.py."""

    @property
    def base_url(self) -> str:
        """Where the grid is, for the status line and the rate (`hostapp status`)."""
        ...

    @property
    def online(self) -> bool | None:
        """None until the first call; then whether the last call reached the grid."""
        ...

    def register(self, registration: NodeRegistration | None = None) -> NodeInfo: ...

    def lease(
        self,
        wait_seconds: float = 20.0,
        free_gpus: list[str] | None = None,
        accept_cpu_jobs: bool = True,
        held_resources: list[str] | None = None,
    ) -> Lease | None:
        """Waits up to `wait_seconds` for a job this node can run; None when none came."""
        ...

    def heartbeat(
        self,
        lease: Lease,
        *,
        progress: float | None = None,
        state: str | None = None,
        telemetry: dict[str, int | float | str | None] | None = None,
    ) -> Lease: ...

    def release(self, lease: Lease, reason: str = "") -> Released: ...

    def deliver_result(self, job_id: str, attempt: int, result: JobResult) -> ResultAccepted:
        """Delivers one result, once. Keeping it while the grid is unreachable is the node's outbox
        (hostapp/node/outbox.py), so a backend holds no state a restart could lose."""
        ...

    def credits(self) -> Credits:
        """What the grid says it owes and paid this node (checked by hostapp/node/settlement.py)."""
        ...

    def close(self) -> None: ...


@runtime_checkable
class FollowsAvailability(Protocol):
    """A backend whose grid keeps this machine in a queue of its own (Nosana's market queue): told
    when the slot stops being available, so it leaves the queue between jobs."""

    def on_unavailable(self) -> None: ...


@runtime_checkable
class SettlesOnChain(Protocol):
    """A backend whose earnings are read from the chain rather than credited by the grid: the node
    hands it its settlement (the ledger's only writer) at each credits sync."""

    def sync_earnings(self, settlement: Settlement) -> None: ...


@runtime_checkable
class DescribesWaiting(Protocol):
    """A backend whose grid runs work this node cannot see as a lease (Nosana's official node runs its
    jobs itself): between leases it says what the machine is doing. (True, text): working; (False,
    text): waiting; the text is the slot's headline."""

    def describe_wait(self) -> tuple[bool, str]: ...
