"""Certificates and letters as signed bilingual PDFs that anyone can verify offline.

- `model`: what a document says (`DocumentFacts`) and the canonical bytes that are signed.
- `pdf`: draws the facts as an English/Telugu A4 PDF with a QR code of the verification URL.
- `container`: where the facts, digest and signature sit inside the PDF.
- `signing`: Ed25519 keys, `sign_pdf`, and `render_signed` (render + sign, the one way to issue).
- `verify`: `verify_pdf` for a file, `verify_facts` for a published signature record.
- `cli`: `verify_command`, the terminal verdict.

docs/verify-a-document.md tells how to check a document without Mitra.
"""

from mitra.documents.model import (
    Bilingual,
    Department,
    DocumentFacts,
    Fact,
    Office,
    Officer,
    canonical_bytes,
    facts_from_dict,
    new_document_id,
)
from mitra.documents.signing import (
    PublicKeys,
    Signer,
    generate_private_key_b64,
    load_signer,
    render_signed,
    sign_pdf,
)
from mitra.documents.verify import (
    SignedFacts,
    Verification,
    signature_of_facts,
    verify_facts,
    verify_pdf,
)

__all__ = [
    "Bilingual",
    "Department",
    "DocumentFacts",
    "Fact",
    "Office",
    "Officer",
    "PublicKeys",
    "SignedFacts",
    "Signer",
    "Verification",
    "canonical_bytes",
    "facts_from_dict",
    "generate_private_key_b64",
    "load_signer",
    "new_document_id",
    "render_signed",
    "sign_pdf",
    "signature_of_facts",
    "verify_facts",
    "verify_pdf",
]
