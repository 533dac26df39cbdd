"""Execution's typed errors (5xxx): why a transaction failed. They end up in receipts."""

from __future__ import annotations

from xinlian.errors import XinlianError


class ExecutionError(XinlianError):
    code = 5000
    name = "execution_error"


class InsufficientBalance(ExecutionError):
    code = 5001
    name = "insufficient_balance"


class Unauthorised(ExecutionError):
    code = 5002
    name = "unauthorised"


class InvalidOperation(ExecutionError):
    """A well-formed operation that the current state does not allow."""

    code = 5003
    name = "invalid_operation"


class BadPayload(ExecutionError):
    code = 5004
    name = "bad_payload"


class BadAbi(ExecutionError):
    """A deployed or upgraded ABI is not valid JSON of the compiler's ABI shape, or is too
    large."""

    code = 5005
    name = "bad_abi"



class AsyncQueueFull(ExecutionError):
    """A run made more async requests than the block may queue (`Limits.requests_per_block`,
    execution.contracts.engine_runs)."""

    code = 5006
    name = "async_queue_full"


class AsyncTimedOut(ExecutionError):
    """An async request was not delivered within `Limits.timeout_blocks` blocks of its due
    block: its callback ran with the failure, the call itself did not run."""

    code = 5007
    name = "async_timed_out"


class ParallelUnavailable(ExecutionError):
    """A worker could not speculate on a segment of a block (its store does not hold the
    block's base state, or the run failed): the segment runs serially, with the same
    result. Never in a receipt."""

    code = 5090
    name = "parallel_unavailable"


class DataError(ExecutionError):
    """A data transaction (execution/data) that its collection's declaration refuses."""

    code = 5100
    name = "data_error"


class UnknownCollection(DataError):
    code = 5101
    name = "unknown_collection"


class UnknownAttribute(DataError):
    code = 5102
    name = "unknown_attribute"


class WrongKind(DataError):
    """A value that is not of its attribute's kind (or an index choice the kind refuses)."""

    code = 5103
    name = "wrong_kind"


class ValueTooLarge(DataError):
    """A value, record id, name or batch over its limit (execution/data/model.py)."""

    code = 5104
    name = "value_too_large"


class NotWriter(DataError):
    """The sender is not among the collection's writers (nor its owner)."""

    code = 5105
    name = "not_writer"


class BadDeclaration(DataError):
    """A collection declaration that is malformed, or alters one incompatibly."""

    code = 5106
    name = "bad_declaration"


class DataQueryError(DataError):
    """A data query that cannot be asked: an attribute without the index it needs, bounds
    of the wrong kind, a cursor from another query, a page over the limit."""

    code = 5107
    name = "bad_data_query"


class BlobAccessDenied(DataError):
    """A blob request whose signature is missing, bad or expired, or whose signer is not
    among the collection's readers (downloads) or writers (uploads)."""

    code = 5120
    name = "blob_access_denied"


class BindingNotCosigned(ExecutionError):
    """A key binding carries no valid signature of the new key: a binding must be signed by
    both the account's key (the transaction) and the key it binds (the proof)."""

    code = 5200
    name = "binding_not_cosigned"


class InvalidBinding(ExecutionError):
    """A key binding the migration does not allow: no migration scheduled, a key of another
    algorithm than the target suite's, a malformed key, or an account or key bound already."""

    code = 5201
    name = "invalid_binding"


class InvalidSchedule(ExecutionError):
    """A migration schedule that cannot be enacted: an unknown or classical target suite, the
    chain's own suite, a height already reached, an empty window, or one scheduled already."""

    code = 5202
    name = "invalid_schedule"


class ConfidentialUnavailable(ExecutionError):
    """A confidential-account operation on a chain without a regulator key (governance
    sets it: SetRegulator), or a regulator change that would strand existing balances."""

    code = 5300
    name = "confidential_unavailable"


class UnknownConfidentialAccount(ExecutionError):
    """The sender or receiver of a confidential operation has registered no key, or the
    sender registers a second one."""

    code = 5301
    name = "confidential_account_unknown"


class StaleBalance(ExecutionError):
    """A confidential transfer or withdrawal proven against another balance than the
    sender's current one (an incoming transfer landed first): prove again."""

    code = 5302
    name = "confidential_stale_balance"


class NotRegulatorMember(ExecutionError):
    """A decryption share from an account that is not a member of the regulator key."""

    code = 5303
    name = "not_regulator_member"


class NotTraceable(ExecutionError):
    """A decryption share for a transaction that is no confidential transfer, one made
    under an earlier regulator key, one opened already, or a member's second share."""

    code = 5304
    name = "confidential_not_traceable"


class AnonymousError(ExecutionError):
    """An anonymous-note operation (execution/anonymous.py) that the chain refuses."""

    code = 5400
    name = "anonymous_error"


class UnknownNote(AnonymousError):
    """A ring names a note index that is not on chain."""

    code = 5401
    name = "anonymous_unknown_note"


class BadRing(AnonymousError):
    """A ring or a receiver set that is too small, too large or names a member twice, or a
    transfer with no input, too many inputs or outputs."""

    code = 5402
    name = "anonymous_bad_ring"


class ReceiverNotRegistered(AnonymousError):
    """A receiver set names an account that has registered no anonymous address, or an
    account registers a second one."""

    code = 5403
    name = "anonymous_receiver_unknown"


class KeyImageSpent(AnonymousError):
    """A key image spent already (by an earlier transaction, in this block, or twice in
    this one): the note it marks cannot be spent again."""

    code = 5404
    name = "anonymous_double_spend"


class AnonymousOverflow(AnonymousError):
    """An amount, fee or public output that is negative or beyond the notes' range, or
    more than the notes hold together."""

    code = 5405
    name = "anonymous_overflow"


class NoteExists(AnonymousError):
    """An output whose one-time key a stored note has already (a shield or transfer
    submitted again): two notes with one key would share one key image."""

    code = 5406
    name = "anonymous_note_exists"
