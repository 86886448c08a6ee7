"""Names are defined once (core/names.py): rename a key prefix there and the store's keys,
the IAM LeadingKeys conditions and the stream filter all follow; and moving resources into
constructs kept the logical IDs of everything a deployed stack must not replace."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
pytest.importorskip("aws_cdk", reason="needs the infra extra")

ROOT = Path(__file__).resolve().parents[2]

#: Synthesizes the lambda-mode stack in a fresh interpreter after renaming names in
#: core.names (before anything else imports them); prints what the test inspects.
RENAMED = r'''
import json, sys
import core.names as n
renames = json.loads(sys.argv[1])
for key, value in renames.items():
    setattr(n, key, value)
from aws_cdk.assertions import Template
from core.adapters.dynamodb_store import DynamoDBSignalStore
from core.adapters.ws_registry import subscription_keys
from core.models import Article, Prediction, Signal
from infra.app import build_app
_, stack = build_app({"classifier": "lambda", "aws:cdk:bundling-stacks": []},
                     outdir=sys.argv[2], nag=False)
t = Template.from_stack(stack).to_json()
article = Article(source_id="s", title="Apple rises", tickers=["AAPL"])
signal = Signal.from_article(article, Prediction.from_probabilities([0.1, 0.2, 0.7], "v"))
keys = [i["pk"]["S"] for i in DynamoDBSignalStore("t", client=None)._signal_items(signal)]
print(json.dumps({"resources": t["Resources"], "keys": keys,
                  "subs": subscription_keys(["AAPL"], [])}))
'''


def synth_with(renames: dict[str, str], tmp: Path) -> dict:
    r = subprocess.run([sys.executable, "-c", RENAMED, json.dumps(renames), str(tmp)],
                       cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    return json.loads(r.stdout.strip().splitlines()[-1])


def leading_keys(resources: dict) -> list[str]:
    found: list[str] = []
    for res in resources.values():
        if res["Type"] != "AWS::IAM::Policy":
            continue
        for st in res["Properties"]["PolicyDocument"]["Statement"]:
            cond = st.get("Condition", {}).get("ForAllValues:StringLike", {})
            found += cond.get("dynamodb:LeadingKeys", [])
    return sorted(found)


def stream_filters(resources: dict) -> list[str]:
    return [f["Pattern"] for res in resources.values()
            if res["Type"] == "AWS::Lambda::EventSourceMapping"
            for f in res["Properties"].get("FilterCriteria", {}).get("Filters", [])]


def test_renamed_prefixes_reach_the_grants_the_keys_and_the_stream_filter(
        tmp_path: Path) -> None:
    before = synth_with({}, tmp_path / "a")
    assert leading_keys(before["resources"]) == ["ALERT#*", "CONN#*", "CONN#*", "SUB#*",
                                                 "SUB#*", "TKR#*"]
    assert before["keys"][:2] == ["SIG#" + before["keys"][0][4:], "TKR#AAPL"]
    assert '"SIG"' in stream_filters(before["resources"])[0]

    after = synth_with({"KEY_TICKER": "TICKER#", "KEY_ALERT": "SHIFT#",
                        "KEY_CONNECTION": "C#", "KEY_SUBSCRIPTION": "S#",
                        "KEY_SIGNAL": "SIGNAL#", "SORT_SIGNAL": "SIGNAL"}, tmp_path / "b")
    assert leading_keys(after["resources"]) == ["C#*", "C#*", "S#*", "S#*", "SHIFT#*",
                                                "TICKER#*"]
    assert after["keys"][0].startswith("SIGNAL#") and after["keys"][1] == "TICKER#AAPL"
    assert after["subs"] == ["S#T:AAPL"]
    (pattern,) = stream_filters(after["resources"])
    assert '"SIGNAL"' in pattern and '"SIG"' not in pattern


#: Logical IDs the stack had before its resources moved into constructs. Replacing any of
#: these on an update would change the API's URL or key, the WebSocket URL or token, lose
#: queued failures or confirmed alarm subscriptions, or fail (the bus has a fixed name).
PINNED = {"ApiF70053CD": "AWS::ApiGateway::RestApi", "ApiApiKey8A01341B": "AWS::ApiGateway::ApiKey",
          "BusEA82B648": "AWS::Events::EventBus", "EventFailures7E223DE4": "AWS::SQS::Queue",
          "IngestFailuresA08611A6": "AWS::SQS::Queue",
          "WebSocketApi34BCF99B": "AWS::ApiGatewayV2::Api",
          "WebSocketToken3E84A9C6": "AWS::SecretsManager::Secret",
          "AlarmTopicD01E77F9": "AWS::SNS::Topic"}


def test_stateful_resources_keep_their_logical_ids(tmp_path: Path) -> None:
    resources = synth_with({}, tmp_path)["resources"]
    assert {k: resources[k]["Type"] for k in PINNED if k in resources} == PINNED
    table = [k for k, v in resources.items() if v["Type"] == "AWS::DynamoDB::GlobalTable"]
    assert len(table) == 1 and table[0].startswith("SignalsTable")
