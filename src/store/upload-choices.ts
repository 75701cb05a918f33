/** What the person chose for an upload, beyond the files: kept together so that changing one keeps the others. */
import type { ColumnMapping, LoadOptions, TextEncodingName } from '../data';

export interface UploadChoices {
  /** The column that holds each key, for CSV/TSV/JSON Lines whose column names are not the usual ones. */
  mapping: ColumnMapping;
  /** The text encoding of every file; null: detected from the bytes. */
  encoding: TextEncodingName | null;
}

export const NO_UPLOAD_CHOICES: UploadChoices = { mapping: {}, encoding: null };

/** The data layer's options for the choices. */
export function uploadOptions(choices: UploadChoices): Pick<LoadOptions, 'columns' | 'encoding'> {
  return { columns: choices.mapping, encoding: choices.encoding };
}
