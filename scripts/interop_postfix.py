"""`make interop`: casework behind Debian's Postfix, both ways, as an operator runs it (issue 28).

Not part of `make test`: it needs root (Postfix's daemons run as its own user) and may install a
package. What it does:

1. Installs Debian's `postfix` when it is missing (`apt-get install -y postfix`, said so on the way),
   with debconf's "No configuration" and the package's service start blocked for the install
   (`/usr/sbin/policy-rc.d`, removed after): the machine's default instance is neither configured
   nor started, and port 25 is left alone.
2. Configures an instance of its own in a temporary directory (`postfix -c DIR`): its main.cf and
   master.cf (the guide's configuration, docs/inbound-mail.md), its queue, loopback ports of its own,
   every map a `texthash:` file (no postmap). Nothing leaves the machine: the only transports are to
   127.0.0.1 (casework's listener, and the customers' mail server this script runs with aiosmtpd);
   any other destination is an `error:` transport.
3. Runs casework (`worker.py --api --seed directory.toml`, its embedded Temporal dev server) on free
   ports, Postfix as its smarthost (SMTP_HOST) and casework's listener behind Postfix.
4. Asserts: the acknowledgement is relayed through Postfix (casework's EHLO name in the Received
   line); replies through Postfix's `sendmail` land once (the same mail again is "already on case");
   a guessed case address is refused in the sender's own SMTP session with Postfix (recipient
   verification, 550), not bounced later; a mail to two case addresses lands on both cases at once
   (the `casework` transport, one recipient a delivery); a delivery report (DSN) from Postfix for a
   customer address that does not exist is tied to its case (the notification failed, with the
   remote server's text).
5. Cleans up: stops casework and its Postfix instance, removes the directory.

Run: `make interop` (or `sudo .venv/bin/python -m scripts.interop_postfix`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default as default_policy
from email.utils import make_msgid
from pathlib import Path
from typing import Any

import aiosmtplib
import httpx
from aiosmtpd.controller import Controller

from adapters.mail_sink import free_port
from adapters.settings import PROJECT_ROOT

REPLY_DOMAIN = "support.casework.example"
HELO = "casework.interop.example"
ADMIN = "admin@contoso.example"  # directory.toml: contoso's administrator
GONE = "it-desk@contoso.example"  # a registered address whose mailbox the customer's server does not have
TOKEN = uuid.uuid4().hex
POSTFIX = Path("/usr/sbin/postfix")
SENDMAIL = Path("/usr/sbin/sendmail")
POLICY_RC = Path("/usr/sbin/policy-rc.d")
WAIT_S = 60.0


def say(line: str) -> None:
    print(f"interop: {line}", flush=True)


def ensure_postfix() -> None:
    if POSTFIX.exists() and SENDMAIL.exists():
        version = subprocess.run(["postconf", "-d", "mail_version"], capture_output=True, text=True)
        say(f"postfix is installed ({version.stdout.strip() or 'present'})")
        return
    say("postfix is missing: installing Debian's package (apt-get install -y postfix)")
    say("  this adds /etc/postfix, the postfix user and the postfix/postdrop groups, /usr/sbin/postfix,")
    say("  /usr/sbin/sendmail; debconf 'No configuration': the default instance is not configured,")
    say("  and a temporary /usr/sbin/policy-rc.d keeps the package from starting it (port 25 untouched)")
    if os.geteuid() != 0:
        raise SystemExit("interop: installing postfix needs root")
    selections = "postfix postfix/main_mailer_type select No configuration\n"
    subprocess.run(["debconf-set-selections"], input=selections, text=True, check=True)
    blocked = not POLICY_RC.exists()
    if blocked:
        POLICY_RC.write_text("#!/bin/sh\nexit 101\n")
        POLICY_RC.chmod(0o755)
    try:
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "install", "-y", "-q", "postfix"], check=True, env=env)
    finally:
        if blocked:
            POLICY_RC.unlink()
    say("postfix installed")


MAIN_CF = """\
# casework's Postfix instance for `make interop` (docs/inbound-mail.md: the guide's configuration)
compatibility_level = 3.6
queue_directory = {dir}/spool
data_directory = {dir}/data
maillog_file = {dir}/maillog
myhostname = relay.interop.example
mydomain = interop.example
myorigin = $myhostname
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
alias_maps =
alias_database =
smtp_dns_support_level = disabled
smtp_host_lookup = native

