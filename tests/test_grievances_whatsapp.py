"""A grievance on the production path: a citizen reports a pothole over signed webhooks with a
pin and a photo (fetched from the Graph API, checked and kept encrypted, linked to the case);
an officer of the right department sees it, downloads the photo, starts work and resolves it
with an "after" photo over the REST API; the citizen gets the resolution, the photo, and a
button to rate it, rates it, and the office's statistics show the rating. Files Mitra cannot
keep are refused in the chat, politely, and change nothing."""

from __future__ import annotations

import base64
import re
from typing import Any

from mitra import media
from mitra.cases import apikeys
from mitra.whatsapp.graph import GraphClient
from tests.conftest import ACCESS_TOKEN, PHONE_NUMBER_ID
from tests.harness import GRAPH_BASE, Chat, body_text, choices, eventually, running_mitra
from tests.test_catalogue_whatsapp import JPEG, media_spec

CITIZEN = "919700555001"
AFTER = b"\xff\xd8\xff\xe0\x00\x10JFIF" + b"fixed road " * 300
GRIEVANCE = re.compile(r"GRV-MUN-\d{4}-\d{6}-[A-Z]")


async def send(chat: Chat, db: Any, spec: dict[str, Any]) -> str:
    before = len(chat.received(CITIZEN))
    assert (await chat.fake.simulate({"wa_id": CITIZEN, **spec})).status == 200
    await chat.settled(db)
    replies = chat.received(CITIZEN)[before:]
    assert replies, f"no reply to {spec}"
    return "\n".join(body_text(m) + " " + " ".join(i for i, _ in choices(m)) for m in replies)


def key(db: Any, department: str) -> dict[str, str]:
    made = apikeys.create_key(
        db, f"{department} officers", department, ["cases:read", "cases:write"]
    )
    db.commit()
    return {"Authorization": f"Bearer {made}"}


