"""The signed-in person's own page: name, e-mail, language, teams and roles."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import i18n

from ..models import Membership
from ..services import people


class ProfileForm(forms.ModelForm):
    first_name = forms.CharField(label=gettext_lazy("First name"), max_length=150, required=False)
    last_name = forms.CharField(label=gettext_lazy("Last name"), max_length=150, required=False)
    email = forms.EmailField(label=gettext_lazy("E-mail"), required=False)

    class Meta:
        model = get_user_model()
        fields = ["first_name", "last_name", "email"]


def set_language(request: HttpRequest) -> HttpResponse:
    """Django's ``set_language`` (the cookie, the redirect back); a logged-in person's choice
    is also kept on their account, so their other browsers and e-mails follow it."""
    response = i18n.set_language(request)
    code = request.POST.get("language", "")
    if request.method == "POST" and request.user.is_authenticated and code:
        people.set_language(request.user, code)
    return response


@login_required
def profile(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        form = ProfileForm(request.POST, instance=request.user)
        if form.is_valid():
            form.save()
            messages.success(request, _("Your profile was saved."))
            return redirect("profile")
    else:
        form = ProfileForm(instance=request.user)
    memberships = (
        Membership.objects.filter(user_id=int(request.user.pk or 0))
        .select_related("team")
        .order_by("team__name")
    )
    return render(request, "accounts/profile.html", {"form": form, "memberships": memberships})
