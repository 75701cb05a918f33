/** What the runs views show about a run beyond its record: its status in words, and whether it can be evaluated. */
import type { RunRecord } from './run-types';
import type { EvaluationOption, LabState } from './types';

type EvaluationInputs = Pick<LabState, 'dataset' | 'datasetVocab' | 'session' | 'evaluation'>;

/** The status as the person should read it: a 'running' run that this tab is not training lives in another tab. */
export function runStatusLabel(run: RunRecord, liveRunId: string | null): string {
  if (run.status === 'running' && run.id !== liveRunId) return 'running in another tab';
  return run.status;
}

/** Whether a run's stored model can be evaluated on the loaded dataset: only on the very vocabulary it was trained with. */
export function evaluationOption(state: EvaluationInputs, run: RunRecord): EvaluationOption {
  const datasetName = state.dataset?.data.name ?? null;
  const no = (reason: string): EvaluationOption => ({ datasetName, enabled: false, reason });
  if (!run.hasModel) return no('This run has no stored model to evaluate.');
  if (!state.dataset || !state.datasetVocab) return no('Load a dataset to evaluate this model on.');
  const vocab = run.modelVocab;
  if (!vocab || vocab.size === 0) {
    return no(`The model file carries no vocabulary, so its token ids cannot be matched to the words of ${datasetName}.`);
  }
  if (vocab.size !== state.datasetVocab.size) {
    return no(
      `Trained on ${run.dataset.name}, whose vocabulary (${vocab.size} tokens) differs from that of ${datasetName} ` +
        `(${state.datasetVocab.size} tokens): the token ids would mean different words.`,
    );
  }
  if (vocab.hash !== state.datasetVocab.hash) {
    return no(
      `Trained on ${run.dataset.name}, whose vocabulary differs from that of ${datasetName} (both have ${vocab.size} tokens, ` +
        `but not the same words in the same order): the token ids would mean different words.`,
    );
  }
  if (state.evaluation) return no(state.evaluation.runId === run.id ? 'Evaluating now…' : 'Another model is being evaluated.');
  if (state.session.state !== 'idle') return no('A run is training; evaluate when it ends (they share the GPU worker).');
  return { datasetName, enabled: true, reason: null };
}
