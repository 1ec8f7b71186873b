// The paper's TPOT/TPS tables (section 5.1, A100 cluster), transcribed from /work/shared/docs/fa-pool-paper.md.
export interface PaperRow { len: number; baseTpot: number; fapTpot: number; baseTps: number; fapTps: number }

const T: [number, number, number, number, number][] = [
  [512, 45, 41, 22.2, 26.7], [1024, 52, 45, 24.1, 29.3], [2048, 78, 56, 25.6, 41.0], [3072, 105, 72, 27.8, 46.2],
  [4096, 142, 95, 28.8, 51.2], [5120, 185, 117, 30.1, 55.8], [6144, 235, 142, 31.2, 60.5], [7168, 295, 172, 32.1, 64.8],
  [8192, 368, 204, 33.4, 83.5], [10240, 450, 245, 34.9, 89.2], [12288, 545, 289, 36.2, 94.8], [14336, 655, 338, 37.5, 100.3],
  [16384, 782, 392, 18.3, 51.2], [20480, 1100, 520, 19.8, 55.4], [24576, 1480, 675, 21.2, 59.8], [28672, 1920, 850, 22.5, 64.2],
  [32768, 2450, 1050, 23.8, 68.6], [36864, 3070, 1280, 25.1, 73.0], [40960, 3800, 1540, 26.4, 77.4],
];

export const PAPER: PaperRow[] = T.map(([len, baseTpot, fapTpot, baseTps, fapTps]) => ({ len, baseTpot, fapTpot, baseTps, fapTps }));
