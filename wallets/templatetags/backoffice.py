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
    with replica.may_lag():  # counts and totals a moment old are fine here; the user is read already
        return {"board": dashboard(request.user)}
