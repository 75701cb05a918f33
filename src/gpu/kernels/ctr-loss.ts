import source from '../../../shaders/ctr_loss.wgsl?raw';
import { TOKEN_NO, TOKEN_YES } from '../../prompt/types';
import type { Dispatch, GpuContext, TensorRef } from '../context';

const WORKGROUP = 64; // WG in ctr_loss.wgsl

/** The tensors whose offsets the `Shape` uniform carries; an entry point ignores those it does not bind. */
interface ShapeTensors {
  count: TensorRef;
  index: TensorRef;
  label: TensorRef;
  xf: TensorRef;
  wte: TensorRef;
  losses?: TensorRef;
  probs: TensorRef;
  stats?: TensorRef;
  dxf?: TensorRef;
  dwte?: TensorRef;
}

/** The `Shape` uniform of ctr_loss.wgsl; one layout serves every entry point. */
function shapeUniform(d: number, o: ShapeTensors): Uint32Array {
  return new Uint32Array([
    d,
    TOKEN_YES,
    TOKEN_NO,
    o.count.offset,
    o.index.offset,
    o.label.offset,
    o.xf.offset,
    o.wte.offset,
    o.losses?.offset ?? 0,
    o.probs.offset,
    o.stats?.offset ?? 0,
    o.dxf?.offset ?? 0,
    o.dwte?.offset ?? 0,
  ]);
}

export interface CtrLossForwardArgs {
  xf: TensorRef; // [rows, d], final-normed activations
  wte: TensorRef; // [V, d]
  targetIndex: TensorRef; // i32 [maxTargets], flat rows
  targetLabel: TensorRef; // f32 [maxTargets]
  targetCount: TensorRef; // u32 [2]: T of this step (≤ maxTargets), the loss denominator N (0: T, the mean)
  losses: TensorRef; // [maxTargets], per-target loss
  probs: TensorRef; // [maxTargets], sigmoid(z)
  stats: TensorRef; // [2]: mean loss, non-finite flag (1.0 when the mean loss is NaN/Inf)
  maxTargets: number;
  d: number;
}

/** Per-target z, p and BCE loss (one workgroup per target), then the mean loss and the non-finite flag. */
export function ctrLossForward(ctx: GpuContext, args: CtrLossForwardArgs): Dispatch[] {
  const { xf, wte, targetIndex, targetLabel, targetCount, losses, probs, stats, maxTargets, d } = args;
  const tensors = { count: targetCount, index: targetIndex, label: targetLabel, xf, wte, losses, probs, stats };
  const shape = shapeUniform(d, tensors);
  const targets = [shape, targetCount.buffer, targetIndex.buffer, targetLabel.buffer];
  const forwardBindings = [...targets, xf.buffer, wte.buffer, losses.buffer, probs.buffer];
  return [
    ctx.dispatch('ctrLoss.forward', ctx.pipeline(source, 'forward'), forwardBindings, [Math.max(1, maxTargets)]),
    ctx.dispatch(
      'ctrLoss.reduce',
      ctx.pipeline(source, 'reduce'),
      [shape, targetCount.buffer, losses.buffer, stats.buffer],
      [1],
    ),
  ];
}

export interface CtrLossBackwardArgs {
  xf: TensorRef;
  wte: TensorRef;
  probs: TensorRef; // from ctrLossForward
  targetIndex: TensorRef;
  targetLabel: TensorRef;
  targetCount: TensorRef;
  dxf: TensorRef; // [rows, d], accumulated into at the target rows
  dwte: TensorRef; // [V, d], accumulated into at rows YES and NO
  maxTargets: number;
  d: number;
}

/** dz = (p - y) / T; dxf[target] += dz·(wte[YES] - wte[NO]); dwte[YES] += Σ dz·xf[target], dwte[NO] -= the same. */
export function ctrLossBackward(ctx: GpuContext, args: CtrLossBackwardArgs): Dispatch[] {
  const { xf, wte, probs, targetIndex, targetLabel, targetCount, dxf, dwte, maxTargets, d } = args;
  const tensors = { count: targetCount, index: targetIndex, label: targetLabel, xf, wte, probs, dxf, dwte };
  const shape = shapeUniform(d, tensors);
  // Bindings 0-4 are common to both entry points.
  const common = [shape, targetCount.buffer, targetIndex.buffer, targetLabel.buffer, probs.buffer];
  const columnGroups = Math.ceil(d / WORKGROUP);
  const dxfPipeline = ctx.pipeline(source, 'backward_dxf');
  const dwtePipeline = ctx.pipeline(source, 'backward_dwte');
  return [
    ctx.dispatch('ctrLoss.backwardDxf', dxfPipeline, [...common, wte.buffer, dxf.buffer], [
      columnGroups,
      Math.max(1, maxTargets),
    ]),
    ctx.dispatch('ctrLoss.backwardDwte', dwtePipeline, [...common, xf.buffer, dwte.buffer], [columnGroups]),
  ];
}
