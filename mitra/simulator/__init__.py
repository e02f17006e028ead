"""The citizen simulator: WhatsApp as a citizen sees it, without a phone or a Meta account.

`/simulator` is a WhatsApp-like web chat (several citizens side by side) and `mitra chat` its
terminal twin. Both drive the real pipeline through the fake Graph API: what a simulated
citizen does becomes a signed webhook, and Mitra's replies reach them through the Graph API
calls it makes in production. See docs/decisions/0010-citizen-simulator.md.
"""

# A simulated citizen's WhatsApp id: their number in international form, digits only.
WA_ID = r"^[1-9][0-9]{7,14}$"
