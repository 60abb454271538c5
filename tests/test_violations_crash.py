"""kill -9 in the middle of officers' decisions: after the restart nothing answered is lost, nothing is done twice.

A real ``bconnect serve`` on SQLite, officers' requests over HTTP, SIGKILL while verifications and actions
(with their hand-over to the sinks) are under way, then a second server on the same database.
"""

from __future__ import annotations

import asyncio
import collections
import signal

import httpx
from support.api_users import make_tokens
from support.violations import DEPLOYMENT

N = 24


async def decide_until_killed(url: str, h: dict[str, str], ids: list[int], server) -> dict[str, set[int]]:
    answered: dict[str, set[int]] = {"verify": set(), "action": set()}
    actions_done = asyncio.Event()

    async def one(client: httpx.AsyncClient, vid: int) -> None:
        try:
            for step in ("verify", "action"):
                r = await client.post(f"{url}/api/violations/{vid}/{step}", json={}, headers=h)
                if r.status_code != 200:
                    return
                answered[step].add(vid)
                if len(answered["action"]) >= N // 3:
                    actions_done.set()
        except httpx.HTTPError:
            return  # the server died under this request: not answered, so not accepted

    async with httpx.AsyncClient(timeout=20) as client:
        tasks = [asyncio.create_task(one(client, vid)) for vid in ids]
        await asyncio.wait_for(actions_done.wait(), 60)
        server.process.send_signal(signal.SIGKILL)
        await asyncio.gather(*tasks)
    return answered


def test_a_kill_during_decisions_loses_nothing_answered_and_repeats_nothing(make_deployment, start_server):
    d = make_deployment(DEPLOYMENT)
    token = make_tokens(d.path, [("ana", "officer", "pemkot")])["ana"]
    h = {"Authorization": f"Bearer {token}"}
    server = start_server(d)
    ids = []
    with httpx.Client(base_url=server.url, headers=h, timeout=20) as client:
        for n in range(N):
            r = client.post("/api/violations", json={"camera": "dcam", "kind": "parking.violation", "plate": f"KT {n} A",
                                                     "wall_time": f"2026-01-05T09:{n:02d}:00Z"})
            assert r.status_code == 201, r.text
            ids.append(r.json()["id"])
    answered = asyncio.run(decide_until_killed(server.url, h, ids, server))
    server.process.wait(10)
    assert server.process.returncode == -signal.SIGKILL
    assert answered["action"], "no action was answered before the kill"

    again = start_server(d)
    with httpx.Client(base_url=again.url, headers=h, timeout=20) as client:
        states = {vid: client.get(f"/api/violations/{vid}").json() for vid in ids}
        events = client.get("/api/events?kind=violation.verified&limit=200").json()["events"]
    for vid in answered["verify"]:
        assert states[vid]["state"] in ("verified", "handed_to_sink"), (vid, states[vid]["state"])
    for vid in answered["action"]:
        assert states[vid]["state"] == "handed_to_sink", (vid, states[vid]["state"])
    assert not [v for v in states.values() if v["state"] == "action_taken"], "a hand-over was left unfinished"
    for vid, v in states.items():
        moves = collections.Counter(t["to"] for t in v["transitions"])
        assert max(moves.values()) == 1, (vid, moves)  # no state entered twice
    print("answered:", {k: len(v) for k, v in answered.items()}, [l for l in again.log().splitlines() if "interrupted" in l])
    handed = sorted(e["detail"]["violation_id"] for e in events)
    assert handed == sorted(vid for vid, v in states.items() if v["state"] == "handed_to_sink")
    steps = {v["ladder_step"] for v in states.values() if v["state"] != "awaiting_review"}
    assert steps == {"teguran"}, steps  # every plate differs: each is a first offence
