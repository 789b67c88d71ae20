"""The fault test's outside clients, each in a process of its own so that neither the attacker's
work nor the test's own slows the other's measurement (tests/faults/test_hostile_mail.py):

- `python -m tests.faults.hostile_clients poll URL`: GET URL every 50 ms until stdin closes, then
  print one JSON line: [[started (epoch seconds), waited (seconds), status], ...];
- `python -m tests.faults.hostile_clients attack PORT SENDER TO FILE...`: send each file's bytes as
  one mail, all at once, and print one JSON line: [[file, code, text], ...].
"""

from __future__ import annotations

import json
import os
import smtplib
import sys
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path


def poll(url: str) -> None:
    seen: list[tuple[float, float, int]] = []
    done = threading.Event()

    def wait_for_the_end() -> None:
        sys.stdin.read()
        done.set()

    threading.Thread(target=wait_for_the_end, daemon=True).start()
    while not done.is_set():
        started, clock = time.time(), time.monotonic()
        try:
            with urllib.request.urlopen(url, timeout=30) as answer:
                status = answer.status
        except (urllib.error.URLError, OSError):
            status = 0
        seen.append((started, time.monotonic() - clock, status))
        done.wait(0.05)
    print(json.dumps(seen), flush=True)


def send(port: int, sender: str, to: str, path: str) -> tuple[str, int, str]:
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=300) as smtp:
            smtp.sendmail(sender, [to], Path(path).read_bytes())
    except smtplib.SMTPResponseException as error:
        text = error.smtp_error
        return path, error.smtp_code, text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    except smtplib.SMTPRecipientsRefused as refused:
        code, reason = next(iter(refused.recipients.values()))
        return path, code, reason.decode("utf-8", "replace")
    return path, 250, "accepted"


def attack(port: int, sender: str, to: str, paths: list[str]) -> None:
    # An attacker sends from a machine of its own: here it shares the worker's two cores, so it
    # yields them first, and what is measured is what the mail costs the worker.
    os.nice(10)
    with ThreadPoolExecutor(len(paths)) as pool:
        answers = list(pool.map(lambda path: send(port, sender, to, path), paths))
    print(json.dumps(answers), flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "poll":
        poll(sys.argv[2])
    else:
        attack(int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5:])
