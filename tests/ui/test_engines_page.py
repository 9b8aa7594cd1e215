"""The "Engines and models" page (staff only) and the licence notes of the batch form.

The model folder is made by the tests: a Wav2Lip checkpoint in the exact public format
(every key and shape of the network; built on the meta device by ``tests/engine/modelgen.py``,
so a few kB instead of 145 MB of random numbers: this page reads names, sizes and records,
never the weights) installed with ``models add``, and MuseTalk's VAE config copied in by hand.
So ``wav2lip`` is usable, ``musetalk15`` shows what is missing, and the files show the
"verified" and "not checked yet" states.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time

import django_rq
import pytest
from django.test import Client
from django.urls import reverse

from lipsync.models import manager
from lipsync.models.manifest import load_manifest
from studio.models import Membership, Project, Role
from tests.conftest import REPO
from tests.engine import modelgen
from tests.security.test_headers import inline_code

pytestmark = pytest.mark.django_db

ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-CN,zh;q=0.9"}
EN = {"HTTP_ACCEPT_LANGUAGE": "en"}


def populate(root):
    """wav2lip.pth installed (checked, recorded), sd-vae/config.json copied in by hand."""
    src = modelgen.save_wav2lip(root.parent / "incoming" / "wav2lip.pth")
    assert manager.add(src, root) == ["wav2lip.pth"]
    (root / "sd-vae").mkdir()
    (root / "sd-vae" / "config.json").write_text(json.dumps(modelgen.vae_config()))
    return root


@pytest.fixture
def model_dir(tmp_path, monkeypatch):
    root = tmp_path / "models"
    monkeypatch.setenv(manager.MODEL_DIR_ENV, str(root))
    return populate(root)


@pytest.fixture
def staff(make_user, team):
    user = make_user("sam", is_staff=True)
    Membership.objects.create(team=team, user=user, role=Role.MEMBER)
    return user


@pytest.fixture
def staff_client(staff):
    client = Client()
    client.force_login(staff)
    return client


def tag_of(html: str, name: str) -> str:
    """The element carrying ``data-testid="name"`` up to the end of its line of markup."""
    match = re.search(rf'<[^<>]*data-testid="{re.escape(name)}"[^<>]*>', html)
    assert match, f"no element {name}"
    return match.group(0)


def section(html: str, name: str) -> str:
    """The whole element carrying ``data-testid="name"`` (to its matching closing tag)."""
    start = html.rindex("<", 0, html.index(f'data-testid="{name}"'))
    tag = re.match(r"<(\w+)", html[start:]).group(1)
    depth = 0
    for m in re.compile(rf"<(/?){tag}\b[^>]*>").finditer(html, start):
        depth += -1 if m.group(1) else 1
        if depth == 0:
            return html[start : m.end()]
    raise AssertionError(f"{name}: <{tag}> not closed")


def test_staff_sees_every_engine_and_tracker_with_state_files_and_licence(
    staff_client, model_dir, settings
):
    r = staff_client.get(reverse("engines"), **EN)
    assert r.status_code == 200
    html = r.content.decode()
    assert "Engines and models" in html and 'data-testid="nav-engines"' in html
    assert f'<code data-testid="model-dir">{model_dir}</code>' in html
    for name in ("warp", "wav2lip", "musetalk15", "dlib", "insightface"):
        assert f'data-testid="component-{name}"' in html
    usable = {
        name: 'data-usable="yes"' in tag_of(html, f"state-{name}")
        for name in ("warp", "wav2lip", "musetalk15", "dlib", "insightface")
    }
    assert usable == {
        "warp": True,
        "wav2lip": True,
        "musetalk15": False,
        "dlib": True,
        "insightface": False,
    }
    # What is missing and where it goes.
    missing = section(html, "missing-musetalk15")
    for rel in (
        "musetalkV15/unet.pth",
        "sd-vae/diffusion_pytorch_model.bin",
        "whisper/config.json",
    ):
        assert f"<code>{rel}</code>" in missing
    assert "sd-vae/config.json" not in missing  # it is there
    assert "face-parse-bisent/79999_iter.pth" in section(html, "optional-missing-musetalk15")
    assert "buffalo_l/det_10g.onnx" in section(html, "missing-insightface")
    # Licences: the keys and the paragraphs.
    commercial = {
        n: re.search(r'data-commercial="(\w+)"', tag_of(html, f"commercial-{n}")).group(1)
        for n in ("warp", "wav2lip", "musetalk15", "insightface")
    }
    assert commercial == {
        "warp": "yes",
        "wav2lip": "no",
        "musetalk15": "unclear",
        "insightface": "no",
    }
    wav2lip = section(html, "component-wav2lip")
    assert "Not for commercial use" in wav2lip
    assert "released for personal, research and non-commercial purposes only" in wav2lip
    assert "Commercial use unclear: have it checked" in section(html, "component-musetalk15")
    assert "MIT licensed" in section(html, "component-musetalk15")
    assert "for non-commercial research purposes only" in section(html, "component-insightface")
    # File level: installed with `add` (verified, hash recorded), copied by hand, missing.
    assert 'data-state="verified"' in tag_of(html, "file-wav2lip.pth")
    sha = manager.read_lock(model_dir)["wav2lip.pth"]["sha256"]
    assert f'title="{sha}"' in wav2lip and "verified" in wav2lip
    assert 'data-state="missing"' in tag_of(html, "file-wav2lip_gan.pth")  # the alternative
    assert 'data-state="unrecorded"' in tag_of(html, "file-sd-vae/config.json")
    assert 'data-state="missing"' in tag_of(html, "file-musetalkV15/unet.pth")
    assert "in use" in wav2lip and "either of these" in wav2lip
    # How to install: the commands with this server's folder, and where to get each model.
    cli = f".venv/bin/python -m lipsync models --model-dir {model_dir}"
    assert f"{cli} add musetalkV15/" in html
    assert f"{cli} download musetalk15_unet --from URL" in html
    assert f"{cli} import models.tar" in html and f"{cli} verify" in html
    assert "Hugging Face repository TMElyralab/MuseTalk" in section(html, "get-musetalk15_unet")
    assert not inline_code(html)


def test_the_page_in_chinese(staff_client, model_dir):
    html = staff_client.get(reverse("engines"), **ZH).content.decode()
    assert "引擎与模型" in html
    wav2lip = section(html, "component-wav2lip")
    assert "不可商用" in wav2lip and "仅限个人、研究及非商业用途" in wav2lip
    assert "released for personal" not in wav2lip  # the paragraph is translated
    assert "商用许可待确认" in section(html, "component-musetalk15")
    assert "可以商用" in section(html, "component-warp")
    assert "仅限非商业研究用途" in section(html, "component-insightface")
    assert "缺少以下文件" in section(html, "missing-musetalk15")
    assert "已校验" in tag_of(html, "file-wav2lip.pth") or "已校验" in wav2lip
    assert "Hugging Face 仓库 TMElyralab/MuseTalk" in section(html, "get-musetalk15_unet")
    # no English label left in the page's own texts
    for english in ("Usable on this server", "Not usable", "Missing:", "where to get it"):
        assert english not in html


def test_only_staff_may_open_it(client, owner, admin_user, member, viewer, outsider, model_dir):
    url = reverse("engines")
    r = client.get(url)
    assert r.status_code == 302 and r["Location"].startswith(reverse("login"))
    for user in (owner, admin_user, member, viewer, outsider):
        c = Client()
        c.force_login(user)
        for method in ("get", "post"):
            r = getattr(c, method)(url, **EN)
            assert r.status_code == 403, (user.username, method)
            body = r.content.decode()
            assert str(model_dir) not in body and "wav2lip" not in body
        assert "administrators (staff accounts)" in c.get(url, **EN).content.decode()
        assert "服务器管理员" in c.get(url, **ZH).content.decode()
        assert 'data-testid="nav-engines"' not in c.get(reverse("dashboard")).content.decode()


def test_staff_page_takes_no_writes(staff_client, model_dir):
    assert staff_client.post(reverse("engines")).status_code == 405
    assert staff_client.head(reverse("engines")).status_code == 200


@pytest.fixture
def project(team, member):
    return Project.objects.create(team=team, name="Launch", created_by=member)


def _option(html: str, name: str) -> str:
    start = html.index(f'data-testid="engine-{name}"')
    return html[html.rindex("<option", 0, start) : html.index("</option>", start)]


def test_batch_form_shows_the_licence_note_beside_each_engine(member_client, project, model_dir):
    html = member_client.get(reverse("batch_create"), **EN).content.decode()
    wav2lip, warp, musetalk = (_option(html, n) for n in ("wav2lip", "warp", "musetalk15"))
    assert "disabled" not in wav2lip and "Non-commercial use only" in wav2lip
    assert "disabled" not in warp and "commercial use allowed" in warp
    assert "disabled" in musetalk and "needs model weights" in musetalk
    # Visible beside the field, not only inside the list: usable engines and their notes.
    notes = html[html.index('data-testid="engine-licences"') :]
    notes = notes[: notes.index("</ul>")]
    assert 'data-testid="licence-wav2lip" data-commercial="no"' in notes
    assert "Non-commercial use only" in notes and 'data-testid="licence-warp"' in notes
    assert "licence-musetalk15" not in notes  # not offered here


def test_batch_form_licence_notes_in_chinese(member_client, project, model_dir):
    html = member_client.get(reverse("batch_create"), **ZH).content.decode()
    assert "仅限非商业用途" in _option(html, "wav2lip")
    notes = html[html.index('data-testid="engine-licences"') :]
    assert "仅限非商业用途" in notes[: notes.index("</ul>")]
    assert "Non-commercial use only" not in html


def test_every_manifest_text_is_marked_for_translation():
    from rendering.engine_texts import AS_IS, MARKED

    manifest = load_manifest()
    texts = set()
    for comp in [*manifest.engines.values(), *manifest.trackers.values()]:
        texts |= {comp.title, comp.licence, comp.licence_note, comp.licence_text}
    for model in manifest.models.values():
        texts |= {model.title, model.licence, model.get}
    texts.discard("")
    assert sorted(texts - set(MARKED) - AS_IS) == [], "mark it in rendering/engine_texts.py"
    assert sorted(set(MARKED) - texts) == [], "stale text in rendering/engine_texts.py"


# ----------------------------------------------------------------------------- workers


def test_a_worker_publishes_what_its_model_folder_lets_it_run(use_redis, model_dir):
    worker = django_rq.get_worker("cpu")
    worker.work(burst=True)
    report = json.loads(use_redis.client.hget(worker.key, "models"))
    assert report["model_dir"] == str(model_dir)
    usable = {c["name"]: c["usable"] for c in report["components"]}
    assert usable == {
        "musetalk15": False,
        "warp": True,
        "wav2lip": True,
        "dlib": True,
        "insightface": False,
    }
    musetalk = next(c for c in report["components"] if c["name"] == "musetalk15")
    assert "musetalkV15/unet.pth" in musetalk["missing"]


def _wait_for(client: Client, predicate, what: str, timeout_s: float = 90) -> str:
    deadline = time.monotonic() + timeout_s
    html = ""
    while time.monotonic() < deadline:
        html = client.get(reverse("engines"), **EN).content.decode()
        if predicate(html):
            return html
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}:\n{html[-3000:]}")


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_page_shows_a_render_worker_on_another_model_folder(
    use_redis, media_root, staff, subprocess_env, tmp_path, monkeypatch
):
    """A real ``rqworker gpu`` whose model folder is not the web server's (as on another host):
    the page shows its own view, says where it disagrees, and follows files installed or
    removed while it runs; the worker leaves the page when it stops."""
    web = tmp_path / "web-models"
    web.mkdir()
    monkeypatch.setenv(manager.MODEL_DIR_ENV, str(web))
    remote = populate(tmp_path / "gpu-host-models")
    env = dict(subprocess_env)
    env.update(
        LIPSYNC_MODEL_DIR=str(remote),
        LIPSYNC_DEVICE="cpu",
        RECONCILE_INTERVAL_S="1",
        PYTHONUNBUFFERED="1",
    )
    log = open(tmp_path / "worker.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "rqworker", "gpu"],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    client = Client()
    client.force_login(staff)
    try:
        html = _wait_for(client, lambda h: 'data-testid="worker-engine-wav2lip"' in h, "a report")
        assert f"<code>{remote}</code>" in html
        assert 'data-usable="yes"' in tag_of(html, "worker-engine-wav2lip")
        assert 'data-usable="no"' in tag_of(html, "state-wav2lip")  # not on this server
        assert "the batch form does not offer it" in section(html, "differs-wav2lip")
        # Installed on the web server too: they agree.
        manager.add(remote / "wav2lip.pth", web)
        html = client.get(reverse("engines"), **EN).content.decode()
        assert 'data-testid="differs-wav2lip"' not in html
        # Removed on the worker's host while it runs: its next idle heartbeat says so.
        (remote / "wav2lip.pth").unlink()
        html = _wait_for(
            client,
            lambda h: 'data-usable="no"' in tag_of(h, "worker-engine-wav2lip"),
            "the worker's new report",
        )
        assert "renders of it that this worker takes fail at once" in section(
            html, "differs-wav2lip"
        )
        assert "<code>wav2lip_gan.pth</code>" in section(html, "worker-engine-wav2lip")
    finally:
        proc.terminate()
        proc.wait(timeout=60)
        log.close()
    html = client.get(reverse("engines"), **EN).content.decode()
    assert 'data-testid="no-workers"' in html, (tmp_path / "worker.log").read_text()[-2000:]


def test_unreachable_queue_is_said_not_hidden(staff_client, model_dir):
    # Without use_redis, REDIS_URL points at a dead port.
    html = staff_client.get(reverse("engines"), **EN).content.decode()
    assert 'data-testid="workers-unreachable"' in html
    assert 'data-testid="component-wav2lip"' in html  # the server's own view still shows


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_page_and_batch_form_do_not_import_torch(staff, team, subprocess_env, model_dir):
    """The web process renders both without importing torch (fresh interpreter: the test
    process has imported it long ago)."""
    Project.objects.create(team=team, name="Launch")
    code = (
        "import sys, json, django\n"
        "django.setup()\n"
        "from django.contrib.auth import get_user_model\n"
        "from django.test import Client\n"
        "from django.test.utils import override_settings, setup_test_environment\n"
        "setup_test_environment()\n"
        "c = Client()\n"
        "c.force_login(get_user_model().objects.get(username='sam'))\n"
        "plain = {'BACKEND': 'django.contrib.staticfiles.storage.StaticFilesStorage'}\n"
        "with override_settings(STORAGES={'default': {'BACKEND': "
        "'django.core.files.storage.FileSystemStorage'}, 'staticfiles': plain}):\n"
        "    codes = [c.get(u).status_code for u in ('/engines/', '/batches/new/')]\n"
        "print(json.dumps({'codes': codes, 'torch': 'torch' in sys.modules}))\n"
    )
    env = dict(subprocess_env, LIPSYNC_MODEL_DIR=str(model_dir))
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result == {"codes": [200, 200], "torch": False}
