"""Send a report by SMTP: HTML with the charts inline (multipart/related, images by Content-ID),
a plain-text alternative, and the JSON attached. A failed send is retried with exponential
backoff; every failure is logged, and a send that never succeeds is logged as failed, saved as an
.eml file next to the report and raised, never dropped silently."""

from __future__ import annotations

import smtplib
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, getaddresses, make_msgid, parseaddr
from pathlib import Path

from tradewatch.core import logging as twlog
from tradewatch.report.render import CID_DOMAIN, Report

log = twlog.get_logger("tradewatch.report.mailer")


class DeliveryError(Exception):
    """Every attempt to send failed; the message names the last error."""


@dataclass
class SMTPSettings:
    host: str
    port: int = 587
    sender: str = ""
    username: str = ""
    password_file: str = ""
    starttls: str = "mandatory"  # mandatory | opportunistic | none
    timeout: float = 30.0
    retries: int = 4
    backoff: float = 10.0
    default_to: list[str] = field(default_factory=list)

    @classmethod
    def from_config(cls, cfg) -> SMTPSettings:
        return cls(
            host=cfg["smtp.host"],
            port=cfg["smtp.port"],
            sender=cfg["smtp.from"],
            username=cfg["smtp.username"],
            password_file=cfg["smtp.password_file"],
            starttls=cfg["smtp.starttls"],
            timeout=cfg["smtp.timeout"],
            retries=cfg["smtp.retries"],
            backoff=cfg["smtp.backoff"],
            default_to=list(cfg["smtp.to"]),
        )

    def password(self) -> str:
        if not self.password_file:
            return ""
        # Secret files often end with a newline (echo > file); it is never part of the password.
        return Path(self.password_file).read_text(encoding="utf-8").rstrip("\r\n")


def build_message(report: Report, sender: str, recipients: list[str], subject: str = "") -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"] = subject or report.subject
    msg["From"] = sender
    msg["To"] = ", ".join(recipients)
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(domain=CID_DOMAIN)
    msg.set_content(plain_text(report))
    msg.add_alternative(report.html(cid=True), subtype="html")
    html_part = msg.get_payload()[1]
    for name, png in report.images.items():
        html_part.add_related(
            png,
            maintype="image",
            subtype="png",
            cid=f"<{name}@{CID_DOMAIN}>",
            filename=name,
            disposition="inline",
        )
    msg.add_attachment(report.json_bytes(), maintype="application", subtype="json", filename="report.json")
    return msg


def plain_text(report: Report) -> str:
    lines = [report.subject, ""]
    for s in report.sections:
        lines.append(f"== {s.title}")
        if s.error:
            lines.append(f"  (could not be computed: {s.error})")
        lines += [f"  {k}: {v}" for k, v in s.figures]
        lines += [f"  - {n}" for n in s.notes]
        lines.append("")
    lines.append("Charts are in the HTML version of this message; numbers are in report.json.")
    return "\n".join(lines)


def send(
    msg: EmailMessage,
    smtp: SMTPSettings,
    *,
    sleep: Callable[[float], None] = time.sleep,
    save_failed: Path | None = None,
) -> int:
    """Deliver with retries; returns the number of attempts it took. Raises DeliveryError."""
    # Envelope addresses are bare: "Desk <desk@x>" in a header is "desk@x" in MAIL FROM / RCPT TO.
    recipients = [addr for _, addr in getaddresses([str(msg["To"])]) if addr]
    attempts = 1 + smtp.retries
    last: Exception | None = None
    for attempt in range(1, attempts + 1):
        try:
            _deliver(msg, smtp, recipients)
            log.info(
                "report e-mail sent",
                subject=str(msg["Subject"]),
                recipients=len(recipients),
                attempt=attempt,
                host=smtp.host,
                port=smtp.port,
            )
            return attempt
        except (OSError, smtplib.SMTPException, ssl.SSLError) as exc:
            last = exc
            delay = smtp.backoff * 2 ** (attempt - 1)
            log.warning(
                "report e-mail attempt failed",
                attempt=attempt,
                attempts=attempts,
                host=smtp.host,
                port=smtp.port,
                error=f"{exc.__class__.__name__}: {exc}",
                retry_in_seconds=delay if attempt < attempts else None,
            )
            if attempt < attempts:
                sleep(delay)
    saved = None
    if save_failed is not None:
        save_failed.parent.mkdir(parents=True, exist_ok=True)
        save_failed.write_bytes(bytes(msg))
        saved = str(save_failed)
    log.error(
        "report e-mail failed",
        subject=str(msg["Subject"]),
        attempts=attempts,
        host=smtp.host,
        port=smtp.port,
        error=f"{last.__class__.__name__}: {last}",
        saved_to=saved,
    )
    raise DeliveryError(
        f"could not send the report to {', '.join(recipients)} via {smtp.host}:{smtp.port} "
        f"after {attempts} attempt(s): {last}"
    )


def _deliver(msg: EmailMessage, smtp: SMTPSettings, recipients: list[str]) -> None:
    with smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout) as conn:
        conn.ehlo()
        if smtp.starttls != "none":
            if conn.has_extn("starttls"):
                conn.starttls(context=ssl.create_default_context())
                conn.ehlo()
            elif smtp.starttls == "mandatory":
                raise smtplib.SMTPNotSupportedError(
                    f"{smtp.host}:{smtp.port} does not offer STARTTLS and smtp.starttls is mandatory "
                    "(set it to opportunistic or none for a local relay)"
                )
        if smtp.username:
            conn.login(smtp.username, smtp.password())
        conn.send_message(msg, from_addr=parseaddr(smtp.sender)[1], to_addrs=recipients)
