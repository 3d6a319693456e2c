from config.urls import urlpatterns as base
from tests.api.views import urlpatterns as test_views

urlpatterns = base + test_views
handler400 = "wallets.api.errors.bad_request_view"
handler403 = "wallets.api.errors.forbidden_view"
handler404 = "wallets.api.errors.not_found_view"
handler500 = "wallets.api.errors.server_error_view"
