#!/usr/bin/env bash
# Builds llama-cpp-python from source into a virtual environment (PyPI has only the sdist).
#
#   scripts/install_llama.sh PYTHON [cpu|gpu]
#
# cpu: a portable build for any x86-64 CPU with AVX2 (no -march=native, no AVX-512, no AMX tiles:
#      a native build on a CPU that reports AMX dies with "Illegal instruction" in llama.cpp's
#      decode when the OS does not grant AMX to its threads). Other architectures: GGML_NATIVE=OFF.
# gpu: the same CPU flags plus CUDA when nvcc is found (Linux), Metal on macOS; falls back to cpu
#      with a message when there is no CUDA compiler.
# Always a forced rebuild without pip's wheel cache: pip would otherwise reuse a wheel it built
# earlier with other flags, whatever CMAKE_ARGS says.
set -euo pipefail
PY=${1:?usage: install_llama.sh PYTHON [cpu|gpu]}
MODE=${2:-cpu}
cd "$(dirname "$0")/.."

# The one requirement line for llama-cpp-python is in setup.cfg ([options.extras_require] llm).
REQ=$(sed -n 's/^[[:space:]]*\(llama-cpp-python[^[:space:]]*\)[[:space:]]*$/\1/p' setup.cfg | head -n 1)
[ -n "$REQ" ] || { echo "install_llama.sh: no llama-cpp-python line in setup.cfg" >&2; exit 2; }

case "$(uname -m)" in
  x86_64|amd64)
    ARGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON"
    ARGS="$ARGS -DGGML_AVX512=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF" ;;
  *)
    ARGS="-DGGML_NATIVE=OFF" ;;
esac

WHAT="portable CPU build"
if [ "$MODE" = gpu ]; then
  if [ "$(uname -s)" = Darwin ]; then
    ARGS="-DGGML_METAL=ON"; WHAT="Metal build"
  elif command -v nvcc >/dev/null 2>&1 || [ -x /usr/local/cuda/bin/nvcc ]; then
    command -v nvcc >/dev/null 2>&1 || export PATH="/usr/local/cuda/bin:$PATH"
    CUDA_ARCH=${STORYREEL_CUDA_ARCH:-native}  # the installed card(s) only: a much shorter build
    command -v nvidia-smi >/dev/null 2>&1 || CUDA_ARCH=${STORYREEL_CUDA_ARCH:-all-major}
    ARGS="$ARGS -DGGML_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=$CUDA_ARCH"
    WHAT="CUDA build (architectures: $CUDA_ARCH)"
  else
    echo "install_llama.sh: nvcc not found, so llama.cpp is built for the CPU only." >&2
    echo "  Install the CUDA toolkit (e.g. 'sudo apt-get install nvidia-cuda-toolkit', or NVIDIA's" >&2
    echo "  cuda-toolkit package) and run 'make gpu' again to put the script model on the GPU." >&2
  fi
fi

echo "Building $REQ: $WHAT (CMAKE_ARGS=$ARGS); this takes 5-10 minutes on 2 cores"
# --no-deps: rebuild llama-cpp-python alone; its dependencies come from a normal install after it.
CMAKE_ARGS="$ARGS" FORCE_CMAKE=1 "$PY" -m pip install --quiet --no-cache-dir --force-reinstall --no-deps "$REQ"
"$PY" -m pip install --quiet "$REQ"
