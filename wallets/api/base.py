"""The base views of both dialects: DRF's APIView with `Idempotency-Key` honoured on POST and PATCH,
and the principal each dialect's endpoints are for (shared by every app's API modules)."""
from rest_framework.views import APIView

from wallets.api.auth import IsEndUser, TmrScope, WebuddyScope
from wallets.api.idempotency import HEADER, METHODS, run_idempotent


class ApiView(APIView):
    # Sign-up and token views answer anonymous callers and return secrets: no stored replays there.
    idempotent = True

    def dispatch(self, request, *args, **kwargs):
        # DRF's dispatch, with the handler call wrapped by the idempotency store when a key is sent.
        self.args = args
        self.kwargs = kwargs
        request = self.initialize_request(request, *args, **kwargs)
        self.request = request
        self.headers = self.default_response_headers
        try:
            self.initial(request, *args, **kwargs)
            method = request.method.lower()
            handler = getattr(self, method, self.http_method_not_allowed)
            key = request.headers.get(HEADER)
            if key is not None and request.method in METHODS and self.idempotent:
                response = run_idempotent(self, request, key, lambda: handler(request, *args, **kwargs))
            else:
                response = handler(request, *args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - DRF's own contract
            response = self.handle_exception(exc)
        self.response = self.finalize_response(request, response, *args, **kwargs)
        return self.response


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
