# ocrops: `make run` runs the whole workflow on the sample data, `make test` runs the tests.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
FONTS := fonts-wqy-microhei fonts-arphic-uming fonts-arphic-ukai fonts-dejavu-core fontconfig
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
PIP_VERSION := 26.3
# Stages call `python` and `ocrops`: take them from the project's virtualenv.
export PATH := $(abspath $(BIN)):$(PATH)

# Telemetry and update checks off for every tool the workflow drives.
export HF_HUB_OFFLINE=1 HF_HUB_DISABLE_TELEMETRY=1 BENTOML_DO_NOT_TRACK=true \
       MLFLOW_DISABLE_TELEMETRY=true DVC_NO_ANALYTICS=1 NO_ALBUMENTATIONS_UPDATE=1 \
       GX_ANALYTICS_ENABLED=false DO_NOT_TRACK=1
# Quieter logs: no per-file progress bars when MLflow moves artifacts.
export MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR=false

.PHONY: run test test-reliability long container container-tools reliability ablation screenshots lint install lock fonts browser tools java label-studio data \
	repro batch \
	gpu-check sample-data clean help

help:
	@echo "make run    - install, fetch the sample data, run the pipeline (dvc repro)"
	@echo "make test   - install and run the test suite"
	@echo "make test-reliability - the reliability suite's fast part: hostile input, faults, load (CI runs it too)"
	@echo "make container - the package stage's Bento as an image, offline, with podman (after make run)"
	@echo "make batch  - the promoted model over an archive on Spark: make batch SOURCE=DIR OUTPUT=DIR (after make run)"
	@echo "make gpu-check - every GPU path once, on a machine with an NVIDIA GPU -> reports/gpu-check.json"
	@echo "make long   - the checks too long for make test: the pipeline, then the image built, run and checked"
	@echo "make reliability - the long run of the reliability suite -> reports/reliability.json"
	@echo "make ablation - train the forgetting variants of recipes/ablation.yaml -> reports/ablation.md (hours)"
	@echo "make screenshots - the README's MLflow UI images, walked in Chromium on the project's store (after make run)"
	@echo "make sample-data - regenerate data/ from recipes/hospital.yaml"
	@echo "make lock   - re-resolve requirements{,-serve,-dev}.lock after changing pyproject.toml"

run: install fonts data repro

# Two test workers share the two cores: OpenMP threads that spin while they wait take the other worker's core
# (the test pipeline: 180 s side by side with another, 115 s with passive waiting; thread counts, and so the
# numbers, stay as they are)
TEST_ENV := OMP_WAIT_POLICY=PASSIVE

# The reliability suite (a real service under hostile input, faults and load: tests/reliability) runs apart, in
# `make test-reliability` (its fast part, about 5 minutes; CI runs it after this) and `make reliability` (its long
# run): make test stays under 20 minutes from a fresh clone on the slower machines
test: install fonts browser tools java label-studio lint
	$(TEST_ENV) $(BIN)/python -m pytest -n 2 --dist loadfile --durations=25 tests --ignore=tests/reliability

test-reliability: install fonts browser tools
	$(TEST_ENV) $(BIN)/python -m pytest -n 2 --dist loadfile --durations=10 tests/reliability

# generated files (data, metrics, lock hashes, recorded model digests) are not scanned for secrets: their hashes look like keys;
# a false positive in a source file gets an inline `pragma: allowlist secret` comment saying why
SECRETS_EXCLUDE := ^(dvc-storage|data|reports)/|(^|/)dvc\.lock$$|^tests/e2e/reproducible_training\.json$$

lint: install
	$(BIN)/ruff check src tests bentos
	$(BIN)/lint-imports
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet
	$(BIN)/detect-secrets-hook --exclude-files '$(SECRETS_EXCLUDE)' $$(git ls-files)

# One training per variant (about 15 min each on 2 cores); `make ablation ONLY="distill l2sp"` runs a few.
ablation: install fonts data
	$(BIN)/dvc repro validate general
	$(BIN)/ocrops ablate $(foreach v,$(ONLY),--only $(v))

# The README's MLflow UI images (docs/img/mlflow-*.png): the integration test's walk through the UI, on this
# project's store; the alias dialog is left unsaved.
screenshots: install browser
	$(BIN)/python tests/mlflow_ui.py --out docs/img

# The package stage's Bento as a container image, built offline with podman: a base from Debian's packages
# (debootstrap), the Bento's locked wheels downloaded here, `bentoml containerize --backend podman`.
container: install container-tools
	@test -f outputs/package/bento.json || $(BIN)/dvc repro package
	$(BIN)/ocrops container build

# podman (with runc) and debootstrap from Debian's packages; their settings stay in deploy/container/
container-tools:
	@if command -v podman >/dev/null && command -v runc >/dev/null && command -v debootstrap >/dev/null; then \
	  echo "container tools: installed"; \
	else \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq podman runc debootstrap; \
	fi

