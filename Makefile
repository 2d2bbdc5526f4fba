# Quick start: `make demo` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.installed
OUT ?= out/demo

.PHONY: kiosk-screenshots install demo kmap-demo test bench wheel-check schema-doc golden lint format typecheck pkg-tree docs docs-serve dist dist-check clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip "setuptools>=68" wheel
	$(PIP) install --quiet -c constraints.txt -e ".[dev,train,export,docs,scale,kiosk]"
	$(PY) -c "import scoligait_edge, cv2, mediapipe; print('scoligait_edge', scoligait_edge.__version__, '| cv2', cv2.__version__, '| mediapipe', mediapipe.__version__)"
	touch $(STAMP)

install: $(STAMP)

# The main job on the bundled defaults: the sample video through the demo model (trained on SIMULATED gait).
demo: $(STAMP)
	rm -f $(OUT)/results.jsonl
	$(PY) -m scoligait_edge.run --video scoligait_edge/assets/sample/sports2d_walk_demo.mp4 --headless \
		--output $(OUT)/results.jsonl --report $(OUT)/report

# The knowledge map alone (heatmap PNG + gait events) of the sample video.
kmap-demo: $(STAMP)
	$(PY) -m scoligait_edge.research.kmap_demo --out $(OUT)/kmap

test: $(STAMP)
	$(PY) -m pytest -q -p no:cacheprovider tests benchmarks --benchmark-disable

bench: $(STAMP)
	mkdir -p out/bench
	$(PY) -m pytest -q -p no:cacheprovider benchmarks --benchmark-only --benchmark-json=out/bench/bench.json --benchmark-autosave --benchmark-save-data --benchmark-min-rounds=5 --benchmark-max-time=1.0 --benchmark-sort=name --benchmark-columns=median,mean,iqr,rounds
	$(PY) benchmarks/runtime_footprint.py --runs 3 --json out/bench/footprint.json
	$(PY) benchmarks/summarize.py out/bench/bench.json -o out/bench/RESULTS.md --prepend benchmarks/NOTES.md --footprint out/bench/footprint.json $(foreach g,$(wildcard benchmarks/results/gpu_*.json),--gpu $(g))
	@echo "to publish: cp out/bench/RESULTS.md benchmarks/RESULTS.md"

# The screening station's screenshots (docs/kiosk/*.png) from its browser test (Chromium: apt-get install chromium).
kiosk-screenshots: $(STAMP)
	KIOSK_SCREENSHOTS=docs/kiosk $(PY) -m pytest -q -p no:cacheprovider tests/test_kiosk_browser.py

# Builds the wheel and imports the package (and its data) from a clean target dir.
wheel-check: $(STAMP)
	rm -rf build/wheel-check && mkdir -p build/wheel-check
	$(PIP) wheel --quiet --no-deps --no-build-isolation -w build/wheel-check/dist .
	$(PIP) install --quiet --no-deps --target build/wheel-check/site build/wheel-check/dist/*.whl
	cd build/wheel-check && PYTHONPATH=site $(abspath $(PY)) -P -c "import sys, scoligait_edge, scoligait_edge.bundle, scoligait_edge.export, scoligait_edge.runtimes, scoligait_edge.kinematics, scoligait_edge.pose; from scoligait_edge.assets import pose_model_path, sample_video_path; assert 'site' in scoligait_edge.__file__, scoligait_edge.__file__; assert pose_model_path('lite').is_file() and sample_video_path().is_file(); from scoligait_edge.screener import demo_bundle_path; from scoligait_edge.bundle import load_bundle; b = load_bundle(demo_bundle_path()); assert 'site' in str(b.path('model.onnx')); assert 'torch' not in sys.modules; print('wheel import ok:', scoligait_edge.__file__, '| demo bundle verified')"

schema-doc: $(STAMP)
	$(PY) -m scoligait_edge.kinematics.schema_doc docs/FEATURE_SCHEMA.md

# Regenerates android_demo's golden vectors from the Python implementation.
golden: $(STAMP)
	$(PY) android_demo/tools/make_golden.py

# ruff (lint + format check) with pyproject.toml's rules; `make format` applies the formatter and the safe fixes.
lint: $(STAMP) pkg-tree
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	cd build/pkg && PYTHONPATH=. $(abspath $(VENV))/bin/lint-imports ../../pyproject.toml
	$(PY) tools/import_graph.py

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# mypy (strict on the torch-free runtime, see pyproject.toml) on the installed layout: runtimes/ and export/
# linked in as scoligait_edge.runtimes / scoligait_edge.export, which package-dir maps and mypy cannot follow.
# The same linked tree (build/pkg) serves mkdocstrings.
typecheck: $(STAMP) pkg-tree
	$(VENV)/bin/mypy build/pkg/scoligait_edge

# build/pkg: the installed layout as links (export/ and runtimes/ as scoligait_edge.export / .runtimes)
pkg-tree: $(STAMP)
	$(PY) -c "import sys; sys.path.insert(0, 'docs/hooks'); from include import link_installed_layout; from pathlib import Path; link_installed_layout(Path('.').resolve())"

# The API docs site (mkdocs.yml) into site/, offline; --strict: broken links and missing references fail.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --site-dir site

docs-serve: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs serve

# sdist + wheel into dist/, checked with twine, then the wheel's contents (wheel-check) from a clean target.
dist: $(STAMP)
	rm -rf dist
	$(PY) -m build --no-isolation --outdir dist .
	$(VENV)/bin/twine check --strict dist/*
	$(PY) .ci/check_dist.py dist

# Before a release: dist, then that very wheel in a fresh venv without extras screens the sample video (2-3 min).
dist-check: dist
	WHEEL=$$(ls dist/*.whl) bash .ci/runtime_wheel.sh

clean:
	rm -rf build dist out site *.egg-info
