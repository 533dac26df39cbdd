# Every target bootstraps .venv from nothing and is fast once it exists.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)
# The native modules, built in place beside their sources (the imports fail without them):
# the SM2 verifier, the state tree's node hashing (which links OpenSSL's libcrypto),
# half-gates garbling (AES-NI) and the SM3 batch hasher of the proof verifiers (crypto/hashes.py's
# hash_items; without it SM3 proofs verify at about half the speed).
NATIVE_SRC := src/xinlian/crypto/primitives/_sm2verify.c src/xinlian/storage/_nodehash.c \
              src/xinlian/crypto/privacy/garbled/_garble.c \
              src/xinlian/crypto/primitives/_sm3many.c
# Further sources compiled into those modules (the state tree's block update).
NATIVE_DEPS := src/xinlian/storage/_nodebatch.c src/xinlian/storage/_nodehash.h
NATIVE  := $(NATIVE_SRC:.c=$(shell $(PY) -c 'import sysconfig; print(sysconfig.get_config_var("EXT_SUFFIX"))'))

# The system libsodium that ristretto255 (the confidential amounts' group) opens through cffi;
# PyNaCl's bundled copy binds no ristretto255 function.
LIBSODIUM := /usr/lib/$(shell uname -m)-linux-gnu/libsodium.so.23

.PHONY: venv prometheus chromium spin web demo test test-slow lint bench bench-sharding bench-core bench-qi bench-verifier bench-fuel bench-contracts bench-crypto bench-network bench-gossip bench-gossip-attacks bench-consensus bench-light bench-platform bench-pq bench-bbs bench-confidential bench-privacy bench-data liboqs sim-campaign clean

venv: $(STAMP) $(NATIVE) | $(LIBSODIUM)

# The headers _nodehash.c and _nodebatch.c compile against (OpenSSL's libcrypto, zlib);
# pip's editable install compiles the native modules too, so the venv waits for them as well.
OPENSSL_H := /usr/include/openssl/evp.h
ZLIB_H  := /usr/include/zlib.h

$(OPENSSL_H):
	apt-get update -q && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends libssl-dev

$(LIBSODIUM):
	apt-get update -q && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends libsodium23

$(ZLIB_H):
	apt-get update -q && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends zlib1g-dev

$(NATIVE) &: $(NATIVE_SRC) $(NATIVE_DEPS) setup.py $(STAMP) | $(OPENSSL_H) $(ZLIB_H)
	$(BIN)/python -c 'import setuptools' 2>/dev/null || $(BIN)/python -m pip install -q setuptools
	$(BIN)/python setup.py -q build_ext --inplace --force

$(STAMP): pyproject.toml | $(OPENSSL_H) $(ZLIB_H)
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $@

demo: venv
	$(BIN)/xinlian demo --nodes 4

# The Prometheus server the metrics tests scrape a real node with (Debian's package; the
# tests start their own server process, so whether the package's service runs does not
# matter). Nothing to do once /usr/bin/prometheus exists.
prometheus:
	test -x /usr/bin/prometheus || { apt-get update -q && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends prometheus; }

# Debian's Chromium, which the workbench's browser tests drive through Playwright (the
# Python package never downloads a browser of its own). Nothing to do once it exists.
chromium:
	test -x /usr/bin/chromium || { apt-get update -q && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
	  chromium chromium-driver; }

# Debian's SPIN model checker, which tests/models runs on the Promela models of the private
# transactions (models/, docs/privacy.md "Model checking"); pan, the verifier SPIN
# generates, compiles with gcc. Nothing to do once /usr/bin/spin exists.
spin:
	test -x /usr/bin/spin || { apt-get update -q && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends spin gcc; }

# Rebuild the workbench's editor bundle (committed, so tests and users need no npm) from
# web/package.json and its lock file.
web:
	cd web && npm ci --no-audit --no-fund && npm run build

test: venv prometheus chromium spin
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy
	$(BIN)/python -m pytest -n 2 --no-loadscope-reorder

test-slow: venv
	$(BIN)/python -m pytest -m slow