# What does not fit make test's 20 minutes: the pipeline on the sample data, then its Bento's image built, run
# and held to `bentoml serve` and the registered CER, the test split read on Spark (ocrops batch) and by the
# Bento, and the review loop run once on a copy of the project: served with capture on, reviewed in Label Studio,
# retrained by dvc repro, gated (tests/long) -> reports/container.json, reports/batch.json, reports/review_loop.json
long: run container java label-studio
	OCROPS_LONG=1 $(BIN)/python -m pytest tests/long
	cp test-artifacts/container.json reports/container.json
	cp test-artifacts/batch.json reports/batch.json
	cp test-artifacts/review_loop.json reports/review_loop.json

# Every GPU path once (CUDA, ONNX Runtime CUDA parity, TensorRT, a bf16 LoRA step, the two-service Bento with
# batching on and off), offline, at most 8 minutes -> reports/gpu-check.json; without a GPU, or without a package
# a check needs (`pip install '.[gpu]'` where its wheels are at hand), each check is skipped with its reason
gpu-check: install
	timeout 480 $(BIN)/ocrops gpu-check --budget 360

# The reliability suite's long run (fuzz x20, 5-minute soak, ...); `make test` runs its fast part.
reliability: install fonts browser tools
	$(TEST_ENV) OCROPS_RELIABILITY=long $(BIN)/python -m pytest -n 2 --dist loadfile tests/reliability
	cp test-artifacts/reliability.json reports/reliability.json

install: $(VENV)/.installed

# Every package, transitive ones included, at the version and hash requirements-dev.lock records; then the
# project itself without dependencies. The pip that installs is pinned too.
$(VENV)/.installed: pyproject.toml requirements.lock requirements-dev.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet pip==$(PIP_VERSION)
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements-dev.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $@

# After changing dependencies in pyproject.toml: re-resolve and re-hash the three locks: the workflow's set
# (requirements.lock), the serving set a CPU Bento installs (requirements-serve.lock) and the development set,
# both constrained to the workflow's pins. Run it on Linux x86_64, Python 3.11.
PIP_COMPILE = $(BIN)/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras --no-emit-find-links \
	--no-emit-index-url
lock: install
	$(PIP_COMPILE) --extra pipeline --output-file requirements.lock pyproject.toml
	$(PIP_COMPILE) --constraint requirements.lock --output-file requirements-serve.lock pyproject.toml
	$(PIP_COMPILE) --extra pipeline --extra dev --extra spark --constraint requirements.lock \
		--output-file requirements-dev.lock pyproject.toml
	$(PIP_COMPILE) --output-file requirements-label-studio.lock label-studio.in

# System fonts for `ocrops synth` (three CJK faces plus DejaVu for superscripts).
fonts:
	@if fc-list 2>/dev/null | grep -q "WenQuanYi Micro Hei" && fc-list | grep -q "AR PL UMing" \
	   && fc-list | grep -q "AR PL UKai" && fc-list | grep -q "DejaVu Sans"; then \
	  echo "fonts: installed"; \
	else \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $(FONTS); \
	fi

# Debian's Chromium for the web page's end-to-end test (Playwright drives it; it never downloads a browser).
browser:
	@if [ -x /usr/lib/chromium/chromium ]; then \
	  echo "browser: installed"; \
	else \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends chromium; \
	fi

# Label Studio, for review (`ocrops review push/pull` talk to it over HTTP) and the review tests: an environment of
# its own, from requirements-label-studio.lock (it pins a Django, an OpenCV and a NumPy of its own). Run it with
# `.venv-label-studio/bin/label-studio start` (docs/how-to/confidence.md: telemetry off).
LS_VENV := .venv-label-studio
label-studio: $(LS_VENV)/.installed

$(LS_VENV)/.installed: requirements-label-studio.lock
	$(PYTHON) -m venv $(LS_VENV)
	$(LS_VENV)/bin/python -m pip install --quiet pip==$(PIP_VERSION)
	$(LS_VENV)/bin/python -m pip install --quiet --require-hashes -r requirements-label-studio.lock
	touch $@

# Java for Spark (`ocrops batch`, its test): Debian's OpenJDK 17 where no Java 17 or newer is on the machine
java:
	@if java -version 2>&1 | grep -qE 'version "(1[7-9]|[2-9][0-9])'; then \
	  echo "java: installed"; \
	else \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends openjdk-17-jre-headless; \
	fi

# The promoted model over an archive on Spark: make batch SOURCE=scans/ OUTPUT=ocr.parquet [MASTER=spark://...]
batch: install java
	$(BIN)/ocrops batch $(SOURCE) $(OUTPUT) $(if $(MASTER),--master $(MASTER))

# curl and jq: the README's HTTP examples are run as written (tests/integration/test_readme_examples.py);
# poppler-utils: pdftotext reads the searchable PDFs back as a PDF user would
tools:
	@if command -v curl >/dev/null && command -v jq >/dev/null && command -v pdftotext >/dev/null; then \
	  echo "tools: installed"; \
	else \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends curl jq poppler-utils; \
	fi

data: install
	$(BIN)/dvc pull data.dvc pages.dvc guard.dvc

repro: install
	$(BIN)/dvc repro

sample-data: install fonts
	$(BIN)/ocrops synth lines recipes/hospital.yaml --out data --overwrite
	$(BIN)/dvc add data
	$(BIN)/dvc push data.dvc

clean:
	rm -rf $(VENV) outputs .pytest_cache
