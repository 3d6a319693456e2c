"""`GET /healthz`: the process is up and the database answers. `GET /readyz`: it may take traffic
(the database answers and every migration this code knows is applied). `GET /metrics`: Prometheus,
only for the addresses in METRICS_ALLOWED_IPS (anyone else gets 404)."""
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connection, connections
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpResponse, JsonResponse
from django.views.decorators.http import require_GET

from wallets.api.errors import not_found_view
from wallets.metrics import exposition
from wallets.network import client_ip, is_within


def _database_answers() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError:
        return False
    return True


@require_GET
def healthz(request):
    if not _database_answers():
        return JsonResponse({"status": "unavailable"}, status=503)
    return JsonResponse({"status": "ok"})


_migrated = False  # once every migration is applied it stays so: later checks skip the migration graph


def _pending_migrations() -> list[str]:
    executor = MigrationExecutor(connections[DEFAULT_DB_ALIAS])
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    return [f"{migration.app_label}.{migration.name}" for migration, _ in plan]


@require_GET
def readyz(request):
    global _migrated
    if not _database_answers():
        return JsonResponse({"status": "unavailable", "reason": "the database does not answer"}, status=503)
    if not _migrated:
        try:
            pending = _pending_migrations()
        except DatabaseError:
            return JsonResponse({"status": "unavailable", "reason": "the database does not answer"}, status=503)
        if pending:
            return JsonResponse({"status": "unavailable", "reason": f"{len(pending)} migration(s) not applied",
                                 "pending": pending[:20]}, status=503)
        _migrated = True
    return JsonResponse({"status": "ok"})


@require_GET
def metrics(request):
    if not settings.METRICS_ALLOWED_IPS or not is_within(client_ip(request), settings.METRICS_ALLOWED_IPS):
        return not_found_view(request)
    body, content_type = exposition()
    return HttpResponse(body, content_type=content_type)
