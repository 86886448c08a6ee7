"""Locust load test for POST /classify, for users who prefer Locust to `newsig loadtest`.

    pip install locust
    locust -f api/bench/locustfile.py --host http://127.0.0.1:8000 -u 16 -r 4 -t 60s --headless
"""

from __future__ import annotations

import csv
import itertools
from pathlib import Path

from locust import FastHttpUser, between, task

DATA = Path(__file__).resolve().parents[2] / "model" / "data"


def _headlines() -> list[str]:
    with (DATA / "financial_phrasebank" / "splits" / "sentences_75agree_test.csv").open() as fh:
        texts = [row["text"] for row in csv.DictReader(fh)]
    with (DATA / "twitter_financial_news" / "sent_train.csv").open() as fh:
        texts += [row["text"] for row in csv.DictReader(fh)][:2000]
    return texts


HEADLINES = itertools.cycle(_headlines())


class ClassifyUser(FastHttpUser):
    wait_time = between(0, 0)

    @task
    def classify(self) -> None:
        self.client.post("/classify", json={"headline": next(HEADLINES)}, name="/classify")