lint: venv
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy
	$(BIN)/xinlian qi fmt --check examples/qi/*.qi

bench: bench-core bench-qi bench-verifier bench-fuel bench-contracts bench-crypto bench-network bench-gossip bench-gossip-attacks bench-consensus bench-light bench-platform bench-pq bench-bbs bench-confidential bench-privacy bench-data bench-sharding

# The platform's capacity figures: SM2 verifications per core, native and Tongsuo in the same
# run; signed transfers end to end on 4 validators per suite, saturating and at the suite's
# target rate, with the CPU per transaction per stage and per kind of process (~6 min); what
# pruning costs per transaction and saves on disk (~1 min).
bench-platform: venv
	$(BIN)/python -m benchmarks.platform
	$(BIN)/python -m benchmarks.pruning

# Core node: verification, admission, execution + commit, end to end through the SDK,
# and the state tree at 10 million accounts (the last takes 20-30 minutes and ~8 GiB of disk).
bench-core: venv
	$(BIN)/python -m benchmarks.core
	$(BIN)/python -m benchmarks.e2e
	$(BIN)/python -m benchmarks.state_tree
	$(BIN)/python -m benchmarks.rpc_limits
	$(BIN)/python -m benchmarks.pool_abuse
	$(BIN)/python -m benchmarks.storage_read

# Consensus in simulation at n = 4..200; ordering on a real 4-process cluster (100 Mbit/s
# egress per node); end to end through validator processes; the performance model against
# the simulator and the cluster; a validator joining from a state snapshot (~25 min).
bench-consensus: venv
	$(BIN)/python -m benchmarks.consensus_sim
	$(BIN)/python -m benchmarks.consensus_cluster
	$(BIN)/python -m benchmarks.consensus_e2e
	$(BIN)/python -m benchmarks.consensus_model
	$(BIN)/python -m benchmarks.statesync
	$(BIN)/python -m benchmarks.statesync_cluster --accounts 100000

# The long seed campaigns: consensus cores (~10 min), then whole validators with their
# ledgers (~8 min), then cross-shard transfers over three shards and a beacon (~9 min); replay one seed with
# `.venv/bin/python -m xinlian.testing.consensus.campaign --seed N --verbose` or
# `.venv/bin/python -m xinlian.testing.validator_campaign --seed N --verbose`.
sim-campaign: venv
	$(BIN)/python -m xinlian.testing.consensus.campaign --seeds 200
	$(BIN)/python -m xinlian.testing.validator_campaign --seeds 50
	$(BIN)/python -m xinlian.testing.sharding.campaign --seeds 40

# Light-node header sync from genesis (certified headers, epoch proofs, MMR proofs) on a
# chain made by simulated validators, per suite (~2 min).
bench-light: venv
	$(BIN)/python -m benchmarks.light

# Verifiable data (issue 13): the Merkle B+-tree, inverted index and provenance at 1 million
# records each (range, keyword and provenance pages served with proofs and verified, against
# a plain LMDB scan in the same run), ingest through the executor and as signed DATA_WRITEs
# through a solo node, the blob store, light-node sync (~15 min on 2 idle cores).
# `python -m benchmarks.data --scale` stores 10 million records per index (about an hour);
# `--quick` checks that everything runs (~30 s).
bench-data: venv
	$(BIN)/python -m benchmarks.data

bench-network: venv
	$(BIN)/python -m benchmarks.network

# The relay at 5,000 and 10,000 nodes in simulation (docs/network.md, "Relay at scale").
bench-gossip: venv
	$(BIN)/python -m benchmarks.gossip

# The relay's defences under attack (1,000 nodes) and payload compression (docs/network.md).
bench-gossip-attacks: venv
	$(BIN)/python -m benchmarks.gossip --codec
	$(BIN)/python -m benchmarks.gossip --attacks --nodes 1000

bench-qi: venv
	$(BIN)/python -m benchmarks.qi

# The Qi prover: time to prove each specified function of the example contracts.
bench-verifier: venv chromium
	$(BIN)/python -m benchmarks.verifier
	$(BIN)/python -m benchmarks.detectors
	$(BIN)/python -m benchmarks.workbench


bench-fuel: venv
	$(BIN)/python -m benchmarks.fuel --calibrate

# Contract execution: warm call overhead, token transfers per second in one block (~2 min);
# end to end on a solo node; the index of contract data: query latency with proof,
# verification, proof size (~5 s).
bench-contracts: venv
	$(BIN)/python -m benchmarks.contracts
	$(BIN)/python -m benchmarks.e2e --contracts --suites intl --txs 10000
	$(BIN)/python -m benchmarks.contract_index

# pyUmbral, the proxy re-encryption peer, pins cryptography~=3.0: it gets its own venv.
UMBRAL := .venv-umbral/.installed-umbral-0.3.0

$(UMBRAL):
	test -x .venv-umbral/bin/python || $(PY) -m venv .venv-umbral
	.venv-umbral/bin/python -m pip install -q umbral==0.3.0
	touch $@

bench-crypto: venv $(UMBRAL)
	$(BIN)/python -m benchmarks.crypto_dkg
	$(BIN)/python -m benchmarks.crypto_schemes

clean:
	rm -rf $(VENV) .venv-umbral build src/*.egg-info $(NATIVE)

# BBS signatures: sign/verify/prove/verify-proof against the number of messages, and sizes.
bench-bbs: venv
	$(BIN)/python -m benchmarks.privacy_bbs

# Bulletproofs range proofs on ristretto255 and SM2 (docs/privacy.md, docs/benchmarks.md).
bench-confidential: venv
	$(BIN)/python -m benchmarks.privacy_confidential

# Garbled circuits: half-gates AND gates on a 1-million-AND AES circuit (garble, evaluate),
# IKNP OT extension on a million OTs, one AES block between two parties (~1 min); encrypted
# aggregates on SM2: contributions, batch verification, threshold decryption, the bounded
# discrete log up to 2^40, the light-terminal prover on one core under 48-128 MiB (~5 min);
# confidential transfers: prove, verify, batch verify per tx, bytes (~1 min); anonymous
# transfers: the same at rings of 4, 11 and 16 notes and receiver sets of 8 (~2 min).
bench-privacy: venv
	$(BIN)/python -m benchmarks.privacy
	$(BIN)/python -m benchmarks.privacy_aggregates
	$(BIN)/python -m benchmarks.privacy_conftx
	$(BIN)/python -m benchmarks.privacy_anon
	$(BIN)/python -m benchmarks.privacy_anontx

# The measured post-quantum algorithm table and consensus with PQ votes in the simulator at
# n = 16 (JSON lines; docs/pq.md, docs/benchmarks.md). PQ_LONG=1 adds the simulated runs at
# n = 50, 64, 100 and the parameter analysis (every vote signature at n = 4..100; about an
# hour on 2 cores).
bench-pq: venv
	$(BIN)/python -m benchmarks.pq
	$(BIN)/python -m benchmarks.consensus_pq
	$(BIN)/python -m benchmarks.consensus_pq_cluster
	$(if $(PQ_LONG),$(BIN)/python -m benchmarks.consensus_pq --scale)
	$(if $(PQ_LONG),$(BIN)/python -m benchmarks.consensus_pq --params)

# liboqs (Falcon, and ML-DSA/ML-KEM/SLH-DSA as further implementations) into the venv, from a
# liboqs source tree in LIBOQS_SRC; then `pip install liboqs-python` (extra `pq-extra`).
liboqs: venv
	cmake -S $(LIBOQS_SRC) -B $(LIBOQS_SRC)/build -G Ninja -DBUILD_SHARED_LIBS=ON \
	  -DOQS_BUILD_ONLY_LIB=ON -DOQS_USE_OPENSSL=OFF -DCMAKE_BUILD_TYPE=Release \
	  "-DOQS_MINIMAL_BUILD=SIG_falcon_512;SIG_falcon_1024;SIG_ml_dsa_44;SIG_ml_dsa_65;SIG_ml_dsa_87;KEM_ml_kem_512;KEM_ml_kem_768;KEM_ml_kem_1024;SIG_slh_dsa_pure_sha2_128s;SIG_slh_dsa_pure_sha2_128f"
	ninja -C $(LIBOQS_SRC)/build
	cmake --install $(LIBOQS_SRC)/build --prefix $(CURDIR)/.venv

# Sharded against unsharded throughput with the real consensus cores in simulation: 512
# nodes, 16 and 32 shards, 0/10/30 % cross-shard, one committee of all 512 and one of shard
# size (hours: every BLS signature of every core is real; the CPU time of each run is in
# docs/benchmarks.md; `python -m benchmarks.sharding --help` runs parts).
bench-sharding: venv
	$(BIN)/python -m benchmarks.sharding
