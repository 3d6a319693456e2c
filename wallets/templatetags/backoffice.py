"""`{% finance_dashboard %}`: the finance figures on the admin index, for staff allowed to see them."""
from django import template

from wallets.backoffice import dashboard

register = template.Library()


@register.inclusion_tag("admin/backoffice/dashboard.html", takes_context=True)
def finance_dashboard(context):
    request = context.get("request")
    return {"board": None if request is None else dashboard(request.user)}