# The reply domain is relayed to casework's listener, over a transport of its own that carries one
# recipient a delivery: a mail to two case addresses is two deliveries, at once (casework takes one
# case a message and answers 452 to a second recipient in the same delivery).
relay_domains = {domain}
transport_maps = texthash:{dir}/transport
casework_destination_recipient_limit = 1

# Nothing else leaves this instance (the customers' server is on loopback, in `transport`).
default_transport = error:5.7.1 interop: no mail leaves this machine
relay_transport = error:5.7.1 interop: no mail leaves this machine

# Recipient verification for the reply domain, ahead of permit_mynetworks: a case address casework
# refuses is refused in the sender's own session (550), never bounced later to a forged sender.
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
smtpd_recipient_restrictions =
    check_recipient_access texthash:{dir}/verified_domains,
    permit_mynetworks,
    reject_unauth_destination
unverified_recipient_reject_code = 550
address_verify_negative_refresh_time = 60s

# The relay keeps what casework cannot take now (451) and tries again; how long before it bounces.
maximal_queue_lifetime = 5d
bounce_queue_lifetime = 5d
queue_run_delay = 10s
minimal_backoff_time = 10s
maximal_backoff_time = 60s
"""

MASTER_CF = """\
{port}   inet  n       -       n       -       -       smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
# casework's listener: one recipient a delivery (casework_destination_recipient_limit)
casework  unix  -       -       n       -       -       smtp
"""


class CustomersServer:
    """The customers' mail server (contoso.example), on loopback: it keeps what it takes, and has no
    mailbox for `GONE` (550 at RCPT, as Postfix's "User unknown in local recipient table")."""

    def __init__(self) -> None:
        self.mails: list[EmailMessage] = []
        self.raw: dict[int, bytes] = {}  # id(mail) -> the bytes as received

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if address.lower() == GONE:
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown in local recipient table"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw = envelope.original_content or envelope.content
        mail = BytesParser(policy=default_policy).parsebytes(raw)
        assert isinstance(mail, EmailMessage)
        self.raw[id(mail)] = raw
        self.mails.append(mail)
        return "250 2.0.0 OK"

    def to(self, address: str, case_id: str) -> list[EmailMessage]:
        return [
            m for m in self.mails if address in str(m["To"]) and str(m["X-Casework-Case"]).strip() == case_id
        ]


@contextlib.contextmanager
def postfix_instance(directory: Path, port: int, listener: int, customers: int) -> Iterator[None]:
    (directory / "main.cf").write_text(MAIN_CF.format(dir=directory, domain=REPLY_DOMAIN))
    (directory / "master.cf").write_text(MASTER_CF.format(port=f"127.0.0.1:{port}"))
    (directory / "transport").write_text(
        f"{REPLY_DOMAIN} casework:[127.0.0.1]:{listener}\n"
        f"contoso.example smtp:[127.0.0.1]:{customers}\n"
        f"casework.example smtp:[127.0.0.1]:{customers}\n"  # the staff's mailboxes, on the same server
    )
    (directory / "verified_domains").write_text(f"{REPLY_DOMAIN} reject_unverified_recipient\n")
    directory.chmod(0o755)
    (directory / "spool").mkdir()
    (directory / "data").mkdir()
    shutil.chown(directory / "data", "postfix")
    postfix = [str(POSTFIX), "-c", str(directory)]
    for command in ("check", "start"):  # (check warns of the temporary directory's owners: harmless)
        if subprocess.run([*postfix, command], check=False, capture_output=True).returncode != 0:
            raise AssertionError(f"postfix {command} failed (see its maillog)")
    say(f"postfix instance started: -c {directory}, smtpd on 127.0.0.1:{port}")
    try:
        yield
    finally:
        subprocess.run([*postfix, "stop"], check=False)
        say("postfix instance stopped")


@contextlib.contextmanager
def casework(var: Path, smarthost: int, listener: int, api: int) -> Iterator[None]:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("CASEWORK_", "SMTP_", "TEMPORAL_"))},
        "CASEWORK_VAR": str(var),
        "CASEWORK_API_PORT": str(api),
        "CASEWORK_API_TOKENS": TOKEN,
        "CASEWORK_DEV_SERVER_PORT": str(free_port()),
        "CASEWORK_UI_PORT": str(free_port()),
        "CASEWORK_HEALTH_PORT": str(free_port()),
        "CASEWORK_CODEC_PORT": str(free_port()),
        "CASEWORK_INBOUND_SMTP_HOST": "127.0.0.1",
        "CASEWORK_INBOUND_SMTP_PORT": str(listener),
        "CASEWORK_REPLY_TO_DOMAIN": REPLY_DOMAIN,
        "CASEWORK_SMTP_HELO_NAME": HELO,
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(smarthost),
        "SMTP_SECURITY": "none",  # loopback, in mynetworks (docs/inbound-mail.md: submission, STARTTLS, auth)
        "LOG_LEVEL": "WARNING",
    }
    var.mkdir(parents=True)
    log = (var.parent / "worker.log").open("wb")
    worker = subprocess.Popen(
        [sys.executable, "worker.py", "--api", "--seed", "directory.toml"],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    say(f"casework started (pid {worker.pid}): API 127.0.0.1:{api}, inbound listener 127.0.0.1:{listener}")
    try:
        yield
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
        log.close()
        say("casework stopped")


async def until(what: str, check: Callable[[], Any], seconds: float = WAIT_S) -> Any:
    """The first truthy result of `check` (sync or async), polled; fails after `seconds`."""
    deadline = time.monotonic() + seconds
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for: {what}")
        await asyncio.sleep(0.25)


class Api:
    def __init__(self, port: int) -> None:
        self.http = httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30
        )

    async def ready(self) -> bool:
        try:
            return (await self.http.get("/healthz")).status_code == 200
        except httpx.HTTPError:
            return False

    async def open(self, tag: str, contact: str = ADMIN) -> str:
        request = {
            "request_id": f"interop-{tag}-{uuid.uuid4().hex[:8]}",
            "tenant_id": "contoso",
            "requester": ADMIN,
            "category": "technical",
            "severity": "B",
            "title": f"Interop {tag}",
            "description": "Opened by make interop to try casework behind Postfix.",
            "contact_email": contact,
        }
        opened = await self.http.post("/cases", json=request)
        assert opened.status_code in (200, 201), opened.text
        return str(opened.json()["case"]["case_id"])

    async def view(self, case_id: str) -> dict[str, Any]:
        shown = await self.http.get(f"/cases/{case_id}")
        assert shown.status_code == 200, shown.text
        data: dict[str, Any] = shown.json()
        return data


