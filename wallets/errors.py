"""Domain errors: every refusal a service can make, with the API code and HTTP status it maps to.

Services raise `DomainError`; they never raise DRF exceptions. The API exception handler renders
them as `{"code", "message"[, "fields"]}` in both dialects.
"""
from enum import Enum


class ErrorCode(str, Enum):
    VALIDATION_ERROR = "validation_error"
    CURRENCY_NOT_SUPPORTED = "currency_not_supported"
    INSUFFICIENT_BALANCE = "insufficient_balance"
    INSUFFICIENT_HELD = "insufficient_held_balance"
    CAPTURE_EXCEEDS_HOLD = "capture_exceeds_hold"
    HOLD_NOT_ACTIVE = "hold_not_active"
    HOLD_NOT_FOUND = "hold_not_found"
    WALLET_SUSPENDED = "wallet_suspended"
    WALLET_NOT_FOUND = "wallet_not_found"
    WALLET_EXISTS = "wallet_exists"
    ACCOUNT_NOT_FOUND = "account_not_found"
    CURRENCY_MISMATCH = "currency_mismatch"
    UNBALANCED_TRANSACTION = "unbalanced_transaction"
    TRANSACTION_NOT_FOUND = "transaction_not_found"
    ALREADY_REVERSED = "already_reversed"
    DUPLICATE_EXTERNAL_KEY = "duplicate_external_key"
    USER_NOT_FOUND = "user_not_found"
    NOT_AUTHENTICATED = "not_authenticated"
    PERMISSION_DENIED = "permission_denied"
    NOT_FOUND = "not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    MALFORMED_JSON = "malformed_json"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    RATE_LIMITED = "rate_limited"
    IDEMPOTENCY_KEY_REUSED = "idempotency_key_reused"
    IDEMPOTENCY_KEY_IN_USE = "idempotency_key_in_use"
    IDEMPOTENCY_KEY_INVALID = "idempotency_key_invalid"
    PHONE_NUMBER_TAKEN = "phone_number_taken"
    CREDIT_IN_USE = "credit_in_use"
    EXPERT_NOT_FOUND = "expert_not_found"
    EXPERT_MISMATCH = "expert_mismatch"
    SESSION_NOT_FOUND = "session_not_found"
    SESSION_NOT_ACTIVE = "session_not_active"
    BANK_ACCOUNT_NOT_FOUND = "bank_account_not_found"
    BANK_ACCOUNT_EXISTS = "bank_account_exists"
    PAYOUT_ALREADY_EXISTS = "payout_already_exists"
    PAYOUT_NOT_FOUND = "payout_not_found"
    PAYOUT_NOT_RETRYABLE = "payout_not_retryable"
    MONTH_NOT_ENDED = "month_not_ended"
    PAYMENT_FAILED = "payment_failed"
    RECHARGE_NOT_FOUND = "recharge_not_found"
    INVALID_SIGNATURE = "invalid_signature"
    PAYMENT_MISMATCH = "payment_mismatch"
    PAYMENT_NOT_CAPTURED = "payment_not_captured"
    GATEWAY_UNAVAILABLE = "gateway_unavailable"
    STRIPE_ACCOUNT_REQUIRED = "stripe_account_required"
    EVENT_NOT_FOUND = "event_not_found"
    WEBHOOK_ENDPOINT_NOT_FOUND = "webhook_endpoint_not_found"
    MONITOR_NOT_FOUND = "monitor_not_found"
    LIMIT_REACHED = "limit_reached"
    USERNAME_TAKEN = "username_taken"
    KYC_ALREADY_SUBMITTED = "kyc_already_submitted"
    KYC_NOT_FOUND = "kyc_not_found"
    KYC_NOT_PENDING = "kyc_not_pending"
    ORDER_ALREADY_EXISTS = "order_already_exists"
    ORDER_NOT_FOUND = "order_not_found"
    ORDER_NOT_FROZEN = "order_not_frozen"
    SERVER_ERROR = "server_error"


