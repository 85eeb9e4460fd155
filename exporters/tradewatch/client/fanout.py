"""``FanOutClient``: one trading system, several trading exporters.

    # redundancy: every event to both exporters (each keeps a full journal)
    tw = FanOutClient.to_urls(["http://a:9812", "http://b:9812"], spool_dir="/var/lib/bot/tw")
    # routing: each account's events to the exporter that owns it (sharding)
    tw = FanOutClient.to_urls(urls, spool_dir=..., route=by_account({"acct-a": urls[0]}, default=urls[1]))

Each destination is a whole :class:`TradeWatchClient` (its own queue, sender thread, spool
subdirectory and dead-letter file), so a slow or dead exporter never holds back the others. An
event keeps its one event_id on every copy: each exporter drops a resend by its dedupe window
(tradewatch/core/dedupe.py); two exporters are not deduplicated against each other. Which layout
gives which guarantee: docs/client.md ("Several exporters").
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from tradewatch.client.client import TradeWatchClient
from tradewatch.client.events import EventHelpers
from tradewatch.client.sender import ClientStats
from tradewatch.client.trail import Trails

Route = Callable[[dict[str, Any]], str]


def by_account(accounts: Mapping[str, str], default: str) -> Route:
    """A route: the destination of the event's ``account``; ``default`` for other accounts and for
    events without one (market data, model events; set ``account=`` on the client so that every
    event of a one-account system carries it)."""

    def route(event: dict[str, Any]) -> str:
        return accounts.get(event.get("account"), default)

    return route


class FanOutClient(EventHelpers):
    """Sends each event to every destination (``route=None``) or to the one ``route`` names."""

    def __init__(
        self,
        clients: Mapping[str, TradeWatchClient],
        *,
        route: Route | None = None,
        strategy: str | None = None,
        account: str | None = None,
        venue: str | None = None,
        trail_sample_rate: float = 1.0,
    ):
        if not clients:
            raise ValueError("FanOutClient needs at least one destination")
        self.clients = dict(clients)
        self.route = route
        self.trails = Trails(trail_sample_rate)
        self.defaults = {
            k: v for k, v in {"strategy": strategy, "account": account, "venue": venue}.items() if v is not None
        }

    @classmethod
    def to_urls(
        cls,
        urls: Sequence[str],
        *,
        model_urls: Sequence[str | None] | None = None,
        spool_dir: str | Path | None = None,
        route: Route | None = None,
        strategy: str | None = None,
        account: str | None = None,
        venue: str | None = None,
        trail_sample_rate: float = 1.0,
        **client_options: Any,
    ) -> FanOutClient:
        """One :class:`TradeWatchClient` per trading exporter URL (``model_urls[i]`` beside
        ``urls[i]``), spooling in ``spool_dir/<i>``; ``client_options`` go to every one."""
        if len(set(urls)) != len(urls):
            raise ValueError(f"each exporter once: {list(urls)}")
        models = list(model_urls) if model_urls is not None else [None] * len(urls)
        if len(models) != len(urls):
            raise ValueError("model_urls needs one entry (or None) per trading URL")
        clients: dict[str, TradeWatchClient] = {}
        try:
            for index, (url, model_url) in enumerate(zip(urls, models, strict=True)):
                spool = Path(spool_dir) / str(index) if spool_dir is not None else None
                clients[url] = TradeWatchClient(url, model_url=model_url, spool_dir=spool, **client_options)
        except Exception:
            for client in clients.values():
                client.close(0)
            raise
        return cls(
            clients,
            route=route,
            strategy=strategy,
            account=account,
            venue=venue,
            trail_sample_rate=trail_sample_rate,
        )

    def emit(self, event: dict[str, Any]) -> str:
        if self.route is None:
            for client in self.clients.values():
                client.emit(event)
        else:
            name = self.route(event)
            if name not in self.clients:
                raise ValueError(f"route chose {name!r}, not one of {sorted(self.clients)}")
            self.clients[name].emit(event)
        return event["event_id"]

    def flush(self, timeout: float | None = 10.0) -> bool:
        results = [client.flush(timeout) for client in self.clients.values()]
        return all(results)

    def close(self, timeout: float = 5.0) -> bool:
        results = [client.close(timeout) for client in self.clients.values()]
        return all(results)

    @property
    def stats(self) -> ClientStats:
        """Counters summed over every destination (an event sent to two counts twice)."""
        total = ClientStats()
        for client in self.clients.values():
            total = total + client.stats
        return total

    def destination_stats(self) -> dict[str, ClientStats]:
        return {name: client.stats for name, client in self.clients.items()}

    def __enter__(self) -> FanOutClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
