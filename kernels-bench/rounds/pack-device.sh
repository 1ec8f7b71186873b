#!/usr/bin/env bash
# Re-pack .device/node_modules.tar.xz (after ../shared/device/prepare.sh) without what the GPU machine never
# runs (the browser-test driver, the OpenAI client, bundler binaries, build tools), so that the working tree,
# the default model and the toolchain travel together under 64 MiB.
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"
tar -cf - \
  --exclude='node_modules/webgpu/dist/darwin-*' --exclude='node_modules/webgpu/dist/win32-*' \
  --exclude='node_modules/webgpu/dist/linux-arm64' \
  --exclude='*/prebuilds/darwin-*' --exclude='*/prebuilds/win32-*' --exclude='*/prebuilds/linux-arm*' \
  --exclude='*/prebuilds/*musl*' --exclude='node_modules/typescript' --exclude='node_modules/@typescript' \
  --exclude='node_modules/playwright-core' --exclude='node_modules/openai' --exclude='node_modules/@esbuild' \
  --exclude='node_modules/esbuild' --exclude='node_modules/fast-check' \
  --exclude='node_modules/@types' --exclude='node_modules/lightningcss*' \
  --exclude='*/build/darwin' --exclude='*/build/win32' --exclude='*/build/linux/arm*' --exclude='*.map' node_modules \
  | xz -T0 -6 > .device/node_modules.tar.xz
du -sh .device/node_modules.tar.xz