DEFAULT_STATUS: dict[ErrorCode, int] = {
    ErrorCode.VALIDATION_ERROR: 400,
    ErrorCode.CURRENCY_NOT_SUPPORTED: 400,
    ErrorCode.INSUFFICIENT_BALANCE: 400,
    ErrorCode.INSUFFICIENT_HELD: 400,
    ErrorCode.CAPTURE_EXCEEDS_HOLD: 400,
    ErrorCode.HOLD_NOT_ACTIVE: 409,
    ErrorCode.HOLD_NOT_FOUND: 404,
    ErrorCode.WALLET_SUSPENDED: 403,
    ErrorCode.WALLET_NOT_FOUND: 404,
    ErrorCode.WALLET_EXISTS: 409,
    ErrorCode.ACCOUNT_NOT_FOUND: 404,
    ErrorCode.CURRENCY_MISMATCH: 400,
    ErrorCode.UNBALANCED_TRANSACTION: 400,
    ErrorCode.TRANSACTION_NOT_FOUND: 404,
    ErrorCode.ALREADY_REVERSED: 409,
    ErrorCode.DUPLICATE_EXTERNAL_KEY: 409,
    ErrorCode.USER_NOT_FOUND: 404,
    ErrorCode.NOT_AUTHENTICATED: 401,
    ErrorCode.PERMISSION_DENIED: 403,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.METHOD_NOT_ALLOWED: 405,
    ErrorCode.MALFORMED_JSON: 400,
    ErrorCode.PAYLOAD_TOO_LARGE: 413,
    ErrorCode.UNSUPPORTED_MEDIA_TYPE: 415,
    ErrorCode.RATE_LIMITED: 429,
    ErrorCode.IDEMPOTENCY_KEY_REUSED: 422,
    ErrorCode.IDEMPOTENCY_KEY_IN_USE: 409,
    ErrorCode.IDEMPOTENCY_KEY_INVALID: 400,
    ErrorCode.PHONE_NUMBER_TAKEN: 409,
    ErrorCode.CREDIT_IN_USE: 409,
    ErrorCode.EXPERT_NOT_FOUND: 404,
    ErrorCode.EXPERT_MISMATCH: 400,
    ErrorCode.SESSION_NOT_FOUND: 404,
    ErrorCode.SESSION_NOT_ACTIVE: 409,
    ErrorCode.BANK_ACCOUNT_NOT_FOUND: 400,
    ErrorCode.BANK_ACCOUNT_EXISTS: 409,
    ErrorCode.PAYOUT_ALREADY_EXISTS: 409,
    ErrorCode.PAYOUT_NOT_FOUND: 404,
    ErrorCode.PAYOUT_NOT_RETRYABLE: 409,
    ErrorCode.MONTH_NOT_ENDED: 400,
    ErrorCode.PAYMENT_FAILED: 402,
    ErrorCode.RECHARGE_NOT_FOUND: 404,
    ErrorCode.INVALID_SIGNATURE: 400,
    ErrorCode.PAYMENT_MISMATCH: 400,
    ErrorCode.PAYMENT_NOT_CAPTURED: 409,
    ErrorCode.GATEWAY_UNAVAILABLE: 502,
    ErrorCode.STRIPE_ACCOUNT_REQUIRED: 400,
    ErrorCode.EVENT_NOT_FOUND: 404,
    ErrorCode.WEBHOOK_ENDPOINT_NOT_FOUND: 404,
    ErrorCode.MONITOR_NOT_FOUND: 404,
    ErrorCode.LIMIT_REACHED: 409,
    ErrorCode.USERNAME_TAKEN: 409,
    ErrorCode.KYC_ALREADY_SUBMITTED: 409,
    ErrorCode.KYC_NOT_FOUND: 404,
    ErrorCode.KYC_NOT_PENDING: 409,
    ErrorCode.ORDER_ALREADY_EXISTS: 409,
    ErrorCode.ORDER_NOT_FOUND: 404,
    ErrorCode.ORDER_NOT_FROZEN: 409,
    ErrorCode.SERVER_ERROR: 500,
}


class DomainError(Exception):
    """A refusal by the domain: a stable code, a human sentence, and the HTTP status it maps to."""

    def __init__(self, code: ErrorCode, message: str, *, status: int | None = None, fields=None):
        super().__init__(message)
        self.code = ErrorCode(code)
        self.message = message
        self.status = status if status is not None else DEFAULT_STATUS[self.code]
        self.fields = fields

    def __repr__(self) -> str:
        return f"DomainError({self.code.value!r}, {self.message!r})"
