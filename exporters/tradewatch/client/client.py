"""``TradeWatchClient``: what a trading system imports to send events to the exporters.

    with TradeWatchClient("http://127.0.0.1:9812", token=..., model_url="http://127.0.0.1:9813",
                          spool_dir="/var/lib/mybot/tradewatch-spool", strategy="momentum") as tw:
        tw.order_submitted("o-1", "BTC-USD", "buy", 0.5, reference_price=65000.0)
        tw.prediction("momentum-clf", "1.4.0", "p-1", {"ret_5": 0.3}, "up", latency_seconds=0.004)

Trading events go to ``url``, model events (prediction, outcome, ai_call) to ``model_url``; each
destination has its own buffer, sender thread and spool files (``trading-*.jsonl``,
``model-*.jsonl`` in ``spool_dir``), and dead-letter file for what the exporter refuses
(``<dead_letter_dir>/trading.jsonl``, ``model.jsonl``; by default ``spool_dir/dead-letter``).
``durable=True`` writes each event to the spool (fdatasync'd) before ``emit`` returns, so a
``kill -9`` of the trading process loses nothing it emitted. See docs/client.md.
"""

from __future__ import annotations

import atexit
import os
import weakref
from pathlib import Path
from typing import Any

from tradewatch.client.events import MODEL_TYPES, EventHelpers, encode
from tradewatch.client.sender import Channel, ClientStats, SendOptions
from tradewatch.client.trail import Trails

DEFAULT_TRADING_URL = "http://127.0.0.1:9812"
DEFAULT_MODEL_URL = "http://127.0.0.1:9813"


class TradeWatchClient(EventHelpers):
    """Non-blocking, batching, spooling event sender. Thread-safe: share one per process."""

    def __init__(
        self,
        url: str = DEFAULT_TRADING_URL,
        token: str | None = None,
        *,
        model_url: str | None = None,
        model_token: str | None = None,
        spool_dir: str | os.PathLike[str] | None = None,
        batch_size: int = 500,
        flush_interval: float = 0.5,
        max_queue: int = 10_000,
        max_retries: int = 3,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
        timeout: float = 10.0,
        dead_letter_dir: str | os.PathLike[str] | None = None,
        durable: bool = False,
        poison_retries: int = 3,
        strategy: str | None = None,
        account: str | None = None,
        venue: str | None = None,
        trail_sample_rate: float = 1.0,
    ):
        self.trails = Trails(trail_sample_rate)
        self.defaults = {
            k: v for k, v in {"strategy": strategy, "account": account, "venue": venue}.items() if v is not None
        }
        options = SendOptions(
            batch_size,
            flush_interval,
            max_queue,
            max_retries,
            backoff_base,
            backoff_max,
            timeout,
            poison_retries,
            durable,
        )
        spool = str(spool_dir) if spool_dir is not None else None
        if dead_letter_dir is None and spool is not None:
            dead_letter_dir = Path(spool) / "dead-letter"  # a subdirectory: never taken for spool
        dead = str(dead_letter_dir) if dead_letter_dir is not None else None
        self._channels: dict[str, Channel] = {}
        self._channels["trading"] = Channel("trading", url, options, token=token, spool_dir=spool, dead_letter_dir=dead)
        if model_url:
            try:
                self._channels["model"] = Channel(
                    "model",
                    model_url,
                    options,
                    token=model_token if model_token is not None else token,
                    spool_dir=spool,
                    dead_letter_dir=dead,
                )
            except Exception:
                self._channels["trading"].close(0)
                raise
        self._closed = False
        # Interpreter exit: a last flush, and whatever is left goes to the spool.
        self._atexit = _make_atexit(weakref.ref(self))
        atexit.register(self._atexit)

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **kwargs: Any) -> TradeWatchClient:
        """URLs, token and spool from TRADEWATCH_TRADING_URL, TRADEWATCH_MODEL_URL, TRADEWATCH_TOKEN
        (or TRADEWATCH_TOKEN_FILE), TRADEWATCH_SPOOL_DIR, TRADEWATCH_DEAD_LETTER_DIR,
        TRADEWATCH_DURABLE (``1``/``true``/``yes``) and TRADEWATCH_TRAIL_SAMPLE_RATE (0..1);
        keyword arguments win."""
        env = os.environ if environ is None else environ
        token = env.get("TRADEWATCH_TOKEN")
        if not token and env.get("TRADEWATCH_TOKEN_FILE"):
            token = Path(env["TRADEWATCH_TOKEN_FILE"]).read_text().strip()
        options: dict[str, Any] = {
            "url": env.get("TRADEWATCH_TRADING_URL", DEFAULT_TRADING_URL),
            "model_url": env.get("TRADEWATCH_MODEL_URL") or None,
            "token": token or None,
            "spool_dir": env.get("TRADEWATCH_SPOOL_DIR") or None,
            "dead_letter_dir": env.get("TRADEWATCH_DEAD_LETTER_DIR") or None,
        }
        durable = env.get("TRADEWATCH_DURABLE", "").strip().lower()
        if durable:
            if durable not in ("1", "true", "yes", "0", "false", "no"):
                raise ValueError(f"TRADEWATCH_DURABLE must be true or false, got {durable!r}")
            options["durable"] = durable in ("1", "true", "yes")
        rate = env.get("TRADEWATCH_TRAIL_SAMPLE_RATE", "").strip()
        if rate:
            try:
                options["trail_sample_rate"] = float(rate)
            except ValueError:
                raise ValueError(f"TRADEWATCH_TRAIL_SAMPLE_RATE must be a number from 0 to 1, got {rate!r}") from None
        options.update(kwargs)
        return cls(**options)

    def emit(self, event: dict[str, Any]) -> str:
        """Queue one contract event (a dict with type, ts, event_id, ...); returns its event_id."""
        if "event_id" not in event or "ts" not in event or "type" not in event:
            raise ValueError("an event needs type, ts and event_id (the helpers fill them)")
        if event["type"] in MODEL_TYPES:
            channel = self._channels.get("model")
            if channel is None:
                raise ValueError(f"{event.get('type')} events go to the model exporter: pass model_url")
        else:
            channel = self._channels["trading"]
        channel.put(encode(event))
        return event["event_id"]

    def flush(self, timeout: float | None = 10.0) -> bool:
        """Wait until everything emitted so far is delivered; False if ``timeout`` ran out first."""
        ok = True
        for channel in self._channels.values():
            ok = channel.flush(timeout) and ok
        return ok

    def close(self, timeout: float = 5.0) -> bool:
        """Flush (up to ``timeout`` per destination), then stop; leftovers stay in the spool."""
        if self._closed:
            return True
        self._closed = True
        atexit.unregister(self._atexit)
        ok = True
        for channel in self._channels.values():
            ok = channel.close(timeout) and ok
        return ok

    @property
    def stats(self) -> ClientStats:
        """Counters summed over destinations (see :class:`ClientStats`)."""
        total = ClientStats()
        for channel in self._channels.values():
            total = total + channel.stats()
        return total

    def channel_stats(self) -> dict[str, ClientStats]:
        return {name: channel.stats() for name, channel in self._channels.items()}

    @property
    def dead_letter_paths(self) -> dict[str, Path]:
        """Per destination, the JSONL file refused events go to (it exists once one was refused)."""
        return {
            name: channel.dead_letter.path
            for name, channel in self._channels.items()
            if channel.dead_letter is not None
        }

    def __enter__(self) -> TradeWatchClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _make_atexit(ref: weakref.ref[TradeWatchClient]) -> Any:
    def hook() -> None:
        client = ref()
        if client is not None:
            client.close(timeout=2.0)

    return hook
