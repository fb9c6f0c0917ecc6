"""The review console: pending diffs side by side, approve / reject, policy editing."""

from __future__ import annotations

from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html
from django.views.decorators.http import require_POST

from syncapp.models import Decision, FieldPolicy, PendingChange, ReviewStatus, SyncPolicy
from syncapp.services import review, review_display
from syncapp.views.links import clockify_url, notion_url

DECISION_FIELD = "_decision"  # the name of the decision buttons in the change form


@admin.register(PendingChange)
class PendingChangeAdmin(admin.ModelAdmin):
    list_display = ("created_at", "reason", "kind", "name", "action", "status", "decided_by",
                    "decided_at")
    list_display_links = ("created_at", "name")
    list_filter = ("status", "kind", "reason")
    search_fields = ("name", "notion_page_id", "clockify_id")
    list_select_related = ("decided_by",)
    actions = ("approve_selected", "reject_selected")
    change_form_template = "admin/syncapp/pendingchange/change_form.html"
    readonly_fields = ("run", "kind", "mapping", "name", "links", "action", "reason",
                       "explanation", "status", "decision", "decided_by", "decided_at",
                       "applied_at", "result", "resolved_by", "created_at")
    # The fingerprint is an internal hash: it identifies the diff, it tells a person nothing.
    exclude = ("diff", "candidates", "notion_page_id", "clockify_id", "apply_started_at",
               "fingerprint")

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="Open in")
    def links(self, obj: PendingChange):
        notion = format_html('<a href="{}" rel="noopener">Notion page</a>',
                             notion_url(obj.notion_page_id)) if obj.notion_page_id else ""
        clockify = format_html(' · <a href="{}" rel="noopener">Clockify</a>',
                               clockify_url(obj.kind, obj.clockify_id)) if obj.clockify_id else ""
        return format_html("{}{}", notion, clockify)

    def get_urls(self):
        decide = self.admin_site.admin_view(self.decide_view)
        return [path("<int:pk>/decide/", decide, name="syncapp_pendingchange_decide"),
                *super().get_urls()]

    def changelist_view(self, request, extra_context=None):
        extra_context = {"title": "Review queue: choose an item to decide",
                         **(extra_context or {})}
        return super().changelist_view(request, extra_context)

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        # The decision buttons are submit buttons of this change form (a <form> nested in
        # it would be ignored by the browser): the chosen one arrives as DECISION_FIELD.
        if request.method == "POST" and str(object_id or "").isdigit() \
                and DECISION_FIELD in request.POST:
            return _decide_post(request, int(object_id), self, DECISION_FIELD)
        return super().changeform_view(request, object_id, form_url, extra_context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        pending = get_object_or_404(PendingChange, pk=object_id)
        extra_context = {**(extra_context or {}), "pending": pending,
                         "title": str(pending), "item": review_display.describe(pending),
                         "decision_field": DECISION_FIELD,
                         "can_decide": pending.status == ReviewStatus.PENDING
                         and self.has_change_permission(request, pending),
                         "decisions": self._decisions(pending)}
        return super().change_view(request, object_id, form_url, extra_context)

    @staticmethod
    def _decisions(pending: PendingChange) -> list[tuple[str, str]]:
        return [(c.decision, f"{c.label} — {c.effect}" if c.decision != Decision.REJECT
                 else c.label) for c in review_display.choices(pending)]

    def _decide(self, request: HttpRequest, pending: PendingChange, decision: str) -> bool:
        done = review.decide(pending.pk, request.user, decision)
        if done:  # the admin's history shows who decided what, and when
            self.log_change(request, pending, f"Review decision: {decision}")
        return done

    def decide_view(self, request: HttpRequest, pk: int):
        return _decide_post(request, pk, self)

    @admin.action(description="Approve selected pending changes", permissions=["change"])
    def approve_selected(self, request, queryset):
        self._bulk(request, queryset, Decision.APPROVE)

    @admin.action(description="Reject selected pending changes", permissions=["change"])
    def reject_selected(self, request, queryset):
        self._bulk(request, queryset, Decision.REJECT)

    def _bulk(self, request, queryset, decision: str) -> None:
        decided = sum(self._decide(request, p, decision)
                      for p in queryset.filter(status=ReviewStatus.PENDING))
        self.message_user(request, f"{decided} pending change(s): {decision}.", messages.SUCCESS)


@require_POST
def _decide_post(request: HttpRequest, pk: int, model_admin: PendingChangeAdmin,
                 field: str = "decision"):
    pending = get_object_or_404(PendingChange, pk=pk)
    if not model_admin.has_change_permission(request, pending):
        messages.error(request, "You may not decide pending changes.")
    else:
        decision = request.POST.get(field, "")
        if decision not in Decision.values:
            messages.error(request, "Unknown decision.")
        elif model_admin._decide(request, pending, decision):
            messages.success(request, f"Decision recorded: {Decision(decision).label}.")
        else:
            messages.warning(request, "This change was already decided.")
    return HttpResponseRedirect(reverse("admin:syncapp_pendingchange_change", args=[pk]))


@admin.register(SyncPolicy)
class SyncPolicyAdmin(admin.ModelAdmin):
    list_display = ("__str__", "archives_need_review", "name_matching", "mass_change_percent",
                    "mass_change_count")

    def has_add_permission(self, request):
        return not SyncPolicy.objects.exists()


@admin.register(FieldPolicy)
class FieldPolicyAdmin(admin.ModelAdmin):
    list_display = ("kind", "field", "direction", "on_conflict")
    list_editable = ("direction", "on_conflict")
    list_filter = ("kind",)
