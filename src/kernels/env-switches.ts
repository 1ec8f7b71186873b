// Every FAPOOL_* switch of the kernels, read at once. Each is otherwise read where its kernel is chosen, so a mistyped
// value (FAPOOL_GEMV_HALF=7) was refused only when — and if — that kernel's first launch was built: after a model
// had loaded, or never in a run that does not reach it. createEngine calls this before it opens anything.
import { decodeMergeMode, decodePairMode, decodeSgDefaults, decodeSplitsMode, faPrefillSwitch } from './attention.js';
import { workgroupPadBytes } from '../gpu/wgsl-pad.js';
import { envVar } from './common.js';
import { gemvHalfO, normEpilogueOn, ropeEpilogueMode } from './gemm.js';
import { decodeTilesMode, gemmPrefillOverride, tileCsMode, tileDebugConstants, tileFixKDefault, tileStoreConstants } from './gemm-sgm.js';
import { gemmSkinnyOverride } from './gemm-skinny-gen.js';
import { gemvCptDefault, gemvHalfDefault } from './gemv.js';

/** Throws the LimitError of the first malformed kernel switch (the message names it and what it takes). */
export function checkKernelSwitches(): void {
  decodeTilesMode();
  tileFixKDefault();
  tileStoreConstants();
  tileCsMode();
  tileDebugConstants();
  normEpilogueOn();
  ropeEpilogueMode();
  gemmSkinnyOverride();
  const prefill = envVar('FAPOOL_GEMM_PREFILL');
  if (prefill !== undefined && prefill.trim() !== '') gemmPrefillOverride(prefill);
  gemvHalfDefault();
  gemvHalfO();
  gemvCptDefault();
  faPrefillSwitch();
  decodeSgDefaults();
  decodeSplitsMode();
  decodeMergeMode();
  decodePairMode();
  workgroupPadBytes();
}
