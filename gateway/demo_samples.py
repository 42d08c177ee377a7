"""The demo's sample work, so that an auditor logging in first finds a queue to work on.

The bundled examples (`schemas/examples`) are renumbered for two sample centres, their
dates of care spread over the last four weeks, and sent to the running demo through the
API with each centre's token; the worker prices them as it prices any document. Then an
auditor's token and a centre's token take a few of those under review further: a line
reduced and the document approved, one denied and appealed by its centre, one waiting
on a request for information.

A document is received when it arrives (the API offers no way to backdate it), so every
sample is received at the demo's first start; only the dates of care are spread.

Every submission carries an Idempotency-Key: on a restart the gateway replays the one it
stored instead of adding it again, and the review steps run only for documents whose
submission was new, so a restart changes nothing an auditor did meanwhile.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx

log = logging.getLogger("gateway.demo")

SAMPLE_CENTRES = ("DEMO-001", "PNG-KRJ-02")
NUMBER_PREFIX = "SMP"  # sample numbers never collide with the examples' own
WEEKS = 4
DATE_KEYS = frozenset({"serviceDate", "admissionDate", "dischargeDate"})
REJECTED_EXAMPLE = "amount-mismatch.json"  # a line whose amount is not quantity x price
PRICING_STATES = frozenset({"RECEIVED", "ACCEPTED"})  # still on their way to a price
WAIT_FOR_PRICES_S = 180.0
PAGE = 500  # the API's largest page of documents
# A submission refused as overloaded (nothing stored; its Idempotency-Key makes sending
# it again safe) is sent again after the Retry-After, this many times in all.
OVERLOADED_TRIES = 5


@dataclass(frozen=True, slots=True)
class Sample:
    centre: str
    example: str  # the file it was made from
    key: str  # its Idempotency-Key
    body: bytes


@dataclass(slots=True)
class Loaded:
    """What the samples left behind, for the demo's log line and its test."""

    submitted: int = 0
    replayed: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    steps: list[str] = field(default_factory=list)

    def as_log(self) -> dict[str, Any]:
        return {
            "submissions": self.submitted,
            "replayed": self.replayed,
            "documents": dict(sorted(self.statuses.items())),
            "steps": self.steps,
        }


def build(*, examples: Path, today: date) -> list[Sample]:
    """Each valid JSON example once per sample centre, each in a week of its own, and one
    document the rules reject."""
    files = sorted((examples / "valid").glob("*.json"))
    samples = [
        _sample(centre, path, latest=today - timedelta(days=2 + 7 * ((i + c) % WEEKS)))
        for c, centre in enumerate(SAMPLE_CENTRES)
        for i, path in enumerate(files)
    ]
    rejected = examples / "invalid" / REJECTED_EXAMPLE
    samples.append(_sample(SAMPLE_CENTRES[0], rejected, latest=today - timedelta(days=2)))
    return samples


def _sample(centre: str, path: Path, *, latest: date) -> Sample:
    """The example renumbered for the centre, its latest date of care moved to ``latest``
    (a day at least before the demo's today) and every other date by as much."""
    content = json.loads(path.read_text(encoding="utf-8"))
    tag = "-".join(word[:3].upper() for word in path.stem.split("-"))
    header = content["header"]
    header["centreCode"] = centre
    header["submissionNumber"] = f"{NUMBER_PREFIX}-{tag}"
    shift = latest - max(date.fromisoformat(value) for value in _dates(content))
    # Sent the morning after its latest care (Tehran time), never after the demo's today.
    header["createdAt"] = f"{latest + timedelta(days=1)}T09:30:00+03:30"
    for document in content["documents"]:
        (body,) = document.values()
        body["documentNumber"] = f"{NUMBER_PREFIX}-{tag}-{body['documentNumber']}"
        # The examples' referral codes were never issued by this database, and where the
        # referral programme applies (Tehran) they would be refused: the samples' patients
        # came without one, priced under the self-referral policy.
        if body.pop("referralCode", None) is not None:
            body["selfReferred"] = True
    _shift_dates(content, shift)
    key = f"demo-sample-{centre}-{path.stem}"
    return Sample(centre, path.name, key, json.dumps(content, ensure_ascii=False).encode())


