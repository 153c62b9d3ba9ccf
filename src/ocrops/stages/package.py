"""The ``package`` stage: the model MLflow says to serve (``@champion``, else ``@candidate``) with its
exported engines into the BentoML model store, then ``bentoml build`` of bentos/bentofile.yaml."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

from mlflow.tracking import MlflowClient

from ocrops.config import PackagePaths, Params
from ocrops.data.files import write_headline, write_json
from ocrops.errors import ErrorCode, OcropsError
from ocrops.families import saved_family
from ocrops.inference.runtime import (
    DETECTOR_FILE,
    ENGINES_DIR,
    EXPORT_MANIFEST,
    MODEL_DIR,
    PACKAGE_FILE,
    POSTPROCESS_FILE,
)
from ocrops.registry.versions import serving_version
from ocrops.tracking import download_registered, setup

# served = registered: the test split read through `bentoml serve` against the registered figure
HEADLINE = {"served_cer": "serve_check.served_cer", "registered_cer": "serve_check.registered_cer"}


def bentoml_home(project: Path, home: Path = PackagePaths().bentoml_home) -> Path:
    """BENTOML_HOME, by default the project's ``paths.package.bentoml_home`` (generated state stays in the
    project)."""
    home = Path(os.environ.setdefault("BENTOML_HOME", str((project / home).resolve())))
    home.mkdir(parents=True, exist_ok=True)
    return home


def engines_for(params: Params, version: str, model_dir: Path, out: Path, name: str | None = None) -> dict:
    """The export stage's engines when it exported this very version of this model; otherwise export (and
    parity-check) the served version now: the alias may point at an older or newer version than the pipeline's,
    or at another domain's model."""
    name = name or params.mlflow.registered_model
    export_dir = params.paths.export.engines
    manifest = export_dir / EXPORT_MANIFEST
    exported = json.loads(manifest.read_text(encoding="utf-8")) if manifest.exists() else {}
    if str(exported.get("version")) == version and exported.get("registered_model", name) == name:
        shutil.copytree(export_dir, out)
        return {"source": "export stage", "reexported": False}
    from ocrops.stages.export import export_model

    with tempfile.TemporaryDirectory() as tmp:
        report = export_model(params, model_dir, out, Path(tmp) / "export.json",
                              {"name": name, "version": int(version)})
    return {"source": "exported at packaging", "reexported": True,
            "parity": {k: v["identical_share"] for k, v in report["parity"].items()}}


def import_model(tag: str, name: str, alias: str, version: str, mlflow_model: Path, engines: Path,
                 engine_facts: dict, tags: dict[str, str]):
    """A BentoML model ``tag`` holding registered model ``name``'s recognizer, post-processing, engines and
    provenance."""
    import bentoml

    family = saved_family(mlflow_model)
    detector = family.code().detector(mlflow_model)
    info = {
        "mlflow": {"name": name, "version": version, "alias": alias, "model_uri": f"models:/{name}/{version}",
                   "run_id": tags.get("train_run_id", "")},
        "family": family.name,
        "evaluation": {k: tags[k] for k in ("test_cer", "test_cer_postprocessed", "test_term_recall",
                                            "latency_p50_ms", "test_set_digest") if k in tags},
        "engines": engine_facts,
        "detector": {"file": DETECTOR_FILE, "source": detector.source, "sha256": detector.sha256},
    }
    with bentoml.models.create(tag, labels={"mlflow_version": version, "alias": alias},
                               metadata={"mlflow_model_uri": info["mlflow"]["model_uri"], "family": info["family"]},
                               module="ocrops") as model:
        root = Path(model.path)
        shutil.copytree(mlflow_model, root / MODEL_DIR)
        shutil.copy2(mlflow_model.parent / POSTPROCESS_FILE, root / POSTPROCESS_FILE)
        shutil.copytree(engines, root / ENGINES_DIR)
        shutil.copy2(detector.locate(), root / DETECTOR_FILE)
        write_json(root / PACKAGE_FILE, info)
    return model, info


def source_root() -> Path:
    """The ocrops source checkout this environment runs from (installed editable by `make install`)."""
    import ocrops

    root = Path(ocrops.__file__).resolve().parents[2]
    if not (root / "pyproject.toml").exists():
        raise OcropsError(ErrorCode.UNAVAILABLE, "packaging needs ocrops installed from its source checkout "
                                                     "(pip install -e .)")
    return root


def build_wheel(out: Path) -> Path:
    """The ocrops wheel the Bento installs (the service imports the library); built from a copy of the
    sources, so the checkout gets no build/ folder and parallel builds do not meet."""
    shutil.rmtree(out, ignore_errors=True)
    root = source_root()
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "ocrops"
        shutil.copytree(root / "src", copy / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        for name in ("pyproject.toml", "README.md", "LICENSE"):
            if (root / name).exists():
                shutil.copy2(root / name, copy / name)
        subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                        "--wheel-dir", str(out), str(copy)], check=True)
    return next(out.glob("ocrops-*.whl"))


