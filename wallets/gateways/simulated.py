"""The simulated gateway: every order is paid and every payout made at once, with no network
(`PAYMENTS_MODE=simulated`, the TMR Land MVP and local development)."""
import uuid

from wallets.gateways import GatewayOrder, GatewayPayout


class SimulatedGateway:
    def __init__(self, method: str):
        self.method = method
        self._prefix = "sim_rzp" if method == "RAZORPAY" else "sim_stripe"

    def create_order(self, *, reference, amount, currency, idempotency_key, metadata=None):
        token = uuid.uuid5(uuid.NAMESPACE_URL, f"order:{idempotency_key}").hex[:16]
        return GatewayOrder(
            status="succeeded",
            provider_order_id=f"{self._prefix}_order_{token}",
            provider_payment_id=f"{self._prefix}_pay_{token}",
        )

    def create_payout(self, *, reference, amount, currency, destination, idempotency_key):
        token = uuid.uuid5(uuid.NAMESPACE_URL, f"payout:{idempotency_key}").hex[:16]
        return GatewayPayout(status="paid", provider_payout_id=f"{self._prefix}_payout_{token}")
