/** What bench/peer.html leaves in window.__peerResult for scripts/bench-peer.ts. */

export interface PeerConfigResult {
  name: string;
  dModel: number;
  nHeads: number;
  nLayers: number;
  dFF: number;
  vocabSize: number;
  B: number;
  L: number;
  targets: number;
  parameters: number;
  warmup: number;
  steps: number;
  /** Mean wall time per step of `steps` pipelined steps, ending when the last step's loss is on the CPU. */
  labMs: number;
  tfMs: number;
  /** tfMs / labMs: how many times faster the lab's step is. */
  speedup: number;
  /** First (cold) step, pipeline/shader compilation included. */
  labFirstStepMs: number;
  tfFirstStepMs: number;
  /** Compute dispatches and queue submissions of one step (counted on an extra step after the timing). */
  labDispatches: number;
  labSubmissions: number;
  tfDispatches: number;
  tfSubmissions: number;
  /** Loss before each update, warm-up and timed steps (step 1 is from the shared initial parameters). */
  labLosses: number[];
  tfLosses: number[];
  labGradNorms: number[];
  tfGradNorms: number[];
  /** |lab - TF.js| of the first step's loss, and the largest over all steps. */
  firstLossDiff: number;
  maxLossDiff: number;
  /** TF.js tensors left alive after the run (a leak check of the peer step). */
  tfLeakedTensors: number;
}

export interface PeerRunInfo {
  adapter: string;
  userAgent: string;
  tfVersion: string;
  tfBackend: string;
  positionEncoding: string;
  isolation: string;
  n: number;
  k: number;
  learningRate: number;
  optimizer: string;
  lossTolerance: number;
}

export type PeerResult =
  | ({ ok: true; configs: PeerConfigResult[] } & PeerRunInfo)
  | { ok: false; error: string; progress: string[] };

declare global {
  interface Window {
    __peerResult?: PeerResult;
  }
}
