"""WhatsApp Cloud API limits: the one place that knows them (shared/WHATSAPP.md, "Limits").

Lengths are counted in Unicode code points, i.e. Python's `len`. A Telugu string counts the
same way: every vowel sign and virama is a code point of its own, so a Telugu title reaches a
limit sooner than it looks on screen. Sizes are in bytes.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

# Message bodies.
TEXT_BODY: Final = 4096
INTERACTIVE_BODY: Final = 1024
CAPTION: Final = 1024  # (?) not confirmed on Meta's own pages

# Interactive header and footer (list, reply buttons, cta_url).
HEADER_TEXT: Final = 60
FOOTER_TEXT: Final = 60

# List messages.
LIST_ROWS_MIN: Final = 1
LIST_ROWS_MAX: Final = 10  # in total, across all sections
LIST_SECTIONS_MAX: Final = 10
LIST_BUTTON: Final = 20  # the label of the button that opens the menu
SECTION_TITLE: Final = 24
ROW_ID: Final = 200
ROW_TITLE: Final = 24
ROW_DESCRIPTION: Final = 72

# Reply buttons.
REPLY_BUTTONS_MIN: Final = 1
REPLY_BUTTONS_MAX: Final = 3
BUTTON_TITLE: Final = 20
BUTTON_ID: Final = 256

# Link (cta_url) button.
CTA_DISPLAY_TEXT: Final = 20

# Templates.
TEMPLATE_NAME: Final = 512

# Echoed back on every status of the message as `biz_opaque_callback_data`.
CALLBACK_DATA: Final = 512

# Media sizes.
_MB: Final = 1024 * 1024
IMAGE_BYTES: Final = 5 * _MB
DOCUMENT_BYTES: Final = 100 * _MB
AUDIO_BYTES: Final = 16 * _MB
VIDEO_BYTES: Final = 16 * _MB
MEDIA_BYTES: Final[Mapping[str, int]] = MappingProxyType(
    {"image": IMAGE_BYTES, "document": DOCUMENT_BYTES, "audio": AUDIO_BYTES, "video": VIDEO_BYTES}
)
IMAGE_MIME_TYPES: Final = frozenset({"image/jpeg", "image/png"})

# Webhooks.
WEBHOOK_BODY_BYTES: Final = 3 * _MB
WEBHOOK_UPDATES_PER_POST_MAX: Final = 1000
