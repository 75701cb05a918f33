/**
 * A problem with the user's data that a person can act on: which file, which line, what was found and what was expected.
 * Thrown by the data layer instead of a bare Error so the UI can show it next to the file and keep the previous dataset.
 */
export class DataError extends Error {
  readonly file: string | null;
  readonly line: number | null;
  readonly problem: string;
  readonly expected: string;

  constructor(problem: string, expected: string, file: string | null = null, line: number | null = null) {
    super(formatDataError(problem, expected, file, line));
    this.name = 'DataError';
    this.file = file;
    this.line = line;
    this.problem = problem;
    this.expected = expected;
  }

  static fromInfo(info: DataErrorInfo): DataError {
    return new DataError(info.problem, info.expected, info.file, info.line);
  }

  /** A structured-cloneable copy (Error subclasses lose their fields across postMessage). */
  toInfo(): DataErrorInfo {
    return { message: this.message, file: this.file, line: this.line, problem: this.problem, expected: this.expected };
  }
}

export interface DataErrorInfo {
  message: string;
  file: string | null;
  line: number | null;
  problem: string;
  expected: string;
}

/** `file: line N: problem; expected …` — the one wording every data message uses. */
export function formatDataError(problem: string, expected: string, file: string | null, line: number | null): string {
  return `${where(file, line)}${problem}; expected ${expected}`;
}

/** `file: line N: ` (either part left out when unknown). */
function where(file: string | null, line: number | null): string {
  const parts = [file, line === null ? null : `line ${line}`].filter((part) => part !== null);
  return parts.length === 0 ? '' : `${parts.join(': ')}: `;
}

/**
 * Something the load did that the person should know, though the data loaded: an encoding assumed or switched, a key
 * that was not read. Kept with the dataset for the page to show.
 */
export interface LoadNote {
  file: string;
  line: number | null;
  /** The whole note, `file: line N: …`. */
  message: string;
}

export function loadNote(file: string, line: number | null, note: string): LoadNote {
  return { file, line, message: `${where(file, line)}${note}` };
}

/** A value quoted in a message, cut to `max` characters: a field or a header can be a megabyte long. */
export function excerpt(text: string, max = 60): string {
  return text.length <= max ? text : `${text.slice(0, max)}… (${text.length} characters)`;
}

/** Names listed in a message, at most `max` of them. */
export function listExcerpt(names: readonly string[], separator = ', ', max = 20): string {
  const listed = names.slice(0, max).map((name) => excerpt(name, 40)).join(separator);
  return names.length <= max ? listed : `${listed}${separator}… (${names.length} in all)`;
}

/** A row that was left out of the dataset, with the reason, for the "skipped rows" list of the UI. */
export interface SkippedRow {
  file: string;
  line: number;
  reason: string;
}

export interface SkippedRows {
  count: number;
  /** The first few skipped rows (at most SKIPPED_EXAMPLES). */
  examples: SkippedRow[];
}

export const SKIPPED_EXAMPLES = 10;