def sendmail(directory: Path, sender: str, recipients: list[str], mail: EmailMessage) -> None:
    """Postfix's own `sendmail` (the queue, pickup, cleanup, qmgr, then the casework transport)."""
    subprocess.run(
        [str(SENDMAIL), "-C", str(directory), "-f", sender, "--", *recipients],
        input=mail.as_bytes(),
        check=True,
    )


def reply(ack: EmailMessage, body: str) -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = f"Anna <{ADMIN}>"
    mail["To"] = str(ack["Reply-To"])
    mail["Subject"] = f"Re: {ack['Subject']}"
    mail["Message-ID"] = make_msgid(domain="contoso.example")
    mail["In-Reply-To"] = str(ack["Message-ID"])
    mail.set_content(f"{body}\n")
    return mail


async def story(directory: Path, port: int, api: Api, customers: CustomersServer) -> None:
    await until("casework's API", api.ready, seconds=120)
    say("casework is up")

    # 1. The acknowledgement, relayed through Postfix as the smarthost.
    first = await api.open("ack")
    [ack] = await until("the acknowledgement at the customer's server", lambda: customers.to(ADMIN, first))
    received = " ".join(str(v) for v in ack.get_all("Received", []))
    assert f"from {HELO}" in received and "relay.interop.example" in received, received
    lines = customers.raw[id(ack)].split(b"\r\n")
    [message_id] = [line for line in lines if line.lower().startswith(b"message-id:")]
    assert message_id.endswith(b">") and b"<" in message_id, f"Message-ID on one line: {message_id!r}"
    say(f"ok: acknowledgement relayed through Postfix (EHLO {HELO}; Message-ID on one line)")

    # 2. A reply through Postfix's sendmail lands once; the same mail again is one message.
    answer = reply(ack, "Here is the trace you asked for.")
    sendmail(directory, ADMIN, [str(ack["Reply-To"])], answer)
    await until("the reply on the case", lambda: _replies(api, first, 1))
    sendmail(directory, ADMIN, [str(ack["Reply-To"])], answer)
    await until("the second copy, already on the case", lambda: _logged(directory, "already on case"))
    assert (await api.view(first))["replies_received"] == 1
    say("ok: a reply through sendmail landed once; the same mail again: 'already on case'")

    # 3. Backscatter: a guessed case address is refused in the sender's own session.
    guessed = f"case+{'q' * 26}@{REPLY_DOMAIN}"
    async with aiosmtplib.SMTP(
        hostname="127.0.0.1", port=port, timeout=60, local_hostname="mallory.example"
    ) as smtp:
        await smtp.mail("victim@forged.example")
        code, text = await smtp.rcpt(str(ack["Reply-To"]))
        assert code == 250, (code, text)
        await smtp.rset()
        await smtp.mail("victim@forged.example")
        with contextlib.suppress(aiosmtplib.SMTPRecipientRefused):  # a 450 while the first probe runs
            await smtp.rcpt(guessed)
        try:
            await smtp.rcpt(guessed)
            raise AssertionError("a guessed case address was accepted")
        except aiosmtplib.SMTPRecipientRefused as refused:
            assert refused.code == 550, (refused.code, refused.message)
            said = refused.message
    say(f"ok: a guessed case address is refused in the sender's session: 550 {said}")

    # 4. One mail to two case addresses lands on both cases at once.
    second = await api.open("two-a")
    third = await api.open("two-b")
    acks = [
        (await until(f"ack of {c}", lambda c=c: customers.to(ADMIN, c)))[0]  # type: ignore[misc]
        for c in (second, third)
    ]
    both = reply(acks[0], "One mail for both cases.")
    both.replace_header("To", f"{acks[0]['Reply-To']}, {acks[1]['Reply-To']}")
    started = time.monotonic()
    sendmail(directory, ADMIN, [str(a["Reply-To"]) for a in acks], both)
    await until("the reply on both cases", lambda: _all_replied(api, [second, third]), seconds=60)
    say(f"ok: a mail to two case addresses landed on both cases in {time.monotonic() - started:.1f} s")

    # 5. A delivery report from Postfix for a customer address that does not exist, tied to its case.
    fourth = await api.open("dsn", contact=GONE)
    failed = await until("the bounce on the case", lambda: _failed(api, fourth), seconds=90)
    assert "User unknown in local recipient table" in failed["reason"], failed
    assert GONE not in failed["reason"], "the address is masked"
    say(f"ok: Postfix's DSN tied to its case: {failed['event']} to {failed['audience']}: {failed['reason']}")