async def test_a_pothole_from_photo_to_rating(settings: Any, db: Any) -> None:
    mun, eng = key(db, "MUN"), key(db, "ENG")
    async with running_mitra(settings) as chat:
        await send(chat, db, {"text": "Hi"})
        await send(chat, db, {"reply_id": "lang:en", "reply_title": "English", "list": False})
        assert "Where is the problem" in await send(chat, db, {"text": "MUN-25"})
        said = await send(chat, db, {"location": {"latitude": 16.243, "longitude": 80.64}})
        assert "Describe the damage" in said
        said = await send(chat, db, {"text": "Deep pothole at the school gate"})
        assert "Send a photo" in said
        # Files Mitra cannot keep: refused, and the step asked again.
        refused = await send(chat, db, {"media": media_spec("image", "wrong_type")})
        assert "cannot be taken" in refused and "Send a photo" in refused
        gone = await send(chat, db, {"media": media_spec("image", "expired")})
        assert "could not be fetched" in gone
        assert db.execute("SELECT count(*) AS n FROM media").fetchone()["n"] == 0
        said = await send(chat, db, {"media": media_spec("image", None)})
        assert "Photo 1 of 3 kept" in said
        said = await send(chat, db, {"reply_id": "opt:photos:done", "reply_title": "Done"})
        assert "Photos: 1" in said and "Tenali" in said
        said = await send(chat, db, {"reply_id": "opt:confirm:yes", "reply_title": "Yes"})
        found = GRIEVANCE.search(said)
        assert found is not None and "Tenali Village Secretariat" in said
        reference = found.group(0)

        # The photo was downloaded, checked and kept encrypted, and is the case's now.
        row = db.execute(
            "SELECT m.id, m.data_enc, m.sha256, c.reference FROM media m"
            " JOIN cases c ON c.id = m.case_id"
        ).fetchone()
        db.commit()
        assert row["reference"] == reference
        assert JPEG not in bytes(row["data_enc"])
        cipher = chat.worker.cipher
        assert cipher.decrypt_bytes(bytes(row["data_enc"]), context=b"media") == JPEG

        # The municipal officer sees it and its photo; the electricity department does not.
        http = chat.mitra_http
        case = (await http.get(f"/api/v1/cases/{reference}", headers=mun)).json()
        assert case["pattern"] == "grievance" and case["priority"] == "normal"
        assert case["actions"] == ["start", "resolve", "reject"]
        [photo] = case["attachments"]
        got = await http.get(f"/api/v1/cases/{reference}/attachments/{photo['id']}", headers=mun)
        assert got.status_code == 200 and got.content == JPEG
        assert got.headers["content-type"] == "image/jpeg"
        assert (await http.get(f"/api/v1/cases/{reference}", headers=eng)).status_code == 404
        other = await http.get(f"/api/v1/cases/{reference}/attachments/{photo['id']}", headers=eng)
        assert other.status_code == 404

        # Bad requests change nothing: no note, a photo on the wrong action, not base64.
        url = f"/api/v1/cases/{reference}/actions"
        assert (await http.post(url, json={"action": "resolve"}, headers=mun)).status_code == 422
        wrong = {"action": "start", "photo": {"mime_type": "image/jpeg", "data_base64": "AAAA"}}
        assert (await http.post(url, json=wrong, headers=mun)).status_code == 422
        junk = {
            "action": "resolve",
            "note": "x",
            "photo": {"mime_type": "image/jpeg", "data_base64": "%%%"},
        }
        assert (await http.post(url, json=junk, headers=mun)).status_code == 422
        assert (await http.get(f"/api/v1/cases/{reference}", headers=mun)).json()[
            "status"
        ] == "registered"

        before = len(chat.received(CITIZEN))
        started = await http.post(
            url, json={"action": "start", "officer": "R. Prasad"}, headers=mun
        )
        assert started.json()["status"] == "in_progress"
        resolution = {
            "action": "resolve",
            "officer": "R. Prasad",
            "note": "Pothole filled and the patch relaid on 21 Nov.",
            "photo": {"mime_type": "image/jpeg", "data_base64": base64.b64encode(AFTER).decode()},
        }
        resolved = await http.post(url, json=resolution, headers=mun)
        assert resolved.status_code == 200, resolved.text
        assert resolved.json()["status"] == "resolved"
        await eventually(
            lambda: any(m.body.get("type") == "image" for m in chat.received(CITIZEN)[before:]),
            what="the after photo",
        )
        await chat.settled(db)
        told = chat.received(CITIZEN)[before:]
        assert "being worked on" in body_text(told[0])
        assert "Pothole filled" in body_text(told[1])
        assert (f"svc:GEN-11:{reference}", "Rate or reopen") in choices(told[1])
        image = next(m for m in told if m.body.get("type") == "image")
        assert reference in image.body["image"]["caption"]
        graph = GraphClient(GRAPH_BASE, ACCESS_TOKEN, PHONE_NUMBER_ID, [chat.graph_http])
        assert (await media.fetch(graph, image.body["image"]["id"])).data == AFTER

        # The citizen rates it from the button; the office's statistics show it.
        said = await send(
            chat, db, {"reply_id": f"svc:GEN-11:{reference}", "reply_title": "Rate or reopen"}
        )
        assert "Pothole filled" in said and "Is the problem fixed" in said
        said = await send(chat, db, {"reply_id": "opt:fixed:yes", "reply_title": "Yes, fixed"})
        assert "opt:rating:5" in said
        assert "Anything to tell" in await send(
            chat, db, {"reply_id": "opt:rating:5", "reply_title": "★★★★★ Excellent"}
        )
        said = await send(chat, db, {"text": "Done in two days, thank you"})
        assert "You rated" in said and "closed" in said
        stats = (await http.get("/api/v1/stats/grievances", headers=mun)).json()["offices"]
        [office] = [o for o in stats if o["office_id"] == "VS-GNT0201"]
        assert (office["rated"], office["average"], office["stars"]["5"]) == (1, 5.0, 1)
        detail = (await http.get(f"/api/v1/cases/{reference}", headers=mun)).json()
        assert detail["status"] == "closed" and detail["feedback"] == "Done in two days, thank you"
        # And its status, asked as any citizen would, is Mitra's own record.
        await send(chat, db, {"text": "GEN-02"})
        said = await send(chat, db, {"text": reference})
        assert "Closed" in said and "Pothole / road damage" in said
        assert "What was done: Pothole filled" in said and "Your rating: 5/5" in said
