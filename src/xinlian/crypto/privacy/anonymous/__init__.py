"""Anonymous transfers (issue #18 item 2; docs/privacy.md, section Anonymous transfers):
notes with the spender hidden in a ring of notes, linkable key images against double
spends, receivers behind one-time keys and hidden in a set of registered addresses,
amounts in Pedersen commitments with one aggregated Bulletproofs range proof, and every
sender, receiver and amount escrowed to the regulator's t-of-n key. Same groups
(ristretto255, SM2), generators and regulator key as confidential transfers.

    from xinlian.crypto.privacy.anonymous import (
        keygen, prove_registration, verify_registration,      # keys.py
        build_shield, build_transfer, Statement, verify_transfer,
        range_item, batch_verify_ranges, batch_verify,        # transfer.py
        scan,                                                 # keys.py: OwnedNote.key_image
        regulator_ciphertexts, decryption_shares, verify_shares, open_transfer,  # opening.py
        request_opening, verify_request, OpenRequest,        # opening.py, blinded
    )

A chain stores Notes (records.Note), resolves each spend's ring and each output's
receiver set into a `Statement`, verifies, refuses key images it has seen (the transfer
itself refuses two spends of one note) and appends the output notes. Errors are
errors.AnonymousError (8820-8827), a ConfidentialError.
"""

from xinlian.crypto.privacy.anonymous.errors import (
    AmountOverflowError,
    AnonymousError,
    BadRingError,
    InvalidTransferProofError,
    MalformedTransferError,
    NotEnoughSharesError,
    RangeProofError,
    StatementError,
)
from xinlian.crypto.privacy.anonymous.keys import (
    Keys,
    OwnedNote,
    keygen,
    prove_registration,
    scan,
    verify_registration,
)
from xinlian.crypto.privacy.anonymous.opening import (
    Opening,
    OpenRequest,
    RegulatorCiphertext,
    decryption_shares,
    open_transfer,
    regulator_ciphertexts,
    request_opening,
    verify_request,
    verify_shares,
)
from xinlian.crypto.privacy.anonymous.records import Address, Note, Output, Spend, Transfer
from xinlian.crypto.privacy.anonymous.transfer import (
    MAX_INPUTS,
    MAX_OUTPUTS,
    MAX_RECEIVERS,
    MAX_RING,
    Statement,
    batch_verify,
    batch_verify_ranges,
    build_shield,
    build_transfer,
    range_item,
    verify_transfer,
)

__all__ = [
    "MAX_INPUTS",
    "MAX_OUTPUTS",
    "MAX_RECEIVERS",
    "MAX_RING",
    "Address",
    "AmountOverflowError",
    "AnonymousError",
    "BadRingError",
    "InvalidTransferProofError",
    "Keys",
    "MalformedTransferError",
    "NotEnoughSharesError",
    "Note",
    "OpenRequest",
    "Opening",
    "Output",
    "OwnedNote",
    "RangeProofError",
    "RegulatorCiphertext",
    "Spend",
    "Statement",
    "StatementError",
    "Transfer",
    "batch_verify",
    "batch_verify_ranges",
    "build_shield",
    "build_transfer",
    "decryption_shares",
    "keygen",
    "open_transfer",
    "prove_registration",
    "range_item",
    "regulator_ciphertexts",
    "request_opening",
    "scan",
    "verify_registration",
    "verify_request",
    "verify_shares",
    "verify_transfer",
]
