"""Accounts and teams: password change, team settings, members, roles, invitations."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse, reverse_lazy
from django.utils import translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from .. import session
from ..actor import Actor
from ..forms import AddMemberForm, InviteForm, RoleForm, TeamForm
from ..models import Invitation, Membership, Role, Team
from ..services import teams as team_service
from .common import actor, team_view


class PasswordChange(auth_views.PasswordChangeView):
    success_url = reverse_lazy("password_change_done")

    def form_valid(self, form):
        response = super().form_valid(form)
        team_service.password_changed(Actor.from_request(self.request))
        return response


@team_view()
def team_settings(request):
    return _settings_page(request)


def _settings_page(request, add_form: AddMemberForm | None = None, status: int = 200):
    """The team page; ``add_form`` is a refused "Create an account" form shown again with
    what was typed (but the password) and its errors."""
    team = request.membership.team
    role = request.membership.role
    manage = role in (Role.OWNER, Role.ADMIN)
    invitations = Invitation.objects.for_user(request.user, min_role=Role.ADMIN).filter(
        team=team, accepted_at__isnull=True, revoked_at__isnull=True
    )
    return render(
        request,
        "studio/team_settings.html",
        {
            "team": team,
            "memberships": Membership.objects.for_user(request.user)
            .filter(team=team)
            .select_related("user")
            .order_by("user__username"),
            "invitations": invitations,
            "can_manage": manage,
            "is_owner": role == Role.OWNER,
            "invite_form": InviteForm(),
            "add_form": add_form or AddMemberForm(),
            "role_choices": Role.choices,
        },
        status=status,
    )


@login_required
@require_POST
def switch(request):
    try:
        team = session.switch_team(request, int(request.POST.get("team", "")))
    except (ValueError, Team.DoesNotExist):
        raise Http404(_("No such team.")) from None
    messages.info(request, _("Switched to %(team)s.") % {"team": team.name})
    target = request.POST.get("next") or reverse("dashboard")
    if not url_has_allowed_host_and_scheme(
        target, {request.get_host()}, require_https=request.is_secure()
    ):
        target = reverse("dashboard")
    return redirect(target)


@login_required
def create(request):
    form = TeamForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        team = team_service.create_team(actor(request), request.user, form.cleaned_data["name"])
        request.session[session.SESSION_KEY] = team.pk
        messages.success(request, _("Team %(team)s created.") % {"team": team.name})
        return redirect("team_settings")
    return render(request, "studio/team_create.html", {"form": form})


@team_view(Role.ADMIN)
@require_POST
def invite(request):
    form = InviteForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("The invitation could not be created: check the fields."))
        return redirect("team_settings")
    try:
        invitation = team_service.invite(
            actor(request),
            request.membership.team,
            request.membership.role,
            form.cleaned_data["role"],
            form.cleaned_data["email"],
        )
    except PermissionDenied as exc:
        messages.error(request, str(exc))
        return redirect("team_settings")
    link = request.build_absolute_uri(reverse("invitation_accept", args=[invitation.token]))
    if team_service.email_invitation(invitation, link, translation.get_language()):
        messages.success(
            request,
            _("Invitation e-mailed to %(email)s. The link also works if you pass it on: %(link)s")
            % {"email": invitation.email, "link": link},
        )
    else:
        messages.success(
            request, _("Invitation created. Send this link: %(link)s") % {"link": link}
        )
    return redirect("team_settings")


@team_view(Role.ADMIN)
@require_POST
def add_member(request):
    """Create an account in the team. A refused form comes back filled in (the password is
    never sent back) with its errors next to the fields."""
    form = AddMemberForm(request.POST)
    if not form.is_valid():
        return _settings_page(request, add_form=form, status=400)
    data = form.cleaned_data
    try:
        team_service.create_member_account(
            actor(request),
            request.membership.team,
            request.membership.role,
            data["username"],
            data["email"],
            data["password"],
            data["role"],
        )
    except (PermissionDenied, ValidationError) as exc:
        form.add_error(None, " ".join(getattr(exc, "messages", [str(exc)])))
        return _settings_page(request, add_form=form, status=400)
    messages.success(request, _("Account %(name)s created.") % {"name": data["username"]})
    return redirect("team_settings")


def _membership_in_current_team(request, pk) -> Membership:
    return get_object_or_404(
        Membership.objects.for_user(request.user).filter(team=request.membership.team), pk=pk
    )


@team_view(Role.ADMIN)
@require_POST
def change_role(request, pk):
    membership = _membership_in_current_team(request, pk)
    form = RoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Unknown role."))
        return redirect("team_settings")
    try:
        team_service.change_role(
            actor(request),
            request.membership.team,
            request.membership.role,
            membership,
            form.cleaned_data["role"],
        )
    except (PermissionDenied, ValidationError) as exc:
        messages.error(request, " ".join(getattr(exc, "messages", [str(exc)])))
        return redirect("team_settings")
    messages.success(
        request,
        _("Role of %(name)s is now %(role)s.")
        % {"name": membership.user.get_username(), "role": membership.get_role_display()},
    )
    return redirect("team_settings")


@team_view()
@require_POST
def remove_member(request, pk):
    membership = _membership_in_current_team(request, pk)
    leaving = membership.user_id == request.user.pk
    try:
        team_service.remove_member(
            actor(request), request.membership.team, request.membership.role, membership
        )
    except (PermissionDenied, ValidationError) as exc:
        if isinstance(exc, PermissionDenied):
            raise
        messages.error(request, " ".join(exc.messages))
        return redirect("team_settings")
    if leaving:
        request.session.pop(session.SESSION_KEY, None)
        messages.success(request, _("You left the team."))
        return redirect("dashboard")
    messages.success(
        request, _("%(name)s was removed from the team.") % {"name": membership.user.get_username()}
    )
    return redirect("team_settings")


@team_view(Role.ADMIN)
@require_POST
def revoke_invitation(request, pk):
    invitation = get_object_or_404(
        Invitation.objects.for_user(request.user, min_role=Role.ADMIN).filter(
            team=request.membership.team
        ),
        pk=pk,
    )
    team_service.revoke_invitation(actor(request), invitation)
    messages.success(request, _("Invitation revoked."))
    return redirect("team_settings")


def accept(request, token):
    """Show the invitation (anyone with the link); joining needs a login and a POST."""
    invitation = Invitation.objects.filter(token=token).select_related("team").first()
    usable = invitation is not None and invitation.is_usable
    if request.method == "POST":
        if not request.user.is_authenticated:
            return redirect(f"{reverse('login')}?next={request.path}")
        try:
            membership = team_service.accept_invitation(actor(request), token)
            request.session[session.SESSION_KEY] = membership.team_id
        except team_service.InvitationUnusable as exc:
            messages.error(request, str(exc))
            return render(
                request,
                "studio/invitation.html",
                {"invitation": invitation, "usable": False},
                status=410,
            )
        messages.success(
            request,
            _("You joined %(team)s as %(role)s.")
            % {"team": membership.team.name, "role": membership.get_role_display()},
        )
        return redirect("dashboard")
    return render(
        request,
        "studio/invitation.html",
        {"invitation": invitation if usable else None, "usable": usable},
        status=200 if usable else 410,
    )
