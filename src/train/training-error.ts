import type { TrainerEvent } from './protocol';

/** A run's failure, of a kind the page explains (src/train/protocol.ts's 'error' event). */
export class TrainingError extends Error {
  constructor(
    readonly kind: Extract<TrainerEvent, { type: 'error' }>['kind'],
    message: string,
  ) {
    super(message);
    this.name = 'TrainingError';
  }
}
