"""`{% finance_dashboard %}`: the finance figures on the admin index, for staff allowed to see them."""
from django import template

from wallets import replica
from wallets.backoffice import dashboard

register = template.Library()


@register.inclusion_tag("admin/backoffice/dashboard.html", takes_context=True)
def finance_dashboard(context):
    request = context.get("request")
    if request is None:
        return {"board": None}
    # Counts and totals a moment old are fine here; the user and permissions were read by the page.
    return {"board": replica.with_lag(lambda: dashboard(request.user), request)}
