"""URLs of the library side: accounts, teams, projects, presenters, audio, uploads."""

from django.contrib.auth import views as auth_views
from django.urls import path

from .views import audio, notifications, presenters, profile, projects, teams, uploads

urlpatterns = [
    # Accounts
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(redirect_authenticated_user=True),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/profile/", profile.profile, name="profile"),
    path("accounts/password/", teams.PasswordChange.as_view(), name="password_change"),
    path(
        "accounts/password/done/",
        auth_views.PasswordChangeDoneView.as_view(),
        name="password_change_done",
    ),
    # Teams
    path("team/", teams.team_settings, name="team_settings"),
    path("team/switch/", teams.switch, name="switch_team"),
    path("team/new/", teams.create, name="team_create"),
    path("team/invite/", teams.invite, name="team_invite"),
    path("team/add-member/", teams.add_member, name="team_add_member"),
    path("team/members/<int:pk>/role/", teams.change_role, name="member_role"),
    path("team/members/<int:pk>/remove/", teams.remove_member, name="member_remove"),
    path("team/invitations/<int:pk>/revoke/", teams.revoke_invitation, name="invitation_revoke"),
    path("invite/<str:token>/", teams.accept, name="invitation_accept"),
    # Projects
    path("projects/", projects.project_list, name="project_list"),
    path("projects/new/", projects.project_create, name="project_create"),
    path("projects/<int:pk>/", projects.project_detail, name="project_detail"),
    path("projects/<int:pk>/edit/", projects.project_edit, name="project_edit"),
    path("projects/<int:pk>/archive/", projects.project_archive, name="project_archive"),
    path("projects/<int:pk>/audio/upload/", audio.audio_upload, name="audio_upload"),
    path("projects/<int:pk>/audio/bulk/", audio.audio_bulk, name="audio_bulk"),
    # Presenters
    path("presenters/", presenters.presenter_list, name="presenter_list"),
    path("presenters/upload/", presenters.presenter_upload, name="presenter_upload"),
    path("presenters/bulk/", presenters.presenter_bulk, name="presenter_bulk"),
    path("presenters/<int:pk>/", presenters.presenter_detail, name="presenter_detail"),
    path("presenters/<int:pk>/edit/", presenters.presenter_edit, name="presenter_edit"),
    path("presenters/<int:pk>/archive/", presenters.presenter_archive, name="presenter_archive"),
    path("presenters/<int:pk>/delete/", presenters.presenter_delete, name="presenter_delete"),
    path("presenters/<int:pk>/recheck/", presenters.presenter_recheck, name="presenter_recheck"),
    path("presenters/<int:pk>/file/", presenters.presenter_file, name="presenter_file"),
    path("presenters/<int:pk>/face/", presenters.presenter_pick_face, name="presenter_pick_face"),
    path(
        "presenters/<int:pk>/faces.jpg",
        presenters.presenter_faces_image,
        name="presenter_faces_image",
    ),
    path(
        "presenters/<int:pk>/thumbnail/", presenters.presenter_thumbnail, name="presenter_thumbnail"
    ),
    # Audio
    path("audio/", audio.audio_list, name="audio_list"),
    path("audio/upload/", audio.audio_library_upload, name="audio_library_upload"),
    path("audio/bulk/", audio.audio_library_bulk, name="audio_library_bulk"),
    path("audio/<int:pk>/", audio.audio_detail, name="audio_detail"),
    path("audio/<int:pk>/edit/", audio.audio_edit, name="audio_edit"),
    path("audio/<int:pk>/delete/", audio.audio_delete, name="audio_delete"),
    path("audio/<int:pk>/recheck/", audio.audio_recheck, name="audio_recheck"),
    path("audio/<int:pk>/file/", audio.audio_file, name="audio_file"),
    path("audio/<int:pk>/subtitles/", audio.audio_subtitles, name="audio_subtitles"),
    path(
        "audio/<int:pk>/subtitles/remove/",
        audio.audio_subtitles_remove,
        name="audio_subtitles_remove",
    ),
    path("audio/<int:pk>/subtitles/file/", audio.audio_subtitles_file, name="audio_subtitles_file"),
    path("audio/<int:pk>/waveform/", audio.audio_waveform, name="audio_waveform"),
    # A person's notifications
    path("notifications/", notifications.notification_list, name="notification_list"),
    path("notifications/read/", notifications.notifications_read, name="notifications_read"),
    path("notifications/<int:pk>/read/", notifications.notification_read, name="notification_read"),
    path(
        "notifications/unread.json", notifications.notifications_unread, name="notifications_unread"
    ),
    # Resumable uploads (JSON)
    path("api/uploads/", uploads.create, name="upload_create"),
    path("api/uploads/<uuid:pk>/", uploads.detail, name="upload_detail"),
    path("api/uploads/<uuid:pk>/complete/", uploads.complete, name="upload_complete"),
]
