import {
  type IsolationLevel,
  ROLE_PAD,
  ROLE_SUM,
  metaInteraction,
  metaRole,
} from './types';

/**
 * The mask rule of docs/ENGINE.md (method doc §3): may query token q attend key token p?
 * `shaders/attention.wgsl` implements the same rule; tests keep the two in agreement.
 */
export function isAllowed(
  q: number,
  p: number,
  metaQ: number,
  metaP: number,
  n: number,
  level: IsolationLevel,
): boolean {
  if (p > q) return false;
  const roleQ = metaRole(metaQ);
  const roleP = metaRole(metaP);
  if (roleQ === ROLE_PAD || roleP === ROLE_PAD) return false;
  if (level === 'full-causal') return true;
  const iq = metaInteraction(metaQ);
  const ip = metaInteraction(metaP);
  const same = iq === ip;
  if (!same && ip < iq - n) return false;
  switch (level) {
    case 'window':
      return true;
    case 'sum-isolated':
      return same || roleP !== ROLE_SUM;
    case 'strict':
      if (roleQ === ROLE_SUM) return same || roleP !== ROLE_SUM;
      return same && roleP !== ROLE_SUM;
  }
}

/** Why a (q, p) cell is allowed or blocked; used by the mask picture. */
export type CellReason =
  | 'allowed'
  | 'future'
  | 'padding'
  | 'outside-window'
  | 'other-sum'
  | 'isolated';

export function cellReason(
  q: number,
  p: number,
  metaQ: number,
  metaP: number,
  n: number,
  level: IsolationLevel,
): CellReason {
  if (metaRole(metaQ) === ROLE_PAD || metaRole(metaP) === ROLE_PAD) return 'padding';
  if (p > q) return 'future';
  if (isAllowed(q, p, metaQ, metaP, n, level)) return 'allowed';
  const iq = metaInteraction(metaQ);
  const ip = metaInteraction(metaP);
  if (iq !== ip && ip < iq - n) return 'outside-window';
  if (iq !== ip && metaRole(metaP) === ROLE_SUM) return 'other-sum';
  return 'isolated';
}