def _dates(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in DATE_KEYS and isinstance(value, str):
                yield value
            else:
                yield from _dates(value)
    elif isinstance(node, list):
        for item in node:
            yield from _dates(item)


def _shift_dates(node: Any, shift: timedelta) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in DATE_KEYS and isinstance(value, str):
                node[key] = (date.fromisoformat(value) + shift).isoformat()
            else:
                _shift_dates(value, shift)
    elif isinstance(node, list):
        for item in node:
            _shift_dates(item, shift)


@dataclass(frozen=True, slots=True)
class Doc:
    id: str
    centre: str
    number: str
    status: str


class SampleLoader:
    """Sends the samples to a running gateway and takes some of them through review."""

    def __init__(
        self,
        client: httpx.Client,
        *,
        centre_tokens: dict[str, str],
        auditor_token: str,
        should_stop: Callable[[], bool] = lambda: False,
    ) -> None:
        self.client = client
        self.centre_tokens = centre_tokens
        self.auditor = {"Authorization": f"Bearer {auditor_token}"}
        self.should_stop = should_stop
        self.loaded = Loaded()

    def load(self, samples: list[Sample]) -> Loaded:
        fresh: set[str] = set()
        for sample in samples:
            fresh |= self._submit(sample)
        docs = self._priced(fresh)
        if docs is not None:
            self._review(sorted(docs.values(), key=lambda d: (d.centre, d.number)))
            self.loaded.statuses = Counter(doc.status for doc in self._documents().values())
        return self.loaded

    def _centre(self, code: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.centre_tokens[code]}"}

    def _submit(self, sample: Sample) -> set[str]:
        """The ids of the sample's documents when its submission is new, else none."""
        headers = {
            **self._centre(sample.centre),
            "Content-Type": "application/json",
            "Idempotency-Key": sample.key,
        }
        answer = self.client.post("/v1/submissions", content=sample.body, headers=headers)
        for _ in range(OVERLOADED_TRIES - 1):  # as an integrator would: wait as told, again
            if answer.status_code != 503 or self.should_stop():
                break
            time.sleep(min(float(answer.headers.get("Retry-After", "1")), 5.0))
            answer = self.client.post("/v1/submissions", content=sample.body, headers=headers)
        answer.raise_for_status()
        if answer.headers.get("Idempotent-Replayed") == "true":
            self.loaded.replayed += 1
            return set()
        self.loaded.submitted += 1
        return {document["id"] for document in answer.json()["documents"]}

    def _documents(self) -> dict[str, Doc]:
        """Every sample document of the sample centres, as each centre lists them."""
        found: dict[str, Doc] = {}
        for code in self.centre_tokens:
            offset, total = 0, 1
            while offset < total:
                page = self.client.get(
                    "/v1/documents",
                    params={"limit": PAGE, "offset": offset},
                    headers=self._centre(code),
                )
                page.raise_for_status()
                listed = page.json()
                total, offset = listed["total"], offset + PAGE
                for item in listed["items"]:
                    if item["external_id"].startswith(f"{NUMBER_PREFIX}-"):
                        found[item["id"]] = Doc(
                            item["id"], code, item["external_id"], item["status"]
                        )
        return found

    def _priced(self, fresh: set[str]) -> dict[str, Doc] | None:
        """The new samples once the worker has priced them all (None if it did not)."""
        give_up = time.monotonic() + WAIT_FOR_PRICES_S
        while not self.should_stop():
            docs = {key: doc for key, doc in self._documents().items() if key in fresh}
            if not any(doc.status in PRICING_STATES for doc in docs.values()):
                return docs
            if time.monotonic() > give_up:
                log.error("demo samples: the worker did not price them in time")
                return None
            time.sleep(0.5)
        return None

    def _review(self, docs: list[Doc]) -> None:
        """Per sample centre: its first document under review has a line reduced and is
        approved (when a centre has three), the next is denied and appealed by the centre
        at DEMO-001, or waits on a question to the centre elsewhere; the rest stay
        under review."""
        for code in SAMPLE_CENTRES:
            waiting = [d for d in docs if d.centre == code and d.status == "UNDER_REVIEW"]
            if len(waiting) >= 3:
                self._reduce_and_approve(waiting.pop(0))
            if len(waiting) >= 2:
                chosen = waiting.pop(0)
                if code == SAMPLE_CENTRES[0]:
                    self._deny_and_appeal(chosen)
                else:
                    self._ask(chosen)

    def _post(self, doc: Doc, step: str, path: str, body: dict[str, Any], *, centre: bool) -> None:
        headers = self._centre(doc.centre) if centre else self.auditor
        answer = self.client.post(f"/v1/documents/{doc.id}{path}", json=body, headers=headers)
        answer.raise_for_status()
        self.loaded.steps.append(f"{doc.centre} {doc.number}: {step}")

    def _reduce_and_approve(self, doc: Doc) -> None:
        answer = self.client.get(f"/v1/documents/{doc.id}", headers=self.auditor)
        answer.raise_for_status()
        payable = [
            (line["line_no"], line["pricing"]["eligible"])
            for line in answer.json()["lines"]
            if line["pricing"] and line["pricing"]["eligible"] > 1
        ]
        if payable:
            line_no, eligible = max(payable, key=lambda pair: pair[1])
            reduce = {
                "action": "reduce",
                "reason": "review-not-documented",
                "amount": eligible // 2,
                "note": "Half of this line is in the clinical notes.",
            }
            self._post(doc, f"line {line_no} halved", f"/lines/{line_no}/review", reduce,
                       centre=False)  # fmt: skip
        approve = {"decision": "approve", "reason": "Reviewed against the clinical notes."}
        self._post(doc, "approved", "/decision", approve, centre=False)

    def _deny_and_appeal(self, doc: Doc) -> None:
        deny = {"decision": "deny", "reason": "No clinical notes justify the admission."}
        self._post(doc, "denied", "/decision", deny, centre=False)
        appeal = {
            "reason": "The admission note and the discharge summary are in the file.",
            "lines": [1],
        }
        self._post(doc, "appealed by the centre", "/appeal", appeal, centre=True)

    def _ask(self, doc: Doc) -> None:
        question = {
            "question": "Please send the report that supports line 1.",
            "lines": [1],
            "attachment_kinds": ["report"],
        }
        self._post(doc, "information requested", "/information-requests", question, centre=False)
