"""Forms of the platform area."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import get_user_model, password_validation
from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop

from .models import Presenter, Project, Role

# Translators: the suffix Django puts after every form label (Form.label_suffix is
# gettext(":")); kept here so the catalogue holds it. Chinese takes the full-width colon.
LABEL_SUFFIX = gettext_noop(":")


class TeamForm(forms.Form):
    name = forms.CharField(label=_("Team name"), max_length=120)


ROLE_CHOICES = Role.choices


class InviteForm(forms.Form):
    email = forms.EmailField(label=_("Email (optional, for your records)"), required=False)
    role = forms.ChoiceField(label=_("Role"), choices=ROLE_CHOICES, initial=Role.MEMBER)


class AddMemberForm(forms.Form):
    username = forms.CharField(label=_("User name"), max_length=150)
    email = forms.EmailField(label=_("Email"), required=False)
    password = forms.CharField(label=_("Initial password"), widget=forms.PasswordInput, strip=False)
    role = forms.ChoiceField(label=_("Role"), choices=ROLE_CHOICES, initial=Role.MEMBER)

    def clean_username(self) -> str:
        username = self.cleaned_data["username"]
        User = get_user_model()
        User.username_validator(username)
        if User.objects.filter(username__iexact=username).exists():
            raise forms.ValidationError(_("That user name is taken."))
        return username

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("password"):
            User = get_user_model()
            try:
                password_validation.validate_password(
                    data["password"],
                    User(username=data.get("username", ""), email=data.get("email", "")),
                )
            except forms.ValidationError as exc:
                self.add_error("password", exc)
        return data


class RoleForm(forms.Form):
    role = forms.ChoiceField(label=_("Role"), choices=ROLE_CHOICES)


class ProjectForm(forms.ModelForm):
    class Meta:
        model = Project
        fields = ["name", "description"]
        widgets = {"description": forms.Textarea(attrs={"rows": 3})}


class PresenterForm(forms.ModelForm):
    tags_text = forms.CharField(label=_("Tags (comma separated)"), required=False, max_length=400)

    class Meta:
        model = Presenter
        fields = ["name"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk and not self.is_bound:
            self.fields["tags_text"].initial = ", ".join(
                self.instance.tags.values_list("name", flat=True)
            )


class RenameForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=200)


class AudioForm(forms.Form):
    """Rename an audio track and choose its project (none: the team's audio library)."""

    name = forms.CharField(label=_("Name"), max_length=200)
    project = forms.ModelChoiceField(
        label=_("Project"),
        queryset=Project.objects.none(),
        required=False,
        empty_label=_("None (audio library)"),
    )

    def __init__(self, *args: Any, projects: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["project"]
        if projects is not None and isinstance(field, forms.ModelChoiceField):
            field.queryset = projects