def bentofile_for(family: str, bentofile: Path, out: Path) -> tuple[Path, str]:
    """The project's bentofile with the lock the served family needs (``ModelFamily.serving_requirements``): the
    serving set for a family served from exported engines (no torch, no training stack in the image), the
    workflow's set otherwise. Written beside the package stage's outputs; the build context stays the project."""
    import yaml

    from ocrops.families import get as get_family

    lock = get_family(family).code().serving_requirements
    spec = yaml.safe_load(bentofile.read_text(encoding="utf-8"))
    spec["python"]["requirements_txt"] = lock
    path = out / "bentofile.yaml"
    path.write_text(f"# {bentofile} for the {family} family (written by the package stage)\n"
                    + yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    return path, lock


@dataclass(frozen=True)
class Served:
    """One registered model the Bento serves: its served version, the BentoML model holding it and the test
    split it was evaluated on where this project has it (the pipeline's own, a domain's)."""

    name: str
    alias: str
    version: str
    tags: dict[str, str]
    tag: str  # the BentoML model
    pipeline: Path | None  # the folder of the pipeline that registered it, where this project has it
    accepted: Path | None  # that pipeline's validated rows, relative to it


@dataclass(frozen=True)
class Pipeline:
    """A pipeline of this project (its own, a domain's): the folder it runs in and its params."""

    folder: Path
    params: Params


def pipelines(params: Params, project: Path) -> dict[str, Pipeline]:
    """Registered model name -> the pipeline of this project that trains it: this one, each domain."""
    from ocrops.config import load_params
    from ocrops.domains.scaffold import domains

    found = {params.mlflow.registered_model: Pipeline(project, params)}
    for folder in domains(project):
        domain = load_params(folder / "params.yaml")
        found.setdefault(domain.mlflow.registered_model, Pipeline(folder, domain))
    return found


def serve_check(bento: str, served: list[Served], log_path: Path) -> dict:
    """``bentoml serve`` the new bento and read each served model's test split (where the project has it)
    through ``POST /ocr`` with that model: the service must read it with exactly the CER the served version was
    evaluated with (same test set). Reading is batch-invariant, so the service's own batches change nothing.
    The first model's figures are the report's; ``models`` has each one's."""
    from ocrops.client import OCRClient, ServiceError
    from ocrops.data.lines import LineDataset
    from ocrops.evaluation.metrics import cer
    from ocrops.harness.server import bento_server

    checks = {}
    with bento_server(bento, env={"OCROPS_SERVE_RATE_LIMIT__ENABLED": "false"}, cwd_log=log_path) as url, \
            OCRClient(url) as client:
        for model in served:
            if model.pipeline is None or not (model.pipeline / model.accepted).exists():
                checks[model.name] = {"skipped": "this project has no test split of this model"}
                continue
            rows = LineDataset.from_accepted(model.pipeline / model.accepted, "test")
            test = LineDataset([type(line)(str(model.pipeline / line.path), line.text) for line in rows])
            # a check, not a load test: two requests in flight keep the engine busy without meeting the
            # service's load shedding (a shed request would be retried, and logged, for nothing)
            answers = list(client.ocr_many([line.path for line in test], concurrency=2, mode="line",
                                           postprocess=False, model=model.name if len(served) > 1 else None))
            failed = [a for a in answers if isinstance(a, ServiceError)]
            if failed:
                raise OcropsError(ErrorCode.UNAVAILABLE, f"{len(failed)} of {len(test)} test lines of {model.name} "
                                                         f"failed through /ocr, first: {failed[0].source}: "
                                                         f"{failed[0]}")
            if any(a.model["name"] != model.name for a in answers):
                raise OcropsError(ErrorCode.UNAVAILABLE, f"/ocr asked for {model.name} answered with another model")
            served_cer = cer([a.text for a in answers], test.texts())
            same_test_set = model.tags.get("test_set_digest") == test.digest()
            registered = float(model.tags["test_cer"]) if "test_cer" in model.tags else None
            matches = registered is not None and f"{served_cer:.6g}" == f"{registered:.6g}"  # as precise as the tag
            if same_test_set and registered is not None and not matches:
                raise OcropsError(ErrorCode.UNAVAILABLE,
                                  f"the served bento reads {model.name}'s test split with CER {served_cer:.5f}, the "
                                  f"registered version was evaluated at {registered:.5f}")
            checks[model.name] = {"lines": len(test), "served_cer": served_cer, "registered_cer": registered,
                                  "same_test_set": same_test_set, "matches": matches}
    first = checks[served[0].name]
    return (first if "lines" in first else {"lines": 0, "served_cer": None, "registered_cer": None,
                                            "same_test_set": False, "matches": False}) | {"models": checks}


def run(params: Params) -> dict:
    import bentoml

    from ocrops.serving.settings import model_tags

    paths = params.paths
    project = Path.cwd()
    bentoml_home(project, paths.package.bentoml_home)
    setup(params)
    client = MlflowClient()
    names = params.serve.models or [params.mlflow.registered_model]
    # the domains' params are read only when the Bento serves a model besides this pipeline's own
    trained_here = (pipelines(params, project) if names != [params.mlflow.registered_model]
                    else {names[0]: Pipeline(project, params)})
    out = paths.package.folder
    out.mkdir(parents=True, exist_ok=True)
    served, infos, facts = [], [], []
    for name, tag in zip(names, model_tags(params.serve), strict=True):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", UserWarning)
            alias, version = serving_version(client, name)
        for w in caught:  # no champion yet: the candidate is served
            print(f"package: warning: {w.message}", file=sys.stderr)
        tags = dict(client.get_model_version(name, version).tags)
        with tempfile.TemporaryDirectory() as tmp:
            model_dir = download_registered(f"models:/{name}/{version}", Path(tmp) / "mlflow")
            engines = Path(tmp) / ENGINES_DIR
            pipeline = trained_here.get(name)
            # in the folder of the pipeline that trained it: its export stage's engines, its test split for parity
            with contextlib.chdir(pipeline.folder) if pipeline else contextlib.nullcontext():
                facts.append(engines_for(pipeline.params if pipeline else params, version, model_dir, engines, name))
            model, info = import_model(tag, name, alias, version, model_dir, engines, facts[-1], tags)
        served.append(Served(name, alias, version, tags, str(model.tag), pipeline.folder if pipeline else None,
                             pipeline.params.paths.validate_.accepted if pipeline else None))
        infos.append(info)
    build_wheel(out / "wheels")
    bentofile, lock = bentofile_for(infos[0]["family"], paths.package.bentofile, out)
    if any(info["family"] != infos[0]["family"] for info in infos):
        raise OcropsError(ErrorCode.INVALID_INPUT, "serve.models: one Bento serves models of one family; these "
                          "are " + ", ".join(f"{s.name} ({i['family']})" for s, i in zip(served, infos, strict=True)))
    first = served[0]
    bento = bentoml.bentos.build_bentofile(str(bentofile), build_ctx=str(project),
                                           version=f"v{first.version}-{first.tag.split(':')[-1]}")
    dockerfile = Path(bento.path) / "env" / "docker" / "Dockerfile"
    if not dockerfile.exists():
        raise OcropsError(ErrorCode.UNAVAILABLE, f"bento {bento.tag} has no generated Dockerfile")
    check = serve_check(str(bento.tag), served, out / "serve_check.log")
    manifest = {
        "bento": str(bento.tag), "model": first.tag, "mlflow": infos[0]["mlflow"], "engines": facts[0],
        "evaluation": infos[0]["evaluation"], "dockerfile": str(dockerfile.relative_to(bento.path)),
        "requirements": lock,
    }
    if len(served) > 1:
        manifest["models"] = [{"model": s.tag, "mlflow": i["mlflow"], "engines": f, "evaluation": i["evaluation"]}
                              for s, i, f in zip(served, infos, facts, strict=True)]
    write_json(paths.package.bento, manifest)
    report = {"bento": manifest["bento"], "mlflow_version": int(first.version), "alias": first.alias,
              "serve_check": check}
    write_json(paths.package.metrics, report)
    write_headline(paths.package.headline, report, HEADLINE)
    return manifest | {"serve_check": check}


def summary(manifest: dict) -> list[str]:
    m = manifest["mlflow"]
    served = manifest.get("models") or [{"mlflow": m, "engines": manifest["engines"]}]
    lines = [f"built bento {manifest['bento']} from " + ", ".join(
        f"{s['mlflow']['name']} version {s['mlflow']['version']} (@{s['mlflow']['alias']}; engines: "
        f"{s['engines']['source']})" for s in served)]
    for name, c in manifest["serve_check"]["models"].items():
        lines.append(f"{name}: {c['skipped']}" if "skipped" in c else
                     f"`bentoml serve` read {c['lines']} test lines of {name} through POST /ocr: CER "
                     f"{c['served_cer']:.4f} (registered {c['registered_cer']})")
    lines.append(f"serve it with `ocrops serve` (http://127.0.0.1:3000), or `BENTOML_HOME=$PWD/.bentoml bentoml "
                 f"serve {manifest['bento']}`; build its image with `BENTOML_HOME=$PWD/.bentoml bentoml containerize "
                 f"{manifest['bento']}`")
    return lines
