"""The base views of both dialects, and the principal each dialect's endpoints are for (shared by
every app's API modules).

Every request to an endpoint goes one way: DRF reads the caller with one statement
(`wallets.api.auth`), the handler parses its body once with its input serializer, calls its
service and renders the answer. `Idempotency-Key` is honoured through one hook: after DRF's
`initial()` (authentication, permissions, throttles), a POST or PATCH with the header has its
handler wrapped by `wallets.api.idempotency.run_idempotent` for this request; DRF's `dispatch`
itself is unchanged. Whether the keyed request runs in one transaction or in phases is read off
the service the view names (`service`, marked by `wallets.recovery.calls_out`).
"""
from rest_framework.views import APIView

from wallets.api.auth import IsEndUser, TmrScope, WebuddyScope
from wallets.api.idempotency import HEADER, METHODS, run_idempotent
from wallets.recovery import NO_RECOVERY, runs_in_phases


class ApiView(APIView):
    # Sign-up and token views answer anonymous callers and return secrets: no stored replays there.
    idempotent = True
    # The service the POST or PATCH handler calls, when it calls out (`wallets.recovery.calls_out`):
    # the handler calls it as `self.service(...)`, and a keyed request runs in its phases.
    service = None

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        request.recovery = NO_RECOVERY
        key = request.headers.get(HEADER)
        name = request.method.lower()
        if key is not None and request.method in METHODS and self.idempotent and hasattr(self, name):
            handler = getattr(self, name)
            phased = runs_in_phases(self.service)
            # The view instance serves this one request, so the wrapped handler is this request's.
            setattr(self, name, lambda request, *a, **kw: run_idempotent(
                self, request, key, lambda: handler(request, *a, **kw), phased=phased))


class WebuddyView(ApiView):
    """`/v1`: a partner backend with an API key of a `webuddy`-dialect tenant."""

    permission_classes = [WebuddyScope]
    schema_auth = [{"ApiKey": []}]


class TmrKeyView(ApiView):
    """`/api/v1/wallet/escrow/...`: the orders service with an API key of a `tmr`-dialect tenant."""

    permission_classes = [TmrScope]
    schema_auth = [{"ApiKey": []}]


class UserView(ApiView):
    """`/api/v1/wallet...`: a TMR Land user signed in with a JWT."""

    permission_classes = [IsEndUser]
    schema_auth = [{"jwtAuth": []}]