async def _replies(api: Api, case_id: str, count: int) -> bool:
    return int((await api.view(case_id))["replies_received"]) == count


async def _all_replied(api: Api, case_ids: list[str]) -> bool:
    return all([await _replies(api, c, 1) for c in case_ids])


async def _failed(api: Api, case_id: str) -> dict[str, Any] | None:
    failed = (await api.view(case_id))["failed_notifications"]
    return next((f for f in failed if f["event"] == "acknowledged" and f["audience"] == "customer"), None)


def _logged(directory: Path, text: str) -> bool:
    log = directory / "maillog"
    return log.exists() and text in log.read_text(errors="replace")


async def main() -> int:
    ensure_postfix()
    directory = Path(tempfile.mkdtemp(prefix="casework-postfix-", dir="/var/tmp"))
    port, listener, api_port, customers_port = free_port(), free_port(), free_port(), free_port()
    customers = CustomersServer()
    controller = Controller(customers, hostname="127.0.0.1", port=customers_port)
    controller.start()
    api = Api(api_port)
    try:
        with (
            postfix_instance(directory, port, listener, customers_port),
            casework(directory / "casework" / "var", port, listener, api_port),
        ):
            await story(directory, port, api, customers)
        say("all checks passed")
        return 0
    except AssertionError as failure:
        say(f"FAILED: {failure}")
        for name in ("maillog", "casework/worker.log"):
            path = directory / name
            if path.exists():
                lines = [
                    x for x in path.read_text(errors="replace").splitlines() if "postfix-script" not in x
                ]
                print(f"--- {name} (last lines) ---")
                print("\n".join(lines[-40:]))
        return 1
    finally:
        await api.http.aclose()
        controller.stop()
        shutil.rmtree(directory, ignore_errors=True)
        say(f"removed {directory}")


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
