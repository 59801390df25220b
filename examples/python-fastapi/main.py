"""A Menon webhook receiver on FastAPI and menon_webhooks.

    MENON_WEBHOOK_SECRET=whsec_... python main.py                # 127.0.0.1:$PORT (3000)
    MENON_WEBHOOK_SECRET=whsec_... uvicorn main:app --port 3000  # the same, uvicorn's CLI

POST /webhooks/menon            verify, deduplicate, answer 200, then do the work
GET  /webhooks/menon/processed  test hook: how often each event's work ran
"""

import asyncio
import logging
import os
import sqlite3
import sys
from typing import Annotated, Any

from fastapi import BackgroundTasks, Depends, FastAPI, Header, HTTPException
from menon_webhooks import EVENT_TYPES
from menon_webhooks.fastapi import verified_event

logging.basicConfig(level=logging.INFO, format="%(levelname)s:     %(message)s")
log = logging.getLogger("menon-example")

SECRET = os.environ.get("MENON_WEBHOOK_SECRET", "")
if not SECRET:
    sys.exit(
        "error: MENON_WEBHOOK_SECRET is not set: export the signing secret (whsec_...) that "
        "Menon returned when the webhook was created"
    )

# Processed events live in SQLite, keyed by the event id. The PRIMARY KEY is what makes
# deduplication safe: INSERT OR IGNORE claims an id atomically, also across several uvicorn
# workers sharing the file and across restarts. One connection, used only from the event
# loop's thread (every endpoint below is `async def`); autocommit, so each statement is its
# own transaction.
db = sqlite3.connect(os.environ.get("DATABASE", "menon-example.db"), isolation_level=None)
db.execute("PRAGMA journal_mode = WAL")  # commits without waiting for fsync...
db.execute("PRAGMA synchronous = NORMAL")  # ...which keeps the answer fast
db.execute(
    """CREATE TABLE IF NOT EXISTS menon_events (
        id TEXT PRIMARY KEY,               -- the envelope's "id": the deduplication key
        type TEXT NOT NULL,
        received_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP,
        processed INTEGER NOT NULL DEFAULT 0  -- times handle() ran (the test hook reports it)
    )"""
)

app = FastAPI(title="Menon webhook receiver")

# The dependency reads the RAW body (`await request.body()`) and verifies those bytes:
# X-Menon-Signature-V2 with its 300 s replay window when present, else X-Menon-Signature.
# Never verify a re-serialized body. A refused delivery gets 401
# {"detail": {"code": "signature_mismatch", "message": "..."}}.
MenonEvent = Annotated[dict[str, Any], Depends(verified_event(SECRET))]


@app.post("/webhooks/menon")
async def menon_webhook(
    event: MenonEvent,
    background: BackgroundTasks,
    x_menon_test: Annotated[str | None, Header()] = None,
) -> dict[str, bool]:
    event_id, event_type = event.get("id"), event.get("type")
    if not isinstance(event_id, str) or not isinstance(event_type, str):
        raise HTTPException(400, detail={"code": "invalid_envelope", "message": "no id or type"})

    # Acknowledge what you do not handle: new event types can appear at any time, and a
    # non-2xx answer only makes Menon retry (and in the end disable the webhook).
    # Test deliveries (the dashboard's Send Test) carry the header `X-Menon-Test: true`.
    if x_menon_test == "true":
        log.info("test event %s (%s) received", event_id, event_type)
        return {"received": True}
    if event_type not in EVENT_TYPES:
        log.info("ignoring event %s of unknown type %s", event_id, event_type)
        return {"received": True}

    # Deliveries are at-least-once, and copies can arrive at the same moment: claim the id
    # before answering. Exactly one copy inserts the row; the others change nothing.
    claimed = db.execute(
        "INSERT OR IGNORE INTO menon_events (id, type) VALUES (?, ?)", (event_id, event_type)
    ).rowcount
    if not claimed:
        log.info("duplicate of %s acknowledged, not processed again", event_id)
        return {"received": True, "duplicate": True}

    # Answer now, work afterwards: background tasks run once the response is sent (and
    # uvicorn waits for them on shutdown). Menon waits at most 10 s for an answer.
    background.add_task(handle, event)
    return {"received": True}


ACTIONS = {
    "listing": "refresh the search index",
    "message": "notify the seller",
    "conversation": "notify the seller",
    "inquiry": "update the lead in the CRM",
    "subscription": "update the plan",
    "payment": "update the books",
    "invoice": "update the books",
    "user": "sync the account",
}


async def handle(event: dict[str, Any]) -> None:
    """The slow part: whatever your application does with an event."""
    await asyncio.sleep(0.2)  # stands in for real work
    group = event["type"].split(".")[0]
    log.info("%s %s: %s", event["type"], event["id"], ACTIONS.get(group, "log it"))
    db.execute("UPDATE menon_events SET processed = processed + 1 WHERE id = ?", (event["id"],))


@app.get("/webhooks/menon/processed")
async def processed() -> dict[str, dict[str, int]]:
    """Test hook for `menon-harness grade --probe`: leave it out of a real deployment."""
    rows = db.execute("SELECT id, processed FROM menon_events WHERE processed > 0")
    return {"processed": dict(rows.fetchall())}


if __name__ == "__main__":
    import uvicorn

    uvicorn.run(app, host="127.0.0.1", port=int(os.environ.get("PORT", "3000")))
