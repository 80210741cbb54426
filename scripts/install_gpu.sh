#!/usr/bin/env bash
# `make gpu`: put StoryReel's models on an NVIDIA card (Linux). Run after `make test` or with the
# full install in .venv (make does that first).
#
#   1. llama.cpp rebuilt with CUDA when nvcc is present (scripts/install_llama.sh gpu; forced
#      rebuild, no cached wheel).
#   2. torch: the default wheels (torch 2.9.1, CUDA 12.8) carry kernels for compute capability 7.0
#      and newer (Volta, Turing, Ampere, Ada, Hopper, Blackwell). An older card (Pascal: GTX 10xx,
#      P40; Maxwell) needs the CUDA 12.6 wheels, which still carry sm_50/sm_60 kernels; so does a
#      driver too old for CUDA 12.8 (older than 570). Installed here when the card or driver needs it.
#   3. The doctor (run by make after this) says what is now enabled.
# macOS: llama.cpp is built with Metal and torch uses MPS with the default wheels.
# Windows: use WSL2 with the NVIDIA driver for WSL and run this inside it.
set -euo pipefail
PY=${1:?usage: install_gpu.sh PYTHON}
cd "$(dirname "$0")/.."

bash scripts/install_llama.sh "$PY" gpu

if [ "$(uname -s)" = Darwin ]; then
  echo "macOS: torch uses the GPU through MPS with the default wheels; nothing more to install."
  exit 0
fi
if ! command -v nvidia-smi >/dev/null 2>&1; then
  echo "No nvidia-smi: install the NVIDIA driver first (e.g. 'sudo ubuntu-drivers install'), then run make gpu again."
  exit 0
fi

CAP=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | sort -n | head -n 1 | tr -d ' ')
DRIVER=$(nvidia-smi --query-gpu=driver_version --format=csv,noheader 2>/dev/null | head -n 1 | tr -d ' ')
NAME=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -n 1)
echo "Card: ${NAME:-unknown}, compute capability ${CAP:-unknown}, driver ${DRIVER:-unknown}"

TORCH_PINS=$(sed -n 's/^[[:space:]]*\(torch\(audio\)\?==[0-9.]*\)[[:space:]]*$/\1/p' setup.cfg | sort -u | tr '\n' ' ')
NEEDS_CU126=no
if [ -n "$CAP" ] && [ "${CAP%%.*}" -lt 7 ]; then
  NEEDS_CU126="yes (compute capability $CAP is older than the default wheels' 7.0)"
elif [ -n "$DRIVER" ] && [ "${DRIVER%%.*}" -lt 570 ]; then
  NEEDS_CU126="yes (driver $DRIVER is older than CUDA 12.8 needs: 570)"
fi
if [ "$NEEDS_CU126" != no ]; then
  echo "Installing the CUDA 12.6 torch wheels: $NEEDS_CU126"
  "$PY" -m pip install --force-reinstall --no-deps $TORCH_PINS --index-url https://download.pytorch.org/whl/cu126
else
  echo "The default torch wheels have kernels for this card."
fi
