"""The base views of both dialects, and the principal each dialect's endpoints are for (shared by
every app's API modules).

`Idempotency-Key` is honoured through one hook: after DRF's `initial()` (authentication,
permissions, throttles), a POST or PATCH with the header has its handler wrapped by
`wallets.api.idempotency.run_idempotent` for this request; DRF's `dispatch` itself is unchanged.
"""
from rest_framework.views import APIView

from wallets.api.auth import IsEndUser, TmrScope, WebuddyScope
from wallets.api.idempotency import HEADER, METHODS, run_idempotent
from wallets.api.lean import lean_view
from wallets.recovery import NO_RECOVERY


class ApiView(APIView):
    # Sign-up and token views answer anonymous callers and return secrets: no stored replays there.
    idempotent = True
    # Handlers whose services call a gateway run in phases that commit on their own (no transaction
    # around the handler); see wallets.recovery.
    calls_out = False
    # The hot method's lean path (wallets.api.lean.LeanRoute), tried before DRF; None: DRF only.
    lean = None

    @classmethod
    def as_view(cls, **initkwargs):
        view = super().as_view(**initkwargs)
        return view if cls.lean is None else lean_view(cls.lean, view)

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        request.recovery = NO_RECOVERY
        key = request.headers.get(HEADER)
        name = request.method.lower()
        if key is not None and request.method in METHODS and self.idempotent and hasattr(self, name):
            handler = getattr(self, name)
            # The view instance serves this one request, so the wrapped handler is this request's.
            setattr(self, name, lambda request, *a, **kw: run_idempotent(self, request, key, lambda: handler(request, *a, **kw)))


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
